"""OmniScope plugin system for Jupyter: analysis plugins in Python or R, run in Docker sandboxes."""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import OmniscopeApp

    return [{"module": "omniscope_jupyter", "app": OmniscopeApp}]


__all__ = ["__version__"]
