"""Test helpers (not fixtures): plugin packages, multipart bodies, the repository's path.

Fixtures live in ``conftest.py``; what tests import lives here, so no test imports a conftest.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
REPO = HERE.parent


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
