"""Manifest validation: the spec's manifest passes; every problem is reported at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import InvalidPackage
from omniscope_jupyter.manifest import manifest_warnings, read_manifest, validate_manifest

from .api import assert_error, upload
from .helpers import build_package, manifest


def test_spec_manifest_is_valid_and_gets_defaults(tmp_path: Path) -> None:
    (tmp_path / "my_plugin.py").write_text("")
    m = manifest()
    m.pop("category")
    out = validate_manifest(m, tmp_path)
    assert out.name == "my_plugin" and out.language == "python"
    out = out.as_dict()
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
        input_format="xml",
        changes_row_count="yes",
        surprise=True,
    )
    with pytest.raises(InvalidPackage) as e:
        validate_manifest(bad, tmp_path, strict=True)
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
        "input_format",
        "changes_row_count",
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


def test_input_format_defaults_to_dataframe_and_takes_json() -> None:
    assert validate_manifest(manifest()).input_format == "dataframe"
    assert validate_manifest(manifest(input_format="json")).input_format == "json"
    assert validate_manifest(manifest(changes_row_count=True)).data["changes_row_count"] is True


def test_unknown_fields_warn_and_are_kept_unless_strict() -> None:
    """A manifest written for a newer platform installs; strict servers refuse it."""
    newer = manifest(display_name="My Plugin", icon="chart.svg")
    kept = validate_manifest(newer).as_dict()
    assert kept["display_name"] == "My Plugin"
    warnings = manifest_warnings(kept)
    assert [w.split(":")[0] for w in warnings] == ["display_name", "icon"]
    assert "unknown field, ignored by platform" in warnings[0]
    with pytest.raises(InvalidPackage) as e:
        validate_manifest(newer, strict=True)
    assert [p.split(":")[0] for p in e.value.details["problems"]] == ["display_name", "icon"]
    assert manifest_warnings(manifest()) == []


def test_install_answers_the_warnings_and_strict_refuses(tmp_path: Path) -> None:
    archive = build_package(tmp_path / "p.tar.gz", dependencies=[], display_name="My Plugin")
    lenient = PluginManager(tmp_path / "lenient")
    answer = lenient.install(archive)
    assert [w.split(":")[0] for w in answer["warnings"]] == ["display_name"]
    assert lenient.details("my_plugin")["manifest"]["input_format"] == "dataframe"
    plain = build_package(tmp_path / "q.tar.gz", dependencies=[], version="1.0.1")
    assert lenient.install(plain)["warnings"] == []
    lenient.close()
    strict = PluginManager(tmp_path / "strict", strict_manifest=True)
    with pytest.raises(InvalidPackage, match="display_name: unknown field"):
        strict.install(archive)
    strict.close()


async def test_rest_install_answer_lists_unknown_fields(jp_fetch: Any, package: Any) -> None:
    status, body = await upload(jp_fetch, package(dependencies=[], future_field={"x": 1}))
    assert status == 201, body
    assert body["warnings"][0].startswith("future_field: unknown field")


@pytest.mark.omniscope_config(strict_manifest=True)
async def test_rest_strict_manifest_refuses_unknown_fields(jp_fetch: Any, package: Any) -> None:
    status, body = await upload(jp_fetch, package(dependencies=[], future_field={"x": 1}))
    assert_error(status, body, 400, "future_field: unknown field")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"description": "x" * 2001}, "description: at most 2000 characters"),
        ({"author": "Eve\x1b[2J"}, "author: holds control"),
        ({"author": "Eve\u202egnp.exe"}, "author: holds control or bidirectional"),
        ({"category": "a\nb"}, "category: holds control"),
        ({"tags": ["t"] * 21}, "tags: at most 20"),
        ({"tags": ["ok", "x" * 65]}, "tags: each a word"),
        ({"config": {"bad key": {"type": "string", "default": ""}}}, "config: names must be"),
        ({"parameters": {"../x": {"type": "string"}}}, "parameters: names must be"),
    ],
)
def test_every_manifest_string_is_checked(
    tmp_path: Path, overrides: dict[str, Any], fragment: str
) -> None:
    (tmp_path / "my_plugin.py").write_text("")
    with pytest.raises(InvalidPackage) as caught:
        validate_manifest(manifest(**overrides), tmp_path)
    assert any(fragment in p for p in caught.value.details["problems"]), caught.value.details
    # A description may have lines and tabs.
    validate_manifest(manifest(description="line one\n\tline two"), tmp_path)
