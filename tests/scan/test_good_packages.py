"""Good packages pass: the corpus's spec-like plugins, the spec's examples, the SDK scaffold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from omniscope_jupyter.scan import cli_scan, format_report
from omniscope_jupyter.scan.scanner import PackageScanner
from omniscope_jupyter.sdk import create_project

from .helpers import CORPUS, scan_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "examples"


@pytest.mark.parametrize("case", ["good_py", "good_r"])
def test_corpus_good_plugins_pass(case: str, r_runner: Callable[..., str]) -> None:
    report = scan_dir(CORPUS / case, PackageScanner(r_runner=r_runner))
    assert not report.blocking, format_report(report)
    assert [f for f in report.findings if f.severity != "LOW"] == []


@pytest.mark.parametrize(
    "name", sorted(p.name for p in EXAMPLES.iterdir()) if EXAMPLES.is_dir() else []
)
def test_spec_examples_have_no_finding(
    name: str, r_runner: Callable[..., str], image_packages: dict[str, str]
) -> None:
    """What we ship as the model plugin must not teach authors to live with findings."""
    scanner = PackageScanner(r_runner=r_runner, base_packages=image_packages)
    report = scan_dir(EXAMPLES / name, scanner)
    assert report.findings == [], format_report(report)


@pytest.mark.parametrize("language", ["python", "r"])
def test_sdk_scaffold_has_no_finding(
    tmp_path: Path, language: str, r_runner: Callable[..., str], image_packages: dict[str, str]
) -> None:
    created = create_project(tmp_path, {"name": f"my_{language}_plugin", "language": language})
    report, code = cli_scan(created["path"], r_runner=r_runner, base_packages=image_packages)
    assert code == 0 and report.findings == [], format_report(report)


def test_cli_scan_refuses_and_prints(r_runner: Callable[..., str]) -> None:
    report, code = cli_scan(CORPUS / "r_bad", r_runner=r_runner)
    assert code == 1
    text = format_report(report)
    assert "HIGH   R001   r_bad.R:2  shell command execution: system()" in text
    assert "scan REFUSED" in text and "vulnerability database: safety-db" in text


def test_report_round_trips_as_json() -> None:
    report = scan_dir(CORPUS / "py_bad")
    data = report.to_dict()
    assert data["passed"] is False and data["counts"]["HIGH"] == sum(
        f["severity"] == "HIGH" for f in data["findings"]
    )
    assert {"rule_id", "severity", "confidence", "file", "line", "message", "fix_hint"} == set(
        data["findings"][0]
    )
