# Text Importer: CSV, TSV or JSON text (parameter `text`) as a data.frame.
#
# data_import needs no input table: the source is the parameter `text`, so the plugin holds
# only the write_data permission (it never sees the caller's data). CSV/TSV is read by
# utils::read.csv, JSON by jsonlite (an array of records or an object of equal-length columns;
# nested values are flattened, lists kept as JSON text). Text columns whose every value is an
# ISO 8601 date (YYYY-MM-DD) become dates.

TextImporter <- setRefClass(
  "TextImporter",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    setting = function(parameters, name, default) {
      "A parameter of the call, else the config's default, else `default`."
      if (!is.null(parameters[[name]])) return(parameters[[name]])
      if (!is.null(.self$config[[name]])) return(.self$config[[name]])
      default
    },

    read_json = function(text, warnings) {
      "An array of records or an object of columns as a data.frame."
      parsed <- jsonlite::fromJSON(text, simplifyVector = TRUE, simplifyDataFrame = TRUE,
                                   flatten = TRUE)
      if (!is.data.frame(parsed)) {
        lengths <- if (is.list(parsed)) vapply(parsed, length, integer(1)) else integer(0)
        if (length(lengths) == 0 || is.null(names(parsed)) || length(unique(lengths)) != 1) {
          stop("JSON text must be an array of records or an object of equal-length columns")
        }
        parsed <- as.data.frame(parsed, stringsAsFactors = FALSE, check.names = FALSE)
      }
      for (name in names(parsed)) {
        if (is.list(parsed[[name]])) {
          parsed[[name]] <- vapply(parsed[[name]], function(v) {
            as.character(jsonlite::toJSON(v, auto_unbox = TRUE))
          }, character(1))
          warnings[[length(warnings) + 1]] <- paste("column", name, "holds lists: kept as JSON text")
        }
      }
      list(frame = parsed, warnings = warnings)
    },

    execute = function(input_data) {
      parameters <- input_data$parameters
      if (is.null(parameters)) parameters <- list()
      text <- parameters$text
      if (!is.character(text) || length(text) != 1 || !nzchar(trimws(text))) {
        stop("parameter text must hold the CSV, TSV or JSON text to import")
      }
      format <- tolower(as.character(setting(parameters, "format", "auto")))
      first_line <- strsplit(text, "\n", fixed = TRUE)[[1]][1]
      if (format == "auto") {
        format <- if (grepl("^\\s*[[{]", text)) "json" else if (grepl("\t", first_line, fixed = TRUE)) "tsv" else "csv"
      }
      if (!format %in% c("csv", "tsv", "json")) stop("unknown format '", format, "'; use auto, csv, tsv or json")
      warnings <- list()
      if (format == "json") {
        read <- read_json(text, warnings)
        frame <- read$frame
        warnings <- read$warnings
      } else {
        sep <- if (format == "tsv") "\t" else as.character(setting(parameters, "sep", ","))
        header <- isTRUE(as.logical(setting(parameters, "header", TRUE)))
        na <- as.character(unlist(setting(parameters, "na", list("", "NA"))))
        frame <- utils::read.csv(text = text, sep = sep, header = header, na.strings = na,
                                 stringsAsFactors = FALSE, check.names = FALSE, strip.white = TRUE)
      }
      dates <- character(0)
      for (name in names(frame)) {
        values <- frame[[name]]
        present <- values[!is.na(values)]
        if (is.character(values) && length(present) > 0 &&
            all(grepl("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", present))) {
          parsed <- as.Date(values, format = "%Y-%m-%d")
          if (!any(is.na(parsed[!is.na(values)]))) {
            frame[[name]] <- parsed
            dates <- c(dates, name)
          }
        }
      }
      types <- lapply(frame, function(column) class(column)[1])
      list(
        data = frame,
        metadata = list(
          plugin_id = .self$plugin_id,
          format = format,
          rows = nrow(frame),
          columns = as.list(names(frame)),
          types = types,
          date_columns = as.list(dates)
        ),
        logs = list(sprintf("%s text: %d row(s), %d column(s)", format, nrow(frame), ncol(frame))),
        warnings = warnings,
        errors = list()
      )
    }
  )
)
