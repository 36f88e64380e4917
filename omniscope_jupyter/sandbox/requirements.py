"""A plugin's declared dependencies as typed values: data to check, never text for pip.

pip reads far more than package names: ``x===/../../tmp/evil.tar.gz`` (PEP 440 arbitrary
equality takes any text), ``./dir``, ``file:`` and ``http:`` URLs, ``name @ url``, ``-e``,
``--index-url`` and a second line after a newline all make it fetch or build something a plugin
chose, and building runs that code. So a dependency is accepted only as a name, extras, version
specifiers over valid PEP 440 versions and an environment marker; and what pip gets is rebuilt
from those parts (:attr:`PythonRequirement.pip_line`), never the author's text. Markers are
evaluated by us, so pip never sees them. R dependencies are a CRAN name and an optional bound.

Pure: no Docker, no pip, no file system. :class:`RequirementError` names the string it refuses;
the manifest check reports it as a problem (HTTP 400), as does the dependency stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

#: Longest dependency string accepted; real requirements are far shorter.
MAX_REQUIREMENT_CHARS = 200
#: A PEP 508 distribution name (also the form of an extra). Patterns here are used with
#: ``fullmatch``: ``$`` alone would let a trailing newline through.
DISTRIBUTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
#: What a rebuilt line may hold: names, extras, operators, PEP 440 versions. No space, no
#: slash, no colon, no ``@``, no ``;``, no ``#``: nothing pip could read as a path, URL or option.
_PIP_LINE = re.compile(r"^[A-Za-z0-9._\-\[\],<>=!~*+]+$")
#: A CRAN package name; ``R`` itself may carry a version bound too.
_R_NAME = re.compile(r"^(?:R|[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9])$")
_R_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z0-9.]*) *"
    r"(?:\( *(?P<op>>=|<=|==|!=|>|<) *(?P<version>[0-9]+(?:[.-][0-9]+)*) *\))?$"
)
_R_OPERATORS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_SHOWN_CHARS = 80


class RequirementError(ValueError):
    """A dependency string that is refused; the message names it and says why."""

    def __init__(self, text: str, reason: str) -> None:
        # A long string is named by its start: enough to find it, not a wall of text.
        shown = text if len(text) <= MAX_REQUIREMENT_CHARS else text[:_SHOWN_CHARS] + "..."
        super().__init__(f"{shown!r} {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True)
class PythonRequirement:
    """A Python dependency reduced to its parts: ``name[extras] specifier ; marker``."""

    #: The declared text (surrounding spaces removed), for messages and the lock.
    text: str
    name: str
    extras: tuple[str, ...]
    specifier: SpecifierSet
    marker: Marker | None = None

    @property
    def key(self) -> str:
        """The canonical name (PEP 503), how packages are compared."""
        return canonicalize_name(self.name)

    @property
    def pip_line(self) -> str:
        """The requirement as pip gets it, rebuilt from the parts, without the marker."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        line = f"{self.name}{extras}{self.specifier}"
        if not _PIP_LINE.fullmatch(line):  # the parts were checked; this guards later edits
            raise RequirementError(self.text, "cannot be written as a plain requirement")
        return line

    def applies(self, environment: Mapping[str, str]) -> bool:
        """Whether the marker holds in ``environment`` (the runner's, not the host's)."""
        return self.marker is None or self.marker.evaluate(dict(environment))

    def accepts(self, version: str) -> bool:
        """Whether ``version`` meets the specifier (pre-releases included, as pins may be)."""
        try:
            return self.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


@dataclass(frozen=True)
class RRequirement:
    """An R dependency: a CRAN package (or ``R``) and an optional version bound."""

    text: str
    name: str
    op: str | None = None
    version: str | None = None

    def accepts(self, have: str) -> bool:
        """Whether installed version ``have`` meets the bound, compared R's way (numerically
        by ``.``/``-`` separated parts)."""
        if self.op is None or self.version is None:
            return True
        return bool(_R_OPERATORS[self.op](_r_version_key(have), _r_version_key(self.version)))


def parse_python_requirement(text: Any) -> PythonRequirement:
    """Parse one Python dependency, or raise :class:`RequirementError` naming it."""
    clean = _screen(text)
    if clean.startswith("-"):
        raise RequirementError(clean, "starts with '-', which pip reads as an option")
    head = clean.partition(";")[0]
    if "@" in head:
        raise RequirementError(
            clean, "is a direct reference (name @ url); only package names from the index "
            "are allowed",
        )  # fmt: skip
    if "/" in head or "\\" in head or ":" in head:
        raise RequirementError(
            clean, "is a path or URL; only package names from the index are allowed"
        )
    try:
        req = Requirement(clean)
    except InvalidRequirement as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "unparsable"
        raise RequirementError(clean, f"is not a PEP 508 requirement ({detail})") from None
    if req.url:
        raise RequirementError(clean, "is a direct reference; only index packages are allowed")
    for spec in req.specifier:
        if spec.operator == "===":
            raise RequirementError(
                clean, "uses arbitrary equality (===), which pip may take as a path; use =="
            )
        version = spec.version
        if spec.operator in {"==", "!="} and version.endswith(".*"):
            version = version[:-2]
        try:
            Version(version)
        except InvalidVersion:
            raise RequirementError(
                clean, f"has {spec.version!r}, which is not a PEP 440 version"
            ) from None
    names = (req.name, *req.extras)
    if not all(DISTRIBUTION_NAME.fullmatch(name) for name in names):
        raise RequirementError(clean, "has a name or extra that is not a PEP 508 name")
    return PythonRequirement(
        text=clean,
        name=req.name,
        extras=tuple(sorted(canonicalize_name(extra) for extra in req.extras)),
        specifier=req.specifier,
        marker=req.marker,
    )


def parse_r_requirement(text: Any) -> RRequirement:
    """Parse one R dependency (``pkg`` or ``pkg (>= 1.2)``), or raise :class:`RequirementError`."""
    clean = _screen(text)
    match = _R_REQUIREMENT.fullmatch(clean)
    if match is None or not _R_NAME.fullmatch(match["name"]):
        raise RequirementError(
            clean, "is not an R requirement ('pkg' or 'pkg (>= 1.2)' with a CRAN package name)"
        )
    return RRequirement(text=clean, name=match["name"], op=match["op"], version=match["version"])


def parse_requirement(text: Any, language: str) -> PythonRequirement | RRequirement:
    """Parse a dependency of a plugin in ``language`` (``"r"`` or Python for anything else)."""
    if str(language).lower() == "r":
        return parse_r_requirement(text)
    return parse_python_requirement(text)


def _screen(text: Any) -> str:
    """The checks every dependency passes first: a short single line of printable ASCII.
    Surrounding spaces are dropped; anything else invisible is refused."""
    if not isinstance(text, str):
        raise RequirementError(repr(text), "is not a string")
    if len(text) > MAX_REQUIREMENT_CHARS:
        raise RequirementError(text, f"is longer than {MAX_REQUIREMENT_CHARS} characters")
    clean = text.strip(" ")
    if not clean:
        raise RequirementError(text, "is empty")
    bad = next((c for c in clean if not " " <= c <= "~"), None)
    if bad is not None:
        raise RequirementError(
            text, f"contains the character {bad!r}; a dependency is one line of printable ASCII"
        )
    return clean


def _r_version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.split(r"[.-]", version) if part.isdigit())


__all__ = [
    "DISTRIBUTION_NAME",
    "MAX_REQUIREMENT_CHARS",
    "PythonRequirement",
    "RRequirement",
    "RequirementError",
    "parse_python_requirement",
    "parse_r_requirement",
    "parse_requirement",
]
