"""Validation of a plugin's ``manifest.json`` into a typed ``Manifest``.

Every problem is collected and reported at once, one sentence each naming the field, so an author
fixes a manifest in one round trip rather than one error at a time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from semver import Version as SemVer

from . import jsonsafe
from ._version import PLATFORM_VERSION
from .errors import InvalidPackage
from .extension_points import EXTENSION_POINT_NAMES
from .sandbox.requirements import RequirementError, parse_requirement
from .values import Language, Permission

MANIFEST_FILE = "manifest.json"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
#: Names that would collide with fixed routes under ``/api/plugins/``.
RESERVED_NAMES = frozenset({"list", "install", "marketplace", "sdk"})
LANGUAGES = {language.value: language.suffix for language in Language}
PERMISSIONS = tuple(permission.value for permission in Permission)
#: Config entry types and the JSON types their defaults must have.
CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
REQUIRED = ("name", "version", "author", "description", "language", "entry_point", "extension_points")
OPTIONAL_STR = ("author_email", "category", "min_platform_version", "license", "homepage")
#: How a plugin receives ``input_data``: as a DataFrame (default) or exactly as the caller sent it.
INPUT_FORMATS = ("dataframe", "json")
KNOWN_FIELDS = frozenset(
    REQUIRED + OPTIONAL_STR + ("tags", "dependencies", "permissions", "config", "parameters")
    + ("input_format", "changes_row_count")
)
#: Sections of typed values: ``config`` (merged over its defaults at every run) and the optional
#: ``parameters`` (when present, every call's parameters are checked against it).
SCHEMA_SECTIONS = ("config", "parameters")
NUMBER_KINDS = ("integer", "number")


@dataclass(frozen=True)
class Manifest:
    """A validated manifest: the fields the platform acts on, typed, and the whole of it.

    ``data`` is the manifest as stored and answered (defaults filled in, unknown fields kept for
    newer platforms); the typed fields are read from it once, at validation.
    """

    name: str
    version: str
    language: Language
    entry_point: str
    extension_points: tuple[str, ...]
    permissions: frozenset[Permission]
    dependencies: tuple[str, ...]
    input_format: str
    data: Mapping[str, Any]

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> Manifest:
        """The typed view of ``data`` that ``validate_manifest`` accepted."""
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            language=Language(str(data["language"]).lower()),
            entry_point=str(data["entry_point"]),
            extension_points=tuple(data["extension_points"]),
            permissions=frozenset(Permission(p) for p in data["permissions"]),
            dependencies=tuple(data["dependencies"]),
            input_format=str(data["input_format"]),
            data=dict(data),
        )

    def as_dict(self) -> dict[str, Any]:
        """The manifest as JSON (what the store keeps and the stages read)."""
        return dict(self.data)

    def with_version(self, version: str) -> Manifest:
        """The same manifest at another version (a development install's ``-dev``)."""
        return dataclasses.replace(self, version=version, data={**self.data, "version": version})


def read_manifest(package_dir: Path, *, strict: bool = False) -> Manifest:
    """Load and validate ``manifest.json`` of an extracted package; raise ``InvalidPackage``.

    ``strict`` refuses fields this platform does not know (see ``validate_manifest``).
    """
    path = package_dir / MANIFEST_FILE
    if not path.is_file():
        raise InvalidPackage(
            "The package has no manifest.json at its root.",
            problems=["manifest.json: missing"],
        )
    try:
        data = jsonsafe.loads(path.read_bytes(), what="manifest.json")
    except jsonsafe.UnsafeJSON as e:
        raise InvalidPackage(str(e), problems=[str(e)]) from None
    return validate_manifest(data, package_dir, strict=strict)


def validate_manifest(
    data: Any, package_dir: Path | None = None, *, strict: bool = False
) -> Manifest:
    """Return the manifest with defaults filled in, or raise ``InvalidPackage`` listing all problems.

    Fields this platform does not know are kept and reported by ``manifest_warnings``, so a
    manifest written for a newer platform still installs where its ``min_platform_version``
    allows; ``strict`` makes each of them a problem instead.
    """
    if not isinstance(data, dict):
        raise InvalidPackage(
            "manifest.json must hold a JSON object.", problems=["manifest: not an object"]
        )
    problems: list[str] = []
    for field in REQUIRED:
        if field not in data or data[field] in (None, "", []):
            problems.append(f"{field}: this required field is missing or empty.")
    if strict:
        problems += manifest_warnings(data)
    for field in ("author", "description", *OPTIONAL_STR):
        if field in data and not isinstance(data[field], str):
            problems.append(f"{field}: must be a string.")

    name = data.get("name")
    if isinstance(name, str) and name:
        if not NAME_RE.match(name):
            problems.append(
                f"name: {name!r} must match ^[a-z][a-z0-9_]{{1,63}}$ "
                "(lowercase letter first, then lowercase letters, digits or underscores)."
            )
        elif name in RESERVED_NAMES:
            problems.append(f"name: {name!r} is reserved by the API; choose another name.")
    elif name not in (None, ""):
        problems.append("name: must be a string.")

    version = data.get("version")
    if version not in (None, "") and not (isinstance(version, str) and SemVer.is_valid(version)):
        problems.append(f"version: {version!r} is not a semantic version MAJOR.MINOR.PATCH.")
    elif isinstance(version, str) and len(version) > 64:
        problems.append("version: at most 64 characters.")

    language = data.get("language")
    if language not in (None, "") and language not in LANGUAGES:
        problems.append(f"language: {language!r} must be one of: python, r.")

    _check_entry_point(data, language, package_dir, problems)
    _check_string_list(data, "extension_points", EXTENSION_POINT_NAMES, problems)
    _check_string_list(data, "permissions", frozenset(PERMISSIONS), problems)
    _check_string_list(data, "tags", None, problems)
    _check_texts(data, problems)
    _check_dependencies(data, language, problems)
    for section in SCHEMA_SECTIONS:
        _check_schema(data, section, problems)
    input_format = data.get("input_format")
    if input_format is not None and input_format not in INPUT_FORMATS:
        problems.append(f"input_format: {input_format!r} must be one of: {', '.join(INPUT_FORMATS)}.")
    if "changes_row_count" in data and not isinstance(data["changes_row_count"], bool):
        problems.append("changes_row_count: must be true or false.")

    mpv = data.get("min_platform_version")
    if isinstance(mpv, str) and mpv:
        try:
            if Version(mpv) > Version(PLATFORM_VERSION):
                problems.append(
                    f"min_platform_version: {mpv} is above this platform's version "
                    f"{PLATFORM_VERSION}."
                )
        except InvalidVersion:
            problems.append(f"min_platform_version: {mpv!r} is not a version.")

    if problems:
        raise InvalidPackage(
            f"manifest.json has {len(problems)} problem(s): " + " ".join(problems),
            problems=problems,
        )
    manifest = dict(data)
    for field, default in (
        ("tags", []),
        ("dependencies", []),
        ("permissions", []),
        ("config", {}),
        ("category", "analysis"),
        ("author_email", ""),
        ("min_platform_version", "1.0.0"),
        ("input_format", "dataframe"),
    ):
        manifest.setdefault(field, default)
    return Manifest.from_validated(manifest)


def manifest_warnings(data: dict[str, Any]) -> list[str]:
    """One sentence per top-level field this platform does not know (kept, but ignored)."""
    return [
        f"{field}: unknown field, ignored by platform {PLATFORM_VERSION} "
        f"(known: {', '.join(sorted(KNOWN_FIELDS))})."
        for field in sorted(set(data) - KNOWN_FIELDS)
    ]


def _check_entry_point(
    data: dict[str, Any], language: Any, package_dir: Path | None, problems: list[str]
) -> None:
    entry = data.get("entry_point")
    if entry in (None, ""):
        return
    if not isinstance(entry, str):
        problems.append("entry_point: must be a file name (string).")
        return
    if "/" in entry or "\\" in entry or entry.startswith("."):
        problems.append(f"entry_point: {entry!r} must be a file at the package root.")
        return
    suffix = LANGUAGES.get(language) if isinstance(language, str) else None
    if suffix and not entry.endswith(suffix):
        problems.append(f"entry_point: {entry!r} must end with {suffix} for a {language} plugin.")
    if package_dir is not None and not (package_dir / entry).is_file():
        problems.append(f"entry_point: {entry!r} is not in the package.")


def _check_string_list(
    data: dict[str, Any], field: str, allowed: frozenset[str] | None, problems: list[str]
) -> None:
    value = data.get(field)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{field}: must be a list of strings.")
        return
    if allowed is not None:
        unknown = [v for v in value if v not in allowed]
        if unknown:
            problems.append(
                f"{field}: unknown value(s) {', '.join(map(repr, unknown))} "
                f"(allowed: {', '.join(sorted(allowed))})."
            )
    if len(set(value)) != len(value):
        problems.append(f"{field}: has duplicates.")


#: Longest text of each free-text field (characters); a tag or a config key is a short word.
TEXT_LIMITS = {
    "description": 2000, "author": 200, "author_email": 254, "category": 64, "license": 100,
    "homepage": 500, "min_platform_version": 64, "entry_point": 200,
}  # fmt: skip
MAX_TAGS, MAX_TAG_CHARS = 20, 64
#: A config or parameter name: it becomes a Python keyword argument, an R list name, a form field.
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Control characters (newline and tab are allowed in a description), lone surrogates and
#: bidirectional overrides, which can make a log line or a listing lie about what it says.
_HOSTILE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _check_texts(data: dict[str, Any], problems: list[str]) -> None:
    """Every string a manifest carries is hostile until checked: length and characters.

    They reach log lines, the catalog's search index, HTML in the panel and file names; the
    places that use them escape them too, this keeps the store free of them in the first place.
    """
    for field, limit in TEXT_LIMITS.items():
        value = data.get(field)
        if not isinstance(value, str):
            continue
        if len(value) > limit:
            problems.append(f"{field}: at most {limit} characters ({len(value)} given).")
        text = value if field == "description" else value.replace("\n", "\x00").replace("\t", "\x00")
        if _HOSTILE.search(text):
            problems.append(f"{field}: holds control or bidirectional-override characters.")
    tags = data.get("tags")
    if isinstance(tags, list):
        if len(tags) > MAX_TAGS:
            problems.append(f"tags: at most {MAX_TAGS} tags.")
        bad = [t for t in tags if isinstance(t, str) and (len(t) > MAX_TAG_CHARS or _HOSTILE.search(t))]
        if bad:
            problems.append(
                f"tags: each a word of at most {MAX_TAG_CHARS} plain characters "
                f"(not {bad[0][:40]!r})."
            )
    for section in SCHEMA_SECTIONS:
        schema = data.get(section)
        if isinstance(schema, dict):
            bad_keys = [k for k in schema if not KEY_RE.match(k)]
            if bad_keys:
                problems.append(
                    f"{section}: names must be identifiers (letters, digits, _), not "
                    f"{bad_keys[0][:40]!r}."
                )


def _check_dependencies(data: dict[str, Any], language: Any, problems: list[str]) -> None:
    deps = data.get("dependencies")
    if deps is None:
        return
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        problems.append("dependencies: must be a list of requirement strings.")
        return
    # The dependency stage's own parser: what it would refuse is a manifest problem here.
    for dep in deps:
        try:
            parse_requirement(dep, language if isinstance(language, str) else "python")
        except RequirementError as e:
            problems.append(f"dependencies: {e}.")


def _check_schema(data: dict[str, Any], section: str, problems: list[str]) -> None:
    """Entries ``{type, default, description, choices, minimum, maximum, required}``.

    A config entry needs a default unless it is ``required``; a parameter's default is optional.
    """
    schema = data.get(section)
    if schema is None:
        return
    if not isinstance(schema, dict):
        problems.append(f"{section}: must be an object of {{name: {{type, default, description}}}}.")
        return
    for key, entry in schema.items():
        where = f"{section}.{key}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object with type, default and description.")
            continue
        kind = entry.get("type")
        if kind not in CONFIG_TYPES:
            problems.append(f"{where}.type: {kind!r} must be one of: {', '.join(CONFIG_TYPES)}.")
            continue
        problems.extend(f"{where}.{p}" for p in _entry_problems(kind, entry))
        if "default" in entry:
            problem = value_problem(entry, entry["default"])
            if problem:
                problems.append(f"{where}.default: {entry['default']!r} {problem}.")
        elif section == "config" and entry.get("required") is not True:
            problems.append(f"{where}.default: missing (needed unless the entry is required).")


def _entry_problems(kind: str, entry: dict[str, Any]) -> list[str]:
    """What is wrong with an entry's ``required``, ``choices`` and bounds (``key: sentence``)."""
    out = []
    if not isinstance(entry.get("required", False), bool):
        out.append("required: must be true or false.")
    choices = entry.get("choices")
    if choices is not None and not (
        isinstance(choices, list) and choices and all(config_value_ok(kind, c) for c in choices)
    ):
        out.append(f"choices: must be a non-empty list of {kind} values.")
    bounds = [b for b in ("minimum", "maximum") if b in entry]
    for bound in bounds:
        if kind not in NUMBER_KINDS:
            out.append(f"{bound}: only integer and number entries have bounds.")
        elif not config_value_ok("number", entry[bound]):
            out.append(f"{bound}: {entry[bound]!r} is not a number.")
    low, high = entry.get("minimum"), entry.get("maximum")
    if not out and isinstance(low, (int, float)) and isinstance(high, (int, float)) and (
        low > high
    ):
        out.append(f"minimum: {low} is above the maximum {high}.")
    return out


def value_problem(spec: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` does not fit the schema entry ``spec`` (type, choices, bounds), or None.

    The sentence completes "config 'x' ..." or "parameter 'x' ...". Entries are assumed valid
    (``validate_manifest`` checked them); a malformed ``choices`` or bound is not applied.
    """
    kind = str(spec.get("type", ""))
    if kind not in CONFIG_TYPES or not config_value_ok(kind, value):
        return f"must be of type {kind}, got {type(value).__name__}"
    choices = spec.get("choices")
    if isinstance(choices, list) and choices and value not in choices:
        return f"must be one of {', '.join(map(repr, choices))}, got {value!r}"
    if kind in NUMBER_KINDS:
        low, high = spec.get("minimum"), spec.get("maximum")
        if config_value_ok("number", low) and value < low:
            return f"must be at least {low}, got {value!r}"
        if config_value_ok("number", high) and value > high:
            return f"must be at most {high}, got {value!r}"
    return None


def config_value_ok(kind: str, value: Any) -> bool:
    """Whether ``value`` is a valid JSON value of config type ``kind`` (bool is not a number)."""
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, CONFIG_TYPES[kind])
