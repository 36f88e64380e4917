"""The execution service's queue, fairness, caps and cancel, with a fake runner (no Docker).

The same behaviours are tested against the real engine in ``tests/sandbox``; here they are
deterministic and fast, since a fake run ends exactly when the test releases it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import TooManyRequests
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.settings import SandboxSettings

from .doubles import FakeSandboxRunner
from .helpers import build_package


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[PluginManager]:
    manager = PluginManager(tmp_path / "store")
    manager.install(build_package(tmp_path / "p.tar.gz", permissions=["read_data"]))
    manager.set_enabled("my_plugin", True)
    yield manager
    manager.close()


def service(manager: PluginManager, tmp_path: Path, **limits: Any) -> ExecutionService:
    settings = SandboxSettings(work_dir=tmp_path / "runs", **limits)
    return ExecutionService(manager.sessions, FakeSandboxRunner(settings), settings)


async def _start(svc: ExecutionService, manager: PluginManager, user: str, n: int) -> dict[str, Any]:
    target = manager.installed("my_plugin")
    body = {"async": True, "extension_point": "analysis", "parameters": {"n": n}}
    return await svc.execute(target, body, user=user)


async def _until(predicate: Any) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_queued_runs_show_their_place_and_run_in_order(
    manager: PluginManager, tmp_path: Path
) -> None:
    svc = service(manager, tmp_path, max_concurrent_runs=1)
    fake = svc.runner
    first = await _start(svc, manager, "ana", 1)
    await _until(lambda: len(fake.started) == 1)
    second = await _start(svc, manager, "ana", 2)
    third = await _start(svc, manager, "ana", 3)
    record = await svc.get("my_plugin", third["execution_id"])
    assert record["status"] == "queued"
    assert record["queue"] == {"position": 2, "length": 2}
    fake.release.set()
    await _until(lambda: len(fake.started) == 3)
    for answer in (first, second, third):
        await _until(lambda a=answer: a["execution_id"] not in svc._tasks)
    done = [await svc.get("my_plugin", a["execution_id"]) for a in (first, second, third)]
    assert [d["status"] for d in done] == ["succeeded"] * 3
    assert fake.started == [a["execution_id"] for a in (first, second, third)]
    await svc.shutdown()


async def test_one_users_backlog_does_not_starve_another(
    manager: PluginManager, tmp_path: Path
) -> None:
    svc = service(manager, tmp_path, max_concurrent_runs=1)
    fake = svc.runner
    await _start(svc, manager, "busy", 0)
    await _until(lambda: len(fake.started) == 1)
    backlog = [await _start(svc, manager, "busy", i) for i in range(1, 6)]
    other = await _start(svc, manager, "other", 99)
    record = await svc.get("my_plugin", other["execution_id"])
    assert record["queue"]["position"] <= 2, record  # served next or right after, not 6th
    fake.release.set()
    await _until(lambda: len(fake.started) == 7)
    assert fake.started.index(other["execution_id"]) <= 2
    assert backlog
    await svc.shutdown()


async def test_the_queue_is_capped_per_user_with_429(
    manager: PluginManager, tmp_path: Path
) -> None:
    svc = service(manager, tmp_path, max_concurrent_runs=1, max_queued_per_user=2)
    fake = svc.runner
    await _start(svc, manager, "ana", 0)
    await _until(lambda: len(fake.started) == 1)
    await _start(svc, manager, "ana", 1)
    await _start(svc, manager, "ana", 2)
    with pytest.raises(TooManyRequests):
        await _start(svc, manager, "ana", 3)
    await _start(svc, manager, "bob", 4)  # another user still gets in
    fake.release.set()
    await svc.shutdown()


async def test_cancel_a_queued_and_a_running_run(manager: PluginManager, tmp_path: Path) -> None:
    svc = service(manager, tmp_path, max_concurrent_runs=1)
    fake = svc.runner
    running = await _start(svc, manager, "ana", 1)
    await _until(lambda: len(fake.started) == 1)
    queued = await _start(svc, manager, "ana", 2)
    answer = await svc.cancel("my_plugin", queued["execution_id"])
    assert answer["status"] == "cancelled"
    answer = await svc.cancel("my_plugin", running["execution_id"])
    assert answer["status"] == "cancelled"
    assert queued["execution_id"] not in fake.started  # never started
    await svc.shutdown()
