"""Execution service: runs an installed plugin in the sandbox and records every run.

The REST handlers call the coroutines (``execute``, ``get``, ``cancel``, ``list_page``); the CLI and
notebook magics call the blocking ``run`` / ``run_frame``. Docker and database calls block, so
the coroutines push them to worker threads and the server's event loop never waits on them.

Runs (and per-plugin image builds) get their own ``max_concurrent_runs`` threads: a run holds
its thread for up to the timeout, and on asyncio's default executor a few sleeping plugins would
starve every other request. A run beyond them waits as ``queued`` in a queue that serves users
round-robin (``scheduling.FairQueue``: one user's hundred queued runs do not starve another's),
capped per user and in total (429 beyond), with its input spooled to disk meanwhile; its record
shows its place (``queue: {position, length}``).

Server, CLI and kernels may share a store. Each record names the process running it
(``Execution.runner``); only that process's death makes it stale, and a cancel reaches any
process's run: queued runs are cancelled in the record, running ones are flagged in the record
and stopped: this process's through their container's channel, another's by killing the
container the record names (``sandbox``, its pool token).

Answers carry a result DataFrame in pandas' "split" layout, ``{"columns", "index", "data"}``
(rows as lists), which keeps column order and the index and is accepted back as ``input_data``.
Every result is held to its extension point's contract (``contracts.check_outcome``) and the
answer names its ``kind`` (none, frame, json, figure, vega-lite, report, file) and ``media_type``.
A result frame counts against the runner's budget for results in flight (``budget.py``) from
before it is decoded until its answer is made here.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import docker.errors
import pandas as pd
import pyarrow as pa
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..answers import row_answer
from ..errors import Conflict, InvalidRequest, NotFound, SandboxUnavailable
from ..store.orm import Execution, Plugin, PluginVersion
from .container import ensure_network, short_error, volume_name
from .contracts import check_outcome, result_kind
from .dependencies import PLUGIN_IMAGE_REPO, build_plugin_image
from .events import EventTail, events_path, live_summary
from .inflight import PluginRuns
from .jobs import PluginTarget, body_from_query, build_request, frame_from_arrow
from .pool import owned_dir
from .processes import is_alive, process_identity
from .provenance import stamp, table_digest
from .runner import RunOutcome, RunRequest, RunWithdrawn, SandboxRunner
from .scheduling import FairQueue
from .settings import SandboxSettings
from .transfer import frame_to_split, frame_to_table, write_ipc
from .volumes import remove_volume

log = logging.getLogger(__name__)

__all__ = ["ExecutionService", "FrameResult", "PluginTarget"]

FINISHED = frozenset({"succeeded", "failed", "timeout", "oom", "cancelled"})
#: Set as a running record's ``result`` by a cancel; the running process reads it.
CANCEL_REQUESTED = "cancel_requested"
#: Label of per-plugin images naming their lock (``dependencies._dockerfile``).
LOCK_DIGEST_LABEL = "org.omniscope.lock-digest"
#: A recorded result larger than this keeps its metadata but not its data.
MAX_RECORDED_RESULT_BYTES = 8 * 1024 * 1024
#: A result frame with more cells than this is not converted for the history at all.
MAX_RECORDED_CELLS = 200_000
#: The schema metadata key of an Arrow answer that holds the execution record (JSON).
ARROW_ANSWER_KEY = b"omniscope.execution"
#: Set as a running record's ``result`` field ``sandbox``: the token of its container.
SANDBOX_TOKEN = "sandbox"
#: How long an uninstall waits for this process's runs of the plugin to stop.
FORGET_WAIT_SECONDS = 30.0
_UNSET: Any = object()


@dataclass
class _Queued:
    """One submitted run, between ``_submit`` and its run thread."""

    target: PluginTarget
    request: RunRequest
    warnings: list[str]
    raise_unavailable: bool
    keep: list[RunOutcome] | None
    future: Future[dict[str, Any]]


@dataclass
class FrameResult:
    """A run seen from Python: ``data`` as a DataFrame (or JSON), plus the recorded answer."""

    data: Any
    answer: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.answer["status"])


#: A run's plugin version, or the store lookup that gives it.
Target = PluginTarget | Callable[[], PluginTarget]


def _resolve(target: Target) -> PluginTarget:
    return target if isinstance(target, PluginTarget) else target()


def _shape(data: Any) -> list[int] | None:
    return list(data.shape) if isinstance(data, pd.DataFrame) else None


def _jsonable_data(data: Any) -> Any:
    return frame_to_split(data) if isinstance(data, pd.DataFrame) else data


def arrow_answer_of(answer: dict[str, Any], frame: pd.DataFrame) -> bytes:
    """``frame`` as an Arrow IPC stream carrying ``answer`` (minus its data) in its schema."""
    table = frame_to_table(frame)
    execution = json.dumps({k: v for k, v in answer.items() if k != "data"}, default=str)
    metadata = {**(table.schema.metadata or {}), ARROW_ANSWER_KEY: execution.encode()}
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def json_size_estimate(frame: pd.DataFrame) -> int:
    """About how many bytes ``frame`` takes as a JSON answer, without making it.

    Numbers and timestamps a cell's worth each; text its length (a categorical's expands to
    its values, as JSON writes them out).
    """
    total = 16 * (len(frame.index) + 1)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            lengths = pd.Series(column.cat.categories.astype(str)).str.len().to_numpy()
            codes = column.cat.codes.to_numpy()
            total += int(lengths[codes[codes >= 0]].sum()) + 4 * len(column)
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            total += int(column.astype(str).str.len().sum()) + 4 * len(column)
        else:
            total += 24 * len(column)
    return total


class ExecutionService:
    """Validates, runs (sync or in the background), records, lists and cancels executions."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        runner: SandboxRunner,
        settings: SandboxSettings | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.runner = runner
        self.settings = settings or runner.settings
        self._tasks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._slots = max(1, self.settings.max_concurrent_runs)
        self._queue: FairQueue[_Queued] = FairQueue(
            self.settings.max_queued_per_user, self.settings.max_queued
        )
        self._workers: list[threading.Thread] = []
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._spool: Any = None
        self._image_ids: dict[str, str] = {}
        self._runtime_ok = False
        #: Live events of this process's runs, by execution id (``events``).
        self._live: dict[str, EventTail] = {}
        #: This process's runs by plugin, from their recording to their end (``forget_plugin``).
        self._runs = PluginRuns()
        #: Input table digests being computed beside their runs, by execution id.
        self._digests: dict[str, Future[str]] = {}
        self._digest_pool: ThreadPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        """Reap containers and close records left by processes on this store that died.

        Runs of live processes (another server, the CLI, a kernel on the same store) are kept.
        """
        await asyncio.to_thread(self.close_stale_records)
        await asyncio.to_thread(self.runner.reap)
        for problem in await asyncio.to_thread(self.check_sandbox):
            log.warning("OmniScope sandbox: %s", problem)
        try:
            # Warm containers for the first runs (the images are built first when missing).
            await asyncio.to_thread(self.runner.keep_warm)
        except SandboxUnavailable as exc:
            log.warning("OmniScope sandbox: no warm containers: %s", exc.message)

    def check_sandbox(self) -> list[str]:
        """What would refuse runs (empty: nothing), checked at start: the configured runtime is
        not registered with the engine, or the sandbox network's firewall cannot be installed
        or verified (then network runs answer 503; others still run). Blocking."""
        found = []
        try:
            client = self.runner.client()
        except SandboxUnavailable as exc:
            return [exc.message]
        checks: tuple[Callable[[Any], object], ...] = (self._require_runtime, ensure_network)
        for check in checks:
            try:
                check(client)
            except SandboxUnavailable as exc:
                found.append(exc.message)
        return found

    def _require_runtime(self, client: Any) -> None:
        """``SandboxUnavailable`` unless the engine knows ``settings.runtime`` (asked once)."""
        runtime = self.settings.runtime
        if runtime == "runc" or self._runtime_ok:
            return
        try:
            known = sorted((client.info().get("Runtimes") or {}).keys())
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise SandboxUnavailable(f"the Docker engine failed: {short_error(exc)}") from exc
        if runtime not in known:
            raise SandboxUnavailable(
                f"sandbox_runtime is {runtime!r} but the Docker engine has no such runtime "
                f"(it has {', '.join(known)}); install Debian's runsc package and run "
                "scripts/ensure-docker.sh, or set c.OmniscopeApp.sandbox_runtime = 'runc'"
            )
        self._runtime_ok = True

    def _preflight(self, request: RunRequest) -> None:
        """Refuse (503) a run whose runtime is missing, or a network run without the firewall."""
        if self.settings.runtime != "runc" and not self._runtime_ok:
            self._require_runtime(self.runner.client())
        if "network" in request.permissions:
            # Verifies the host firewall before the plugin joins.
            ensure_network(self.runner.client())

    async def shutdown(self) -> None:
        """Cancel this process's queued and background runs, wait briefly for the running ones,
        drain the sandbox pool and reap its leftovers."""
        for queued in self._queue.close():
            self._withdraw(queued, "cancelled: the server stopped before it started")
        tasks = list(self._tasks.items())
        for execution_id, _task in tasks:
            try:
                await asyncio.to_thread(self._request_cancel, execution_id)
                await asyncio.to_thread(self.runner.cancel, execution_id)
            except SandboxUnavailable:
                pass
        if tasks:
            await asyncio.wait([t for _, t in tasks], timeout=30)
        await asyncio.to_thread(self.runner.shutdown)

    def close(self) -> None:
        """Blocking ``shutdown`` for processes without an event loop (``omniplug``, kernels):
        queued runs are cancelled, the sandbox pool is drained. Running runs end with it."""
        for queued in self._queue.close():
            self._withdraw(queued, "cancelled: the process stopped before it started")
        if self._workers:  # this process ran something: it has containers to let go
            self.runner.shutdown()

    # -- REST-facing coroutines ----------------------------------------------------------------

    async def execute(self, target: Target, body: Any, user: str = "") -> dict[str, Any]:
        """Run ``target`` as ``body`` asks; ``{"async": true}`` returns at once with ``running``.

        ``target`` may be a store lookup that gives it: then it runs on the thread that records
        the run (one thread hop per call).

        Raises ``Conflict`` (disabled), ``InvalidRequest`` (bad body/config/extension point) and,
        for a synchronous run, ``SandboxUnavailable`` when Docker is unreachable.
        """
        is_async = bool(body.get("async")) if isinstance(body, dict) else False

        def start() -> tuple[PluginTarget, str, Future[dict[str, Any]]]:
            found = _resolve(target)
            return found, *self._start(found, body, user, raise_unavailable=not is_async)

        found, execution_id, started = await asyncio.to_thread(start)
        future = asyncio.wrap_future(started)
        if not is_async:
            return await future
        return await self._accepted(found, execution_id, future)

    async def _accepted(
        self, target: PluginTarget, execution_id: str, future: asyncio.Future[dict[str, Any]]
    ) -> dict[str, Any]:
        """The answer to an async run: its id, status and, while queued, its place."""
        self._tasks[execution_id] = future
        future.add_done_callback(lambda _t: self._tasks.pop(execution_id, None))
        record = await self.get(target.plugin_id, execution_id)
        answer = {"execution_id": execution_id, "plugin_id": target.plugin_id}
        return {**answer, **{k: record[k] for k in ("status", "queue") if k in record}}

    async def execute_arrow(
        self,
        target: Target,
        payload: bytes,
        query: dict[str, str],
        user: str = "",
        arrow_answer: bool = True,
    ) -> tuple[dict[str, Any], bytes | None]:
        """Run on an Arrow IPC body (the input table), the other fields in ``query``.

        Returns the answer and, when the run produced a frame and ``arrow_answer``, that frame
        as an Arrow IPC stream whose schema metadata ``omniscope.execution`` holds the answer
        (without ``data``); otherwise the JSON answer alone (an async run: its id and status).
        """
        body = body_from_query(query)
        is_async = bool(body.get("async"))
        kept: list[RunOutcome] = []

        def start() -> tuple[PluginTarget, str, Future[dict[str, Any]]]:
            found = _resolve(target)
            frame = frame_from_arrow(payload)
            return found, *self._start(found, body, user, frame, not is_async, kept)

        found, execution_id, started = await asyncio.to_thread(start)
        future = asyncio.wrap_future(started)
        # The result frame is held for its answer, made here: then its budget is given back.
        release = functools.partial(self.runner.budget.release, execution_id)
        if is_async:
            future.add_done_callback(lambda _f: release())
            return await self._accepted(found, execution_id, future), None
        try:
            answer = await future
            data = kept[0].data if kept else None
            if arrow_answer and isinstance(data, pd.DataFrame):
                return answer, await asyncio.to_thread(arrow_answer_of, answer, data)
            answer["data"] = (
                await asyncio.to_thread(self._json_answer_data, kept[0]) if kept else None
            )
            return answer, None
        finally:
            release()

    async def get(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        """The recorded execution (with its result once finished); ``NotFound`` otherwise."""
        return await asyncio.to_thread(self._get, plugin_id, execution_id)

    async def cancel(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        """Cancel an execution of any process on this store and return its final record.

        A queued run is cancelled in its record and never starts. A running one is flagged in
        its record and its container killed through Docker; the process running it then
        records ``cancelled`` (or this one does, when that process is dead).
        """
        record = await self.get(plugin_id, execution_id)
        if record["status"] in FINISHED:
            raise Conflict(f"execution {execution_id} already finished ({record['status']})")
        queued = self._queue.remove(execution_id)
        if queued is not None:
            await asyncio.to_thread(self._withdraw, queued, "cancelled before it started")
            return await self.get(plugin_id, execution_id)
        token = await asyncio.to_thread(self._request_cancel, execution_id)
        if token is False:
            # Cancelled while queued (its job returns at once when a slot picks it up).
            return await self.get(plugin_id, execution_id)
        await asyncio.to_thread(self.runner.cancel, execution_id, str(token) or None)
        task = self._tasks.get(execution_id)
        if task is not None:
            await asyncio.wait([task], timeout=30)
        else:
            # Another request's synchronous run, or another process's: it records its own end.
            for _ in range(60):
                if await asyncio.to_thread(self._close_if_orphaned, execution_id):
                    break
                await asyncio.sleep(0.5)
        return await self.get(plugin_id, execution_id)

    async def list_page(self, plugin_id: str, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        """Newest-first page of a plugin's executions, without their result data."""
        return await asyncio.to_thread(self.page, plugin_id, page, page_size)

    def events(self, plugin_id: str, execution_id: str, after: int = 0) -> dict[str, Any]:
        """The run's live events with ``seq`` above ``after`` (blocking; see ``events.py``).

        ``{"execution_id", "plugin_id", "status", "finished", "events"}``: while it runs, read
        from its events file (this process's runs are followed as they grow; another process's
        on this host are read from its run folder); once finished, from its record.
        """
        tail = self._live.get(execution_id)
        if tail is not None:
            tail.poll()
        with self.session_factory() as session:
            row = session.get(Execution, execution_id)
            if row is None or row.plugin_name != plugin_id:
                raise NotFound(f"no execution {execution_id} of plugin {plugin_id!r}")
            status, recorded = row.status, row.events
        finished = status in FINISHED
        if finished:
            events = [e for e in recorded or [] if e.get("seq", 0) > after]
        elif tail is not None:
            events = tail.since(after)
        else:
            foreign = EventTail(events_path(self.settings.work_dir, execution_id))
            foreign.poll()
            events = foreign.since(after)
        return {
            "execution_id": execution_id,
            "plugin_id": plugin_id,
            "status": status,
            "finished": finished,
            "events": events,
        }

    # -- blocking API for the CLI and notebooks ------------------------------------------------

    def run(self, target: PluginTarget, body: Any, user: str = "") -> dict[str, Any]:
        """Blocking ``execute`` (``async`` ignored) for ``omniplug run``; waits for a slot."""
        return self._start(target, body, user)[1].result()

    def run_frame(
        self,
        target: PluginTarget,
        frame: pd.DataFrame | pd.Series | None,
        parameters: dict[str, Any] | None = None,
        extension_point: str | None = None,
        config: dict[str, Any] | None = None,
        timeout: float | None = None,
        user: str = "",
        execution_id: str | None = None,
    ) -> FrameResult:
        """Run on a DataFrame (a Series is a one-column frame); the result comes back as one."""
        body: dict[str, Any] = {"parameters": parameters or {}, "config": config}
        if extension_point is not None:
            body["extension_point"] = extension_point
        if timeout is not None:
            body["timeout"] = timeout
        if execution_id:
            body["execution_id"] = execution_id
        outcome_box: list[RunOutcome] = []
        execution_id, started = self._start(target, body, user, frame, keep=outcome_box)
        try:
            answer = started.result()
        finally:
            # The frame is the caller's now: it no longer counts as a result in flight.
            self.runner.budget.release(execution_id)
        data = outcome_box[0].data if outcome_box else None
        return FrameResult(data=data, answer=answer)

    def _start(
        self,
        target: PluginTarget,
        body: Any,
        user: str,
        frame: pd.DataFrame | pd.Series | None = None,
        raise_unavailable: bool = True,
        keep: list[RunOutcome] | None = None,
    ) -> tuple[str, Future[dict[str, Any]]]:
        """Validate, record and queue a run (blocking, one thread hop for the coroutines)."""
        execution_id = self._new_id(body)
        request, warnings = self._request(execution_id, target, body, frame)
        return execution_id, self._submit(target, request, warnings, user, raise_unavailable, keep)

    def _new_id(self, body: Any) -> str:
        """A fresh execution id, or the caller's own (a UUID not used yet).

        A caller that picks the id can follow the run's events and cancel it while its request
        is still running (a notebook's synchronous run).
        """
        wanted = body.get("execution_id") if isinstance(body, dict) else None
        if wanted is None:
            return str(uuid.uuid4())
        try:
            execution_id = str(uuid.UUID(str(wanted)))
        except ValueError:
            raise InvalidRequest("execution_id must be a UUID") from None
        if execution_id != wanted:
            raise InvalidRequest("execution_id must be a UUID in its canonical lowercase form")
        with self.session_factory() as session:
            if session.get(Execution, execution_id) is not None:
                raise Conflict(f"execution {execution_id} already exists")
        return execution_id

    def _request(
        self,
        execution_id: str,
        target: PluginTarget,
        body: Any,
        frame: pd.DataFrame | pd.Series | None = None,
    ) -> tuple[RunRequest, list[str]]:
        """``jobs.build_request`` with this service's default and maximum timeouts; the input
        table's digest is computed on another thread meanwhile (``_input_digest``)."""
        request, warnings = build_request(
            execution_id,
            target,
            body,
            max_timeout=max(self.settings.max_timeout, self.settings.timeout),
            default_timeout=self.settings.timeout,
            frame=frame,
        )
        if request.data_table is not None:
            with self._pending_lock:
                if self._digest_pool is None:
                    self._digest_pool = ThreadPoolExecutor(1, thread_name_prefix="omniscope-digest")
            self._digests[execution_id] = self._digest_pool.submit(table_digest, request.data_table)
        return request, warnings

    def _input_digest(self, execution_id: str) -> str | None:
        """The input table's digest of a run (waits for it); None when it has none."""
        pending = self._digests.pop(execution_id, None)
        if pending is None:
            return None
        try:
            return pending.result()
        except Exception as exc:  # noqa: BLE001 (a stamp without a digest, never a failed run)
            log.warning("execution %s: input not hashed: %s", execution_id, exc)
            return None

    def with_plugin_image(self, target: PluginTarget) -> PluginTarget:
        """``target`` with the image holding its locked dependencies, built on first need.

        Blocking (a first build takes seconds); a plugin without wheels keeps the runner image.
        """
        if target.image or not (target.dependencies or {}).get("resolved"):
            return target
        if not target.enabled:
            return target  # build_request refuses it; don't build an image for nothing
        base = self.runner.images()[target.language]
        try:
            tag = build_plugin_image(
                self.runner.client(), base, target.dependencies, self.settings.wheel_cache
            )
        except (OSError, docker.errors.DockerException) as exc:
            raise SandboxUnavailable(
                f"could not build the image of {target.plugin_id}'s dependencies: {exc}"
            ) from exc
        return replace(target, image=tag)

    def lock_digests(self, plugin_id: str | None = None) -> set[str]:
        """Digests of the dependency locks of ``plugin_id``'s versions (None: of every plugin)."""
        query = select(PluginVersion.dependencies)
        if plugin_id is not None:
            query = query.where(PluginVersion.plugin_name == plugin_id)
        with self.session_factory() as session:
            locks = session.scalars(query).all()
        return {str(lock["digest"]) for lock in locks if isinstance(lock, dict) and lock.get("digest")}

    def forget_plugin(self, plugin_id: str, lock_digests: Iterable[str] = ()) -> None:
        """Remove what the sandbox kept for an uninstalled plugin (blocking, best effort).

        Its ``/data`` volume goes, so a later plugin of the same name starts empty; so do the
        per-plugin images of ``lock_digests`` (the uninstalled plugin's locks, taken before
        uninstalling) that no installed plugin of this store still uses. An image a container
        still uses is kept. Failures are logged, never raised: the plugin is already gone.

        This process's runs of it are stopped first, and waited for: a run still binding or
        running would hold (or make again) the volume. Their callers hear a 409.
        """
        self._stop_runs_of(plugin_id)
        try:
            client = self.runner.client()
        except SandboxUnavailable as exc:
            log.warning("sandbox leftovers of %s kept (Docker unavailable): %s", plugin_id, exc.message)
            return
        self.runner.forget_plugin(plugin_id)  # its containers hold its files and its volume
        # A stopped run's container is removed off its run's path: give it a moment.
        remove_volume(client, volume_name(self.settings.owner, plugin_id), patience=30)
        unused = set(lock_digests) - self.lock_digests()
        for digest in sorted(unused):
            try:
                images = client.images.list(
                    name=PLUGIN_IMAGE_REPO, filters={"label": f"{LOCK_DIGEST_LABEL}={digest}"}
                )
                for image in images:
                    for tag in image.tags or [str(image.id)]:
                        client.images.remove(tag)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                log.warning("could not remove the image of lock %s of %s: %s", digest, plugin_id, short_error(exc))

    def _stop_runs_of(self, plugin_id: str) -> None:
        """Stop this process's queued and running runs of an uninstalled plugin; wait for them."""
        for execution_id in self._runs.doom(plugin_id):
            queued = self._queue.remove(execution_id)
            if queued is not None:
                self._drop_uninstalled(queued)
        deadline = time.monotonic() + FORGET_WAIT_SECONDS
        while left := self._runs.wait_gone(plugin_id, 0.5):
            if time.monotonic() > deadline:
                log.warning("runs of uninstalled %s still running: %s", plugin_id, ", ".join(left))
                return
            for execution_id in left:  # again: one may have just reached its container
                self.runner.cancel(execution_id)

    def _drop_uninstalled(self, queued: _Queued) -> None:
        """Settle a queued run of an uninstalled plugin (its record went with the plugin)."""
        if queued.request.input_path is not None:
            queued.request.input_path.unlink(missing_ok=True)
        self._digests.pop(queued.request.execution_id, None)
        self._release()
        try:
            answer = self._uninstalled(queued)
        except Conflict as exc:
            if queued.future.set_running_or_notify_cancel():
                queued.future.set_exception(exc)
        else:
            if queued.future.set_running_or_notify_cancel():
                queued.future.set_result(answer)
        finally:
            self._runs.leave(queued.request.execution_id)

    @staticmethod
    def _uninstalled(queued: _Queued) -> dict[str, Any]:
        """A run stopped by its plugin's uninstall: a 409 for a caller that waits for it, the
        same words as its answer for an async run (whose record is gone)."""
        request = queued.request
        message = (
            f"{request.plugin_id} was uninstalled while this run was in progress; the run was "
            "stopped and its record went with the plugin"
        )
        if queued.raise_unavailable:
            raise Conflict(message)
        return {"execution_id": request.execution_id, "plugin_id": request.plugin_id,
                "status": "cancelled", "errors": [message]}  # fmt: skip

    # -- internals (blocking) ---------------------------------------------------------------

    def _submit(
        self,
        target: PluginTarget,
        request: RunRequest,
        warnings: list[str],
        user: str,
        raise_unavailable: bool = True,
        keep: list[RunOutcome] | None = None,
    ) -> Future[dict[str, Any]]:
        """Record the run (``queued`` when every run thread is busy) and queue it.

        A queued run's input table is spooled to disk meanwhile (the request keeps its shape).
        ``TooManyRequests`` (429) when its user, or everyone, has too many runs queued.
        """
        with self._pending_lock:
            status = "running" if self._pending < self._slots else "queued"
            self._pending += 1
        future: Future[dict[str, Any]] = Future()
        try:
            self._runs.enter(request.execution_id, target.plugin_id)
            self._record_start(target, request, user, status)
            if status == "queued":
                request = self._spool_input(request)
            request = replace(request, user=user)
            queued = _Queued(target, request, warnings, raise_unavailable, keep, future)
            try:
                self._queue.put(request.execution_id, user, queued)
            except BaseException:
                self._forget_record(request)
                raise
            self._ensure_workers()
            return future
        except BaseException:
            self._release()
            self._runs.leave(request.execution_id)
            raise

    def _release(self) -> None:
        with self._pending_lock:
            self._pending -= 1

    def _ensure_workers(self) -> None:
        with self._pending_lock:
            while len(self._workers) < self._slots:
                worker = threading.Thread(
                    target=self._work, name=f"omniscope-run-{len(self._workers)}", daemon=True
                )
                self._workers.append(worker)
                worker.start()

    def _work(self) -> None:
        """A run thread: the next queued run (round-robin over users), until the queue closes."""
        while (entry := self._queue.get()) is not None:
            queued = entry[1]
            if not queued.future.set_running_or_notify_cancel():
                continue
            try:
                queued.future.set_result(self._job(queued))
            except BaseException as exc:  # noqa: BLE001 (handed to the waiting caller)
                queued.future.set_exception(exc)

    def _job(self, queued: _Queued) -> dict[str, Any]:
        """One run in a run thread: build, run (claimed once it has its container), record."""
        request = queued.request
        try:
            try:
                answer = self._run_recorded(
                    queued.target, request, queued.warnings, queued.raise_unavailable, queued.keep
                )
            except RunWithdrawn:
                answer = None
            except Exception:
                if not self._runs.doomed(request.execution_id):
                    raise
                answer = None  # what failed was its plugin going away
            if self._runs.doomed(request.execution_id):  # stopped: its plugin was uninstalled
                return self._uninstalled(queued)
            if answer is None:
                return self._get(request.plugin_id, request.execution_id)
            return answer
        finally:
            self._runs.leave(request.execution_id)
            if queued.keep is None:  # the answer is made (a caller keeping the frame releases)
                self.runner.budget.release(request.execution_id)
            self._release()
            self._digests.pop(request.execution_id, None)  # a run that never claimed
            if request.input_path is not None:
                request.input_path.unlink(missing_ok=True)

    def _spool_input(self, request: RunRequest) -> RunRequest:
        """The request with its input table written to a spool file and dropped from memory."""
        table = request.data_table
        if table is None and not isinstance(request.data, pd.DataFrame):
            return request
        if self._spool is None:
            self._spool = owned_dir(self.settings.work_dir, f"spool-{uuid.uuid4().hex[:16]}")
        path = self._spool / f"{request.execution_id}.arrow"
        if table is not None:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
                w.write_table(table)
        else:
            write_ipc(request.data, str(path))
        shape = request.input_shape or _shape(request.data)
        return replace(request, data=None, data_table=None, input_path=path, input_shape=shape)

    def _withdraw(self, queued: _Queued, why: str) -> None:
        """Settle a run taken out of the queue before it started (cancel, shutdown)."""
        self._digests.pop(queued.request.execution_id, None)
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, queued.request.execution_id)
            if row is not None and row.status not in FINISHED:
                row.status = "cancelled"
                row.result = self._note(why)
                row.finished_at = datetime.now(UTC)
        if queued.request.input_path is not None:
            queued.request.input_path.unlink(missing_ok=True)
        self._release()
        self._runs.leave(queued.request.execution_id)
        if queued.future.set_running_or_notify_cancel():
            queued.future.set_result(
                self._get(queued.request.plugin_id, queued.request.execution_id)
            )

    def _forget_record(self, request: RunRequest) -> None:
        """Delete the record of a run refused at the queue (a 429 leaves no history)."""
        self._digests.pop(request.execution_id, None)
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, request.execution_id)
            if row is not None:
                session.delete(row)
        if request.input_path is not None:
            request.input_path.unlink(missing_ok=True)

    def _claim(self, execution_id: str, token: str, image: dict[str, str]) -> bool:
        """Mark the run as running in container ``token`` and stamp its image and input digest,
        in one write; False when it was cancelled (or deleted) meanwhile."""
        digest = self._input_digest(execution_id)
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, execution_id)
            if row is None or row.status not in ("queued", "running"):
                return False
            if (row.result or {}).get(CANCEL_REQUESTED):
                row.status = "cancelled"
                row.result = self._note("cancelled before it started")
                row.finished_at = datetime.now(UTC)
                return False
            row.status = "running"
            row.result = {SANDBOX_TOKEN: token}
            provenance = {**(row.provenance or {}), **image}
            if digest is not None and isinstance(provenance.get("input"), dict):
                provenance["input"] = {**provenance["input"], "digest": digest}
            row.provenance = provenance
            return True

    def _request_cancel(self, execution_id: str) -> str | bool:
        """Cancel a queued run in its record (False), or flag a running one: then the token of
        its container (empty when it has none yet: it sees the flag when it claims one)."""
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, execution_id)
            if row is None or row.status in FINISHED:
                return False
            if row.status == "queued":
                row.status = "cancelled"
                row.result = self._note("cancelled before it started")
                row.finished_at = datetime.now(UTC)
                return False
            token = str((row.result or {}).get(SANDBOX_TOKEN) or "")
            row.result = {CANCEL_REQUESTED: True, SANDBOX_TOKEN: token}
            return token

    def _cancel_requested(self, execution_id: str) -> bool:
        with self.session_factory() as session:
            row = session.get(Execution, execution_id)
            return row is not None and bool((row.result or {}).get(CANCEL_REQUESTED))

    def _close_if_orphaned(self, execution_id: str) -> bool:
        """True when the run is finished, or its process died and this one recorded the cancel."""
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, execution_id)
            if row is None or row.status in FINISHED:
                return True
            if is_alive(row.runner):
                return False
            row.status = "cancelled"
            row.result = self._note("cancelled; the process that ran it had stopped")
            row.finished_at = datetime.now(UTC)
            return True

    @staticmethod
    def _note(error: str) -> dict[str, Any]:
        return {"data": None, "metadata": {}, "logs": [], "warnings": [], "errors": [error]}

    def _run_recorded(
        self,
        target: PluginTarget,
        request: RunRequest,
        warnings: list[str],
        raise_unavailable: bool = True,
        keep: list[RunOutcome] | None = None,
    ) -> dict[str, Any]:
        """Build the plugin's image if needed, run, record; an unreachable engine fails the run."""
        # The run's live events: read from its /out file by ``poll`` (one-shot runner); a
        # runner that forwards them as they come hands their text to ``tail.feed``.
        tail = self._live[request.execution_id] = EventTail(
            events_path(self.settings.work_dir, request.execution_id)
        )

        def cancelled() -> bool:
            # The runner asks this again once the container exited, before it removes the
            # run's folder: the poll here reads the last events.
            tail.poll()
            return self._cancel_requested(request.execution_id)

        try:
            self._preflight(request)
            request = replace(request, image=self.with_plugin_image(target).image)
            image = self._image_stamp(request)
            request = replace(
                request,
                on_start=lambda token: self._claim(request.execution_id, token, image),
                on_events=tail.feed,
            )
            outcome = self.runner.run(request, cancelled)
        except RunWithdrawn:
            raise
        except SandboxUnavailable as exc:
            answer = self._record_end(
                request.execution_id, RunOutcome(status="failed", errors=[exc.message])
            )
            if raise_unavailable:
                raise
            return answer
        except Exception as exc:
            log.exception("sandbox run %s crashed", request.execution_id)
            outcome = RunOutcome(status="failed", errors=[f"internal error: {exc}"])
            self._record_end(request.execution_id, outcome)
            if raise_unavailable:
                raise
            return self._get(request.plugin_id, request.execution_id)
        outcome.warnings = warnings + outcome.warnings
        if request.input_path is not None and request.input_shape:
            # A spooled input: the contract's row count from a frame of that many empty rows.
            rows = pd.DataFrame(index=pd.RangeIndex(request.input_shape[0]))
            request = replace(request, data=rows)
        outcome = check_outcome(target.manifest, request, outcome)
        if keep is not None:
            # A Python caller takes the frame itself: no JSON copy of the data is made for it.
            keep.append(outcome)
            return self._record_end(request.execution_id, outcome)
        data = self._json_answer_data(outcome)
        answer = self._record_end(request.execution_id, outcome, data)
        # The caller gets the full data even when the history keeps only its shape.
        answer["data"] = data
        return answer

    def _json_answer_data(self, outcome: RunOutcome) -> Any:
        """The result's data for a JSON answer; a frame above ``max_json_answer_bytes`` (an
        estimate, then the exact text) is left out with a warning that says how to get it."""
        data = outcome.data
        if not isinstance(data, pd.DataFrame):
            return data
        cap = self.settings.max_json_answer_bytes
        size = json_size_estimate(data)
        if size <= cap:
            split = frame_to_split(data)
            size = len(json.dumps(split["data"], default=str))
            if size <= cap:
                return split
        outcome.warnings.append(
            f"the result frame ({data.shape[0]} x {data.shape[1]}, about {size} bytes as JSON) "
            f"is above the {cap}-byte cap of a JSON answer (sandbox_max_json_answer_bytes): ask "
            "for it as Arrow (Accept: application/vnd.apache.arrow.stream) or run it from a "
            "notebook"
        )
        return None

    def _record_start(
        self, target: PluginTarget, request: RunRequest, user: str, status: str = "running"
    ) -> None:
        """Insert the run's record (one write: the plugin's facts come with ``target``); the
        input frame's digest follows with the claim (``_request`` started it)."""
        provenance = stamp(
            plugin=request.plugin_id,
            version=request.version,
            package_sha256=target.sha256,
            lock_digest=(target.dependencies or {}).get("digest"),
            extension_point=request.extension_point,
            parameters=request.parameters,
            config=request.config,
            data=request.data,
            digest_frame=False,  # hashed beside the run, written by the claim
        )
        try:
            self._insert_record(request, user, status, provenance)
        except IntegrityError:
            with self.session_factory() as session:
                gone = session.get(Plugin, request.plugin_id) is None
            if gone:
                raise Conflict(
                    f"{request.plugin_id} was uninstalled while this run was being started; "
                    "nothing ran"
                ) from None
            raise Conflict(f"execution {request.execution_id} already exists") from None

    def _insert_record(
        self, request: RunRequest, user: str, status: str, provenance: dict[str, Any]
    ) -> None:
        with self.session_factory() as session, session.begin():
            session.add(
                Execution(
                    id=request.execution_id,
                    plugin_name=request.plugin_id,
                    version=request.version,
                    extension_point=request.extension_point,
                    status=status,
                    parameters=request.parameters,
                    input_shape=_shape(request.data),
                    user=user,
                    runner=process_identity(),
                    provenance=provenance,
                )
            )

    def _image_stamp(self, request: RunRequest) -> dict[str, str]:
        """The run's image (tag and Docker id) for its provenance (written when it claims).

        Tags are content hashes (of the runner's inputs, of a dependency lock), so a tag's id
        is asked of the engine once per process.
        """
        tag = request.image or self.runner.images()[request.language]
        digest = self._image_ids.get(tag)
        if digest is None:
            try:
                digest = str(self.runner.client().images.get(tag).id)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise SandboxUnavailable(f"the image {tag} cannot be inspected: {exc}") from exc
            self._image_ids[tag] = digest
        return {"image": tag, "image_digest": digest}

    def _record_end(
        self, execution_id: str, outcome: RunOutcome, data: Any = _UNSET
    ) -> dict[str, Any]:
        """Record the end of a run; ``data`` is the JSON form of its data when already made."""
        too_big = isinstance(outcome.data, pd.DataFrame) and (
            outcome.data.size > MAX_RECORDED_CELLS
            # Not written out to find out: a category's one long value is every cell's in JSON.
            or (data is _UNSET and json_size_estimate(outcome.data) > MAX_RECORDED_RESULT_BYTES)
        )
        if too_big:
            data = None
        elif data is _UNSET:
            data = _jsonable_data(outcome.data)
        kind, media_type = result_kind(outcome.data)
        result = {
            "kind": kind,
            "media_type": media_type,
            "data": data,
            "metadata": outcome.metadata,
            "logs": outcome.logs,
            "warnings": outcome.warnings,
            "errors": outcome.errors,
        }
        if too_big or len(json.dumps(result, default=str)) > MAX_RECORDED_RESULT_BYTES:
            # The caller gets the data all the same: the history's limit is not theirs to hear of.
            result["data"] = None
            log.info("execution %s: result data too large to keep in history", execution_id)
        tail = self._live.pop(execution_id, None)
        if tail is not None:
            tail.poll()
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, execution_id)
            if row is None:  # deleted with its plugin meanwhile
                return {"execution_id": execution_id, "status": outcome.status, **result}
            row.status = outcome.status
            row.result = result
            row.events = tail.recorded() if tail is not None else row.events
            row.output_shape = _shape(outcome.data)
            row.stdout = outcome.stdout
            row.stderr = outcome.stderr
            row.peak_memory_bytes = outcome.peak_memory_bytes
            row.duration_ms = outcome.duration_ms
            row.finished_at = datetime.now(UTC)
            return self._answer(row)

    def _get(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        with self.session_factory() as session:
            row = session.get(Execution, execution_id)
            if row is None or row.plugin_name != plugin_id:
                raise NotFound(f"no execution {execution_id} of plugin {plugin_id!r}")
            answer = self._answer(row)
        if answer["status"] == "queued":
            place = self._queue.position(execution_id)
            if place is not None:
                answer["queue"] = {"position": place[0], "length": place[1]}
        if answer["status"] not in FINISHED:
            # While it runs: its latest progress and log lines.
            answer.update(live_summary(self.events(plugin_id, execution_id)["events"]))
        return answer

    def page(self, plugin_id: str, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        """Blocking ``list``: a newest-first page of a plugin's executions."""
        if page < 1 or not 1 <= page_size <= 200:
            raise InvalidRequest("page must be >= 1 and page_size between 1 and 200")
        with self.session_factory() as session:
            total = session.scalar(
                select(func.count()).select_from(Execution).where(Execution.plugin_name == plugin_id)
            )
            rows = session.scalars(
                select(Execution)
                .where(Execution.plugin_name == plugin_id)
                .order_by(Execution.started_at.desc(), Execution.id)
                .offset((page - 1) * page_size)
                .limit(page_size)
            ).all()
            items = [self._summary(r) for r in rows]
        return {"executions": items, "total": total or 0, "page": page, "page_size": page_size}

    def close_stale_records(self) -> None:
        """Fail the unfinished records of processes that died (on this host); keep the rest.

        Every door calls it when it opens the store (``PluginSystem.recover``) and the server
        also every ``sandbox_sweep_seconds``: a run whose kernel, CLI or server was killed is
        never left ``running``. Blocking.
        """
        with self.session_factory() as session, session.begin():
            unfinished = select(Execution).where(Execution.status.in_(["queued", "running"]))
            for row in session.scalars(unfinished):
                if is_alive(row.runner):
                    continue
                row.status = "failed"
                row.result = self._note("the process that started this run ended")
                row.finished_at = datetime.now(UTC)

    @staticmethod
    def _summary(row: Execution) -> dict[str, Any]:
        return row_answer(
            row,
            (
                "version", "extension_point", "status", "parameters", "input_shape",
                "output_shape", "duration_ms", "peak_memory_bytes", "user", "started_at",
                "finished_at",
            ),
            renamed={"execution_id": "id", "plugin_id": "plugin_name"},
        )  # fmt: skip

    @classmethod
    def _answer(cls, row: Execution) -> dict[str, Any]:
        result = row.result or {}
        return {
            **cls._summary(row),
            "kind": result.get("kind", "none"),
            "media_type": result.get("media_type"),
            "data": result.get("data"),
            "metadata": result.get("metadata", {}),
            "logs": result.get("logs", []),
            "warnings": result.get("warnings", []),
            "errors": result.get("errors", []),
            "stdout": row.stdout,
            "stderr": row.stderr,
            "provenance": row.provenance,
        }
