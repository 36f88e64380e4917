"""The notebook's one client: the server's REST API and the in-kernel system answer alike.

The server is a real Jupyter server with the extension, reached over HTTP; which backend a
kernel gets is decided from the server's environment, its runtime file, or nothing (local).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from omniscope_jupyter.config import SERVER_URL_ENV, TOKEN_ENV
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.errors import InvalidRequest, NotFound
from omniscope_jupyter.notebook import client
from omniscope_jupyter.notebook.client import (
    LocalBackend,
    PluginBackend,
    ServerBackend,
    ServerUnreachable,
    connect,
    find_server,
)
from omniscope_jupyter.notebook.progress import follow
from omniscope_jupyter.sandbox.provenance import frame_digest

from .conftest import CHATTY_MANIFEST, Server, blocking, write_plugin

FRAME = pd.DataFrame({"a": [1.0, 4.0, 7.0], "label": ["x", "y", "z"]})


def _install_and_run(backend: PluginBackend, folder: Path) -> tuple[Any, dict[str, Any]]:
    backend.install(folder, enable=True)
    result = follow(backend.start("chatty", FRAME[["a"]], config={"factor": 3}), lambda _s: None)
    return result, backend.execution("chatty", result.execution_id)


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
async def test_both_backends_give_the_same_result_and_stamp(
    server: Server, core: PluginSystem, chatty: Path
) -> None:
    remote, record = await blocking(_install_and_run, server.backend(), chatty)
    local, local_record = await blocking(_install_and_run, LocalBackend(core), chatty)
    for result in (remote, local):
        assert result.status == "succeeded"
        assert result.data["a"].tolist() == [3.0, 12.0, 21.0]
    # The same stamp, on either side of the API (the stores differ, the inputs do not; each
    # store packed the folder itself, and a packed archive's bytes carry its packing time).
    same = ("plugin", "version", "lock_digest", "image_digest", "config", "input")
    assert {k: remote.provenance[k] for k in same} == {k: local.provenance[k] for k in same}
    assert remote.provenance["input"]["digest"] == frame_digest(FRAME[["a"]])
    assert remote.provenance["config"] == {"factor": 3}
    assert remote.provenance["image_digest"].startswith("sha256:")
    # The record (the answer of GET execution) carries it, and the run's printed lines.
    assert record["provenance"] == remote.provenance and local_record["provenance"] == local.provenance
    assert "starting on 3 rows" in record["stdout"]
    # The server kept the server run: its history is the server's.
    assert server.system.executions_page("chatty")["total"] == 1


ECHO = """
class Echo:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        return {"data": input_data["data"], "metadata": {}, "logs": [], "warnings": [], "errors": []}
"""


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
async def test_frames_travel_as_arrow_types_and_index_intact(server: Server, tmp_path: Path) -> None:
    """Through the server a frame goes and comes back as Arrow IPC, not JSON text."""
    manifest = {**CHATTY_MANIFEST, "name": "echo", "entry_point": "echo.py", "config": {}}
    server.system.install(write_plugin(tmp_path / "echo", manifest, ECHO), enable=True)
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-02 03:04:05", "2024-06-07 08:09:10"]),
            "kind": pd.Categorical(["a", "b"]),
            "n": pd.array([1, None], dtype="Int64"),
        },
        index=pd.Index([10, 20], name="row"),
    )
    backend = server.backend()
    result = await blocking(lambda: follow(backend.start("echo", frame), lambda _s: None))
    pd.testing.assert_frame_equal(result.data, frame)
    assert result.provenance["input"]["digest"] == frame_digest(frame)


async def test_server_errors_arrive_as_plugin_errors(server: Server, tmp_path: Path) -> None:
    backend = server.backend()
    with pytest.raises(NotFound, match="No plugin named 'ghost'"):
        await blocking(backend.details, "ghost")
    with pytest.raises(InvalidRequest, match="does not exist"):
        await blocking(backend.install, tmp_path / "nothing.tar.gz")
    assert await blocking(backend.list_plugins) == []
    with pytest.raises(ServerUnreachable, match="does not answer"):
        ServerBackend("http://127.0.0.1:9/").list_plugins()


async def test_the_extension_tells_its_kernels_where_it_is(jp_serverapp: Any, server: Server) -> None:
    assert os.environ[SERVER_URL_ENV] == jp_serverapp.connection_url
    assert os.environ[SERVER_URL_ENV].endswith("/a%40b/")  # the base_url is part of it
    assert os.environ[TOKEN_ENV] == server.token
    found = find_server({SERVER_URL_ENV: "http://h:1/x/", TOKEN_ENV: "t"})
    assert found == ("http://h:1/x/", "t")


async def test_a_kernel_finds_its_own_server_from_the_runtime_file(
    jp_serverapp: Any, server: Server, jp_runtime_dir: Path
) -> None:
    kernels = jp_serverapp.kernel_manager
    kernel = await kernels.start_kernel()
    try:
        runtime = Path(jp_runtime_dir)
        found = await blocking(find_server, {}, kernel=kernel, runtime_dir=runtime)
        assert found == (jp_serverapp.connection_url, server.token)
        # Another server's kernel (or papermill's, with no server) is not this server's.
        stranger = "0f0f0f0f-0000-4000-8000-000000000000"
        assert await blocking(find_server, {}, kernel=stranger, runtime_dir=runtime) is None
    finally:
        await kernels.shutdown_kernel(kernel, now=True)


def test_without_a_server_the_kernel_runs_plugins_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SERVER_URL_ENV, raising=False)
    monkeypatch.setenv("OMNISCOPE_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.setattr(client, "kernel_id", lambda: None)
    monkeypatch.setattr(client, "_default", None)
    backend = client.default_backend()
    assert isinstance(backend, LocalBackend) and client.default_backend() is backend
    out = capsys.readouterr().out
    assert out.count("omniplug: no Jupyter server found") == 1 and str(tmp_path) in out
    assert isinstance(connect("http://example.invalid:8888/", "t"), ServerBackend)
    with pytest.raises(ServerUnreachable, match="server_url"):
        connect(mode="server")
