"""Limits and knobs of the sandbox, one plain dataclass the server traits and the CLI map onto.

Kept free of traitlets so the runner, the CLI and tests can build one without a Jupyter server.
Values are what every run gets; a request may choose its own timeout up to ``max_timeout``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .budget import default_results_budget

CACHE_DIR = Path.home() / ".cache" / "omniscope"


@dataclass(frozen=True)
class SandboxSettings:
    """Resource limits of every run plus where images and run directories come from."""

    #: Memory of a run; memory+swap is set to the same value, so there is no swap.
    memory: str = "512m"
    #: CPU quota in cores (docker ``nano_cpus``).
    cpus: float = 1.0
    #: Wall-clock seconds before the container is killed and the run ends as ``timeout``, for a
    #: run that asks for no timeout of its own.
    timeout: float = 60.0
    #: The longest timeout a run may ask for (a request above it is refused with a 400).
    max_timeout: float = 600.0
    #: Maximum processes/threads in the container (the spec's 100).
    pids: int = 100
    #: Size cap of the writable ``/tmp`` tmpfs.
    tmpfs_size: str = "64m"
    #: Size cap of ``/out``, a tmpfs inside the container (nothing a plugin writes reaches the
    #: host's disk), and the most files (inodes) ``/out`` and ``/tmp`` may each hold.
    out_size: str = "64m"
    out_files: int = 10_000
    #: Largest file a plugin may write (``RLIMIT_FSIZE``), and so the largest output.
    max_file_bytes: int = 256 * 1024 * 1024
    #: Open files per process.
    nofile: int = 1024
    #: Captured stdout and stderr are each cut to this many bytes.
    log_cap_bytes: int = 64 * 1024
    #: ``result.json`` larger than this is refused (the data frame travels apart, as Arrow).
    max_result_json_bytes: int = 16 * 1024 * 1024
    #: Arrow output larger than this (on disk, possibly compressed) is refused.
    max_output_bytes: int = 256 * 1024 * 1024
    #: Arrow output whose buffers would decode to more than this is refused before decoding.
    max_output_decoded_bytes: int = 512 * 1024 * 1024
    #: Arrow output with more values than this (rows x columns, nested values included) is
    #: refused before decoding: a null or run-end-encoded column has a length but no bytes.
    max_output_cells: int = 10_000_000
    #: Decoded bytes of the result frames all runs of one process may hold at once (``budget.py``;
    #: default: a quarter of the host's or the cgroup's memory, between 256 MiB and 4 GiB), and
    #: the seconds a result waits for room in it before its run fails.
    results_budget_bytes: int = field(default_factory=default_results_budget)
    results_budget_wait_seconds: float = 10.0
    #: Runs (and per-plugin image builds) at once in one process; more wait as ``queued``.
    max_concurrent_runs: int = 4
    #: Runs one user may have queued in one process, and all users together; beyond: 429.
    max_queued_per_user: int = 100
    max_queued: int = 1000
    #: Warm containers kept ready per image, language and permission profile (``pool.py``).
    #: Two suit a 2-core machine: one is taken while the next starts.
    pool_size: int = 2
    #: Most sandbox containers of one process (warm, bound and busy together).
    pool_max_containers: int = 8
    #: A container bound to a plugin version and user retires after this long unused.
    pool_idle_seconds: float = 300.0
    #: How often leftover run folders are swept and idle containers retired.
    sweep_seconds: float = 60.0
    #: A result frame is not turned into JSON (REST answers) past this estimated size; the
    #: answer then says to ask for Arrow (``Accept: application/vnd.apache.arrow.stream``).
    max_json_answer_bytes: int = 64 * 1024 * 1024
    #: Seconds the post-run measurement of a ``file_system`` volume may take.
    volume_check_seconds: float = 10.0
    #: A ``file_system`` volume found larger than this after a run is emptied (with a warning):
    #: Docker's local volumes on overlay2 cannot be size-capped, so it is checked, not enforced.
    max_volume_bytes: int = 1024 * 1024 * 1024
    #: OCI runtime of every plugin container: ``runc`` (Docker's) or ``runsc`` (gVisor, a
    #: user-space kernel between the plugin and the host's; registered by ensure-docker.sh).
    runtime: str = "runc"
    #: Require the host firewall of the sandbox network (``firewall.py``) before any container
    #: joins it; False only where the host firewalls the ``omniscope-sandbox`` bridge otherwise.
    firewall: bool = True
    #: Private IPv4 addresses/CIDRs the sandbox network may reach all the same (an internal
    #: package index); the host's own addresses and everything else private stay cut off.
    network_allow: tuple[str, ...] = ()
    #: ``offline``: debootstrap + ``docker import`` (no registry); ``pull``: plain Dockerfiles
    #: ``FROM python:3.11-slim`` / ``FROM r-base`` for machines that can pull.
    image_mode: str = "offline"
    #: Debian suite and mirror of the offline base image.
    debian_suite: str = "trixie"
    debian_mirror: str = "http://deb.debian.org/debian"
    #: Rootfs tarballs and wheels are cached here so rebuilds after a runner change are fast.
    cache_dir: Path = CACHE_DIR
    #: Run folders (one per container, mounted at ``/job``; spooled inputs; live events) live
    #: here: a private folder whose path says nothing of the store (``run_dir_for``).
    work_dir: Path = field(default_factory=lambda: run_dir_for("default"))
    #: Label value naming the store whose runs a container belongs to (``owner_for``); with the
    #: process label (``processes.process_identity``) it tells the reaper whose container it is.
    owner: str = "default"

    @property
    def wheel_cache(self) -> Path:
        """Wheels of plugins' locked dependencies (shared; each checked against its sha256)."""
        return self.cache_dir / "plugin-wheels"


#: Shared memory, where run folders go when it is a roomy tmpfs (``run_dir_for``).
SHM = Path("/dev/shm")
#: Smallest ``/dev/shm`` run folders are put in (a container's default 64 MiB is too small).
SHM_MIN_BYTES = 1 << 30


def run_dir_for(owner: str) -> Path:
    """The default run folder of the store ``owner``: in ``/dev/shm`` when it is a writable
    tmpfs of at least 1 GiB (a run's input and output frames then never touch a disk), else
    under the system's temporary folder.

    Not inside the store: the run folders' paths show in a container's ``/proc/self/mountinfo``,
    and this one names neither the user, nor the store, nor any run.
    """
    return _run_root() / f"omniscope-{owner}"


def _run_root() -> Path:
    try:
        room = os.statvfs(SHM)
        if os.access(SHM, os.W_OK) and room.f_blocks * room.f_frsize >= SHM_MIN_BYTES:
            return SHM
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def owner_for(data_dir: Path) -> str:
    """The owner label of the containers of the store at ``data_dir`` (shared by every process
    on that store: server, CLI, kernels; the process label tells them apart)."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
