# Local test of the plugin class, no server needed: `Rscript test_correlation_analyzer.R` in this
# folder. The first case is the spec's request: var2 = 2 * var1 and var3 = 2 * var1 - 1, so every
# pair correlates perfectly and all three reach the 0.7 threshold.
sys.source("correlation_analyzer.R", envir = environment())
run <- function(data, parameters, config = list()) {
  plugin <- CorrelationAnalyzer$new(plugin_id = "correlation_analyzer", config = config)
  plugin$execute(list(data = data, parameters = parameters, extension_point = "analysis"))
}

spec <- data.frame(var1 = 1:5, var2 = c(2, 4, 6, 8, 10), var3 = c(1, 3, 5, 7, 9))
for (method in c("pearson", "spearman", "kendall")) {
  result <- run(spec, list(method = method, threshold = 0.7))
  stopifnot(
    identical(result$data$variable, c("var1", "var2", "var3")),
    isTRUE(all.equal(unname(as.matrix(result$data[, -1])), matrix(1, 3, 3))),
    length(result$metadata$significant_pairs) == 3,
    identical(result$metadata$method, method)
  )
}

other <- data.frame(x = 1:5, z = c(5, 3, 4, 1, 2), label = letters[1:5])
kendall <- run(other, list(method = "kendall", threshold = 0.5))
stopifnot(
  isTRUE(all.equal(kendall$data$z[1], -0.6)),  # 2 concordant, 8 discordant pairs: (2 - 8) / 10
  identical(kendall$metadata$significant_pairs[[1]]$direction, "negative"),
  length(kendall$warnings) == 1                # the text column was left out
)
spearman <- run(other, list(method = "spearman", threshold = 0.9))
stopifnot(isTRUE(all.equal(spearman$data$z[1], -0.8)),  # 1 - 6 * 36 / (5 * 24)
          length(spearman$metadata$significant_pairs) == 0)
cat("correlation_analyzer: all checks passed\n")
