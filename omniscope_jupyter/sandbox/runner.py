"""SandboxRunner: one plugin run in one hardened container, start to removal (blocking).

The container starts with no job; the runner then writes the job into the run's job directory,
waits (bounded by the wall-clock timeout), reads back only ``result.json`` and ``data.arrow``
(regular files, no symlinks, size-capped), and removes the container whatever happened.
Everything here blocks; :mod:`omniscope_jupyter.executions` calls it from a worker thread.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pandas as pd
import requests
from docker.utils.socket import STDERR, STDOUT, frames_iter
from urllib3.exceptions import ReadTimeoutError

from ..errors import SandboxUnavailable
from . import container as ctr
from .arrow_limits import check_stream
from .images import Progress, ensure_images
from .processes import is_alive, process_identity
from .settings import SandboxSettings
from .transfer import TransferError, frame_to_ipc, ipc_to_frame
from .volumes import check_volume, ensure_volume

log = logging.getLogger(__name__)

#: Final statuses of a run.
STATUSES = ("succeeded", "failed", "timeout", "oom", "cancelled")
RESULT_KEYS = ("data", "metadata", "logs", "warnings", "errors")


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs; built by the execution service from a plugin and a request."""

    execution_id: str
    plugin_id: str
    version: str
    language: str
    entry_point: str
    plugin_dir: Path
    permissions: frozenset[str]
    config: dict[str, Any]
    parameters: dict[str, Any]
    extension_point: str
    #: A DataFrame, plain JSON (for non-tabular input), or None when there is none/withheld.
    data: Any
    timeout: float
    #: A per-plugin image (dependencies layered on the runner image); None: the runner image.
    image: str | None = None
    #: ``data`` already encoded as Arrow IPC (``jobs.build_request`` checks it encodes).
    data_ipc: bytes | None = None


@dataclass
class RunOutcome:
    """What came back: the spec's result fields (``data`` a DataFrame or JSON) and run facts."""

    status: str
    data: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    peak_memory_bytes: int | None = None
    duration_ms: float = 0.0
    exit_code: int | None = None


class OutputRefused(Exception):
    """A file in the output directory is not a plain, small enough regular file."""


def read_output(dir_fd: int, name: str, cap: int) -> bytes | None:
    """Read ``name`` from the output directory without following links; None when absent."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputRefused(f"{name} is a symbolic link; not followed") from exc
        raise OutputRefused(f"{name} cannot be opened: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutputRefused(f"{name} is not a regular file")
        if info.st_size > cap:
            raise OutputRefused(f"{name} is {info.st_size} bytes, above the {cap}-byte cap")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:
            raise OutputRefused(f"{name} grew above the {cap}-byte cap")
        return b"".join(chunks)
    finally:
        os.close(fd)


class OutputCollector(threading.Thread):
    """Reads a container's stdout/stderr as they come, keeping the first ``cap`` bytes of each.

    Attached before start, so nothing is lost; the rest is read and dropped, so a flood costs
    neither memory nor disk (Docker's rotated json log would keep only a recent tail).
    """

    def __init__(self, sock: Any, cap: int) -> None:
        super().__init__(daemon=True)
        self._sock = sock
        self._cap = cap
        self.stdout, self.stderr = bytearray(), bytearray()
        self.cut = {"stdout": False, "stderr": False}

    def run(self) -> None:
        try:
            for stream_id, chunk in frames_iter(self._sock, tty=False):
                if stream_id == STDOUT:
                    self._keep(self.stdout, chunk, "stdout")
                elif stream_id == STDERR:
                    self._keep(self.stderr, chunk, "stderr")
        except (docker.errors.APIError, requests.RequestException, OSError, ValueError):
            pass  # the container went away; what was read so far is the capture
        finally:
            self.close()

    def close(self) -> None:
        """Close the attach socket (idempotent)."""
        sock = getattr(self._sock, "_sock", None)
        for closable in (self._sock, sock):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass

    def _keep(self, buffer: bytearray, chunk: bytes | None, name: str) -> None:
        if not chunk:
            return
        room = self._cap - len(buffer)
        if room > 0:
            buffer.extend(chunk[:room])
        if len(chunk) > room:
            self.cut[name] = True

    def text(self, name: str) -> str:
        raw = bytes(self.stdout if name == "stdout" else self.stderr)
        text = raw.decode("utf-8", errors="replace")
        return text + (f"\n[output truncated at {self._cap} bytes]" if self.cut[name] else "")


class SandboxRunner:
    """Runs plugins in containers; thread-safe, one container per run, cancellable by id."""

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        client_factory: Callable[[], docker.DockerClient] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self._client_factory = client_factory or (lambda: ctr.docker_client())
        self._progress = progress or (lambda line: log.info("sandbox build: %s", line))
        self._client: docker.DockerClient | None = None
        self._images: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._active: dict[str, Any] = {}
        self._cancelled: set[str] = set()
        #: Runs whose container could not be removed (engine gone): retried on the next run.
        self._leftovers: set[str] = set()

    # -- engine and images -------------------------------------------------------------------

    def client(self) -> docker.DockerClient:
        """The Docker client, (re)connected on demand; raises ``SandboxUnavailable``."""
        client = self._client
        if client is not None:
            try:
                client.ping()
                return client
            except (docker.errors.DockerException, requests.RequestException, OSError):
                self._client = None
                client.close()  # its pooled connections are dead; don't leak their sockets
        self._client = self._client_factory()
        return self._client

    def close(self) -> None:
        """Close the Docker client's connections (a later call reconnects)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def images(self) -> dict[str, str]:
        """``{language: tag}`` of the runner images, built on first need."""
        if self._images is None:
            self._images = ensure_images(self.client(), self._progress, self.settings)
        return self._images

    def reap(self) -> int:
        """Remove this process's containers and those of dead processes on the store.

        Runs of other live processes on the same store (CLI, kernels, another server) are left
        alone; so are those started on another host.
        """
        try:
            return ctr.reap(self.client(), owner=self.settings.owner, keep=ctr.not_orphan)
        except SandboxUnavailable:
            return 0

    # -- runs ----------------------------------------------------------------------------

    def cancel(self, execution_id: str) -> bool:
        """Kill the run's container, whichever process started it. False if none was found.

        A run of this process then ends as ``cancelled``; another process learns it from the
        record (see ``ExecutionService.cancel``). A container whose process died is removed.
        """
        with self._lock:
            self._cancelled.add(execution_id)
        found = ctr.find_run(self.client(), execution_id)
        for container in found:
            identity = (container.labels or {}).get(ctr.PROCESS_LABEL)
            if identity != process_identity() and not is_alive(identity):
                ctr.remove_quietly(container)
                continue
            try:
                container.kill()
            except docker.errors.APIError:
                # Created but not started yet (or already exited): removing it stops the run.
                ctr.remove_quietly(container)
        return bool(found)

    def run(
        self, request: RunRequest, cancelled: Callable[[], bool] | None = None
    ) -> RunOutcome:
        """Run one job to completion (or timeout/oom/cancel) and return its outcome.

        ``cancelled`` tells whether someone (possibly another process) asked to cancel the run;
        it is asked once the container exists and again when the run ended.
        """
        client = self.client()
        self._reap_leftovers(client)
        image = request.image or self.images().get(request.language)
        if image is None:
            raise SandboxUnavailable(f"no runner image for language {request.language!r}")
        run_dir = self.settings.work_dir / request.execution_id
        started = time.monotonic()
        container = None
        was_cancelled = lambda: self._is_cancelled(request.execution_id, cancelled)
        try:
            mounts = self._prepare_dirs(run_dir, request.plugin_dir)
            if "network" in request.permissions:
                ctr.ensure_network(client)
            if "file_system" in request.permissions:
                ensure_volume(client, self.settings, request.plugin_id)
            options = ctr.container_options(
                execution_id=request.execution_id,
                plugin_id=request.plugin_id,
                image=image,
                permissions=request.permissions,
                mounts=mounts,
                settings=self.settings,
            )
            try:
                container = client.containers.create(**options)
            except docker.errors.ImageNotFound as exc:
                self._images = None
                raise SandboxUnavailable(f"runner image {image} is missing: {exc}") from exc
            with self._lock:
                self._active[request.execution_id] = container
            if was_cancelled():
                return RunOutcome(status="cancelled", errors=["cancelled before start"])
            collector = OutputCollector(
                container.attach_socket(params={"stdout": 1, "stderr": 1, "stream": 1}),
                self.settings.log_cap_bytes,
            )
            collector.start()
            container.start()
            started = time.monotonic()
            self._write_job(mounts.job_dir, request)
            exit_code, timed_out = self._wait(container, request.timeout, started)
            collector.join(timeout=10)
            collector.close()
            outcome = self._collect(
                container, mounts.out_dir, request, exit_code, timed_out, collector, was_cancelled
            )
        except (docker.errors.APIError, requests.RequestException) as exc:
            if was_cancelled():  # e.g. another process removed the container before it started
                outcome = RunOutcome(status="cancelled", errors=["the run was cancelled"])
            else:
                raise SandboxUnavailable(
                    f"the Docker engine failed during the run: {exc}"
                ) from exc
        finally:
            with self._lock:
                self._active.pop(request.execution_id, None)
                self._cancelled.discard(request.execution_id)
            self._remove_run(client, container, request.execution_id)
            shutil.rmtree(run_dir, ignore_errors=True)
        outcome.duration_ms = round((time.monotonic() - started) * 1000, 1)
        if "file_system" in request.permissions:
            warning = check_volume(
                client, self.settings, image, request.plugin_id, request.execution_id
            )
            if warning:
                outcome.warnings.append(warning)
        return outcome

    def _is_cancelled(self, execution_id: str, asked: Callable[[], bool] | None) -> bool:
        with self._lock:
            if execution_id in self._cancelled:
                return True
        return bool(asked and asked())

    def _remove_run(self, client: docker.DockerClient, container: Any, execution_id: str) -> None:
        """Remove the run's container(s); when the engine is gone, remember them for later."""
        try:
            if container is not None:
                try:
                    container.remove(force=True, v=True)
                except docker.errors.NotFound:
                    pass
            for left in ctr.find_run(client, execution_id):
                ctr.remove_quietly(left)
        except (docker.errors.APIError, requests.RequestException) as exc:
            if "already in progress" in str(exc):
                return
            log.warning("could not remove the container of run %s: %s", execution_id, ctr.short_error(exc))
            with self._lock:
                self._leftovers.add(execution_id)

    def _reap_leftovers(self, client: docker.DockerClient) -> None:
        """Remove containers a lost engine connection kept us from removing (best effort)."""
        with self._lock:
            leftovers, self._leftovers = self._leftovers, set()
        for execution_id in leftovers:
            self._remove_run(client, None, execution_id)

    def _prepare_dirs(self, run_dir: Path, plugin_dir: Path) -> ctr.Mounts:
        if not plugin_dir.is_dir():
            raise SandboxUnavailable(f"the plugin's files are missing at {plugin_dir}")
        job_dir, out_dir = run_dir / "job", run_dir / "out"
        self.settings.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_dir.mkdir(mode=0o700)
        job_dir.mkdir(mode=0o755)
        out_dir.mkdir(mode=0o700)
        try:
            os.chown(out_dir, 65534, 65534)  # the container's user must write its results
        except PermissionError:
            os.chmod(out_dir, 0o777)
        return ctr.Mounts(plugin_dir=plugin_dir.resolve(), job_dir=job_dir, out_dir=out_dir)

    def _write_job(self, job_dir: Path, request: RunRequest) -> None:
        job: dict[str, Any] = {
            "plugin_id": request.plugin_id,
            "version": request.version,
            "language": request.language,
            "entry_point": request.entry_point,
            "config": request.config,
            "parameters": request.parameters,
            "extension_point": request.extension_point,
            "permissions": sorted(request.permissions),
        }
        if request.data_ipc is not None or isinstance(request.data, pd.DataFrame):
            encoded = request.data_ipc if request.data_ipc is not None else frame_to_ipc(request.data)
            (job_dir / "input.arrow").write_bytes(encoded)
            job["data_kind"] = "frame"
        elif request.data is not None:
            job["data_kind"], job["data"] = "json", request.data
        else:
            job["data_kind"] = "none"
        (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        (job_dir / "ready").touch()  # last: the runner starts reading only once this exists

    def _wait(self, container: Any, timeout: float, started: float) -> tuple[int | None, bool]:
        """Exit code and whether the run timed out; ``SandboxUnavailable`` if the engine went.

        docker-py reports a read timeout while waiting as ``ConnectionError(ReadTimeoutError)``
        (the engine answers the headers at once, the body at exit): only that is a timeout.
        A dropped connection or a cut answer means the engine died or restarted mid-run.
        """
        remaining = max(0.5, timeout - (time.monotonic() - started))
        try:
            answer = container.wait(timeout=remaining)
        except requests.RequestException as exc:
            if not _is_read_timeout(exc):
                raise SandboxUnavailable(
                    "the Docker engine stopped answering during the run; the run's container "
                    f"is removed once the engine is back ({ctr.short_error(exc)})"
                ) from exc
            try:
                container.kill()
            except docker.errors.APIError:
                pass
            return None, True
        return int(answer.get("StatusCode", -1)), False

    def _collect(
        self,
        container: Any,
        out_dir: Path,
        request: RunRequest,
        exit_code: int | None,
        timed_out: bool,
        collector: OutputCollector,
        was_cancelled: Callable[[], bool],
    ) -> RunOutcome:
        settings = self.settings
        container.reload()
        state = container.attrs.get("State", {})
        base: dict[str, Any] = {
            "stdout": collector.text("stdout"),
            "stderr": collector.text("stderr"),
            "exit_code": exit_code,
        }
        if was_cancelled():
            return RunOutcome(status="cancelled", errors=["the run was cancelled"], **base)
        if timed_out:
            return RunOutcome(
                status="timeout",
                errors=[f"the plugin did not finish within {request.timeout:g} s and was stopped"],
                **base,
            )
        if state.get("OOMKilled"):
            return RunOutcome(
                status="oom",
                errors=[f"the plugin exceeded its memory limit ({settings.memory}) and was killed"],
                **base,
            )
        try:
            return self._read_result(out_dir, request, base)
        except (OutputRefused, TransferError) as exc:
            return RunOutcome(status="failed", errors=[f"output refused: {exc}"], **base)

    def _read_result(self, out_dir: Path, request: RunRequest, base: dict[str, Any]) -> RunOutcome:
        dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            raw = read_output(dir_fd, "result.json", self.settings.max_result_json_bytes)
            if raw is None:
                code = base["exit_code"]
                return RunOutcome(
                    status="failed",
                    errors=[f"the runner exited (code {code}) without a result; see stderr"],
                    **base,
                )
            payload = _parse_json(raw)
            if not isinstance(payload, dict):
                raise OutputRefused("result.json is not an object")
            peak = payload.get("peak_memory_bytes")
            peak = peak if isinstance(peak, int) and not isinstance(peak, bool) and peak >= 0 else None
            if payload.get("status") != "succeeded":
                errors = [str(payload.get("error", "the plugin failed"))]
                if payload.get("traceback"):
                    errors.append(str(payload["traceback"]))
                return RunOutcome(status="failed", errors=errors, peak_memory_bytes=peak, **base)
            frame = None
            encoded = payload.get("result")
            wants_frame = isinstance(encoded, dict) and encoded.get("data_kind") == "frame"
            # Without write_data the data is dropped anyway: never read or decode it.
            if wants_frame and "write_data" in request.permissions:
                frame = self._read_frame(dir_fd)
        finally:
            os.close(dir_fd)
        outcome = validate_result(encoded, frame, request.permissions)
        outcome.peak_memory_bytes = peak
        outcome.stdout, outcome.stderr, outcome.exit_code = base["stdout"], base["stderr"], base["exit_code"]
        return outcome


    def _read_frame(self, dir_fd: int) -> pd.DataFrame:
        """``data.arrow`` as a DataFrame, refused before decoding when it would be too large."""
        settings = self.settings
        arrow = read_output(dir_fd, "data.arrow", settings.max_output_bytes)
        if arrow is None:
            raise OutputRefused("data.arrow is missing")
        check_stream(
            arrow, max_bytes=settings.max_output_decoded_bytes, max_cells=settings.max_output_cells
        )
        return ipc_to_frame(arrow)


def _is_read_timeout(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    return any(isinstance(arg, ReadTimeoutError) for arg in exc.args)


def _parse_json(raw: bytes) -> Any:
    try:
        # NaN/Infinity are not JSON; a hostile writer's are read as null.
        return json.loads(raw.decode("utf-8"), parse_constant=lambda _c: None)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputRefused(f"result.json is not valid JSON: {exc}") from exc


def validate_result(encoded: Any, frame: pd.DataFrame | None, permissions: frozenset[str]) -> RunOutcome:
    """Check the plugin's result against the spec's shape and apply ``write_data``.

    ``data`` is required (it may be null); ``metadata`` must be a dict, ``logs``, ``warnings``
    and ``errors`` lists; the last four may be left out, as the spec's own snippets do. A result
    that reports errors ends as ``failed``.
    """
    if not isinstance(encoded, dict) or encoded.get("kind") != "dict":
        kind = encoded.get("type", "unknown") if isinstance(encoded, dict) else "unknown"
        return RunOutcome(
            status="failed",
            errors=[
                (
                    "execute() must return a dict with the keys data, metadata, logs, "
                    f"warnings, errors; it returned a {kind}"
                )
            ],
        )
    body = encoded.get("body")
    body = body if isinstance(body, dict) else {}
    problems = []
    if encoded.get("data_kind") == "none":
        problems.append("the result has no 'data' key (use None for no data)")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        problems.append(f"'metadata' must be a dict, not {type(metadata).__name__}")
    lists = {}
    for key in ("logs", "warnings", "errors"):
        value = body.get(key, [])
        if not isinstance(value, list):
            problems.append(f"'{key}' must be a list of strings, not {type(value).__name__}")
            value = []
        lists[key] = [v if isinstance(v, str) else json.dumps(v) for v in value]
    unknown = sorted(set(body) - set(RESULT_KEYS))
    if problems:
        return RunOutcome(status="failed", errors=["invalid plugin result: " + "; ".join(problems)])
    is_frame = encoded.get("data_kind") == "frame"
    data = frame if is_frame else encoded.get("data")
    warnings = lists["warnings"]
    if unknown:
        warnings.append("ignored unknown result keys: " + ", ".join(unknown))
    if (data is not None or is_frame) and "write_data" not in permissions:
        data = None
        warnings.append("returned data dropped: the plugin lacks the write_data permission")
    return RunOutcome(
        status="failed" if lists["errors"] else "succeeded",
        data=data,
        metadata=metadata,
        logs=lists["logs"],
        warnings=warnings,
        errors=lists["errors"],
    )
