"""pandas DataFrame <-> R data.frame, a column at a time as whole vectors (no per-cell loop).

Written out instead of relying on ``pandas2ri`` so every dtype the platform promises (nullable
int and bool, string with missing values, tz-aware datetime, categorical, the index as row
names) maps the same way on every rpy2 version, and because it is much faster: measured on
1,000,000 x 10 float64 in the runner image, ``pandas2ri.py2rpy`` took 23 s and ``rpy2py`` 3.7 s
(it converts cell by cell), ``FloatVector(ndarray)`` 0.6 s a column, while copying a numpy
buffer into an R vector (``*SexpVector.from_memoryview``) takes 4 ms a column. Strings cannot be
copied as a buffer (R keeps one CHARSXP per string): they cross as the codes of their unique
values plus those values, and R (or numpy) expands them with one vectorised index, 56 ms for a
million strings against 950 ms cell by cell (1.35 s against 55 ms on the way back).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import rpy2.rinterface as ri
import rpy2.robjects as ro

_INT32 = np.iinfo(np.int32)
#: R's NA for integers and logicals (INT_MIN); its NA for doubles is a NaN with payload 1954.
NA_INT = _INT32.min
_NA_REAL = np.array([ri.NA_Real], dtype=np.float64)[0]
_EXPAND = ro.r("function(codes, values) values[codes]")
_FACTORISE = ro.r("function(x) { u <- unique(x); list(match(x, u), u) }")


def _doubles(values: np.ndarray, missing: np.ndarray) -> Any:
    values = np.array(values, dtype=np.float64)  # a copy R may own
    values[missing] = _NA_REAL
    return ri.FloatSexpVector.from_memoryview(memoryview(values))


def _ints(values: np.ndarray, missing: np.ndarray, kind: type = ri.IntSexpVector) -> Any:
    values = np.where(missing, NA_INT, values).astype(np.int32)
    return kind.from_memoryview(memoryview(values))


def _strings(series: pd.Series) -> Any:
    """A character vector: unique values converted once, expanded by their codes in R."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    levels = ri.StrSexpVector([str(u) for u in uniques])
    return _EXPAND(_ints(codes + 1, codes < 0), levels)


def _column_to_r(series: pd.Series) -> Any:
    dtype = series.dtype
    missing = series.isna().to_numpy()
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        vec = _ints(codes + 1, codes < 0)
        vec.rclass = ro.StrVector(["ordered", "factor"] if dtype.ordered else ["factor"])
        vec.do_slot_assign("levels", ro.StrVector([str(c) for c in dtype.categories]))
        return vec
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        values = series.dt.tz_convert("UTC") if isinstance(dtype, pd.DatetimeTZDtype) else series
        nanos = values.dt.tz_localize(None) if isinstance(dtype, pd.DatetimeTZDtype) else values
        seconds = nanos.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
        vec = _doubles(seconds, missing)
        vec.rclass = ro.StrVector(["POSIXct", "POSIXt"])
        tz = str(dtype.tz) if isinstance(dtype, pd.DatetimeTZDtype) else "UTC"
        vec.do_slot_assign("tzone", ro.StrVector([tz]))
        return vec
    present = series[~missing]
    if pd.api.types.is_bool_dtype(dtype) or (
        dtype == np.dtype(object) and len(present) and present.map(type).eq(bool).all()
    ):
        values = series.to_numpy(dtype=object, na_value=False).astype(bool)
        return _ints(values, missing, ri.BoolSexpVector)
    if pd.api.types.is_integer_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[~missing]
        if finite.size == 0 or (finite.min() >= _INT32.min + 1 and finite.max() <= _INT32.max):
            return _ints(np.nan_to_num(values).astype(np.int64), missing)
        return _doubles(values, missing)
    if pd.api.types.is_float_dtype(dtype):
        return _doubles(series.to_numpy(dtype="float64", na_value=np.nan), missing)
    return _strings(series)


def frame_to_r(frame: pd.DataFrame) -> Any:
    """A pandas DataFrame as an R data.frame; a non-default index becomes the row names."""
    columns = [_column_to_r(frame.iloc[:, i]) for i in range(frame.shape[1])]
    r_list = ro.r["list"](*columns)
    r_list.names = ro.StrVector([str(c) for c in frame.columns])
    index = frame.index
    default_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if default_index:
        row_names: Any = ro.IntVector([ri.NA_Integer, -len(frame)])
    else:
        row_names = _strings(pd.Series(index.astype(str), dtype=object))
    r_list.do_slot_assign("row.names", row_names)
    r_list.rclass = ro.StrVector(["data.frame"])
    return r_list


def _strings_from_r(vec: Any) -> np.ndarray:
    """An R character vector as an object array (None for NA), one conversion per unique."""
    codes, uniques = _FACTORISE(vec)
    values = np.array([None if u is ri.NA_Character else str(u) for u in uniques], dtype=object)
    return values[np.asarray(codes, dtype=np.int64) - 1]


def _column_from_r(vec: Any) -> Any:
    rclass = list(vec.rclass) if vec.rclass is not ro.NULL else []
    if "factor" in rclass:
        codes = np.array(vec, dtype=np.int64)
        levels = list(ro.r["levels"](vec))
        codes = np.where(codes == NA_INT, -1, codes - 1)
        return pd.Categorical.from_codes(codes, categories=levels, ordered="ordered" in rclass)
    if "POSIXct" in rclass:
        seconds = np.array(vec, dtype="float64")
        tz_attr = vec.do_slot("tzone") if "tzone" in list(vec.list_attrs()) else None
        tz = str(tz_attr[0]) if tz_attr is not None and str(tz_attr[0]) else "UTC"
        return pd.to_datetime(seconds, unit="s", utc=True).tz_convert(tz)
    if "Date" in rclass:
        return pd.to_datetime(np.array(vec, dtype="float64"), unit="D")
    if isinstance(vec, ri.BoolSexpVector):
        raw = np.array(vec, dtype=np.int32)
        return pd.arrays.BooleanArray(raw == 1, raw == NA_INT)
    if isinstance(vec, ri.IntSexpVector):
        raw = np.array(vec, dtype=np.int32)
        return pd.arrays.IntegerArray(raw.astype(np.int64), raw == NA_INT)
    if isinstance(vec, ri.FloatSexpVector):
        return np.array(vec, dtype="float64")  # a copy: R may free its vector
    if isinstance(vec, ri.StrSexpVector):
        return _strings_from_r(vec)
    raise TypeError(f"data.frame column of R type {rclass or type(vec).__name__} is not supported")


def frame_from_r(r_frame: Any) -> pd.DataFrame:
    """An R data.frame as a pandas DataFrame; explicit row names become a string index."""
    names = [str(n) for n in r_frame.names]
    columns = {name: _column_from_r(r_frame.rx2(name)) for name in names}
    automatic = int(ro.r[".row_names_info"](r_frame)[0]) < 0
    index = None if automatic else list(_strings_from_r(ro.r["rownames"](r_frame)))
    return pd.DataFrame(columns, index=index)
