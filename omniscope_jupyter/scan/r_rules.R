# Extract the facts the R rules need from R files, with R's own parser, and print them as JSON.
#
# Usage: Rscript --vanilla r_rules.R PACKAGE_DIR FILE...
# Prints the JSON, or writes it to $OMNISCOPE_SCAN_OUTPUT when that is set.
# Only parse() and getParseData() touch the plugin's code: nothing of it is evaluated. The rules
# themselves (which call is dangerous, which permission it needs) live in Python (scan/r_scan.py)
# so this script stays a plain extractor that needs base R only (no jsonlite).
#
# Output: {"files": [{"file": F, "error": null | {"line": N, "message": M},
#                     "calls": [{"id", "name", "pkg", "line", "within", "arg1", "arg1_kind",
#                                "strings"}],
#                     "symbols": [{"name", "line"}]}]}

args <- commandArgs(trailingOnly = TRUE)
root <- args[[1]]
files <- args[-1]

json_str <- function(s) {
  if (is.null(s) || length(s) == 0 || is.na(s)) return("null")
  s <- enc2utf8(as.character(s))
  if (is.na(nchar(s, type = "chars", allowNA = TRUE))) return("\"?\"")
  if (nchar(s) > 200) s <- substr(s, 1, 200)
  cps <- utf8ToInt(s)
  if (anyNA(cps)) return("\"?\"")
  out <- vapply(cps, function(c) {
    if (c < 32L || c == 34L || c == 92L) sprintf("\\u%04x", c) else intToUtf8(c)
  }, "")
  paste0("\"", paste(out, collapse = ""), "\"")
}
json_obj <- function(...) {
  kv <- list(...)
  paste0("{", paste(sprintf("\"%s\":%s", names(kv), unlist(kv)), collapse = ","), "}")
}
json_arr <- function(items) paste0("[", paste(items, collapse = ","), "]")
json_strs <- function(v) json_arr(vapply(v, json_str, ""))

# "system" -> system, `system` -> system, r"(x)" -> x (escapes are kept as written).
unquote <- function(text) {
  if (grepl("^[rR][\"']", text)) return(sub("^[rR][\"'](-*)[[({](.*)[])}]\\1[\"']$", "\\2", text))
  if (grepl("^([\"'`]).*\\1$", text)) return(substr(text, 2, nchar(text) - 1))
  text
}

scan_file <- function(rel) {
  path <- file.path(root, rel)
  parsed <- tryCatch(
    parse(file = path, keep.source = TRUE, encoding = "UTF-8"),
    error = function(e) e
  )
  if (inherits(parsed, "error")) {
    msg <- conditionMessage(parsed)
    m <- regmatches(msg, regexec(":([0-9]+):[0-9]+:", msg))[[1]]
    line <- if (length(m) == 2) as.integer(m[[2]]) else 0L
    return(json_obj(file = json_str(rel), error = json_obj(line = line, message = json_str(msg)),
                    calls = "[]", symbols = "[]"))
  }
  pd <- getParseData(parsed, includeText = TRUE)
  if (is.null(pd) || nrow(pd) == 0) {
    return(json_obj(file = json_str(rel), error = "null", calls = "[]", symbols = "[]"))
  }
  pd <- pd[order(pd$line1, pd$col1, -pd$line2, -pd$col2), ]
  parent <- setNames(pd$parent, pd$id)
  up <- function(i) { p <- parent[as.character(i)]; if (is.na(p)) 0L else p }
  children <- split(seq_len(nrow(pd)), pd$parent)
  kids_of <- function(i) {
    rows <- children[[as.character(i)]]
    if (is.null(rows)) pd[0, ] else pd[rows, ]
  }
  term <- pd[pd$terminal, ]
  term <- term[order(term$line1, term$col1), ]

  # A call is an expr whose first child is an expr holding the function's name (a
  # SYMBOL_FUNCTION_CALL, or a STR_CONST: "system"("ls") is a call in R), followed by '('.
  fn_tok <- which(term$token == "SYMBOL_FUNCTION_CALL" |
                    (term$token == "STR_CONST" & c(term$token[-1], "") == "'('"))
  call_ids <- vapply(term$id[fn_tok], function(i) as.integer(up(up(i))), 1L)
  is_call <- setNames(rep(TRUE, length(call_ids)), call_ids)

  enclosing_call <- function(id) {
    p <- up(id)
    while (p > 0) {
      if (!is.na(is_call[as.character(p)])) return(p)
      p <- up(p)
    }
    NA
  }

  calls <- character(0)
  for (k in seq_along(fn_tok)) {
    tok <- term[fn_tok[k], ]
    cid <- call_ids[k]
    pkg <- NA
    before <- if (fn_tok[k] > 2) term[fn_tok[k] - 2, ] else NULL
    if (!is.null(before) && before$token == "SYMBOL_PACKAGE" &&
        term$token[fn_tok[k] - 1] %in% c("NS_GET", "NS_GET_INT")) pkg <- before$text
    # Direct children of the call, in order: fn expr, '(', then arguments.
    kids <- kids_of(cid)
    kids <- kids[order(kids$line1, kids$col1), ]
    open_at <- which(kids$token == "'('")[1]
    arg1 <- NA
    arg1_kind <- "none"
    strings <- character(0)
    if (!is.na(open_at) && open_at < nrow(kids)) {
      rest <- kids[(open_at + 1):nrow(kids), ]
      first <- rest[1, ]
      if (first$token == "SYMBOL_SUB" && nrow(rest) >= 3) first <- rest[3, ]
      if (first$token == "expr") {
        leaf <- kids_of(first$id)
        if (nrow(leaf) == 1 && leaf$token == "STR_CONST") {
          arg1 <- unquote(leaf$text); arg1_kind <- "string"
        } else if (nrow(leaf) == 1 && leaf$token == "SYMBOL") {
          arg1 <- leaf$text; arg1_kind <- "symbol"
        } else {
          arg1_kind <- "other"
        }
      }
      for (e in rest$id[rest$token == "expr"]) {
        leaf <- kids_of(e)
        if (nrow(leaf) == 1 && leaf$token == "STR_CONST") strings <- c(strings, unquote(leaf$text))
      }
    }
    within <- enclosing_call(cid)
    calls <- c(calls, json_obj(
      id = as.integer(cid), name = json_str(unquote(tok$text)), pkg = json_str(pkg),
      line = tok$line1, within = if (is.na(within)) "null" else as.integer(within),
      arg1 = json_str(arg1), arg1_kind = json_str(arg1_kind), strings = json_strs(strings)
    ))
  }
  sym <- term[term$token == "SYMBOL", ]
  sym <- unique(data.frame(name = vapply(sym$text, unquote, ""), line = sym$line1))
  symbols <- if (nrow(sym) == 0) character(0) else
    mapply(function(n, l) json_obj(name = json_str(n), line = l), sym$name, sym$line)
  json_obj(file = json_str(rel), error = "null", calls = json_arr(calls),
           symbols = json_arr(unname(symbols)))
}

out <- vapply(files, scan_file, "")
facts <- json_obj(r_version = json_str(paste(R.version$major, R.version$minor, sep = ".")),
                  files = json_arr(unname(out)))
# In the sandbox the facts go to a file of the mounted output folder: the container's stdout
# is a capped log, and the facts of a long plugin are larger than the cap.
out_file <- Sys.getenv("OMNISCOPE_SCAN_OUTPUT")
if (nzchar(out_file)) writeLines(facts, out_file, useBytes = TRUE) else cat(facts, "\n")
