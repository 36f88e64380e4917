"""Frame Exporter: a table as CSV or Parquet bytes, handed back as a file.

CSV is written by pandas (UTF-8, a header row, ``sep`` of your choice); Parquet by pyarrow with
the column types kept (nullable integers, time zones, categoricals) and a compression codec.
The result is the data_export contract's file:
``{"kind": "file", "media_type", "file_name", "base64"}``; a notebook shows a download link,
``%omniplug run frame_exporter df -o out.parquet`` writes it.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
CODECS = ("snappy", "zstd", "gzip", "none")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class FrameExporter:
    """The plugin: ``execute`` encodes ``input_data['data']`` as the parameters ask."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "frame_exporter")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        settings = {**self.config, **(input_data.get("config") or {}),
                    **(input_data.get("parameters") or {})}  # fmt: skip
        fmt = str(settings.get("format", "csv")).lower()
        if fmt not in MEDIA_TYPES:
            raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
        frame = input_data.get("data")
        if not isinstance(frame, pd.DataFrame):
            raise ValueError("no input data: send the table to export as input_data")
        columns = settings.get("columns")
        if columns is not None:
            missing = [str(c) for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"unknown column(s): {', '.join(missing)}")
            frame = frame[list(columns)]
        index = bool(settings.get("index", False))
        name = str(settings.get("file_name") or f"export.{fmt}")
        if not FILE_NAME.match(name):
            raise ValueError(f"file_name {name!r} must be a plain file name (letters, digits, . _ -)")
        if fmt == "csv":
            sep = str(settings.get("sep", ","))
            if len(sep) != 1:
                raise ValueError("sep must be one character")
            payload = frame.to_csv(index=index, sep=sep, lineterminator="\n").encode()
            details: dict[str, Any] = {"sep": sep}
        else:
            codec = str(settings.get("compression", "zstd")).lower()
            if codec not in CODECS:
                raise ValueError(f"unknown compression {codec!r}; use one of {', '.join(CODECS)}")
            table = pa.Table.from_pandas(frame, preserve_index=index)
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression=None if codec == "none" else codec)
            payload = sink.getvalue().to_pybytes()
            details = {"compression": codec, "schema": [f"{f.name}: {f.type}" for f in table.schema]}
        return {
            "data": {
                "kind": "file",
                "media_type": MEDIA_TYPES[fmt],
                "file_name": name,
                "base64": base64.b64encode(payload).decode("ascii"),
            },
            "metadata": {
                "plugin_id": self.plugin_id,
                "format": fmt,
                "rows": len(frame),
                "columns": [str(c) for c in frame.columns],
                "bytes": len(payload),
                **details,
            },
            "logs": [f"{len(frame)} row(s) as {fmt}: {len(payload)} bytes"],
            "warnings": [],
            "errors": [],
        }
