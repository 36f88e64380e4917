"""The jupyter_server extension: the REST routes, the plugin system's life with the server.

Loaded automatically by JupyterLab / Jupyter Server (``jupyter-config`` enables it) and also
launchable on its own (``jupyter omniscope``), where it listens on port 8001 so the spec's curl
lines work as written. The settings are ``config.OmniscopeConfig``'s, inherited: they are set as
``c.OmniscopeApp.<name>``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join

from .._version import __version__
from ..config import (
    DATA_DIR_ENV,
    DB_URL_ENV,
    SERVER_URL_ENV,
    TOKEN_ENV,
    OmniscopeConfig,
    make_system,
)
from ..core.system import PluginSystem
from ..errors import SandboxUnavailable
from ..marketplace import bundled_examples_dir
from .executors import WorkPools
from .routes import API_PREFIX, route_table


class OmniscopeApp(OmniscopeConfig, ExtensionApp):
    """OmniScope plugin system: install, scan, version and run analysis plugins."""

    name = "omniscope"
    version = __version__
    description = __doc__
    load_other_extensions = True
    #: Only used when launched on its own (``jupyter omniscope``): the spec's port.
    serverapp_config = {  # noqa: RUF012 (the base's shape)
        "port": 8001,
        "open_browser": False,
        "identity_provider_class": "omniscope_jupyter.web.identity.TokenUserIdentityProvider",
    }

    def _jupyter_server_config(self) -> dict[str, Any]:
        """``serverapp_config`` as defaults only: the command line and config files win.

        jupyter_server applies this after it parsed the command line (``ServerApp.initialize``
        ends with ``update_config`` of it), so as given it would override ``--port`` and
        ``--ServerApp.port``: keys the server's config already holds are left out.
        """
        config: dict[str, Any] = super()._jupyter_server_config()
        given = self.serverapp.config.get("ServerApp", {}) if self.serverapp is not None else {}
        config["ServerApp"] = {k: v for k, v in config["ServerApp"].items() if k not in given}
        return config

    def initialize_settings(self) -> None:
        self.system = make_system(self)
        # Opening the store includes finishing what a crash interrupted, before any request.
        self.system.recover()
        root = self.sdk_root_dir or (self.serverapp.root_dir if self.serverapp else ".")
        self.work_pools = WorkPools(self.work_threads)
        self.settings.update(
            omniscope_system=self.system,
            omniscope_work_pools=self.work_pools,
            omniscope_max_upload_bytes=self.max_upload_bytes,
            omniscope_sdk_root_dir=str(Path(root).expanduser()),
        )
        # Kernels and terminals this server launches inherit its environment: they open this
        # store rather than whatever their own config would find (config.open_system).
        names = (DATA_DIR_ENV, DB_URL_ENV, SERVER_URL_ENV, TOKEN_ENV)
        self._saved_env = {name: os.environ.get(name) for name in names}
        _set_env(DATA_DIR_ENV, str(Path(self.data_dir).resolve()))
        _set_env(DB_URL_ENV, self.db_url or None)
        # And their notebooks run plugins through this server: it alone needs the Docker socket.
        self._export_server_url()
        self.log.info("OmniScope plugin store at %s", self.store_description())

    def _export_server_url(self) -> None:
        """Set ``OMNISCOPE_SERVER_URL`` (with the base_url) and ``OMNISCOPE_TOKEN`` for kernels.

        Not over a unix socket (a kernel's HTTP client cannot reach one): kernels then find the
        server from its runtime file, or run plugins themselves.
        """
        app = self.serverapp
        if app is None or app.sock:
            return
        _set_env(SERVER_URL_ENV, app.connection_url)
        _set_env(TOKEN_ENV, app.identity_provider.token or None)

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            (url_path_join(API_PREFIX, path), handler, kwargs)
            for path, handler, kwargs in route_table()
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Background work starts here, once the event loop runs (never in initialize_settings)."""
        # The port is final only now (the server may have moved to a free one).
        self._export_server_url()
        if self.seed_marketplace:
            folder = (
                Path(self.marketplace_examples_dir)
                if self.marketplace_examples_dir
                else bundled_examples_dir()
            )
            # A slow scan must not delay start-up: seed in a worker thread.
            self._seed_task = asyncio.create_task(
                asyncio.to_thread(self.system.seed_examples, folder)
            )
        # Reap containers a previous server left and close its unfinished execution records.
        try:
            await self.system.startup()
        except SandboxUnavailable as e:
            self.log.warning("OmniScope sandbox unavailable at start (runs answer 503): %s", e)
        # And keep doing so: a kernel or CLI on this store may die mid-run at any time.
        self._sweep_task = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        period = self.sandbox_settings().sweep_seconds
        while True:
            await asyncio.sleep(period)
            try:
                await asyncio.to_thread(self.system.sweep)
            except SandboxUnavailable:
                pass  # no engine now: records were closed, containers wait for the next sweep
            except Exception:  # a sweep must never end the loop; the next one retries
                self.log.exception("OmniScope periodic sweep failed")

    async def stop_extension(self) -> None:
        sweep: asyncio.Task[None] | None = getattr(self, "_sweep_task", None)
        if sweep is not None:
            sweep.cancel()
        seed: Any = getattr(self, "_seed_task", None)
        if seed is not None and not seed.done():
            await asyncio.wait([seed], timeout=30)
        system: PluginSystem | None = getattr(self, "system", None)
        if system is not None:
            await system.shutdown()
            system.close()
        pools: WorkPools | None = getattr(self, "work_pools", None)
        if pools is not None:
            pools.shutdown()
        for name, value in getattr(self, "_saved_env", {}).items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


main = launch_new_instance = OmniscopeApp.launch_instance
