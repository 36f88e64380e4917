"""Helpers of the scan tests (not fixtures): the corpus, scanning a folder, exact findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omniscope_jupyter.scan.report import ScanReport
from omniscope_jupyter.scan.scanner import PackageScanner

CORPUS = Path(__file__).with_name("corpus")


def load_manifest(package_dir: Path) -> dict[str, Any]:
    return json.loads((package_dir / "manifest.json").read_text())


def scan_dir(
    package_dir: Path, scanner: PackageScanner | None = None, **manifest: Any
) -> ScanReport:
    """Scan ``package_dir`` with its manifest (fields overridden by ``manifest``)."""
    scanner = scanner or PackageScanner(r_runner=_no_r)
    return scanner.scan(package_dir, {**load_manifest(package_dir), **manifest})


def _no_r(*args: Any) -> str:
    raise AssertionError("this test must not need R")


def located(report: ScanReport) -> set[tuple[str, str, int]]:
    """``{(rule_id, file, line)}`` of a report, for exact assertions."""
    return {(f.rule_id, f.file, f.line) for f in report.findings}


def severity_of(report: ScanReport, rule_id: str, file: str, line: int) -> str:
    [sev] = {
        f.severity for f in report.findings if (f.rule_id, f.file, f.line) == (rule_id, file, line)
    }
    return sev
