"""Checks of the strings that reach the marketplace from requests, manifests and remotes.

Plugin names and versions become paths and URLs, so they must be spelled as a manifest must
spell them before anything is built from them; free text must be storable and printable.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from semver import Version as SemVer

from ..errors import InvalidRequest
from ..manifest import NAME_RE


def is_plugin_name(name: Any) -> bool:
    """Whether ``name`` is a plugin name as a manifest must spell it (``NAME_RE``)."""
    return isinstance(name, str) and NAME_RE.match(name) is not None


def is_version(version: Any) -> bool:
    """Whether ``version`` is a semantic version as a manifest must spell it."""
    return isinstance(version, str) and len(version) <= 64 and SemVer.is_valid(version)


def check_plugin_ref(name: Any, version: Any = None) -> tuple[str, str | None]:
    """A requested ``name`` and optional ``version``, checked as a manifest checks them.

    Paths are built from both, so anything else (``../x``, ``1.0/../..``) is refused
    (``InvalidRequest``) before it gets near one.
    """
    if not is_plugin_name(name):
        raise InvalidRequest(
            f"name: {str(name)[:80]!r} is not a plugin name (^[a-z][a-z0-9_]{{1,63}}$)."
        )
    if version is not None and not is_version(version):
        raise InvalidRequest(f"version: {str(version)[:80]!r} is not a semantic version.")
    return name, version


def storable(value: Any) -> str:
    """Text as a text column can hold it: lone surrogates (no UTF-8 for them) become ``?``.

    JSON escapes (``"\\ud800"``) in a manifest or a remote's answer make them.
    """
    return str(value).encode("utf-8", "replace").decode("utf-8")


def unprintable(value: str, allowed: str = "") -> bool:
    """Whether ``value`` holds a control character (but ``allowed``) or a lone surrogate.

    Surrogates cannot be stored (UTF-8 has no encoding for them); control characters are
    terminal escapes, not text anyone typed.
    """
    return any(
        unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in value
    )
