"""What crosses the sandbox boundary is bounded: decoded output, undecodable input."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pyarrow as pa
import pytest

from omniscope_jupyter.errors import InvalidRequest
from omniscope_jupyter.sandbox.arrow_limits import check_stream
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.transfer import TransferError

from .conftest import PluginFactory, ServiceFactory

ANALYSIS = {"extension_point": "analysis"}

# Forges its result frame: the runner's Arrow writer (in the plugin's own process, so the plugin
# may replace it) copies /plugin/payload.arrow into the memfd the host maps.
FORGER = """
import shutil
import sys

import pandas as pd

class Forger:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        sys.modules["transfer"].write_ipc = lambda frame, sink: shutil.copyfile(
            "/plugin/payload.arrow", sink)
        return {"data": pd.DataFrame({"a": [1]}), "metadata": {"forged": True}}
"""
# Hands back a frame the host must not map: a memfd left unsealed, or a plain file.
UNSEALED = """
import os
import sys

import pandas as pd

class Unsealed:
    def execute(self, input_data):
        runner = sys.modules["__main__"]  # the container's runner, in whose fork this runs
        runner.fcntl = type("NoSeals", (), {"fcntl": staticmethod(lambda *a: 0),
                                            "F_ADD_SEALS": 0, "F_SEAL_SHRINK": 0,
                                            "F_SEAL_GROW": 0, "F_SEAL_WRITE": 0,
                                            "F_SEAL_SEAL": 0})
        if input_data["parameters"]["how"] == "plain":  # a tmpfs file, not a memfd at all
            runner.os.memfd_create = lambda *a: os.open("/tmp/plain", os.O_RDWR | os.O_CREAT)
        return {"data": pd.DataFrame({"a": [1]})}
"""


def stream(batch: pa.RecordBatch, times: int = 1, compression: str | None = "zstd") -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        for _ in range(times):
            writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def nulls(length: int) -> pa.RecordBatch:
    """A null column of ``length`` rows without allocating anything (``pa.nulls`` would)."""
    return pa.record_batch([pa.Array.from_buffers(pa.null(), length, [None])], names=["n"])


def forger(make_plugin: PluginFactory, payload: bytes, permissions: tuple[str, ...]) -> PluginTarget:
    target = make_plugin(FORGER, permissions=permissions)
    (target.path / "payload.arrow").write_bytes(payload)
    (target.path / "payload.arrow").chmod(0o644)
    return target


def test_compressed_output_bomb_is_refused_before_decoding(
    service: ExecutionService, service_with: ServiceFactory, make_plugin: PluginFactory
) -> None:
    # 16 zstd batches of 8M zero int64: a few KB on disk, 128M values and 1 GiB decoded.
    zeros = pa.record_batch({"z": pa.array(np.zeros(8 * 1024 * 1024, dtype="int64"))})
    bomb = stream(zeros, times=16)
    assert len(bomb) < 256 * 1024
    target = forger(make_plugin, bomb, ("read_data", "write_data"))
    started = time.monotonic()
    answer = service.run(target, ANALYSIS)
    assert answer["status"] == "failed", answer["status"]
    assert answer["errors"][0].startswith("output refused: data.arrow holds more than")
    assert answer["data"] is None
    # With the value cap out of the way, the decoded-bytes cap (512 MiB) refuses it.
    answer = service_with(max_output_cells=10**10).run(target, ANALYSIS)
    assert answer["status"] == "failed"
    assert "data.arrow would decode to more than 536870912 bytes" in answer["errors"][0]
    assert time.monotonic() - started < 30


def test_output_cells_are_capped_even_without_bytes(
    service_with: ServiceFactory, make_plugin: PluginFactory
) -> None:
    # A null column has a length but no buffers: only the value count can refuse it.
    capped = service_with(max_output_cells=1_000_000)
    answer = capped.run(forger(make_plugin, stream(nulls(3_000_000)), ("write_data",)), ANALYSIS)
    assert answer["status"] == "failed"
    assert "more than 1000000 values" in answer["errors"][0]
    small = pa.record_batch({"a": pa.array([1, 2, 3]), "s": pa.array(["x", "y", None])})
    answer = capped.run(forger(make_plugin, stream(small), ("write_data",)), ANALYSIS)
    assert answer["status"] == "succeeded", answer["errors"]
    assert answer["data"]["data"] == [[1, "x"], [2, "y"], [3, None]]


def test_a_result_frame_is_mapped_only_when_sealed(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    """A file the plugin could still shrink or change under the host's map is refused."""
    target = make_plugin(UNSEALED)
    for how in ("unsealed", "plain"):
        answer = service.run(target, {**ANALYSIS, "parameters": {"how": how}})
        assert answer["status"] == "failed", (how, answer)
        assert answer["errors"] == ["output refused: the result frame is not sealed against change"]


def test_output_is_not_even_read_without_write_data(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    # Not Arrow at all: decoding it would fail the run; without write_data it is never opened.
    answer = service.run(forger(make_plugin, b"not arrow" * 100, ("read_data",)), ANALYSIS)
    assert answer["status"] == "succeeded", answer["errors"]
    assert answer["data"] is None
    assert answer["metadata"] == {"forged": True}
    assert any("write_data" in w for w in answer["warnings"])


def test_check_stream_measures_without_decoding() -> None:
    small = pa.record_batch({"a": pa.array(range(1000)), "s": pa.array([str(i) for i in range(1000)])})
    plain = check_stream(stream(small, compression=None), max_bytes=1 << 30, max_cells=1 << 30)
    packed = check_stream(stream(small), max_bytes=1 << 30, max_cells=1 << 30)
    assert plain == packed and plain.cells == 2000 and plain.decoded_bytes >= 8000
    huge_nulls = stream(nulls(2**31 - 1), times=4, compression=None)
    assert len(huge_nulls) < 4096
    with pytest.raises(TransferError, match="values"):
        check_stream(huge_nulls, max_bytes=1 << 50, max_cells=10**9)
    # Without bytes of its own, a null column still costs a pointer a row in pandas.
    with pytest.raises(TransferError, match="would decode to more than"):
        check_stream(huge_nulls, max_bytes=1 << 30, max_cells=10**12)
    with pytest.raises(TransferError, match="not a valid Arrow"):
        check_stream(b"\xff\xff\xff\xff\x10\x00\x00\x00garbage", max_bytes=1, max_cells=1)


def test_decoded_size_counts_what_pandas_makes_of_each_type() -> None:
    """Empty strings and a one-entry dictionary are nearly free in Arrow, not once decoded."""
    rows = 200_000
    empty = pa.record_batch({"s": pa.array([""] * rows)})
    sized = check_stream(stream(empty, compression=None), max_bytes=1 << 40, max_cells=1 << 40)
    assert sized.decoded_bytes >= rows * 50  # a Python object per string
    coded = pa.record_batch({"c": pa.array(["x" * 1000] * rows).dictionary_encode()})
    sized = check_stream(stream(coded), max_bytes=1 << 40, max_cells=1 << 40)
    # A Categorical: the codes and the dictionary once, not a copy of the text per row.
    assert rows * 4 <= sized.decoded_bytes < rows * 16
    nested = pa.record_batch({"l": pa.array([[1, 2]] * rows)})
    sized = check_stream(stream(nested), max_bytes=1 << 40, max_cells=1 << 40)
    assert sized.decoded_bytes >= rows * 100  # an array object per cell


def test_input_arrow_cannot_type_is_refused_before_anything_runs(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin("class Ok:\n    def execute(self, input_data):\n        return {'data': None}\n")
    with pytest.raises(InvalidRequest, match="column 'b'"):
        service.run(target, {**ANALYSIS, "input_data": {"a": [1, 2], "b": [1, "x"]}})
    with pytest.raises(InvalidRequest, match="column 'b'"):
        asyncio.run(service.execute(target, {**ANALYSIS, "async": True,
                                             "input_data": {"a": [1, 2], "b": [1, "x"]}}))
    assert service.page(target.plugin_id)["total"] == 0  # no record, so no container either
