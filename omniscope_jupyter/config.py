"""The composition root: every setting as a traitlet, and the one place the core is assembled.

``OmniscopeConfig`` holds the settings; the server extension (``web.extension.OmniscopeApp``)
inherits them, so ``c.OmniscopeApp.<name>`` in ``jupyter_server_config.py`` or
``--OmniscopeApp.<name>=`` on the command line set them as before. ``make_system`` builds the
``PluginSystem`` from them; ``open_system`` does the same for ``omniplug`` and notebook kernels.

Which store a process opens, in order: explicit arguments (``omniplug --data-dir``), the
``OMNISCOPE_DATA_DIR``/``OMNISCOPE_DB_URL`` environment a server sets for the kernels and
terminals it launches, ``c.OmniscopeApp.*`` (or ``c.OmniscopeConfig.*``) in
``jupyter_server_config.py`` or ``jupyter_omniscope_config.py``, then the default
(``<jupyter data dir>/omniscope``).
"""

from __future__ import annotations

import functools
import getpass
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir
from traitlets import Bool, Dict, Float, Int, List, TraitError, Type, Unicode, default, validate
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

from .archive import ArchiveLimits
from .core.lifecycle import PluginManager
from .core.system import PluginSystem
from .marketplace import Marketplace
from .sandbox import firewall
from .sandbox.dependencies import DependencyResolver, probe_runner_image
from .sandbox.executions import ExecutionService
from .sandbox.firewall import FirewallPolicy
from .sandbox.runner import SandboxRunner
from .sandbox.runner_image import runner_image_facts
from .sandbox.settings import SandboxSettings, owner_for, run_dir_for
from .scan.scanner import PackageScanner
from .stages import DependencyStage, ScanStage

#: Set by the server for the kernels and terminals it launches: they open the server's store.
DATA_DIR_ENV = "OMNISCOPE_DATA_DIR"
DB_URL_ENV = "OMNISCOPE_DB_URL"
#: Also set for them: the server's URL (with its base_url) and token, so a kernel's notebook
#: layer runs plugins through the server's REST API (``notebook/client.py``).
SERVER_URL_ENV = "OMNISCOPE_SERVER_URL"
TOKEN_ENV = "OMNISCOPE_TOKEN"
#: The config files read by ``open_system`` (in each Jupyter config dir, later ones win).
CONFIG_FILES = ("jupyter_server_config", "jupyter_omniscope_config")
#: Config sections read as this configuration (the server extension's name first).
CONFIG_SECTIONS = ("OmniscopeApp", "OmniscopeConfig")
_SANDBOX = SandboxSettings()


class OmniscopeConfig(Configurable):
    """Every setting of the plugin system (store, install caps, scan, marketplace, sandbox)."""

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
    strict_manifest = Bool(
        False,
        help="Refuse a package whose manifest.json has top-level fields this platform does not "
        "know. Default: install it and list the fields in the answer's warnings, so manifests "
        "written for a newer platform install where their min_platform_version allows.",
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
        default_value=PackageScanner,
        klass=ScanStage,
        help="The install pipeline's security scan stage (see omniscope_jupyter.stages).",
    ).tag(config=True)
    dependency_resolver_class = Type(
        default_value=DependencyResolver,
        klass=DependencyStage,
        help="The install pipeline's dependency stage (see omniscope_jupyter.stages).",
    ).tag(config=True)

    work_threads = Dict(
        value_trait=Int(),
        default_value={},
        help="Threads per kind of blocking request work, e.g. {'install': 2}: 'read' (quick "
        "store reads, default 8), 'install' (scans, installs, publishes, updates, 2), 'remote' "
        "(other marketplaces, 4), 'data' (run data encoding, 2). Slow work of one kind never "
        "delays another kind's requests.",
    ).tag(config=True)

    remote_marketplaces = List(
        Dict(),
        default_value=[],
        help="Other OmniScope marketplaces merged into search and installable from: "
        '[{"url": "https://host/base_url", "token": "<Jupyter token there>", "name": "team"}]; '
        "name tags their results and is how requests name a remote (default host[:port]; "
        "requests name remotes by name only, never by URL); no credentials or query in url; an "
        "unreachable one is reported, never fatal.",
    ).tag(config=True)
    remote_marketplace_timeout = Float(
        5.0,
        help="Wall-clock seconds each JSON call to a remote marketplace (search, plugin details) "
        "may take in total, however slowly it answers.",
    ).tag(config=True)
    remote_marketplace_download_timeout = Float(
        120.0,
        help="Wall-clock seconds an archive download from a remote marketplace may take in total.",
    ).tag(config=True)
    remote_marketplace_max_answer_bytes = Int(
        4 * 1024 * 1024,
        help="Largest JSON answer (search, plugin details) read from a remote marketplace; a "
        "larger one is reported as that remote failing.",
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

    sandbox_memory = Unicode(
        _SANDBOX.memory, help="Memory of one plugin run (memory+swap equal: no swap)."
    ).tag(config=True)
    sandbox_cpus = Float(_SANDBOX.cpus, help="CPU quota of one plugin run, in cores.").tag(
        config=True
    )
    sandbox_timeout = Float(
        _SANDBOX.timeout,
        help="Wall-clock seconds a run may take when its request names no timeout.",
    ).tag(config=True)
    sandbox_max_timeout = Float(
        _SANDBOX.max_timeout,
        help="The longest timeout, in seconds, a run's request may ask for (more: a 400).",
    ).tag(config=True)
    sandbox_pids = Int(_SANDBOX.pids, help="Most processes/threads in a plugin's container.").tag(
        config=True
    )
    sandbox_tmpfs_size = Unicode(
        _SANDBOX.tmpfs_size, help="Size cap of the writable /tmp of a run."
    ).tag(config=True)
    sandbox_log_cap_bytes = Int(
        _SANDBOX.log_cap_bytes,
        help="Captured stdout and stderr of a run are each cut to this size.",
    ).tag(config=True)
    sandbox_max_concurrent_runs = Int(
        _SANDBOX.max_concurrent_runs,
        help="Runs this process executes at once; more wait as 'queued' (the API stays free).",
    ).tag(config=True)
    sandbox_max_queued_per_user = Int(
        _SANDBOX.max_queued_per_user,
        help="Runs one user may have queued in this process; one more is refused with 429.",
    ).tag(config=True)
    sandbox_max_queued = Int(
        _SANDBOX.max_queued,
        help="Runs all users together may have queued in this process; beyond: 429.",
    ).tag(config=True)
    sandbox_pool_size = Int(
        _SANDBOX.pool_size,
        help="Warm sandbox containers (runner started, pandas imported) kept ready per image, "
        "language and permission profile; 0 starts every plugin's first container on demand.",
    ).tag(config=True)
    sandbox_pool_max_containers = Int(
        _SANDBOX.pool_max_containers,
        help="Most sandbox containers this process keeps (warm, bound to a plugin and user, "
        "running); the longest-idle one is retired to make room.",
    ).tag(config=True)
    sandbox_pool_idle_seconds = Float(
        _SANDBOX.pool_idle_seconds,
        help="A container bound to a plugin version and user retires after this long unused.",
    ).tag(config=True)
    sandbox_out_size = Unicode(
        _SANDBOX.out_size, help="Size cap of a run's /out (a tmpfs in the container)."
    ).tag(config=True)
    sandbox_out_files = Int(
        _SANDBOX.out_files, help="Most files (inodes) a run's /out and /tmp may each hold."
    ).tag(config=True)
    sandbox_max_json_answer_bytes = Int(
        _SANDBOX.max_json_answer_bytes,
        help="A result frame larger than this as JSON is left out of a JSON answer (with a "
        "warning); ask for Arrow (Accept: application/vnd.apache.arrow.stream) instead.",
    ).tag(config=True)
    sandbox_volume_check_seconds = Float(
        _SANDBOX.volume_check_seconds,
        help="Seconds the post-run size check of a file_system plugin's /data may take.",
    ).tag(config=True)
    sandbox_run_dir = Unicode(
        "",
        help="Private folder of the sandbox's run folders (mounted into containers, so its path "
        "is visible to plugins). Empty: <system temp dir>/omniscope-<store hash>.",
    ).tag(config=True)
    sandbox_max_output_decoded_bytes = Int(
        _SANDBOX.max_output_decoded_bytes,
        help="A run's Arrow output is refused, before decoding, past this decoded size.",
    ).tag(config=True)
    sandbox_max_output_cells = Int(
        _SANDBOX.max_output_cells,
        help="A run's Arrow output is refused, before decoding, past this many values.",
    ).tag(config=True)
    sandbox_results_budget_bytes = Int(
        _SANDBOX.results_budget_bytes,
        help="Decoded bytes of result frames all runs of this process may hold at once, from "
        "before decoding until their answer is made; a result that does not fit waits up to "
        "sandbox_results_budget_wait_seconds, then its run fails. Default: a quarter of the "
        "host's (or the container's) memory, between 256 MiB and 4 GiB.",
    ).tag(config=True)
    sandbox_results_budget_wait_seconds = Float(
        _SANDBOX.results_budget_wait_seconds,
        help="Seconds a result waits for room in sandbox_results_budget_bytes before its run "
        "fails (0: fail at once).",
    ).tag(config=True)
    sandbox_max_volume_bytes = Int(
        _SANDBOX.max_volume_bytes,
        help="A file_system plugin's /data volume is emptied (with a warning) when a run leaves "
        "it larger than this (checked after each run).",
    ).tag(config=True)
    sandbox_runtime = Unicode(
        _SANDBOX.runtime,
        help="OCI runtime of every plugin container: runc (Docker's default) or runsc (gVisor: "
        "a user-space kernel between plugins and the host's; scripts/ensure-docker.sh registers "
        "it where Debian's runsc package is installed). Checked at start.",
    ).tag(config=True)
    sandbox_firewall = Bool(
        _SANDBOX.firewall,
        help="Install and verify the iptables rules that keep containers on the omniscope-sandbox "
        "network (plugins holding 'network', the dependency resolver) off this host, other "
        "containers and private ranges; without verified rules network runs answer 503. "
        "False only where the host firewalls that bridge otherwise.",
    ).tag(config=True)
    sandbox_network_allow = List(
        Unicode(),
        default_value=list(_SANDBOX.network_allow),
        help="Private IPv4 addresses or CIDRs the sandbox network may reach despite the firewall "
        "(e.g. an internal package index: [\"10.1.2.3/32\"]).",
    ).tag(config=True)

    @validate("sandbox_network_allow")
    def _valid_allow(self, proposal: Any) -> list[str]:
        try:
            FirewallPolicy(allow=tuple(proposal["value"]))
        except ValueError as exc:
            raise TraitError(f"sandbox_network_allow: {exc}") from exc
        return list(proposal["value"])

    sandbox_image_mode = Unicode(
        _SANDBOX.image_mode,
        help="offline: build the runner image from a debootstrap of Debian (no registry needed); "
        "pull: plain Dockerfiles FROM python:3.11-slim / r-base for machines that can pull.",
    ).tag(config=True)
    sandbox_cache_dir = Unicode(
        "", help="Cache of rootfs tarballs and wheels. Empty: ~/.cache/omniscope."
    ).tag(config=True)

    def sandbox_settings(self) -> SandboxSettings:
        """The sandbox limits from the traits; containers are labelled with this store's owner."""
        data_dir = Path(self.data_dir)
        owner = owner_for(data_dir)
        extra: dict[str, Any] = {}
        if self.sandbox_cache_dir:
            extra["cache_dir"] = Path(self.sandbox_cache_dir)
        return SandboxSettings(
            memory=self.sandbox_memory,
            cpus=self.sandbox_cpus,
            timeout=self.sandbox_timeout,
            max_timeout=self.sandbox_max_timeout,
            pids=self.sandbox_pids,
            tmpfs_size=self.sandbox_tmpfs_size,
            log_cap_bytes=self.sandbox_log_cap_bytes,
            max_concurrent_runs=self.sandbox_max_concurrent_runs,
            max_output_decoded_bytes=self.sandbox_max_output_decoded_bytes,
            max_output_cells=self.sandbox_max_output_cells,
            results_budget_bytes=self.sandbox_results_budget_bytes,
            results_budget_wait_seconds=self.sandbox_results_budget_wait_seconds,
            max_volume_bytes=self.sandbox_max_volume_bytes,
            runtime=self.sandbox_runtime,
            firewall=self.sandbox_firewall,
            network_allow=tuple(self.sandbox_network_allow),
            image_mode=self.sandbox_image_mode,
            max_queued_per_user=self.sandbox_max_queued_per_user,
            max_queued=self.sandbox_max_queued,
            pool_size=self.sandbox_pool_size,
            pool_max_containers=self.sandbox_pool_max_containers,
            pool_idle_seconds=self.sandbox_pool_idle_seconds,
            out_size=self.sandbox_out_size,
            out_files=self.sandbox_out_files,
            max_json_answer_bytes=self.sandbox_max_json_answer_bytes,
            volume_check_seconds=self.sandbox_volume_check_seconds,
            work_dir=Path(self.sandbox_run_dir) if self.sandbox_run_dir else run_dir_for(owner),
            owner=owner,
            **extra,
        )

    def store_description(self) -> str:
        """Which store this configuration opens, for the line every entry point prints."""
        return f"{self.data_dir} ({self.db_url.split('@')[-1] if self.db_url else 'SQLite'})"


def make_system(config: OmniscopeConfig, user: str = "") -> PluginSystem:
    """Build the plugin system from ``config``: the server, ``omniplug`` and kernels call this."""
    settings = config.sandbox_settings()
    # The firewall is one per host: every container this process puts on the sandbox network
    # (plugin runs, the dependency resolver) is checked against this policy.
    firewall.configure(FirewallPolicy(enabled=settings.firewall, allow=settings.network_allow))
    runner = SandboxRunner(settings)
    facts = functools.cache(
        lambda: probe_runner_image(runner.client(), runner.images()["python"], settings)
    )
    image = runner_image_facts(settings.image_mode)
    manager = PluginManager(
        Path(config.data_dir),
        config.db_url or None,
        scanner=config.scanner_class(
            vulndb_path=config.scan_vulndb_path or None,
            max_file_bytes=config.scan_max_file_bytes,
            sandbox_settings=settings,
            base_packages=lambda: facts()["python_packages"],
        ),
        resolver=config.dependency_resolver_class(
            wheel_cache=settings.wheel_cache,
            base_packages=lambda: facts()["python_packages"],
            r_packages=lambda: facts()["r_packages"],
            python_version=image.python,
            glibc=image.glibc,
            # The resolver's pip container: this store's reaper labels, the runner's client.
            sandbox_settings=settings,
            client_factory=runner.client,
        ),
        limits=ArchiveLimits(
            max_members=config.max_archive_members,
            max_unpacked_bytes=config.max_unpacked_bytes,
            max_depth=config.max_archive_depth,
        ),
        allow_force=config.allow_force_install,
        strict_manifest=config.strict_manifest,
    )
    executions = ExecutionService(manager.sessions, runner, settings)
    marketplace = Marketplace(
        manager,
        remotes=config.remote_marketplaces,
        review_max_chars=config.review_max_chars,
        remote_timeout=config.remote_marketplace_timeout,
        remote_download_timeout=config.remote_marketplace_download_timeout,
        remote_max_answer_bytes=config.remote_marketplace_max_answer_bytes,
        remote_max_archive_bytes=config.max_upload_bytes,
        featured_count=config.featured_count,
    )
    return PluginSystem(manager, executions, marketplace, user=user)


def load_config() -> Config:
    """The ``OmniscopeApp``/``OmniscopeConfig`` sections of the Jupyter config files, merged."""
    merged = Config()
    for directory in reversed(jupyter_config_path()):  # lowest priority first
        for name in CONFIG_FILES:
            path = Path(directory, f"{name}.py")
            if path.is_file():
                merged.merge(PyFileConfigLoader(path.name, str(path.parent)).load_config())
    section = Config()
    for name in reversed(CONFIG_SECTIONS):
        if name in merged:
            section.merge(merged[name])
    return Config({"OmniscopeConfig": section})


def open_system(
    data_dir: str | None = None, db_url: str | None = None, user: str | None = None
) -> PluginSystem:
    """The plugin system on the store this process should use (see the module docstring)."""
    config = OmniscopeConfig(config=load_config())
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    db_url = db_url or os.environ.get(DB_URL_ENV)
    if data_dir:
        config.data_dir = data_dir
    if db_url:
        config.db_url = db_url
    system = make_system(config, user=user if user is not None else getpass.getuser())
    system.store = config.store_description()
    system.recover()
    return system


__all__ = [
    "DATA_DIR_ENV",
    "DB_URL_ENV",
    "SERVER_URL_ENV",
    "TOKEN_ENV",
    "OmniscopeConfig",
    "load_config",
    "make_system",
    "open_system",
]
