"""Manifest validation: the spec's manifest passes; every problem is reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniscope_jupyter.errors import InvalidPackage
from omniscope_jupyter.manifest import read_manifest, validate_manifest

from .helpers import manifest


def test_spec_manifest_is_valid_and_gets_defaults(tmp_path: Path) -> None:
    (tmp_path / "my_plugin.py").write_text("")
    m = manifest()
    m.pop("category")
    out = validate_manifest(m, tmp_path)
    assert out["category"] == "analysis"
    assert out["dependencies"] == ["numpy", "pandas"]


def test_every_problem_is_listed_naming_its_field(tmp_path: Path) -> None:
    bad = manifest(
        name="My-Plugin",
        version="1.0",
        language="java",
        entry_point="../x.py",
        extension_points=["analysis", "telepathy"],
        permissions=["root"],
        dependencies=["numpy >>> 1", "pandas"],
        config={"k": {"type": "integer", "default": "three"}, "j": {"type": "colour"}},
        min_platform_version="99.0.0",
        surprise=True,
    )
    with pytest.raises(InvalidPackage) as e:
        validate_manifest(bad, tmp_path)
    problems = e.value.details["problems"]
    fields = [p.split(":")[0] for p in problems]
    for field in (
        "name",
        "version",
        "language",
        "entry_point",
        "extension_points",
        "permissions",
        "dependencies",
        "config.k.default",
        "config.j.type",
        "min_platform_version",
        "surprise",
    ):
        assert field in fields, (field, problems)
    assert "telepathy" in " ".join(problems)


@pytest.mark.parametrize("name", ["list", "install", "marketplace", "sdk"])
def test_route_words_are_reserved(name: str) -> None:
    with pytest.raises(InvalidPackage, match="reserved"):
        validate_manifest(manifest(name=name, entry_point=f"{name}.py"))


def test_missing_required_fields_and_empty_extension_points() -> None:
    with pytest.raises(InvalidPackage) as e:
        validate_manifest({"name": "abc", "extension_points": []})
    problems = " ".join(e.value.details["problems"])
    for field in ("version", "author", "description", "language", "entry_point", "extension_points"):
        assert f"{field}: this required field" in problems


def test_entry_point_suffix_must_match_language(tmp_path: Path) -> None:
    (tmp_path / "my_plugin.py").write_text("")
    with pytest.raises(InvalidPackage, match=r"must end with \.R"):
        validate_manifest(manifest(language="r"), tmp_path)


def test_entry_point_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InvalidPackage, match="is not in the package"):
        validate_manifest(manifest(), tmp_path)


def test_r_dependencies_syntax() -> None:
    ok = manifest(language="r", entry_point="p.R", dependencies=["jsonlite", "stats (>= 4.0)"])
    validate_manifest(ok)
    with pytest.raises(InvalidPackage, match="not an R requirement"):
        validate_manifest(manifest(language="r", entry_point="p.R", dependencies=["x (~ 1)"]))


def test_semver_prerelease_accepted_and_bool_is_not_a_number() -> None:
    validate_manifest(manifest(version="2.0.0-rc.1"))
    with pytest.raises(InvalidPackage, match="config.n.default"):
        validate_manifest(manifest(config={"n": {"type": "number", "default": True}}))


def test_read_manifest_reports_bad_json(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(InvalidPackage, match="not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(InvalidPackage, match="no manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps([1]))
    with pytest.raises(InvalidPackage, match="JSON object"):
        read_manifest(tmp_path)
