# Correlation Analyzer: the correlation matrix of a data.frame's numeric columns (R's cor():
# pearson, spearman or kendall) and the pairs whose |r| reaches `threshold`.
#
# input_data$data is a data.frame; input_data$parameters may hold `method`, `threshold` and
# `columns`; defaults come from the manifest's config. Missing values are handled pairwise
# (use = "pairwise.complete.obs"), so one gap does not drop a whole row from every pair.

CorrelationAnalyzer <- setRefClass(
  "CorrelationAnalyzer",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    setting = function(parameters, name, default) {
      "A parameter of the call, else the config's default, else `default`."
      if (!is.null(parameters[[name]])) return(parameters[[name]])
      if (!is.null(.self$config[[name]])) return(.self$config[[name]])
      default
    },

    numeric_columns = function(data, columns) {
      "The columns to correlate: the named ones, or every numeric one."
      if (!is.null(columns)) {
        columns <- as.character(unlist(columns))
        unknown <- setdiff(columns, names(data))
        if (length(unknown) > 0) stop("unknown column(s): ", paste(unknown, collapse = ", "))
        data <- data[, columns, drop = FALSE]
      }
      keep <- vapply(data, function(col) is.numeric(col) && !is.logical(col), logical(1))
      list(frame = data[, keep, drop = FALSE], skipped = names(data)[!keep])
    },

    execute = function(input_data) {
      data <- input_data$data
      parameters <- input_data$parameters
      if (is.null(parameters)) parameters <- list()
      if (is.null(data)) stop("no input data: send 'input_data' (the plugin needs read_data)")
      if (!is.data.frame(data)) data <- as.data.frame(data, stringsAsFactors = FALSE)

      method <- tolower(as.character(setting(parameters, "method", "pearson")))
      if (!method %in% c("pearson", "spearman", "kendall")) {
        stop("unknown method '", method, "'; use pearson, spearman or kendall")
      }
      threshold <- as.numeric(setting(parameters, "threshold", 0.7))
      if (length(threshold) != 1 || is.na(threshold) || threshold < 0 || threshold > 1) {
        stop("threshold must be a number between 0 and 1")
      }

      chosen <- numeric_columns(data, parameters$columns)
      numbers <- chosen$frame
      if (ncol(numbers) < 2) stop("need at least two numeric columns to correlate")

      warnings <- list()
      if (length(chosen$skipped) > 0) {
        warnings[[length(warnings) + 1]] <- paste(
          "non-numeric column(s) left out:", paste(chosen$skipped, collapse = ", "))
      }
      flat <- names(numbers)[vapply(numbers, function(col) {
        spread <- stats::sd(col, na.rm = TRUE)
        is.na(spread) || spread == 0
      }, logical(1))]
      if (length(flat) > 0) {
        warnings[[length(warnings) + 1]] <- paste(
          "column(s) without spread have no correlation (NA):", paste(flat, collapse = ", "))
      }
      # cor() also warns about those columns; that is reported above, once and by name.
      r_matrix <- suppressWarnings(cor(numbers, method = method, use = "pairwise.complete.obs"))

      variables <- colnames(r_matrix)
      pairs <- list()
      for (i in seq_len(length(variables) - 1)) {
        for (j in seq(i + 1, length(variables))) {
          r <- r_matrix[i, j]
          if (!is.na(r) && abs(r) >= threshold) {
            pairs[[length(pairs) + 1]] <- list(
              variable_1 = variables[i], variable_2 = variables[j], correlation = r,
              direction = if (r > 0) "positive" else "negative"
            )
          }
        }
      }

      result <- data.frame(variable = variables, r_matrix, check.names = FALSE,
                           stringsAsFactors = FALSE, row.names = NULL)

      list(
        data = result,
        metadata = list(
          plugin_id = .self$plugin_id,
          method = method,
          threshold = threshold,
          n_observations = nrow(numbers),
          variables = as.list(variables),
          significant_pairs = pairs
        ),
        logs = list(sprintf("%s correlation of %d variables over %d rows; %d pair(s) with |r| >= %g",
                            method, length(variables), nrow(numbers), length(pairs), threshold)),
        warnings = warnings,
        errors = list()
      )
    }
  )
)
