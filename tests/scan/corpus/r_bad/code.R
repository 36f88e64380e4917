# Code from text (R002) and functions looked up by name (R003), source (R004).
eval(parse(text = paste0("Sys", ".time()")))
f <- str2lang("1 + 1")
do.call("system", list("id"))
g <- match.fun("rbind")
h <- get(name_from_input)
source("helpers.R")
do.call(rbind, list(1, 2))
