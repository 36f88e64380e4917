"""The tree passes ruff (the rules in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys

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
