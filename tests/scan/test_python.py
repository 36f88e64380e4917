"""Python rules: Bandit (nosec ignored, HIGH for shell/eval/exec), syntax errors, permissions."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniscope_jupyter.scan.report import ScanReport
from omniscope_jupyter.scan.scanner import PackageScanner

from .helpers import CORPUS, located, scan_dir, severity_of


@pytest.fixture(scope="module")
def py_bad() -> ScanReport:
    return scan_dir(CORPUS / "py_bad")


# (rule, file, line, severity): every Python rule, each at its line in corpus/py_bad.
EXPECTED = [
    ("B605", "py_bad.py", 7, "HIGH"),  # os.system(...)  # nosec
    ("B602", "py_bad.py", 8, "HIGH"),  # subprocess.call(cmd, shell=True)  # nosec B602
    ("B307", "py_bad.py", 9, "HIGH"),  # eval
    ("B102", "py_bad.py", 10, "HIGH"),  # exec
    ("B605", "py_bad.py", 11, "HIGH"),  # os.popen
    ("PY000", "broken.py", 5, "HIGH"),
    ("PY101", "network.py", 2, "HIGH"),  # socket
    ("PY101", "network.py", 3, "HIGH"),  # urllib.request
    ("PY101", "network.py", 4, "HIGH"),  # from http import client
    ("PY101", "network.py", 5, "HIGH"),  # requests
    ("PY101", "network.py", 6, "HIGH"),  # httpx as h
    ("PY102", "writes.py", 9, "HIGH"),  # open(path, "w")
    ("PY102", "writes.py", 11, "HIGH"),  # open(path, mode="a")
    ("PY102", "writes.py", 12, "HIGH"),  # os.rename
    ("PY102", "writes.py", 13, "HIGH"),  # shutil.rmtree
    ("PY102", "writes.py", 14, "HIGH"),  # Path.write_text
    ("PY102", "writes.py", 15, "HIGH"),  # Path.open("wb")
    ("PY102", "writes.py", 16, "HIGH"),  # from os import remove as rm
    ("PY102", "writes.py", 17, "HIGH"),  # df.to_csv(path)
    ("PY102", "writes.py", 18, "MEDIUM"),  # open(path, mode) with a computed mode
    ("PY103", "writes.py", 24, "HIGH"),  # ctypes
    ("PY103", "writes.py", 25, "HIGH"),  # cffi
]


@pytest.mark.parametrize(("rule", "file", "line", "severity"), EXPECTED)
def test_rule_found_at_its_line(
    py_bad: ScanReport, rule: str, file: str, line: int, severity: str
) -> None:
    assert (rule, file, line) in located(py_bad)
    assert severity_of(py_bad, rule, file, line) == severity


def test_reads_and_safe_calls_are_not_file_writes(py_bad: ScanReport) -> None:
    # open(path), df.to_json() and str.replace("w", ...) on lines 19-21 write nothing.
    assert not {(r, f, n) for r, f, n in located(py_bad) if f == "writes.py" and 19 <= n <= 21}


def test_permission_findings_name_the_missing_permission(py_bad: ScanReport) -> None:
    for f in py_bad.findings:
        if f.rule_id == "PY101":
            assert "missing permission 'network'" in f.message
        if f.rule_id == "PY102":
            assert "missing permission 'file_system'" in f.message


def test_every_finding_is_actionable(py_bad: ScanReport) -> None:
    assert py_bad.blocking
    for f in py_bad.findings:
        assert f.severity in {"LOW", "MEDIUM", "HIGH"} and f.confidence in {"LOW", "MEDIUM", "HIGH"}
        assert f.message and f.fix_hint and f.file


def test_declared_permissions_allow_network_and_writes(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("import requests\nopen('x', 'w')\nimport ctypes\n")
    report = PackageScanner().scan(
        tmp_path,
        {"language": "python", "entry_point": "p.py", "permissions": ["network", "file_system"]},
    )
    # Declared permissions silence PY101/PY102; native code stays refused.
    assert located(report) == {("PY103", "p.py", 3)}


def test_os_system_alone_blocks(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text('import os\n\n\ndef run():\n    os.system("ls")\n')
    report = PackageScanner().scan(tmp_path, {"language": "python", "entry_point": "p.py"})
    assert report.blocking
    [b605] = [f for f in report.findings if f.rule_id == "B605"]
    assert (b605.file, b605.line, b605.severity) == ("p.py", 5, "HIGH")


def test_plugin_source_warnings_do_not_leak(tmp_path: Path) -> None:
    # An invalid escape is a SyntaxWarning when compiled; pytest turns warnings into errors, and
    # the server must not warn (or fail) because of a plugin's style.
    (tmp_path / "p.py").write_text('import re\nPATTERN = re.compile("\\d+")\n')
    report = PackageScanner().scan(tmp_path, {"language": "python", "entry_point": "p.py"})
    assert not report.blocking


def test_known_bypasses_are_not_caught() -> None:
    """Documented limits: getattr(builtins, 'ev' + 'al'), importlib, base64 + exec by name.

    The static scan passes this package; containing it is the sandbox's job (see the sandbox
    tests for the run-time half).
    """
    report = scan_dir(CORPUS / "py_bypass")
    assert not report.blocking
    assert not report.findings


def test_writes_to_in_memory_buffers_are_not_file_writes(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text(
        "import io\nimport sys\n\n\n"
        "def chart(fig, df, target):\n"
        "    buf = io.BytesIO()\n"
        "    fig.savefig(buf, format='png')\n"  # 7
        "    df.to_csv(io.StringIO(), index=False)\n"  # 8
        "    df.to_csv(path_or_buf=sys.stdout)\n"  # 9
        "    with io.StringIO() as text:\n"
        "        df.to_json(text)\n"  # 11
        "    fig.savefig(target)\n"  # 12: a parameter may be a path
        "    buf = 'out.png'\n"
        "    fig.savefig(buf)\n"  # 14: rebound to a path
    )
    report = PackageScanner().scan(tmp_path, {"language": "python", "entry_point": "p.py"})
    assert located(report) == {("PY102", "p.py", 12), ("PY102", "p.py", 14)}


def test_starting_a_process_is_high_in_any_spelling(tmp_path: Path) -> None:
    """Like os.system: subprocess without a shell, exec/spawn, pty, and spawners handed on."""
    (tmp_path / "p.py").write_text(
        "import os\nimport pty\nimport subprocess as sp\nimport multiprocessing\n"
        "from subprocess import check_output as co\nfrom multiprocessing import Process\n\n\n"
        "def go():\n"
        "    sp.run(['ls'])\n"  # 10
        "    co(['id'])\n"  # 11
        "    os.execv('/bin/sh', ['sh'])\n"  # 12
        "    os.posix_spawn('/bin/sh', ['sh'], {})\n"  # 13
        "    pty.spawn('/bin/sh')\n"  # 14
        "    Process(target=os.system, args=('id',)).start()\n"  # 15
        "    multiprocessing.get_context('spawn').set_executable('/bin/sh')\n"  # 16
        "    try:\n"
        "        pass\n"
        "    except sp.CalledProcessError:\n"  # 19: an exception class starts nothing
        "        pass\n"
    )
    report = PackageScanner().scan(tmp_path, {"language": "python", "entry_point": "p.py"})
    high = {(f.file, f.line) for f in report.findings if f.severity == "HIGH"}
    assert high == {("p.py", n) for n in (10, 11, 12, 13, 14, 15, 16)}
    # One HIGH finding per process start: Bandit's where it has one, else ours (PY104).
    rules = sorted((f.line, f.rule_id) for f in report.findings if f.severity == "HIGH")
    assert rules == [
        (10, "B603"), (11, "B603"), (12, "B606"), (13, "PY104"), (14, "PY104"), (15, "PY104"),
        (16, "PY104"),
    ]  # fmt: skip
