"""Feature Builder: date parts, one-hot columns and polynomial features, added to the table.

* **Dates**: for each date column (datetime columns, and text columns whose every value is an ISO
  8601 date, or the ones named in ``date_columns``) adds ``<col>_year``, ``_month``, ``_day``,
  ``_dayofweek`` (Monday = 0), ``_is_weekend`` and, when any value has a time, ``_hour``.
* **One-hot**: for each categorical column (text/categorical with at most ``max_categories``
  distinct values, or the ones named in ``one_hot``) adds ``<col>=<value>`` as 0/1 integers;
  a missing value is 0 everywhere.
* **Polynomial**: for the numeric columns named in ``polynomial``, the powers 2..``degree`` of
  each (``<col>^2``) and, with ``interactions`` (default true), the pairwise products
  (``<a>*<b>``).

Every original column is kept and rows are never added or dropped.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pandas as pd


class FeatureBuilder:
    """The plugin: ``execute`` adds features to ``input_data['data']``."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "feature_builder")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        settings = {**self.config, **(input_data.get("config") or {}),
                    **(input_data.get("parameters") or {})}  # fmt: skip
        frame = input_data.get("data")
        if not isinstance(frame, pd.DataFrame):
            raise ValueError("no input data: send the table to add features to")
        result = frame.copy()
        warnings: list[str] = []
        added: dict[str, list[str]] = {"dates": [], "one_hot": [], "polynomial": []}

        dates = self._date_columns(frame, settings.get("date_columns"))
        for column, values in dates.items():
            added["dates"] += self._add_date_parts(result, column, values)

        limit = int(settings.get("max_categories", 20))
        for column in self._categorical_columns(frame, settings.get("one_hot"), set(dates), limit, warnings):
            added["one_hot"] += self._add_one_hot(result, column)

        numeric = self._names(frame, settings.get("polynomial") or [], "polynomial")
        not_numeric = [c for c in numeric if not _is_number(frame[c])]
        if not_numeric:
            raise ValueError(f"polynomial column(s) not numeric: {', '.join(not_numeric)}")
        degree = int(settings.get("degree", 2))
        if numeric and not 2 <= degree <= 5:
            raise ValueError("degree must be between 2 and 5")
        for column in numeric:
            for power in range(2, degree + 1):
                added["polynomial"].append(_put(result, f"{column}^{power}", frame[column].astype("float64") ** power))
        if settings.get("interactions", True):
            for a, b in combinations(numeric, 2):
                added["polynomial"].append(
                    _put(result, f"{a}*{b}", frame[a].astype("float64") * frame[b].astype("float64"))
                )
        total = sum(len(v) for v in added.values())
        if total == 0:
            warnings.append("no feature added: no date or categorical column found and no polynomial columns named")
        return {
            "data": result,
            "metadata": {"plugin_id": self.plugin_id, "added_columns": added, "rows": len(result)},
            "logs": [f"{total} feature column(s) added to {len(result)} row(s)"],
            "warnings": warnings,
            "errors": [],
        }

    @staticmethod
    def _names(frame: pd.DataFrame, names: Any, what: str) -> list[str]:
        if isinstance(names, str):
            names = [names]
        unknown = [str(n) for n in names if n not in frame.columns]
        if unknown:
            raise ValueError(f"unknown {what} column(s): {', '.join(unknown)}")
        return [str(n) for n in names]

    def _date_columns(self, frame: pd.DataFrame, named: Any) -> dict[str, pd.Series]:
        """The date columns, parsed: the named ones (must parse), else the ones that look so."""
        found: dict[str, pd.Series] = {}
        if named is not None:
            for column in self._names(frame, named, "date"):
                parsed = pd.to_datetime(frame[column], errors="coerce", utc=True, format="ISO8601")
                if parsed.isna().sum() > frame[column].isna().sum():
                    raise ValueError(f"date column {column!r} has values that are not ISO 8601 dates")
                found[column] = parsed
            return found
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_datetime64_any_dtype(series):
                found[str(column)] = series
            elif _is_text(series) and series.notna().any():
                text = series.dropna()
                if text.map(type).eq(str).all() and text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
                    parsed = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
                    if parsed.notna().sum() == len(text):
                        found[str(column)] = parsed
        return found

    @staticmethod
    def _add_date_parts(result: pd.DataFrame, column: str, values: pd.Series) -> list[str]:
        parts = values.dt
        out = [
            _put(result, f"{column}_year", parts.year.astype("Int64")),
            _put(result, f"{column}_month", parts.month.astype("Int64")),
            _put(result, f"{column}_day", parts.day.astype("Int64")),
            _put(result, f"{column}_dayofweek", parts.day_of_week.astype("Int64")),
            _put(result, f"{column}_is_weekend", (parts.day_of_week >= 5).where(values.notna()).astype("boolean")),
        ]
        if (values.dropna() != values.dropna().dt.normalize()).any():
            out.append(_put(result, f"{column}_hour", parts.hour.astype("Int64")))
        return out

    def _categorical_columns(self, frame: pd.DataFrame, named: Any, dates: set[str], limit: int,
                             warnings: list[str]) -> list[str]:  # fmt: skip
        if named is not None:
            return self._names(frame, named, "one_hot")
        chosen = []
        for column in frame.columns:
            series = frame[column]
            if str(column) in dates or not (
                _is_text(series) or isinstance(series.dtype, pd.CategoricalDtype)
            ):
                continue
            distinct = series.nunique(dropna=True)
            if distinct > limit:
                warnings.append(f"column {column} has {distinct} distinct values (> {limit}): not one-hot encoded")
            elif distinct > 0:
                chosen.append(str(column))
        return chosen

    @staticmethod
    def _add_one_hot(result: pd.DataFrame, column: str) -> list[str]:
        series = result[column]
        values = series.cat.categories if isinstance(series.dtype, pd.CategoricalDtype) else sorted(
            series.dropna().astype(str).unique()
        )
        text = series.astype("string")
        return [_put(result, f"{column}={value}", text.eq(str(value)).fillna(False).astype("int64")) for value in values]


def _is_text(series: pd.Series) -> bool:
    """Text columns: object (pandas 2) or string dtype (pandas 3 infers it)."""
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _put(result: pd.DataFrame, name: str, values: pd.Series) -> str:
    if name in result.columns:
        raise ValueError(f"feature column {name!r} already exists in the table")
    result[name] = values
    return name
