# Local test of the plugin class, no server needed. In this folder:
#   cat text_importer.R test_text_importer.R | Rscript -
# (the plugin file is read first; a test that source()s it would be a scan finding.)
run <- function(parameters) {
  plugin <- TextImporter$new(plugin_id = "text_importer", config = list(format = "auto"))
  plugin$execute(list(data = NULL, parameters = parameters, extension_point = "data_import"))
}

csv <- run(list(text = "city,temp_c,day\nOslo,4.5,2024-03-01\nLima,,2024-03-02\n"))
stopifnot(
  identical(csv$metadata$format, "csv"),
  identical(names(csv$data), c("city", "temp_c", "day")),
  identical(csv$data$city, c("Oslo", "Lima")),
  isTRUE(all.equal(csv$data$temp_c, c(4.5, NA))),
  inherits(csv$data$day, "Date"),
  identical(unlist(csv$metadata$date_columns), "day")
)

json <- run(list(text = '[{"id": 1, "tags": ["a", "b"], "geo": {"lat": 59.9}}, {"id": 2, "tags": [], "geo": {"lat": -12}}]'))
stopifnot(
  identical(json$metadata$format, "json"),
  identical(json$data$id, c(1L, 2L)),
  identical(json$data$tags, c('["a","b"]', "[]")),
  isTRUE(all.equal(json$data$geo.lat, c(59.9, -12))),
  length(json$warnings) == 1
)

columns <- run(list(text = '{"x": [1, 2, 3], "y": ["a", "b", "c"]}'))
stopifnot(nrow(columns$data) == 3, identical(columns$data$y, c("a", "b", "c")))
tsv <- run(list(text = "a\tb\n1\t2\n"))
stopifnot(identical(tsv$metadata$format, "tsv"), identical(tsv$data$b, 2L))

failed <- tryCatch(run(list(text = "")), error = function(e) conditionMessage(e))
stopifnot(grepl("parameter text must hold", failed))
failed <- tryCatch(run(list(text = '{"x": [1, 2], "y": [1]}')), error = function(e) conditionMessage(e))
stopifnot(grepl("equal-length columns", failed))
cat("text_importer: all checks passed\n")
