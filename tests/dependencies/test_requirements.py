"""Dependency strings become typed values; what pip gets is rebuilt from them, never the text."""

from __future__ import annotations

import pytest

from omniscope_jupyter.errors import InvalidPackage
from omniscope_jupyter.manifest import validate_manifest
from omniscope_jupyter.sandbox.requirements import (
    PythonRequirement,
    RequirementError,
    parse_python_requirement,
    parse_r_requirement,
)

from ..helpers import manifest


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("numpy", "numpy"),
        ("  pandas >= 2.0 , < 3  ", "pandas<3,>=2.0"),
        ("Pandas[Excel, XML]>=2", "Pandas[excel,xml]>=2"),
        ("tabulate==0.9.*", "tabulate==0.9.*"),
        ("six==1.16.0+local", "six==1.16.0+local"),
        ("x~=1.2; python_version < '3.12'", "x~=1.2"),
    ],
)
def test_the_pip_line_is_rebuilt_from_the_parts_without_the_marker(text: str, line: str) -> None:
    req = parse_python_requirement(text)
    assert isinstance(req, PythonRequirement) and req.pip_line == line
    assert req.text == text.strip()


def test_markers_and_specifiers_are_judged_here() -> None:
    req = parse_python_requirement("tabulate>=0.9; python_version < '3.12'")
    assert req.key == "tabulate"
    assert req.applies({"python_version": "3.11"}) and not req.applies({"python_version": "3.13"})
    assert req.accepts("0.9.0") and req.accepts("1.0rc1") and not req.accepts("0.8")
    assert not req.accepts("2.2.3+dfsg~weird")  # not a PEP 440 version: never accepted


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x===1.0", "arbitrary equality"),
        ("x==1.0.0-$(id)", "not a PEP 508 requirement"),
        ("x>=latest", "not a PEP 508 requirement"),
        ("x @ git+https://host/repo", "direct reference"),
        ("x[a/b]", "path or URL"),
        ("c:\\evil", "path or URL"),
        ("-c constraints.txt", "starts with '-'"),
        ("x; import os", "not a PEP 508 requirement"),
        ("x\t", "contains the character '\\t'"),
        ("numpy\u00a0", "contains the character"),
        ("", "is empty"),
        ("x" * 201, "longer than 200 characters"),
    ],
)
def test_anything_pip_could_take_for_a_path_url_or_option_is_refused(
    text: str, reason: str
) -> None:
    with pytest.raises(RequirementError) as caught:
        parse_python_requirement(text)
    assert reason in str(caught.value)
    assert str(caught.value).startswith(repr(text[:80] + "..." if len(text) > 200 else text))


def test_r_requirements_are_a_cran_name_and_an_optional_bound() -> None:
    req = parse_r_requirement(" jsonlite (>= 1.8) ")
    assert (req.name, req.op, req.version) == ("jsonlite", ">=", "1.8")
    assert req.accepts("1.9.1") and not req.accepts("1.7-2")
    assert parse_r_requirement("R (>= 4.3)").name == "R"
    assert parse_r_requirement("data.table (!= 1.14.0)").accepts("1.15.0")
    for bad in ("x (~ 1)", "jsonlite >= 1", "a", "2pkg", "pkg.", "pkg (>= 1.2", "pkg\n"):
        with pytest.raises(RequirementError):
            parse_r_requirement(bad)


def test_the_manifest_check_uses_the_same_parser() -> None:
    validate_manifest(manifest(dependencies=["pandas[excel]>=2; python_version >= '3.9'"]))
    validate_manifest(manifest(language="r", entry_point="p.R", dependencies=["R (>= 4.0)"]))
    bad = ["x===1.0", "-r /etc/passwd", "numpy\n-e /tmp/evil"]
    with pytest.raises(InvalidPackage) as caught:
        validate_manifest(manifest(dependencies=bad))
    problems = caught.value.details["problems"]
    assert len(problems) == len(bad)
    for problem, text in zip(problems, bad, strict=True):
        assert problem.startswith(f"dependencies: {text!r} "), problem
