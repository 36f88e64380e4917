"""The example notebooks execute for real (nbclient), so they never rot.

Each runs on a real kernel against a real Jupyter server with the extension (pytest-jupyter's,
in this process). The kernel has no Docker socket (``DOCKER_HOST`` points nowhere) and a store
of its own that stays empty: every plugin runs on the server, through its REST API.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from omniscope_jupyter.config import DATA_DIR_ENV, SERVER_URL_ENV, TOKEN_ENV
from omniscope_jupyter.sandbox.container import RUN_LABEL, docker_client

from .helpers import REPO

NOTEBOOKS = sorted((REPO / "examples" / "notebooks").glob("*.ipynb"))


#: What each notebook installs (on the server's store).
INSTALLS = {"quickstart": "data_normalizer", "authoring": "col_stats"}


def kernel_env(serverapp: Any, tmp_path: Path) -> dict[str, str]:
    """A kernel's environment: the server's URL and token, no Docker, an empty store of its own."""
    return {
        **os.environ,
        "DOCKER_HOST": "unix:///nonexistent",
        SERVER_URL_ENV: f"http://127.0.0.1:{serverapp.port}{serverapp.base_url}",
        TOKEN_ENV: serverapp.identity_provider.token,
        DATA_DIR_ENV: str(tmp_path / "kernel-store"),
    }


@pytest.mark.docker
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("docker_ready", "http_server")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
async def test_notebook_runs(path: Path, tmp_path: Path, jp_serverapp: Any) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    await client.async_execute(env=kernel_env(jp_serverapp, tmp_path))
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert text.count("omniplug: plugins run through the Jupyter server") == 1
    # Every run happened on the server and is in its history; the kernel's store stayed empty.
    system = jp_serverapp.web_app.settings["omniscope_system"]
    plugin = INSTALLS.get(path.stem, "data_normalizer")
    assert system.executions_page(plugin)["total"] >= 1
    assert not (tmp_path / "kernel-store" / "versions" / plugin).exists()
    # Each run's output names what produced it (its provenance, in the output's metadata).
    stamps = [o["metadata"]["omniscope"] for o in outputs if "omniscope" in o.get("metadata", {})]
    recorded = {
        run["execution_id"]: run["version"]
        for p in system.list_plugins()
        for run in system.executions_page(p["name"], 1, 200)["executions"]
    }
    assert stamps and {s["execution_id"] for s in stamps} <= set(recorded)
    assert all(s["provenance"]["version"] == recorded[s["execution_id"]] for s in stamps)
    if path.stem == "quickstart":
        # The visualization plugin's figure and chart show inline, as themselves.
        shown = [o.get("data", {}) for o in outputs if o.get("output_type") == "execute_result"]
        pngs = [d["image/png"] for d in shown if "image/png" in d]
        assert pngs and base64.b64decode(pngs[0]).startswith(b"\x89PNG\r\n\x1a\n")
        charts = [d["application/vnd.vegalite.v5+json"] for d in shown if "application/vnd.vegalite.v5+json" in d]
        assert charts and [v["count"] for v in charts[0]["data"]["values"]] == [3, 3, 2, 2]


SLEEPER = """
import time


class Sleeper:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        print("asleep", flush=True)
        time.sleep(300)
        return {"data": None, "metadata": {}, "logs": [], "warnings": [], "errors": []}
"""


async def _until_printed(system: Any, plugin: str) -> str:
    """The id of ``plugin``'s newest run once it printed its first line (it is then running)."""
    while True:
        runs = system.executions_page(plugin)["executions"]
        if runs and system.execution_events(plugin, runs[0]["execution_id"])["events"]:
            return str(runs[0]["execution_id"])
        await asyncio.sleep(0.2)


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("docker_ready", "http_server")
async def test_interrupting_the_kernel_cancels_the_run(tmp_path: Path, jp_serverapp: Any) -> None:
    system = jp_serverapp.web_app.settings["omniscope_system"]
    folder = tmp_path / "sleeper"
    folder.mkdir()
    (folder / "sleeper.py").write_text(SLEEPER)
    (folder / "manifest.json").write_text(
        '{"name": "sleeper", "version": "1.0.0", "author": "t", "description": "sleeps",'
        ' "language": "python", "entry_point": "sleeper.py", "extension_points": ["analysis"]}'
    )
    system.install(folder, enable=True)
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(env=kernel_env(jp_serverapp, tmp_path), cwd=str(tmp_path))
    kernel = manager.client()
    kernel.start_channels()
    try:
        await kernel.wait_for_ready(timeout=60)
        reply = kernel.execute("%load_ext omniscope_jupyter\n%omniplug run sleeper -")
        execution_id = await _until_printed(system, "sleeper")
        await manager.interrupt_kernel()
        while True:
            message = await kernel.get_shell_msg(timeout=60)
            if message["parent_header"].get("msg_id") == reply:
                break
        assert message["content"]["status"] == "error"
        assert message["content"]["ename"] == "KeyboardInterrupt"
        assert system.executions_page("sleeper")["executions"][0]["status"] == "cancelled"
        client = docker_client()
        try:
            left = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={execution_id}"})
        finally:
            client.close()
        assert left == []
    finally:
        kernel.stop_channels()
        await manager.shutdown_kernel(now=True)
