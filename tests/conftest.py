"""Shared fixtures: a Jupyter server with the extension on a temporary store, and packagers."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

HERE = Path(__file__).parent
REPO = HERE.parent


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def sdk_root(tmp_path: Path) -> Path:
    path = tmp_path / "projects"
    path.mkdir()
    return path


@pytest.fixture
def omniscope_config() -> dict[str, Any]:
    """Extra ``OmniscopeApp`` traits for a test module (override to swap stages in)."""
    return {}


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


def manifest(**overrides: Any) -> dict[str, Any]:
    """A valid Python plugin manifest with the spec's fields."""
    data = {
        "name": "my_plugin",
        "version": "1.0.0",
        "author": "Your Name",
        "author_email": "you@example.com",
        "description": "Plugin description",
        "language": "python",
        "entry_point": "my_plugin.py",
        "category": "analysis",
        "tags": ["custom", "analysis"],
        "extension_points": ["analysis"],
        "dependencies": ["numpy", "pandas"],
        "permissions": ["read_data", "write_data"],
        "config": {
            "param1": {"type": "string", "default": "value", "description": "Parameter"}
        },
        "min_platform_version": "1.0.0",
    }
    data.update(overrides)
    return data


PLUGIN_SOURCE = '''
class MyPlugin:
    def __init__(self, context):
        self.plugin_id = context.get("plugin_id")

    def execute(self, input_data):
        return {"data": input_data.get("data"), "metadata": {}, "logs": [], "warnings": [],
                "errors": []}
'''


def build_package(
    path: Path,
    files: dict[str, str | bytes] | None = None,
    top: str | None = "my_plugin",
    **manifest_overrides: Any,
) -> Path:
    """Write a ``.tar.gz`` plugin package (as ``tar -czf`` of a folder when ``top`` is set)."""
    m = manifest(**manifest_overrides)
    contents: dict[str, str | bytes] = {
        "manifest.json": json.dumps(m),
        m.get("entry_point") or "my_plugin.py": PLUGIN_SOURCE,
    }
    contents.update(files or {})
    with tarfile.open(path, "w:gz") as tar:
        if top:
            info = tarfile.TarInfo(top)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, text in contents.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def package(tmp_path: Path) -> Callable[..., Path]:
    """``package(version="1.1.0", ...)`` → path of a fresh valid package archive."""
    counter = iter(range(10_000))

    def make(**kwargs: Any) -> Path:
        return build_package(tmp_path / f"pkg{next(counter)}.tar.gz", **kwargs)

    return make


def multipart(path: Path, field: str = "file", **fields: str) -> tuple[bytes, str]:
    """Encode a file upload like ``curl -F file=@path``; returns (body, content type)."""
    boundary = "----omniscope-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{path.name}"\r\nContent-Type: application/gzip\r\n\r\n'.encode()
        + path.read_bytes()
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


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
