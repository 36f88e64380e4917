"""Running a plugin while it is being uninstalled: a 409 (or a run's own answer), never a 500,
and nothing of the plugin is left behind (issue 13, item 10).

The uninstall deletes the plugin's records (its runs' with them) and files; a run may be anywhere
then: being recorded, queued, binding a container, running. Whatever the moment, the run stops,
its caller hears why, and no container, ``/data`` volume, run folder or version folder survives.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from omniscope_jupyter.errors import Conflict
from omniscope_jupyter.sandbox.container import (
    OWNER_LABEL,
    PLUGIN_LABEL,
    RUN_LABEL,
    volume_name,
)
from omniscope_jupyter.sandbox.pool import OWNERS
from omniscope_jupyter.sandbox.settings import owner_for

from ..api import call, upload
from ..helpers import build_package

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600), pytest.mark.usefixtures("docker_ready")]

SLEEPY = """
import time

class MyPlugin:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        with open("/data/mark", "w") as handle:
            handle.write("x")
        time.sleep(float(input_data["parameters"].get("seconds", 0)))
        return {"data": None, "metadata": {"slept": True}}
"""
PERMISSIONS = ["read_data", "write_data", "file_system"]


async def install(jp_fetch: Any, tmp_path: Path, tag: str) -> None:
    archive = build_package(
        tmp_path / f"sleepy-{tag}.tar.gz", files={"my_plugin.py": SLEEPY}, permissions=PERMISSIONS
    )
    status, body = await upload(jp_fetch, archive)
    assert status == 201, body
    status, body = await call(jp_fetch, "POST", "my_plugin", "enable")
    assert status == 200, body


def run_body(seconds: float, **extra: Any) -> dict[str, Any]:
    return {"extension_point": "analysis", "parameters": {"seconds": seconds}, **extra}


def leftovers(store_dir: Path, run_dir: Path) -> dict[str, Any]:
    """What is left of ``my_plugin`` once it is uninstalled (all empty when nothing is): its
    containers, volume, version folder, staging, and run folders no container of ours uses."""
    client = docker.from_env()
    try:
        owner = owner_for(store_dir)
        ours = client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})
        volumes = [v.name for v in client.volumes.list() if v.name == volume_name(owner, "my_plugin")]
    finally:
        client.close()
    live = {c.labels.get(RUN_LABEL) for c in ours}
    folders = [p.name for p in run_dir.iterdir()] if run_dir.exists() else []
    return {
        "containers": [c.name for c in ours if c.labels.get(PLUGIN_LABEL) == "my_plugin"],
        "volumes": volumes,
        "versions": sorted(p.name for p in (store_dir / "versions").glob("my_plugin*")),
        "staging": sorted(p.name for p in (store_dir / "staging").iterdir()),
        "run folders": sorted(
            f for f in folders if f not in live and f != OWNERS and not f.startswith("spool-")
        ),
    }


async def nothing_left(system: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    empty: dict[str, list[str]] = {
        "containers": [], "volumes": [], "versions": [], "staging": [], "run folders": []
    }  # fmt: skip
    while (left := await asyncio.to_thread(leftovers, system.store_dir, system.run_dir)) != empty:
        assert time.monotonic() < deadline, left
        await asyncio.sleep(0.5)


@pytest.fixture
def system(jp_serverapp: Any) -> Any:
    """The test server's ``PluginSystem``."""
    return jp_serverapp.web_app.settings["omniscope_system"]


async def test_uninstalling_stops_a_running_run_and_leaves_nothing(
    jp_fetch: Any, tmp_path: Path, system: Any
) -> None:
    await install(jp_fetch, tmp_path, "running")
    status, started = await call(
        jp_fetch, "POST", "my_plugin", "execute", body=run_body(120, **{"async": True})
    )
    assert status == 202, started
    execution_id = started["execution_id"]
    for _ in range(240):  # until the plugin runs in its container
        _, record = await call(jp_fetch, "GET", "my_plugin", "executions", execution_id)
        if record["status"] == "running" and record["provenance"].get("image_digest"):
            break
        await asyncio.sleep(0.25)
    assert record["status"] == "running", record
    assert (await asyncio.to_thread(leftovers, system.store_dir, system.run_dir))["containers"]
    clock = time.monotonic()
    status, body = await call(jp_fetch, "DELETE", "my_plugin")
    assert status == 200 and body["uninstalled"] is True, body
    assert time.monotonic() - clock < 60  # the run was stopped, not waited for (120 s)
    status, body = await call(jp_fetch, "GET", "my_plugin", "executions", execution_id)
    assert status == 404, body
    await nothing_left(system)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 8.0])
async def test_runs_racing_an_uninstall_answer_409_or_their_result_never_500(
    jp_fetch: Any, tmp_path: Path, system: Any, delay: float
) -> None:
    """Six runs (four run, two wait in the queue), the uninstall ``delay`` seconds after."""
    await install(jp_fetch, tmp_path, f"race-{delay}")

    async def uninstall() -> tuple[int, Any]:
        await asyncio.sleep(delay)
        return await call(jp_fetch, "DELETE", "my_plugin")

    runs = [call(jp_fetch, "POST", "my_plugin", "execute", body=run_body(1)) for _ in range(6)]
    *answers, (status, body) = await asyncio.gather(*runs, uninstall())
    assert status == 200 and body["uninstalled"] is True, body
    for status, answer in answers:
        assert status in (200, 404, 409), (status, answer)
        assert isinstance(answer.get("message" if status != 200 else "status"), str), answer
        if status == 409:
            assert "uninstalled" in answer["message"], answer
    await nothing_left(system)
    # A plugin of the same name installed afterwards starts afresh: empty /data, its own code.
    await install(jp_fetch, tmp_path, f"again-{delay}")
    status, answer = await call(jp_fetch, "POST", "my_plugin", "execute", body=run_body(0))
    assert status == 200 and answer["status"] == "succeeded", answer
    status, _ = await call(jp_fetch, "DELETE", "my_plugin")
    assert status == 200
    await nothing_left(system)


async def test_a_run_resolved_before_the_uninstall_and_recorded_after_is_a_409(
    jp_fetch: Any, tmp_path: Path, system: Any
) -> None:
    """The narrowest window: the plugin was looked up, then uninstalled, then the run is
    recorded (its record's foreign key refused it: an IntegrityError, a 500)."""
    await install(jp_fetch, tmp_path, "stale")
    target = await asyncio.to_thread(system._manager.installed, "my_plugin")
    status, _ = await call(jp_fetch, "DELETE", "my_plugin")
    assert status == 200
    for body in (run_body(0), run_body(0, **{"async": True})):
        with pytest.raises(Conflict, match="uninstalled while this run was being started; nothing"):
            await system._executions.execute(target, body)
    await nothing_left(system)
