"""Runs from the history: find one by (a prefix of) its id, and rerun it from its provenance.

A rerun takes the recorded plugin version, extension point, parameters and config; its input is
a DataFrame of the notebook whose digest is the recorded input's (or one the caller names). The
active version must be the recorded one, so a rerun never silently runs other code; after the
run, ``differences`` names what else changed (package, dependency lock, image).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from ..errors import Conflict, InvalidRequest, NotFound
from ..sandbox.provenance import frame_digest
from .client import PluginBackend, RunHandle

#: Parts of a stamp that must match for a rerun to be the same computation.
STAMP_PARTS = ("package_sha256", "lock_digest", "image_digest")


def find_execution(backend: PluginBackend, ref: str, plugin_id: str | None = None) -> dict[str, Any]:
    """The record of the execution whose id is ``ref`` or starts with it (8 characters do).

    Searches ``plugin_id``'s newest 200 runs, or every installed plugin's.
    """
    ref = ref.strip().lower()
    if len(ref) < 4:
        raise InvalidRequest("give at least the first 4 characters of the execution id")
    plugins = [plugin_id] if plugin_id else [p["name"] for p in backend.list_plugins()]
    matches = [
        (name, run["execution_id"])
        for name in plugins
        for run in backend.executions(name, page_size=200)["executions"]
        if str(run["execution_id"]).startswith(ref)
    ]
    if not matches:
        raise NotFound(f"no execution {ref!r} in the history of the installed plugins")
    if len(matches) > 1:
        raise InvalidRequest(f"{ref!r} is the start of {len(matches)} execution ids; give more")
    name, execution_id = matches[0]
    return backend.execution(name, execution_id)


def matching_frame(namespace: dict[str, Any], digest: str | None) -> tuple[str, pd.DataFrame] | None:
    """The notebook's DataFrame (name, frame) whose digest is ``digest``, if any."""
    if not digest:
        return None
    for name, value in namespace.items():
        if isinstance(value, pd.DataFrame) and not name.startswith("_"):
            if frame_digest(value) == digest:
                return name, value
    return None


def rerun(
    backend: PluginBackend,
    record: dict[str, Any],
    frame: pd.DataFrame | None,
    *,
    timeout: float | None = None,
) -> RunHandle:
    """Start ``record``'s run again on ``frame`` with its version, parameters and config."""
    stamp = record.get("provenance") or {}
    plugin_id = str(record["plugin_id"])
    version = str(stamp.get("version") or record["version"])
    active = backend.details(plugin_id)["active_version"]
    if active != version:
        raise Conflict(
            f"execution {record['execution_id'][:8]} ran {plugin_id} {version} but {active} is "
            f"active; switch back first (%omniplug rollback {plugin_id} {version} -r ...)"
        )
    return backend.start(
        plugin_id,
        frame,
        parameters=dict(stamp.get("parameters", record.get("parameters") or {})),
        config=stamp.get("config"),
        extension_point=stamp.get("extension_point") or record.get("extension_point"),
        timeout=timeout,
    )


def rerun_input(
    namespace: dict[str, Any], record: dict[str, Any], name: str | None = None
) -> tuple[str | None, pd.DataFrame | None]:
    """The frame to rerun ``record`` on: the variable ``name``, else the one that matches.

    Raises ``InvalidRequest`` when the record had an input and no notebook frame matches it.
    """
    stamp = (record.get("provenance") or {}).get("input") or {}
    if name:
        value = namespace.get(name)
        if not isinstance(value, pd.DataFrame):
            raise InvalidRequest(f"{name!r} is not a DataFrame in this notebook")
        return name, value
    if stamp.get("kind") in (None, "none"):
        return None, None
    found = matching_frame(namespace, stamp.get("digest"))
    if found is None:
        raise InvalidRequest(
            f"no DataFrame in this notebook is the input of execution "
            f"{str(record['execution_id'])[:8]} (shape {stamp.get('shape')}); name the frame to use"
        )
    return found


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Which parts of two stamps that make a run what it is differ (empty: the same)."""
    return [part for part in STAMP_PARTS if before.get(part) != after.get(part)]


def describe(record: dict[str, Any]) -> str:
    """One execution as text: outcome, provenance, logs, warnings, errors, output."""
    stamp = record.get("provenance") or {}
    lines = [
        f"{record['plugin_id']} {record['version']} · {record['status']} · "
        f"{record.get('duration_ms') or 0:.0f} ms · {record.get('started_at')} · "
        f"execution {record['execution_id']}",
        f"parameters {json.dumps(record.get('parameters') or {})}  "
        f"config {json.dumps(stamp.get('config') or {})}",
        f"input {(stamp.get('input') or {}).get('digest')}  shape {record.get('input_shape')}",
        f"package {stamp.get('package_sha256')}  lock {stamp.get('lock_digest')}",
        f"image {stamp.get('image')} ({stamp.get('image_digest')})",
    ]
    for key in ("logs", "warnings", "errors"):
        lines += [f"{key[:-1]}: {text}" for text in record.get(key) or []]
    for stream in ("stdout", "stderr"):
        if record.get(stream):
            lines += [f"--- {stream}", str(record[stream]).rstrip()]
    return "\n".join(lines)


__all__ = ["describe", "differences", "find_execution", "matching_frame", "rerun", "rerun_input"]
