"""The jupyter_server extension: settings as traitlets, the store, the REST routes.

Loaded automatically by JupyterLab / Jupyter Server (``jupyter-config`` enables it) and also
launchable on its own (``jupyter omniscope``), where it listens on port 8001 so the spec's curl
lines work as written.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Dict, Float, Int, List, Type, Unicode, default

from ._version import __version__
from .archive import ArchiveLimits
from .errors import SandboxUnavailable
from .executions import ExecutionService
from .handlers import route_table
from .local import Core
from .manager import PluginManager
from .marketplace import Marketplace, bundled_examples_dir
from .sandbox.dependencies import probe_runner_image
from .sandbox.runner import SandboxRunner
from .sandbox.settings import SandboxSettings, owner_for
from .stages import DependencyStage, ScanStage

API_PREFIX = "/api/plugins"


class OmniscopeApp(ExtensionApp):
    """OmniScope plugin system: install, scan, version and run analysis plugins."""

    name = "omniscope"
    version = __version__
    description = __doc__
    load_other_extensions = True
    #: Only used when launched on its own (``jupyter omniscope``): the spec's port.
    serverapp_config = {  # noqa: RUF012 (the base's shape)
        "port": 8001,
        "open_browser": False,
        "identity_provider_class": "omniscope_jupyter.identity.TokenUserIdentityProvider",
    }

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
        default_value="omniscope_jupyter.sandbox.dependencies.DependencyResolver",
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

    sandbox_memory = Unicode("512m", help="Memory of one plugin run (memory+swap equal: no swap).").tag(
        config=True
    )
    sandbox_cpus = Float(1.0, help="CPU quota of one plugin run, in cores.").tag(config=True)
    sandbox_timeout = Float(
        60.0, help="Wall-clock seconds a run may take (a request may only ask for less)."
    ).tag(config=True)
    sandbox_pids = Int(100, help="Most processes/threads in a plugin's container.").tag(config=True)
    sandbox_tmpfs_size = Unicode("64m", help="Size cap of the writable /tmp of a run.").tag(
        config=True
    )
    sandbox_log_cap_bytes = Int(
        64 * 1024, help="Captured stdout and stderr of a run are each cut to this size."
    ).tag(config=True)
    sandbox_max_concurrent_runs = Int(
        4, help="Runs this process executes at once; more wait as 'queued' (the API stays free)."
    ).tag(config=True)
    sandbox_max_output_decoded_bytes = Int(
        512 * 1024 * 1024,
        help="A run's Arrow output is refused, before decoding, past this decoded size.",
    ).tag(config=True)
    sandbox_max_output_cells = Int(
        10_000_000, help="A run's Arrow output is refused, before decoding, past this many values."
    ).tag(config=True)
    sandbox_max_volume_bytes = Int(
        1024 * 1024 * 1024,
        help="A file_system plugin's /data volume is emptied (with a warning) when a run leaves "
        "it larger than this (checked after each run).",
    ).tag(config=True)
    sandbox_image_mode = Unicode(
        "offline",
        help="offline: build the runner image from a debootstrap of Debian (no registry needed); "
        "pull: plain Dockerfiles FROM python:3.11-slim / r-base for machines that can pull.",
    ).tag(config=True)
    sandbox_cache_dir = Unicode(
        "", help="Cache of rootfs tarballs and wheels. Empty: ~/.cache/omniscope."
    ).tag(config=True)

    def sandbox_settings(self) -> SandboxSettings:
        """The sandbox limits from the traits; containers are labelled with this store's owner."""
        data_dir = Path(self.data_dir)
        extra: dict[str, Any] = {}
        if self.sandbox_cache_dir:
            extra["cache_dir"] = Path(self.sandbox_cache_dir)
        return SandboxSettings(
            memory=self.sandbox_memory,
            cpus=self.sandbox_cpus,
            timeout=self.sandbox_timeout,
            pids=self.sandbox_pids,
            tmpfs_size=self.sandbox_tmpfs_size,
            log_cap_bytes=self.sandbox_log_cap_bytes,
            max_concurrent_runs=self.sandbox_max_concurrent_runs,
            max_output_decoded_bytes=self.sandbox_max_output_decoded_bytes,
            max_output_cells=self.sandbox_max_output_cells,
            max_volume_bytes=self.sandbox_max_volume_bytes,
            image_mode=self.sandbox_image_mode,
            work_dir=data_dir / "runs",
            owner=owner_for(data_dir),
            **extra,
        )

    def make_core(self) -> Core:
        """Build manager, executions and marketplace from the traits (server, CLI, notebooks)."""
        settings = self.sandbox_settings()
        runner = SandboxRunner(settings)
        facts = functools.cache(
            lambda: probe_runner_image(runner.client(), runner.images()["python"])
        )
        pulled = settings.image_mode == "pull"
        make_scanner = cast(Callable[..., ScanStage], self.scanner_class)
        make_resolver = cast(Callable[..., DependencyStage], self.dependency_resolver_class)
        manager = PluginManager(
            Path(self.data_dir),
            self.db_url or None,
            scanner=make_scanner(
                vulndb_path=self.scan_vulndb_path or None,
                max_file_bytes=self.scan_max_file_bytes,
                sandbox_settings=settings,
            ),
            resolver=make_resolver(
                wheel_cache=settings.wheel_cache,
                base_packages=lambda: facts()["python_packages"],
                r_packages=lambda: facts()["r_packages"],
                python_version="3.11" if pulled else "3.13",
                glibc="2.36" if pulled else "2.41",
            ),
            limits=ArchiveLimits(
                max_members=self.max_archive_members,
                max_unpacked_bytes=self.max_unpacked_bytes,
                max_depth=self.max_archive_depth,
            ),
            allow_force=self.allow_force_install,
        )
        executions = ExecutionService(manager.sessions, runner, settings)
        marketplace = Marketplace(
            manager,
            remotes=self.remote_marketplaces,
            review_max_chars=self.review_max_chars,
            remote_timeout=self.remote_marketplace_timeout,
            featured_count=self.featured_count,
        )
        return Core(manager, executions, marketplace)

    def initialize_settings(self) -> None:
        self.core = self.make_core()
        # Opening the store includes finishing what a crash interrupted, before any request.
        self.core.manager.recover()
        root = self.sdk_root_dir or (self.serverapp.root_dir if self.serverapp else ".")
        self.settings.update(
            omniscope_core=self.core,
            omniscope_manager=self.core.manager,
            omniscope_marketplace=self.core.marketplace,
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
                asyncio.to_thread(self.core.marketplace.catalog.seed_examples, folder)
            )
        # Reap containers a previous server left and close its unfinished execution records.
        try:
            await self.core.executions.startup()
        except SandboxUnavailable as e:
            self.log.warning("OmniScope sandbox unavailable at start (runs answer 503): %s", e)

    async def stop_extension(self) -> None:
        seed: Any = getattr(self, "_seed_task", None)
        if seed is not None and not seed.done():
            await asyncio.wait([seed], timeout=30)
        core: Core | None = getattr(self, "core", None)
        if core is not None:
            await core.executions.shutdown()
            core.close()


main = launch_new_instance = OmniscopeApp.launch_instance
