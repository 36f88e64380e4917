"""The notebook layer: ``%omniplug`` magics and the ipywidgets marketplace panel."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext omniscope_jupyter`` registers the ``%omniplug`` magic."""
    from .magics import OmniplugMagics

    ipython.register_magics(OmniplugMagics(ipython))
