"""Loading the example plugins the way the runner does, without Docker or a server.

Python plugins are imported from their folder by file path (as the sandbox runner does) with
bytecode writing off, so no ``__pycache__`` lands in a folder users tar up. R plugins run through
``run_r_plugin.R`` under ``Rscript``, which mirrors the runner's R half.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "examples"
R_DRIVER = Path(__file__).with_name("run_r_plugin.R")


def load_plugin_class(name: str) -> type:
    """The plugin class of ``plugins/examples/<name>``, imported from its entry point."""
    folder = EXAMPLES / name
    manifest = json.loads((folder / "manifest.json").read_text())
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", folder / manifest["entry_point"]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = before
    classes = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and obj.__module__ == module.__name__ and hasattr(obj, "execute")
    ]  # fmt: skip
    assert len(classes) == 1, f"{name} must define exactly one plugin class, found {classes}"
    return classes[0]


def r_available() -> bool:
    """Whether ``Rscript`` with jsonlite is on this host."""
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "library(jsonlite)"], capture_output=True, timeout=60, check=False
    )
    return probe.returncode == 0


def run_r_plugin(name: str, request: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run ``plugins/examples/<name>``'s R class on ``request``; stdout is the result JSON."""
    folder = EXAMPLES / name
    manifest = json.loads((folder / "manifest.json").read_text())
    return subprocess.run(
        ["Rscript", str(R_DRIVER), str(folder / manifest["entry_point"])],
        input=json.dumps({"plugin_id": name, **request}),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
