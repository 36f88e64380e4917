"""A PluginSystem on a temporary store, and an IPython shell with the %omniplug magic loaded on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from omniscope_jupyter.config import open_system
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.notebook.magics import OmniplugMagics


@pytest.fixture
def core(tmp_path: Path) -> Iterator[PluginSystem]:
    core = open_system(str(tmp_path / "store"), user="analyst")
    yield core
    core.close()


@pytest.fixture
def shell(core: PluginSystem) -> Iterator[Any]:
    ip = InteractiveShell.instance()
    ip.register_magics(OmniplugMagics(ip, system=core))
    yield ip
    InteractiveShell.clear_instance()
