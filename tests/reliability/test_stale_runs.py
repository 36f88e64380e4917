"""No run left ``running`` forever: whichever door opens the store next closes a dead process's
records, and the server does so periodically too (no Docker needed for the records)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from omniscope_jupyter.cli import main
from omniscope_jupyter.config import open_system
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.store.orm import Execution

from ..helpers import build_package

#: A process identity on this host whose pid cannot be alive.
DEAD = f"{socket.gethostname()}:4194399:1"


def _plant(system: PluginSystem, tmp_path: Path, runner: str, status: str) -> str:
    """Install a plugin and leave an unfinished record owned by ``runner``; its id."""
    system.install(build_package(tmp_path / "p.tar.gz"))
    execution_id = str(uuid.uuid4())
    with system._manager.sessions.begin() as s:
        s.add(
            Execution(
                id=execution_id, plugin_name="my_plugin", version="1.0.0",
                extension_point="analysis", status=status, runner=runner,
            )
        )  # fmt: skip
    return execution_id


def _plant_running(store: Path, tmp_path: Path, runner: str) -> str:
    system = open_system(str(store), user="analyst")
    try:
        return _plant(system, tmp_path, runner, "running")
    finally:
        system.close()


def _record(store: Path, execution_id: str) -> Execution:
    system = open_system(str(store), user="analyst")
    try:
        with system._manager.sessions() as s:
            row = s.get(Execution, execution_id)
            assert row is not None
            s.expunge(row)
            return row
    finally:
        system.close()


@pytest.mark.parametrize("door", ["core", "cli"])
def test_the_next_door_to_open_the_store_closes_a_dead_processs_run(
    tmp_path: Path, door: str
) -> None:
    store = tmp_path / "store"
    execution_id = _plant_running(store, tmp_path, DEAD)
    if door == "cli":
        assert main(["list", "--data-dir", str(store)]) == 0
    row = _record(store, execution_id)  # opening the store is what closes it
    assert row.status == "failed"
    assert row.result is not None
    assert row.result["errors"] == ["the process that started this run ended"]
    assert row.finished_at is not None


def test_a_live_processs_run_is_left_alone(tmp_path: Path) -> None:
    from omniscope_jupyter.sandbox.processes import process_identity

    store = tmp_path / "store"
    execution_id = _plant_running(store, tmp_path, process_identity())
    assert _record(store, execution_id).status == "running"


def test_the_server_sweeps_periodically(tmp_path: Path) -> None:
    """``PluginSystem.sweep`` (what the server runs every ``sweep_seconds``) closes it too."""
    store = tmp_path / "store"
    system = open_system(str(store), user="analyst")
    try:
        execution_id = _plant(system, tmp_path, DEAD, "queued")
        system.sweep()
        with system._manager.sessions() as s:
            row = s.get(Execution, execution_id)
            assert row is not None and row.status == "failed"
    finally:
        system.close()
