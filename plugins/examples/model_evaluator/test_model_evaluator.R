# Local test of the plugin class, no server needed. In this folder:
#   cat model_evaluator.R test_model_evaluator.R | Rscript -
# (the plugin file is read first; a test that source()s it would be a scan finding.)
run <- function(data, parameters = list()) {
  plugin <- ModelEvaluator$new(plugin_id = "model_evaluator", config = list())
  plugin$execute(list(data = data, parameters = parameters, extension_point = "model_evaluation"))
}
near <- function(a, b) isTRUE(all.equal(a, b, tolerance = 1e-12))

# Errors -1, 0, 1, 2: MAE 1, MSE 1.5; actual mean 2.5, SST 5 -> R2 = 1 - 6/5 = -0.2.
reg <- run(data.frame(actual = c(1, 2, 3, 4), predicted = c(0, 2, 4, 6)))
stopifnot(
  identical(reg$metadata$task, "regression"),
  near(reg$data$mae, 1), near(reg$data$mse, 1.5), near(reg$data$rmse, sqrt(1.5)),
  near(reg$data$r2, -0.2), near(reg$data$bias, 0.5), near(reg$data$max_error, 2),
  near(reg$data$mape, 100 * mean(c(1, 0, 1 / 3, 0.5)))
)

# 0/1 numbers are classes. TP 2, FP 1, FN 1, TN 2.
cls <- run(data.frame(y = c(1, 1, 1, 0, 0, 0), p = c(1, 1, 0, 1, 0, 0), s = c(0.9, 0.8, 0.3, 0.7, 0.2, 0.1)),
           list(actual = "y", predicted = "p", score = "s"))
stopifnot(
  identical(cls$metadata$task, "classification"), identical(cls$metadata$positive, "1"),
  near(cls$data$accuracy, 4 / 6), near(cls$data$precision, 2 / 3), near(cls$data$recall, 2 / 3),
  near(cls$data$f1, 2 / 3), near(cls$data$specificity, 2 / 3),
  near(cls$data$auc, 8 / 9),  # 8 of the 9 positive-negative pairs are ranked right
  length(cls$metadata$confusion) == 4
)

multi <- run(data.frame(actual = c("cat", "dog", "bird", "cat"), predicted = c("cat", "dog", "cat", "cat"),
                        stringsAsFactors = FALSE))
stopifnot(near(multi$data$accuracy, 0.75), is.null(multi$data$precision),
          near(multi$data$macro_recall, mean(c(0, 1, 1))))

none <- run(data.frame(actual = c(TRUE, FALSE), predicted = c(FALSE, FALSE)))
stopifnot(is.na(none$data$precision), identical(none$metadata$positive, "TRUE"))
gaps <- run(data.frame(actual = c(1.5, NA, 3), predicted = c(1, 2, 3)))
stopifnot(gaps$data$n == 2, length(gaps$warnings) == 1)
failed <- tryCatch(run(data.frame(a = 1)), error = function(e) conditionMessage(e))
stopifnot(grepl("unknown column 'actual'", failed))
cat("model_evaluator: all checks passed\n")
