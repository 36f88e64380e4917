"""``PluginSystem``: the one front door into the core, for REST, ``omniplug``, magics and widgets.

Every operation a caller can ask for is a method here, so each door behaves the same: an
uninstall through the CLI also drops the plugin's volume and images, an update through a notebook
also fetches a version that is only published, a run anywhere is recorded in the same history.
The parts it composes (``PluginManager`` for the store and lifecycle, ``ExecutionService`` for
the sandbox, ``Marketplace`` for the catalog) are internal: callers never reach past this class.

Methods block (disk, database, Docker), except the coroutines of the REST path (``execute``,
``execution``, ``cancel``), which push their blocking work to threads themselves.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import archive
from ..errors import NotFound
from ..extension_points import EXTENSION_POINTS
from ..manifest import read_manifest
from ..safe_html import markdown_to_html
from ..sandbox.executions import ExecutionService, FrameResult
from ..sandbox.jobs import ARROW_STREAM
from ..sdk import create_project
from .lifecycle import PluginManager, Progress

if TYPE_CHECKING:
    from ..marketplace import Marketplace


def _quiet(step: str, detail: str) -> None:
    """Default progress callback: say nothing."""


#: Largest README a caller is sent (a longer one is cut).
MAX_README_BYTES = 256 * 1024


def _archive_readme(path: Path) -> str | None:
    """The ``README.md`` at a published package's root (or in its one top folder), if any.

    The archive passed the install checks when it was published; only that one regular file is
    read, under a cap, nothing is extracted.
    """
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if member.isreg() and parts[-1:] == ("README.md",) and len(parts) <= 2:
                handle = tar.extractfile(member)
                if handle is not None:
                    return handle.read(MAX_README_BYTES).decode("utf-8", errors="replace")
    return None


class PluginSystem:
    """The plugin system on one store: install, versions, runs, marketplace.

    Parameters
    ----------
    manager, executions, marketplace:
        The parts, assembled by ``config.make_system``.
    user:
        Who acts when a call names no user (the OS user for ``omniplug`` and kernels; the
        REST handlers always pass the authenticated user).
    """

    def __init__(
        self,
        manager: PluginManager,
        executions: ExecutionService,
        marketplace: Marketplace,
        *,
        user: str = "",
    ) -> None:
        self._manager = manager
        self._executions = executions
        self._marketplace = marketplace
        self.user = user
        #: The store's folder; and which store this is, for the line each entry point prints.
        self.store_dir = Path(manager.layout.data_dir)
        self.store = str(self.store_dir)
        #: The sandbox's run folders (a path error messages must not show).
        self.run_dir = Path(executions.settings.work_dir)

    def _who(self, user: str | None) -> str:
        return self.user if user is None else user

    # -- lifecycle of the system -----------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish what a crash interrupted: orphan folders, half-done catalog writes, and the
        run records of processes that died (closed as failed). No Docker needed."""
        self._executions.close_stale_records()
        return self._manager.recover()

    def sweep(self) -> None:
        """Close dead processes' run records and remove their containers and run folders
        (the server calls it periodically; blocking)."""
        self._executions.close_stale_records()
        self._executions.runner.reap()

    async def startup(self) -> None:
        """Reap containers and close run records that dead processes on this store left."""
        await self._executions.startup()

    async def shutdown(self) -> None:
        """Cancel this process's runs and reap its containers."""
        await self._executions.shutdown()

    def close(self) -> None:
        """Drain this process's sandbox containers and close the store (blocking)."""
        self._executions.close()
        self._manager.close()

    def new_staging_dir(self) -> Path:
        """A fresh folder on the store's file system, for an upload in progress."""
        return self._manager.new_staging_dir()

    # -- installed plugins -----------------------------------------------------------------

    def install(
        self,
        path: str | Path,
        *,
        user: str | None = None,
        force: bool = False,
        enable: bool = False,
        dev: bool = False,
        if_missing: bool = False,
        upgrade: bool = False,
        progress: Progress = _quiet,
    ) -> dict[str, Any]:
        """Install a ``.tar.gz`` or a plugin folder (packed first, as ``tar -czf`` would).

        ``dev`` installs a development version that the next ``dev`` install replaces in place;
        ``if_missing`` and ``upgrade`` make it idempotent (see ``PluginManager.install``).
        """
        user = self._who(user)
        path = Path(path)
        left_out: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:
            if path.is_dir():
                progress("pack", str(path))
                packed = Path(tmp) / f"{path.resolve().name}.tar.gz"
                left_out = archive.pack(path, packed)
                path = packed
            result = self._manager.install(
                path,
                user=user,
                force=force,
                dev=dev,
                if_missing=if_missing,
                upgrade=upgrade,
                progress=progress,
            )
        result["warnings"] = archive.left_out_warning(left_out) + result["warnings"]
        if enable and not result["enabled"]:
            self._manager.set_enabled(result["plugin_id"], True, user=user)
            result["enabled"] = True
        return result

    def uninstall(self, plugin_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Uninstall a plugin and remove what the sandbox kept for it (volume, unused images).

        The store's removal is what counts: sandbox clean-up is best effort and never fails it.
        """
        digests = self._executions.lock_digests(plugin_id)
        result = self._manager.uninstall(plugin_id, user=self._who(user))
        self._executions.forget_plugin(plugin_id, digests)
        return result

    def set_enabled(
        self, plugin_id: str, enabled: bool, *, user: str | None = None
    ) -> dict[str, Any]:
        return self._manager.set_enabled(plugin_id, enabled, user=self._who(user))

    def list_plugins(self, **filters: Any) -> list[dict[str, Any]]:
        """Installed plugins; filters ``enabled``, ``category``, ``language``, ``extension_point``."""
        return self._manager.list_plugins(**filters)

    def details(self, plugin_id: str) -> dict[str, Any]:
        return self._manager.details(plugin_id)

    def history(self, plugin_id: str) -> list[dict[str, Any]]:
        """The version history (installs, updates, rollbacks, enable/disable)."""
        return self._manager.history(plugin_id)

    def scan_report(self, plugin_id: str, version: str | None = None) -> dict[str, Any]:
        return self._manager.scan_report(plugin_id, version)

    def update(
        self, plugin_id: str, target_version: str | None = None, *, user: str | None = None
    ) -> dict[str, Any]:
        """Switch to a newer version, installing it from the catalog first when only published.

        A wrong target (not semver, the active one, older than it) is refused before anything
        is fetched: nothing gets installed and no download is counted for an update that
        cannot happen. ``target_version`` None means the newest version, installed or published.
        """
        user = self._who(user)
        installed = self._manager.check_switch(plugin_id, target_version, newer=True)
        catalog = self._marketplace.catalog
        fetch = catalog.version_to_fetch(plugin_id, target_version, installed)
        if fetch is not None:
            catalog.install(plugin_id, fetch, user=user)
        return self._manager.update(plugin_id, target_version, user=user)

    def rollback(
        self,
        plugin_id: str,
        target_version: str | None = None,
        reason: str = "",
        *,
        user: str | None = None,
    ) -> dict[str, Any]:
        return self._manager.rollback(plugin_id, target_version, reason, user=self._who(user))

    # -- runs --------------------------------------------------------------------------------

    async def execute(
        self, plugin_id: str, body: Any, *, user: str | None = None
    ) -> dict[str, Any]:
        """Run as a REST body asks (``{"async": true}`` answers at once with the record)."""
        # The plugin is looked up on the run's own thread hop (one hop less per call).
        installed = partial(self._manager.installed, plugin_id)
        return await self._executions.execute(installed, body, user=self._who(user))

    async def execute_arrow(
        self,
        plugin_id: str,
        payload: bytes,
        query: dict[str, str],
        *,
        user: str | None = None,
        arrow_answer: bool = True,
    ) -> tuple[dict[str, Any], bytes | None]:
        """Run on an Arrow IPC body (the input table; the other fields are ``query``'s).

        The answer, and the result frame as an Arrow IPC stream when there is one and
        ``arrow_answer`` (its schema metadata ``omniscope.execution`` holds the answer).
        """
        installed = partial(self._manager.installed, plugin_id)
        return await self._executions.execute_arrow(
            installed, payload, query, user=self._who(user), arrow_answer=arrow_answer
        )

    def run(self, plugin_id: str, body: Any, *, user: str | None = None) -> dict[str, Any]:
        """Blocking run with a REST-shaped body (``input_data``, ``parameters``...)."""
        return self._executions.run(self._manager.installed(plugin_id), body, user=self._who(user))

    def run_frame(
        self, plugin_id: str, frame: pd.DataFrame | pd.Series | None, **kwargs: Any
    ) -> FrameResult:
        """Run on a DataFrame (or a Series, as one column); the result frame comes back as a
        DataFrame, never as JSON.

        Without ``extension_point`` the plugin's first declared one is used: in a notebook the
        analyst names the plugin, not the hook.
        """
        kwargs["user"] = self._who(kwargs.get("user"))
        target = self._manager.installed(plugin_id)
        if kwargs.get("extension_point") is None:
            kwargs["extension_point"] = (target.manifest.get("extension_points") or [None])[0]
        return self._executions.run_frame(target, frame, **kwargs)

    def executions_page(self, plugin_id: str, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        """Newest-first page of a plugin's runs (``NotFound`` for an unknown plugin)."""
        self._manager.details(plugin_id)
        return self._executions.page(plugin_id, page, page_size)

    async def execution(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        """One recorded run, with its result once finished."""
        return await self._executions.get(plugin_id, execution_id)

    async def cancel(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        """Cancel a queued or running run of any process on this store."""
        return await self._executions.cancel(plugin_id, execution_id)

    def execution_events(
        self, plugin_id: str, execution_id: str, after: int = 0
    ) -> dict[str, Any]:
        """A run's live events (printed lines, progress) with ``seq`` above ``after``.

        ``{"status", "finished", "events"}``; the REST events stream and notebooks poll this.
        """
        return self._executions.events(plugin_id, execution_id, after)

    # -- marketplace -----------------------------------------------------------------------

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        """Marketplace search (``query``, filters, ``sort``, pages), remotes merged in."""
        return self._marketplace.search(body)

    def search_results(self, query: str = "") -> list[dict[str, Any]]:
        """Just the hits for ``query`` (empty: everything), for notebooks and widgets."""
        return list(self.search({"query": query})["results"])

    def featured(self, limit: int | None = None) -> dict[str, Any]:
        return self._marketplace.featured(limit)

    def categories(self) -> dict[str, Any]:
        return self._marketplace.categories()

    def install_from_marketplace(
        self, body: dict[str, Any], *, user: str | None = None
    ) -> dict[str, Any]:
        """Install ``{"name", "version"?, "source"?}`` from the catalog or a configured remote."""
        return self._marketplace.install(body, user=self._who(user))

    def publish(
        self,
        package: Path,
        *,
        user: str | None = None,
        admin: bool = False,
        progress: Progress = _quiet,
    ) -> dict[str, Any]:
        """Check a package as an install would and add it to the catalog."""
        return self._marketplace.catalog.publish(
            package, user=self._who(user), admin=admin, progress=progress
        )

    def catalog_entry(self, plugin_id: str) -> dict[str, Any]:
        """A catalog entry with all its published versions."""
        return self._marketplace.catalog.details(plugin_id)

    def set_featured(self, plugin_id: str, featured: bool) -> dict[str, Any]:
        return self._marketplace.catalog.set_featured(plugin_id, featured)

    def open_archive(self, plugin_id: str, version: str) -> tuple[Path, str, int]:
        """Path, sha256 and size of a published archive (for the download route)."""
        return self._marketplace.catalog.open_archive(plugin_id, version)

    def count_download(self, plugin_id: str, version: str) -> None:
        self._marketplace.catalog.count_download(plugin_id, version)

    def rate(self, plugin_id: str, rating: Any, *, user: str | None = None) -> dict[str, Any]:
        return self._marketplace.reviews.rate(plugin_id, rating, user=self._who(user))

    def review(
        self,
        plugin_id: str,
        text: Any,
        *,
        rating: Any = None,
        version: Any = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        return self._marketplace.reviews.review(
            plugin_id, text, rating=rating, version=version, user=self._who(user)
        )

    def reviews(self, plugin_id: str, *, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        return self._marketplace.reviews.list(plugin_id, page=page, page_size=page_size)

    def readme(self, plugin_id: str, version: str | None = None) -> dict[str, Any]:
        """The plugin's ``README.md``: ``readme`` as plain text and ``html`` rendered safely
        (``safe_html``: its raw HTML escaped, the result sanitised), for a front end to show as
        it is. Both None when the package has none.

        From the installed version (default: the active one) when it is installed, else from
        the catalog's archive of ``version`` (default: the newest published one).
        """
        answer = self._readme(plugin_id, version)
        answer["html"] = markdown_to_html(answer["readme"]) if answer["readme"] else None
        return answer

    def _readme(self, plugin_id: str, version: str | None) -> dict[str, Any]:
        try:
            target = self._manager.installed(plugin_id)
        except NotFound:
            target = None
        if target is not None and version in (None, target.version):
            path = target.path / "README.md"
            text = path.read_bytes()[:MAX_README_BYTES].decode("utf-8", errors="replace") if (
                path.is_file() and not path.is_symlink()
            ) else None
            return {"plugin_id": plugin_id, "version": target.version, "readme": text}
        version = version or str(self.catalog_entry(plugin_id)["latest_version"])
        archive_path, _sha, _size = self.open_archive(plugin_id, version)
        return {"plugin_id": plugin_id, "version": version, "readme": _archive_readme(archive_path)}

    def seed_examples(self, folder: Path) -> Any:
        """Publish the bundled example plugins to the catalog when they are not there yet."""
        return self._marketplace.catalog.seed_examples(folder)

    # -- SDK -------------------------------------------------------------------------------

    @staticmethod
    def extension_points() -> list[dict[str, Any]]:
        """The ten extension points with their data contracts."""
        return [p.to_dict() for p in EXTENSION_POINTS]

    @staticmethod
    def create_project(root: Path, request: dict[str, Any]) -> dict[str, Any]:
        """Scaffold a plugin project under ``root`` (see ``sdk.create_project``)."""
        return create_project(root, request)

    def scan_package(self, path: str | Path) -> dict[str, Any]:
        """The security scan an install would run, of a ``.tar.gz`` or folder, storing nothing.

        Answers ``{"name", "version", "passed", "report"}`` whatever the verdict; an invalid
        package or manifest raises ``InvalidPackage`` as an install would.
        """
        path = Path(path)
        staging = self._manager.new_staging_dir()
        try:
            if path.is_dir():
                packed = staging / f"{path.resolve().name}.tar.gz"
                archive.pack(path, packed)
                path = packed
            root = archive.extract(path, staging / "pkg", self._manager.limits)
            manifest = read_manifest(root)
            report = self._manager.scanner.scan(root, manifest.as_dict())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return {
            "name": manifest.name,
            "version": manifest.version,
            "passed": not report.blocking,
            "report": report.to_dict(),
        }


__all__ = ["ARROW_STREAM", "FrameResult", "PluginSystem"]
