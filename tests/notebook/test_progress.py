"""A run's live events (printed lines, progress), their REST stream, and cancelling a run.

Real runs in the sandbox: the chatty plugin prints a line, reports 50 %, sleeps, prints again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.notebook.client import LocalBackend, RunHandle, _sse_messages
from omniscope_jupyter.notebook.progress import RunState, follow
from omniscope_jupyter.sandbox.container import RUN_LABEL, docker_client

from .conftest import Server, blocking, write_plugin

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]
FRAME = pd.DataFrame({"a": [1.0, 2.0, 3.0]})


def _containers_of(execution_id: str) -> list[Any]:
    client = docker_client()
    try:
        return list(client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={execution_id}"}))
    finally:
        client.close()


def _until_started(handle: RunHandle) -> RunState:
    """Follow the run until the plugin printed its first line; then stop following."""
    seen: list[RunState] = []

    class Started(Exception):
        pass

    def show(state: RunState) -> None:
        if state.lines:
            seen.append(state)
            raise Started

    try:
        follow(handle, show, interval=0.1)
    except Started:
        pass
    assert seen, "the run ended before it printed"
    return seen[0]


def _stream(server: Server, execution_id: str) -> list[tuple[str, dict[str, Any]]]:
    url = f"{server.url}api/plugins/chatty/executions/{execution_id}/events"
    headers = {"Authorization": f"token {server.token}"}
    with requests.get(url, headers=headers, stream=True, timeout=60) as response:
        assert response.headers["Content-Type"] == "text/event-stream", response.text
        return [(n, json.loads(d)) for n, d in _sse_messages(response.iter_lines(decode_unicode=True))]


async def test_a_run_streams_its_lines_and_progress(server: Server, chatty: Path) -> None:
    server.system.install(chatty, enable=True)
    backend = server.backend()
    handle = await blocking(backend.start, "chatty", FRAME, parameters={"sleep": 2})
    state = await blocking(_until_started, handle)
    assert list(state.lines) == ["starting on 3 rows"]
    # While it runs, its record shows the latest lines and progress.
    live = await blocking(backend.execution, "chatty", handle.execution_id)
    assert live["status"] == "running" and live["log_tail"] == ["starting on 3 rows"]
    assert live["progress"] == {"fraction": 0.5, "message": "halfway"}
    # The REST stream: every event, then the end with the final status.
    messages = await blocking(_stream, server, handle.execution_id)
    assert [n for n, _ in messages][-4:] == ["log", "progress", "log", "end"]
    assert messages[-1][1] == {"status": "succeeded"}
    assert [m["text"] for n, m in messages if n == "log"] == ["starting on 3 rows", "done"]
    result = await blocking(handle.result)
    assert result.data["a"].tolist() == [2.0, 4.0, 6.0]
    # Finished, the record keeps the events; the stream answers them and ends at once.
    again = await blocking(_stream, server, handle.execution_id)
    assert [n for n, _ in again] == ["log", "progress", "log", "end"]
    resumed = server.system.execution_events("chatty", handle.execution_id, after=2)["events"]
    assert [e["text"] for e in resumed] == ["done"]


async def test_cancel_through_the_server_removes_the_container(server: Server, chatty: Path) -> None:
    server.system.install(chatty, enable=True)
    handle = await blocking(server.backend().start, "chatty", FRAME, parameters={"sleep": 120})
    await blocking(_until_started, handle)
    record = await blocking(handle.cancel)
    assert record["status"] == "cancelled"
    assert _containers_of(handle.execution_id) == []
    assert (await blocking(handle.result)).status == "cancelled"


R_PLUGIN = """
Counter <- setRefClass("Counter", fields = list(plugin_id = "character"), methods = list(
  execute = function(input_data) {
    cat("counting rows\\n")
    omniscope_progress(0.25, "a quarter")
    list(data = data.frame(rows = nrow(input_data$data)), metadata = list(counted = TRUE), logs = list(),
         warnings = list(), errors = list())
  }
))
"""


def test_an_r_plugin_reports_progress_and_lines_too(core: PluginSystem, tmp_path: Path) -> None:
    manifest = {
        "name": "counter", "version": "1.0.0", "author": "t", "description": "counts rows",
        "language": "r", "entry_point": "counter.R", "extension_points": ["analysis"],
        "permissions": ["read_data", "write_data"],
    }  # fmt: skip
    backend = LocalBackend(core)
    backend.install(write_plugin(tmp_path / "counter", manifest, R_PLUGIN), enable=True)
    result = follow(backend.start("counter", FRAME), lambda _s: None)
    assert result.status == "succeeded", result.answer["errors"]
    assert result.data["rows"].tolist() == [3]
    events = core.execution_events("counter", result.execution_id)["events"]
    assert [(e["type"], e.get("text", e.get("message"))) for e in events] == [
        ("log", "counting rows"), ("progress", "a quarter")
    ]


def test_an_interrupt_cancels_the_run_and_propagates(core: PluginSystem, chatty: Path) -> None:
    """The kernel's stop button raises KeyboardInterrupt in the cell: the run must stop with it."""
    backend = LocalBackend(core)
    backend.install(chatty, enable=True)
    handle = backend.start("chatty", FRAME, parameters={"sleep": 120})
    states: list[str] = []

    def show(state: RunState) -> None:
        states.append(state.status)
        if state.lines and state.status == "running":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        follow(handle, show, interval=0.1)
    assert states[-2:] == ["cancelling", "cancelled"]
    assert _containers_of(handle.execution_id) == []
    record = backend.execution("chatty", handle.execution_id)
    assert record["status"] == "cancelled" and "starting on 3 rows" in record["stdout"]
