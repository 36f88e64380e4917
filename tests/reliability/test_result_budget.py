"""Results in flight share one memory budget per process (issue 13, item 2).

Each result is capped on its own; these results are far below that cap and still do not fit a
small budget, alone or together. Two plugins finish at the same instant (they sleep until a
given time), so both results reach the server while the first one's answer is being made.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omniscope_jupyter.sandbox.arrow_limits import check_stream
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.transfer import frame_to_ipc
from tests.sandbox.conftest import PluginFactory, ServiceFactory

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

ROWS = 1_000_000
BIG = """
import time

import numpy as np
import pandas as pd

class Big:
    def execute(self, input_data):
        p = input_data["parameters"]
        frame = pd.DataFrame({"x": np.arange(p["rows"], dtype="float64")})
        time.sleep(max(0.0, p.get("at", 0) - time.time()))
        return {"data": frame}
"""


def decoded_size(rows: int) -> int:
    """What the server reserves for the plugin's result (its frame, sized as the host sizes it)."""
    frame = pd.DataFrame({"x": np.arange(rows, dtype="float64")})
    return check_stream(frame_to_ipc(frame), max_bytes=1 << 40, max_cells=1 << 40).decoded_bytes


def body(rows: int = ROWS, at: float = 0.0) -> dict[str, Any]:
    return {"extension_point": "analysis", "parameters": {"rows": rows, "at": at}}


def together(service: ExecutionService, target: PluginTarget) -> list[dict[str, Any]]:
    """Two runs whose results arrive at the same instant (10 s from now: both containers start)."""
    at = time.time() + 10
    answers: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(service.run(target, body(at=at))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 2, answers
    return answers


def test_a_result_under_its_cap_but_over_the_budget_fails_recorded(
    service_with: ServiceFactory, make_plugin: PluginFactory
) -> None:
    size = decoded_size(ROWS)
    assert size < 64 * 1024 * 1024  # far below the per-run cap (max_output_decoded_bytes)
    service = service_with(results_budget_bytes=size // 2, results_budget_wait_seconds=30)
    target = make_plugin(BIG)
    started = time.monotonic()
    answer = service.run(target, body())
    assert time.monotonic() - started < 30  # larger than the whole budget: no wait at all
    assert answer["status"] == "failed" and answer["data"] is None, answer["status"]
    assert answer["errors"] == [
        f"output refused: the result would take {size} bytes once decoded, more than the "
        f"{size // 2}-byte budget this server keeps for results in flight "
        "(sandbox_results_budget_bytes)"
    ]
    record = service.page(target.plugin_id)["executions"][0]
    assert (record["execution_id"], record["status"]) == (answer["execution_id"], "failed")
    small = service.run(target, body(rows=1000))
    assert small["status"] == "succeeded" and len(small["data"]["data"]) == 1000
    assert service.runner.budget.in_flight == 0


def test_two_results_that_together_exceed_the_budget_do_not_both_decode(
    service_with: ServiceFactory, make_plugin: PluginFactory
) -> None:
    size = decoded_size(ROWS)
    service = service_with(results_budget_bytes=size * 3 // 2, results_budget_wait_seconds=0)
    answers = together(service, make_plugin(BIG))
    statuses = sorted(a["status"] for a in answers)
    assert statuses == ["failed", "succeeded"], [(a["status"], a["errors"]) for a in answers]
    (failed,) = [a for a in answers if a["status"] == "failed"]
    assert failed["errors"][0].startswith(
        f"output refused: the result would take {size} bytes once decoded, but only "
    )
    assert "(sandbox_results_budget_bytes) were free for 0 s" in failed["errors"][0]
    budget = service.runner.budget
    assert budget.peak <= budget.capacity and budget.in_flight == 0


def test_a_result_waits_for_room_then_decodes(
    service_with: ServiceFactory, make_plugin: PluginFactory
) -> None:
    size = decoded_size(ROWS)
    service = service_with(results_budget_bytes=size * 3 // 2, results_budget_wait_seconds=60)
    answers = together(service, make_plugin(BIG))
    assert [a["status"] for a in answers] == ["succeeded", "succeeded"], answers[0]["errors"]
    assert all(len(a["data"]["data"]) == ROWS for a in answers)
    budget = service.runner.budget
    # One result waited until the other's answer was made: never both in memory at once.
    assert budget.waits == 1 and size <= budget.peak <= budget.capacity
    assert budget.in_flight == 0
