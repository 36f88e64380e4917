# A spec-like R plugin: correlation matrix and the pairs above a threshold.
GoodR <- setRefClass("GoodR",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    process_data = function(data, parameters) {
      method <- if (is.null(parameters$method)) "pearson" else parameters$method
      threshold <- if (is.null(parameters$threshold)) 0.7 else parameters$threshold
      numeric <- data[, vapply(data, is.numeric, logical(1)), drop = FALSE]
      m <- stats::cor(numeric, method = method)
      idx <- which(abs(m) >= threshold & upper.tri(m), arr.ind = TRUE)
      pairs <- do.call("rbind", lapply(seq_len(nrow(idx)), function(k) {
        data.frame(a = rownames(m)[idx[k, 1]], b = colnames(m)[idx[k, 2]], r = m[idx[k, 1], idx[k, 2]])
      }))
      list(matrix = m, pairs = pairs)
    },
    execute = function(input_data) {
      result <- .self$process_data(input_data$data, input_data$parameters)
      list(data = as.data.frame(result$matrix), metadata = list(plugin_id = .self$plugin_id),
           logs = list("Processing completed"), warnings = list(), errors = list())
    }
  )
)
