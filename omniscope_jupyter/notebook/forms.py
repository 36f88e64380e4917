"""Form fields from a manifest's ``config`` and ``parameters`` schema, and their validation.

Each entry ``{name: {type, default, description, choices?, min?, max?}}`` becomes one widget:
a dropdown for choices, a checkbox for booleans, a number box for integers and numbers, a text
box for strings, JSON text for arrays and objects. ``values`` checks every field at once (type,
choices, bounds) so a form says all that is wrong before anything runs.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import yaml

from ..errors import InvalidRequest

#: Manifest sections a form is built from, and what the run calls them.
SECTIONS = ("parameters", "config")


def parse_mapping(text: str, what: str = "the parameters") -> dict[str, Any]:
    """A JSON or YAML mapping (empty text: ``{}``); ``InvalidRequest`` naming the problem."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            problem = " ".join(str(e).split())
            raise InvalidRequest(f"{what} are neither JSON nor YAML: {problem}") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a mapping of names to values (JSON or YAML)")
    return value


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass
class Field:
    """One schema entry and the widget that edits it."""

    section: str
    name: str
    kind: str
    spec: dict[str, Any]
    widget: w.ValueWidget

    @property
    def choices(self) -> list[Any] | None:
        found = self.spec.get("choices", self.spec.get("enum"))
        return list(found) if isinstance(found, list) and found else None

    def bound(self, which: str) -> float | None:
        value = self.spec.get(which, self.spec.get({"min": "minimum", "max": "maximum"}[which]))
        return _number(value)

    def value(self) -> Any:
        """The widget's value as the schema's type; ``ValueError`` saying what is wrong."""
        raw = self.widget.value
        if self.kind in ("array", "object"):
            try:
                raw = json.loads(raw) if str(raw).strip() else None
            except json.JSONDecodeError as e:
                raise ValueError(f"is not valid JSON ({e.msg})") from None
            expected = list if self.kind == "array" else dict
            if raw is not None and not isinstance(raw, expected):
                raise ValueError(f"must be a JSON {self.kind}")
            return raw
        if self.kind == "integer" and (isinstance(raw, bool) or not isinstance(raw, int)):
            raise ValueError("must be a whole number")
        if self.kind == "number" and (isinstance(raw, bool) or not isinstance(raw, (int, float))):
            raise ValueError("must be a number")
        if self.kind in ("integer", "number"):
            low, high = self.bound("min"), self.bound("max")
            if low is not None and raw < low:
                raise ValueError(f"must be at least {low:g}")
            if high is not None and raw > high:
                raise ValueError(f"must be at most {high:g}")
        choices = self.choices
        if choices is not None and raw not in choices:
            raise ValueError(f"must be one of {', '.join(map(str, choices))}")
        return raw


def _widget(name: str, kind: str, spec: dict[str, Any], choices: list[Any] | None) -> w.ValueWidget:
    default = spec.get("default")
    common: dict[str, Any] = {"description": name, "tooltip": str(spec.get("description") or "")}
    common["style"] = {"description_width": "initial"}
    if choices is not None:
        return w.Dropdown(options=choices, value=default if default in choices else choices[0], **common)
    if kind == "boolean":
        return w.Checkbox(value=bool(default), indent=False, **common)
    if kind == "integer":
        return w.IntText(value=int(default) if isinstance(default, int) else 0, **common)
    if kind == "number":
        return w.FloatText(value=_number(default) or 0.0, **common)
    if kind in ("array", "object"):
        text = json.dumps(default) if default is not None else ""
        return w.Textarea(value=text, placeholder=f"JSON {kind}", **common)
    return w.Text(value="" if default is None else str(default), **common)


def build_fields(manifest: dict[str, Any]) -> list[Field]:
    """A field per entry of the manifest's ``parameters`` and ``config`` sections."""
    fields = []
    for section in SECTIONS:
        schema = manifest.get(section) or {}
        if not isinstance(schema, dict):
            continue
        for name, spec in schema.items():
            spec = spec if isinstance(spec, dict) else {}
            kind = str(spec.get("type", "string"))
            probe = Field(section, str(name), kind, spec, w.Text())
            probe.widget = _widget(str(name), kind, spec, probe.choices)
            fields.append(probe)
    return fields


def field_row(field: Field) -> w.Widget:
    """The field's widget beside its description."""
    text = html.escape(str(field.spec.get("description") or ""))
    return w.HBox([field.widget, w.HTML(f"<small style='color:#555'>{text}</small>")])


def values(fields: list[Field]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``({"parameters": {...}, "config": {...}}, problems)``: every problem, one line each."""
    out: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    problems = []
    for field in fields:
        try:
            out[field.section][field.name] = field.value()
        except ValueError as e:
            problems.append(f"{field.section} {field.name} {e}")
    return out, problems


__all__ = ["SECTIONS", "Field", "build_fields", "field_row", "parse_mapping", "values"]
