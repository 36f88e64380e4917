"""The plugin lifecycle: install, versions, enable/disable, uninstall, and their history.

``PluginManager`` is the one place that changes installed plugins. The REST handlers, the CLI and
the notebook layer all call it; it knows nothing of HTTP. Every change is atomic: files are
prepared in ``staging/`` and moved into place with ``os.replace`` under the store lock, and the
database rows are written in one transaction right after; a crash between the two leaves an
orphan folder that ``recover()`` removes at the next start, so the store always shows the old
or the new state, never half of one.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semver import Version as SemVer
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from .. import archive
from ..answers import row_answer, timestamp
from ..errors import (
    ArchiveMismatch,
    Conflict,
    Forbidden,
    InvalidPackage,
    InvalidRequest,
    NotFound,
    ScanRefused,
)
from ..manifest import MANIFEST_FILE, manifest_warnings, read_manifest
from ..sandbox.jobs import PluginTarget
from ..scan.report import ScanReport, scan_summary
from ..stages import DeclaredDependencies, DependencyStage, PassingScanner, ScanStage
from ..store import HistoryEntry, Plugin, PluginVersion, StoreLayout, make_engine, make_sessionmaker
from ..store.orm import utcnow
from ..store.transactions import StoreTransactions

log = logging.getLogger(__name__)

#: ``progress(step, detail)`` is called at each step of long work (CLI prints it, server logs it).
Progress = Callable[[str, str], None]


def _no_progress(step: str, detail: str) -> None:
    log.debug("%s: %s", step, detail)


def semver_key(version: str) -> SemVer:
    return SemVer.parse(version)


#: The pre-release tag of a development version (``1.0.0-dev``): the next development install
#: replaces it in place, without a version bump, and the catalog never publishes it.
DEV_TAG = "dev"


def is_dev_version(version: str | None) -> bool:
    """Whether ``version`` is a development version (its last pre-release part is ``dev``)."""
    if not version or not SemVer.is_valid(version):
        return False
    prerelease = SemVer.parse(version).prerelease
    return bool(prerelease) and str(prerelease).split(".")[-1] == DEV_TAG


def dev_version(version: str) -> str:
    """The development version of a manifest's ``version``: ``1.0.0`` -> ``1.0.0-dev``."""
    if is_dev_version(version):
        return version
    parsed = SemVer.parse(version)
    tag = f"{parsed.prerelease}.{DEV_TAG}" if parsed.prerelease else DEV_TAG
    return str(parsed.replace(prerelease=tag, build=None))


class _AlreadyThere(Exception):
    """An idempotent install found the version it would install already there (no error)."""

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"{name} {version}")
        self.name, self.version = name, version


@dataclass(frozen=True)
class CheckedPackage:
    """A package that passed the pipeline's checks, extracted in staging and ready to store."""

    root: Path
    manifest: dict[str, Any]
    sha256: str
    report: ScanReport
    #: The scan would refuse it; an authorized user forced it where the server allows that.
    forced: bool = False
    #: Tool caches found in the package and dropped before anything else saw it.
    dropped: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])


class PluginManager:
    """Installs plugins into a store and manages their versions.

    Parameters
    ----------
    data_dir
        Folder holding ``versions/``, ``staging/`` and (by default) the SQLite database.
    db_url
        SQLAlchemy URL; default ``sqlite:///<data_dir>/omniscope.db``.
    scanner, resolver
        The install pipeline's scan and dependency stages (see ``stages.py``).
    allow_force
        Whether a scan-refused package may be installed with ``force=True``.
    strict_manifest
        Refuse manifest fields this platform does not know (default: install with a warning).
    """

    def __init__(
        self,
        data_dir: Path,
        db_url: str | None = None,
        *,
        scanner: ScanStage | None = None,
        resolver: DependencyStage | None = None,
        limits: archive.ArchiveLimits | None = None,
        allow_force: bool = False,
        strict_manifest: bool = False,
    ) -> None:
        self.layout = StoreLayout(Path(data_dir))
        self.engine = make_engine(db_url or f"sqlite:///{self.layout.data_dir / 'omniscope.db'}")
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.transactions = StoreTransactions(self.layout, self.sessions)
        self.scanner: ScanStage = scanner or PassingScanner()
        self.resolver: DependencyStage = resolver or DeclaredDependencies()
        self.limits = limits or archive.ArchiveLimits()
        self.allow_force = allow_force
        self.strict_manifest = strict_manifest

    # -- start-up ---------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Remove what an interrupted change left behind; return what was removed.

        Staging folders of dead processes, the trash, and version folders that no database
        row owns (a crash between ``os.replace`` and the commit).
        """
        removed: list[str] = []
        with self.layout.locked():
            for entry in self.layout.staging.iterdir():
                pid = entry.name.split("-", 1)[0]
                if not (pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid()):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(str(entry))
            for entry in self.layout.trash.iterdir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(str(entry))
            removed += self.transactions.discard_unowned(
                self.layout.versions.glob("*/*"), PluginVersion.path, locked=True
            )
            for plugin_dir in self.layout.versions.iterdir():
                if not any(plugin_dir.iterdir()):
                    plugin_dir.rmdir()
        for r in removed:
            log.warning("Removed leftover of an interrupted change: %s", r)
        return removed

    def recover_unowned(
        self, found: Iterable[Path], owner: InstrumentedAttribute[str]
    ) -> list[str]:
        """Remove each of ``found`` that no row's ``owner`` path column names; return them.

        What a crash between ``os.replace`` and the commit of ``store_atomically`` leaves.
        """
        removed = self.transactions.discard_unowned(found, owner)
        for r in removed:
            log.warning("Removed leftover of an interrupted change: %s", r)
        return removed

    def close(self) -> None:
        self.engine.dispose()

    # -- install ----------------------------------------------------------------------------

    def new_staging_dir(self) -> Path:
        """A fresh folder in ``staging/`` named so ``recover()`` knows whose it is."""
        path = self.layout.staging / f"{os.getpid()}-{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def install(
        self,
        package: Path,
        *,
        user: str = "",
        force: bool = False,
        dev: bool = False,
        if_missing: bool = False,
        upgrade: bool = False,
        progress: Progress = _no_progress,
        expect: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Install the archive at ``package``: extract, validate, scan, resolve, store.

        A new plugin is stored disabled. A new version of an installed plugin is added beside
        the others without becoming active (``update`` switches). Raises ``InvalidPackage``,
        ``TooLarge``, ``Conflict`` (version already installed), ``ScanRefused`` or ``Forbidden``.
        The answer's ``action`` says what happened: ``installed``, ``replaced``, ``upgraded``
        or ``unchanged``.

        ``dev``: install as the development version ``<version>-dev``, active at once, which the
        next ``dev`` install replaces in place (no version bump); the catalog never publishes it.
        ``if_missing``: do nothing when this version is installed (notebooks run it every time).
        ``upgrade``: also make it active when it is newer than the active version (switching
        to it when it is installed already); do nothing when it is not newer.
        ``expect``: the ``(name, version)`` a catalog (ours or a remote's) published the archive
        as; a manifest naming anything else is refused (``ArchiveMismatch``) before the scan.
        """
        if dev and (if_missing or upgrade):
            raise InvalidRequest("a development install replaces in place: no if_missing/upgrade")
        staging = self.new_staging_dir()
        try:
            check = self._install_check(
                dev=dev, if_missing=if_missing, upgrade=upgrade, expect=expect
            )
            try:
                checked = self.check_package(
                    package, staging, refuse=check, force=force, dev=dev, progress=progress
                )
            except _AlreadyThere as there:
                return self._already_there(there.name, there.version, upgrade=upgrade, user=user)
            name, version = checked.name, checked.version
            progress("dependencies", ", ".join(checked.manifest["dependencies"]) or "none")
            lock = self.resolver.resolve(checked.root, checked.manifest)
            progress("store", f"{name} {version}")
            action = self._store(checked, lock, user, activate=upgrade)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress("done", f"{name} {version}")
        warnings = manifest_warnings(checked.manifest) + archive.left_out_warning(
            list(checked.dropped)
        )
        return self._install_answer(
            name, version, action, warnings, scan=checked.report.summary()
        )

    def _install_check(
        self, *, dev: bool, if_missing: bool, upgrade: bool, expect: tuple[str, str] | None = None
    ) -> Callable[[str, str], None]:
        """The ``refuse`` hook of an install: what is refused, and what is already there."""

        def check(name: str, version: str) -> None:
            if expect is not None and (name, version) != expect:
                raise ArchiveMismatch(
                    f"The archive published as {expect[0]} {expect[1]} holds {name} {version} "
                    "(its manifest.json says so); it was refused and nothing was installed."
                )
            if dev:
                return  # a development version is replaced in place
            if is_dev_version(version):
                raise InvalidPackage(
                    f"{name} {version} is a development version: install its folder with "
                    "omniplug dev (dev=True), or give the manifest a release version."
                )
            if if_missing or upgrade:
                with self.sessions() as s:
                    plugin = s.get(Plugin, name)
                    active = plugin.active_version if plugin else None
                    installed = {v.version for v in self._versions(s, name)}
                older = active is not None and semver_key(version) <= semver_key(active)
                if version in installed or (upgrade and older):
                    raise _AlreadyThere(name, version)
            self._refuse_existing(name, version)

        return check

    def _already_there(
        self, name: str, version: str, *, upgrade: bool, user: str
    ) -> dict[str, Any]:
        """The answer of an idempotent install that found ``version``: switch to it or not."""
        with self.sessions() as s:
            active = self._plugin(s, name).active_version
            installed = self._version_row(s, name, version) is not None
        if upgrade and installed and semver_key(version) > semver_key(active):
            self.update(name, version, user=user)
            return self._install_answer(name, version, "upgraded", [])
        return self._install_answer(name, version if installed else active, "unchanged", [])

    def _install_answer(
        self,
        name: str,
        version: str,
        action: str,
        warnings: list[str],
        *,
        scan: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """What an install answers about ``version`` of ``name`` as the store now holds it."""
        with self.sessions() as s:
            plugin = self._plugin(s, name)
            row = self._version(s, name, version)
            return {
                "plugin_id": name,
                "name": name,
                "version": version,
                "active_version": plugin.active_version,
                "enabled": plugin.enabled,
                "dev": is_dev_version(version),
                "action": action,
                "scan": scan or scan_summary(row.scan_report),
                "dependencies": row.dependencies,
                "forced": row.forced,
                "warnings": warnings,
            }

    def check_package(
        self,
        package: Path,
        staging: Path,
        *,
        refuse: Callable[[str, str], None] | None = None,
        force: bool = False,
        action: str = "",
        sha256: str | None = None,
        dev: bool = False,
        progress: Progress = _no_progress,
    ) -> CheckedPackage:
        """The pipeline's checks, shared by install and publish: extract, validate, scan.

        Extracts ``package`` into ``staging`` and drops its tool caches (``__pycache__`` and
        the like: never installed, never scanned), reads its manifest (``dev``: with the
        development version), calls ``refuse(name, version)`` (default: refuse an installed
        version) and applies the scan policy. Raises ``InvalidPackage``, ``TooLarge``, what
        ``refuse`` raises, ``ScanRefused`` (a blocking scan, unless ``force`` and the server
        allows it) or ``Forbidden``. ``sha256`` saves hashing again an archive that was hashed
        while copied.
        """
        progress("extract", package.name)
        sha256 = sha256 or archive.sha256_file(package)
        root = archive.extract(package, staging / "pkg", self.limits)
        dropped = tuple(archive.drop_tool_caches(root))
        progress("validate", MANIFEST_FILE)
        manifest = read_manifest(root, strict=self.strict_manifest)
        if dev:
            manifest = manifest.with_version(dev_version(manifest.version))
        name, version = manifest.name, manifest.version
        (refuse or self._refuse_existing)(name, version)
        progress("scan", f"{name} {version}")
        report = self.scanner.scan(root, manifest.as_dict())
        forced = False
        if report.blocking:
            if not force:
                raise scan_refused(name, version, report, action)
            if not self.allow_force:
                raise Forbidden(
                    "Forced installs are disabled on this server "
                    "(OmniscopeApp.allow_force_install)."
                )
            forced = True
        return CheckedPackage(root, manifest.as_dict(), sha256, report, forced, dropped)

    def _refuse_existing(self, name: str, version: str) -> None:
        """Refuse a version already installed, also one equal but for build metadata.

        Semantic versioning ignores build metadata in precedence: ``1.0.0+a`` and ``1.0.0+b``
        cannot be ordered, so the second could be installed but never be updated to.
        """
        with self.sessions() as s:
            installed = s.scalars(
                select(PluginVersion.version).where(PluginVersion.plugin_name == name)
            ).all()
        wanted = semver_key(version)
        for other in installed:
            if other == version:
                raise Conflict(
                    f"{name} {version} is already installed; bump the version to upload a change."
                )
            if semver_key(other).compare(wanted) == 0:
                raise Conflict(
                    f"{name} {version} differs from the installed {other} only in build "
                    "metadata, which semantic versioning does not order; bump the version."
                )

    def _store(
        self, checked: CheckedPackage, lock: dict[str, Any], user: str, *, activate: bool = False
    ) -> str:
        """Store a checked version; ``installed`` or, for a development version, ``replaced``.

        A development version becomes active and takes a fresh folder each time: the rows name
        the new folder in one transaction, then the old one goes (a crash in between leaves it
        unowned, for ``recover``). ``activate`` makes any other version active as it is stored.
        """
        name, version = checked.name, checked.version
        dev = is_dev_version(version)
        target = self.layout.version_dir(name, version)
        if dev:
            target = target.with_name(f"{version}.{uuid.uuid4().hex[:12]}")
        replaced: list[str] = []
        outcome = {"action": "installed"}

        def record(s: Session) -> None:
            plugin = s.get(Plugin, name)
            previous = plugin.active_version if plugin is not None else None
            if plugin is None:
                plugin = Plugin(name=name, active_version=version, enabled=False)
                s.add(plugin)
            row = self._version_row(s, name, version) if dev else None
            if row is None:
                row = PluginVersion(plugin_name=name, version=version)
                s.add(row)
            else:
                replaced.append(row.path)
            row.manifest, row.sha256, row.dependencies = checked.manifest, checked.sha256, lock
            row.path = str(target.relative_to(self.layout.data_dir))
            row.scan_report, row.forced = checked.report.to_dict(), checked.forced
            row.installed_by, row.installed_at = user, utcnow()
            if dev:
                action = "replace-dev" if replaced else "install-dev"
            else:
                action = "install-forced" if checked.forced else "install"
            s.add(
                HistoryEntry(
                    plugin_name=name,
                    action=action,
                    from_version=previous if dev else None,
                    to_version=version,
                    user=user,
                )
            )
            if dev:
                plugin.active_version = version
                outcome["action"] = "replaced" if replaced else "installed"
            elif activate and previous is not None:
                plugin.active_version = version
                outcome["action"] = "upgraded"
                s.add(HistoryEntry(plugin_name=name, action="update", from_version=previous,
                                   to_version=version, user=user))  # fmt: skip

        refuse = (lambda: None) if dev else (lambda: self._refuse_existing(name, version))
        self.transactions.store_atomically(checked.root, target, refuse, record)
        for old in replaced:
            with self.layout.locked():
                self.transactions.discard(self.layout.data_dir / old)
        return outcome["action"]

    def _version_row(self, s: Session, name: str, version: str) -> PluginVersion | None:
        return s.scalar(
            select(PluginVersion).where(
                PluginVersion.plugin_name == name, PluginVersion.version == version
            )
        )

    # -- queries ----------------------------------------------------------------------------

    def _plugin(self, s: Session, name: str) -> Plugin:
        plugin = s.get(Plugin, name)
        if plugin is None:
            raise NotFound(f"No plugin named {name!r} is installed.")
        return plugin

    def _versions(self, s: Session, name: str) -> list[PluginVersion]:
        rows = s.scalars(select(PluginVersion).where(PluginVersion.plugin_name == name)).all()
        return sorted(rows, key=lambda v: semver_key(v.version))

    def list_plugins(
        self,
        *,
        enabled: bool | None = None,
        category: str | None = None,
        language: str | None = None,
        extension_point: str | None = None,
    ) -> list[dict[str, Any]]:
        """Installed plugins (their active version), filtered."""
        out = []
        with self.sessions() as s:
            for plugin in s.scalars(select(Plugin).order_by(Plugin.name)):
                if enabled is not None and plugin.enabled != enabled:
                    continue
                active = self._active(s, plugin)
                m = active.manifest
                if category and m.get("category") != category:
                    continue
                if language and m.get("language") != language:
                    continue
                if extension_point and extension_point not in m.get("extension_points", []):
                    continue
                out.append(self._summary(plugin, active, self._versions(s, plugin.name)))
        return out

    def _active(self, s: Session, plugin: Plugin) -> PluginVersion:
        row = s.scalar(
            select(PluginVersion).where(
                PluginVersion.plugin_name == plugin.name,
                PluginVersion.version == plugin.active_version,
            )
        )
        assert row is not None, f"store invariant broken for {plugin.name}"
        return row

    @staticmethod
    def _summary(
        plugin: Plugin, active: PluginVersion, versions: list[PluginVersion]
    ) -> dict[str, Any]:
        m = active.manifest
        return {
            "plugin_id": plugin.name,
            "name": plugin.name,
            "version": plugin.active_version,
            "active_version": plugin.active_version,
            "dev": is_dev_version(plugin.active_version),
            "versions": [v.version for v in versions],
            "enabled": plugin.enabled,
            "language": m.get("language"),
            "input_format": m.get("input_format", "dataframe"),
            "category": m.get("category"),
            "description": m.get("description"),
            "author": m.get("author"),
            "tags": m.get("tags", []),
            "extension_points": m.get("extension_points", []),
            "permissions": m.get("permissions", []),
            "scan": scan_summary(active.scan_report),
            "installed_at": timestamp(plugin.installed_at),
            "updated_at": timestamp(plugin.updated_at),
        }

    def details(self, name: str) -> dict[str, Any]:
        """Everything about one plugin: active manifest, versions, scan summary, history."""
        with self.sessions() as s:
            plugin = self._plugin(s, name)
            active = self._active(s, plugin)
            versions = self._versions(s, name)
            return {
                **self._summary(plugin, active, versions),
                "manifest": active.manifest,
                "dependencies": active.dependencies,
                "versions_detail": [
                    {
                        "version": v.version,
                        "sha256": v.sha256,
                        "installed_at": timestamp(v.installed_at),
                        "installed_by": v.installed_by,
                        "forced": v.forced,
                        "dev": is_dev_version(v.version),
                        "scan": scan_summary(v.scan_report),
                    }
                    for v in versions
                ],
                "history": [_history_dict(h) for h in plugin.history],
            }

    def history(self, name: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return [_history_dict(h) for h in self._plugin(s, name).history]

    def scan_report(self, name: str, version: str | None = None) -> dict[str, Any]:
        """The whole scan report of a version (default: the active one)."""
        with self.sessions() as s:
            plugin = self._plugin(s, name)
            row = self._version(s, name, version or plugin.active_version)
            return {"plugin_id": name, "version": row.version, "report": row.scan_report}

    def _version(self, s: Session, name: str, version: str) -> PluginVersion:
        row = self._version_row(s, name, version)
        if row is None:
            raise NotFound(f"{name} has no installed version {version!r}.")
        return row

    def installed(self, name: str) -> PluginTarget:
        """The active version of a plugin, as the sandbox needs it.

        On every run's path: one query for just the columns a run needs (a version's scan
        report can be large and is not one of them).
        """
        query = (
            select(
                Plugin.enabled, PluginVersion.version, PluginVersion.path,
                PluginVersion.manifest, PluginVersion.dependencies, PluginVersion.sha256,
            )
            .join(
                PluginVersion,
                (PluginVersion.plugin_name == Plugin.name)
                & (PluginVersion.version == Plugin.active_version),
            )
            .where(Plugin.name == name)
        )  # fmt: skip
        with self.sessions() as s:
            row = s.execute(query).first()
        if row is None:
            raise NotFound(f"No plugin named {name!r} is installed.")
        return PluginTarget(
            plugin_id=name,
            version=row.version,
            path=self.layout.data_dir / row.path,
            manifest=row.manifest,
            enabled=row.enabled,
            dependencies=row.dependencies or {},
            sha256=row.sha256,
        )

    # -- changes ----------------------------------------------------------------------------

    def set_enabled(self, name: str, enabled: bool, *, user: str = "") -> dict[str, Any]:
        """Enable or disable a plugin; doing it twice is harmless (no history entry)."""
        with self.layout.locked(), self.sessions.begin() as s:
            plugin = self._plugin(s, name)
            if plugin.enabled != enabled:
                plugin.enabled = enabled
                s.add(
                    HistoryEntry(
                        plugin_name=name,
                        action="enable" if enabled else "disable",
                        from_version=plugin.active_version,
                        to_version=plugin.active_version,
                        user=user,
                    )
                )
        return {"plugin_id": name, "enabled": enabled}

    def update(
        self, name: str, target_version: str | None = None, *, user: str = ""
    ) -> dict[str, Any]:
        """Switch to a newer installed version (default: the newest)."""
        return self._switch(name, target_version, "", user, newer=True)

    def rollback(
        self, name: str, target_version: str | None = None, reason: str = "", *, user: str = ""
    ) -> dict[str, Any]:
        """Switch back to an older installed version (default: the next older one)."""
        return self._switch(name, target_version, reason, user, newer=False)

    def check_switch(self, name: str, target: str | None, *, newer: bool) -> list[str]:
        """Raise what an update (``newer``) or rollback to ``target`` must refuse up front.

        A target that is not a semantic version, an unknown plugin, or an explicit target in
        the wrong direction (or the active one), whether or not it is installed: callers that
        would fetch the target first (``Core.update``) ask this before fetching. Returns the
        installed versions, oldest first.
        """
        _require_semver(target)
        with self.sessions() as s:
            active = self._plugin(s, name).active_version
            versions = [v.version for v in self._versions(s, name)]
        if target is not None:
            _check_direction(name, active, target, newer=newer)
        return versions

    def _switch(
        self, name: str, target: str | None, reason: str, user: str, *, newer: bool
    ) -> dict[str, Any]:
        action = "update" if newer else "rollback"
        # Pick the target read-only and scan it before taking the lock: a scan can take long
        # (the R rules run in a container) and the lock serialises every change of the store.
        with self.sessions() as s:
            plugin, row = self._pick(s, name, target, newer=newer)
            previous, target, row_key = plugin.active_version, row.version, (row.id, row.sha256)
            path, manifest, forced = self.layout.data_dir / row.path, row.manifest, row.forced
        report: ScanReport | None = None
        if newer:
            # The rules or the vulnerability database may have changed since the install:
            # an update re-scans the target, and a refusing scan stops it (unless forced).
            report = self.scanner.scan(path, manifest)
            if report.blocking and not forced:
                raise scan_refused(name, target, report)
        with self.layout.locked(), self.sessions.begin() as s:
            plugin = self._plugin(s, name)
            current = s.scalar(
                select(PluginVersion).where(
                    PluginVersion.plugin_name == name, PluginVersion.version == target
                )
            )
            if (
                plugin.active_version != previous
                or current is None
                or (current.id, current.sha256) != row_key
            ):
                raise Conflict(
                    f"{name} changed while its {action} to {target} was prepared "
                    f"(active version now {plugin.active_version}); try again."
                )
            if report is not None:
                current.scan_report = report.to_dict()
            plugin.active_version = target
            s.add(
                HistoryEntry(
                    plugin_name=name,
                    action=action,
                    from_version=previous,
                    to_version=target,
                    reason=reason or "",
                    user=user,
                )
            )
        return {
            "plugin_id": name,
            "previous_version": previous,
            "active_version": target,
            "version": target,
            "reason": reason or "",
        }

    def _pick(
        self, s: Session, name: str, target: str | None, *, newer: bool
    ) -> tuple[Plugin, PluginVersion]:
        """The plugin and the installed version an update or rollback switches to."""
        _require_semver(target)
        plugin = self._plugin(s, name)
        current = semver_key(plugin.active_version)
        versions = [v.version for v in self._versions(s, name)]
        if target is None:
            # A development version is switched to by name only, never as "the next one".
            candidates = [
                v
                for v in versions
                if (semver_key(v) > current) == newer
                and v != plugin.active_version
                and not is_dev_version(v)
            ]
            if not candidates:
                raise Conflict(
                    f"{name} {plugin.active_version} has no "
                    f"{'newer' if newer else 'older'} installed version to "
                    f"{'update' if newer else 'rollback'} to."
                )
            target = candidates[-1]  # newest of the newer, or nearest of the older
        _check_direction(name, plugin.active_version, target, newer=newer)
        if target not in versions:
            raise NotFound(
                f"{name} has no installed version {target}; installed: {', '.join(versions)}."
            )
        return plugin, self._version(s, name, target)

    def uninstall(self, name: str, *, user: str = "") -> dict[str, Any]:
        """Remove a plugin with all its versions, history and executions."""
        with self.layout.locked():
            with self.sessions.begin() as s:
                plugin = self._plugin(s, name)
                versions = [v.version for v in self._versions(s, name)]
                s.delete(plugin)
            self.transactions.discard(self.layout.versions / name)
        log.info("%s uninstalled %s (%s)", user or "someone", name, ", ".join(versions))
        return {"plugin_id": name, "uninstalled": True, "versions": versions}


def scan_refused(name: str, version: str, report: ScanReport, action: str = "") -> ScanRefused:
    """The 422 of a blocking scan: its HIGH findings in the message, the report beside it.

    ``action`` names what was refused when it is not an install or update ("publish").
    """
    highs = "; ".join(
        f"{f.rule_id} {f.file}:{f.line} {f.message}"
        for f in report.findings
        if f.severity == "HIGH"
    )
    what = f"to {action} " if action else ""
    return ScanRefused(
        f"The security scan refused {what}{name} {version}: {highs}", report=report.to_dict()
    )


def _require_semver(target: Any) -> None:
    if target is not None and not (isinstance(target, str) and SemVer.is_valid(target)):
        raise InvalidRequest(f"target_version {target!r} is not a semantic version.")


def _check_direction(name: str, active: str, target: str, *, newer: bool) -> None:
    """Conflict when ``target`` is the active version or on the wrong side of it."""
    wanted, current = semver_key(target), semver_key(active)
    if wanted == current:
        raise Conflict(f"{name} is already at version {target}.")
    if newer and wanted < current:
        raise Conflict(f"{target} is older than the active {active}: use rollback.")
    if not newer and wanted > current:
        raise Conflict(f"{target} is newer than the active {active}: use update.")


def _history_dict(h: HistoryEntry) -> dict[str, Any]:
    entry = row_answer(h, ("action", "from_version", "to_version", "reason", "user", "at"))
    return {**entry, "dev": is_dev_version(h.to_version)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
