"""``jupyter omniscope`` on its own: the port given on the command line wins over the default.

The extension's ``serverapp_config`` holds 8001 (the spec's port) as a default only; jupyter_server
applies it after parsing the command line, so it used to override ``--port``. Both spellings are
launched as real server processes on free ports and asked for ``/api/plugins/list``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from omniscope_jupyter.web.extension import OmniscopeApp

TOKEN = "standalone-test-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(flag: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp / "data"),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    command = [
        sys.executable, "-c", "from omniscope_jupyter.web.extension import main; main()",
        f"{flag}={port}", "--ip=127.0.0.1", "--allow-root", "--no-browser",
        f"--IdentityProvider.token={TOKEN}", f"--OmniscopeApp.data_dir={tmp / 'store'}",
        "--OmniscopeApp.seed_marketplace=False",
    ]  # fmt: skip
    with (tmp / "server.log").open("wb") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.timeout(180)
def test_the_command_line_port_wins(tmp_path: Path) -> None:
    servers = {}
    for flag in ("--ServerApp.port", "--port"):
        folder = tmp_path / flag.strip("-").replace(".", "_")
        folder.mkdir()
        port = _free_port()
        servers[flag] = (port, folder, _launch(flag, port, folder))
    try:
        for flag, (port, folder, process) in servers.items():
            deadline, answer = time.monotonic() + 120, None
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    answer = requests.get(
                        f"http://127.0.0.1:{port}/api/plugins/list",
                        headers={"Authorization": f"token {TOKEN}"}, timeout=5,
                    )  # fmt: skip
                    break
                except requests.ConnectionError:
                    time.sleep(0.5)
            log = (folder / "server.log").read_text(errors="replace")[-3000:]
            assert answer is not None, f"{flag}={port}: no server answered\n{log}"
            assert answer.status_code == 200 and answer.json() == {"plugins": [], "count": 0}, log
            assert f"127.0.0.1:{port}/" in log
    finally:
        for _, _, process in servers.values():
            process.terminate()
        for _, _, process in servers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_8001_stays_the_default_when_no_port_is_given() -> None:
    app = OmniscopeApp()
    assert app._jupyter_server_config()["ServerApp"]["port"] == 8001
