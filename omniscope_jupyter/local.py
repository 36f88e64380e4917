"""The plugin system's core opened in-process, as the server, ``omniplug`` and notebooks use it.

``Core`` bundles what a caller needs besides HTTP: the plugin manager (store and lifecycle), the
execution service (sandbox) and the marketplace. ``open_core`` builds one from the same
configuration the server reads (``c.OmniscopeApp.*``), so all three see the same store.
"""

from __future__ import annotations

import getpass
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import archive
from .executions import ExecutionService, FrameResult
from .manager import PluginManager, Progress
from .marketplace import Marketplace


def _quiet(step: str, detail: str) -> None:
    """Default progress callback: say nothing."""


@dataclass
class Core:
    """Manager, executions and marketplace on one store, plus who is acting."""

    manager: PluginManager
    executions: ExecutionService
    marketplace: Marketplace
    user: str = ""

    def install_path(
        self,
        path: str | Path,
        *,
        user: str | None = None,
        force: bool = False,
        enable: bool = False,
        progress: Progress = _quiet,
    ) -> dict[str, Any]:
        """Install a ``.tar.gz`` or a plugin folder (packed first, as ``tar -czf`` would)."""
        user = self.user if user is None else user
        path = Path(path)
        with tempfile.TemporaryDirectory() as tmp:
            if path.is_dir():
                progress("pack", str(path))
                packed = Path(tmp) / f"{path.resolve().name}.tar.gz"
                archive.pack(path, packed)
                path = packed
            result = self.manager.install(path, user=user, force=force, progress=progress)
        if enable and not result["enabled"]:
            self.manager.set_enabled(result["plugin_id"], True, user=user)
            result["enabled"] = True
        return result

    def uninstall(self, plugin_id: str, user: str | None = None) -> dict[str, Any]:
        """Uninstall a plugin and remove what the sandbox kept for it (volume, unused images).

        The store's removal is what counts: sandbox clean-up is best effort and never fails it.
        """
        user = self.user if user is None else user
        digests = self.executions.lock_digests(plugin_id)
        result = self.manager.uninstall(plugin_id, user=user)
        self.executions.forget_plugin(plugin_id, digests)
        return result

    def run_frame(self, plugin_id: str, frame: pd.DataFrame | None, **kwargs: Any) -> FrameResult:
        """Run an installed plugin on a DataFrame in the sandbox (see ``run_frame``).

        Without ``extension_point`` the plugin's first declared one is used: in a notebook the
        analyst names the plugin, not the hook.
        """
        kwargs.setdefault("user", self.user)
        target = self.manager.installed(plugin_id)
        if kwargs.get("extension_point") is None:
            kwargs["extension_point"] = (target.manifest.get("extension_points") or [None])[0]
        return self.executions.run_frame(target, frame, **kwargs)

    def run(self, plugin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run an installed plugin with a REST-shaped body (``input_data``, ``parameters``...)."""
        return self.executions.run(self.manager.installed(plugin_id), body, user=self.user)

    def executions_page(self, plugin_id: str, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        self.manager.details(plugin_id)  # NotFound for an unknown plugin
        return self.executions.page(plugin_id, page, page_size)

    def search(self, query: str = "") -> list[dict[str, Any]]:
        """Marketplace hits for ``query`` (empty: everything)."""
        return list(self.marketplace.search({"query": query})["results"])

    def install_from_catalog(self, name: str, version: str | None = None) -> dict[str, Any]:
        return dict(self.marketplace.catalog.install(name, version, user=self.user))

    def update(
        self, plugin_id: str, target_version: str | None = None, *, user: str | None = None
    ) -> dict[str, Any]:
        """Switch to a newer version, installing it from the catalog first when only published.

        The REST API and ``omniplug update`` both come here, so they answer alike. A wrong
        target (not semver, the active one, older than it) is refused before anything is
        fetched: nothing gets installed and no download is counted for an update that cannot
        happen. ``target_version`` None means the newest version, installed or published.
        """
        user = self.user if user is None else user
        installed = self.manager.check_switch(plugin_id, target_version, newer=True)
        catalog = self.marketplace.catalog
        fetch = catalog.version_to_fetch(plugin_id, target_version, installed)
        if fetch is not None:
            catalog.install(plugin_id, fetch, user=user)
        return self.manager.update(plugin_id, target_version, user=user)

    def close(self) -> None:
        self.manager.close()


def open_core(
    data_dir: str | None = None, db_url: str | None = None, user: str | None = None
) -> Core:
    """A ``Core`` on the configured store (``data_dir``/``db_url`` override the config)."""
    from .extension import OmniscopeApp

    app = OmniscopeApp()
    app.load_config_file()
    if data_dir:
        app.data_dir = data_dir
    if db_url:
        app.db_url = db_url
    core = app.make_core()
    core.manager.recover()
    core.user = user if user is not None else getpass.getuser()
    return core
