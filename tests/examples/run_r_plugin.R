# Test driver: runs an R plugin's Reference Class in-process, the way the sandbox runner does,
# without Docker. Usage: Rscript run_r_plugin.R ENTRY.R < request.json > result.json
# request.json: {"plugin_id", "config", "data": {column: [values]}, "parameters", "extension_point"}
args <- commandArgs(trailingOnly = TRUE)
stdin <- file("stdin")
text <- paste(readLines(stdin, warn = FALSE), collapse = "\n")
close(stdin)
request <- jsonlite::fromJSON(text,
                              simplifyVector = TRUE, simplifyDataFrame = FALSE,
                              simplifyMatrix = FALSE)
env <- new.env(parent = globalenv())
sys.source(args[[1]], envir = env, chdir = TRUE)
generator <- NULL
for (name in ls(env)) {
  obj <- get(name, envir = env)
  if (methods::is(obj, "refObjectGenerator") && "execute" %in% obj$methods()) generator <- obj
}
if (is.null(generator)) stop("no setRefClass generator with an execute method")
config <- if (is.null(request$config)) list() else request$config
plugin <- generator$new(plugin_id = request$plugin_id, config = config)
data <- if (is.null(request$data)) NULL else
  as.data.frame(request$data, stringsAsFactors = FALSE, check.names = FALSE)
input_data <- list(data = data, parameters = request$parameters, config = config,
                   extension_point = request$extension_point)
result <- plugin$execute(input_data)
cat(jsonlite::toJSON(result, auto_unbox = TRUE, null = "null", na = "null", digits = NA,
                     force = TRUE, dataframe = "columns"))
