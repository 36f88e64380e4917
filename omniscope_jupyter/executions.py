"""Execution service: runs an installed plugin in the sandbox and records every run.

The REST handlers call the coroutines (``execute``, ``get``, ``cancel``, ``list_page``); the CLI and
notebook magics call the blocking ``run`` / ``run_frame``. Docker and database calls block, so
the coroutines push them to worker threads and the server's event loop never waits on them.

Answers carry a result DataFrame in pandas' "split" layout, ``{"columns", "index", "data"}``
(rows as lists), which keeps column order and the index and is accepted back as ``input_data``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import docker.errors
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import Conflict, InvalidRequest, NotFound, SandboxUnavailable
from .sandbox.dependencies import build_plugin_image
from .sandbox.jobs import PluginTarget, build_request
from .sandbox.runner import RunOutcome, RunRequest, SandboxRunner
from .sandbox.settings import SandboxSettings
from .sandbox.transfer import frame_to_split
from .store.orm import Execution

log = logging.getLogger(__name__)

__all__ = ["ExecutionService", "FrameResult", "PluginTarget"]

FINISHED = frozenset({"succeeded", "failed", "timeout", "oom", "cancelled"})
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
        self._tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        """Reap containers left by a previous server and close its unfinished records."""
        await asyncio.to_thread(self._close_stale_records)
        await asyncio.to_thread(self.runner.reap)

    async def shutdown(self) -> None:
        """Cancel background runs, wait briefly for them, and reap what is left."""
        tasks = list(self._tasks.items())
        for execution_id, _task in tasks:
            await asyncio.to_thread(self.runner.cancel, execution_id)
        if tasks:
            await asyncio.wait([t for _, t in tasks], timeout=30)
        await asyncio.to_thread(self.runner.reap)

    # -- REST-facing coroutines ----------------------------------------------------------------

    async def execute(self, target: PluginTarget, body: Any, user: str = "") -> dict[str, Any]:
        """Run ``target`` as ``body`` asks; ``{"async": true}`` returns at once with ``running``.

        Raises ``Conflict`` (disabled), ``InvalidRequest`` (bad body/config/extension point) and,
        for a synchronous run, ``SandboxUnavailable`` when Docker is unreachable.
        """
        is_async = bool(body.get("async")) if isinstance(body, dict) else False
        execution_id = str(uuid.uuid4())
        target = await asyncio.to_thread(self.with_plugin_image, target)
        request, warnings = build_request(
            execution_id, target, body, max_timeout=self.settings.timeout
        )
        await asyncio.to_thread(self._record_start, request, user)
        if not is_async:
            return await asyncio.to_thread(self._run_recorded, request, warnings)
        task = asyncio.create_task(asyncio.to_thread(self._run_recorded, request, warnings, False))
        self._tasks[execution_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(execution_id, None))
        return {"execution_id": execution_id, "plugin_id": target.plugin_id, "status": "running"}

    async def get(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        """The recorded execution (with its result once finished); ``NotFound`` otherwise."""
        return await asyncio.to_thread(self._get, plugin_id, execution_id)

    async def cancel(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        """Kill a running execution's container and return its final record."""
        record = await self.get(plugin_id, execution_id)
        if record["status"] in FINISHED:
            raise Conflict(f"execution {execution_id} already finished ({record['status']})")
        await asyncio.to_thread(self.runner.cancel, execution_id)
        task = self._tasks.get(execution_id)
        if task is not None:
            await asyncio.wait([task], timeout=30)
        else:
            # A synchronous run in another request: it records its own end; give it a moment.
            for _ in range(60):
                record = await self.get(plugin_id, execution_id)
                if record["status"] in FINISHED:
                    break
                await asyncio.sleep(0.5)
        return await self.get(plugin_id, execution_id)

    async def list_page(self, plugin_id: str, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        """Newest-first page of a plugin's executions, without their result data."""
        return await asyncio.to_thread(self.page, plugin_id, page, page_size)

    # -- blocking API for the CLI and notebooks ------------------------------------------------

    def run(self, target: PluginTarget, body: Any, user: str = "") -> dict[str, Any]:
        """Blocking ``execute`` (``async`` ignored) for ``omniplug run``."""
        target = self.with_plugin_image(target)
        request, warnings = build_request(
            str(uuid.uuid4()), target, body, max_timeout=self.settings.timeout
        )
        self._record_start(request, user)
        return self._run_recorded(request, warnings)

    def run_frame(
        self,
        target: PluginTarget,
        frame: pd.DataFrame | None,
        parameters: dict[str, Any] | None = None,
        extension_point: str | None = None,
        config: dict[str, Any] | None = None,
        timeout: float | None = None,
        user: str = "",
    ) -> FrameResult:
        """Run on a pandas DataFrame and get the result back as a DataFrame (notebooks, CLI)."""
        body: dict[str, Any] = {"parameters": parameters or {}, "config": config}
        if extension_point is not None:
            body["extension_point"] = extension_point
        if timeout is not None:
            body["timeout"] = timeout
        target = self.with_plugin_image(target)
        request, warnings = build_request(
            str(uuid.uuid4()), target, body, max_timeout=self.settings.timeout, frame=frame
        )
        self._record_start(request, user)
        outcome_box: list[RunOutcome] = []
        answer = self._run_recorded(request, warnings, keep=outcome_box)
        data = outcome_box[0].data if outcome_box else None
        return FrameResult(data=data, answer=answer)

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

    # -- internals (blocking) ---------------------------------------------------------------

    def _run_recorded(
        self,
        request: RunRequest,
        warnings: list[str],
        raise_unavailable: bool = True,
        keep: list[RunOutcome] | None = None,
    ) -> dict[str, Any]:
        try:
            outcome = self.runner.run(request)
        except SandboxUnavailable as exc:
            self._record_end(request.execution_id, RunOutcome(status="failed", errors=[exc.message]))
            if raise_unavailable:
                raise
            return self._get(request.plugin_id, request.execution_id)
        except Exception as exc:
            log.exception("sandbox run %s crashed", request.execution_id)
            outcome = RunOutcome(status="failed", errors=[f"internal error: {exc}"])
            self._record_end(request.execution_id, outcome)
            if raise_unavailable:
                raise
            return self._get(request.plugin_id, request.execution_id)
        outcome.warnings = warnings + outcome.warnings
        if keep is not None:
            # A Python caller takes the frame itself: no JSON copy of the data is made for it.
            keep.append(outcome)
            return self._record_end(request.execution_id, outcome)
        data = _jsonable_data(outcome.data)
        answer = self._record_end(request.execution_id, outcome, data)
        # The caller gets the full data even when the history keeps only its shape.
        answer["data"] = data
        return answer

    def _record_start(self, request: RunRequest, user: str) -> None:
        with self.session_factory() as session, session.begin():
            session.add(
                Execution(
                    id=request.execution_id,
                    plugin_name=request.plugin_id,
                    version=request.version,
                    extension_point=request.extension_point,
                    status="running",
                    parameters=request.parameters,
                    input_shape=_shape(request.data),
                    user=user,
                )
            )

    def _record_end(
        self, execution_id: str, outcome: RunOutcome, data: Any = _UNSET
    ) -> dict[str, Any]:
        """Record the end of a run; ``data`` is the JSON form of its data when already made."""
        too_big = isinstance(outcome.data, pd.DataFrame) and outcome.data.size > MAX_RECORDED_CELLS
        if too_big:
            data = None
        elif data is _UNSET:
            data = _jsonable_data(outcome.data)
        result = {
            "data": data,
            "metadata": outcome.metadata,
            "logs": outcome.logs,
            "warnings": outcome.warnings,
            "errors": outcome.errors,
        }
        if too_big or len(json.dumps(result, default=str)) > MAX_RECORDED_RESULT_BYTES:
            result["data"] = None
            result["warnings"] = result["warnings"] + ["result data too large to keep in history"]
        with self.session_factory() as session, session.begin():
            row = session.get(Execution, execution_id)
            if row is None:  # deleted with its plugin meanwhile
                return {"execution_id": execution_id, "status": outcome.status, **result}
            row.status = outcome.status
            row.result = result
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
            return self._answer(row)

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
        with self.session_factory() as session, session.begin():
            for row in session.scalars(select(Execution).where(Execution.status.in_(["queued", "running"]))):
                row.status = "failed"
                row.result = {
                    "data": None, "metadata": {}, "logs": [], "warnings": [],
                    "errors": ["the server stopped before this execution finished"],
                }
                row.finished_at = datetime.now(UTC)

    @staticmethod
    def _summary(row: Execution) -> dict[str, Any]:
        return {
            "execution_id": row.id,
            "plugin_id": row.plugin_name,
            "version": row.version,
            "extension_point": row.extension_point,
            "status": row.status,
            "parameters": row.parameters,
            "input_shape": row.input_shape,
            "output_shape": row.output_shape,
            "duration_ms": row.duration_ms,
            "peak_memory_bytes": row.peak_memory_bytes,
            "user": row.user,
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        }

    @classmethod
    def _answer(cls, row: Execution) -> dict[str, Any]:
        result = row.result or {}
        return {
            **cls._summary(row),
            "data": result.get("data"),
            "metadata": result.get("metadata", {}),
            "logs": result.get("logs", []),
            "warnings": result.get("warnings", []),
            "errors": result.get("errors", []),
            "stdout": row.stdout,
            "stderr": row.stderr,
        }
