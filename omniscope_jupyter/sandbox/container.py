"""Hardened container options, the Docker client, and the reaper of leftover run containers.

The only path from a plugin's manifest to container options is :func:`container_options`, which
maps the four declared permissions onto fixed choices; nothing else in a manifest reaches Docker.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.types import LogConfig, Ulimit

from ..errors import SandboxUnavailable
from ..manifest import PERMISSIONS as MANIFEST_PERMISSIONS
from .settings import SandboxSettings

log = logging.getLogger(__name__)

#: Every run container carries this label (value: the execution id) and ``OWNER_LABEL``.
RUN_LABEL = "omniscope.run"
OWNER_LABEL = "omniscope.owner"
PLUGIN_LABEL = "omniscope.plugin"
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
            f"(scripts/ensure-docker.sh) and retry ({_short(exc)})"
        ) from exc
    return client


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


def volume_name(plugin_id: str) -> str:
    """Name of the plugin's persistent ``file_system`` volume (plugin ids are already safe)."""
    return "omniscope-data-" + re.sub(r"[^a-zA-Z0-9_.-]", "_", plugin_id)


@dataclass(frozen=True)
class Mounts:
    """Host directories of one run: plugin files (read-only), job (read-only), output."""

    plugin_dir: Path
    job_dir: Path
    out_dir: Path


def container_options(
    *,
    execution_id: str,
    plugin_id: str,
    image: str,
    permissions: set[str] | frozenset[str],
    mounts: Mounts,
    settings: SandboxSettings,
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: the same hardening on every run."""
    volumes: dict[str, dict[str, str]] = {
        str(mounts.plugin_dir): {"bind": "/plugin", "mode": "ro"},
        str(mounts.job_dir): {"bind": "/job", "mode": "ro"},
        str(mounts.out_dir): {"bind": "/out", "mode": "rw"},
    }
    if "file_system" in permissions:
        volumes[volume_name(plugin_id)] = {"bind": DATA_DIR, "mode": "rw"}
    return {
        "image": image,
        "command": ["python3", "/opt/omniscope/omniscope_runner.py"],
        "user": "65534:65534",
        "working_dir": "/tmp",
        "environment": dict(RUN_ENV),
        "labels": {
            RUN_LABEL: execution_id,
            OWNER_LABEL: settings.owner,
            PLUGIN_LABEL: plugin_id,
        },
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "network_mode": "bridge" if "network" in permissions else "none",
        "pids_limit": settings.pids,
        "mem_limit": settings.memory,
        "memswap_limit": settings.memory,
        "nano_cpus": int(settings.cpus * 1e9),
        "ulimits": [
            Ulimit(name="nofile", soft=settings.nofile, hard=settings.nofile),
            Ulimit(name="fsize", soft=settings.max_file_bytes, hard=settings.max_file_bytes),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={settings.tmpfs_size},mode=1777"},
        "init": True,
        "log_config": LogConfig(
            type="json-file",
            config={"max-size": str(max(settings.log_cap_bytes * 2, 64 * 1024)), "max-file": "1"},
        ),
        "volumes": volumes,
        "hostname": "sandbox",
        "detach": True,
    }


def remove_quietly(container: Any) -> None:
    """Force-remove one container, ignoring that it may already be gone."""
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            log.warning("could not remove sandbox container %s: %s", container.id[:12], exc)


def reap(client: docker.DockerClient, owner: str | None = None, execution_id: str | None = None) -> int:
    """Remove labelled run containers (all of ``owner``'s, or one run's); return how many.

    Called at startup, at shutdown and after every run, whatever happened, so nothing leaks.
    """
    labels = [RUN_LABEL if execution_id is None else f"{RUN_LABEL}={execution_id}"]
    if owner is not None:
        labels.append(f"{OWNER_LABEL}={owner}")
    try:
        containers = client.containers.list(all=True, filters={"label": labels})
    except (docker.errors.APIError, requests.RequestException) as exc:
        log.warning("sandbox reaper could not list containers: %s", exc)
        return 0
    for container in containers:
        remove_quietly(container)
    return len(containers)
