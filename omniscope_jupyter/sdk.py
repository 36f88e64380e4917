"""The plugin SDK: scaffolds a new plugin project that installs unchanged once packed."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

from .errors import Conflict, InvalidRequest, PluginError
from .manifest import validate_manifest

_TEMPLATES = files("omniscope_jupyter") / "sdk_templates"
#: Fields of the spec's create request, with defaults for the optional ones.
CREATE_DEFAULTS: dict[str, Any] = {
    "language": "python",
    "author": "Your Name",
    "author_email": "",
    "description": "My custom plugin",
    "category": "analysis",
    "tags": [],
    "extension_points": ["analysis"],
    "dependencies": [],
    "permissions": ["read_data", "write_data"],
    "version": "0.1.0",
}


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) or "Plugin"


def _render(template: str, **values: Any) -> str:
    return (_TEMPLATES / template).read_text(encoding="utf-8").format(**values)


def create_project(root_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Create ``root_dir/<name>/`` with the main file, manifest, README, .gitignore and a test.

    Raises ``InvalidRequest`` for a bad request (every problem listed) and ``Conflict`` when the
    folder exists. The manifest is validated before anything is written.
    """
    if not isinstance(request, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    unknown = set(request) - set(CREATE_DEFAULTS) - {"name", "config"}
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    spec = {**CREATE_DEFAULTS, **request}
    language = str(spec.get("language", "")).lower()
    suffix = ".R" if language == "r" else ".py"
    name = spec.get("name")
    manifest = {
        "name": name,
        "version": spec["version"],
        "author": spec["author"],
        "author_email": spec["author_email"],
        "description": spec["description"],
        "language": language,
        "entry_point": f"{name}{suffix}",
        "category": spec["category"],
        "tags": spec["tags"],
        "extension_points": spec["extension_points"],
        "dependencies": spec["dependencies"],
        "permissions": spec["permissions"],
        "config": spec.get("config", {}),
        "min_platform_version": "1.0.0",
    }
    try:
        validate_manifest(manifest)
    except PluginError as e:
        raise InvalidRequest(e.message, **e.details) from e

    assert isinstance(name, str)  # validate_manifest refused anything else
    target = root_dir / name
    if target.exists():
        raise Conflict(f"A folder named {name!r} already exists in {root_dir}.")
    values = {
        "name": name,
        "class_name": _class_name(name),
        "description": manifest["description"],
        "language": language,
        "author": manifest["author"],
        "entry_point": manifest["entry_point"],
        "extension_points": ", ".join(manifest["extension_points"]),
        "test_command": f"Rscript test_{name}.R" if language == "r" else "python -m pytest",
    }
    kind = "r" if language == "r" else "python"
    contents = {
        manifest["entry_point"]: _render(f"{kind}_plugin{suffix}.tmpl", **values),
        f"test_{name}{suffix}": _render(f"{kind}_test{suffix}.tmpl", **values),
        "manifest.json": json.dumps(manifest, indent=2) + "\n",
        "README.md": _render("README.md.tmpl", **values),
        ".gitignore": _render("gitignore.tmpl"),
    }
    # Write into a sibling temp folder, then rename: a failure leaves no half project.
    root_dir.mkdir(parents=True, exist_ok=True)
    tmp = root_dir / f".{name}.creating"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for filename, text in contents.items():
            (tmp / filename).write_text(text, encoding="utf-8")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "name": name,
        "path": str(target),
        "files": sorted(contents),
        "manifest": manifest,
    }
