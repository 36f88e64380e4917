"""The panel's own unit tests (jest, in ``labextension/test``), run as part of the pytest suite.

CI runs pytest only, so this is what keeps the TypeScript tests from rotting. Locally a missing
Node.js or jlpm skips with the reason; under ``CI=true`` it fails (``tests/prereq.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..prereq import missing

pytestmark = pytest.mark.timeout(600)

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"
# jest prints e.g. "Tests:       2 failed, 42 passed, 44 total".
SUMMARY = re.compile(r"^Tests:\s+(?P<counts>.*\d+ total)\s*$", re.MULTILINE)


def _tool(name: str) -> str:
    """``name`` from the virtualenv of this interpreter (jlpm comes with jupyter-builder), else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed (setup.sh installs it with the package's dependencies)")
    assert found is not None
    return found


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORCE_COLOR": "0", "CI": "true"}
    return subprocess.run(
        args,
        cwd=LABEXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_jest_suite_of_the_panel_passes() -> None:
    if shutil.which("node") is None:
        missing("Node.js is not installed (the panel's build and unit tests need it)")
    jlpm = _tool("jlpm")
    if not (LABEXTENSION / "node_modules" / ".bin" / "jest").exists():
        # A tree set up before jest joined the devDependencies: install from yarn.lock.
        install = _run([jlpm, "install"], timeout=480)
        assert install.returncode == 0, f"jlpm install failed:\n{install.stdout}\n{install.stderr}"

    result = _run([jlpm, "test", "--ci"], timeout=480)

    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"jlpm test exited {result.returncode}:\n{output[-8000:]}"
    summary = SUMMARY.search(output)
    assert summary, f"no jest summary in the output:\n{output[-4000:]}"
    counts = summary["counts"]
    passed = re.search(r"(\d+) passed", counts)
    assert passed and int(passed[1]) > 0, f"jest ran no test: {counts}"
    assert "failed" not in counts, counts
