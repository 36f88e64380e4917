"""Shared fixtures: a Jupyter server with the extension on a temporary store, and packagers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import build_package

pytest_plugins = ["pytest_jupyter.jupyter_server"]



@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def sdk_root(tmp_path: Path) -> Path:
    path = tmp_path / "projects"
    path.mkdir()
    return path


@pytest.fixture
def omniscope_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra ``OmniscopeApp`` traits: a test's ``@pytest.mark.omniscope_config(**traits)``.

    A module may also override this fixture when every test in it needs the same traits.
    """
    marker = request.node.get_closest_marker("omniscope_config")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def jp_server_config(store_dir: Path, sdk_root: Path, omniscope_config: dict[str, Any]) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"omniscope_jupyter": True}},
        "OmniscopeApp": {
            "data_dir": str(store_dir),
            "sdk_root_dir": str(sdk_root),
            # Seeding scans the examples (R ones in Docker): only the tests about it turn it on.
            "seed_marketplace": False,
            **omniscope_config,
        },
    }


@pytest.fixture
def package(tmp_path: Path) -> Callable[..., Path]:
    """``package(version="1.1.0", ...)`` → path of a fresh valid package archive."""
    counter = iter(range(10_000))

    def make(**kwargs: Any) -> Path:
        return build_package(tmp_path / f"pkg{next(counter)}.tar.gz", **kwargs)

    return make


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """The real Docker engine and the runner images (built once, cached by tag)."""
    from omniscope_jupyter.errors import SandboxUnavailable
    from omniscope_jupyter.sandbox.container import docker_client
    from omniscope_jupyter.sandbox.images import ensure_images

    from .prereq import missing

    try:
        ensure_images(docker_client(), progress=print)
    except SandboxUnavailable as exc:
        missing(f"Docker engine or sandbox images: {exc.message}")
