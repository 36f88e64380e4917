"""Runs on the real engine: results, typed frames, the request shapes, failures, R."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from omniscope_jupyter.errors import Conflict, InvalidRequest
from omniscope_jupyter.sandbox.executions import ExecutionService

from .conftest import PluginFactory

ECHO = """
class Echo:
    def __init__(self, context):
        self.context = context

    def execute(self, input_data):
        data = input_data["data"]
        return {
            "data": data,
            "metadata": {
                "plugin_id": self.context["plugin_id"],
                "config": input_data["config"],
                "parameters": input_data["parameters"],
                "extension_point": input_data["extension_point"],
                "type": type(data).__name__,
                "dtypes": {str(k): str(v) for k, v in data.dtypes.items()} if data is not None else None,
                "numpy_scalar": __import__("numpy").int64(7),
            },
            "logs": ["echoed"],
            "warnings": [],
            "errors": [],
        }
"""


def typed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "i2": np.array([1, 2, 3], dtype="int64"),
            "f": [1.5, np.nan, 3.0],
            "b": [True, False, True],
            "bn": pd.array([True, None, False], dtype="boolean"),
            "s": pd.array(["a", None, "c"], dtype="string"),
            "t": pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01 00:00"]).tz_localize(
                "Europe/Paris"
            ),
            "c": pd.Categorical(["x", None, "y"], categories=["y", "x"], ordered=True),
        },
        index=pd.Index(["r1", "r2", "r3"], name="rid"),
    )


def test_typed_frame_round_trip(service: ExecutionService, make_plugin: PluginFactory) -> None:
    target = make_plugin(ECHO, config={"k": {"type": "integer", "default": 3}})
    frame = typed_frame()
    result = service.run_frame(target, frame, {"p": 1}, "analysis", config={"k": 5})
    assert result.status == "succeeded", result.answer["errors"]
    pd.testing.assert_frame_equal(result.data, frame, check_dtype=False)
    for column in ("i", "f", "b", "bn", "t", "c"):
        assert result.data[column].dtype == frame[column].dtype, column
    meta = result.answer["metadata"]
    assert meta["plugin_id"] == target.plugin_id
    assert meta["config"] == {"k": 5}
    assert meta["parameters"] == {"p": 1}
    assert meta["type"] == "DataFrame"
    assert meta["numpy_scalar"] == 7
    assert result.answer["logs"] == ["echoed"]
    assert result.answer["output_shape"] == [3, 8]


def test_request_shapes_and_history(service: ExecutionService, make_plugin: PluginFactory) -> None:
    target = make_plugin(ECHO)

    async def scenario() -> tuple[dict, dict, dict]:
        rows = await service.execute(
            target, {"input_data": [[1, 2, 3], [4, 5, 6]], "extension_point": "preprocessing"}
        )
        cols = await service.execute(
            target,
            {"input_data": {"var1": [1, 2], "var2": [0.5, None]}, "parameters": {"method": "x"},
             "extension_point": "analysis"},
            user="alice",
        )
        history = await service.list_page(target.plugin_id, page=1, page_size=1)
        return rows, cols, history

    rows, cols, history = asyncio.run(scenario())
    assert rows["status"] == "succeeded"
    assert rows["data"] == {"columns": [0, 1, 2], "index": [0, 1], "data": [[1, 2, 3], [4, 5, 6]]}
    assert cols["data"]["columns"] == ["var1", "var2"]
    assert cols["data"]["data"] == [[1, 0.5], [2, None]]
    assert cols["duration_ms"] > 0
    assert history["total"] == 2 and len(history["executions"]) == 1
    latest = history["executions"][0]
    assert latest["execution_id"] == cols["execution_id"] and latest["user"] == "alice"
    assert latest["parameters"] == {"method": "x"} and latest["input_shape"] == [2, 2]
    got = asyncio.run(service.get(target.plugin_id, rows["execution_id"]))
    assert got["status"] == "succeeded" and got["data"] == rows["data"]


def test_bad_requests_are_refused_before_running(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(ECHO, config={"k": {"type": "integer", "default": 1}})
    with pytest.raises(InvalidRequest, match="must be of type integer"):
        service.run(target, {"extension_point": "analysis", "config": {"k": "x"}})
    with pytest.raises(InvalidRequest, match="unknown config key"):
        service.run(target, {"extension_point": "analysis", "config": {"zz": 1}})
    with pytest.raises(InvalidRequest, match="not declared"):
        service.run(target, {"extension_point": "visualization"})
    with pytest.raises(InvalidRequest, match="same length"):
        service.run(target, {"extension_point": "analysis", "input_data": {"a": [1], "b": [1, 2]}})
    disabled = make_plugin(ECHO, enabled=False)
    with pytest.raises(Conflict, match="disabled"):
        service.run(disabled, {"extension_point": "analysis"})


def test_plugin_exception_and_bad_result(service: ExecutionService, make_plugin: PluginFactory) -> None:
    raising = make_plugin(
        """
        class Boom:
            def __init__(self, context):
                pass
            def execute(self, input_data):
                raise ValueError("no good input")
        """
    )
    answer = service.run(raising, {"extension_point": "analysis"})
    assert answer["status"] == "failed"
    assert "ValueError: no good input" in answer["errors"][0]
    assert "Traceback" in answer["errors"][1]

    wrong = make_plugin(
        """
        class Wrong:
            def __init__(self, context):
                pass
            def execute(self, input_data):
                return {"data": None, "logs": "not a list"}
        """
    )
    answer = service.run(wrong, {"extension_point": "analysis"})
    assert answer["status"] == "failed"
    assert "'logs' must be a list" in answer["errors"][0]

    not_dict = make_plugin(
        """
        class NotDict:
            def __init__(self, context):
                pass
            def execute(self, input_data):
                return [1, 2]
        """
    )
    answer = service.run(not_dict, {"extension_point": "analysis"})
    assert answer["status"] == "failed" and "returned a list" in answer["errors"][0]


def test_read_and_write_data_permissions(service: ExecutionService, make_plugin: PluginFactory) -> None:
    no_read = make_plugin(ECHO, permissions=("write_data",))
    answer = service.run(no_read, {"extension_point": "analysis", "input_data": {"a": [1]}})
    assert answer["metadata"]["type"] == "NoneType"
    assert any("read_data" in w for w in answer["warnings"])

    no_write = make_plugin(ECHO, permissions=("read_data",))
    answer = service.run(no_write, {"extension_point": "analysis", "input_data": {"a": [1]}})
    assert answer["status"] == "succeeded"
    assert answer["data"] is None
    assert any("write_data" in w for w in answer["warnings"])


R_PLUGIN = """
Probe <- setRefClass("Probe",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    execute = function(input_data) {
      data <- input_data$data
      types <- vapply(data, function(col) class(col)[1], character(1))
      out <- data
      out$doubled <- data$x * 2
      list(
        data = out,
        metadata = list(plugin_id = .self$plugin_id, is_df = is.data.frame(data),
                        types = as.list(types), threshold = input_data$parameters$threshold,
                        tz = attr(data$t, "tzone"), levels = levels(data$c),
                        na_count = sum(is.na(data$x))),
        logs = list("Processing completed"),
        warnings = list(),
        errors = list()
      )
    }
  )
)
"""


def test_r_plugin_gets_a_data_frame(service: ExecutionService, make_plugin: PluginFactory) -> None:
    target = make_plugin(R_PLUGIN, language="r")
    frame = pd.DataFrame(
        {
            "x": pd.array([1, None, 3], dtype="Int64"),
            "y": [0.5, 1.5, np.nan],
            "b": [True, False, True],
            "s": ["a", None, "c"],
            "t": pd.to_datetime(["2024-01-01 10:00", "2024-02-01 00:00", None]).tz_localize("UTC"),
            "c": pd.Categorical(["u", "v", "u"]),
        }
    )
    result = service.run_frame(target, frame, {"threshold": 0.7}, "analysis")
    assert result.status == "succeeded", (result.answer["errors"], result.answer["stderr"])
    meta = result.answer["metadata"]
    assert meta["is_df"] is True and meta["plugin_id"] == target.plugin_id
    assert meta["types"] == {
        "x": "integer", "y": "numeric", "b": "logical", "s": "character", "t": "POSIXct",
        "c": "factor",
    }
    assert meta["threshold"] == 0.7 and meta["tz"] == "UTC" and meta["levels"] == ["u", "v"]
    assert meta["na_count"] == 1
    out = result.data
    assert list(out.columns) == ["x", "y", "b", "s", "t", "c", "doubled"]
    assert out["doubled"].tolist()[0] == 2 and pd.isna(out["doubled"].tolist()[1])
    assert str(out["t"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(out["t"].dtype)
    assert isinstance(out["c"].dtype, pd.CategoricalDtype)
    assert pd.isna(out["s"].tolist()[1]) and out["s"].tolist()[0] == "a"
