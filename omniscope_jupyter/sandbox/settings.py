"""Limits and knobs of the sandbox, one plain dataclass the server traits and the CLI map onto.

Kept free of traitlets so the runner, the CLI and tests can build one without a Jupyter server.
Values are the maxima a run gets; a request may only lower the timeout, never raise it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

CACHE_DIR = Path.home() / ".cache" / "omniscope"


@dataclass(frozen=True)
class SandboxSettings:
    """Resource limits of every run plus where images and run directories come from."""

    #: Memory of a run; memory+swap is set to the same value, so there is no swap.
    memory: str = "512m"
    #: CPU quota in cores (docker ``nano_cpus``).
    cpus: float = 1.0
    #: Wall-clock seconds before the container is killed and the run ends as ``timeout``.
    timeout: float = 60.0
    #: Maximum processes/threads in the container (the spec's 100).
    pids: int = 100
    #: Size cap of the writable ``/tmp`` tmpfs.
    tmpfs_size: str = "64m"
    #: Largest file a plugin may write (``RLIMIT_FSIZE``), and so the largest output.
    max_file_bytes: int = 256 * 1024 * 1024
    #: Open files per process.
    nofile: int = 1024
    #: Captured stdout and stderr are each cut to this many bytes.
    log_cap_bytes: int = 64 * 1024
    #: ``result.json`` larger than this is refused (the data frame travels apart, as Arrow).
    max_result_json_bytes: int = 16 * 1024 * 1024
    #: Arrow output larger than this is refused.
    max_output_bytes: int = 256 * 1024 * 1024
    #: ``offline``: debootstrap + ``docker import`` (no registry); ``pull``: plain Dockerfiles
    #: ``FROM python:3.11-slim`` / ``FROM r-base`` for machines that can pull.
    image_mode: str = "offline"
    #: Debian suite and mirror of the offline base image.
    debian_suite: str = "trixie"
    debian_mirror: str = "http://deb.debian.org/debian"
    #: Rootfs tarballs and wheels are cached here so rebuilds after a runner change are fast.
    cache_dir: Path = CACHE_DIR
    #: Per-run job/output directories live here (bind-mounted into the container).
    work_dir: Path = field(default_factory=lambda: CACHE_DIR / "runs")
    #: Label value naming this server's containers, so the reaper never removes another's.
    owner: str = "default"

    @property
    def wheel_cache(self) -> Path:
        """Wheels of plugins' locked dependencies (shared; each checked against its sha256)."""
        return self.cache_dir / "plugin-wheels"


def owner_for(data_dir: Path) -> str:
    """The owner label of the containers of the store at ``data_dir`` (one per server)."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
