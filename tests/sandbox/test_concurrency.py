"""Runs share the engine fairly: a bounded run pool, and processes on one store keep their runs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import docker
import pytest

from omniscope_jupyter.sandbox.container import PROCESS_LABEL
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget

from .conftest import PluginFactory, ServiceFactory, labelled

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


# Another process on the same store (as `omniplug run` or a notebook kernel would be).
OTHER_PROCESS = """
import json, sys
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.runner import SandboxRunner
from omniscope_jupyter.sandbox.settings import SandboxSettings

spec = json.loads(sys.argv[1])
settings = SandboxSettings(**{**spec["settings"], "work_dir": Path(spec["settings"]["work_dir"]),
                              "cache_dir": Path(spec["settings"]["cache_dir"])})
target = PluginTarget(**{**spec["target"], "path": Path(spec["target"]["path"])})
engine = create_engine(spec["db"])
service = ExecutionService(sessionmaker(engine, expire_on_commit=False), SandboxRunner(settings))
answer = service.run(target, {"extension_point": "analysis", "parameters": {"seconds": 60}})
print(json.dumps({"status": answer["status"], "execution_id": answer["execution_id"]}))
"""


def start_other_process(service: ExecutionService, target: PluginTarget) -> subprocess.Popen[str]:
    engine = service.session_factory.kw["bind"]  # type: ignore[attr-defined]
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(service.settings).items()}
    spec = {"settings": settings, "target": {**asdict(target), "path": str(target.path)},
            "db": str(engine.url)}
    return subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, json.dumps(spec)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_container(service: ExecutionService, target: PluginTarget) -> tuple[str, Any]:
    """The execution id and container of the other process's run, once it runs."""
    for _ in range(120):
        history = service.page(target.plugin_id)["executions"]
        if history and history[0]["status"] == "running":
            execution_id = history[0]["execution_id"]
            containers = labelled(execution_id)
            if containers and containers[0].status == "running":
                return execution_id, containers[0]
        time.sleep(0.25)
    pytest.fail("the other process's run never started")


def test_other_live_process_runs_are_kept_and_cancellable(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(SLEEP)
    other = start_other_process(service, target)
    try:
        execution_id, container = wait_for_container(service, target)
        assert container.labels[PROCESS_LABEL].split(":")[1] == str(other.pid)
        # This process starting up (as a server would) leaves the live process's run alone.
        asyncio.run(service.startup())
        assert [c.id for c in labelled(execution_id)] == [container.id]
        assert asyncio.run(service.get(target.plugin_id, execution_id))["status"] == "running"
        # ... and can cancel it: the owning process records the cancel.
        final = asyncio.run(service.cancel(target.plugin_id, execution_id))
        assert final["status"] == "cancelled", final
        out, err = other.communicate(timeout=60)
        assert json.loads(out.strip().splitlines()[-1]) == {
            "status": "cancelled", "execution_id": execution_id
        }, err[-2000:]
        assert not labelled(execution_id)
    finally:
        if other.poll() is None:
            other.kill()
            other.communicate()


def run_in_a_killed_process(service: ExecutionService, target: Any) -> str:
    """Start a run in another process, SIGKILL that process mid-run; return the run's id."""
    other = start_other_process(service, target)
    try:
        execution_id, _container = wait_for_container(service, target)
    finally:
        other.send_signal(signal.SIGKILL)
        other.communicate()
    return str(execution_id)


def test_dead_process_runs_are_reaped_and_closed(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(SLEEP)
    execution_id = run_in_a_killed_process(service, target)
    assert labelled(execution_id)  # the killed process could not remove it
    asyncio.run(service.startup())
    assert not labelled(execution_id)
    record = asyncio.run(service.get(target.plugin_id, execution_id))
    assert record["status"] == "failed"
    assert "stopped before it finished" in record["errors"][0]


def test_cancel_of_a_dead_process_run_is_recorded_here(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(SLEEP)
    execution_id = run_in_a_killed_process(service, target)
    final = asyncio.run(service.cancel(target.plugin_id, execution_id))
    assert final["status"] == "cancelled"
    assert "had stopped" in final["errors"][0]
    assert not labelled(execution_id)
    assert docker.from_env().ping()
