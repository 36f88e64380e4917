"""Data Normalizer: rescales the numeric columns of a frame; every other column passes through.

Methods (parameter ``method``, default from the manifest's config):

* ``zscore``: ``(x - mean) / std``, with the *sample* standard deviation (``ddof=1``, as
  ``pandas.Series.std``); config ``ddof=0`` gives the population one.
* ``minmax``: ``(x - min) / (max - min)``, into [0, 1].
* ``robust``: ``(x - median) / IQR``, IQR = 75th - 25th percentile (linear interpolation),
  which outliers barely move.

Missing values stay missing and are ignored by the statistics. A constant column (zero spread)
becomes 0.0 with a warning instead of a division by zero. The statistics used are returned in
``metadata`` so a caller can invert the transformation.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

METHODS = ("zscore", "minmax", "robust")


def _is_scalable(series: pd.Series) -> bool:
    # Booleans are numeric to pandas, but rescaling a flag makes no sense.
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _center_and_scale(values: pd.Series, method: str, ddof: int) -> tuple[float, float]:
    if method == "zscore":
        return float(values.mean()), float(values.std(ddof=ddof))
    if method == "minmax":
        low, high = float(values.min()), float(values.max())
        return low, high - low
    q1, median, q3 = (float(q) for q in values.quantile([0.25, 0.5, 0.75]))
    return median, q3 - q1


class DataNormalizer:
    """The plugin: ``execute`` normalizes ``input_data['data']`` and reports what it did."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "data_normalizer")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        """Normalize the frame (or list of rows / dict of columns) in ``input_data['data']``."""
        config = {**self.config, **(input_data.get("config") or {})}
        parameters = input_data.get("parameters") or {}
        method = str(parameters.get("method", config.get("method", "zscore"))).lower()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        ddof = int(parameters.get("ddof", config.get("ddof", 1)))

        frame = self._frame(input_data.get("data"))
        targets = self._targets(frame, parameters.get("columns"))
        result = frame.copy()
        statistics: dict[str, dict[str, float]] = {}
        warnings: list[str] = []
        for column in targets:
            values = frame[column].astype("float64")
            center, scale = _center_and_scale(values, method, ddof)
            if pd.isna(scale) or scale == 0:
                warnings.append(f"column {column!s} has no spread; set to 0.0")
                result[column] = values.where(values.isna(), 0.0)
            else:
                result[column] = (values - center) / scale
            statistics[str(column)] = {"center": center, "scale": scale}

        skipped = [str(c) for c in frame.columns if c not in targets]
        return {
            "data": result,
            "metadata": {
                "plugin_id": self.plugin_id,
                "method": method,
                "ddof": ddof if method == "zscore" else None,
                "normalized_columns": [str(c) for c in targets],
                "passed_through_columns": skipped,
                "statistics": statistics,
                "rows": len(result),
            },
            "logs": [
                f"{method} normalization of {len(targets)} column(s) over {len(result)} row(s)"
            ],
            "warnings": warnings,
            "errors": [],
        }

    @staticmethod
    def _frame(data: Any) -> pd.DataFrame:
        if data is None:
            raise ValueError("no input data: send 'input_data' (the plugin needs read_data)")
        if isinstance(data, pd.DataFrame):
            return data
        if isinstance(data, (list, dict)):
            return pd.DataFrame(data)
        raise ValueError(f"input data must be a table, not {type(data).__name__}")

    @staticmethod
    def _targets(frame: pd.DataFrame, columns: Any) -> list[Any]:
        if columns is None:
            return [c for c in frame.columns if _is_scalable(frame[c])]
        if isinstance(columns, str):
            columns = [columns]
        # Column names travel as JSON strings; a frame built from rows has integer labels.
        by_name = {str(c): c for c in frame.columns}
        unknown = [str(c) for c in columns if str(c) not in by_name]
        if unknown:
            raise ValueError(f"unknown column(s): {', '.join(unknown)}")
        chosen = [by_name[str(c)] for c in columns]
        not_numeric = [str(c) for c in chosen if not _is_scalable(frame[c])]
        if not_numeric:
            raise ValueError(f"column(s) not numeric: {', '.join(not_numeric)}")
        return chosen
