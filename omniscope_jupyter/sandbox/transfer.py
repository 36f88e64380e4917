"""Wire formats between host and sandbox: DataFrames as Arrow IPC, everything else as JSON.

Arrow IPC is typed and holds no code, so neither side ever unpickles what the other wrote; the
pandas metadata Arrow stores beside the schema restores the index, categoricals, nullable ints
and time zones. This module is also copied into the runner image and imported by the runner
there, so host and container share one implementation; it must import only pandas, numpy and
pyarrow.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


class TransferError(ValueError):
    """The payload is not in the expected wire format."""


def frame_to_ipc(frame: pd.DataFrame) -> bytes:
    """Encode a DataFrame (with its index) as one Arrow IPC stream."""
    if not isinstance(frame, pd.DataFrame):
        raise TransferError(f"expected a DataFrame, got {type(frame).__name__}")
    frame = frame.copy(deep=False)
    # Arrow field names are strings; the pandas metadata keeps the original labels' type.
    table = pa.Table.from_pandas(frame, preserve_index=None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def ipc_to_frame(payload: bytes) -> pd.DataFrame:
    """Decode an Arrow IPC stream written by :func:`frame_to_ipc` (possibly by a hostile writer).

    Extension types are refused outright: the only way Arrow reading could run foreign code is
    through a registered Python extension type, and plain data never needs one.
    """
    try:
        reader = pa.ipc.open_stream(pa.BufferReader(payload))
        _refuse_extension_types(reader.schema)
        table = reader.read_all()
    except pa.ArrowException as exc:
        raise TransferError(f"not a valid Arrow IPC stream: {exc}") from exc
    try:
        return table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError, KeyError) as exc:
        # Bad pandas metadata: fall back to the plain columns rather than fail the run.
        stripped = table.replace_schema_metadata(None)
        frame = stripped.to_pandas()
        frame.attrs["transfer_warning"] = f"pandas metadata ignored: {exc}"
        return frame


def _refuse_extension_types(schema: pa.Schema) -> None:
    for field in schema:
        if isinstance(field.type, pa.ExtensionType) or (
            field.metadata and b"ARROW:extension:name" in field.metadata
        ):
            raise TransferError(f"column {field.name!r} uses an Arrow extension type")


def to_jsonable(value: Any) -> Any:
    """Turn a plugin's result value into plain JSON types (numpy scalars, timestamps, frames).

    NaN and infinities become ``None`` because JSON has no spelling for them.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return frame_to_split(value)
    if isinstance(value, (pd.Series, pd.Index)):
        return [to_jsonable(v) for v in value.tolist()]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return to_jsonable(float(value))
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def frame_to_split(frame: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame as ``{"columns", "index", "data"}`` (pandas' "split" orient), JSON-ready.

    Chosen for REST answers because it keeps column order and the index, reads well for small
    results, and is accepted back as ``input_data``. pandas' own (C) JSON writer does the work:
    NaN and NaT become null, timestamps ISO 8601.
    """
    text = frame.to_json(orient="split", date_format="iso", date_unit="us", default_handler=str)
    split: dict[str, Any] = json.loads(text)
    return {"columns": split["columns"], "index": split["index"], "data": split["data"]}


#: The column name of input given as bare values (a flat list, an unnamed Series).
VALUE_COLUMN = "value"


def as_frame(value: Any) -> pd.DataFrame:
    """A DataFrame as it is, a Series as its one-column frame (``value`` when it has no name)."""
    if isinstance(value, pd.Series):
        return value.to_frame(name=VALUE_COLUMN if value.name is None else value.name)
    if isinstance(value, pd.DataFrame):
        return value
    raise TransferError(f"expected a DataFrame or a Series, got {type(value).__name__}")


def frame_from_input(value: Any) -> pd.DataFrame:
    """Build a DataFrame from a request's ``input_data`` in any shape the spec shows.

    Accepts a dict of columns, a list of rows (lists or records), or the "split" dict this module
    answers with. Raises ``TransferError`` with one readable sentence otherwise.
    """
    try:
        if isinstance(value, dict) and set(value) == {"data"}:
            return frame_from_input(value["data"])
        if isinstance(value, dict):
            if "columns" in value and "data" in value and set(value) <= {"columns", "data", "index"}:
                return pd.DataFrame(value["data"], columns=value["columns"], index=value.get("index"))
            for name, column in value.items():
                if not isinstance(column, list):
                    raise TransferError(
                        f"input_data column {name!r} must be a list of values, "
                        f"got {type(column).__name__}"
                    )
            lengths = {len(c) for c in value.values()}
            if len(lengths) > 1:
                raise TransferError("input_data columns must all have the same length")
            return pd.DataFrame(value)
        if isinstance(value, list):
            if not all(isinstance(r, (list, dict)) for r in value):
                # A flat list of values is one column.
                return pd.DataFrame({VALUE_COLUMN: value})
            if value and all(isinstance(r, list) for r in value) and len({len(r) for r in value}) > 1:
                raise TransferError("input_data rows must all have the same length")
            return pd.DataFrame(value)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, TransferError):
            raise
        raise TransferError(f"input_data is not a table: {exc}") from exc
    raise TransferError(
        "input_data must be a dict of columns, a list of rows, or {columns, data[, index]}"
    )
