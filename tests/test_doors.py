"""Every door behaves the same: one lifecycle through REST, ``omniplug`` and the notebook magics.

Each door drives the same sequence on a store of its own — install 1.0.0 and 1.1.0, enable,
update, rollback with a reason, disable, uninstall — and the answers and the final history are
compared once volatile fields (times, who acted, where the store is) are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from omniscope_jupyter.cli import main
from omniscope_jupyter.config import open_system
from omniscope_jupyter.notebook.magics import OmniplugMagics

from .api import call, upload

VOLATILE = {
    "at", "installed_at", "updated_at", "user", "installed_by", "path", "sha256", "scanned_at",
    "store",
}  # fmt: skip


def _diff(a: Any, b: Any) -> Any:
    """The keys where two answers differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return (a, b)


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@pytest.fixture
def packages(package: Callable[..., Path]) -> list[Path]:
    return [package(version="1.0.0"), package(version="1.1.0")]


async def _through_rest(jp_fetch: Any, packages: list[Path]) -> list[Any]:
    answers = []
    for archive in packages:
        status, body = await upload(jp_fetch, archive)
        assert status == 201, body
        answers.append(body)
    for method, path, body in (
        ("POST", ("my_plugin", "enable"), None),
        ("POST", ("my_plugin", "update"), {"target_version": "1.1.0"}),
        ("POST", ("my_plugin", "rollback"), {"target_version": "1.0.0", "reason": "regression"}),
        ("POST", ("my_plugin", "disable"), None),
        ("GET", ("my_plugin",), None),
        ("GET", ("my_plugin", "history"), None),
        ("DELETE", ("my_plugin",), None),
    ):
        status, answer = await call(jp_fetch, method, *path, body=body)
        assert status == 200, answer
        answers.append(answer)
    return answers


def _through_cli(store: Path, packages: list[Path], capsys: pytest.CaptureFixture[str]) -> list[Any]:
    common = ["--data-dir", str(store), "--json"]
    answers = []
    for argv in (
        ["install", str(packages[0])],
        ["install", str(packages[1])],
        ["enable", "my_plugin"],
        ["update", "my_plugin", "1.1.0"],
        ["rollback", "my_plugin", "1.0.0", "--reason", "regression"],
        ["disable", "my_plugin"],
        ["info", "my_plugin"],
        ["history", "my_plugin"],
        ["uninstall", "my_plugin"],
    ):
        assert main([*argv, *common]) == 0, argv
        answers.append(json.loads(capsys.readouterr().out))
    return answers


def _through_system(store: Path, packages: list[Path]) -> list[Any]:
    system = open_system(str(store), user="analyst")
    try:
        return [
            system.install(packages[0]),
            system.install(packages[1]),
            system.set_enabled("my_plugin", True),
            system.update("my_plugin", "1.1.0"),
            system.rollback("my_plugin", "1.0.0", "regression"),
            system.set_enabled("my_plugin", False),
            system.details("my_plugin"),
            system.history("my_plugin"),
            system.uninstall("my_plugin"),
        ]
    finally:
        system.close()


async def test_rest_cli_and_core_answer_alike(
    jp_fetch: Any, packages: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rest = await _through_rest(jp_fetch, packages)
    # REST wraps the history list in an object; the other doors answer the list itself.
    rest[7] = rest[7]["history"]
    cli = _through_cli(tmp_path / "cli-store", packages, capsys)
    core = _through_system(tmp_path / "core-store", packages)
    for i, (a, b, c) in enumerate(zip(_stable(cli), _stable(rest), _stable(core), strict=True)):
        assert a == b == c, (i, _diff(a, b), _diff(c, b))
    assert [h["action"] for h in rest[7]] == [
        "install", "install", "enable", "update", "rollback", "disable",
    ]  # fmt: skip


def test_magics_answer_like_the_core(packages: list[Path], tmp_path: Path) -> None:
    core = _through_system(tmp_path / "core-store", packages)
    system = open_system(str(tmp_path / "magic-store"), user="analyst")
    shell = InteractiveShell.instance()
    try:
        shell.register_magics(OmniplugMagics(shell, system=system))
        magic = [
            shell.run_line_magic("omniplug", line)
            for line in (
                f"install {packages[0]}",
                f"install {packages[1]}",
                "enable my_plugin",
            )
        ]
        assert _stable(magic) == _stable(core[:3])
        assert _stable(shell.run_line_magic("omniplug", "disable my_plugin"))["enabled"] is False
    finally:
        InteractiveShell.clear_instance()
        system.close()
