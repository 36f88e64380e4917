"""Queued runs: served fairly across users, capped (429), visible in place, spooled to disk.

No Docker here: a runner double that holds each run until the test lets it go.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from omniscope_jupyter.errors import TooManyRequests
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.runner import RunOutcome, RunRequest, SandboxRunner
from omniscope_jupyter.sandbox.scheduling import FairQueue
from omniscope_jupyter.sandbox.settings import SandboxSettings
from omniscope_jupyter.store.orm import Base


class HeldRunner(SandboxRunner):
    """Claims each run like the real runner, then waits for ``release`` before answering."""

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.order: list[tuple[str, RunRequest]] = []
        self.gate = threading.Semaphore(0)
        self.started = threading.Event()

    def images(self) -> dict[str, str]:
        return {"python": "held:image", "r": "held:image"}

    def run(self, request: RunRequest, cancelled: Callable[[], bool] | None = None) -> RunOutcome:
        assert request.on_start is not None and request.on_start("held-token")
        spooled = request.input_path is not None and request.input_path.is_file()
        self.order.append((request.user, request))
        self.started.set()
        self.gate.acquire()
        return RunOutcome(status="succeeded", metadata={"spooled": spooled})


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[ExecutionService, HeldRunner]]:
    settings = SandboxSettings(
        work_dir=tmp_path / "runs", max_concurrent_runs=1, max_queued_per_user=3, max_queued=5
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    Base.metadata.create_all(engine)
    runner = HeldRunner(settings)
    service = ExecutionService(sessionmaker(engine, expire_on_commit=False), runner, settings)
    service._image_ids["held:image"] = "sha256:held"  # no engine to ask
    yield service, runner
    for _ in range(20):
        runner.gate.release()


def target_in(tmp_path: Path) -> PluginTarget:
    manifest = {
        "name": "held", "version": "1.0.0", "language": "python", "entry_point": "held.py",
        "extension_points": ["analysis"], "permissions": ["read_data", "write_data"],
    }  # fmt: skip
    return PluginTarget(plugin_id="held", version="1.0.0", path=tmp_path, manifest=manifest)


def test_fair_queue_serves_users_round_robin_and_says_where_each_run_is() -> None:
    queue: FairQueue[str] = FairQueue(max_per_user=100, max_total=1000)
    for i in range(100):
        queue.put(f"a{i}", "alice", f"a{i}")
    queue.put("b0", "bob", "b0")
    queue.put("b1", "bob", "b1")
    assert queue.position("b0") == (2, 102)  # after alice's first, not her hundredth
    assert queue.position("a1") == (3, 102)
    assert queue.position("b1") == (4, 102)
    taken = [queue.get() for _ in range(5)]
    assert [t[0] for t in taken if t] == ["a0", "b0", "a1", "b1", "a2"]
    assert queue.remove("a50") == "a50" and queue.position("a50") is None


def test_queue_caps_per_user_and_in_total() -> None:
    queue: FairQueue[int] = FairQueue(max_per_user=2, max_total=3)
    queue.put("1", "alice", 1)
    queue.put("2", "alice", 2)
    with pytest.raises(TooManyRequests, match="you have 2 runs queued") as caught:
        queue.put("3", "alice", 3)
    assert caught.value.status == 429
    queue.put("4", "bob", 4)
    with pytest.raises(TooManyRequests, match="3 runs are queued"):
        queue.put("5", "carol", 5)


def test_queued_runs_show_their_place_are_spooled_and_run_fairly(
    held: tuple[ExecutionService, HeldRunner], tmp_path: Path
) -> None:
    service, runner = held
    target = target_in(tmp_path)
    body = {"extension_point": "analysis", "async": True, "input_data": {"x": [1.0, 2.0]}}

    async def scenario() -> None:
        first = await service.execute(target, body, user="alice")
        await asyncio.to_thread(runner.started.wait, 10)
        alice = [await service.execute(target, body, user="alice") for _ in range(3)]
        bob = await service.execute(target, body, user="bob")
        assert first["status"] == "running"
        assert [a["queue"] for a in alice] == [
            {"position": 1, "length": 1}, {"position": 2, "length": 2},
            {"position": 3, "length": 3},
        ]  # fmt: skip
        record = await service.get("held", bob["execution_id"])
        assert record["status"] == "queued" and record["queue"] == {"position": 2, "length": 4}
        # Past the per-user cap: 429, and no record is left of the refused run.
        with pytest.raises(TooManyRequests):
            await service.execute(target, body, user="alice")
        assert (await service.list_page("held"))["total"] == 5
        # A queued run's input waits on disk, not in memory.
        spooled = list((service.settings.work_dir).glob("spool-*/*.arrow"))
        assert len(spooled) == 4
        for _ in range(5):
            runner.gate.release()
        for run in [first, *alice, bob]:
            for _ in range(100):
                record = await service.get("held", run["execution_id"])
                if record["status"] == "succeeded":
                    break
                await asyncio.sleep(0.05)
            assert record["status"] == "succeeded", record

    asyncio.run(scenario())
    assert [user for user, _ in runner.order] == ["alice", "alice", "bob", "alice", "alice"]
    queued = [request for _, request in runner.order[1:]]
    assert all(r.data is None and r.input_shape == [2, 1] for r in queued)
    assert not list(service.settings.work_dir.glob("spool-*/*.arrow"))  # removed once run


def test_a_cancelled_queued_run_never_starts_and_frees_its_place(
    held: tuple[ExecutionService, HeldRunner], tmp_path: Path
) -> None:
    service, runner = held
    target = target_in(tmp_path)
    body: dict[str, Any] = {"extension_point": "analysis", "async": True}

    async def scenario() -> None:
        await service.execute(target, body, user="alice")
        await asyncio.to_thread(runner.started.wait, 10)
        waiting = await service.execute(target, body, user="alice")
        after = await service.execute(target, body, user="alice")
        final = await service.cancel("held", waiting["execution_id"])
        assert final["status"] == "cancelled"
        assert final["errors"] == ["cancelled before it started"]
        assert (await service.get("held", after["execution_id"]))["queue"]["position"] == 1

    asyncio.run(scenario())
    assert len(runner.order) == 1  # the cancelled run never reached the runner


def test_a_frame_too_large_for_json_is_left_out_with_a_way_to_get_it(
    held: tuple[ExecutionService, HeldRunner],
) -> None:
    service, _ = held
    outcome = RunOutcome(status="succeeded", data=pd.DataFrame({"s": ["x" * 100] * 1000}))
    capped = ExecutionService(
        service.session_factory, service.runner, SandboxSettings(max_json_answer_bytes=10_000)
    )
    assert capped._json_answer_data(outcome) is None
    assert "Accept: application/vnd.apache.arrow.stream" in outcome.warnings[0]
    small = RunOutcome(status="succeeded", data=pd.DataFrame({"s": ["x"]}))
    assert capped._json_answer_data(small) == {"columns": ["s"], "index": [0], "data": [["x"]]}
