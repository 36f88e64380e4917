"""The ten platform extension points a plugin can hook into, and their data contracts.

A contract says what a plugin receives at a point (``needs_input``: whether a caller must send
a table) and what its result must be: which *result kinds* its ``data`` may have, plus, for
``model_training``, what ``metadata`` must hold. Each result kind is a JSON Schema of the
``data`` field as the REST answer carries it, plus the checks a schema cannot express (the bytes
of a figure are a PNG, a Vega-Lite spec has no external URL). The same schemas are served by
``GET /api/plugins/extension-points`` and checked on every run, so the description and the
check cannot drift apart (``sandbox/contracts.py`` applies them to runs).

Result kinds (``data`` of a plugin's result):

* ``frame``: a pandas DataFrame / R data.frame (REST: pandas' split layout);
* ``figure``: ``{"kind": "figure", "media_type": "image/png" | "image/svg+xml", "base64": ...}``;
* ``vega-lite``: ``{"kind": "vega-lite", "spec": {...}}`` with inline data (no URLs);
* ``report``: ``{"kind": "report", "media_type": "text/markdown" | "text/html", "text": ...}``;
* ``file``: ``{"kind": "file", "media_type": ..., "file_name": ..., "base64": ...}``;
* ``metrics``: ``{"name": number, ...}`` (at least one);
* ``json``: any JSON value, null included.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from jsonschema import Draft202012Validator

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: SVG content that would run in a page that inlines the SVG (it is displayed as an image).
_SVG_ACTIVE = re.compile(rb"<\s*script|<\s*foreignObject|\bon[a-z]+\s*=|javascript:", re.I)
#: Vega-Lite keys that make a viewer fetch or navigate: plugin charts carry inline data only.
_VEGA_FORBIDDEN_KEYS = frozenset({"url", "href"})
_VEGA_VIEW_KEYS = frozenset({"mark", "layer", "hconcat", "vconcat", "concat", "facet", "repeat"})


def _decoded(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _check_figure(data: dict[str, Any]) -> list[str]:
    raw = _decoded(data["base64"])
    if raw is None:
        return ["'base64' is not valid base64"]
    if data["media_type"] == "image/png":
        if not (raw.startswith(PNG_SIGNATURE) and raw[12:16] == b"IHDR"):
            return ["'base64' does not hold a PNG image (no PNG signature and IHDR chunk)"]
        return []
    try:
        head = raw[:4096].decode("utf-8").lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return ["an SVG image must be UTF-8 text"]
    if "<svg" not in head:
        return ["'base64' does not hold an SVG image (no <svg> element near the start)"]
    if _SVG_ACTIVE.search(raw):
        return ["the SVG holds a script, an event handler or foreignObject; charts need none"]
    return []


def _forbidden_keys(value: Any, path: str = "spec") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _VEGA_FORBIDDEN_KEYS:
                found.append(f"{path}.{key}")
            found += _forbidden_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _forbidden_keys(item, f"{path}[{i}]")
    return found


def _check_vega_lite(data: dict[str, Any]) -> list[str]:
    spec = data["spec"]
    problems = []
    if not _VEGA_VIEW_KEYS & set(spec):
        problems.append("'spec' has no mark or view composition (mark, layer, concat, facet...)")
    schema = spec.get("$schema")
    if schema is not None and "vega-lite" not in str(schema):
        problems.append(f"'spec.$schema' {schema!r} is not a Vega-Lite schema")
    forbidden = _forbidden_keys(spec)
    if forbidden:
        problems.append(
            "the spec must carry its data inline (data.values) and no links; found "
            + ", ".join(forbidden[:5])
        )
    return problems


def _check_file(data: dict[str, Any]) -> list[str]:
    return [] if _decoded(data["base64"]) is not None else ["'base64' is not valid base64"]


@dataclass(frozen=True)
class ResultKind:
    """One shape a result's ``data`` may have: its JSON Schema and the checks beyond it."""

    name: str
    #: JSON Schema of ``data`` as the REST answer carries it.
    schema: dict[str, Any]
    #: The shape in one line, for error messages.
    shape: str
    #: Checks a schema cannot express; ``data`` already matches ``schema``.
    check: Callable[[Any], list[str]] | None = None
    #: The IANA media type of the content, when it is fixed.
    media_type: str | None = None

    def problems(self, data: Any) -> list[str]:
        """Why ``data`` is not of this kind (empty: it is)."""
        if self.name == "frame":
            return [] if isinstance(data, pd.DataFrame) else ["data is not a DataFrame"]
        if isinstance(data, pd.DataFrame):
            return ["data is a DataFrame"]
        errors = sorted(_validator(self.name).iter_errors(data), key=lambda e: list(e.path))
        if errors:
            return [_schema_message(e) for e in errors[:3]]
        return self.check(data) if self.check else []


def _schema_message(error: Any) -> str:
    where = "".join(f"[{p!r}]" for p in error.absolute_path)
    return f"data{where}: {error.message}"


def _kind_object(kind: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"kind": {"const": kind}, "title": {"type": "string"}, **properties},
        "required": ["kind", *required],
        "additionalProperties": False,
    }


_BASE64 = {"type": "string", "minLength": 1, "contentEncoding": "base64"}
METRICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": ["number", "null"]},
    "description": "metric name -> value (null when undefined, e.g. a ratio over zero cases)",
}

RESULT_KINDS: dict[str, ResultKind] = {
    kind.name: kind
    for kind in (
        ResultKind(
            "frame",
            {
                "type": "object",
                "description": "a DataFrame (pandas) / data.frame (R); REST answers carry it in "
                "pandas' split layout",
                "properties": {
                    "columns": {"type": "array"},
                    "index": {"type": "array"},
                    "data": {"type": "array", "items": {"type": "array"}},
                },
                "required": ["columns", "index", "data"],
            },
            "a DataFrame (Python) or data.frame (R)",
        ),
        ResultKind(
            "figure",
            _kind_object(
                "figure",
                {"media_type": {"enum": ["image/png", "image/svg+xml"]}, "base64": _BASE64},
                ["media_type", "base64"],
            ),
            '{"kind": "figure", "media_type": "image/png" or "image/svg+xml", "base64": "..."}',
            _check_figure,
        ),
        ResultKind(
            "vega-lite",
            _kind_object("vega-lite", {"spec": {"type": "object"}}, ["spec"]),
            '{"kind": "vega-lite", "spec": {... a Vega-Lite v5 spec with inline data.values ...}}',
            _check_vega_lite,
            "application/vnd.vegalite.v5+json",
        ),
        ResultKind(
            "report",
            _kind_object(
                "report",
                {"media_type": {"enum": ["text/markdown", "text/html"]}, "text": {"type": "string"}},
                ["media_type", "text"],
            ),
            '{"kind": "report", "media_type": "text/markdown" or "text/html", "text": "..."}',
        ),
        ResultKind(
            "file",
            _kind_object(
                "file",
                {
                    "media_type": {
                        "type": "string",
                        "pattern": r"^[a-z]+/[a-z0-9][a-z0-9.+-]*$",
                        "maxLength": 127,
                    },
                    "file_name": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                        "maxLength": 128,
                    },
                    "base64": {**_BASE64, "minLength": 0},
                },
                ["media_type", "file_name", "base64"],
            ),
            '{"kind": "file", "media_type": "text/csv", "file_name": "export.csv", "base64": "..."}',
            _check_file,
        ),
        ResultKind("metrics", METRICS_SCHEMA, '{"metric name": number, ...}'),
        ResultKind("json", {"description": "any JSON value, null included"}, "any JSON value"),
    )
}


def _validator(kind: str) -> Draft202012Validator:
    return _VALIDATORS[kind]


_VALIDATORS = {name: Draft202012Validator(k.schema) for name, k in RESULT_KINDS.items()}


def kind_of(data: Any) -> str:
    """The result kind ``data`` claims: a frame, its ``kind`` field, else plain JSON."""
    if isinstance(data, pd.DataFrame):
        return "frame"
    if isinstance(data, dict) and data.get("kind") in {"figure", "vega-lite", "report", "file"}:
        return str(data["kind"])
    return "json"


def media_type_of(data: Any) -> str | None:
    """The media type of a document result (figure, chart, report, file); None otherwise."""
    kind = kind_of(data)
    if kind == "vega-lite":
        return RESULT_KINDS[kind].media_type
    if kind in {"figure", "report", "file"} and isinstance(data.get("media_type"), str):
        return str(data["media_type"])
    return None


@dataclass(frozen=True)
class ExtensionPoint:
    """One hook of the platform: what a plugin receives there and what it must return."""

    name: str
    description: str
    #: What the plugin receives, in words.
    input: str
    #: What the plugin returns, in words.
    output: str
    #: Whether a caller must send a table (``input_data``) to run a plugin here.
    needs_input: bool
    #: The result kinds ``data`` may have (first match wins).
    results: tuple[str, ...]
    #: The output keeps the input's row count unless the manifest says ``changes_row_count``.
    keeps_rows: bool = False
    #: Keys ``metadata`` must hold, each with the JSON Schema of its value.
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the execute body's ``input_data`` at this point."""
        table = {
            "type": ["object", "array"],
            "description": "a table: a dict of columns, a list of rows or of records, "
            '{"data": ...} or pandas\' split layout (a plugin with input_format "json" '
            "receives it exactly as sent)",
        }
        if self.needs_input:
            return table
        return {"anyOf": [table, {"type": "null"}], "description": "optional: " + self.input}

    def output_schema(self) -> dict[str, Any]:
        """JSON Schema of the plugin's result (the REST answer's data and metadata)."""
        kinds = [RESULT_KINDS[k].schema for k in self.results]
        data = kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
        metadata: dict[str, Any] = {"type": "object"}
        if self.metadata:
            metadata = {**metadata, "properties": self.metadata, "required": sorted(self.metadata)}
        return {
            "$schema": SCHEMA_DIALECT,
            "title": f"{self.name} result",
            "type": "object",
            "properties": {
                "data": data,
                "metadata": metadata,
                "logs": {"type": "array", "items": {"type": "string"}},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "errors": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["data"],
        }

    def to_dict(self) -> dict[str, Any]:
        """The point as ``GET /api/plugins/extension-points`` answers it."""
        return {
            "name": self.name,
            "description": self.description,
            "input": self.input,
            "output": self.output,
            "contract": {
                "input_required": self.needs_input,
                "input_schema": self.input_schema(),
                "result_kinds": list(self.results),
                "same_row_count": self.keeps_rows,
                "output_schema": self.output_schema(),
            },
        }

    def result_problems(
        self,
        data: Any,
        metadata: dict[str, Any],
        *,
        rows_in: int | None = None,
        changes_rows: bool = False,
    ) -> list[str]:
        """Why a result breaks this contract, one sentence each (empty: it keeps it)."""
        problems = self._data_problems(data)
        if problems:
            return problems
        for key, schema in self.metadata.items():
            errors = list(Draft202012Validator(schema).iter_errors(metadata.get(key)))
            if key not in metadata or errors:
                detail = errors[0].message if key in metadata else "missing"
                problems.append(f"metadata.{key} must be {schema['description']} ({detail})")
        if (
            self.keeps_rows
            and not changes_rows
            and rows_in is not None
            and isinstance(data, pd.DataFrame)
            and len(data) != rows_in
        ):
            problems.append(
                f"it must keep the row count ({rows_in} row(s) in, {len(data)} out); a plugin "
                'that drops or adds rows declares "changes_row_count": true in its manifest'
            )
        return problems

    def _data_problems(self, data: Any) -> list[str]:
        claimed = kind_of(data)
        if claimed != "json":
            # A frame, or a document claiming a kind: where allowed, it must be a valid one.
            if claimed not in self.results and "json" not in self.results:
                return [self._expected(data)]
            found = RESULT_KINDS[claimed].problems(data)
            return [f"data is not a valid {claimed}: " + "; ".join(found)] if found else []
        for name in ("json", "metrics"):
            if name in self.results:
                found = RESULT_KINDS[name].problems(data)
                return [f"{self._expected(data)}: {'; '.join(found)}"] if found else []
        return [self._expected(data)]

    def _expected(self, data: Any) -> str:
        shapes = " or ".join(RESULT_KINDS[k].shape for k in self.results)
        return f"data must be {shapes}, not {describe(data)}"


def describe(data: Any) -> str:
    """What ``data`` is, in a few words, for error messages."""
    kind = kind_of(data)
    if kind == "frame":
        return "a DataFrame"
    if kind != "json":
        return f"a {kind!r} result"
    if data is None:
        return "null (no data)"
    names = {dict: "a JSON object", list: "a JSON array", str: "a string", bool: "a boolean"}
    return names.get(type(data), "a number" if isinstance(data, (int, float)) else type(data).__name__)


_FRAME_IN = "input_data.data: a DataFrame (Python: pandas.DataFrame, R: data.frame); parameters: dict"

EXTENSION_POINTS: tuple[ExtensionPoint, ...] = (
    ExtensionPoint(
        "data_import",
        "Import data from external sources",
        "parameters: the source (e.g. CSV or JSON text, a file under /data); data: optional",
        "data: the imported DataFrame",
        needs_input=False,
        results=("frame",),
    ),
    ExtensionPoint(
        "data_export",
        "Export data to external formats",
        _FRAME_IN,
        'data: the exported bytes, {"kind": "file", "media_type", "file_name", "base64"}',
        needs_input=True,
        results=("file",),
    ),
    ExtensionPoint(
        "preprocessing",
        "Data preprocessing and transformation",
        _FRAME_IN,
        "data: the transformed DataFrame, same row count unless the manifest declares "
        '"changes_row_count": true',
        needs_input=True,
        results=("frame",),
        keeps_rows=True,
    ),
    ExtensionPoint(
        "feature_engineering",
        "Feature extraction and engineering",
        _FRAME_IN,
        "data: a DataFrame with the new feature columns",
        needs_input=True,
        results=("frame",),
    ),
    ExtensionPoint(
        "analysis",
        "Custom analysis algorithms",
        "input_data.data: a DataFrame, or JSON with input_format \"json\" (optional)",
        "data: a result DataFrame or any JSON; metadata: summary statistics",
        needs_input=False,
        results=("frame", "json"),
    ),
    ExtensionPoint(
        "visualization",
        "Custom visualization types",
        _FRAME_IN,
        'data: a figure, {"kind": "figure", "media_type": "image/png" or "image/svg+xml", '
        '"base64"}, or a chart, {"kind": "vega-lite", "spec"} with inline data',
        needs_input=True,
        results=("figure", "vega-lite"),
    ),
    ExtensionPoint(
        "model_training",
        "Custom ML model training",
        _FRAME_IN + " (features and target column named in parameters)",
        "data: a model summary DataFrame (e.g. coefficients); metadata.metrics: "
        '{"name": number} (training metrics)',
        needs_input=True,
        results=("frame",),
        metadata={"metrics": METRICS_SCHEMA},
    ),
    ExtensionPoint(
        "model_evaluation",
        "Custom model evaluation metrics",
        _FRAME_IN + " (true and predicted columns named in parameters)",
        'data: a metrics DataFrame or a dict {"metric name": number}',
        needs_input=True,
        results=("frame", "metrics"),
    ),
    ExtensionPoint(
        "report_generation",
        "Custom report sections",
        _FRAME_IN,
        'data: a report section, {"kind": "report", "media_type": "text/markdown" or '
        '"text/html", "text"} (HTML is sanitised before anyone sees it)',
        needs_input=True,
        results=("report",),
    ),
    ExtensionPoint(
        "integration",
        "Integration with external services",
        "parameters and config: service-specific; data: optional (reaching out needs the "
        "network permission)",
        "data: the service's answer as a DataFrame or any JSON; metadata: call details",
        needs_input=False,
        results=("frame", "json"),
    ),
)

EXTENSION_POINT_NAMES: frozenset[str] = frozenset(p.name for p in EXTENSION_POINTS)
BY_NAME: dict[str, ExtensionPoint] = {p.name: p for p in EXTENSION_POINTS}
