"""pip in a throwaway hardened container, so that asking an index about a plugin's
dependencies can never run code on the host, even if pip is fooled into building something.

pip builds any local source it is pointed at (``--only-binary=:all:`` does not stop a path or a
``file:`` URL), and a build runs the package's code. Here that code would run as user 65534
with no capabilities, a read-only root, a small ``/tmp``, process, memory and time limits,
and an environment of a few fixed variables: no token, no ``JUPYTER_*``, no cloud credentials,
nothing of the host's. It sees only what it is given: ``/in`` (read-only: the requirement
files and the stub wheels), ``/out`` (the report and the wheels) and the host's CA bundle
(read-only, to reach the index through a TLS-inspecting proxy). The host then reads back only
named regular files from ``/out``, without following links and under size caps
(:class:`Workspace`), and treats them as data.

Network: the container is on the ``omniscope-sandbox`` bridge (no container-to-container
traffic), because it must reach the index. The sandbox firewall (``firewall.py``) drops its
traffic to the host's own and to private addresses, as for every networked plugin; DNS passes
only to the host's configured resolvers, which Docker's embedded resolver forwards to.

Every container carries the run, owner and process labels of the sandbox containers, so the
reaper removes one a crash left behind; normally it is removed in a ``finally``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import ssl
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.types import LogConfig, Ulimit

from ..errors import SandboxUnavailable
from .container import (
    OWNER_LABEL,
    PROCESS_LABEL,
    PURPOSE_LABEL,
    RUN_LABEL,
    docker_client,
    ensure_network,
    remove_quietly,
    short_error,
)
from .images import ensure_resolver_image
from .processes import process_identity
from .runner import OutputRefused, _is_read_timeout, read_output
from .settings import SandboxSettings

log = logging.getLogger(__name__)

#: Inside the container: inputs (read-only), outputs, the CA bundle, the unpacked pip wheel.
IN_DIR = "/in"
OUT_DIR = "/out"
CA_PATH = "/etc/omniscope/ca-certificates.crt"
PIP_DIR = "/opt/omniscope/pip"
#: The whole environment pip gets: no variable of the host's is passed on.
PIP_ENV = {
    "HOME": "/tmp",
    # Downloads are staged on disk (``/out/tmp``), not in the small in-memory /tmp.
    "TMPDIR": f"{OUT_DIR}/tmp",
    "LANG": "C.UTF-8",
    "PYTHONPATH": PIP_DIR,
    "PYTHONDONTWRITEBYTECODE": "1",
    # No pip configuration file at all, whatever the image might hold.
    "PIP_CONFIG_FILE": os.devnull,
}
#: Where a CA bundle is looked for on the host when none is configured.
_CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
_SANDBOX_UID = 65534


@dataclass(frozen=True)
class PipLimits:
    """Resource limits of one pip container."""

    memory: str = "1g"
    pids: int = 128
    #: ``/tmp`` (pip's home); downloads go to ``/out/tmp`` on disk instead.
    tmpfs_size: str = "64m"
    #: Largest file pip may write (``RLIMIT_FSIZE``): the largest wheel.
    max_file_bytes: int = 2 * 1024 * 1024 * 1024
    nofile: int = 1024
    #: pip's output kept for the error message.
    log_cap_bytes: int = 256 * 1024


@dataclass(frozen=True)
class PipOutcome:
    """How one pip command ended: exit code (None when stopped), its output, a timeout."""

    exit_code: int | None
    output: str
    timed_out: bool = False


class Workspace:
    """The host side of one container's ``/in`` and ``/out``.

    ``inputs`` is written by the host before the run and mounted read-only. ``outputs`` is
    writable by the container, so everything in it is hostile: it is only read back by name,
    as regular files without following links, under size caps.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inputs = root / "in"
        self.outputs = root / "out"
        self.inputs.mkdir(mode=0o755)
        self.inputs.chmod(0o755)  # whatever the umask: the container's user reads it
        for path in (self.outputs, self.outputs / "tmp", self.outputs / "wheels"):
            path.mkdir(mode=0o700)
            _hand_to_sandbox(path)

    def write_input(self, name: str, text: str) -> Path:
        """Write ``in/<name>``, readable by the container's user whatever the umask."""
        path = self.inputs / name
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        return path

    def read_output(self, name: str, cap: int) -> bytes | None:
        """``out/<name>`` (a plain file name) as bytes; None when absent."""
        with self._out_dir() as dir_fd:
            try:
                return read_output(dir_fd, name, cap)
            except OutputRefused as exc:
                raise SandboxOutputRefused(f"pip's {exc}") from None

    def copy_output(self, folder: str, name: str, dest: Path, cap: int) -> str:
        """Copy ``out/<folder>/<name>`` to the new file ``dest``; its sha256 (of the bytes
        copied, so a later change in ``out`` cannot slip in)."""
        with self._out_dir() as out_fd:
            try:
                dir_fd = os.open(folder, _DIR_FLAGS, dir_fd=out_fd)
            except OSError as exc:
                raise SandboxOutputRefused(f"{folder}/ cannot be opened: {exc.strerror}") from None
            try:
                return _copy_regular(dir_fd, name, dest, cap)
            finally:
                os.close(dir_fd)

    @contextlib.contextmanager
    def _out_dir(self) -> Iterator[int]:
        fd = os.open(self.outputs, _DIR_FLAGS)
        try:
            yield fd
        finally:
            os.close(fd)


class SandboxOutputRefused(Exception):
    """A file the pip container left is not a plain file under its cap."""


class PipContainer:
    """Runs pip commands, each in a fresh hardened container of the resolver image.

    Parameters
    ----------
    settings:
        The sandbox settings: image mode and cache (for the resolver image) and the owner
        label, so this store's reaper removes leftovers.
    client_factory:
        Returns a Docker client (e.g. ``SandboxRunner.client``, then it is shared and left
        open); default: a new client per command, closed after it.
    index_url:
        The package index (default: pip's, PyPI).
    ca_bundle:
        CA certificates pip trusts, mounted read-only (default: the host's system bundle).
    timeout:
        Seconds one pip command may take.
    """

    def __init__(
        self,
        *,
        settings: SandboxSettings | None = None,
        client_factory: Callable[[], docker.DockerClient] | None = None,
        index_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
        limits: PipLimits | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self._client_factory = client_factory
        self.index_url = index_url
        self.ca_bundle = Path(ca_bundle) if ca_bundle else host_ca_bundle()
        self.timeout = timeout
        self.limits = limits or PipLimits()
        self._progress = progress or (lambda line: log.info("resolver image build: %s", line))

    @contextlib.contextmanager
    def workspace(self, parent: Path) -> Iterator[Workspace]:
        """A fresh workspace under ``parent`` (created if needed), removed afterwards."""
        parent.mkdir(parents=True, exist_ok=True)
        # Files the container made are removable by root; otherwise cleanup is best effort.
        with tempfile.TemporaryDirectory(
            prefix=".resolve-", dir=parent, ignore_cleanup_errors=True
        ) as tmp:
            yield Workspace(Path(tmp))

    def run(self, args: Sequence[str], workspace: Workspace) -> PipOutcome:
        """Run ``pip <args>`` (paths as the container sees them) to its end, or its timeout."""
        client, owned = self._connect()
        container = None
        try:
            options = pip_container_options(
                image=ensure_resolver_image(client, self._progress, self.settings),
                args=[*args[:1], *self.pip_options(), *args[1:]],
                workspace=workspace,
                ca_bundle=self.ca_bundle,
                network=ensure_network(client),
                settings=self.settings,
                limits=self.limits,
            )
            container = client.containers.create(**options)
            container.start()
            exit_code, timed_out = self._wait(container)
            logs = container.logs(stdout=True, stderr=True)[-self.limits.log_cap_bytes :]
            return PipOutcome(exit_code, logs.decode("utf-8", "replace"), timed_out)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise SandboxUnavailable(
                f"the Docker engine failed while resolving dependencies: {short_error(exc)}"
            ) from exc
        finally:
            if container is not None:
                with contextlib.suppress(requests.RequestException):  # the reaper's turn then
                    remove_quietly(container)
            if owned:
                client.close()

    def pip_options(self) -> list[str]:
        """Options of every pip command: quiet, no cache, no prompt, our index and CA only."""
        options = [
            "--no-color", "--no-input", "--disable-pip-version-check", "--no-cache-dir",
            "--timeout", "60", "--retries", "3",
        ]  # fmt: skip
        if self.ca_bundle is not None:
            options += ["--cert", CA_PATH]
        if self.index_url:
            options += ["--index-url", self.index_url]
        return options

    def _connect(self) -> tuple[docker.DockerClient, bool]:
        if self._client_factory is not None:
            return self._client_factory(), False
        return docker_client(), True

    def _wait(self, container: Any) -> tuple[int | None, bool]:
        try:
            answer = container.wait(timeout=self.timeout)
        except requests.RequestException as exc:
            if not _is_read_timeout(exc):
                raise
            with contextlib.suppress(docker.errors.APIError):
                container.kill()
            return None, True
        return int(answer.get("StatusCode", -1)), False


def pip_container_options(
    *,
    image: str,
    args: Sequence[str],
    workspace: Workspace,
    ca_bundle: Path | None,
    network: str,
    settings: SandboxSettings,
    limits: PipLimits,
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` of one pip command: the same hardening as
    a plugin run, an environment of :data:`PIP_ENV` only, and the workspace's two mounts."""
    volumes = {
        str(workspace.inputs): {"bind": IN_DIR, "mode": "ro"},
        str(workspace.outputs): {"bind": OUT_DIR, "mode": "rw"},
    }
    if ca_bundle is not None:
        volumes[str(ca_bundle.resolve())] = {"bind": CA_PATH, "mode": "ro"}
    return {
        "image": image,
        "command": ["python3", "-m", "pip", *args],
        "user": f"{_SANDBOX_UID}:{_SANDBOX_UID}",
        "working_dir": "/tmp",  # an empty tmpfs: no pyproject.toml or setup.py to pick up
        "environment": dict(PIP_ENV),
        "labels": {
            RUN_LABEL: f"resolve-{uuid.uuid4().hex}",
            OWNER_LABEL: settings.owner,
            PROCESS_LABEL: process_identity(),
            PURPOSE_LABEL: "resolve-dependencies",
        },
        # Under the plugins' runtime too (gVisor where the admin chose it): pip is hostile
        # input's first reader.
        "runtime": settings.runtime,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "network_mode": network,
        "pids_limit": limits.pids,
        "mem_limit": limits.memory,
        "memswap_limit": limits.memory,
        "ulimits": [
            Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile),
            Ulimit(name="fsize", soft=limits.max_file_bytes, hard=limits.max_file_bytes),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs_size},mode=1777"},
        "init": True,
        "log_config": LogConfig(
            type="json-file", config={"max-size": str(limits.log_cap_bytes * 2), "max-file": "1"}
        ),
        "volumes": volumes,
        "hostname": "resolver",
        "detach": True,
    }


def host_ca_bundle() -> Path | None:
    """The host's CA bundle (a TLS-inspecting proxy's CA is added there), or None: then pip
    uses the certificates it ships with."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, *_CA_CANDIDATES, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def _hand_to_sandbox(path: Path) -> None:
    """Let the container's user write ``path`` (owned by it; world-writable when not root)."""
    try:
        os.chown(path, _SANDBOX_UID, _SANDBOX_UID)
    except PermissionError:
        os.chmod(path, 0o777)


def _copy_regular(dir_fd: int, name: str, dest: Path, cap: int) -> str:
    """Stream the regular file ``name`` (no link followed) into ``dest`` under ``cap`` bytes."""
    if "/" in name or name in {"", ".", ".."}:
        raise SandboxOutputRefused(f"{name!r} is not a plain file name")
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except FileNotFoundError:
        raise SandboxOutputRefused(f"{name} is missing") from None
    except OSError as exc:
        reason = "is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise SandboxOutputRefused(f"{name} {reason}") from None
    digest = hashlib.sha256()
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SandboxOutputRefused(f"{name} is not a regular file")
        with open(dest, "xb") as sink:
            total = 0
            while chunk := os.read(fd, _CHUNK):
                total += len(chunk)
                if total > cap:
                    raise SandboxOutputRefused(f"{name} is over the {cap}-byte cap")
                digest.update(chunk)
                sink.write(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


__all__ = [
    "PIP_ENV",
    "PURPOSE_LABEL",
    "PipContainer",
    "PipLimits",
    "PipOutcome",
    "SandboxOutputRefused",
    "Workspace",
    "pip_container_options",
]
