"""Every example is a complete, installable package: the spec's manifest fields, only the
permissions it needs, a README with the spec's request and tar command, its own local test
passing, and (the examples added for every extension point) a security scan without findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from omniscope_jupyter.archive import extract
from omniscope_jupyter.manifest import read_manifest, validate_manifest
from omniscope_jupyter.scan.scanner import PackageScanner
from tests.examples.example_plugins import EXAMPLES

READ_WRITE = ["read_data", "write_data"]
#: name -> (language, first extension point, permissions: only what the plugin needs).
EXPECTED = {
    "data_normalizer": ("python", "preprocessing", READ_WRITE),
    "outlier_detector": ("python", "analysis", READ_WRITE),
    "correlation_analyzer": ("r", "analysis", READ_WRITE),
    "text_importer": ("r", "data_import", ["write_data"]),  # needs no input
    "frame_exporter": ("python", "data_export", READ_WRITE),
    "feature_builder": ("python", "feature_engineering", READ_WRITE),
    "chart_maker": ("python", "visualization", READ_WRITE),
    "linear_model_trainer": ("python", "model_training", READ_WRITE),
    "model_evaluator": ("r", "model_evaluation", READ_WRITE),
    "markdown_reporter": ("r", "report_generation", READ_WRITE),
    "webhook_notifier": ("python", "integration", ["read_data", "network"]),  # returns no data
}
ALL_EXAMPLES = sorted(EXPECTED)
PYTHON_EXAMPLES = [n for n in ALL_EXAMPLES if EXPECTED[n][0] == "python"]
R_EXAMPLES = [n for n in ALL_EXAMPLES if EXPECTED[n][0] == "r"]
#: The examples that show every extension point: held to a scan without a single finding.
CLEAN_EXAMPLES = [n for n in ALL_EXAMPLES if n not in {"data_normalizer", "outlier_detector", "correlation_analyzer"}]
# The fields of the spec's manifest.json example, all of them; of the platform's own, only the
# parameter schema, the input format and a declared row-count change may be added.
SPEC_FIELDS = {
    "name", "version", "author", "author_email", "description", "language", "entry_point",
    "category", "tags", "extension_points", "dependencies", "permissions", "config",
    "min_platform_version",
}  # fmt: skip


def test_the_folder_holds_exactly_these_examples():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == ALL_EXAMPLES
    assert len(R_EXAMPLES) >= 4  # correlation_analyzer and three for the new points


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_manifest_has_the_spec_fields_and_validates(name):
    folder = EXAMPLES / name
    data = json.loads((folder / "manifest.json").read_text())
    assert SPEC_FIELDS <= set(data) <= SPEC_FIELDS | {"parameters", "input_format", "changes_row_count"}
    assert data["name"] == name and data["version"] == "1.0.0"
    language, point, permissions = EXPECTED[name]
    assert (data["language"], data["extension_points"][0]) == (language, point)
    assert data["permissions"] == permissions
    assert (folder / data["entry_point"]).is_file()
    for entry in data["config"].values():
        assert set(entry) == {"type", "default", "description"}
    validate_manifest(data, folder)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("data_normalizer", '"input_data": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]'),
        ("data_normalizer", '"extension_point": "preprocessing"'),
        ("correlation_analyzer", '"var2": [2, 4, 6, 8, 10]'),
        ("correlation_analyzer", '"threshold": 0.7'),
        ("outlier_detector", '"input_data": {"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]}'),
        *((name, f'"extension_point": "{EXPECTED[name][1]}"') for name in CLEAN_EXAMPLES),
    ],
)
def test_readme_shows_the_spec_request_and_tar_command(name, body):
    readme = (EXAMPLES / name / "README.md").read_text()
    assert body in readme
    assert f"tar -czf {name}.tar.gz {name}/" in readme


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_spec_tar_command_makes_an_installable_archive(name, tmp_path):
    archive = tmp_path / f"{name}.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), f"{name}/"], cwd=EXAMPLES, check=True)
    with tarfile.open(archive) as tar:
        members = tar.getnames()
    assert all(m == name or m.startswith(f"{name}/") for m in members)
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")]
    root = extract(archive, tmp_path / "out")
    manifest = read_manifest(root).as_dict()
    assert manifest["name"] == name
    assert (root / manifest["entry_point"]).is_file() and (root / "README.md").is_file()


@pytest.mark.parametrize("name", PYTHON_EXAMPLES)
def test_python_example_local_test_passes(name):
    done = subprocess.run(
        [sys.executable, "-m", "unittest", f"test_{name}"],
        cwd=EXAMPLES / name, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stderr


@pytest.mark.usefixtures("rscript")
@pytest.mark.parametrize("name", R_EXAMPLES)
def test_r_example_local_test_passes(name):
    """New R tests are fed after the plugin file (``cat p.R test_p.R | Rscript -``): a test
    that source()s the plugin would be a scan finding in the package."""
    folder = EXAMPLES / name
    test = folder / f"test_{name}.R"
    if "sys.source(" in test.read_text():
        command, stdin = ["Rscript", test.name], None
    else:
        command = ["Rscript", "-"]
        stdin = (folder / f"{name}.R").read_text() + "\n" + test.read_text()
    done = subprocess.run(
        command, input=stdin, cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "all checks passed" in done.stdout
    assert not list(Path(folder).glob(".Rhistory"))


@pytest.mark.parametrize("name", CLEAN_EXAMPLES)
def test_scan_finds_nothing(name, request):
    """What ``omniplug scan plugins/examples/<name>`` reports: zero findings (R needs Docker)."""
    if EXPECTED[name][0] == "r":
        request.getfixturevalue("docker_ready")
    folder = EXAMPLES / name
    report = PackageScanner().scan(folder, read_manifest(folder).as_dict())
    assert report.findings == [], [f"{f.rule_id} {f.file}:{f.line} {f.message}" for f in report.findings]
