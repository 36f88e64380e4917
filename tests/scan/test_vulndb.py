"""Dependency vulnerabilities from an on-disk database, with the network unreachable."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

import pytest

from omniscope_jupyter.scan.scanner import PackageScanner
from omniscope_jupyter.scan.vulndb import VulnDBError, default_vulndb_path, load_vulndb

from .helpers import CORPUS, scan_dir

OSV_REQUESTS = {
    "id": "GHSA-x84v-xcm2-53pg",
    "aliases": ["CVE-2018-18074"],
    "modified": "2024-05-01T00:00:00Z",
    "summary": "Insufficiently Protected Credentials in Requests",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}],
        }
    ],
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails, as on a machine with no route out."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_pinned_vulnerable_dependency_is_reported_offline(no_network: None) -> None:
    report = scan_dir(CORPUS / "py_bad")
    [dep] = [f for f in report.findings if f.rule_id == "DEP001"]
    assert "requests==2.19.0" in dep.message and "CVE-2018-18074" in dep.message
    assert dep.severity == "HIGH" and dep.file == "manifest.json"
    unknown = {f.message for f in report.findings if f.rule_id == "DEP002"}
    assert any("'numpy'" in m for m in unknown) and any("'pandas>=2'" in m for m in unknown)
    db = report.vulnerability_db
    assert db is not None and db["format"] == "safety-db" and db["date"].startswith("2021-")
    assert db["version"] and db["advisories"] > 1000


def test_every_report_carries_the_database(copy_case) -> None:
    report = scan_dir(copy_case("good_py"))
    assert report.to_dict()["vulnerability_db"]["path"] == str(default_vulndb_path())
    assert not [f for f in report.findings if f.rule_id.startswith("DEP")]  # pins are clean


def test_safe_pin_and_bad_requirement(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("x = 1\n")
    report = PackageScanner().scan(
        tmp_path,
        {
            "language": "python",
            "entry_point": "p.py",
            "dependencies": ["requests==2.32.3", "not a requirement!"],
        },
    )
    assert [(f.rule_id, f.severity) for f in report.findings] == [("DEP003", "MEDIUM")]


@pytest.mark.parametrize("layout", ["directory", "zip"])
def test_fresher_osv_database(tmp_path: Path, no_network: None, layout: str) -> None:
    if layout == "directory":
        path = tmp_path / "osv"
        path.mkdir()
        (path / "GHSA-x84v-xcm2-53pg.json").write_text(json.dumps(OSV_REQUESTS))
    else:
        path = tmp_path / "all.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("GHSA-x84v-xcm2-53pg.json", json.dumps(OSV_REQUESTS))
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "p.py").write_text("x = 1\n")
    scanner = PackageScanner(vulndb_path=path)
    manifest = {"language": "python", "entry_point": "p.py", "permissions": ["network"]}
    report = scanner.scan(pkg, {**manifest, "dependencies": ["requests==2.19.0"]})
    [dep] = [f for f in report.findings if f.rule_id == "DEP001"]
    assert "GHSA-x84v-xcm2-53pg (CVE-2018-18074)" in dep.message
    assert report.vulnerability_db == {
        "format": "osv",
        "path": str(path),
        "version": None,
        "date": "2024-05-01T00:00:00Z",
        "packages": 1,
        "advisories": 1,
        "ecosystems": ["PyPI"],
    }
    fixed = scanner.scan(pkg, {**manifest, "dependencies": ["requests==2.20.0"]})
    assert not fixed.findings


def test_missing_database_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(VulnDBError, match="does not exist"):
        load_vulndb(tmp_path / "nope.json")


def test_an_unpinned_dependency_the_image_provides_is_checked_at_its_version(
    tmp_path: Path, no_network: None
) -> None:
    """The lock takes the runner image's version for it, so that is the version to check."""
    (tmp_path / "p.py").write_text("x = 1\n")
    manifest = {
        "language": "python",
        "entry_point": "p.py",
        "dependencies": ["requests", "pandas>=3", "numpy"],
    }
    image = {"requests": "2.19.0", "pandas": "2.2.3", "numpy": "2.2.4"}
    report = PackageScanner(base_packages=lambda: image).scan(tmp_path, manifest)
    found = {(f.rule_id, f.message.split(": ")[-1]) for f in report.findings}
    # requests: the image's 2.19.0 is vulnerable; pandas>=3: not the image's, so unknown;
    # numpy: the image's 2.2.4 has no advisory in the database.
    assert {r for r, _ in found} == {"DEP001", "DEP002"}
    [dep001] = [f for f in report.findings if f.rule_id == "DEP001"]
    assert "requests==2.19.0" in dep001.message and "CVE-2018-18074" in dep001.message
    assert [m for r, m in found if r == "DEP002"] == ["'pandas>=3'"]
