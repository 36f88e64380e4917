"""Every example is a complete, installable package: the spec's manifest fields, a README with
the spec's request, the spec's tar command, and its own local test passing."""

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
from tests.examples.example_plugins import EXAMPLES

PYTHON_EXAMPLES = ["data_normalizer", "outlier_detector"]
ALL_EXAMPLES = [*PYTHON_EXAMPLES, "correlation_analyzer"]
# The fields of the spec's manifest.json example, all of them and no others.
SPEC_FIELDS = {
    "name", "version", "author", "author_email", "description", "language", "entry_point",
    "category", "tags", "extension_points", "dependencies", "permissions", "config",
    "min_platform_version",
}  # fmt: skip


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_manifest_has_the_spec_fields_and_validates(name):
    folder = EXAMPLES / name
    data = json.loads((folder / "manifest.json").read_text())
    assert set(data) == SPEC_FIELDS
    assert data["name"] == name and data["version"] == "1.0.0"
    assert data["permissions"] == ["read_data", "write_data"]
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
    manifest = read_manifest(root)
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
def test_r_example_local_test_passes():
    folder = EXAMPLES / "correlation_analyzer"
    done = subprocess.run(
        ["Rscript", "test_correlation_analyzer.R"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "all checks passed" in done.stdout
    assert not list(Path(folder).glob(".Rhistory"))
