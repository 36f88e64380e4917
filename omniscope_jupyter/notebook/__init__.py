"""The notebook layer: ``%omniplug`` magics, the marketplace panel and ``RunPanel`` forms.

Both talk to one client (``client.py``): the Jupyter server's REST API when the kernel has a
server, else the plugin system in the kernel.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext omniscope_jupyter`` registers ``%omniplug`` (with ``%config`` and completion)."""
    from .magics import load

    load(ipython)


def __getattr__(name: str) -> Any:
    """``RunPanel`` and ``MarketplacePanel`` import ipywidgets only when asked for."""
    if name == "RunPanel":
        from .runpanel import RunPanel

        return RunPanel
    if name == "MarketplacePanel":
        from .widgets import MarketplacePanel

        return MarketplacePanel
    raise AttributeError(name)
