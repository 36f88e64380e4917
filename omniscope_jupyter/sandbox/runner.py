"""SandboxRunner: one plugin run in a pooled, hardened container (blocking).

A run takes a container from the pool (``pool.py``: reused when it already serves this plugin
version and user, else a warm one bound now, else one started cold), places its input there as
an Arrow IPC file (memory-mapped by the runner), sends the job over the container's socket and
waits for the answer on the same socket: no polling, and the result is taken the moment the
runner has it, before the plugin's process has even exited. A result frame arrives as a sealed
memfd (its size and content fixed by the kernel), memory-mapped here, sized from its headers
before it is decoded (``arrow_limits``), never unpickled or executed. The container's clean-up
and its removal happen off the caller's path. Everything here blocks;
:mod:`omniscope_jupyter.sandbox.executions` calls it from its run threads.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import mmap
import os
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
import pyarrow as pa
import requests
from urllib3.exceptions import ReadTimeoutError

from .. import jsonsafe
from ..errors import SandboxUnavailable
from . import container as ctr
from .arrow_limits import check_stream
from .budget import ResultBudget
from .events import MAX_EVENTS_BYTES
from .images import Progress, ensure_images
from .pool import (
    CLEAN_SECONDS,
    Binding,
    Profile,
    Reply,
    SandboxPool,
    Slot,
    SlotBroken,
    SlotUnused,
)
from .processes import is_alive, process_identity
from .settings import SandboxSettings
from .transfer import TransferError, ipc_to_frame, write_ipc
from .volumes import ensure_volume, over_cap, remove_volume

log = logging.getLogger(__name__)

#: Final statuses of a run.
STATUSES = ("succeeded", "failed", "timeout", "oom", "cancelled")
RESULT_KEYS = ("data", "metadata", "logs", "warnings", "errors")
#: Seconds past a run's timeout the host waits for the runner's own verdict before it gives up
#: on the container (the runner kills the plugin at the timeout itself).
GRACE_SECONDS = 5.0
#: The seals that make a memfd safe to map: it can neither shrink (no SIGBUS) nor change.
REQUIRED_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_WRITE
#: Runs whose container ``SandboxRunner.served`` remembers.
MAX_SERVED = 10_000


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
    #: ``data`` already as an Arrow table (``jobs.build_request`` checks it converts).
    data_table: pa.Table | None = None
    #: The input already written as an Arrow IPC file (spooled while queued, or sent as Arrow
    #: over REST); the runner moves it into the container's folder.
    input_path: Path | None = None
    #: ``[rows, columns]`` of the input table, kept when the table itself is not.
    input_shape: list[int] | None = None
    #: Who runs it: a container serves one user only.
    user: str = ""
    #: Called with the container's token once the job is sent to it; False withdraws the run
    #: (it was cancelled meanwhile: it is stopped, and ``RunWithdrawn`` raised).
    on_start: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)
    #: Called with the runner's live event text (JSON lines, in chunks) as it comes.
    on_events: Callable[[str], Any] | None = field(default=None, compare=False, repr=False)


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


class RunWithdrawn(Exception):
    """The run was cancelled before it started (``RunRequest.on_start`` said so)."""


class _Unused(Exception):
    """The run's container was gone before it got the job; its input was moved to ``input``."""

    def __init__(self, input: Path | None) -> None:
        super().__init__("the container was gone")
        self.input = input


class OutputRefused(Exception):
    """What the sandbox handed back is not acceptable (kind, size, seals)."""


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




def _is_read_timeout(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    return any(isinstance(arg, ReadTimeoutError) for arg in exc.args)


def _output_text(header: dict[str, Any], name: str, cap: int) -> str:
    stream = (header.get("output") or {}).get(name) or {}
    raw = stream.get("text")
    text = raw[: cap + 1] if isinstance(raw, str) else ""
    return text + (f"\n[output truncated at {cap} bytes]" if stream.get("cut") else "")


class SandboxRunner:
    """Runs plugins in pooled containers; thread-safe, cancellable by execution id."""

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
        self._client_lock = threading.Lock()
        self._images: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._active: dict[str, Slot] = {}
        self._cancelled: set[str] = set()
        self._volumes: set[str] = set()
        #: Which container (pool token) served each recent run of this process.
        self.served: dict[str, str] = {}
        #: Decoded result frames in flight, shared by every run of this runner (``budget.py``).
        self.budget = ResultBudget(
            self.settings.results_budget_bytes, self.settings.results_budget_wait_seconds
        )
        self.pool = SandboxPool(self.settings, self.client)

    # -- engine and images -------------------------------------------------------------------

    def client(self) -> docker.DockerClient:
        """The Docker client, (re)connected on demand; raises ``SandboxUnavailable``."""
        with self._client_lock:
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
        """Drain the pool and close the Docker client (a later run starts afresh)."""
        self.pool.shutdown()
        self.pool = SandboxPool(self.settings, self.client)
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def images(self) -> dict[str, str]:
        """``{language: tag}`` of the runner images, built on first need."""
        if self._images is None:
            self._images = ensure_images(self.client(), self._progress, self.settings)
        return self._images

    def default_profiles(self) -> list[Profile]:
        """What the pool keeps warm ahead of any run: each language, no permissions."""
        return [Profile(image, language) for language, image in sorted(self.images().items())]

    def keep_warm(self) -> None:
        """Start the warm pools of :meth:`default_profiles` (in the background)."""
        self.pool.keep_warm(self.default_profiles())

    def reap(self) -> int:
        """Remove this process's stray containers and those of dead processes on the store,
        and their run folders. This process's live pool, other live processes' runs (CLI,
        kernels, another server) and those started on another host are left alone."""
        self.pool.sweep_folders()
        try:
            client = self.client()
        except SandboxUnavailable:
            return 0
        return ctr.reap(client, owner=self.settings.owner, keep=self.pool.keeps)

    def shutdown(self) -> None:
        """Drain the pool, then reap what is left of this process (blocking)."""
        self.pool.shutdown()
        self.reap()

    def forget_plugin(self, plugin_id: str) -> None:
        """Retire the containers of ``plugin_id`` (they hold its files and volume)."""
        self.pool.retire_plugin(plugin_id)
        self._volumes.discard(plugin_id)

    # -- runs ----------------------------------------------------------------------------

    def cancel(self, execution_id: str, token: str | None = None) -> bool:
        """Stop a run, whichever process runs it; False if none was found.

        A run of this process is cancelled through its container's channel (it ends as
        ``cancelled``). Another process's run is stopped by killing its container, found by the
        ``token`` its record names; that process then records the cancel. A container whose
        process died is removed.
        """
        with self._lock:
            self._cancelled.add(execution_id)
            slot = self._active.get(execution_id)
        if slot is not None:
            slot.cancel()
            return True
        if token is None:
            return False
        found = ctr.find_container(self.client(), token)
        for container in found:
            identity = (container.labels or {}).get(ctr.PROCESS_LABEL)
            if identity != process_identity() and not is_alive(identity):
                ctr.remove_quietly(container)
                continue
            try:
                container.kill()
            except docker.errors.APIError:
                ctr.remove_quietly(container)  # created but not started, or gone meanwhile
        return bool(found)

    def run(self, request: RunRequest, cancelled: Callable[[], bool] | None = None) -> RunOutcome:
        """Run one job to completion (or timeout/oom/cancel) and return its outcome.

        ``cancelled`` tells whether someone (possibly another process) asked to cancel the run;
        it is asked once the run has a container, and when the run ends without a result. A
        container found gone before it got the job (it died idle) is replaced.
        """
        profile = self._profile(request)
        binding = Binding(request.plugin_id, request.version, request.user, Path(request.plugin_dir))
        was_cancelled = lambda: self._is_cancelled(request.execution_id, cancelled)  # noqa: E731
        carried: Path | None = None
        try:
            for _ in range(3):
                slot = self.pool.acquire(profile, binding)
                try:
                    return self._run_in(slot, request, profile, was_cancelled, carried)
                except _Unused as unused:
                    log.info("sandbox container %s was gone; the run takes another", slot.token)
                    carried = unused.input
        finally:
            if carried is not None:
                carried.unlink(missing_ok=True)
        raise SandboxUnavailable("sandbox containers kept failing before the run could start")

    def _run_in(
        self,
        slot: Slot,
        request: RunRequest,
        profile: Profile,
        was_cancelled: Callable[[], bool],
        carried: Path | None,
    ) -> RunOutcome:
        """The run in ``slot``; ``_Unused`` (the input moved aside) when it never got the job."""
        started = time.monotonic()
        reuse, volume_full = False, False
        input_file = slot.folder / "input.arrow"
        try:
            with self._lock:
                self._active[request.execution_id] = slot
                self.served[request.execution_id] = slot.token
                while len(self.served) > MAX_SERVED:
                    del self.served[next(iter(self.served))]
            # This process's cancels only: another process's flag is read by ``on_start`` (the
            # claim, one write while the job runs), which stops the run; no read on this path.
            if self._is_cancelled(request.execution_id, None):
                reuse = True
                return RunOutcome(status="cancelled", errors=["cancelled before start"])
            started = time.monotonic()
            message = self._job_message(slot, request, carried)
            deadline = time.monotonic() + request.timeout + GRACE_SECONDS
            withdrawn = []

            def sent() -> None:
                # Recorded while the job runs; a run cancelled meanwhile is stopped at once.
                if request.on_start is not None and not request.on_start(slot.token):
                    withdrawn.append(True)
                    slot.cancel()

            try:
                reply = slot.run(
                    message, deadline, self.settings.max_result_json_bytes, request.on_events,
                    sent,
                )  # fmt: skip
            except SlotUnused as exc:
                aside = None
                if input_file.exists():
                    aside = self.settings.work_dir / f"{slot.token}-{request.execution_id}.arrow"
                    os.replace(input_file, aside)
                raise _Unused(aside) from exc
            except SlotBroken as exc:
                outcome = self._broken(request, exc, was_cancelled, deadline)
            else:
                try:
                    outcome = self._outcome(reply, request, was_cancelled)
                finally:
                    reply.close()
                reuse = reply.kind == "result"
                if withdrawn:
                    raise RunWithdrawn(request.execution_id)
                if reuse and "file_system" in request.permissions:
                    reuse, volume_full = self._check_volume(slot, request, outcome)
        finally:
            with self._lock:
                self._active.pop(request.execution_id, None)
                self._cancelled.discard(request.execution_id)
            input_file.unlink(missing_ok=True)
            if volume_full:
                self.pool.retire(slot, wait=True)
                if not remove_volume(self.client(), profile.volume or ""):
                    outcome.warnings[-1] = outcome.warnings[-1].replace(
                        "was emptied", "could not be emptied (in use); it was kept"
                    )
            else:
                self.pool.release(slot, reuse)
        outcome.duration_ms = round((time.monotonic() - started) * 1000, 1)
        return outcome

    def _profile(self, request: RunRequest) -> Profile:
        image = request.image or self.images().get(request.language)
        if image is None:
            raise SandboxUnavailable(f"no runner image for language {request.language!r}")
        if "file_system" not in request.permissions:
            return Profile(image, request.language, "network" in request.permissions)
        if request.plugin_id not in self._volumes:
            ensure_volume(self.client(), self.settings, request.plugin_id)
            self._volumes.add(request.plugin_id)
        volume = ctr.volume_name(self.settings.owner, request.plugin_id)
        return Profile(
            image, request.language, "network" in request.permissions, volume, request.plugin_id
        )

    def _is_cancelled(self, execution_id: str, asked: Callable[[], bool] | None) -> bool:
        with self._lock:
            if execution_id in self._cancelled:
                return True
        return bool(asked and asked())

    def _job_message(
        self, slot: Slot, request: RunRequest, carried: Path | None = None
    ) -> dict[str, Any]:
        """The job for the runner; the input table goes into the folder as ``input.arrow``
        (``carried``: already written, for a container that was gone)."""
        job: dict[str, Any] = {
            "plugin_id": request.plugin_id,
            "version": request.version,
            "language": request.language,
            "entry_point": request.entry_point,
            "config": request.config,
            "parameters": request.parameters,
            "extension_point": request.extension_point,
            "permissions": sorted(request.permissions),
            "fd_passing": not ctr.is_gvisor(self.settings.runtime),
        }
        target = slot.folder / "input.arrow"
        if carried is not None:
            os.replace(carried, target)
        elif request.input_path is not None:
            os.replace(request.input_path, target)
        elif request.data_table is not None:
            with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_stream(
                sink, request.data_table.schema
            ) as writer:
                writer.write_table(request.data_table)
        elif isinstance(request.data, pd.DataFrame):
            write_ipc(request.data, str(target))
        if target.exists():
            os.chmod(target, 0o644)
            job["data_kind"], job["input_file"] = "frame", target.name
        elif request.data is not None:
            job["data_kind"], job["data"] = "json", request.data
        else:
            job["data_kind"] = "none"
        return {
            "type": "job",
            "job": job,
            "user": request.user,
            "timeout": request.timeout,
            "log_cap": self.settings.log_cap_bytes,
            "events_cap": MAX_EVENTS_BYTES,
            "volume_seconds": self.settings.volume_check_seconds,
        }

    def _broken(
        self,
        request: RunRequest,
        exc: SlotBroken,
        was_cancelled: Callable[[], bool],
        deadline: float,
    ) -> RunOutcome:
        """The container failed mid-run: a cancel from elsewhere, a lost deadline, or a crash."""
        if was_cancelled():
            return RunOutcome(status="cancelled", errors=["the run was cancelled"])
        if time.monotonic() >= deadline:
            return self._timeout(request)
        return RunOutcome(status="failed", errors=[f"the sandbox failed during the run: {exc}"])

    def _timeout(self, request: RunRequest) -> RunOutcome:
        return RunOutcome(
            status="timeout",
            errors=[f"the plugin did not finish within {request.timeout:g} s and was stopped"],
        )

    def _outcome(
        self, reply: Reply, request: RunRequest, was_cancelled: Callable[[], bool]
    ) -> RunOutcome:
        cap = self.settings.log_cap_bytes
        base: dict[str, Any] = {
            "stdout": _output_text(reply.header, "stdout", cap),
            "stderr": _output_text(reply.header, "stderr", cap),
        }
        if reply.kind == "end":
            status = reply.header.get("status")
            peak = reply.header.get("peak_memory_bytes")
            base["peak_memory_bytes"] = peak if isinstance(peak, int) and peak >= 0 else None
            if status == "cancelled" or was_cancelled():
                return RunOutcome(status="cancelled", errors=["the run was cancelled"], **base)
            if status == "timeout":
                outcome = self._timeout(request)
                outcome.stdout, outcome.stderr = base["stdout"], base["stderr"]
                return outcome
            if status == "oom":
                memory = self.settings.memory
                error = f"the plugin exceeded its memory limit ({memory}) and was killed"
                return RunOutcome(status="oom", errors=[error], **base)
            return RunOutcome(status="failed", errors=[str(reply.header.get("error"))], **base)
        try:
            return self._read_result(reply, request, base)
        except (OutputRefused, TransferError) as exc:
            return RunOutcome(status="failed", errors=[f"output refused: {exc}"], **base)

    def _read_result(self, reply: Reply, request: RunRequest, base: dict[str, Any]) -> RunOutcome:
        payload = _parse_json(reply.payload or b"")
        if not isinstance(payload, dict):
            raise OutputRefused("the result is not an object")
        peak = payload.get("peak_memory_bytes")
        peak = peak if isinstance(peak, int) and not isinstance(peak, bool) and peak >= 0 else None
        if payload.get("status") != "succeeded":
            errors = [str(payload.get("error", "the plugin failed"))]
            if payload.get("traceback"):
                errors.append(str(payload["traceback"]))
            return RunOutcome(status="failed", errors=errors, peak_memory_bytes=peak, **base)
        encoded = payload.get("result")
        frame = None
        wants_frame = isinstance(encoded, dict) and encoded.get("data_kind") == "frame"
        # Without write_data the data is dropped anyway: never map or decode it.
        if wants_frame and "write_data" in request.permissions:
            frame = self._read_frame(reply, request.execution_id)
        outcome = validate_result(encoded, frame, request.permissions)
        outcome.peak_memory_bytes = peak
        outcome.stdout, outcome.stderr = base["stdout"], base["stderr"]
        return outcome

    def _read_frame(self, reply: Reply, execution_id: str) -> pd.DataFrame:
        """The result frame, mapped from its sealed memfd (or inline bytes under gVisor),
        refused before decoding when it would be too large or not fit the budget for results in
        flight (held until the execution service has made the answer)."""
        settings = self.settings
        if reply.inline is not None:
            buffer: Any = pa.py_buffer(reply.inline)
        elif reply.frame_fd is None:
            raise OutputRefused("the result frame is missing")
        else:
            buffer = self._map_frame(reply.frame_fd)
        size = check_stream(
            buffer, max_bytes=settings.max_output_decoded_bytes, max_cells=settings.max_output_cells
        )
        return self.budget.hold(execution_id, size.decoded_bytes, lambda: ipc_to_frame(buffer))

    def _map_frame(self, fd: int) -> pa.Buffer:
        """A read-only map of a sealed memfd; anything else is refused before it is mapped."""
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutputRefused("the result frame is not a regular file")
        try:
            seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        except OSError as exc:
            raise OutputRefused("the result frame is not a sealed memfd") from exc
        if seals & REQUIRED_SEALS != REQUIRED_SEALS:
            raise OutputRefused("the result frame is not sealed against change")
        cap = self.settings.max_output_bytes
        if info.st_size > cap:
            raise OutputRefused(f"the result frame is {info.st_size} bytes, above the {cap}-byte cap")
        if info.st_size == 0:
            raise OutputRefused("the result frame is empty")
        return pa.py_buffer(mmap.mmap(fd, info.st_size, prot=mmap.PROT_READ))

    def _check_volume(
        self, slot: Slot, request: RunRequest, outcome: RunOutcome
    ) -> tuple[bool, bool]:
        """``(reuse, full)`` after a ``file_system`` run, from the runner's measure of /data.

        The runner measures /data after its clean-up (under ``volume_check_seconds``); a
        volume above the cap is emptied (the container goes first: it holds the volume).
        """
        try:
            # The runner's measure has its own deadline: wait for that, not just the clean-up.
            report = slot.settle(CLEAN_SECONDS + self.settings.volume_check_seconds)
        except SlotBroken as exc:
            outcome.warnings.append(f"/data could not be measured: {exc}")
            return False, False
        if report.get("type") != "clean":
            outcome.warnings.append(f"/data could not be measured: {report.get('reason')}")
            return False, False
        used, problem = report.get("volume_bytes"), report.get("volume_error")
        if problem or not isinstance(used, int):
            outcome.warnings.append(f"/data could not be measured: {problem or 'no answer'}")
            return True, False
        warning = over_cap(used, self.settings.max_volume_bytes)
        if warning:
            outcome.warnings.append(warning)
        return warning is None, warning is not None


def _parse_json(raw: bytes) -> Any:
    """A container's ``result.json``: any text a plugin can forge (deep nesting, huge numbers,
    not UTF-8) is a refused output, never an exception escaping as a 500."""
    try:
        # NaN/Infinity are not JSON; a hostile writer's are read as null.
        return jsonsafe.loads(raw, what="the result", parse_constant=lambda _c: None)
    except jsonsafe.UnsafeJSON as exc:
        raise OutputRefused(str(exc)) from None


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
