"""Every container the product creates carries the reaper's labels, helpers included (issue 13,
item 4): the runner image's probe (what the dependency stage asks of it) ran unlabelled, so one
left by a killed process survived every restart; and this process's own sweep must not pull a
live helper (a probe, a dependency resolution) from under it.

The probe runs a tag of the runner image made for the test alone, so Docker's events and lists
name only its containers, whatever else runs on the engine meanwhile.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import docker
import pytest

from omniscope_jupyter.sandbox.container import (
    OWNER_LABEL,
    PROCESS_LABEL,
    PURPOSE_LABEL,
    RUN_LABEL,
)
from omniscope_jupyter.sandbox.plugin_image import probe_runner_image
from omniscope_jupyter.sandbox.processes import process_identity
from omniscope_jupyter.sandbox.runner import SandboxRunner
from omniscope_jupyter.sandbox.settings import SandboxSettings

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

PROBE_IN_ANOTHER_PROCESS = """
import json, sys
from pathlib import Path
from omniscope_jupyter.sandbox.container import docker_client
from omniscope_jupyter.sandbox.plugin_image import probe_runner_image
from omniscope_jupyter.sandbox.settings import SandboxSettings

spec = json.loads(sys.argv[1])
settings = SandboxSettings(**{**spec["settings"], "work_dir": Path(spec["settings"]["work_dir"]),
                              "cache_dir": Path(spec["settings"]["cache_dir"])})
probe_runner_image(docker_client(), spec["tag"], settings)
"""


@pytest.fixture
def probe_tag(engine_client: docker.DockerClient, images: dict[str, str]) -> Iterator[str]:
    """The runner image under a tag of this test's own (untagged afterwards)."""
    repository, tag = "omniscope-probe-test", uuid.uuid4().hex[:12]
    engine_client.images.get(images["python"]).tag(repository, tag)
    yield f"{repository}:{tag}"
    engine_client.images.remove(f"{repository}:{tag}")  # the tag only: the image has others


@pytest.fixture
def settings(sandbox_settings: SandboxSettings, tmp_path: Path) -> SandboxSettings:
    """A store of this test's own (its owner label)."""
    return replace(sandbox_settings, owner=f"probe-{uuid.uuid4().hex[:8]}", work_dir=tmp_path / "runs")


def of_image(client: docker.DockerClient, tag: str) -> list[Any]:
    """Containers created from ``tag`` by that name (``ancestor`` matches the image's id, so
    every runner container of the engine; the listing's ``Image`` is the name it was made by)."""
    found = client.containers.list(all=True, sparse=True, filters={"ancestor": tag})
    return [c for c in found if c.attrs.get("Image") == tag]


def test_a_probe_s_container_carries_the_reaper_s_labels_and_goes(
    engine_client: docker.DockerClient, probe_tag: str, settings: SandboxSettings
) -> None:
    since = time.time() - 1
    facts = probe_runner_image(engine_client, probe_tag, settings)
    assert {"pandas", "pyarrow"} <= set(facts["python_packages"])
    created = list(engine_client.events(
        since=since, until=time.time() + 1, decode=True,
        filters={"type": "container", "event": "create", "image": probe_tag},
    ))  # fmt: skip
    assert len(created) == 1, created
    labels = created[0]["Actor"]["Attributes"]
    assert labels[OWNER_LABEL] == settings.owner
    assert labels[PROCESS_LABEL] == process_identity()
    assert labels[RUN_LABEL].startswith("probe-")
    assert labels[PURPOSE_LABEL] == "probe-runner-image"
    assert of_image(engine_client, probe_tag) == []  # it removed itself


def test_this_process_s_sweep_leaves_its_live_probe_alone(
    engine_client: docker.DockerClient, probe_tag: str, settings: SandboxSettings
) -> None:
    runner = SandboxRunner(settings)
    answer: list[Any] = []
    probe = threading.Thread(
        target=lambda: answer.append(_catch(probe_runner_image, engine_client, probe_tag, settings))
    )
    try:
        probe.start()
        deadline = time.monotonic() + 60
        while not of_image(engine_client, probe_tag):
            assert time.monotonic() < deadline and probe.is_alive(), answer
            time.sleep(0.02)
        runner.reap()  # what the server's periodic sweep does
        probe.join(120)
    finally:
        runner.close()
    assert isinstance(answer[0], dict), answer  # the probe was not removed from under it
    assert of_image(engine_client, probe_tag) == []


def test_a_killed_process_s_probe_is_reaped_by_the_next_process_on_its_store(
    engine_client: docker.DockerClient, probe_tag: str, settings: SandboxSettings
) -> None:
    spec = {
        "tag": probe_tag,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
    }
    other = subprocess.Popen([sys.executable, "-c", PROBE_IN_ANOTHER_PROCESS, json.dumps(spec)])
    try:
        deadline = time.monotonic() + 60
        while not of_image(engine_client, probe_tag):
            assert time.monotonic() < deadline and other.poll() is None, "the probe never started"
            time.sleep(0.01)
        other.send_signal(signal.SIGKILL)  # before its clean-up: the container stays behind
        other.wait()
        (left,) = of_image(engine_client, probe_tag)
        assert left.attrs["Labels"][OWNER_LABEL] == settings.owner
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    runner = SandboxRunner(settings)
    try:
        assert runner.reap() >= 1  # what every door does when it opens the store
    finally:
        runner.close()
    assert of_image(engine_client, probe_tag) == []


def _catch(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 (the test reports it)
        return exc
