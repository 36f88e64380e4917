"""Fixtures of the scan tests: corpus copies, scanners, and the R extractor's runner.

R is parsed in the sandbox's runner image when Docker has it (the production path, and CI's);
otherwise, in development, by the host's ``Rscript``. With neither, R tests go through
``missing()`` (skip locally, fail under CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.errors import SandboxUnavailable
from omniscope_jupyter.scan.r_runners import DockerRRunner, HostRRunner
from tests.prereq import missing

from .helpers import CORPUS


def docker_r_image() -> tuple[Any, str] | None:
    """``(client, tag)`` when Docker is up and the sandbox runner image is already built."""
    try:
        from omniscope_jupyter.sandbox.container import docker_client
        from omniscope_jupyter.sandbox.images import image_status

        client = docker_client(timeout=10)
        status = image_status(client)
    except SandboxUnavailable:
        return None
    image = status["images"]["r"]
    return (client, image["tag"]) if image["present"] else None


@pytest.fixture(scope="session")
def docker_r_runner() -> DockerRRunner:
    """The production runner; needs Docker and the sandbox image."""
    found = docker_r_image()
    if found is None:
        missing("Docker with the sandbox runner image (omniplug sandbox build) is not available")
    client, tag = found
    return DockerRRunner(client=client, image=tag)


@pytest.fixture(scope="session")
def r_runner() -> Callable[..., str]:
    """The sandbox container if available, else the host's Rscript (development only)."""
    found = docker_r_image()
    if found is not None:
        return DockerRRunner(client=found[0], image=found[1])
    try:
        return HostRRunner()
    except SandboxUnavailable:
        missing("neither the sandbox R image nor Rscript is available to parse R code")
        raise


@pytest.fixture(scope="session")
def image_packages() -> dict[str, str]:
    """``{name: version}`` of the Python runner image, as the server's scan is given them."""
    found = docker_r_image()
    if found is None:
        missing("Docker with the sandbox runner image (omniplug sandbox build) is not available")
        raise AssertionError("unreachable")
    from omniscope_jupyter.sandbox.plugin_image import probe_runner_image

    client, tag = found
    return dict(probe_runner_image(client, tag)["python_packages"])


@pytest.fixture
def copy_case(tmp_path: Path) -> Callable[[str], Path]:
    """Copy ``corpus/<case>`` to a temporary folder (tests then add modes, links, binaries)."""

    def copy(case: str) -> Path:
        dest = tmp_path / case
        shutil.copytree(CORPUS / case, dest)
        return dest

    return copy
