"""An offline vulnerability database of PyPI packages, and the check of declared requirements.

Two on-disk formats are read, never the network:

* **safety-db** (``insecure_full.json``: ``{name: [{id, cve, specs, advisory}], "$meta": {...}}``).
  The default is the copy shipped in the ``safety-db`` distribution on PyPI, so the setup gets it
  with pip. Its data are frozen at its release (2021-07) and licensed CC BY-NC-SA 4.0.
* **OSV** (https://osv.dev): a directory of ``*.json`` records or the ``all.zip`` export of the
  PyPI ecosystem, for a fresher database (``scripts/fetch-vulndb.sh`` downloads it).

Requirements are matched with ``packaging``. Only an exact pin names one version that can be
checked; anything else is reported as "unknown".
"""

from __future__ import annotations

import importlib.metadata
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..answers import timestamp
from .report import Finding
from .rules import finding


class VulnDBError(RuntimeError):
    """The configured vulnerability database is missing or unreadable (a setup problem)."""


@dataclass(frozen=True)
class Advisory:
    """One advisory about one package, with the test of whether a version is affected."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    #: safety-db specifier sets (any matching means affected).
    specs: tuple[str, ...] = ()
    #: OSV ECOSYSTEM ranges as ``(introduced, fixed, last_affected)`` and listed versions.
    ranges: tuple[tuple[str | None, str | None, str | None], ...] = ()
    versions: frozenset[str] = frozenset()

    def affects(self, version: Version) -> bool:
        """True when ``version`` is inside one of the advisory's affected ranges."""
        if str(version) in self.versions:
            return True
        for spec in self.specs:
            try:
                if SpecifierSet(spec).contains(version, prereleases=True):
                    return True
            except InvalidSpecifier:
                continue
        for introduced, fixed, last in self.ranges:
            try:
                if introduced not in (None, "0") and version < Version(introduced):
                    continue
                if fixed is not None and version >= Version(fixed):
                    continue
                if last is not None and version > Version(last):
                    continue
            except InvalidVersion:
                continue
            return True
        return False

    @property
    def label(self) -> str:
        """The advisory id with its CVE aliases, e.g. ``pyup.io-36546 (CVE-2018-18074)``."""
        cves = [a for a in self.aliases if a != self.id]
        return f"{self.id} ({', '.join(cves)})" if cves else self.id


@dataclass
class VulnerabilityDB:
    """Advisories indexed by canonical package name, and where they came from."""

    advisories: dict[str, list[Advisory]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def check(self, requirement: str) -> list[Advisory] | None:
        """The advisories affecting a pinned requirement, or None when it is not pinned."""
        req = Requirement(requirement)
        version = pinned_version(req.specifier)
        if version is None:
            return None
        return [
            a for a in self.advisories.get(canonicalize_name(req.name), []) if a.affects(version)
        ]


def pinned_version(spec: SpecifierSet) -> Version | None:
    """The one version an exact pin (``==1.2.3`` or ``===1.2.3``) allows, else None."""
    specs = list(spec)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    try:
        return Version(specs[0].version)
    except InvalidVersion:
        return None


def dependency_findings(
    db: VulnerabilityDB, dependencies: Iterable[str], provided: Mapping[str, str] | None = None
) -> list[Finding]:
    """Check each declared Python requirement (rules DEP001-DEP003); ``file`` is the manifest.

    ``provided`` is ``{name: version}`` of the runner image's packages: an unpinned requirement
    the image's version satisfies is locked to that version (``python_lock``), so that version is
    the one checked, and its status is known.
    """
    image: dict[str, str] = {canonicalize_name(k): v for k, v in (provided or {}).items()}
    out = []
    for dep in dependencies:
        try:
            checked = _as_provided(dep, image)
            advisories = db.check(checked)
        except InvalidRequirement as e:
            out.append(finding("DEP003", "manifest.json", 0, f"{dep!r}: {e}"))
            continue
        if advisories is None:
            out.append(finding("DEP002", "manifest.json", 0, f"{dep!r}", confidence="LOW"))
            continue
        shown = dep if checked == dep else f"{dep} (the runner image's {checked})"
        for adv in advisories:
            out.append(
                finding(
                    "DEP001",
                    "manifest.json",
                    0,
                    f"{shown} is affected by {adv.label}: {_one_line(adv.summary)}",
                )
            )
    return out


def _as_provided(requirement: str, image: Mapping[str, str]) -> str:
    """``name==<image version>`` when the image's version satisfies an unpinned requirement."""
    req = Requirement(requirement)
    version = image.get(canonicalize_name(req.name))
    if version is None or req.marker or pinned_version(req.specifier) is not None:
        return requirement
    try:
        accepted = req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return requirement
    return f"{req.name}=={version}" if accepted else requirement


def load_vulndb(path: str | Path | None = None) -> VulnerabilityDB:
    """Load the database at ``path`` (safety-db JSON, OSV directory or zip), or the default."""
    if path is None:
        return _load_cached(str(default_vulndb_path()), 0.0)
    p = Path(path)
    if not p.exists():
        raise VulnDBError(f"vulnerability database {p} does not exist")
    return _load_cached(str(p), p.stat().st_mtime)


def default_vulndb_path() -> Path:
    """``insecure_full.json`` of the installed ``safety-db`` distribution (without importing it:
    its ``__init__`` opens files relative to the working directory)."""
    try:
        dist = importlib.metadata.distribution("safety-db")
    except importlib.metadata.PackageNotFoundError as e:
        raise VulnDBError(
            "no vulnerability database: install 'safety-db' or set vulndb_path"
        ) from e
    return Path(str(dist.locate_file("safety_db/insecure_full.json")))


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> VulnerabilityDB:
    # mtime is part of the cache key so a refreshed database is re-read.
    p = Path(path)
    try:
        if p.is_dir() or zipfile.is_zipfile(p):
            return _load_osv(p)
        return _load_safety(p)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise VulnDBError(f"cannot read vulnerability database {p}: {e}") from e


def _load_safety(p: Path) -> VulnerabilityDB:
    data = json.loads(p.read_text(encoding="utf-8"))
    meta = data.pop("$meta", {}) or {}
    db = VulnerabilityDB()
    for name, entries in data.items():
        db.advisories[canonicalize_name(name)] = [
            Advisory(
                id=str(e.get("id") or e.get("cve") or "unknown"),
                aliases=tuple(a for a in [e.get("cve")] if a),
                summary=str(e.get("advisory", "")),
                specs=tuple(e.get("specs") or [e["v"]]),
            )
            for e in entries
        ]
    stamp = meta.get("timestamp")
    db.info = {
        "format": "safety-db",
        "path": str(p),
        "version": _dist_version("safety-db") if _is_default(p) else None,
        "date": timestamp(datetime.fromtimestamp(stamp, UTC)) if stamp else None,
        "packages": len(db.advisories),
        "advisories": sum(len(v) for v in db.advisories.values()),
        "ecosystems": ["PyPI"],
    }
    return db


def _load_osv(p: Path) -> VulnerabilityDB:
    db = VulnerabilityDB()
    newest = ""
    for record in _osv_records(p):
        newest = max(newest, str(record.get("modified", "")))
        for affected in record.get("affected", []):
            pkg = affected.get("package", {})
            if pkg.get("ecosystem") != "PyPI":
                continue
            ranges: list[Any] = []
            for r in affected.get("ranges", []):
                if r.get("type") != "ECOSYSTEM":
                    continue
                ranges.extend(_osv_intervals(r.get("events", [])))
            db.advisories.setdefault(canonicalize_name(pkg["name"]), []).append(
                Advisory(
                    id=record["id"],
                    aliases=tuple(record.get("aliases", [])),
                    summary=record.get("summary") or record.get("details", ""),
                    ranges=tuple(ranges),
                    versions=frozenset(affected.get("versions", [])),
                )
            )
    db.info = {
        "format": "osv",
        "path": str(p),
        "version": None,
        "date": newest or None,
        "packages": len(db.advisories),
        "advisories": sum(len(v) for v in db.advisories.values()),
        "ecosystems": ["PyPI"],
    }
    return db


def _osv_records(p: Path) -> Iterator[dict[str, Any]]:
    if p.is_dir():
        for f in sorted(p.rglob("*.json")):
            yield json.loads(f.read_text(encoding="utf-8"))
        return
    with zipfile.ZipFile(p) as z:
        for name in z.namelist():
            if name.endswith(".json"):
                yield json.loads(z.read(name))


def _osv_intervals(
    events: list[dict[str, str]],
) -> Iterator[tuple[str | None, str | None, str | None]]:
    """OSV events (in order) -> closed/open intervals ``(introduced, fixed, last_affected)``."""
    introduced: str | None = None
    for ev in events:
        if "introduced" in ev:
            introduced = ev["introduced"]
        elif "fixed" in ev or "last_affected" in ev:
            yield introduced, ev.get("fixed"), ev.get("last_affected")
            introduced = None
    if introduced is not None:
        yield introduced, None, None


def _is_default(p: Path) -> bool:
    try:
        return p.resolve() == default_vulndb_path().resolve()
    except VulnDBError:
        return False


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
