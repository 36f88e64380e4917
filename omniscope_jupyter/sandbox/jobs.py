"""From an execute request and an installed plugin to a :class:`RunRequest`, or a clear 400.

Pure checks, no Docker and no database: the config is the manifest's defaults merged with the
caller's values and checked (type, choices, bounds, required), so are the parameters when the
manifest declares them, the extension point must be one the plugin declares, the
input becomes a DataFrame and then Arrow IPC (a column Arrow cannot type is a 400 here, before
any record or container exists), and ``read_data`` decides whether the plugin sees it at all.
The plugin's ``input_format`` and its extension point's input contract are ``contracts.py``'s.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ..errors import Conflict, InvalidRequest
from ..manifest import value_problem
from .container import PERMISSIONS
from .contracts import check_input, plugin_input
from .runner import RunRequest
from .transfer import TransferError, frame_to_table, read_table, table_to_frame

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
    #: sha256 of the installed package (for the run's provenance).
    sha256: str | None = None

    @property
    def language(self) -> str:
        return LANGUAGES.get(str(self.manifest.get("language", "python")).lower(), "python")

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(p for p in self.manifest.get("permissions", []) if p in PERMISSIONS)


#: How a section's keys are named in messages.
KEY_NOUN = {"config": "config key", "parameters": "parameter"}


def check_values(section: str, schema: dict[str, Any], given: Any) -> dict[str, Any]:
    """``given`` checked against a manifest schema and overlaid on its defaults; one 400 for all.

    An unknown key is named with the closest known one, as a typo usually is one (``methd``).
    """
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InvalidRequest(f"{section} must be an object")
    noun = KEY_NOUN.get(section, section)
    problems = [_unknown_key(noun, key, schema) for key in given if key not in schema]
    merged: dict[str, Any] = {}
    for name, spec in schema.items():
        spec = spec if isinstance(spec, dict) else {}
        value = given.get(name)
        if value is not None:
            problem = value_problem(spec, value)
            if problem:
                problems.append(f"{noun} {name!r} {problem}")
        elif spec.get("required") is True:
            problems.append(f"{noun} {name!r} is required")
        if name in given:
            merged[name] = value
        elif "default" in spec:
            merged[name] = spec["default"]
    if problems:
        raise InvalidRequest(f"invalid {section}: " + "; ".join(problems), problems=problems)
    return merged


def _unknown_key(noun: str, key: Any, schema: dict[str, Any]) -> str:
    close = difflib.get_close_matches(str(key), [str(k) for k in schema], n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(schema) or 'none'}"
    return f"unknown {noun} {key!r} ({hint})"


def _extension_point(target: PluginTarget, point: Any) -> str:
    """The extension point a run uses; a 400 listing the choices when it is missing or wrong."""
    declared = [str(p) for p in target.manifest.get("extension_points", [])]
    if point is None and len(declared) == 1:
        return declared[0]
    if point is None and declared:
        raise InvalidRequest(
            f"plugin {target.plugin_id!r} has several extension points; name one as "
            f"extension_point: {', '.join(declared)}"
        )
    if not isinstance(point, str) or point not in declared:
        raise InvalidRequest(
            f"extension_point {point!r} is not declared by plugin {target.plugin_id!r} "
            f"(it declares: {', '.join(declared) or 'none'})"
        )
    return point


def _timeout(body: dict[str, Any], default: float, maximum: float) -> float:
    """The run's timeout: the request's (up to ``maximum``, a 400 above it) or ``default``."""
    if "timeout" not in body:
        return float(default)
    timeout = body["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidRequest("timeout must be a positive number of seconds")
    if timeout > maximum:
        raise InvalidRequest(
            f"timeout {timeout:g} s is above this server's maximum of {maximum:g} s "
            "(OmniscopeApp.sandbox_max_timeout); ask for at most that"
        )
    return float(timeout)


def build_request(
    execution_id: str,
    target: PluginTarget,
    body: Any,
    *,
    max_timeout: float,
    default_timeout: float | None = None,
    frame: pd.DataFrame | pd.Series | None = None,
) -> tuple[RunRequest, list[str]]:
    """Validate ``body`` against ``target``; return the run request and warnings for the caller.

    ``frame`` (from the CLI or a notebook; a Series is a one-column frame) replaces
    ``input_data`` when given. A run that asks for no ``timeout`` gets ``default_timeout``
    (default: ``max_timeout``); one that asks for more than ``max_timeout`` is refused.
    """
    if not target.enabled:
        raise Conflict(f"plugin {target.plugin_id!r} is disabled; enable it before running it")
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidRequest("parameters must be an object")
    point = _extension_point(target, body.get("extension_point"))
    config = check_values("config", target.manifest.get("config") or {}, body.get("config"))
    schema = target.manifest.get("parameters")
    if isinstance(schema, dict):  # declared: checked; absent: passed on unchecked
        parameters = check_values("parameters", schema, parameters)
    default = max_timeout if default_timeout is None else default_timeout
    timeout = _timeout(body, default, max_timeout)
    warnings: list[str] = []
    data = plugin_input(target.manifest, frame, body.get("input_data"))
    withheld = data is not None and "read_data" not in target.permissions
    if withheld:
        data = None
        warnings.append("input data withheld: the plugin lacks the read_data permission")
    check_input(point, target.plugin_id, data, withheld)
    data_table = encode_input(data) if isinstance(data, pd.DataFrame) else None
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
        timeout=timeout,
        image=target.image,
        data_table=data_table,
        input_shape=list(data.shape) if isinstance(data, pd.DataFrame) else None,
    )
    return request, warnings


def encode_input(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table, or ``InvalidRequest`` naming the column Arrow cannot type."""
    duplicated = frame.columns[frame.columns.duplicated()].unique()
    if len(duplicated):
        raise InvalidRequest(
            f"input_data has duplicate column name(s) {', '.join(map(repr, duplicated))}; "
            "give every column its own name"
        )
    try:
        return frame_to_table(frame)
    except OverflowError as exc:  # JSON has integers of any size; Arrow columns 64 bits
        raise InvalidRequest(
            f"input_data {_culprit(frame)} holds an integer beyond the 64-bit range a column "
            "can hold; send such numbers as strings or floats"
        ) from exc
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
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return f"column {name!r}"
    return "index"


#: The media type of an Arrow IPC stream (a REST execute body and answer may be one).
ARROW_STREAM = "application/vnd.apache.arrow.stream"


def frame_from_arrow(payload: bytes) -> pd.DataFrame:
    """A REST body sent as an Arrow IPC stream, as the DataFrame it encodes; 400 otherwise."""
    try:
        return table_to_frame(read_table(payload))
    except TransferError as exc:
        raise InvalidRequest(f"the request body is not an Arrow IPC stream: {exc}") from exc


def body_from_query(query: dict[str, str]) -> dict[str, Any]:
    """The execute body of an Arrow request, from its query arguments (the data is the body).

    ``parameters`` and ``config`` are JSON objects; ``extension_point`` and ``execution_id``
    text; ``timeout`` a number of seconds; ``async`` true or false. Anything else is a 400.
    """
    known = {"parameters", "config", "extension_point", "timeout", "async", "execution_id"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise InvalidRequest(
            f"unknown query argument(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    body: dict[str, Any] = {}
    for name in ("parameters", "config"):
        if name in query:
            try:
                body[name] = json.loads(query[name])
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"query argument {name} must be a JSON object: {exc}") from exc
    for name in ("extension_point", "execution_id"):
        if name in query:
            body[name] = query[name]
    if "timeout" in query:
        try:
            body["timeout"] = float(query["timeout"])
        except ValueError:
            raise InvalidRequest("query argument timeout must be a number of seconds") from None
    if "async" in query:
        flag = query["async"].lower()
        if flag not in {"1", "true", "yes", "0", "false", "no"}:
            raise InvalidRequest("query argument async must be true or false")
        body["async"] = flag in {"1", "true", "yes"}
    return body
