"""A Core on a temporary store, and an IPython shell with the %omniplug magic loaded on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from omniscope_jupyter.local import Core, open_core
from omniscope_jupyter.notebook.magics import OmniplugMagics


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = open_core(str(tmp_path / "store"), user="analyst")
    yield core
    core.close()


@pytest.fixture
def shell(core: Core) -> Iterator[Any]:
    ip = InteractiveShell.instance()
    ip.register_magics(OmniplugMagics(ip, core=core))
    yield ip
    InteractiveShell.clear_instance()
