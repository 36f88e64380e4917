"""The correlation_analyzer example under Rscript: the spec's request, and R's cor() against
pandas' independent implementation of the three methods (ties included)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.examples.example_plugins import run_r_plugin

pytestmark = pytest.mark.usefixtures("rscript")

SPEC_DATA = {"var1": [1, 2, 3, 4, 5], "var2": [2, 4, 6, 8, 10], "var3": [1, 3, 5, 7, 9]}
# y = x^2 separates pearson from the rank methods; w has ties (kendall tau-b, averaged ranks).
OTHER_DATA = {
    "x": [1, 2, 3, 4, 5],
    "y": [1, 4, 9, 16, 25],
    "z": [5, 3, 4, 1, 2],
    "w": [2.5, 1.0, 4.0, 4.0, 3.5],
}


def analyze(data, parameters, config=None):
    done = run_r_plugin(
        "correlation_analyzer",
        {
            "data": data,
            "parameters": parameters,
            "config": config or {"method": "pearson", "threshold": 0.7},
            "extension_point": "analysis",
        },
    )
    return done, (json.loads(done.stdout) if done.returncode == 0 else None)


def matrix(result) -> pd.DataFrame:
    return pd.DataFrame(result["data"]).set_index("variable")


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_spec_request_reports_all_three_pairs(method):
    done, result = analyze(SPEC_DATA, {"method": method, "threshold": 0.7})
    assert done.returncode == 0, done.stderr
    assert set(result) == {"data", "metadata", "logs", "warnings", "errors"}
    m = matrix(result)
    assert list(m.index) == ["var1", "var2", "var3"] and list(m.columns) == list(m.index)
    assert m.to_numpy().ravel().tolist() == pytest.approx([1.0] * 9, abs=1e-12)
    pairs = result["metadata"]["significant_pairs"]
    assert [(p["variable_1"], p["variable_2"], p["direction"]) for p in pairs] == [
        ("var1", "var2", "positive"),
        ("var1", "var3", "positive"),
        ("var2", "var3", "positive"),
    ]
    assert all(p["correlation"] == pytest.approx(1.0, abs=1e-12) for p in pairs)
    assert result["metadata"]["method"] == method
    assert result["metadata"]["threshold"] == 0.7
    assert result["metadata"]["n_observations"] == 5
    assert result["warnings"] == [] and result["errors"] == []


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_matrix_matches_pandas(method):
    done, result = analyze(OTHER_DATA, {"method": method, "threshold": 0.0})
    assert done.returncode == 0, done.stderr
    expected = pd.DataFrame(OTHER_DATA).corr(method=method)
    assert matrix(result).to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-12)
    # threshold 0 reports every pair: 4 variables -> 6 pairs.
    assert len(result["metadata"]["significant_pairs"]) == 6


def test_exact_rank_correlations():
    _, spearman = analyze(OTHER_DATA, {"method": "spearman", "threshold": 0.7})
    _, kendall = analyze(OTHER_DATA, {"method": "kendall", "threshold": 0.7})
    # x vs z: rank differences 4,1,1,-3,-3 -> 1 - 6*36/(5*24) = -0.8; 2 concordant, 8 discordant
    # pairs -> (2 - 8)/10 = -0.6, under the threshold for kendall.
    assert matrix(spearman).loc["x", "z"] == pytest.approx(-0.8, abs=1e-12)
    assert matrix(kendall).loc["x", "z"] == pytest.approx(-0.6, abs=1e-12)
    assert [(p["variable_1"], p["variable_2"]) for p in kendall["metadata"]["significant_pairs"]] == [
        ("x", "y")
    ]
    assert ("x", "z", "negative") in [
        (p["variable_1"], p["variable_2"], p["direction"]) for p in spearman["metadata"]["significant_pairs"]
    ]


def test_config_defaults_columns_and_warnings():
    data = {**OTHER_DATA, "flat": [3, 3, 3, 3, 3], "label": ["a", "b", "c", "d", "e"]}
    done, result = analyze(data, {}, config={"method": "spearman", "threshold": 0.9})
    assert done.returncode == 0, done.stderr
    assert result["metadata"]["method"] == "spearman" and result["metadata"]["threshold"] == 0.9
    assert result["warnings"] == [
        "non-numeric column(s) left out: label",
        "column(s) without spread have no correlation (NA): flat",
    ]
    assert matrix(result)["flat"].isna().all()
    done, only = analyze(data, {"columns": ["x", "z"]})
    assert list(matrix(only).index) == ["x", "z"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"method": "distance"}, "unknown method 'distance'"),
        ({"threshold": 2}, "threshold must be a number between 0 and 1"),
        ({"columns": ["x", "nope"]}, "unknown column(s): nope"),
        ({"columns": ["x"]}, "need at least two numeric columns"),
    ],
)
def test_bad_parameters_fail_with_the_reason(parameters, message):
    done, _ = analyze(OTHER_DATA, parameters)
    assert done.returncode != 0
    assert message in done.stderr
