"""The reproducibility stamp of a run: what exactly produced a result.

Every execution records ``provenance``: the plugin and version, the sha256 of the installed
package, the digest of its dependency lock, the sandbox image (tag and Docker id), the extension
point, parameters and merged config, and a digest of the input. A notebook shows it beside each
output and ``%omniplug rerun`` replays it; the same input gives the same ``input.digest`` on
either side of the REST API, so a rerun can find "the same frame" among a notebook's variables.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import pyarrow as pa

from .._version import __version__
from .transfer import frame_to_table


class _HashSink:
    """A write-only file that hashes what Arrow's IPC writer gives it (the buffers themselves:
    no copy of the data is made; ``hashlib`` hashes large buffers without the GIL)."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        self.hash.update(data)
        return len(memoryview(data))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def table_digest(table: pa.Table) -> str:
    """``arrow-sha256:<hex>`` of ``table``'s Arrow IPC stream: schema (with the pandas
    metadata: index, column labels, dtypes), then every column's buffers, in one pass."""
    sink = _HashSink()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        writer.write_table(table)
    return "arrow-sha256:" + sink.hash.hexdigest()


def frame_digest(frame: pd.DataFrame) -> str | None:
    """The digest of a frame as a run's input is hashed (:func:`table_digest` of its table);
    None for a frame Arrow cannot type (it could not be a run's input either).

    The same frame gives the same digest on either side of the REST API, whatever carried it
    (JSON or Arrow), with the same pandas and pyarrow versions: the table a frame makes is
    what is hashed, not its bytes in flight.
    """
    try:
        return table_digest(frame_to_table(frame))
    except (pa.ArrowException, TypeError, ValueError):
        return None


def input_stamp(data: Any, digest_frame: bool = True) -> dict[str, Any]:
    """The input part of a stamp: ``{"kind", "digest", "shape"}`` (kind frame, json or none).

    ``digest_frame=False`` leaves a frame's digest None, for a caller that hashes the frame's
    table beside the run (tens of milliseconds for a million rows) and fills it in then.
    """
    if isinstance(data, pd.DataFrame):
        digest = frame_digest(data) if digest_frame else None
        return {"kind": "frame", "digest": digest, "shape": list(data.shape)}
    if data is None:
        return {"kind": "none", "digest": None, "shape": None}
    text = json.dumps(data, sort_keys=True, default=str)
    return {"kind": "json", "digest": "sha256:" + hashlib.sha256(text.encode()).hexdigest(), "shape": None}


def stamp(
    *,
    plugin: str,
    version: str,
    package_sha256: str | None,
    lock_digest: str | None,
    extension_point: str,
    parameters: dict[str, Any],
    config: dict[str, Any],
    data: Any,
    digest_frame: bool = True,
) -> dict[str, Any]:
    """A stamp without the image (its fields are filled once the run's image is resolved)."""
    return {
        "plugin": plugin,
        "version": version,
        "package_sha256": package_sha256,
        "lock_digest": lock_digest,
        "image": None,
        "image_digest": None,
        "extension_point": extension_point,
        "parameters": parameters,
        "config": config,
        "input": input_stamp(data, digest_frame),
        "platform_version": __version__,
    }


__all__ = ["frame_digest", "input_stamp", "stamp", "table_digest"]
