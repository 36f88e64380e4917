"""Queued runs in the real sandbox: capped per user and in total (429), their inputs waiting on
disk, not in memory, and read back intact when they run (issue 13, item 6).

``test_engine_queue.py`` holds the queue's own rules (fair order, places) with a runner double;
here the same caps and the spool are met by real runs: 20 queued runs with 20 MiB inputs added
1.2 GB to the server before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from omniscope_jupyter.errors import TooManyRequests
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.runner import RunOutcome, RunRequest, SandboxRunner
from tests.sandbox.conftest import PluginFactory

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

ROWS = 200_000
SUMMER = """
import time

class Summer:
    def execute(self, input_data):
        time.sleep(input_data["parameters"].get("seconds", 0))
        data = input_data.get("data")
        if data is None:
            return {"data": None, "metadata": {"rows": 0}}
        return {"data": None, "metadata": {"rows": len(data), "total": float(data["v"].sum())}}
"""


class SeeingRunner(SandboxRunner):
    """The real runner, noting what each run's request held when it reached the sandbox."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: dict[str, RunRequest] = {}

    def run(self, request: RunRequest, cancelled: Callable[[], bool] | None = None) -> RunOutcome:
        self.seen[request.execution_id] = request
        return super().run(request, cancelled)


@pytest.fixture
def queueing(service: ExecutionService, images: dict[str, str]) -> Iterator[ExecutionService]:
    """One run at a time; two queued per user, three in all."""
    settings = replace(service.settings, max_concurrent_runs=1, max_queued_per_user=2, max_queued=3)
    runner = SeeingRunner(settings)
    yield ExecutionService(service.session_factory, runner, settings)
    runner.close()


def body(seconds: float = 0, rows: int = 0, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"extension_point": "analysis", "parameters": {"seconds": seconds}}
    if rows:
        answer["input_data"] = {"v": list(range(rows))}
    return {**answer, "async": True, **extra}


def test_queued_runs_are_capped_and_wait_on_disk(
    queueing: ExecutionService, make_plugin: PluginFactory
) -> None:
    service, target = queueing, make_plugin(SUMMER)
    assert isinstance(service.runner, SeeingRunner)
    seen = service.runner.seen

    async def scenario() -> None:
        first = await service.execute(target, body(seconds=4), user="alice")
        assert first["status"] == "running", first
        queued = [await service.execute(target, body(rows=ROWS), user="alice") for _ in range(2)]
        queued.append(await service.execute(target, body(rows=ROWS), user="bob"))
        assert [q["status"] for q in queued] == ["queued"] * 3
        # Each answer's place when it was queued: bob's run goes ahead of alice's second.
        assert [q["queue"]["position"] for q in queued] == [1, 2, 2]
        with pytest.raises(TooManyRequests, match="you have 2 runs queued") as per_user:
            await service.execute(target, body(rows=ROWS), user="alice")
        with pytest.raises(TooManyRequests, match="3 runs are queued") as in_total:
            await service.execute(target, body(rows=ROWS), user="carol")
        assert per_user.value.status == in_total.value.status == 429
        assert (await service.list_page(target.plugin_id))["total"] == 4  # no record of a 429
        # Each queued input is an Arrow file on disk; nothing of it stays in memory.
        spooled = sorted(service.settings.work_dir.glob("spool-*/*.arrow"))
        assert [p.stem for p in spooled] == sorted(q["execution_id"] for q in queued)
        assert all(p.stat().st_size >= ROWS * 8 for p in spooled)
        for run in [first, *queued]:
            for _ in range(240):
                record = await service.get(target.plugin_id, run["execution_id"])
                if record["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.25)
            assert record["status"] == "succeeded", record
            if run is not first:  # from the spool file, whole; never back in memory
                request = seen[run["execution_id"]]
                assert request.data is None and request.data_table is None, request
                assert request.input_path is not None and request.input_shape == [ROWS, 1]
                assert record["metadata"] == {"rows": ROWS, "total": float(sum(range(ROWS)))}
        assert not list(service.settings.work_dir.glob("spool-*/*.arrow"))  # removed once run

    asyncio.run(scenario())
