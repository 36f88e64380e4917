# A plugin of the runner's own, run once by each forked child before its job arrives
# (omniscope_sandbox.py warm_up): it goes through what an R run does, so the copy-on-write copies
# of R's heap, and whatever R loads lazily, are paid for before the job, not during it.
WarmUp <- setRefClass("WarmUp",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    execute = function(input_data) {
      data <- input_data$data
      data$y <- data$x * 2
      list(data = data, metadata = list(rows = nrow(data)), logs = list("warm"),
           warnings = list(), errors = list())
    }
  )
)
