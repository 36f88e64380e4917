"""Running plugins through REST on the real Docker engine: the spec's two examples and more."""

from __future__ import annotations

import asyncio
import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import docker
import pandas as pd
import pyarrow as pa
import pytest

from omniscope_jupyter.sandbox.container import OWNER_LABEL
from omniscope_jupyter.sandbox.settings import owner_for
from omniscope_jupyter.sandbox.transfer import frame_to_ipc

from .api import assert_error, call, upload
from .helpers import REPO, build_package

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300), pytest.mark.usefixtures("docker_ready")]


def _spec_pack(tmp_path: Path, name: str) -> Path:
    """Pack an example exactly as the spec says: tar -czf name.tar.gz name/."""
    archive = tmp_path / f"{name}.tar.gz"
    subprocess.run(
        ["tar", "-czf", str(archive), f"{name}/"], cwd=REPO / "plugins" / "examples", check=True
    )
    return archive


async def _install_enabled(jp_fetch: Any, archive: Path) -> str:
    status, body = await upload(jp_fetch, archive)
    assert status == 201, body
    status, _ = await call(jp_fetch, "POST", body["plugin_id"], "enable")
    assert status == 200
    return str(body["plugin_id"])


async def test_spec_examples_end_to_end(jp_fetch: Any, tmp_path: Path) -> None:
    normalizer = await _install_enabled(jp_fetch, _spec_pack(tmp_path, "data_normalizer"))
    status, answer = await call(jp_fetch, "POST", normalizer, "execute", body={
        "input_data": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        "parameters": {"method": "zscore"},
        "extension_point": "preprocessing",
    })
    assert status == 200 and answer["status"] == "succeeded", answer
    assert answer["data"]["data"] == [[-1.0, -1.0, -1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    assert {"execution_id", "metadata", "logs", "warnings", "errors", "duration_ms"} <= set(answer)

    analyzer = await _install_enabled(jp_fetch, _spec_pack(tmp_path, "correlation_analyzer"))
    status, answer = await call(jp_fetch, "POST", analyzer, "execute", body={
        "input_data": {"var1": [1, 2, 3, 4, 5], "var2": [2, 4, 6, 8, 10], "var3": [1, 3, 5, 7, 9]},
        "parameters": {"method": "pearson", "threshold": 0.7},
        "extension_point": "analysis",
    })
    assert status == 200 and answer["status"] == "succeeded", answer
    matrix = answer["data"]
    assert matrix["columns"] == ["variable", "var1", "var2", "var3"]
    assert [row[1:] for row in matrix["data"]] == [[1.0, 1.0, 1.0]] * 3
    assert len(answer["metadata"]["significant_pairs"]) == 3

    status, history = await call(jp_fetch, "GET", analyzer, "executions")
    assert status == 200 and history["total"] == 1
    assert history["executions"][0]["status"] == "succeeded"
    assert history["executions"][0]["input_shape"] == [5, 3]


async def test_execute_errors(jp_fetch: Any, tmp_path: Path) -> None:
    status, body = await upload(jp_fetch, _spec_pack(tmp_path, "data_normalizer"))
    assert status == 201, body
    spec_body = {"input_data": [[1, 2]], "parameters": {}, "extension_point": "preprocessing"}
    status, body = await call(jp_fetch, "POST", "data_normalizer", "execute", body=spec_body)
    assert_error(status, body, 409, "disabled")
    await call(jp_fetch, "POST", "data_normalizer", "enable")
    status, body = await call(jp_fetch, "POST", "data_normalizer", "execute",
                              body={**spec_body, "extension_point": "visualization"})
    assert_error(status, body, 400, "not declared")
    status, body = await call(jp_fetch, "POST", "data_normalizer", "execute",
                              body={**spec_body, "config": {"nonsense": 1}})
    assert_error(status, body, 400, "nonsense")
    status, body = await call(jp_fetch, "POST", "ghost", "execute", body=spec_body)
    assert_error(status, body, 404, "ghost")
    status, body = await call(jp_fetch, "GET", "data_normalizer", "executions", "nope")
    assert_error(status, body, 404)


SLEEPER = textwrap.dedent('''
    import time

    class Sleeper:
        def __init__(self, context):
            pass

        def execute(self, input_data):
            time.sleep(float(input_data["parameters"].get("seconds", 60)))
            return {"data": None, "metadata": {}, "logs": ["woke"], "warnings": [], "errors": []}
''')


async def test_async_poll_and_cancel_leave_no_container(jp_fetch: Any, tmp_path: Path, store_dir: Path) -> None:
    archive = build_package(
        tmp_path / "sleeper.tar.gz", files={"sleeper.py": SLEEPER}, top="sleeper",
        name="sleeper", entry_point="sleeper.py", dependencies=[], config={},
    )
    await _install_enabled(jp_fetch, archive)
    status, started = await call(jp_fetch, "POST", "sleeper", "execute",
                                 body={"async": True, "parameters": {"seconds": 0.2}})
    assert status == 202 and started["status"] == "running", started
    for _ in range(120):
        _, record = await call(jp_fetch, "GET", "sleeper", "executions", started["execution_id"])
        if record["status"] != "running":
            break
        await asyncio.sleep(0.5)
    assert record["status"] == "succeeded" and record["logs"] == ["woke"], record

    status, started = await call(jp_fetch, "POST", "sleeper", "execute",
                                 body={"async": True, "parameters": {"seconds": 120}})
    assert status == 202
    await asyncio.sleep(2)
    status, record = await call(
        jp_fetch, "POST", "sleeper", "executions", started["execution_id"], "cancel"
    )
    assert status == 200 and record["status"] == "cancelled", record
    status, body = await call(
        jp_fetch, "POST", "sleeper", "executions", started["execution_id"], "cancel"
    )
    assert_error(status, body, 409, "already finished")
    left = docker.from_env().containers.list(
        all=True, filters={"label": f"omniscope.run={started['execution_id']}"}
    )
    assert left == []


# The scan cannot see through these (documented in the README); the sandbox contains them.
BYPASS = textwrap.dedent('''
    import base64
    import importlib


    class Sneaky:
        def __init__(self, context):
            pass

        def execute(self, input_data):
            seen = {}
            ev = getattr(__builtins__, "ev" + "al", None) or __builtins__["ev" + "al"]
            seen["eval_works"] = ev("1 + 1") == 2
            system = getattr(importlib.import_module("o" + "s"), "sys" + "tem")
            seen["write_root_rc"] = system("echo owned > /owned 2>/dev/null")
            code = base64.b64decode(
                b"aW1wb3J0IG9zCk5FVD1zb3J0ZWQob3MubGlzdGRpcigiL3N5cy9jbGFzcy9uZXQiKSkK"
            )
            scope = {}
            ev(compile(code, "x", "exec"), scope)
            seen["network"] = scope["NET"]
            env = importlib.import_module("o" + "s").environ
            seen["token_visible"] = any("TOKEN" in k for k in env)
            seen["uid"] = importlib.import_module("o" + "s").getuid()
            return {"data": seen, "metadata": {}, "logs": [], "warnings": [], "errors": []}
''')


async def test_known_scan_bypasses_are_contained_by_the_sandbox(jp_fetch: Any, tmp_path: Path) -> None:
    archive = build_package(
        tmp_path / "sneaky.tar.gz", files={"sneaky.py": BYPASS}, top="sneaky",
        name="sneaky", entry_point="sneaky.py", dependencies=[], config={},
    )
    status, body = await upload(jp_fetch, archive)
    assert status == 201, body  # the scan does not catch it ...
    await call(jp_fetch, "POST", "sneaky", "enable")
    status, answer = await call(jp_fetch, "POST", "sneaky", "execute", body={})
    assert status == 200 and answer["status"] == "succeeded", answer
    seen = answer["data"]
    # ... but the sandbox holds: no writable root, no network, no token, not root.
    assert seen["eval_works"] is True
    assert seen["write_root_rc"] != 0
    assert seen["network"] == ["lo"]  # no interface but loopback
    assert seen["token_visible"] is False
    assert seen["uid"] == 65534


ARROW = "application/vnd.apache.arrow.stream"
SCALER = textwrap.dedent('''
    class Scaler:
        def __init__(self, context):
            pass

        def execute(self, input_data):
            frame = input_data["data"]
            factor = input_data["parameters"]["factor"]
            return {"data": frame * factor, "metadata": {"rows": len(frame)}}
''')


async def test_arrow_in_and_arrow_out(jp_fetch: Any, tmp_path: Path) -> None:
    """The execute route takes the input table as an Arrow IPC body (the other fields as query
    arguments) and answers the result frame as Arrow, its record in the schema metadata."""
    archive = build_package(
        tmp_path / "scaler.tar.gz", files={"scaler.py": SCALER}, top="scaler", name="scaler",
        entry_point="scaler.py", dependencies=[], config={},
        permissions=["read_data", "write_data"],
    )  # fmt: skip
    await _install_enabled(jp_fetch, archive)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    params = {"parameters": json.dumps({"factor": 10})}
    response = await jp_fetch(
        "api", "plugins", "scaler", "execute", method="POST", body=frame_to_ipc(frame),
        headers={"Content-Type": ARROW, "Accept": ARROW}, params=params,
    )  # fmt: skip
    assert response.code == 200 and response.headers["Content-Type"] == ARROW
    reader = pa.ipc.open_stream(response.body)
    record = json.loads(reader.schema.metadata[b"omniscope.execution"])
    assert record["status"] == "succeeded" and record["metadata"] == {"rows": 3}
    assert response.headers["X-Omniscope-Execution-Id"] == record["execution_id"]
    assert reader.read_all().to_pandas()["x"].tolist() == [10.0, 20.0, 30.0]
    # Asked for JSON, the same run answers JSON; a bad query argument is a 400.
    status, answer = await call(
        jp_fetch, "POST", "scaler", "execute", body=frame_to_ipc(frame), params=params,
        headers={"Content-Type": ARROW, "Accept": "application/json"},
    )  # fmt: skip
    assert status == 200 and answer["data"]["data"] == [[10.0], [20.0], [30.0]], answer
    status, answer = await call(
        jp_fetch, "POST", "scaler", "execute", body=b"not arrow", params={"colour": "red"},
        headers={"Content-Type": ARROW},
    )  # fmt: skip
    assert_error(status, answer, 400, "unknown query argument(s) colour")


@pytest.fixture
def dead_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")


async def test_docker_unavailable_is_503(dead_docker: None, jp_fetch: Any, tmp_path: Path) -> None:
    archive = build_package(
        tmp_path / "sleeper.tar.gz", files={"sleeper.py": SLEEPER}, top="sleeper",
        name="sleeper", entry_point="sleeper.py", dependencies=[], config={},
    )
    await _install_enabled(jp_fetch, archive)
    status, body = await call(jp_fetch, "POST", "sleeper", "execute", body={"parameters": {"seconds": 0}})
    assert_error(status, body, 503, "Docker")
    status, body = await call(jp_fetch, "GET", "list")
    assert status == 200  # the server keeps serving


OWNERS: list[str] = []


@pytest.fixture(autouse=True)
def _track_owner(store_dir: Path) -> None:
    OWNERS.append(owner_for(store_dir))


def test_no_labelled_container_is_left() -> None:
    """Every run of this module's servers reaped its container, whatever its outcome."""
    client = docker.from_env()
    left = [
        c.name
        for owner in OWNERS
        for c in client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})
    ]
    assert len(OWNERS) >= 5 and left == [], left
