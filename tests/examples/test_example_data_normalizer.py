"""The data_normalizer example in-process: the spec's request and exact numbers per method."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.examples.example_plugins import load_plugin_class

SPEC_ROWS = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def execute(data, parameters=None, config=None):
    plugin = load_plugin_class("data_normalizer")({"plugin_id": "data_normalizer", "config": {}})
    return plugin.execute(
        {
            "data": data,
            "parameters": parameters or {},
            "config": {"method": "zscore", "ddof": 1, **(config or {})},
            "extension_point": "preprocessing",
        }
    )


def rows_frame() -> pd.DataFrame:
    # What the server makes of a list of rows: a frame with string column labels.
    frame = pd.DataFrame(SPEC_ROWS)
    frame.columns = [str(c) for c in frame.columns]
    return frame


@pytest.mark.parametrize("data", [SPEC_ROWS, rows_frame()], ids=["rows", "frame"])
def test_spec_request_gives_sample_zscores(data):
    result = execute(data, {"method": "zscore"})
    assert set(result) == {"data", "metadata", "logs", "warnings", "errors"}
    frame = result["data"]
    assert isinstance(frame, pd.DataFrame) and frame.shape == (3, 3)
    # Columns 1-4-7, 2-5-8, 3-6-9: means 4, 5, 6 and sample std 3 (ddof=1) -> -1, 0, 1.
    for column in frame.columns:
        assert frame[column].tolist() == [-1.0, 0.0, 1.0]
    assert result["metadata"]["statistics"] == {
        "0": {"center": 4.0, "scale": 3.0},
        "1": {"center": 5.0, "scale": 3.0},
        "2": {"center": 6.0, "scale": 3.0},
    }
    assert result["metadata"]["ddof"] == 1
    assert result["warnings"] == [] and result["errors"] == []


def test_population_zscore_by_config():
    result = execute(SPEC_ROWS, config={"ddof": 0})
    # Population std of (1, 4, 7) is sqrt(6).
    assert result["data"][0].tolist() == pytest.approx([-3 / math.sqrt(6), 0.0, 3 / math.sqrt(6)])


def test_minmax_and_robust_exact_numbers():
    frame = pd.DataFrame({"a": [2.0, 4.0, 6.0, 8.0, 100.0]})
    minmax = execute(frame, {"method": "minmax"})["data"]["a"].tolist()
    assert minmax == pytest.approx([0.0, 2 / 98, 4 / 98, 6 / 98, 1.0])
    robust = execute(frame, {"method": "robust"})
    # median 6, Q1 4, Q3 8 -> IQR 4: the outlier barely moves the scale.
    assert robust["data"]["a"].tolist() == [-1.0, -0.5, 0.0, 0.5, 23.5]
    assert robust["metadata"]["statistics"]["a"] == {"center": 6.0, "scale": 4.0}


def test_non_numeric_columns_pass_through_untouched():
    when = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).tz_localize("UTC")
    frame = pd.DataFrame(
        {"x": [1, 2, 3], "name": ["a", "b", None], "flag": [True, False, True], "when": when}
    )
    result = execute(frame, {"method": "minmax"})
    out = result["data"]
    assert out["x"].tolist() == [0.0, 0.5, 1.0]
    pd.testing.assert_frame_equal(out[["name", "flag", "when"]], frame[["name", "flag", "when"]])
    assert result["metadata"]["normalized_columns"] == ["x"]
    assert result["metadata"]["passed_through_columns"] == ["name", "flag", "when"]


def test_columns_parameter_limits_the_work():
    result = execute(rows_frame(), {"method": "minmax", "columns": ["1"]})
    assert result["data"]["1"].tolist() == [0.0, 0.5, 1.0]
    assert result["data"]["0"].tolist() == [1, 4, 7]


def test_missing_values_and_constant_columns():
    frame = pd.DataFrame({"x": [1.0, None, 3.0], "c": [5, 5, 5]})
    result = execute(frame, {"method": "zscore"})
    x = result["data"]["x"].tolist()
    assert x[0] == pytest.approx(-1 / math.sqrt(2)) and math.isnan(x[1])
    assert result["data"]["c"].tolist() == [0.0, 0.0, 0.0]
    assert result["warnings"] == ["column c has no spread; set to 0.0"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"method": "log"}, "unknown method 'log'"),
        ({"columns": ["nope"]}, "unknown column"),
        ({"columns": ["name"]}, "not numeric"),
    ],
)
def test_bad_parameters_raise_a_clear_error(parameters, message):
    with pytest.raises(ValueError, match=message):
        execute(pd.DataFrame({"x": [1, 2], "name": ["a", "b"]}), parameters)


def test_no_data_is_a_clear_error():
    with pytest.raises(ValueError, match="no input data"):
        execute(None)
