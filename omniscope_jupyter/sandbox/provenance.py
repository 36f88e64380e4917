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

from .._version import __version__


def frame_digest(frame: pd.DataFrame) -> str:
    """``sha256:<hex>`` of a frame's column names, dtypes, index and values.

    Computed from pandas' row hashes (not a serialisation), so a frame rebuilt from the same
    values on the server hashes as the one in the notebook, whatever the transport.
    """
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    try:
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): their JSON instead
        h.update(frame.to_json(orient="split", date_format="iso", default_handler=str).encode())
    return "sha256:" + h.hexdigest()


def input_stamp(data: Any) -> dict[str, Any]:
    """The input part of a stamp: ``{"kind", "digest", "shape"}`` (kind frame, json or none)."""
    if isinstance(data, pd.DataFrame):
        return {"kind": "frame", "digest": frame_digest(data), "shape": list(data.shape)}
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
        "input": input_stamp(data),
        "platform_version": __version__,
    }


__all__ = ["frame_digest", "input_stamp", "stamp"]
