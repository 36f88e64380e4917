"""Execution service: runs an installed plugin in the sandbox and records every run.

The REST handlers call the coroutines (``execute``, ``get``, ``cancel``, ``list_page``); the CLI and
notebook magics call the blocking ``run`` / ``run_frame``. Docker and database calls block, so
the coroutines push them to worker threads and the server's event loop never waits on them.

Runs (and per-plugin image builds) get their own pool of ``max_concurrent_runs`` threads: a run
holds its thread for up to the timeout, and on asyncio's default executor a few sleeping
plugins would starve every other request. A run beyond the pool's size waits as ``queued``.

Server, CLI and kernels may share a store. Each record names the process running it
(``Execution.runner``); only that process's death makes it stale, and a cancel reaches any
process's run: queued runs are cancelled in the record, running ones are flagged in the record
and their container is killed through Docker by its run label.

Answers carry a result DataFrame in pandas' "split" layout, ``{"columns", "index", "data"}``
(rows as lists), which keeps column order and the index and is accepted back as ``input_data``.
Every result is held to its extension point's contract (``contracts.check_outcome``) and the
answer names its ``kind`` (none, frame, json, figure, vega-lite, report, file) and ``media_type``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import docker.errors
import pandas as pd
import requests
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..answers import row_answer
from ..errors import Conflict, InvalidRequest, NotFound, SandboxUnavailable
from ..store.orm import Execution, PluginVersion
from .container import ensure_network, short_error, volume_name
from .contracts import check_outcome, result_kind
from .dependencies import PLUGIN_IMAGE_REPO, build_plugin_image
from .events import EventTail, events_path, live_summary
from .jobs import PluginTarget, build_request
from .processes import is_alive, process_identity
from .provenance import stamp
from .runner import RunOutcome, RunRequest, SandboxRunner
from .settings import SandboxSettings
from .transfer import frame_to_split
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
_UNSET: Any = object()


@dataclass
class FrameResult:
    """A run seen from Python: ``data`` as a DataFrame (or JSON), plus the recorded answer."""

    data: Any
    answer: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.answer["status"])


def _shape(data: Any) -> list[int] | None:
    return list(data.shape) if isinstance(data, pd.DataFrame) else None


def _jsonable_data(data: Any) -> Any:
    return frame_to_split(data) if isinstance(data, pd.DataFrame) else data


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
        self._pool = ThreadPoolExecutor(self._slots, thread_name_prefix="omniscope-run")
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._runtime_ok = False
        #: Live events of this process's runs, by execution id (``events``).
        self._live: dict[str, EventTail] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        """Reap containers and close records left by processes on this store that died.

        Runs of live processes (another server, the CLI, a kernel on the same store) are kept.
        """
        await asyncio.to_thread(self._close_stale_records)
        await asyncio.to_thread(self.runner.reap)
        for problem in await asyncio.to_thread(self.check_sandbox):
            log.warning("OmniScope sandbox: %s", problem)

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
        client = self.runner.client()
        self._require_runtime(client)
        if "network" in request.permissions:
            ensure_network(client)  # verifies the host firewall before the plugin joins

    async def shutdown(self) -> None:
        """Cancel this process's background runs, wait briefly for them, and reap its leftovers."""
        tasks = list(self._tasks.items())
        for execution_id, _task in tasks:
            try:
                await asyncio.to_thread(self._request_cancel, execution_id)
                await asyncio.to_thread(self.runner.cancel, execution_id)
            except SandboxUnavailable:
                pass
        if tasks:
            await asyncio.wait([t for _, t in tasks], timeout=30)
        await asyncio.to_thread(self.runner.reap)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- REST-facing coroutines ----------------------------------------------------------------

    async def execute(self, target: PluginTarget, body: Any, user: str = "") -> dict[str, Any]:
        """Run ``target`` as ``body`` asks; ``{"async": true}`` returns at once with ``running``.

        Raises ``Conflict`` (disabled), ``InvalidRequest`` (bad body/config/extension point) and,
        for a synchronous run, ``SandboxUnavailable`` when Docker is unreachable.
        """
        is_async = bool(body.get("async")) if isinstance(body, dict) else False
        execution_id = await asyncio.to_thread(self._new_id, body)
        request, warnings = await asyncio.to_thread(self._request, execution_id, target, body)
        future = asyncio.wrap_future(
            await asyncio.to_thread(
                self._submit, target, request, warnings, user, raise_unavailable=not is_async
            )
        )
        if not is_async:
            return await future
        self._tasks[execution_id] = future
        future.add_done_callback(lambda _t: self._tasks.pop(execution_id, None))
        status = (await self.get(target.plugin_id, execution_id))["status"]
        return {"execution_id": execution_id, "plugin_id": target.plugin_id, "status": status}

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
        if not await asyncio.to_thread(self._request_cancel, execution_id):
            # Cancelled while queued (its job returns at once when a slot picks it up).
            return await self.get(plugin_id, execution_id)
        await asyncio.to_thread(self.runner.cancel, execution_id)
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
        request, warnings = self._request(str(uuid.uuid4()), target, body)
        return self._submit(target, request, warnings, user).result()

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
        execution_id = self._new_id({"execution_id": execution_id} if execution_id else {})
        request, warnings = self._request(execution_id, target, body, frame)
        outcome_box: list[RunOutcome] = []
        answer = self._submit(target, request, warnings, user, keep=outcome_box).result()
        data = outcome_box[0].data if outcome_box else None
        return FrameResult(data=data, answer=answer)

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
        """``jobs.build_request`` with this service's default and maximum timeouts."""
        return build_request(
            execution_id,
            target,
            body,
            max_timeout=max(self.settings.max_timeout, self.settings.timeout),
            default_timeout=self.settings.timeout,
            frame=frame,
        )

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
        """
        try:
            client = self.runner.client()
        except SandboxUnavailable as exc:
            log.warning("sandbox leftovers of %s kept (Docker unavailable): %s", plugin_id, exc.message)
            return
        remove_volume(client, volume_name(self.settings.owner, plugin_id))
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
        """Record the run (``queued`` when every slot is taken) and hand it to the run pool."""
        with self._pending_lock:
            status = "running" if self._pending < self._slots else "queued"
            self._pending += 1
        try:
            self._record_start(request, user, status)
            return self._pool.submit(
                self._job, target, request, warnings, raise_unavailable, keep
            )
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        with self._pending_lock:
            self._pending -= 1

    def _job(
        self,
        target: PluginTarget,
        request: RunRequest,
        warnings: list[str],
        raise_unavailable: bool,
        keep: list[RunOutcome] | None,
    ) -> dict[str, Any]:
        """One run in a pool thread: claim it (unless cancelled while queued), build, run."""
        try:
            if not self._claim(request.execution_id):
                return self._get(request.plugin_id, request.execution_id)
            return self._run_recorded(target, request, warnings, raise_unavailable, keep)
        finally:
            self._release()

    def _claim(self, execution_id: str) -> bool:
        """Mark a queued run as running; False when it was cancelled (or deleted) meanwhile."""
        with self.session_factory() as session, session.begin():
            changed = session.execute(
                update(Execution)
                .where(Execution.id == execution_id, Execution.status.in_(["queued", "running"]))
                .values(status="running")
            )
            return bool(getattr(changed, "rowcount", 0))

    def _request_cancel(self, execution_id: str) -> bool:
        """Cancel a queued run in its record (False), or flag a running one (True: kill it)."""
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, execution_id)
            if row is None or row.status in FINISHED:
                return False
            if row.status == "queued":
                row.status = "cancelled"
                row.result = self._note("cancelled before it started")
                row.finished_at = datetime.now(UTC)
                return False
            row.result = {CANCEL_REQUESTED: True}
            return True

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
            self._stamp_image(request)
            outcome = self.runner.run(request, cancelled)
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
        outcome = check_outcome(target.manifest, request, outcome)
        if keep is not None:
            # A Python caller takes the frame itself: no JSON copy of the data is made for it.
            keep.append(outcome)
            return self._record_end(request.execution_id, outcome)
        data = _jsonable_data(outcome.data)
        answer = self._record_end(request.execution_id, outcome, data)
        # The caller gets the full data even when the history keeps only its shape.
        answer["data"] = data
        return answer

    def _record_start(self, request: RunRequest, user: str, status: str = "running") -> None:
        with self.session_factory() as session, session.begin():
            version = session.scalar(
                select(PluginVersion).where(
                    PluginVersion.plugin_name == request.plugin_id,
                    PluginVersion.version == request.version,
                )
            )
            lock = version.dependencies if version is not None else {}
            provenance = stamp(
                plugin=request.plugin_id,
                version=request.version,
                package_sha256=version.sha256 if version is not None else None,
                lock_digest=(lock or {}).get("digest"),
                extension_point=request.extension_point,
                parameters=request.parameters,
                config=request.config,
                data=request.data,
            )
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

    def _stamp_image(self, request: RunRequest) -> None:
        """Add the run's image (tag and Docker id) to its provenance."""
        tag = request.image or self.runner.images()[request.language]
        try:
            digest = str(self.runner.client().images.get(tag).id)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise SandboxUnavailable(f"the image {tag} cannot be inspected: {exc}") from exc
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, request.execution_id)
            if row is not None:
                row.provenance = {**(row.provenance or {}), "image": tag, "image_digest": digest}

    def _record_end(
        self, execution_id: str, outcome: RunOutcome, data: Any = _UNSET
    ) -> dict[str, Any]:
        """Record the end of a run; ``data`` is the JSON form of its data when already made."""
        too_big = isinstance(outcome.data, pd.DataFrame) and outcome.data.size > MAX_RECORDED_CELLS
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
            row.events = tail.events if tail is not None else row.events
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

    def _close_stale_records(self) -> None:
        """Fail the unfinished records of processes that died (on this host); keep the rest."""
        with self.session_factory() as session, session.begin():
            unfinished = select(Execution).where(Execution.status.in_(["queued", "running"]))
            for row in session.scalars(unfinished):
                if is_alive(row.runner):
                    continue
                row.status = "failed"
                row.result = self._note(
                    "the process running this execution stopped before it finished"
                )
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
