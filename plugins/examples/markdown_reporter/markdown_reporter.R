# Markdown Reporter: a Markdown summary section of a data.frame.
#
# Overview (rows, columns, missing cells), one table of every column (type, missing, distinct),
# the numeric columns' five-number summary with mean and standard deviation, the most frequent
# values of text and logical columns, and the range of date columns. Cell text is escaped for
# Markdown tables (| and line breaks); the platform renders the Markdown with raw HTML shown as
# text, so names and values from the data cannot inject markup.

MarkdownReporter <- setRefClass(
  "MarkdownReporter",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    setting = function(parameters, name, default) {
      "A parameter of the call, else the config's default, else `default`."
      if (!is.null(parameters[[name]])) return(parameters[[name]])
      if (!is.null(.self$config[[name]])) return(.self$config[[name]])
      default
    },

    cell = function(x) {
      "Text safe inside a Markdown table cell."
      x <- gsub("[\r\n]+", " ", as.character(x))
      gsub("|", "\\|", x, fixed = TRUE)
    },

    number = function(x, digits) {
      if (is.na(x)) "" else format(signif(x, digits), big.mark = ",", scientific = abs(x) >= 1e12)
    },

    table_lines = function(header, rows, align) {
      "A Markdown table: header cells, a list of row cell vectors, alignment markers."
      c(paste0("| ", paste(header, collapse = " | "), " |"),
        paste0("| ", paste(align, collapse = " | "), " |"),
        vapply(rows, function(r) paste0("| ", paste(r, collapse = " | "), " |"), character(1)))
    },

    execute = function(input_data) {
      data <- input_data$data
      parameters <- input_data$parameters
      if (is.null(parameters)) parameters <- list()
      if (!is.data.frame(data)) stop("no input data: send the table to report on")
      title <- as.character(setting(parameters, "title", "Data summary"))
      digits <- as.integer(setting(parameters, "digits", 4))
      top <- as.integer(setting(parameters, "max_categories", 5))
      missing <- sum(is.na(data))
      cells <- nrow(data) * ncol(data)
      lines <- c(
        paste("##", cell(title)), "",
        sprintf("%s rows and %d columns; %s missing cell(s) (%.1f%%).",
                format(nrow(data), big.mark = ","), ncol(data), format(missing, big.mark = ","),
                if (cells == 0) 0 else 100 * missing / cells),
        "", "### Columns", ""
      )
      kinds <- vapply(data, function(x) class(x)[1], character(1))
      lines <- c(lines, table_lines(
        c("column", "type", "missing", "distinct"),
        lapply(names(data), function(n) c(cell(n), kinds[[n]], sum(is.na(data[[n]])),
                                          length(unique(data[[n]][!is.na(data[[n]])])))),
        c("---", "---", "---:", "---:")
      ))
      numeric <- names(data)[vapply(data, function(x) is.numeric(x), logical(1))]
      if (length(numeric) > 0) {
        lines <- c(lines, "", "### Numeric columns", "", table_lines(
          c("column", "min", "q1", "median", "mean", "q3", "max", "sd"),
          lapply(numeric, function(n) {
            x <- data[[n]][!is.na(data[[n]])]
            if (length(x) == 0) return(c(cell(n), rep("", 7)))
            q <- stats::quantile(x, c(0, 0.25, 0.5, 0.75, 1), names = FALSE)
            c(cell(n), vapply(c(q[1], q[2], q[3], mean(x), q[4], q[5],
                                if (length(x) > 1) stats::sd(x) else NA_real_),
                              function(v) number(v, digits), character(1)))
          }),
          c("---", rep("---:", 7))
        ))
      }
      categorical <- names(data)[vapply(data, function(x) is.character(x) || is.factor(x) || is.logical(x), logical(1))]
      for (n in categorical) {
        x <- as.character(data[[n]][!is.na(data[[n]])])
        if (length(x) == 0) next
        counts <- sort(table(x), decreasing = TRUE)
        shown <- utils::head(counts, top)
        rows <- lapply(seq_along(shown), function(i) c(cell(names(shown)[i]), shown[[i]],
                                                      sprintf("%.1f%%", 100 * shown[[i]] / length(x))))
        lines <- c(lines, "", paste("### Values of", cell(n)), "",
                   table_lines(c("value", "count", "share"), rows, c("---", "---:", "---:")))
        if (length(counts) > top) {
          lines <- c(lines, "", sprintf("... and %d other value(s).", length(counts) - top))
        }
      }
      dates <- names(data)[vapply(data, function(x) inherits(x, c("Date", "POSIXt")), logical(1))]
      if (length(dates) > 0) {
        lines <- c(lines, "", "### Date columns", "", table_lines(
          c("column", "first", "last"),
          lapply(dates, function(n) {
            x <- data[[n]][!is.na(data[[n]])]
            if (length(x) == 0) c(cell(n), "", "") else c(cell(n), format(min(x)), format(max(x)))
          }),
          c("---", "---", "---")
        ))
      }
      list(
        data = list(kind = "report", media_type = "text/markdown",
                    text = paste(c(lines, ""), collapse = "\n"), title = title),
        metadata = list(plugin_id = .self$plugin_id, rows = nrow(data), columns = ncol(data),
                        missing_cells = missing),
        logs = list(sprintf("report of %d row(s) and %d column(s)", nrow(data), ncol(data))),
        warnings = list(),
        errors = list()
      )
    }
  )
)
