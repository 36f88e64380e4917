"""One store, found the same way everywhere: kernels and terminals a server launches open the
server's store (it was invisible to them when set by --OmniscopeApp.data_dir or in
jupyter_server_config.py), and config files are read under both names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.config import DATA_DIR_ENV, open_system


async def test_a_server_gives_its_store_to_what_it_launches(
    jp_serverapp: Any, store_dir: Path
) -> None:
    assert os.environ[DATA_DIR_ENV] == str(store_dir.resolve())
    # What a kernel of this server does on `%omniplug list`: no argument, no config of its own.
    system = open_system(user="kernel")
    try:
        assert system.store_dir.resolve() == store_dir.resolve()
    finally:
        system.close()


def test_jupyter_server_config_is_read_as_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    store = tmp_path / "team-store"
    (config_dir / "jupyter_server_config.py").write_text(f"c.OmniscopeApp.data_dir = {str(store)!r}\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    system = open_system(user="cli")
    try:
        assert system.store_dir == store
    finally:
        system.close()
