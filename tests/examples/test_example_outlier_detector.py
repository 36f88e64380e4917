"""The outlier_detector example in-process: Tukey's fences and z-score flags, exact bounds."""

from __future__ import annotations

import math
import statistics

import pandas as pd
import pytest

from tests.examples.example_plugins import load_plugin_class

VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]


def detect(data, **parameters):
    plugin = load_plugin_class("outlier_detector")({"plugin_id": "outlier_detector", "config": {}})
    return plugin.execute(
        {
            "data": data,
            "parameters": parameters,
            "config": {"method": "iqr", "factor": 1.5, "threshold": 3.0},
            "extension_point": "analysis",
        }
    )


def test_iqr_fences_flag_the_far_value():
    frame = pd.DataFrame({"x": VALUES, "tag": list("abcdefghij")})
    result = detect(frame)
    assert set(result) == {"data", "metadata", "logs", "warnings", "errors"}
    # Q1 = 3.25, Q3 = 7.75 (linear interpolation), IQR 4.5 -> fences -3.5 and 14.5.
    assert result["metadata"]["columns"] == {"x": {"lower": -3.5, "upper": 14.5, "outliers": 1}}
    assert result["data"]["is_outlier"].tolist() == [False] * 9 + [True]
    assert result["data"]["is_outlier"].dtype == bool
    pd.testing.assert_frame_equal(result["data"][["x", "tag"]], frame)
    assert result["metadata"]["outlier_rows"] == [9]


def test_factor_widens_the_fences():
    result = detect({"x": VALUES}, factor=3)
    assert result["metadata"]["columns"]["x"]["upper"] == 7.75 + 3 * 4.5
    assert result["metadata"]["outlier_count"] == 1


def test_zscore_uses_sample_std_and_threshold():
    mean, std = statistics.mean(VALUES), statistics.stdev(VALUES)
    z_max = (100 - mean) / std
    assert z_max <= (len(VALUES) - 1) / math.sqrt(len(VALUES)) < 3  # no z above 2.85 here
    assert detect({"x": VALUES}, method="zscore")["metadata"]["outlier_rows"] == []
    flagged = detect({"x": VALUES}, method="zscore", threshold=2)
    assert flagged["metadata"]["outlier_rows"] == [9]
    bounds = flagged["metadata"]["columns"]["x"]
    assert bounds["lower"] == pytest.approx(mean - 2 * std)
    assert bounds["upper"] == pytest.approx(mean + 2 * std)


def test_any_column_flags_the_row_and_missing_is_never_an_outlier():
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4, None, 1000], "b": [-500, 2, 3, 4, 5, 6]})
    result = detect(frame, flag_column="odd")
    assert result["data"]["odd"].tolist() == [True, False, False, False, False, True]
    assert result["metadata"]["columns"]["a"]["outliers"] == 1


def test_bad_parameters():
    with pytest.raises(ValueError, match="unknown method"):
        detect({"x": VALUES}, method="lof")
    with pytest.raises(ValueError, match="not numeric"):
        detect({"x": VALUES, "s": ["a"] * 10}, columns=["s"])
