"""Form fields from a manifest's ``config`` and ``parameters`` schema, and their validation.

Each entry ``{name: {type, default, description, choices?, minimum?, maximum?, required?}}``
becomes one widget: a dropdown for choices, a checkbox for booleans, a number box for integers
and numbers, a text box for strings, JSON text for arrays and objects (and a text box for an
entry without a default: left empty, it is not sent). ``values`` checks every field at once, as
the server will (``manifest.value_problem``), so a form says all that is wrong before anything
runs.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import yaml

from ..errors import InvalidRequest
from ..manifest import value_problem

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


#: A field left empty that the schema does not require: not sent (the plugin's default applies).
MISSING: Any = object()


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
        found = self.spec.get("choices")
        return list(found) if isinstance(found, list) and found else None

    @property
    def typed_text(self) -> bool:
        """Whether the widget holds text to parse: JSON values, or an entry with no default."""
        return self.kind in ("array", "object") or (
            "default" not in self.spec and self.choices is None and self.kind != "boolean"
        )

    def value(self) -> Any:
        """The widget's value as the schema's type (``MISSING`` when left empty and optional).

        Checked as the server checks it (``manifest.value_problem``: type, choices, bounds);
        ``ValueError`` says what is wrong.
        """
        raw = self.widget.value
        if self.typed_text:
            text = str(raw).strip()
            if not text:
                if self.spec.get("required") is True:
                    raise ValueError("is required")
                return MISSING
            if self.kind != "string":
                try:
                    raw = json.loads(text)
                except json.JSONDecodeError as e:
                    raise ValueError(f"is not valid JSON ({e.msg})") from None
        problem = value_problem(self.spec, raw)
        if problem:
            raise ValueError(problem)
        return raw


def _widget(field: Field) -> w.ValueWidget:
    spec, default, choices = field.spec, field.spec.get("default"), field.choices
    common: dict[str, Any] = {
        "description": field.name,
        "tooltip": str(spec.get("description") or ""),
        "style": {"description_width": "initial"},
    }
    if choices is not None:
        chosen = default if default in choices else choices[0]
        return w.Dropdown(options=choices, value=chosen, **common)
    if field.kind == "boolean":
        return w.Checkbox(value=bool(default), indent=False, **common)
    if field.kind in ("array", "object"):
        text = "" if default is None else json.dumps(default)
        return w.Textarea(value=text, placeholder=f"JSON {field.kind}", **common)
    if field.typed_text:
        hint = field.kind if spec.get("required") else f"{field.kind} (optional)"
        return w.Text(value="", placeholder=hint, **common)
    if field.kind == "integer":
        return w.IntText(value=int(default) if isinstance(default, int) else 0, **common)
    if field.kind == "number":
        return w.FloatText(value=_number(default) or 0.0, **common)
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
            field = Field(section, str(name), str(spec.get("type", "string")), spec, w.Text())
            field.widget = _widget(field)
            fields.append(field)
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
            value = field.value()
        except ValueError as e:
            problems.append(f"{field.section} {field.name} {e}")
            continue
        if value is not MISSING:
            out[field.section][field.name] = value
    return out, problems


__all__ = ["SECTIONS", "Field", "build_fields", "field_row", "parse_mapping", "values"]
