"""Fixtures of the notebook layer: a plugin system in the test process, a real server, shells.

``core`` is a ``PluginSystem`` on a temporary store (the local backend's); ``server`` is the
in-process Jupyter server with the extension (pytest-jupyter), reached over real HTTP by the
``ServerBackend``. Blocking client calls against that server run in a thread (``blocking``):
the server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from IPython.core.interactiveshell import InteractiveShell

from omniscope_jupyter.config import open_system
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.notebook.client import LocalBackend, ServerBackend
from omniscope_jupyter.notebook.magics import OmniplugMagics, load

T = TypeVar("T")

#: A plugin that prints, reports progress, sleeps ``sleep`` seconds and doubles its input.
CHATTY = '''
import time


class Chatty:
    def __init__(self, context):
        self.context = context

    def execute(self, input_data):
        data = input_data["data"]
        print("starting on", len(data), "rows", flush=True)
        self.context["progress"](0.5, "halfway")
        time.sleep(float(input_data["parameters"].get("sleep", 0)))
        print("done")
        factor = self.context["config"]["factor"]
        return {"data": data * factor, "metadata": {}, "logs": ["scaled"], "warnings": [],
                "errors": []}
'''
CHATTY_MANIFEST = {
    "name": "chatty",
    "version": "1.0.0",
    "author": "Tests",
    "description": "Prints, reports progress, sleeps, then scales its input",
    "language": "python",
    "entry_point": "chatty.py",
    "extension_points": ["analysis"],
    "permissions": ["read_data", "write_data"],
    "config": {
        "factor": {"type": "number", "default": 2, "description": "what to multiply by"},
    },
}


def write_plugin(folder: Path, manifest: dict[str, Any], source: str) -> Path:
    """A plugin folder with ``manifest`` and its entry file holding ``source``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / str(manifest["entry_point"])).write_text(source)
    return folder


@pytest.fixture
def chatty(tmp_path: Path) -> Path:
    return write_plugin(tmp_path / "chatty", CHATTY_MANIFEST, CHATTY)


@pytest.fixture
def core(tmp_path: Path) -> Iterator[PluginSystem]:
    core = open_system(str(tmp_path / "kernel-store"), user="analyst")
    yield core
    core.close()


def make_shell(client: Any) -> Any:
    """An IPython shell with %omniplug loaded (as %load_ext does) on ``client``."""
    ip = InteractiveShell.instance()
    load(ip, client).live = "print"
    return ip


@pytest.fixture
def shell(core: PluginSystem) -> Iterator[Any]:
    ip = make_shell(LocalBackend(core))
    yield ip
    InteractiveShell.clear_instance()


def magics_of(ip: Any) -> OmniplugMagics:
    return next(m for m in ip.configurables if isinstance(m, OmniplugMagics))


@dataclass
class Server:
    """The in-process server: its URL (with base_url), token, and its own plugin system."""

    url: str
    token: str
    system: PluginSystem

    def backend(self) -> ServerBackend:
        return ServerBackend(self.url, self.token)


@pytest.fixture
def server(jp_serverapp: Any, http_server: Any, jp_base_url: str) -> Server:
    app = jp_serverapp
    return Server(
        url=f"http://127.0.0.1:{app.port}{jp_base_url}",
        token=app.identity_provider.token,
        system=app.web_app.settings["omniscope_system"],
    )


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn`` on a thread, so the in-process server can answer it."""
    return await asyncio.to_thread(fn, *args, **kwargs)
