"""pandas DataFrame <-> R data.frame, column by column, keeping types and missing values.

Written out instead of relying on ``pandas2ri`` so every dtype the platform promises (nullable
int and bool, string with missing values, tz-aware datetime, categorical, the index as row
names) maps the same way on every rpy2 version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import rpy2.rinterface as ri
import rpy2.robjects as ro

_INT32 = np.iinfo(np.int32)


def _column_to_r(series: pd.Series) -> Any:
    dtype = series.dtype
    missing = series.isna().to_numpy()
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64) + 1
        vec = ro.IntVector([ri.NA_Integer if c == 0 else int(c) for c in codes])
        vec.rclass = ro.StrVector(["ordered", "factor"] if dtype.ordered else ["factor"])
        vec.do_slot_assign("levels", ro.StrVector([str(c) for c in dtype.categories]))
        return vec
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        values = series.dt.tz_convert("UTC") if isinstance(dtype, pd.DatetimeTZDtype) else series
        seconds = (values - pd.Timestamp(0, tz=getattr(values.dt, "tz", None))).dt.total_seconds()
        vec = ro.FloatVector([ri.NA_Real if m else float(s) for s, m in zip(seconds, missing)])
        vec.rclass = ro.StrVector(["POSIXct", "POSIXt"])
        tz = str(dtype.tz) if isinstance(dtype, pd.DatetimeTZDtype) else "UTC"
        vec.do_slot_assign("tzone", ro.StrVector([tz]))
        return vec
    if pd.api.types.is_bool_dtype(dtype) or (
        dtype == object and series.dropna().map(type).eq(bool).all() and not series.dropna().empty
    ):
        return ro.BoolVector([ri.NA_Logical if m else bool(v) for v, m in zip(series, missing)])
    if pd.api.types.is_integer_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[~missing]
        if finite.size == 0 or (finite.min() >= _INT32.min + 1 and finite.max() <= _INT32.max):
            return ro.IntVector([ri.NA_Integer if m else int(v) for v, m in zip(values, missing)])
        return ro.FloatVector([ri.NA_Real if m else float(v) for v, m in zip(values, missing)])
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return ro.FloatVector([ri.NA_Real if m else float(v) for v, m in zip(values, missing)])
    return ro.StrVector([ri.NA_Character if m else str(v) for v, m in zip(series, missing)])


def frame_to_r(frame: pd.DataFrame) -> Any:
    """A pandas DataFrame as an R data.frame; a non-default index becomes the row names."""
    columns = [_column_to_r(frame[c]) for c in frame.columns]
    r_list = ro.r["list"](*columns)
    r_list.names = ro.StrVector([str(c) for c in frame.columns])
    index = frame.index
    default_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if default_index:
        row_names: Any = ro.IntVector([ri.NA_Integer, -len(frame)])
    else:
        row_names = ro.StrVector([str(i) for i in frame.index])
    r_list.do_slot_assign("row.names", row_names)
    r_list.rclass = ro.StrVector(["data.frame"])
    return r_list


def _column_from_r(vec: Any, n: int) -> Any:
    rclass = list(vec.rclass) if vec.rclass is not ro.NULL else []
    if "factor" in rclass:
        codes = np.asarray(vec, dtype=np.int64)
        levels = list(ro.r["levels"](vec))
        codes = np.where(codes == ri.NA_Integer, -1, codes - 1)
        return pd.Categorical.from_codes(codes, categories=levels, ordered="ordered" in rclass)
    if "POSIXct" in rclass:
        seconds = np.asarray(vec, dtype="float64")
        tz_attr = vec.do_slot("tzone") if "tzone" in list(vec.list_attrs()) else None
        tz = str(tz_attr[0]) if tz_attr is not None and str(tz_attr[0]) else "UTC"
        values = pd.to_datetime(seconds, unit="s", utc=True)
        return values.tz_convert(tz)
    if "Date" in rclass:
        return pd.to_datetime(np.asarray(vec, dtype="float64"), unit="D")
    if isinstance(vec, ri.BoolSexpVector):
        raw = np.asarray(vec, dtype=np.int64)
        return pd.array([None if v == ri.NA_Logical else bool(v) for v in raw], dtype="boolean")
    if isinstance(vec, ri.IntSexpVector):
        raw = np.asarray(vec, dtype=np.int64)
        return pd.array([None if v == ri.NA_Integer else int(v) for v in raw], dtype="Int64")
    if isinstance(vec, ri.FloatSexpVector):
        return np.asarray(vec, dtype="float64")
    if isinstance(vec, ri.StrSexpVector):
        return pd.array([None if v is ri.NA_Character else str(v) for v in vec], dtype=object)
    raise TypeError(f"data.frame column of R type {rclass or type(vec).__name__} is not supported")


def frame_from_r(r_frame: Any) -> pd.DataFrame:
    """An R data.frame as a pandas DataFrame; explicit row names become a string index."""
    names = [str(n) for n in r_frame.names]
    n = int(ro.r["nrow"](r_frame)[0])
    columns = {name: _column_from_r(r_frame.rx2(name), n) for name in names}
    automatic = int(ro.r[".row_names_info"](r_frame)[0]) < 0
    index = None if automatic else [str(r) for r in ro.r["rownames"](r_frame)]
    return pd.DataFrame(columns, index=index)
