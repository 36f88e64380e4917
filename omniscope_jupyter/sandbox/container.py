"""Hardened container options, the Docker client, and the reaper of leftover run containers.

The only paths from a plugin's manifest to container options are :func:`pool_options` (the
pooled run containers, ``pool.py``) and :func:`container_options` (one-shot ones, the R scan's),
both over :func:`hardened_options`; they map the declared permissions onto fixed choices and
nothing else in a manifest reaches Docker. Every sandbox container is labelled with its run or
pool token, its store (``OWNER_LABEL``), the process that started it (``PROCESS_LABEL``) and, if
pooled, its pool (``POOL_LABEL``): server, CLI and kernels share a store, and each may only reap
its own containers and those of processes that died.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.types import LogConfig, Ulimit

from ..errors import SandboxUnavailable
from ..manifest import PERMISSIONS as MANIFEST_PERMISSIONS
from . import firewall
from .processes import is_alive, process_identity
from .settings import SandboxSettings

log = logging.getLogger(__name__)

#: Every sandbox container carries this label (value: its pool token, the name of its run
#: folder; a run's record names it while it runs), ``OWNER_LABEL`` (the store) and
#: ``PROCESS_LABEL`` (``host:pid:start`` of the process that started it).
RUN_LABEL = "omniscope.run"
OWNER_LABEL = "omniscope.owner"
PROCESS_LABEL = "omniscope.process"
PLUGIN_LABEL = "omniscope.plugin"
#: The pool (one per ``SandboxRunner``; a process may have several) a pooled container is in.
POOL_LABEL = "omniscope.pool"
#: What a helper container is for (a resolver's pip, a runner image's probe): it is not a run
#: and removes itself, so its own process's reaper leaves it alone while that process lives.
PURPOSE_LABEL = "omniscope.purpose"
#: The network of plugins holding ``network``: a bridge without container-to-container traffic
#: (``enable_icc=false``), so a plugin cannot reach other sandbox containers.
SANDBOX_NETWORK = "omniscope-sandbox"
#: Its host interface, named so host firewall rules can name it (``firewall.py``); a network
#: made before this name existed keeps Docker's ``br-<id>`` (read from the network).
SANDBOX_BRIDGE = "omnisandbox0"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
#: Under gVisor a container's host processes are its kernel: the Sentry, the Gofer and, on the
#: ptrace platform, several host threads per guest process (about 100 guest processes need
#: 400-1000). So the host cap is ``pids`` times this, and the plugin's own cap of ``pids`` is
#: ``RLIMIT_NPROC``, which gVisor counts inside the sandbox (under runc it would count every
#: uid-65534 process on the host, other runs' included, so runc keeps the cgroup cap).
GVISOR_HOST_PIDS_FACTOR = 10
#: Where the ``file_system`` permission's per-plugin volume is mounted.
DATA_DIR = "/data"
PERMISSIONS = frozenset(MANIFEST_PERMISSIONS)
#: The only environment a plugin sees; the host's environment is never passed on.
RUN_ENV = {
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "LANG": "C.UTF-8",
}


def docker_client(timeout: float = 30.0) -> docker.DockerClient:
    """A client for the engine in ``DOCKER_HOST`` (or the default socket), checked with a ping."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not os.path.exists(host[len("unix://"):]):
        # Checked here because docker-py leaks the socket of a failed unix connect.
        raise SandboxUnavailable(
            "the Docker engine is not reachable, so plugins cannot run; start it "
            f"(scripts/ensure-docker.sh) and retry (no socket at {host})"
        )
    client = None
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        if client is not None:
            client.close()
        raise SandboxUnavailable(
            "the Docker engine is not reachable, so plugins cannot run; start it "
            f"(scripts/ensure-docker.sh) and retry ({short_error(exc)})"
        ) from exc
    return client


def short_error(exc: BaseException) -> str:
    """An exception's text, cut for one-line messages."""
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


def volume_name(owner: str, plugin_id: str) -> str:
    """Name of the plugin's persistent ``file_system`` volume in the store ``owner``.

    The store's hash keeps two stores on one engine apart; the volume is removed at uninstall
    (``ExecutionService.forget_plugin``), so a later plugin of the same name starts empty.
    """
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "_", f"{owner}-{plugin_id}")
    return "omniscope-data-" + safe


def ensure_network(client: docker.DockerClient) -> str:
    """Create the sandbox network on first need (idempotent across processes); its name.

    Every container joins it through here, so here the host firewall is verified (installed
    or repaired when needed, :func:`firewall.guard`); ``SandboxUnavailable`` when it cannot be.
    """
    network = _find_network(client)
    if network is None:
        try:
            client.networks.create(
                SANDBOX_NETWORK,
                driver="bridge",
                options={
                    "com.docker.network.bridge.enable_icc": "false",
                    BRIDGE_NAME_OPTION: SANDBOX_BRIDGE,
                },
                check_duplicate=True,
                labels={"omniscope.network": "sandbox"},
            )
        except docker.errors.APIError as exc:
            if _find_network(client) is None:  # not a lost creation race
                raise
            log.debug("sandbox network created meanwhile: %s", short_error(exc))
        network = _find_network(client)
        if network is None:
            raise SandboxUnavailable(f"the {SANDBOX_NETWORK} network vanished right after its creation")
    firewall.guard(bridge_name(network.attrs))
    return SANDBOX_NETWORK


def bridge_name(attrs: dict[str, Any]) -> str:
    """The host interface of a bridge network (Docker's ``br-<id>`` unless named)."""
    return (attrs.get("Options") or {}).get(BRIDGE_NAME_OPTION) or "br-" + str(attrs["Id"])[:12]


def _find_network(client: docker.DockerClient) -> Any:
    # The engine's name filter matches substrings; compare exactly.
    found = [n for n in client.networks.list(names=[SANDBOX_NETWORK]) if n.name == SANDBOX_NETWORK]
    return found[0] if found else None


def is_gvisor(runtime: str) -> bool:
    """Whether ``runtime`` is gVisor's ``runsc`` (or a variant registered as ``runsc-...``)."""
    return runtime == "runsc" or runtime.startswith("runsc-")


#: The runner of a pooled container: its PID 1 (``sandbox/runner/omniscope_sandbox.py``).
RUNNER_COMMAND = ["python3", "/opt/omniscope/omniscope_sandbox.py"]
#: SysV message queues, shared memory and POSIX message queues outlive the process that made
#: them: a pooled container (one per plugin version and user, several runs) allows none.
NO_IPC_SYSCTLS = {"kernel.msgmni": "0", "kernel.shmmni": "0", "fs.mqueue.queues_max": "0"}
#: Mount options of the container's writable tmpfs folders.
SCRATCH = "rw,nosuid,nodev,noexec"


@dataclass(frozen=True)
class Mounts:
    """Host directories of a one-shot container: plugin files (read-only), job (read-only),
    output."""

    plugin_dir: Path
    job_dir: Path
    out_dir: Path


def hardened_options(
    *, image: str, labels: dict[str, str], network: bool, settings: SandboxSettings
) -> dict[str, Any]:
    """The hardening every sandbox container gets, whatever it runs."""
    gvisor = is_gvisor(settings.runtime)
    return {
        "image": image,
        "user": "65534:65534",
        "working_dir": "/tmp",
        "environment": dict(RUN_ENV),
        "labels": {**labels, OWNER_LABEL: settings.owner, PROCESS_LABEL: process_identity()},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "network_mode": SANDBOX_NETWORK if network else "none",
        "pids_limit": settings.pids * (GVISOR_HOST_PIDS_FACTOR if gvisor else 1),
        "mem_limit": settings.memory,
        "memswap_limit": settings.memory,
        "nano_cpus": int(settings.cpus * 1e9),
        "ulimits": [
            Ulimit(name="nofile", soft=settings.nofile, hard=settings.nofile),
            Ulimit(name="fsize", soft=settings.max_file_bytes, hard=settings.max_file_bytes),
            Ulimit(name="core", soft=0, hard=0),
            # Enforced by gVisor's own kernel, inside the sandbox only (see the factor above).
            *([Ulimit(name="nproc", soft=settings.pids, hard=settings.pids)] if gvisor else []),
        ],
        "tmpfs": {
            "/tmp": f"{SCRATCH},size={settings.tmpfs_size},nr_inodes={settings.out_files},mode=1777"
        },
        "init": True,
        "log_config": LogConfig(
            type="json-file",
            config={"max-size": str(max(settings.log_cap_bytes * 2, 64 * 1024)), "max-file": "1"},
        ),
        "hostname": "sandbox",
        "runtime": settings.runtime,
        "detach": True,
    }


def container_options(
    *,
    execution_id: str,
    plugin_id: str,
    image: str,
    permissions: set[str] | frozenset[str],
    mounts: Mounts,
    settings: SandboxSettings,
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` of a one-shot container (the R scan's)."""
    volumes: dict[str, dict[str, str]] = {
        str(mounts.plugin_dir): {"bind": "/plugin", "mode": "ro"},
        str(mounts.job_dir): {"bind": "/job", "mode": "ro"},
        str(mounts.out_dir): {"bind": "/out", "mode": "rw"},
    }
    if "file_system" in permissions:
        volumes[volume_name(settings.owner, plugin_id)] = {"bind": DATA_DIR, "mode": "rw"}
    labels = {RUN_LABEL: execution_id, PLUGIN_LABEL: plugin_id}
    options = hardened_options(
        image=image, labels=labels, network="network" in permissions, settings=settings
    )
    return {
        **options,
        "command": ["python3", "/opt/omniscope/omniscope_runner.py"],
        "volumes": volumes,
    }


def pool_options(
    *,
    token: str,
    image: str,
    language: str,
    network: bool,
    job_dir: Path,
    settings: SandboxSettings,
    pool: str = "",
    volume: str | None = None,
    plugin_id: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` of a pooled container (``pool.py``).

    It is started before it knows its plugin: only the ``network`` and ``file_system``
    permissions (``volume``, the plugin's ``/data``) shape its options. Its one host folder
    ``job_dir`` (named by ``token``, a random name: it shows in the container's
    ``/proc/self/mountinfo``) is mounted read-only at ``/job`` (the control socket, each run's
    input) and its ``plugin`` subfolder at ``/plugin`` (the bound plugin's files, copied in at
    binding). ``/out`` and ``/tmp`` are size- and inode-capped tmpfs inside the container, so
    nothing a plugin writes reaches the host's disk. The runner is the container's init
    (Docker's ``init`` is off, see the runner's docstring), and the container removes itself
    when it exits.
    """
    (job_dir / "plugin").mkdir(mode=0o755, exist_ok=True)
    volumes: dict[str, dict[str, str]] = {
        str(job_dir): {"bind": "/job", "mode": "ro"},
        str(job_dir / "plugin"): {"bind": "/plugin", "mode": "ro"},
    }
    if volume is not None:
        volumes[volume] = {"bind": DATA_DIR, "mode": "rw"}
    labels = {RUN_LABEL: token, POOL_LABEL: pool, **({PLUGIN_LABEL: plugin_id} if plugin_id else {})}
    options = hardened_options(image=image, labels=labels, network=network, settings=settings)
    out = f"{SCRATCH},size={settings.out_size},nr_inodes={settings.out_files}"
    return {
        **options,
        "command": [*RUNNER_COMMAND, language],
        "volumes": volumes,
        "tmpfs": {**options["tmpfs"], "/out": f"{out},uid=65534,gid=65534,mode=0700"},
        # The runner is PID 1: the kernel then keeps the plugin's signals off it.
        "init": False,
        # gVisor applies its own IPC limits; the runner checks SysV IPC after each run anyway.
        "sysctls": {} if is_gvisor(settings.runtime) else dict(NO_IPC_SYSCTLS),
        "auto_remove": True,
    }


def remove_quietly(container: Any) -> None:
    """Force-remove one container, ignoring that it may already be gone."""
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            log.warning("could not remove sandbox container %s: %s", container.id[:12], short_error(exc))


def reap(
    client: docker.DockerClient,
    owner: str | None = None,
    execution_id: str | None = None,
    *,
    keep: Callable[[dict[str, str]], bool] | None = None,
) -> int:
    """Remove labelled run containers (``owner``'s, or one run's) unless ``keep(labels)``.

    Called after every run for that run; at start and stop with :func:`not_orphan` as ``keep``.
    A helper (``PURPOSE_LABEL``) of this process is left to its own clean-up: a periodic sweep
    must not pull a dependency resolution or an image probe from under it. Returns how many
    were removed.
    """
    labels = [RUN_LABEL if execution_id is None else f"{RUN_LABEL}={execution_id}"]
    if owner is not None:
        labels.append(f"{OWNER_LABEL}={owner}")
    try:
        containers = client.containers.list(all=True, filters={"label": labels})
    except (docker.errors.APIError, requests.RequestException) as exc:
        log.warning("sandbox reaper could not list containers: %s", short_error(exc))
        return 0
    removed = 0
    me = process_identity()
    for container in containers:
        found = container.labels or {}
        if found.get(PURPOSE_LABEL) and found.get(PROCESS_LABEL) == me:
            continue
        if keep is not None and keep(found):
            continue
        remove_quietly(container)
        removed += 1
    return removed


def not_orphan(labels: dict[str, str]) -> bool:
    """Keep a container whose starting process lives and is not this one (another's run).

    A container of this process is removed (at shutdown); one of a dead process on this host,
    or without a process label (from before labels existed), is an orphan and removed too.
    """
    identity = labels.get(PROCESS_LABEL)
    return identity != process_identity() and is_alive(identity)


def find_container(client: docker.DockerClient, token: str) -> list[Any]:
    """The container labelled ``token`` (a pool slot's), whichever process started it."""
    return list(client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={token}"}))
