"""The jupyter_server extension: settings as traitlets, the store, the REST routes.

Loaded automatically by JupyterLab / Jupyter Server (``jupyter-config`` enables it) and also
launchable on its own (``jupyter omniscope``), where it listens on port 8001 so the spec's curl
lines work as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
import asyncio

from traitlets import Bool, Dict, Float, Int, List, Type, Unicode, default

from ._version import __version__
from .archive import ArchiveLimits
from .handlers import route_table
from .manager import PluginManager
from .marketplace import Marketplace, bundled_examples_dir

API_PREFIX = "/api/plugins"


class OmniscopeApp(ExtensionApp):
    """OmniScope plugin system: install, scan, version and run analysis plugins."""

    name = "omniscope"
    version = __version__
    description = __doc__
    load_other_extensions = True
    #: Only used when launched on its own (``jupyter omniscope``): the spec's port.
    serverapp_config = {"port": 8001, "open_browser": False}

    data_dir = Unicode(
        help="Folder of the plugin store (installed versions, staging, SQLite database). "
        "Default: <jupyter data dir>/omniscope."
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(Path(jupyter_data_dir()) / "omniscope")

    db_url = Unicode(
        "",
        help="SQLAlchemy URL of the store database, e.g. postgresql+psycopg://user@host/db. "
        "Empty: SQLite in data_dir.",
    ).tag(config=True)

    sdk_root_dir = Unicode(
        "",
        help="Folder where POST /api/plugins/sdk/create makes plugin projects. "
        "Empty: the server's root_dir.",
    ).tag(config=True)

    max_upload_bytes = Int(
        50 * 1024 * 1024, help="Largest accepted plugin upload, in bytes (larger: 413)."
    ).tag(config=True)
    max_unpacked_bytes = Int(
        200 * 1024 * 1024, help="Largest total size a package may extract to, in bytes."
    ).tag(config=True)
    max_archive_members = Int(2000, help="Most entries a package archive may hold.").tag(
        config=True
    )
    max_archive_depth = Int(16, help="Deepest folder nesting a package archive may hold.").tag(
        config=True
    )
    allow_force_install = Bool(
        False,
        help="Whether an authorized user may install a package the security scan refused "
        "(force=true); every forced install is recorded in the version history.",
    ).tag(config=True)

    scan_vulndb_path = Unicode(
        "",
        help="Vulnerability database for the dependency scan: a safety-db insecure_full.json, "
        "an OSV directory or an OSV all.zip (scripts/fetch-vulndb.sh). Empty: the safety-db "
        "package's copy (dated 2021-07, CC BY-NC-SA: use OSV data for commercial use).",
    ).tag(config=True)
    scan_max_file_bytes = Int(
        2 * 1024 * 1024, help="Largest single file a plugin package may hold (scan finding)."
    ).tag(config=True)

    scanner_class = Type(
        default_value="omniscope_jupyter.scan.scanner.PackageScanner",
        klass=object,
        help="The install pipeline's security scan stage (see omniscope_jupyter.stages).",
    ).tag(config=True)
    dependency_resolver_class = Type(
        default_value="omniscope_jupyter.stages.DeclaredDependencies",
        klass=object,
        help="The install pipeline's dependency stage (see omniscope_jupyter.stages).",
    ).tag(config=True)

    remote_marketplaces = List(
        Dict(),
        default_value=[],
        help='Other OmniScope marketplaces merged into search and installable from: '
        '[{"url": "https://host/base_url", "token": "<Jupyter token there>", "name": "team"}]; '
        "name tags their results (default the URL); an unreachable one is reported, never fatal.",
    ).tag(config=True)
    remote_marketplace_timeout = Float(
        5.0, help="Seconds each call to a remote marketplace may take."
    ).tag(config=True)
    seed_marketplace = Bool(
        True,
        help="At start, publish the bundled example plugins to the marketplace catalog when "
        "they are not there yet (idempotent).",
    ).tag(config=True)
    marketplace_examples_dir = Unicode(
        "",
        help="Folder whose plugin folders seed the catalog. Empty: the bundled plugins/examples.",
    ).tag(config=True)
    review_max_chars = Int(5000, help="Longest accepted review text, in characters.").tag(
        config=True
    )
    featured_count = Int(
        6, help="How many plugins GET /api/plugins/marketplace/featured returns by default."
    ).tag(config=True)

    def make_manager(self) -> PluginManager:
        """Build the core from the traits (also used by tests)."""
        return PluginManager(
            Path(self.data_dir),
            self.db_url or None,
            scanner=self.scanner_class(
                vulndb_path=self.scan_vulndb_path or None,
                max_file_bytes=self.scan_max_file_bytes,
            ),
            resolver=self.dependency_resolver_class(),
            limits=ArchiveLimits(
                max_members=self.max_archive_members,
                max_unpacked_bytes=self.max_unpacked_bytes,
                max_depth=self.max_archive_depth,
            ),
            allow_force=self.allow_force_install,
        )

    def initialize_settings(self) -> None:
        self.manager = self.make_manager()
        # Opening the store includes finishing what a crash interrupted, before any request.
        self.manager.recover()
        root = self.sdk_root_dir or (self.serverapp.root_dir if self.serverapp else ".")
        self.marketplace = Marketplace(
            self.manager,
            remotes=self.remote_marketplaces,
            review_max_chars=self.review_max_chars,
            remote_timeout=self.remote_marketplace_timeout,
            featured_count=self.featured_count,
        )
        self.settings.update(
            omniscope_manager=self.manager,
            omniscope_marketplace=self.marketplace,
            omniscope_max_upload_bytes=self.max_upload_bytes,
            omniscope_sdk_root_dir=str(Path(root).expanduser()),
        )
        self.log.info("OmniScope plugin store at %s", self.data_dir)

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            (url_path_join(API_PREFIX, path), handler, kwargs)
            for path, handler, kwargs in route_table()
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Background work starts here, once the event loop runs (never in initialize_settings)."""
        if self.seed_marketplace:
            folder = (
                Path(self.marketplace_examples_dir)
                if self.marketplace_examples_dir
                else bundled_examples_dir()
            )
            # A slow scan must not delay start-up: seed in a worker thread.
            self._seed_task = asyncio.create_task(
                asyncio.to_thread(self.marketplace.catalog.seed_examples, folder)
            )

    async def stop_extension(self) -> None:
        seed: Any = getattr(self, "_seed_task", None)
        if seed is not None and not seed.done():
            await asyncio.wait([seed], timeout=30)
        manager: Any = getattr(self, "manager", None)
        if manager is not None:
            manager.close()


main = launch_new_instance = OmniscopeApp.launch_instance
