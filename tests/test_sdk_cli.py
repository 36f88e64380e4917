"""SDK scaffold (REST and CLI) and the omniplug CLI on the same core."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.archive import pack
from omniscope_jupyter.cli import main
from omniscope_jupyter.core.lifecycle import PluginManager

from .api import assert_error, call, upload

SPEC_CREATE = {
    "name": "my_plugin",
    "language": "python",
    "author": "Your Name",
    "description": "My custom plugin",
    "category": "analysis",
    "tags": ["custom", "analysis"],
    "extension_points": ["analysis"],
}


async def test_spec_create_makes_a_project_that_installs_unchanged(
    jp_fetch: Any, sdk_root: Path, tmp_path: Path
) -> None:
    status, body = await call(jp_fetch, "POST", "sdk", "create", body=SPEC_CREATE)
    assert status == 201, body
    project = sdk_root / "my_plugin"
    assert sorted(p.name for p in project.iterdir()) == [
        ".gitignore", "README.md", "manifest.json", "my_plugin.py", "test_my_plugin.py",
    ]
    # Packed exactly as the spec says (tar -czf my_plugin.tar.gz my_plugin/), it installs.
    archive = tmp_path / "my_plugin.tar.gz"
    await asyncio.to_thread(
        subprocess.run, ["tar", "-czf", str(archive), "my_plugin/"], cwd=sdk_root, check=True
    )
    status, body = await upload(jp_fetch, archive)
    assert status == 201, body
    status, body = await call(jp_fetch, "POST", "sdk", "create", body=SPEC_CREATE)
    assert_error(status, body, 409, "already exists")
    status, body = await call(jp_fetch, "POST", "sdk", "create", body={**SPEC_CREATE, "name": "Bad Name"})
    assert_error(status, body, 400, "name")
    assert not (sdk_root / "Bad Name").exists()


def test_python_scaffold_local_test_passes(sdk_root: Path) -> None:
    assert main(["new", "stats_demo", "--dir", str(sdk_root)]) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=sdk_root / "stats_demo", capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_r_scaffold_is_valid(sdk_root: Path, tmp_path: Path) -> None:
    assert main(["new", "r_demo", "--language", "r", "--dir", str(sdk_root)]) == 0
    project = sdk_root / "r_demo"
    assert (project / "r_demo.R").is_file() and (project / "test_r_demo.R").is_file()
    manifest = json.loads((project / "manifest.json").read_text())
    assert (manifest["language"], manifest["entry_point"]) == ("r", "r_demo.R")
    store = tmp_path / "store"
    assert main(["install", str(project), "--data-dir", str(store)]) == 0
    assert PluginManager(store).details("r_demo")["language"] == "r"


def test_cli_mirrors_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--data-dir", str(tmp_path / "store")]
    assert main(["new", "cli_demo", "--dir", str(tmp_path)]) == 0
    archive = tmp_path / "cli_demo.tar.gz"
    assert main(["pack", str(tmp_path / "cli_demo"), "-o", str(archive)]) == 0
    assert main(["install", str(archive), *store]) == 0
    err = capsys.readouterr().err
    assert "extract" in err and "scan" in err and "store" in err  # progress on long steps
    manifest_path = tmp_path / "cli_demo" / "manifest.json"
    manifest_path.write_text(manifest_path.read_text().replace('"version": "1.0.0"', '"version": "1.1.0"'))
    assert main(["install", str(tmp_path / "cli_demo"), *store]) == 0
    assert main(["enable", "cli_demo", *store]) == 0
    assert main(["update", "cli_demo", *store]) == 0
    assert main(["rollback", "cli_demo", "1.0.0", "--reason", "regression", *store]) == 0
    assert main(["disable", "cli_demo", *store]) == 0
    capsys.readouterr()
    assert main(["list", "--json", *store]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["version"], p["enabled"]) for p in listed] == [("cli_demo", "1.0.0", False)]
    assert main(["history", "--json", "cli_demo", *store]) == 0
    actions = [h["action"] for h in json.loads(capsys.readouterr().out)]
    assert actions == ["install", "install", "enable", "update", "rollback", "disable"]
    assert main(["info", "--json", "cli_demo", *store]) == 0
    assert json.loads(capsys.readouterr().out)["versions"] == ["1.0.0", "1.1.0"]
    assert main(["uninstall", "cli_demo", *store]) == 0
    assert main(["list", *store]) == 0
    assert "No plugins installed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["info", "ghost"], "No plugin named 'ghost'"),
        (["install", "/nonexistent.tar.gz"], "does not exist"),
        (["frobnicate"], "invalid choice"),
        (["rollback", "ghost", "1.0.0"], "No plugin named"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    # Besides the one line naming the store it opened, a mistake is one line.
    errors = [line for line in lines if not line.startswith("omniplug: store ")]
    assert len(errors) == 1 and fragment in errors[0], lines


def test_store_options_before_the_command_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``omniplug --data-dir X install P`` installs into X (a subcommand must not reset it)."""
    main(["new", "early", "--dir", str(tmp_path)])
    store = tmp_path / "chosen"
    assert main(["--data-dir", str(store), "install", str(tmp_path / "early")]) == 0
    assert f"omniplug: store {store}" in capsys.readouterr().err
    assert main(["--data-dir", str(store), "--json", "list"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["early"]
    assert (store / "omniscope.db").is_file()


def test_pack_then_install_twice_is_a_conflict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["new", "twice", "--dir", str(tmp_path)])
    pack(tmp_path / "twice", tmp_path / "twice.tar.gz")
    store = ["--data-dir", str(tmp_path / "s")]
    assert main(["install", str(tmp_path / "twice.tar.gz"), *store]) == 0
    assert main(["install", str(tmp_path / "twice.tar.gz"), *store]) == 2
    assert "already installed" in capsys.readouterr().err
