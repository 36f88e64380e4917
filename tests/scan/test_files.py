"""File rules: binaries, modes, hidden and start-up files, size cap, links (F001-F008)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from omniscope_jupyter.scan.scanner import PackageScanner

from .helpers import located, scan_dir, severity_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_binaries_are_refused(copy_case) -> None:
    pkg = copy_case("good_py")
    (pkg / "helper.pyc").write_bytes(b"\x6f\x0d\x0d\x0a" + b"\x00" * 12)
    (pkg / "fast.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 9)
    (pkg / "evil.pth").write_text("import os; os.system('id')\n")  # text, but run by site
    (pkg / "tool").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "good_py.cpython-311.pyc").write_bytes(b"\x00" * 16)
    (pkg / "icon.png").write_bytes(PNG)  # image assets are the one binary allowed
    report = scan_dir(pkg)
    assert {
        ("F001", "helper.pyc", 0),
        ("F001", "fast.so", 0),
        ("F001", "evil.pth", 0),
        ("F001", "tool", 0),
        ("F001", "__pycache__", 0),
    } <= located(report)
    assert not any(
        f.file.startswith("__pycache__/") or f.file == "icon.png" for f in report.findings
    )
    assert report.blocking


def test_modes(copy_case) -> None:
    pkg = copy_case("good_py")
    for name, mode in [
        ("suid.txt", 0o4644),
        ("sgid.txt", 0o2644),
        ("open.txt", 0o666),
        ("run.sh", 0o755),
        ("good_py.py", 0o755),
    ]:
        path = pkg / name
        if not path.exists():
            path.write_text("x\n")
        os.chmod(path, mode)
    report = scan_dir(pkg)
    found = located(report)
    assert {
        ("F002", "suid.txt", 0),
        ("F002", "sgid.txt", 0),
        ("F003", "open.txt", 0),
        ("F004", "run.sh", 0),
    } <= found
    assert severity_of(report, "F002", "suid.txt", 0) == "HIGH"
    assert ("F004", "good_py.py", 0) not in found  # the entry point may be executable


def test_hidden_and_startup_files(copy_case) -> None:
    pkg = copy_case("good_r")
    (pkg / ".gitignore").write_text("*.rds\n")  # version-control metadata: not a finding
    (pkg / ".notes").write_text("todo\n")
    (pkg / ".Rprofile").write_text("system('id')\n")
    (pkg / "sitecustomize.py").write_text("x = 1\n")
    (pkg / ".git").mkdir()
    (pkg / ".git" / "HEAD").write_bytes(b"\x00binary")
    report = scan_dir(
        pkg, PackageScanner(r_runner=lambda *a: '{"r_version": "4.5.1", "files": []}')
    )
    found = located(report)
    assert {
        ("F005", ".notes", 0),
        ("F008", ".Rprofile", 0),
        ("F008", "sitecustomize.py", 0),
        ("F005", ".git", 0),
    } <= found
    assert severity_of(report, "F005", ".notes", 0) == "LOW"
    assert not any(f.file == ".gitignore" for f in report.findings)
    assert severity_of(report, "F005", ".git", 0) == "HIGH"  # a hidden directory is not scanned
    assert not any(f.file.startswith(".git/") for f in report.findings)


def test_size_cap(copy_case) -> None:
    pkg = copy_case("good_py")
    (pkg / "data.csv").write_text("a,b\n" * 400)
    report = scan_dir(pkg, PackageScanner(max_file_bytes=1000))
    assert ("F006", "data.csv", 0) in located(report)
    assert report.blocking


def test_symlinks_are_refused_and_not_followed(copy_case, tmp_path: Path) -> None:
    pkg = copy_case("good_py")
    secret = tmp_path / "outside.py"
    secret.write_text("import os\nos.system('id')\n")
    (pkg / "link.py").symlink_to(secret)
    (pkg / "dirlink").symlink_to(tmp_path)
    report = scan_dir(pkg)
    found = located(report)
    assert {("F007", "link.py", 0), ("F007", "dirlink", 0)} <= found
    assert not any(f.rule_id == "B605" for f in report.findings)


def test_world_writable_directory(copy_case) -> None:
    pkg = copy_case("good_py")
    (pkg / "sub").mkdir()
    os.chmod(pkg / "sub", 0o777)
    assert ("F003", "sub", 0) in located(scan_dir(pkg))
    assert stat.S_IMODE(os.stat(pkg / "sub").st_mode) == 0o777
