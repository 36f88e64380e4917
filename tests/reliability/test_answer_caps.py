"""A result small as Arrow but huge as JSON never becomes a huge answer or record (issue 13,
item 2).

A 400-row category column whose one value is 1 MiB is about 1 MiB of Arrow and decodes to about
1 MiB (a Categorical holds its values once), but as JSON every cell is written out: 400 MiB, and
the server peaked at 2.3 GiB making it. Every door must size it before writing it: the REST JSON
answer (``max_json_answer_bytes``), and the run's history record on the doors that hand the frame
itself to their caller (a notebook's ``run_frame``, the REST Arrow answer).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from omniscope_jupyter.sandbox.executions import ExecutionService
from tests.sandbox.conftest import PluginFactory

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

ROWS, VALUE = 400, 1 << 20
CATEGORY = f"""
import pandas as pd

class Category:
    def execute(self, input_data):
        return {{"data": pd.DataFrame({{"c": pd.Categorical(["x" * {VALUE}] * {ROWS})}})}}
"""
#: What the host may allocate (Python objects, traced) while it answers: a few copies of the
#: 1 MiB value, far from the 400 MiB of its JSON.
PEAK = 32 * 1024 * 1024


def traced(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the most memory Python allocated meanwhile, in every thread."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_json_answer_leaves_it_out_and_says_how_to_get_it(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(CATEGORY)
    answer, peak = traced(lambda: service.run(target, {"extension_point": "analysis"}))
    assert answer["status"] == "succeeded", answer["errors"]
    assert answer["data"] is None and answer["output_shape"] == [ROWS, 1]
    (warning,) = answer["warnings"]
    assert "is above the 67108864-byte cap of a JSON answer" in warning, warning
    assert "Accept: application/vnd.apache.arrow.stream" in warning
    assert peak < PEAK, peak


def test_a_frame_handed_to_its_caller_is_not_written_out_for_the_history(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(CATEGORY)
    result, peak = traced(lambda: service.run_frame(target, None, extension_point="analysis"))
    assert result.status == "succeeded", result.answer["errors"]
    frame = result.data
    assert isinstance(frame, pd.DataFrame) and frame.shape == (ROWS, 1)
    assert isinstance(frame["c"].dtype, pd.CategoricalDtype)
    assert frame["c"].cat.categories.tolist() == ["x" * VALUE]
    assert peak < PEAK, peak
    record = service._get(target.plugin_id, result.answer["execution_id"])
    assert record["data"] is None and record["output_shape"] == [ROWS, 1]
