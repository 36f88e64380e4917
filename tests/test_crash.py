"""A SIGKILL at any point of a change leaves the store in the old or the new state, never half.

Each case runs the change in a child process that kills itself (SIGKILL, no cleanup) at one
point; the parent then reopens the store as a restarting server would and checks that the
database and the files agree and show exactly one of the two states.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from omniscope_jupyter.core.lifecycle import PluginManager

# Code run in the child before the change: arms a SIGKILL at the named point.
KILL_AT = {
    "after-extract": """
        import omniscope_jupyter.core.lifecycle as m
        real = m.read_manifest
        def read_manifest(root, *args, **kwargs):
            out = real(root, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        m.read_manifest = read_manifest
    """,
    "after-files-moved": """
        real = os.replace
        def replace(src, dst):
            real(src, dst)
            if "/versions/" in str(dst):
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace
    """,
    "before-commit": """
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        @event.listens_for(Session, "before_commit")
        def die(session):
            if session.new or session.deleted or session.dirty:
                os.kill(os.getpid(), signal.SIGKILL)
    """,
    "after-commit": """
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        @event.listens_for(Session, "after_commit")
        def die(session):
            os.kill(os.getpid(), signal.SIGKILL)
    """,
}

CHANGES = {
    "install": "manager.install(Path(sys.argv[2]))",
    "uninstall": "manager.uninstall('my_plugin')",
    "rollback": "manager.rollback('my_plugin', '1.0.0', 'crash test')",
}


def _run_killed(store: Path, change: str, point: str, package: Path) -> None:
    code = "import os, signal, sys\nfrom pathlib import Path\n"
    code += "from omniscope_jupyter.core.lifecycle import PluginManager\n"
    code += "manager = PluginManager(Path(sys.argv[1]))\n"
    code += textwrap.dedent(KILL_AT[point]) + "\n" + CHANGES[change] + "\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(store), str(package)],
        capture_output=True, timeout=60, check=False,
    )
    assert proc.returncode == -signal.SIGKILL, (point, proc.stderr.decode()[-2000:])


def _state(store: Path) -> dict:
    """Reopen the store (recovering) and describe it; assert DB and files agree."""
    manager = PluginManager(store)
    manager.recover()
    plugins = {p["name"]: (p["active_version"], p["versions"]) for p in manager.list_plugins()}
    on_disk = sorted(
        f"{d.parent.name}/{d.name}" for d in (store / "versions").glob("*/*") if d.is_dir()
    )
    in_db = sorted(f"{n}/{v}" for n, (_, vs) in plugins.items() for v in vs)
    assert on_disk == in_db, (on_disk, in_db)
    assert list((store / "staging").iterdir()) == []
    for name in plugins:
        for v in plugins[name][1]:
            m = json.loads((store / "versions" / name / v / "manifest.json").read_text())
            assert m["version"] == v
    manager.close()
    return plugins


@pytest.mark.parametrize("point", sorted(KILL_AT))
def test_install_killed(tmp_path: Path, package: Callable[..., Path], point: str) -> None:
    store = tmp_path / "s"
    seed = PluginManager(store)
    seed.install(package())
    seed.close()
    before = {"my_plugin": ("1.0.0", ["1.0.0"])}
    after = {"my_plugin": ("1.0.0", ["1.0.0", "1.1.0"])}
    _run_killed(store, "install", point, package(version="1.1.0"))
    state = _state(store)
    assert state in (before, after)
    assert state == (after if point == "after-commit" else before)


@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_uninstall_and_rollback_killed(
    tmp_path: Path, package: Callable[..., Path], point: str
) -> None:
    store = tmp_path / "s"
    seed = PluginManager(store)
    seed.install(package())
    seed.install(package(version="1.1.0"))
    seed.update("my_plugin")
    seed.close()
    _run_killed(store, "rollback", point, Path("-"))
    expected_active = "1.0.0" if point == "after-commit" else "1.1.0"
    assert _state(store) == {"my_plugin": (expected_active, ["1.0.0", "1.1.0"])}
    _run_killed(store, "uninstall", point, Path("-"))
    state = _state(store)
    assert state == ({} if point == "after-commit" else {"my_plugin": (expected_active, ["1.0.0", "1.1.0"])})


def test_restart_loses_nothing(tmp_path: Path, package: Callable[..., Path]) -> None:
    store = tmp_path / "s"
    first = PluginManager(store)
    first.install(package())
    first.install(package(version="1.1.0"))
    first.set_enabled("my_plugin", True, user="ann")
    first.update("my_plugin", user="ann")
    first.close()
    again = PluginManager(store)
    assert again.recover() == []
    details = again.details("my_plugin")
    assert (details["active_version"], details["enabled"]) == ("1.1.0", True)
    assert [h["action"] for h in details["history"]] == ["install", "install", "enable", "update"]
    again.close()


def test_a_store_from_before_a_new_column_is_upgraded(tmp_path: Path) -> None:
    """``executions.runner`` came later: an older database gets the column at open."""
    import sqlite3

    (tmp_path / "s").mkdir()
    db = tmp_path / "s" / "omniscope.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE executions (id VARCHAR(36) PRIMARY KEY, plugin_name VARCHAR(64))")
    PluginManager(tmp_path / "s").close()
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(executions)")}
    assert "runner" in columns
