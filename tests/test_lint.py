"""The tree passes ruff (the rules in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .helpers import REPO


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or f"{sys.prefix}/bin/ruff"
    proc = subprocess.run(
        [ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_is_clean() -> None:
    proc = subprocess.run(
        # Settings (files, strictness) come from [tool.mypy] in pyproject.toml.
        [sys.executable, "-m", "mypy", "--no-incremental", "--config-file",
         str(REPO / "pyproject.toml")],
        capture_output=True, text=True, check=False, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_the_sdk_scaffolds_pass_the_projects_lint(tmp_path: Path) -> None:
    """What ``sdk/create`` writes for each extension point passes our own ruff rules."""
    from omniscope_jupyter.extension_points import EXTENSION_POINT_NAMES
    from omniscope_jupyter.sdk import create_project

    for point in sorted(EXTENSION_POINT_NAMES):
        create_project(tmp_path, {"name": f"p_{point}", "extension_points": [point]})
    ruff = shutil.which("ruff") or f"{sys.prefix}/bin/ruff"
    for project in sorted(tmp_path.iterdir()):
        # Linted as its author would, from inside the project (its module is first-party).
        shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
        proc = subprocess.run(
            [ruff, "check", "--no-cache", "."],
            capture_output=True, text=True, check=False, cwd=project,
        )
        assert proc.returncode == 0, (project.name, proc.stdout[-4000:])
