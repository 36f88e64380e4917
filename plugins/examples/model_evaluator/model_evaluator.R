# Model Evaluator: regression or classification metrics of predictions against actual values.
#
# input_data$data is a data.frame with an actual and a predicted column (parameters `actual`,
# `predicted`; default "actual" and "predicted"). `task` "auto" (default) treats text, logical
# or factor columns, and numeric ones holding only 0 and 1, as classes; other numbers as a
# regression. The result's data is the metrics, list(name = number) (NA -> null where a metric
# is undefined, e.g. precision without any positive prediction); the confusion table is in
# metadata.

ModelEvaluator <- setRefClass(
  "ModelEvaluator",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    setting = function(parameters, name, default) {
      "A parameter of the call, else the config's default, else `default`."
      if (!is.null(parameters[[name]])) return(parameters[[name]])
      if (!is.null(.self$config[[name]])) return(.self$config[[name]])
      default
    },

    ratio = function(numerator, denominator) {
      "numerator / denominator, NA when the denominator is zero."
      if (denominator == 0) NA_real_ else numerator / denominator
    },

    regression = function(actual, predicted) {
      "MAE, MSE, RMSE, R squared, MAPE (%), bias and the largest error."
      error <- predicted - actual
      sse <- sum(error^2)
      sst <- sum((actual - mean(actual))^2)
      list(
        n = length(actual),
        mae = mean(abs(error)),
        mse = mean(error^2),
        rmse = sqrt(mean(error^2)),
        r2 = if (sst == 0) NA_real_ else 1 - sse / sst,
        mape = if (any(actual == 0)) NA_real_ else 100 * mean(abs(error / actual)),
        bias = mean(error),
        max_error = max(abs(error))
      )
    },

    classification = function(actual, predicted, positive, score) {
      "Accuracy always; precision, recall, F1... for the positive class (two classes) or macro."
      labels <- sort(unique(c(actual, predicted)))
      confusion <- table(factor(actual, levels = labels), factor(predicted, levels = labels))
      metrics <- list(n = length(actual), accuracy = mean(actual == predicted))
      per_class <- lapply(labels, function(label) {
        tp <- confusion[label, label]
        list(precision = ratio(tp, sum(confusion[, label])), recall = ratio(tp, sum(confusion[label, ])))
      })
      names(per_class) <- labels
      f1 <- function(p, r) if (is.na(p) || is.na(r) || p + r == 0) NA_real_ else 2 * p * r / (p + r)
      if (length(labels) <= 2) {
        if (is.null(positive)) positive <- if ("TRUE" %in% labels) "TRUE" else if ("1" %in% labels) "1" else labels[length(labels)]
        positive <- as.character(positive)
        if (!positive %in% labels) stop("positive class '", positive, "' is not among the values: ", paste(labels, collapse = ", "))
        negative <- setdiff(labels, positive)
        tn <- if (length(negative)) confusion[negative, negative] else 0
        specificity <- ratio(tn, sum(actual != positive))
        precision <- per_class[[positive]]$precision
        recall <- per_class[[positive]]$recall
        metrics <- c(metrics, list(precision = precision, recall = recall, f1 = f1(precision, recall),
                                   specificity = specificity,
                                   balanced_accuracy = (recall + specificity) / 2))
        if (!is.null(score)) {
          positives <- sum(actual == positive)
          negatives <- length(actual) - positives
          ranks <- rank(score)
          metrics$auc <- if (positives == 0 || negatives == 0) NA_real_ else
            (sum(ranks[actual == positive]) - positives * (positives + 1) / 2) / (positives * negatives)
        }
      } else {
        precisions <- vapply(per_class, function(m) m$precision, numeric(1))
        recalls <- vapply(per_class, function(m) m$recall, numeric(1))
        f1s <- mapply(f1, precisions, recalls)
        metrics <- c(metrics, list(macro_precision = mean(precisions, na.rm = TRUE),
                                   macro_recall = mean(recalls, na.rm = TRUE),
                                   macro_f1 = mean(f1s, na.rm = TRUE)))
      }
      cells <- as.data.frame(confusion, stringsAsFactors = FALSE)
      list(metrics = metrics, labels = labels, positive = positive,
           confusion = lapply(seq_len(nrow(cells)), function(i) list(
             actual = cells[i, 1], predicted = cells[i, 2], count = cells[i, 3])))
    },

    execute = function(input_data) {
      data <- input_data$data
      parameters <- input_data$parameters
      if (is.null(parameters)) parameters <- list()
      if (!is.data.frame(data)) stop("no input data: send a table with actual and predicted values")
      actual_name <- as.character(setting(parameters, "actual", "actual"))
      predicted_name <- as.character(setting(parameters, "predicted", "predicted"))
      score_name <- parameters$score
      for (name in c(actual_name, predicted_name, score_name)) {
        if (!name %in% names(data)) stop("unknown column '", name, "' (columns: ", paste(names(data), collapse = ", "), ")")
      }
      actual <- data[[actual_name]]
      predicted <- data[[predicted_name]]
      keep <- !is.na(actual) & !is.na(predicted)
      warnings <- list()
      if (!all(keep)) {
        warnings[[1]] <- sprintf("%d row(s) with a missing value left out", sum(!keep))
      }
      if (!any(keep)) stop("no row has both an actual and a predicted value")
      task <- tolower(as.character(setting(parameters, "task", "auto")))
      binary_numbers <- is.numeric(actual) && is.numeric(predicted) &&
        all(c(actual[keep], predicted[keep]) %in% c(0, 1))
      if (task == "auto") task <- if (is.numeric(actual) && is.numeric(predicted) && !binary_numbers) "regression" else "classification"
      if (!task %in% c("regression", "classification")) stop("unknown task '", task, "'; use auto, regression or classification")
      metadata <- list(plugin_id = .self$plugin_id, task = task, actual = actual_name, predicted = predicted_name)
      if (task == "regression") {
        if (!is.numeric(actual) || !is.numeric(predicted)) stop("regression needs numeric actual and predicted columns")
        metrics <- regression(as.numeric(actual[keep]), as.numeric(predicted[keep]))
      } else {
        score <- if (is.null(score_name)) NULL else as.numeric(data[[score_name]][keep])
        scored <- classification(as.character(actual[keep]), as.character(predicted[keep]),
                                 parameters$positive, score)
        metrics <- scored$metrics
        metadata$labels <- as.list(scored$labels)
        metadata$positive <- scored$positive
        metadata$confusion <- scored$confusion
      }
      list(
        data = metrics,
        metadata = metadata,
        logs = list(sprintf("%s metrics over %d row(s)", task, sum(keep))),
        warnings = warnings,
        errors = list()
      )
    }
  )
)
