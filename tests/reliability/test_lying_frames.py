"""A zstd-compressed Arrow buffer whose length prefix lies is a refused output, never a crash.

Each compressed Arrow buffer starts with its uncompressed length; the host sizes the result by
it (``arrow_limits``) and Arrow decompresses into a buffer of that size. A prefix smaller or
larger than the truth made zstd fail with an ``OSError`` (``ArrowIOError`` is no
``ArrowException``): the run was recorded as an internal error and a synchronous REST run
answered 500 (issue 13, item 10).
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest

from omniscope_jupyter.errors import InvalidRequest
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import frame_from_arrow
from tests.sandbox.conftest import PluginFactory
from tests.sandbox.test_limits import forger, stream

ROWS = 100_000
#: Lies of the prefix of an 800,000-byte buffer: far too small, slightly off, larger, enormous.
LIES = {"tiny": 8, "short": 799_992, "long": 800_008, "tenfold": 8_000_000, "huge": 2**40}


def lying(length: int) -> bytes:
    """A zstd stream of ``ROWS`` int64 whose one data buffer claims ``length`` bytes."""
    good = bytearray(stream(pa.record_batch({"a": pa.array(np.arange(ROWS, dtype="int64"))})))
    prefix = struct.pack("<q", ROWS * 8)
    assert good.count(prefix) == 1  # the buffer's length prefix, and nothing else
    at = good.index(prefix)
    good[at : at + 8] = struct.pack("<q", length)
    return bytes(good)


@pytest.mark.docker
@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_result_with_a_lying_zstd_length_is_a_refused_output(
    service: ExecutionService, make_plugin: PluginFactory, lie: str
) -> None:
    target = forger(make_plugin, lying(LIES[lie]), ("read_data", "write_data"))
    answer = service.run(target, {"extension_point": "analysis"})
    assert answer["status"] == "failed" and answer["data"] is None, answer
    (error,) = answer["errors"]
    if lie == "huge":
        assert error.startswith("output refused: data.arrow would decode to more than"), error
    else:
        assert error.startswith("output refused: not a valid Arrow IPC stream:"), error
        assert "zstd" in error.lower(), error
    record = service.page(target.plugin_id)["executions"][0]
    assert record["status"] == "failed"
    assert service.runner.budget.in_flight == 0  # a failed decode gives its reservation back


@pytest.mark.parametrize("lie", sorted(set(LIES) - {"huge"}))
def test_an_input_with_a_lying_zstd_length_is_a_400(lie: str) -> None:
    """The same stream sent as a run's Arrow body (``POST .../execute``, Arrow content type)."""
    with pytest.raises(InvalidRequest, match="not an Arrow IPC stream") as caught:
        frame_from_arrow(lying(LIES[lie]))
    assert caught.value.status == 400
