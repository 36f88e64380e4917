"""OmniScope plugin system for Jupyter: analysis plugins in Python or R, run in Docker sandboxes."""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .web.extension import OmniscopeApp

    return [{"module": "omniscope_jupyter", "app": OmniscopeApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension, so `jupyter labextension develop` can link it."""
    return [{"src": "labextension", "dest": "omniscope-jupyter"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext omniscope_jupyter``: the ``%omniplug`` magic (see ``notebook/``)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


__all__ = ["__version__", "load_ipython_extension"]
