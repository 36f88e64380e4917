"""Outlier Detector: flags the rows whose numeric values lie far from the rest.

Methods (parameter ``method``, default from the manifest's config):

* ``iqr`` (Tukey's fences): a value is an outlier outside ``[Q1 - k*IQR, Q3 + k*IQR]``,
  ``k`` = parameter ``factor`` (default 1.5), quartiles by linear interpolation.
* ``zscore``: ``|x - mean| / std > threshold`` (default 3.0), sample standard deviation
  (``ddof=1``). With n rows no z-score can exceed ``(n - 1) / sqrt(n)``, so small tables need a
  lower threshold or the ``iqr`` method.

The frame comes back unchanged plus one boolean column (``flag_column``, default
``is_outlier``) that is true when any checked column is an outlier in that row. Missing values
are never outliers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

METHODS = ("iqr", "zscore")


class OutlierDetector:
    """The plugin: ``execute`` adds the flag column and reports the bounds per column."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "outlier_detector")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        """Flag outliers in ``input_data['data']`` (a frame, list of rows or dict of columns)."""
        config = {**self.config, **(input_data.get("config") or {})}
        parameters = {**config, **(input_data.get("parameters") or {})}
        method = str(parameters.get("method", "iqr")).lower()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        factor = float(parameters.get("factor", 1.5))
        threshold = float(parameters.get("threshold", 3.0))
        flag_column = str(parameters.get("flag_column", "is_outlier"))

        data = input_data.get("data")
        if data is None:
            raise ValueError("no input data: send 'input_data' (the plugin needs read_data)")
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        columns = self._columns(frame, parameters.get("columns"))

        flags = pd.Series(False, index=frame.index)
        report: dict[str, dict[str, Any]] = {}
        for column in columns:
            values = frame[column].astype("float64")
            if method == "iqr":
                q1, q3 = (float(q) for q in values.quantile([0.25, 0.75]))
                lower, upper = q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)
            else:
                mean, std = float(values.mean()), float(values.std(ddof=1))
                lower, upper = mean - threshold * std, mean + threshold * std
            outside = (values < lower) | (values > upper)  # NaN compares False: never flagged
            flags |= outside
            report[str(column)] = {"lower": lower, "upper": upper, "outliers": int(outside.sum())}

        result = frame.copy()
        result[flag_column] = flags.astype(bool)
        positions = [int(i) for i, flagged in enumerate(flags.tolist()) if flagged]
        return {
            "data": result,
            "metadata": {
                "plugin_id": self.plugin_id,
                "method": method,
                "factor": factor if method == "iqr" else None,
                "threshold": threshold if method == "zscore" else None,
                "columns": report,
                "outlier_rows": positions,
                "outlier_count": len(positions),
            },
            "logs": [f"{method}: {len(positions)} of {len(frame)} row(s) flagged"],
            "warnings": [] if columns else ["no numeric column to check"],
            "errors": [],
        }

    @staticmethod
    def _columns(frame: pd.DataFrame, columns: Any) -> list[Any]:
        numeric = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
        if columns is None:
            return numeric
        if isinstance(columns, str):
            columns = [columns]
        by_name = {str(c): c for c in numeric}
        wrong = [str(c) for c in columns if str(c) not in by_name]
        if wrong:
            raise ValueError(f"not numeric column(s) of the data: {', '.join(wrong)}")
        return [by_name[str(c)] for c in columns]
