"""Sandbox benchmarks, every figure a ratio against a baseline measured in the same run.

A real server (``jupyter server`` with the extension) and this process's own core share one
temporary store. Measured, with p50 and p95:

a. warm REST execute of a no-op Python plugin, against a plain
   ``docker run --rm --network none IMAGE python3 -c "import pandas"`` of the same runner image;
b. the same through the core (``PluginSystem.run_frame``, what ``%omniplug run`` calls), against
   a bare in-process call of the plugin;
c. the cold path (empty pool: a container started for the run), against the plain docker run;
d. a 1,000,000 x 10 float64 frame and a 1,000,000-row mixed frame (strings, tz-aware datetimes,
   categoricals, nulls) through the sandbox (a pass-through plugin), against an in-process Arrow
   IPC write + read + ``to_pandas`` of the same frame (throughput ratio);
e. an R no-op against the Python no-op (warm), and R's 1M x 10 round trip against Python's;
f. sustained no-op executions per second over REST, one client and ten, against sequential plain
   docker runs;
g. GET of an execution while ten plugins run: p99.

Run: ``python bench/bench_sandbox.py [--quick]`` (needs Docker and the images; several minutes).
Writes ``bench/RESULTS.md`` with the machine's description.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from omniscope_jupyter.config import OmniscopeConfig, make_system  # noqa: E402
from omniscope_jupyter.core.system import PluginSystem  # noqa: E402
from omniscope_jupyter.sandbox.transfer import frame_to_table  # noqa: E402

PY_PLUGINS = {
    "bench_noop": '''
class Noop:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        return {"data": {"ok": True}, "metadata": {}, "logs": [], "warnings": [], "errors": []}
''',
    "bench_pass": '''
class Passthrough:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        return {"data": input_data["data"], "metadata": {}, "logs": [], "warnings": [], "errors": []}
''',
    "bench_sleep": '''
import time

class Sleep:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        time.sleep(float(input_data["parameters"].get("seconds", 3)))
        return {"data": {"ok": True}}
''',
}
R_PLUGINS = {
    "bench_rnoop": '''
Noop <- setRefClass("Noop", methods = list(
  execute = function(input_data) list(data = list(ok = TRUE), metadata = list())
))
''',
    "bench_rpass": '''
Passthrough <- setRefClass("Passthrough", methods = list(
  execute = function(input_data) list(data = input_data$data, metadata = list())
))
''',
}
RESULTS = REPO / "bench" / "RESULTS.md"
#: Where the time goes (profiled on this machine while writing the engine; see README).
NOTES = """\
## Where the time goes

- **a, b (warm no-op, 12-16 ms).** Measured stage by stage on this machine: the container's
  part is about 5 ms (the host's job reaching the waiting runner, its hand-over to the run's
  forked process, which has the plugin loaded already, the run itself at about 2 ms, the result
  back), the store's three writes (the record, its claim with the container token, its end)
  and the plugin lookup about 1 ms each (SQLite in WAL mode with `synchronous=NORMAL`: no fsync
  per commit, still crash-safe), and jupyter_server's request handling (auth, login cookie,
  logging) about 3 ms of the REST figure. The >= 100x target needs about 6 ms end to end
  against a 0.6 s `docker run`: not met; the remaining costs are spread over many steps of
  about a millisecond each, most of them Python.
- **c (cold).** A container start plus `import pandas, pyarrow`, against the baseline's start plus
  `import pandas`; the removal of the container is off the caller's path, the CLI's is not.
- **d (data).** Frames are read with one block per column on both sides (a float column is a
  view of the memory-mapped file, no copy), and the run folders are in `/dev/shm`, so a round
  trip writes the data twice (the host's input file, the runner's result memfd) where the
  in-process baseline copies it twice in one process; the input's provenance digest (SHA-256 of
  its Arrow stream, 80 MB for the float frame) is computed on another thread beside the run.
  On this 2-core VM memory bandwidth is the bound (about 2 GB/s per copy): not met for the
  float frame; the mixed frame's figure moves with its baseline (string columns cost both sides
  alike).
- **e (R).** A warm R run: the run's process has sourced the plugin and built its
  `setRefClass` generator while waiting for the job, as Python's imports the module. Back to
  back, each fork of R's process copies R's heap when R's collector marks it (~100 ms); the
  runner does that in the child waiting for the next job, so runs more than ~0.2 s apart do not
  pay it.
- **f, g.** Met: runs are forks of a warm process, and the API's GETs never wait for a run.
"""
#: Seconds between warm-latency calls: the container is then waiting for a job (its next child
#: forked and warmed up), which is what "warm" means; back-to-back calls are measured in f.
WARM_PAUSE = 0.3


def write_plugin(root: Path, name: str, code: str, language: str) -> Path:
    folder = root / name
    folder.mkdir()
    entry = f"{name}.{'R' if language == 'r' else 'py'}"
    (folder / entry).write_text(code)
    manifest = {
        "name": name, "version": "1.0.0", "author": "bench", "description": "a benchmark plugin",
        "language": language, "entry_point": entry,
        "extension_points": ["preprocessing" if name.endswith("pass") else "analysis"],
        "permissions": ["read_data", "write_data"], "dependencies": [],
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def stats(values: list[float]) -> tuple[float, float]:
    """p50 and p95 of ``values``."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(
    fn: Callable[[], object], repeat: int, warmup: int = 1, pause: float = 0.0
) -> list[float]:
    """Durations of ``repeat`` calls; ``pause`` seconds before each (a warm container's next
    child is forked and warmed up between runs: back-to-back runs are measured in f)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        time.sleep(pause)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


class Report:
    """The rows of RESULTS.md, printed as they come."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def compare(self, name: str, ours: list[float], base: list[float], base_name: str,
                target: str, faster: bool = True) -> float:
        (o50, o95), (b50, b95) = stats(ours), stats(base)
        ratio = b50 / o50 if faster else o50 / b50
        word = "x faster" if faster else "x the baseline"
        row = (name, f"{ms(o50)} / {ms(o95)}", f"{base_name}: {ms(b50)} / {ms(b95)}",
               f"{ratio:.2f}{word}", target)  # fmt: skip
        self.add(*row)
        return ratio

    def add(self, *row: str) -> None:
        self.rows.append(row)  # type: ignore[arg-type]
        print(" | ".join(row), flush=True)


class Api:
    """Keep-alive HTTP calls to the server (one connection per thread)."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.local = threading.local()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"token {self.token}", "Content-Type": "application/json"}
        conn.request(method, f"/api/plugins/{path}", body=data, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")

    def execute(self, plugin: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, answer = self.call("POST", f"{plugin}/execute", body or {"input_data": {"x": [1.0]}})
        assert status in (200, 202) and answer.get("status") != "failed", (status, answer)
        return answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return [
        f"{os.cpu_count()} cores ({cpu}), {memory} GiB RAM, Linux {platform.release()}, "
        f"Docker {docker} (runc, cgroup {'v2' if Path('/sys/fs/cgroup/cgroup.controllers').exists() else 'v1'}), "
        f"Python {platform.python_version()}",
    ]


def mixed_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    strings = pd.Series([f"item-{i % 5000}" for i in range(rows)], dtype=object)
    strings[::7] = None
    when = pd.Series(pd.date_range("2024-01-01", periods=rows, freq="s", tz="Europe/Paris"))
    when[::11] = pd.NaT
    return pd.DataFrame({
        "f": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
        "i": pd.array(np.where(rng.random(rows) < 0.1, None, rng.integers(0, 1000, rows)), dtype="Int64"),
        "s": strings,
        "t": when,
        "c": pd.Categorical(rng.choice(["red", "green", "blue", None], rows)),
    })  # fmt: skip


def in_process_round_trip(frame: pd.DataFrame) -> None:
    table = frame_to_table(frame)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    pa.ipc.open_stream(sink.getvalue()).read_all().to_pandas()


def system_on(store: Path, **traits: Any) -> PluginSystem:
    config = OmniscopeConfig()
    config.data_dir = str(store)
    config.seed_marketplace = False
    for name, value in traits.items():
        setattr(config, name, value)
    system = make_system(config, user="bench")
    system.recover()
    return system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    n = 8 if args.quick else 40
    report = Report()
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = root / "store"
        core = system_on(store, sandbox_memory="2g")
        for name, code in PY_PLUGINS.items():
            core.install(write_plugin(root, name, code, "python"), enable=True)
        for name, code in R_PLUGINS.items():
            core.install(write_plugin(root, name, code, "r"), enable=True)
        image = core._executions.runner.images()["python"]  # built when missing
        config_dir = root / "config"
        config_dir.mkdir()
        (config_dir / "jupyter_server_config.py").write_text(
            f"c.OmniscopeApp.data_dir = {str(store)!r}\nc.OmniscopeApp.seed_marketplace = False\n"
        )
        port, token = free_port(), secrets.token_hex(16)
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config_dir))
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "server", f"--port={port}", "--no-browser",
             "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             # One user for the token (jupyter_server's default makes each request a new one,
             # and a container serves one user: every run would start a container).
             "--ServerApp.identity_provider_class="
             "omniscope_jupyter.web.identity.TokenUserIdentityProvider"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        api = Api(port, token)
        try:
            for _ in range(300):
                try:
                    if api.call("GET", "list")[0] == 200:
                        break
                except OSError:
                    api.local.conn = None
                    time.sleep(0.2)
            print("\n".join(machine()))
            plain = ["docker", "run", "--rm", "--network", "none", image, "python3", "-c", "import pandas"]
            docker_run = timed(lambda: subprocess.run(plain, check=True, capture_output=True),
                               max(3, n // 4))  # fmt: skip

            # a. warm REST no-op
            rest = timed(lambda: api.execute("bench_noop"), n, warmup=5, pause=WARM_PAUSE)
            report.compare("a. warm REST execute, no-op Python", rest, docker_run,
                           "docker run python3 -c 'import pandas'", ">= 100x")  # fmt: skip

            # b. core (%omniplug run) vs a bare in-process call
            tiny = pd.DataFrame({"x": [1.0]})
            namespace: dict[str, Any] = {}
            exec(PY_PLUGINS["bench_noop"], namespace)  # our own benchmark plugin
            plugin = namespace["Noop"]({})
            bare = timed(lambda: plugin.execute({"data": tiny, "parameters": {}}), n * 10)
            through_core = timed(
                lambda: core.run_frame("bench_noop", tiny), n, warmup=5, pause=WARM_PAUSE
            )
            report.compare("b. warm core run_frame (%omniplug run), no-op", through_core, bare,
                           "bare in-process call", "report", faster=False)  # fmt: skip

            # c. cold: no warm container, a new (user's) container for every run
            cold_core = system_on(store, sandbox_pool_size=0)
            users = iter(range(1000))
            cold = timed(lambda: cold_core.run_frame("bench_noop", tiny, user=f"cold{next(users)}"),
                         max(3, n // 4))  # fmt: skip
            cold_core._executions.runner.shutdown()
            cold_core.close()
            report.compare("c. cold run (empty pool)", cold, docker_run, "docker run", "<= 1.1x",
                           faster=False)  # fmt: skip

            # d. data round trips
            rng = np.random.default_rng(0)
            floats = pd.DataFrame(rng.random((args.rows, 10)), columns=[f"c{i}" for i in range(10)])
            mixed = mixed_frame(args.rows)
            py_round_trips = {}
            for label, frame in (("1M x 10 float64", floats), ("1M mixed rows", mixed)):
                def through(frame: pd.DataFrame = frame) -> None:
                    result = core.run_frame("bench_pass", frame)
                    assert result.status == "succeeded", result.answer["errors"]
                    assert result.data.shape == frame.shape

                ours = timed(through, max(3, n // 8))
                base = timed(lambda frame=frame: in_process_round_trip(frame), max(3, n // 8))
                py_round_trips[label] = ours
                report.compare(f"d. {label} round trip (throughput)", ours, base,
                               "in-process IPC write+read+to_pandas", ">= 0.5x", faster=True)  # fmt: skip

            # e. R
            r_noop = timed(
                lambda: core.run_frame("bench_rnoop", tiny), n, warmup=3, pause=WARM_PAUSE
            )
            report.compare("e. warm R no-op vs warm Python no-op", r_noop, through_core,
                           "Python no-op (core)", "<= 2x", faster=False)  # fmt: skip
            r_back = timed(lambda: core.run_frame("bench_rnoop", tiny), n)
            py_back = timed(lambda: core.run_frame("bench_noop", tiny), n)
            report.compare("e. R no-op back to back vs Python's", r_back, py_back,
                           "Python no-op back to back", "report", faster=False)  # fmt: skip

            def r_through() -> None:
                result = core.run_frame("bench_rpass", floats)
                assert result.status == "succeeded", result.answer["errors"]

            r_trip = timed(r_through, max(3, n // 8))
            report.compare("e. R 1M x 10 round trip vs Python's", r_trip,
                           py_round_trips["1M x 10 float64"], "Python round trip", "report",
                           faster=False)  # fmt: skip

            # f. sustained executions per second
            count = n * 3
            start = time.perf_counter()
            for _ in range(count):
                api.execute("bench_noop")
            sequential = count / (time.perf_counter() - start)
            done: list[float] = []

            def client() -> None:
                for _ in range(count // 10 or 1):
                    api.execute("bench_noop")
                    done.append(time.perf_counter())

            start = time.perf_counter()
            clients = [threading.Thread(target=client) for _ in range(10)]
            for c in clients:
                c.start()
            for c in clients:
                c.join()
            concurrent = len(done) / (time.perf_counter() - start)
            docker_rate = 1 / statistics.median(docker_run)
            report.add("f. sustained no-op runs/s, 1 REST client", f"{sequential:.1f}/s",
                       f"sequential docker run: {docker_rate:.2f}/s",
                       f"{sequential / docker_rate:.1f}x", ">= 10x")  # fmt: skip
            report.add("f. sustained no-op runs/s, 10 REST clients", f"{concurrent:.1f}/s",
                       f"sequential docker run: {docker_rate:.2f}/s",
                       f"{concurrent / docker_rate:.1f}x", ">= 10x")  # fmt: skip

            # g. GET while ten plugins run
            running = [api.execute("bench_sleep", {"async": True, "parameters": {"seconds": 6}})
                       for _ in range(10)]  # fmt: skip
            gets: list[float] = []
            until = time.perf_counter() + 5
            while time.perf_counter() < until:
                for run in running:
                    begin = time.perf_counter()
                    status, _ = api.call("GET", f"bench_sleep/executions/{run['execution_id']}")
                    gets.append(time.perf_counter() - begin)
                    assert status == 200
            q = statistics.quantiles(gets, n=100)
            report.add("g. GET execution while 10 plugins run", f"p99 {ms(q[98])}",
                       f"p50 {ms(statistics.median(gets))}, {len(gets)} GETs", "", "p99 < 100 ms")  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=60)
            core._executions.runner.shutdown()
            core.close()
    write_results(report, load_before, os.getloadavg(), time.monotonic() - started, args)


def write_results(report: Report, before: tuple[float, ...], after: tuple[float, ...],
                  seconds: float, args: argparse.Namespace) -> None:
    lines = [
        "# Sandbox benchmark results",
        "",
        f"`python bench/bench_sandbox.py{' --quick' if args.quick else ''}`, one run of "
        f"{seconds / 60:.1f} minutes, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "Machine: " + "; ".join(machine()) + ".",
        f"Load average before / after: {before[0]:.1f} / {after[0]:.1f} (the machine is shared "
        "with other engineers' builds and tests while this runs: absolute times are noisy, the "
        "ratios against baselines measured in the same run less so).",
        "",
        "| measure | ours p50 / p95 | baseline p50 / p95 | ratio | target |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {' | '.join(row)} |" for row in report.rows],
        "",
        NOTES,
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
