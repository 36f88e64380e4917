"""The catalog: published plugin versions a team shares, and installs from it.

A published version is the archive exactly as uploaded (``<data_dir>/catalog/<name>/<version>
.tar.gz``) with its manifest, sha256, scan report, publisher and date. Publishing runs the
install pipeline's checks (safe extraction, manifest validation, the configured scan stage) and
stores the archive like an install stores a version: staged on the same filesystem, moved in
with ``os.replace`` under the store lock, then recorded (with its full-text index row) in one
transaction. Installing from the catalog copies the archive into staging while hashing it and
refuses the copy unless its sha256 is the published one, before a byte is extracted; the copy,
not the catalog file, is what gets installed, so the archive cannot change in between.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import archive
from ..answers import timestamp
from ..core.lifecycle import (
    CheckedPackage,
    PluginManager,
    Progress,
    is_dev_version,
    semver_key,
)
from ..errors import (
    ChecksumMismatch,
    Conflict,
    Forbidden,
    InvalidPackage,
    NotFound,
    PluginError,
)
from ..extension_points import EXTENSION_POINTS
from ..manifest import MANIFEST_FILE
from ..scan.report import scan_summary
from ..store import Plugin
from ..store.orm import utcnow
from .checks import check_plugin_ref, is_plugin_name, storable
from .orm import CatalogPlugin, CatalogVersion, RatingSummary, create_tables
from .reviews import rating_dict
from .search import (
    SearchIndex,
    SearchRequest,
    key_of,
    run_search,
    search_document,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
SEED_PUBLISHER = "omniscope"



def bundled_examples_dir() -> Path:
    """The example plugins: shipped in the wheel, or ``plugins/examples`` of a checkout."""
    package = Path(__file__).resolve().parents[1]
    shipped = package / "examples"
    return shipped if shipped.is_dir() else package.parent / "plugins" / "examples"


def _log_progress(step: str, detail: str) -> None:
    log.debug("%s: %s", step, detail)


def chunks_of(src: IO[bytes]) -> Iterator[bytes]:
    """A stream as the chunks ``copy_hashing`` takes."""
    return iter(lambda: src.read(_CHUNK), b"")


def copy_hashing(
    chunks: Iterable[bytes], dest: Path, max_bytes: int | None = None
) -> tuple[str, int]:
    """Copy chunks (``chunks_of`` a stream) to a new file, returning its sha256 and size.

    One read, no second look; ``dest`` must not exist (nor be a symlink).
    """
    h = hashlib.sha256()
    size = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise InvalidPackage(f"The archive is larger than {max_bytes} bytes.")
            h.update(chunk)
            out.write(chunk)
    return h.hexdigest(), size


class Catalog:
    """Published plugin versions in the store's database and data dir.

    Parameters
    ----------
    manager
        The local store: its database, lock, staging area, archive limits and scan stage are
        the catalog's too, and installs from the catalog go through it.
    """

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self.layout = manager.layout
        self.sessions = manager.sessions
        self.root = self.layout.data_dir / "catalog"
        self.root.mkdir(exist_ok=True)
        create_tables(manager.engine)
        self.index = SearchIndex(manager.engine)
        self.recover()

    def recover(self) -> list[str]:
        """Remove archives no catalog row owns (a crash between ``os.replace`` and commit)."""
        return self.manager.recover_unowned(self.root.glob("*/*.tar.gz"), CatalogVersion.path)

    def archive_path(self, name: str, version: str) -> Path:
        """Where a published archive lives; refuses what is not a plugin name and version."""
        check_plugin_ref(name, version or "")
        return self.root / name / f"{version}.tar.gz"

    # -- publish ----------------------------------------------------------------------------

    def publish(
        self,
        package: Path,
        *,
        user: str,
        admin: bool = False,
        featured: bool | None = None,
        progress: Progress = _log_progress,
    ) -> dict[str, Any]:
        """Check ``package`` as an install would and add it to the catalog.

        Raises ``InvalidPackage``/``TooLarge`` (bad archive or manifest), ``ScanRefused`` (the
        scan blocks it), ``Conflict`` (that version is already published) or ``Forbidden``
        (another user owns the plugin's name and ``admin`` is false).
        """
        staging = self.manager.new_staging_dir()
        try:
            copy = staging / "archive.tar.gz"
            with package.open("rb") as src:
                sha256, size = copy_hashing(chunks_of(src), copy)

            def refuse(name: str, version: str) -> None:
                self._refuse(name, version, user, admin)

            checked = self.manager.check_package(
                copy, staging, refuse=refuse, action="publish", sha256=sha256, progress=progress
            )
            name, version = checked.name, checked.version
            progress("store", f"{name} {version}")
            self._store(copy, checked, size, user, featured, lambda: refuse(name, version))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress("done", f"{name} {version}")
        return {**self.details(name), "published_version": version, "sha256": sha256}

    def _refuse(self, name: str, version: str, user: str, admin: bool) -> None:
        if is_dev_version(version):
            raise InvalidPackage(
                f"{name} {version} is a development version and is never published; give the "
                "manifest a release version to publish it."
            )
        with self.sessions() as s:
            entry = s.get(CatalogPlugin, name)
            if entry is None:
                return
            if entry.owner != user and not admin:
                raise Forbidden(
                    f"{name} is published by {entry.owner!r}; only they or a marketplace admin "
                    "may publish new versions of it."
                )
            if any(v.version == version for v in entry.versions):
                raise Conflict(
                    f"{name} {version} is already published; bump the version to publish a "
                    "change."
                )

    def _store(
        self,
        copy: Path,
        checked: CheckedPackage,
        size: int,
        user: str,
        featured: bool | None,
        refuse: Callable[[], None],
    ) -> None:
        name, version, manifest = checked.name, checked.version, checked.manifest
        target = self.archive_path(name, version)

        def record(s: Session) -> None:
            now = utcnow()
            entry = s.get(CatalogPlugin, name)
            if entry is None:
                entry = CatalogPlugin(name=name, owner=user, created_at=now)
                s.add(entry)
            newest = entry.latest_version is None or semver_key(version) > semver_key(
                entry.latest_version
            )
            if newest:
                entry.latest_version = version
                entry.published_at = now
                entry.description = storable(manifest.get("description", ""))
                entry.author = storable(manifest.get("author", ""))
                entry.language = manifest.get("language", "")
                entry.category = storable(manifest.get("category", ""))
                entry.tags_key = storable(key_of(manifest.get("tags", [])))
                entry.extension_points_key = key_of(manifest.get("extension_points", []))
                entry.search_document = search_document(manifest)
                self.index.sync(s, name, manifest)
            if featured is not None:
                entry.featured = featured
            s.add(
                CatalogVersion(
                    plugin_name=name,
                    version=version,
                    manifest=manifest,
                    sha256=checked.sha256,
                    size=size,
                    path=str(target.relative_to(self.layout.data_dir)),
                    scan_report=checked.report.to_dict(),
                    publisher=user,
                    published_at=now,
                )
            )

        os.chmod(copy, 0o644)
        self.manager.transactions.store_atomically(copy, target, refuse, record)
        log.info("%s published %s %s", user or "someone", name, version)

    # -- queries ----------------------------------------------------------------------------

    def _entry(self, s: Session, name: str) -> CatalogPlugin:
        # A name no manifest could hold is not looked up (PostgreSQL refuses NUL, for one).
        entry = s.get(CatalogPlugin, name) if is_plugin_name(name) else None
        if entry is None:
            raise NotFound(f"No plugin named {name!r:.80} is in the marketplace.")
        return entry

    def _version_row(self, s: Session, name: str, version: str | None) -> CatalogVersion:
        entry = self._entry(s, name)
        wanted = version or entry.latest_version
        for row in entry.versions:
            if row.version == wanted:
                return row
        published = ", ".join(sorted((v.version for v in entry.versions), key=semver_key))
        raise NotFound(
            f"{name} has no published version {str(wanted)[:80]}; published: {published}."
        )

    def is_published(self, name: str, version: str | None = None) -> bool:
        with self.sessions() as s:
            try:
                self._version_row(s, name, version)
            except NotFound:
                return False
            return True

    def installed_versions(self, s: Session, names: list[str]) -> dict[str, str]:
        """Active installed version of each of ``names`` that is installed here."""
        if not names:
            return {}
        rows = s.execute(select(Plugin.name, Plugin.active_version).where(Plugin.name.in_(names)))
        return {name: version for name, version in rows}

    def installed_map(self, names: list[str]) -> dict[str, str]:
        with self.sessions() as s:
            return self.installed_versions(s, names)

    def entry_dict(
        self, s: Session, entry: CatalogPlugin, installed: dict[str, str], score: float | None = None
    ) -> dict[str, Any]:
        """A search result: the newest version's fields, rating, downloads, installed here."""
        latest = next(v for v in entry.versions if v.version == entry.latest_version)
        m = latest.manifest
        return {
            "source": "local",
            "plugin_id": entry.name,
            "name": entry.name,
            "latest_version": entry.latest_version,
            "versions": sorted((v.version for v in entry.versions), key=semver_key),
            "description": m.get("description", ""),
            "author": m.get("author", ""),
            "language": m.get("language"),
            "input_format": m.get("input_format", "dataframe"),
            "category": m.get("category"),
            "tags": m.get("tags", []),
            "extension_points": m.get("extension_points", []),
            "permissions": m.get("permissions", []),
            "rating": rating_dict(s.get(RatingSummary, entry.name)),
            "downloads": entry.downloads,
            "featured": entry.featured,
            "owner": entry.owner,
            "publisher": latest.publisher,
            "published_at": timestamp(entry.published_at),
            "sha256": latest.sha256,
            "scan": scan_summary(latest.scan_report),
            "installed": entry.name in installed,
            "installed_version": installed.get(entry.name),
            "score": score,
        }

    def details(self, name: str) -> dict[str, Any]:
        """A catalog plugin with every published version (sha256, publisher, date, scan)."""
        with self.sessions() as s:
            entry = self._entry(s, name)
            out = self.entry_dict(s, entry, self.installed_versions(s, [name]))
            out.pop("score")
            out["versions_detail"] = [
                {
                    "version": v.version,
                    "sha256": v.sha256,
                    "size": v.size,
                    "publisher": v.publisher,
                    "published_at": timestamp(v.published_at),
                    "downloads": v.downloads,
                    "scan": scan_summary(v.scan_report),
                    "manifest": v.manifest,
                }
                for v in sorted(entry.versions, key=lambda v: semver_key(v.version))
            ]
            return out

    def search(
        self, req: SearchRequest, *, limit: int | None = None, offset: int | None = None
    ) -> dict[str, Any]:
        """One page of local results for ``req`` (or an explicit window) and the total."""
        limit = req.page_size if limit is None else limit
        offset = (req.page - 1) * req.page_size if offset is None else offset
        with self.sessions() as s:
            rows, total = run_search(s, self.index, req, limit=limit, offset=offset)
            installed = self.installed_versions(s, [e.name for e, _ in rows])
            return {
                "results": [self.entry_dict(s, e, installed, score) for e, score in rows],
                "total": total,
            }

    def all_entries(self) -> list[dict[str, Any]]:
        """Every catalog plugin as a search result (ranking needs them all)."""
        with self.sessions() as s:
            entries = s.scalars(select(CatalogPlugin).order_by(CatalogPlugin.name)).all()
            installed = self.installed_versions(s, [e.name for e in entries])
            return [self.entry_dict(s, e, installed) for e in entries]

    def categories(self) -> list[dict[str, Any]]:
        """The 10 extension points as categories plus any other category in use, with counts.

        ``count`` is how many catalog plugins declare that category; ``extension_point_count``
        how many hook into the extension point of that name.
        """
        with self.sessions() as s:
            by_category: dict[str, int] = {
                category: count
                for category, count in s.execute(
                    select(CatalogPlugin.category, func.count()).group_by(CatalogPlugin.category)
                )
            }
            keys = s.scalars(select(CatalogPlugin.extension_points_key)).all()
        out = [
            {
                "name": p.name,
                "description": p.description,
                "count": by_category.pop(p.name, 0),
                "extension_point_count": sum(f"|{p.name}|" in k for k in keys),
                "extension_point": True,
            }
            for p in EXTENSION_POINTS
        ]
        out += [
            {
                "name": name,
                "description": f"Plugins their authors filed under {name!r}.",
                "count": count,
                "extension_point_count": 0,
                "extension_point": False,
            }
            for name, count in sorted(by_category.items())
            if name
        ]
        return out

    # -- curation ---------------------------------------------------------------------------

    def set_featured(self, name: str, featured: bool) -> dict[str, Any]:
        """Set the admin flag that puts ``name`` first in featured."""
        with self.layout.locked(), self.sessions.begin() as s:
            self._entry(s, name).featured = featured
        return {"plugin_id": name, "featured": featured}

    # -- install ----------------------------------------------------------------------------

    def verified_copy(self, name: str, version: str | None, staging: Path) -> tuple[Path, str, str]:
        """Copy a published archive into ``staging``, refusing it unless its sha256 matches.

        Returns (copy, version, sha256). Raises ``NotFound`` or ``ChecksumMismatch``.
        """
        with self.sessions() as s:
            row = self._version_row(s, name, version)
            version, expected, rel = row.version, row.sha256, row.path
        source = self.layout.data_dir / rel
        copy = staging / "catalog.tar.gz"
        try:
            with source.open("rb") as src:
                actual, _ = copy_hashing(chunks_of(src), copy)
        except FileNotFoundError:
            raise ChecksumMismatch(
                f"The catalog archive of {name} {version} is missing; nothing was installed."
            ) from None
        if actual != expected:
            copy.unlink()
            raise ChecksumMismatch(
                f"The catalog archive of {name} {version} does not match its published sha256 "
                f"(expected {expected}, got {actual}): it changed after publishing, so it was "
                "not extracted and nothing was installed."
            )
        return copy, version, expected

    def count_download(self, name: str, version: str) -> None:
        # SQL increments, not read-modify-write: concurrent downloads all count.
        with self.sessions.begin() as s:
            s.execute(
                update(CatalogVersion)
                .where(CatalogVersion.plugin_name == name, CatalogVersion.version == version)
                .values(downloads=CatalogVersion.downloads + 1)
            )
            s.execute(
                update(CatalogPlugin)
                .where(CatalogPlugin.name == name)
                .values(downloads=CatalogPlugin.downloads + 1)
            )

    def install(
        self, name: str, version: str | None = None, *, user: str, force: bool = False
    ) -> dict[str, Any]:
        """Install a published version (default the newest) through the install pipeline."""
        staging = self.manager.new_staging_dir()
        try:
            copy, version, sha256 = self.verified_copy(name, version, staging)
            result = self.manager.install(copy, user=user, force=force, expect=(name, version))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.count_download(name, version)
        return {**result, "source": "local", "sha256": sha256}

    def version_to_fetch(
        self, name: str, version: str | None, installed: list[str]
    ) -> str | None:
        """The published version an update to ``version`` must install first, if any.

        ``installed`` are the versions installed here. ``version`` None means the newest
        published version, fetched only when it is newer than every installed one. None when
        the target is installed already or the catalog does not have it: the update then
        answers as it would without a catalog.
        """
        with self.sessions() as s:
            entry = s.get(CatalogPlugin, name)
            if entry is None or entry.latest_version is None:
                return None
            published = {v.version for v in entry.versions}
            if version is None:
                version = entry.latest_version
                if any(semver_key(v) >= semver_key(version) for v in installed):
                    return None
        if version in installed or version not in published:
            return None
        return version

    def open_archive(self, name: str, version: str) -> tuple[Path, str, int]:
        """(path, sha256, size) of a published archive, for serving to another marketplace."""
        with self.sessions() as s:
            row = self._version_row(s, name, version)
            return self.layout.data_dir / row.path, row.sha256, row.size

    # -- first start ------------------------------------------------------------------------

    def seed_examples(
        self, examples_dir: Path, *, user: str = SEED_PUBLISHER, featured: bool = True
    ) -> list[str]:
        """Publish each plugin folder of ``examples_dir`` not yet in the catalog; idempotent.

        Returns ``name version`` of each plugin published now. A folder that fails validation
        or the scan is logged and skipped: seeding must never stop a server from starting.
        """
        published: list[str] = []
        if not examples_dir.is_dir():
            log.warning("No example plugins to seed at %s", examples_dir)
            return published
        for folder in sorted(p for p in examples_dir.iterdir() if p.is_dir()):
            try:
                data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
                name, version = str(data["name"]), str(data["version"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning("Not seeding %s: unreadable manifest (%s)", folder, e)
                continue
            if self.is_published(name, version):
                continue
            staging = self.manager.new_staging_dir()
            try:
                package = staging / f"{name}.tar.gz"
                archive.pack(folder, package)
                self.publish(package, user=user, admin=True, featured=featured)
                published.append(f"{name} {version}")
            except Conflict:
                pass  # another process seeded it first
            except PluginError as e:
                log.warning("Not seeding %s: %s", folder.name, e.message)
            except Exception:  # a broken scanner, a full disk: log it, keep the server starting
                log.exception("Not seeding %s", folder.name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        if published:
            log.info("Seeded the marketplace with %s", ", ".join(published))
        return published
