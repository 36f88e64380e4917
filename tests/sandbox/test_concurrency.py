"""Runs share the engine fairly: a bounded run pool, and processes on one store keep their runs."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import docker

from omniscope_jupyter.sandbox.container import PROCESS_LABEL, RUN_LABEL
from omniscope_jupyter.sandbox.executions import ExecutionService

from .conftest import (
    PluginFactory,
    ServiceFactory,
    gone,
    run_in_a_killed_process,
    start_other_process,
    wait_for_container,
    with_token,
)

SLEEP = (
    "import time\n"
    "class Sleep:\n"
    "    def execute(self, input_data):\n"
    "        time.sleep(float(input_data['parameters']['seconds']))\n"
    "        return {'data': None, 'logs': ['woke']}\n"
)


def body(seconds: float, **extra: Any) -> dict[str, Any]:
    return {"extension_point": "analysis", "parameters": {"seconds": seconds}, **extra}


def test_runs_beyond_the_pool_queue_and_leave_the_default_executor_free(
    service_with: ServiceFactory, make_plugin: PluginFactory
) -> None:
    service = service_with(max_concurrent_runs=2)
    target = make_plugin(SLEEP)
    default_threads = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor

    async def scenario() -> None:
        started = [
            await service.execute(target, body(4, **{"async": True}))
            for _ in range(default_threads + 1)
        ]
        statuses = [s["status"] for s in started]
        assert statuses[:2] == ["running", "running"] and set(statuses[2:]) == {"queued"}, statuses
        # The API's own blocking calls still get a thread at once.
        clock = time.monotonic()
        page = await asyncio.wait_for(asyncio.to_thread(service.page, target.plugin_id), 5)
        assert time.monotonic() - clock < 2 and page["total"] == default_threads + 1
        # A queued run is cancelled in its record, without a container ever.
        for extra in started[3:]:
            cancelled = await service.cancel(target.plugin_id, extra["execution_id"])
            assert cancelled["status"] == "cancelled", cancelled
            assert cancelled["errors"] == ["cancelled before it started"]
        # A synchronous run waits for a slot too (no error) and runs after the queue.
        sync = await service.execute(target, body(0))
        assert sync["status"] == "succeeded", sync
        # The queued run ran once a slot was free.
        for run in started[:3]:
            for _ in range(60):
                record = await service.get(target.plugin_id, run["execution_id"])
                if record["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.5)
            assert record["status"] == "succeeded" and record["logs"] == ["woke"], record

    asyncio.run(scenario())


def test_other_live_process_runs_are_kept_and_cancellable(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(SLEEP)
    other = start_other_process(service, target)
    try:
        execution_id, container = wait_for_container(service, target)
        token = container.labels[RUN_LABEL]
        assert container.labels[PROCESS_LABEL].split(":")[1] == str(other.pid)
        # This process starting up (as a server would) leaves the live process's run alone.
        asyncio.run(service.startup())
        assert [c.id for c in with_token(token)] == [container.id]
        assert asyncio.run(service.get(target.plugin_id, execution_id))["status"] == "running"
        # ... and can cancel it: the owning process records the cancel.
        final = asyncio.run(service.cancel(target.plugin_id, execution_id))
        assert final["status"] == "cancelled", final
        out, err = other.communicate(timeout=60)
        assert json.loads(out.strip().splitlines()[-1]) == {
            "status": "cancelled", "execution_id": execution_id
        }, err[-2000:]
        assert gone(token)
    finally:
        if other.poll() is None:
            other.kill()
            other.communicate()


def test_dead_process_runs_are_reaped_and_closed(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(SLEEP)
    execution_id, token = run_in_a_killed_process(service, target)
    # Its runner saw the killed process's end of the socket close: the container ended itself.
    assert gone(token)
    folder = service.settings.work_dir / token
    asyncio.run(service.startup())
    assert not folder.exists()  # the next process on the store removed the run folder
    record = asyncio.run(service.get(target.plugin_id, execution_id))
    assert record["status"] == "failed"
    assert "the process that started this run ended" in record["errors"][0]


def test_cancel_of_a_dead_process_run_is_recorded_here(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(SLEEP)
    execution_id, token = run_in_a_killed_process(service, target)
    final = asyncio.run(service.cancel(target.plugin_id, execution_id))
    assert final["status"] == "cancelled"
    assert "had stopped" in final["errors"][0]
    assert gone(token)
    assert docker.from_env().ping()
