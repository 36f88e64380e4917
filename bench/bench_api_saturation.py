"""GET latency while every kind of slow request work is saturated, against the same GETs idle.

A real server (``jupyter server`` with the extension) on a temporary store answers
``GET /api/plugins/list`` 200 times with nothing else going on (the baseline), then again while
installs whose scan takes seconds fill the install pool and searches against a remote that drips
its answer fill the remote pool. Before the per-kind pools (``web/executors.py``) six slow
uploads left the GET unanswered for minutes. Prints p50/p95/p99 of both and their ratio.

Run: ``python bench/bench_api_saturation.py [--gets 200] [--slow 6]`` (no Docker needed).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import build_package, multipart  # noqa: E402

SLOW_STAGES = '''
import time
from omniscope_jupyter.scan.report import ScanReport
from omniscope_jupyter.stages import ScanStage


class SlowScanner(ScanStage):
    """A scan that takes seconds, like Bandit over a large package."""

    def scan(self, package_dir, manifest):
        time.sleep(float(self.settings.get("delay", 4.0)))
        return ScanReport(scanners=["slow"])
'''


class DripRemote(http.server.BaseHTTPRequestHandler):
    """A remote marketplace that answers one byte a second (a slow-drip peer)."""

    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for byte in b'{"results": [], "count": 0}':
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.0)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=200)
    parser.add_argument("--slow", type=int, default=6, help="slow installs and searches each")
    args = parser.parse_args()

    remote = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DripRemote)
    threading.Thread(target=remote.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench_slow_stages.py").write_text(SLOW_STAGES)
        config_dir = root / "config"
        config_dir.mkdir()
        remotes = [{"name": "drip", "url": f"http://127.0.0.1:{remote.server_port}/", "token": "t"}]
        (config_dir / "jupyter_server_config.py").write_text(
            f"c.OmniscopeApp.data_dir = {str(root / 'store')!r}\n"
            "c.OmniscopeApp.scanner_class = 'bench_slow_stages.SlowScanner'\n"
            "c.OmniscopeApp.seed_marketplace = False\n"
            f"c.OmniscopeApp.remote_marketplaces = {remotes!r}\n"
        )
        port, token = free_port(), secrets.token_hex(16)
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config_dir), PYTHONPATH=str(root))
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "server", f"--port={port}", "--no-browser",
             "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}/api/plugins"
        headers = {"Authorization": f"token {token}"}

        def request(path: str, body: bytes | None = None, ctype: str = "") -> float:
            req = urllib.request.Request(f"{base}{path}", data=body, headers=dict(headers))
            if ctype:
                req.add_header("Content-Type", ctype)
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=120) as answer:
                    answer.read()
            except OSError:
                pass
            return time.perf_counter() - start

        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(urllib.request.Request(f"{base}/list", headers=headers), timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            idle = [request("/list") for _ in range(args.gets)]

            uploads = []
            for i in range(args.slow):
                archive = build_package(root / f"p{i}.tar.gz", name=f"slow_{i}", version="1.0.0")
                uploads.append(multipart(archive))
            slow: dict[str, list[float]] = {"install": [], "search": []}

            def slow_call(kind: str, path: str, body: bytes, ctype: str) -> None:
                slow[kind].append(request(path, body, ctype))

            search = json.dumps({"query": "x"}).encode()
            workers = [
                threading.Thread(target=slow_call, args=("install", "/install", body, ctype))
                for body, ctype in uploads
            ] + [
                threading.Thread(
                    target=slow_call,
                    args=("search", "/marketplace/search", search, "application/json"),
                )
                for _ in range(args.slow)
            ]
            for w in workers:
                w.start()
            time.sleep(1.0)  # every slow request is in its pool now
            busy = [request("/list") for _ in range(args.gets)]
            for w in workers:
                w.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
            remote.shutdown()

    for kind, times in slow.items():
        print(f"{len(times)} slow {kind} requests took {min(times):.1f}-{max(times):.1f} s")
    print(f"GET /api/plugins/list idle:                {percentiles(idle)}")
    print(f"GET /api/plugins/list, install+remote full: {percentiles(busy)}")
    q_idle = statistics.quantiles(idle, n=100)[98]
    q_busy = statistics.quantiles(busy, n=100)[98]
    print(f"ratio (p99 busy / p99 idle): {q_busy / q_idle:.2f}x")


if __name__ == "__main__":
    main()
