# R half of the sandbox runner, sourced through rpy2 by omniscope_runner.py.
# Finds the plugin's Reference Class generator (setRefClass with an `execute` method), builds
# it with the fields it declares among plugin_id/config, calls $execute(input_data) and hands
# back list(json = <result without a data frame, as JSON>, frame = <data.frame or NULL>).
# Plugins report progress with omniscope_progress(fraction, message) (also context$progress for
# a class with a `context` field); it calls back into the Python runner's event log.

.omniscope_find_generator <- function(env) {
  for (name in ls(env, all.names = FALSE)) {
    obj <- get(name, envir = env)
    if (methods::is(obj, "refObjectGenerator") && "execute" %in% obj$methods()) {
      return(obj)
    }
  }
  stop("the entry file defines no setRefClass generator with an execute method")
}

# Sources the entry file in a fresh environment: list(generator, progress). The pooled runner
# calls it in the run's process before the job arrives (setRefClass alone takes milliseconds).
.omniscope_load <- function(entry, progress = NULL) {
  env <- new.env(parent = globalenv())
  # setRefClass outside a package asks for a package name and warns when there is none.
  assign(".packageName", "omniscope_plugin", envir = env)
  omniscope_progress <- function(fraction, message = "") {
    if (!is.null(progress)) progress(as.numeric(fraction)[1], as.character(message)[1])
    invisible(NULL)
  }
  assign("omniscope_progress", omniscope_progress, envir = env)
  # keep.source: the call stack of an error names the plugin's lines.
  sys.source(entry, envir = env, chdir = TRUE, keep.source = TRUE)
  list(generator = .omniscope_find_generator(env), progress = omniscope_progress)
}

.omniscope_run <- function(entry, plugin_id, config_json, input_json, data, data_in_json,
                           progress = NULL, loaded = NULL) {
  if (is.null(loaded)) loaded <- .omniscope_load(entry, progress)
  generator <- loaded$generator
  omniscope_progress <- loaded$progress
  config <- jsonlite::fromJSON(config_json, simplifyVector = TRUE,
                               simplifyDataFrame = FALSE, simplifyMatrix = FALSE)
  input_data <- jsonlite::fromJSON(input_json, simplifyVector = TRUE,
                                   simplifyDataFrame = FALSE, simplifyMatrix = FALSE)
  if (!data_in_json) input_data["data"] <- list(data)
  fields <- names(generator$fields())
  args <- list()
  if ("plugin_id" %in% fields) args$plugin_id <- plugin_id
  if ("config" %in% fields) args$config <- config
  if ("context" %in% fields) {
    args$context <- list(plugin_id = plugin_id, config = config, progress = omniscope_progress)
  }
  plugin <- do.call(generator$new, args)
  result <- plugin$execute(input_data)
  if (!is.list(result) || is.data.frame(result)) {
    return(list(json = as.character(jsonlite::toJSON(list(.omniscope_invalid = class(result)[1]),
                                                     auto_unbox = TRUE)),
                frame = NULL))
  }
  frame <- NULL
  out <- result
  if (is.matrix(result$data)) result$data <- as.data.frame(result$data)
  if (is.data.frame(result$data)) {
    frame <- result$data
    out["data"] <- NULL
  }
  json <- jsonlite::toJSON(out, auto_unbox = TRUE, null = "null", na = "null",
                           digits = NA, force = TRUE, dataframe = "columns")
  list(json = as.character(json), frame = frame)
}

# An error of the plugin comes back as R reports it, not as rpy2's Python exception:
# list(error = "Error in <call>: <message>", stack = <the plugin's calls, most recent first, as
# traceback() prints them>), without the runner's frames above the plugin or R's own below it.
.omniscope_guarded <- function(fun, ...) {
  calls <- NULL
  tryCatch(
    withCallingHandlers(.omniscope_plugin_call(fun, ...),
                        error = function(e) calls <<- sys.calls()),
    error = function(e) list(error = .omniscope_error_message(e), stack = .omniscope_stack(calls))
  )
}

# Marks where the runner hands over to the plugin: the stack is cut below this frame.
.omniscope_plugin_call <- function(fun, ...) fun(...)

.omniscope_error_message <- function(e) {
  call <- conditionCall(e)
  message <- conditionMessage(e)
  if (is.null(call)) return(paste0("Error: ", message))
  paste0("Error in ", paste(deparse(call, nlines = 1L), collapse = " "), " : ", message)
}

.omniscope_stack <- function(calls) {
  heads <- vapply(calls, function(cl) paste(deparse(cl[[1L]], nlines = 1L), collapse = " "), "")
  start <- match(".omniscope_plugin_call", heads)
  if (is.na(start) || length(calls) <= start + 2L) return(character(0))
  # From the plugin's entry (below fun(...), the runner's .omniscope_run) to the handler's frame.
  keep <- seq(start + 2L, length(calls) - 1L)
  keep <- keep[heads[keep] != ".handleSimpleError"]
  if (length(keep) == 0L) return(character(0))
  lines <- vapply(keep, function(i) {
    call <- paste(deparse(calls[[i]], nlines = 1L, width.cutoff = 100L), collapse = " ")
    ref <- attr(calls[[i]], "srcref")
    at <- if (is.null(ref)) "" else
      paste0(" at ", basename(utils::getSrcFilename(ref)), "#", utils::getSrcLocation(ref, "line"))
    paste0(call, at)
  }, "")
  rev(paste0(seq_along(lines), ": ", lines))  # numbered as traceback() does
}
