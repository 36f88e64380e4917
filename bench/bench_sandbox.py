"""Sandbox benchmarks: each figure is a ratio against a baseline measured in the same run.

1. Execution overhead: a no-op plugin through ``ExecutionService.run_frame`` (job handoff,
   hardening, Arrow transfer, result checks, history) against a plain ``docker run`` of a
   no-op Python script in the same runner image.
2. Frame round trip: a 1,000,000 x 10 float frame through the sandbox (a pass-through plugin)
   against an in-process Arrow IPC write + read of the same frame.

Run: ``python bench/bench_sandbox.py [--repeat N] [--rows R]`` (needs Docker and the images).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from omniscope_jupyter.config import open_system
from omniscope_jupyter.sandbox.transfer import frame_to_ipc, ipc_to_frame

PLUGIN = '''
class Passthrough:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        return {"data": input_data["data"], "metadata": {}, "logs": [], "warnings": [], "errors": []}
'''
MANIFEST = """{"name": "bench_passthrough", "version": "1.0.0", "author": "bench",
"description": "returns its input", "language": "python", "entry_point": "bench_passthrough.py",
"extension_points": ["preprocessing"], "permissions": ["read_data", "write_data"]}"""


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up: images, caches, imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def report(name: str, ours: list[float], base: list[float], base_name: str) -> None:
    o, b = statistics.median(ours), statistics.median(base)
    print(f"{name}: {o * 1000:.0f} ms (min {min(ours) * 1000:.0f}, max {max(ours) * 1000:.0f})")
    print(f"  baseline {base_name}: {b * 1000:.0f} ms (min {min(base) * 1000:.0f}, max {max(base) * 1000:.0f})")
    print(f"  ratio: {o / b:.2f}x the baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        core = open_system(str(Path(tmp) / "store"), user="bench")
        plugin = Path(tmp) / "bench_passthrough"
        plugin.mkdir()
        (plugin / "bench_passthrough.py").write_text(PLUGIN)
        (plugin / "manifest.json").write_text(MANIFEST)
        core.install(plugin, enable=True)
        image = core._executions.runner.images()["python"]

        tiny = pd.DataFrame({"x": [1.0]})
        ours = timed(lambda: core.run_frame("bench_passthrough", tiny), args.repeat)
        plain = timed(
            lambda: subprocess.run(
                ["docker", "run", "--rm", "--network", "none", image, "python3", "-c", "pass"],
                check=True, capture_output=True,
            ),
            args.repeat,
        )
        report("no-op plugin run", ours, plain, "plain `docker run` of a no-op script")

        rng = np.random.default_rng(0)
        big = pd.DataFrame(rng.random((args.rows, 10)), columns=[f"c{i}" for i in range(10)])

        def sandbox_round_trip() -> None:
            result = core.run_frame("bench_passthrough", big)
            assert result.status == "succeeded" and result.data.shape == big.shape, result.answer

        ours = timed(sandbox_round_trip, max(1, args.repeat // 2))
        local = timed(lambda: ipc_to_frame(frame_to_ipc(big)), args.repeat)
        report(f"{args.rows:,} x 10 frame through the sandbox", ours, local, "in-process Arrow write+read")
        core.close()


if __name__ == "__main__":
    main()
