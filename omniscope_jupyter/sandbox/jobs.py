"""From an execute request and an installed plugin to a :class:`RunRequest`, or a clear 400.

Pure checks, no Docker and no database: the config is the manifest's defaults merged with the
caller's values and type-checked, the extension point must be one the plugin declares, the
input becomes a DataFrame and then Arrow IPC (a column Arrow cannot type is a 400 here, before
any record or container exists), and ``read_data`` decides whether the plugin sees it at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ..errors import Conflict, InvalidRequest
from ..manifest import CONFIG_TYPES, config_value_ok
from .container import PERMISSIONS
from .runner import RunRequest
from .transfer import TransferError, frame_from_input, frame_to_ipc

LANGUAGES = {"python": "python", "r": "r"}


@dataclass(frozen=True)
class PluginTarget:
    """The installed plugin version a run uses, as the plugin manager hands it over."""

    plugin_id: str
    version: str
    #: Absolute path of the installed version's files (mounted read-only at ``/plugin``).
    path: Path
    manifest: dict[str, Any]
    enabled: bool = True
    #: The dependency lock recorded at install (informational here).
    dependencies: dict[str, Any] = field(default_factory=dict)
    #: Per-plugin image with the locked dependencies; None: the plain runner image.
    image: str | None = None

    @property
    def language(self) -> str:
        return LANGUAGES.get(str(self.manifest.get("language", "python")).lower(), "python")

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(p for p in self.manifest.get("permissions", []) if p in PERMISSIONS)


def merge_config(schema: dict[str, Any], given: Any) -> dict[str, Any]:
    """Manifest defaults overlaid with the caller's values; every problem listed in one 400."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InvalidRequest("config must be an object")
    problems = [f"unknown config key {k!r}" for k in given if k not in schema]
    merged: dict[str, Any] = {}
    for name, spec in schema.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = str(spec.get("type", ""))
        if name in given:
            value = given[name]
            if value is not None and not (kind in CONFIG_TYPES and config_value_ok(kind, value)):
                problems.append(f"config {name!r} must be of type {kind}, got {type(value).__name__}")
            merged[name] = value
        elif "default" in spec:
            merged[name] = spec["default"]
    if problems:
        raise InvalidRequest("invalid config: " + "; ".join(problems), problems=problems)
    return merged


def build_request(
    execution_id: str,
    target: PluginTarget,
    body: Any,
    *,
    max_timeout: float,
    frame: pd.DataFrame | None = None,
) -> tuple[RunRequest, list[str]]:
    """Validate ``body`` against ``target``; return the run request and warnings for the caller.

    ``frame`` (from the CLI or a notebook) replaces ``input_data`` when given.
    """
    if not target.enabled:
        raise Conflict(f"plugin {target.plugin_id!r} is disabled; enable it before running it")
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidRequest("parameters must be an object")
    declared = [str(p) for p in target.manifest.get("extension_points", [])]
    point = body.get("extension_point")
    if point is None and len(declared) == 1:
        point = declared[0]
    if not isinstance(point, str) or point not in declared:
        raise InvalidRequest(
            f"extension_point {point!r} is not declared by plugin {target.plugin_id!r} "
            f"(it declares: {', '.join(declared) or 'none'})"
        )
    config = merge_config(target.manifest.get("config") or {}, body.get("config"))
    timeout = body.get("timeout", max_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidRequest("timeout must be a positive number of seconds")
    warnings: list[str] = []
    data: Any = frame
    if data is None and body.get("input_data") is not None:
        try:
            data = frame_from_input(body["input_data"])
        except TransferError as exc:
            raise InvalidRequest(str(exc)) from exc
    if data is not None and "read_data" not in target.permissions:
        data = None
        warnings.append("input data withheld: the plugin lacks the read_data permission")
    data_ipc = encode_input(data) if isinstance(data, pd.DataFrame) else None
    entry = target.manifest.get("entry_point")
    if not isinstance(entry, str) or not entry:
        raise InvalidRequest(f"plugin {target.plugin_id!r} has no entry_point in its manifest")
    request = RunRequest(
        execution_id=execution_id,
        plugin_id=target.plugin_id,
        version=target.version,
        language=target.language,
        entry_point=entry,
        plugin_dir=Path(target.path),
        permissions=target.permissions,
        config=config,
        parameters=parameters,
        extension_point=point,
        data=data,
        timeout=min(float(timeout), max_timeout),
        image=target.image,
        data_ipc=data_ipc,
    )
    return request, warnings


def encode_input(frame: pd.DataFrame) -> bytes:
    """``frame`` as Arrow IPC, or ``InvalidRequest`` naming the column Arrow cannot type."""
    try:
        return frame_to_ipc(frame)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        detail = exc.args[0] if exc.args else exc
        raise InvalidRequest(
            f"input_data {_culprit(frame)} cannot be typed ({detail}); give each column values "
            "of one type"
        ) from exc


def _culprit(frame: pd.DataFrame) -> str:
    """Which part of ``frame`` Arrow refuses: the first such column, else the index."""
    for position, name in enumerate(frame.columns):
        try:
            pa.Array.from_pandas(frame.iloc[:, position])
        except (pa.ArrowException, TypeError, ValueError):
            return f"column {name!r}"
    return "index"
