# Local test of the plugin class, no server needed. In this folder:
#   cat markdown_reporter.R test_markdown_reporter.R | Rscript -
# (the plugin file is read first; a test that source()s it would be a scan finding.)
plugin <- MarkdownReporter$new(plugin_id = "markdown_reporter", config = list(max_categories = 2))
sales <- data.frame(
  region = c("north", "south", "north", "east", NA),
  units = c(10, 20, 30, 40, NA),
  `a|b` = c(TRUE, FALSE, TRUE, TRUE, TRUE),
  day = as.Date(c("2024-01-05", "2024-01-01", NA, "2024-02-01", "2024-01-10")),
  check.names = FALSE, stringsAsFactors = FALSE
)
result <- plugin$execute(list(data = sales, parameters = list(title = "Sales <Q1>")))
text <- result$data$text
has <- function(line) any(strsplit(text, "\n", fixed = TRUE)[[1]] == line)
stopifnot(
  identical(result$data$kind, "report"), identical(result$data$media_type, "text/markdown"),
  has("## Sales <Q1>"),
  has("5 rows and 4 columns; 3 missing cell(s) (15.0%)."),
  has("| region | character | 1 | 3 |"),
  # units: 10, 20, 30, 40 -> quartiles 17.5 and 32.5, mean 25, sd 12.91
  has("| units | 10 | 17.5 | 25 | 25 | 32.5 | 40 | 12.91 |"),
  has("| north | 2 | 50.0% |"),
  has("... and 1 other value(s)."),
  has("### Values of a\\|b"),
  has("| day | 2024-01-01 | 2024-02-01 |"),
  result$metadata$missing_cells == 3
)
cat("markdown_reporter: all checks passed\n")
