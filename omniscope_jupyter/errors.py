"""Domain errors of the plugin system.

The core raises these; the HTTP layer maps each to its status code in one place
(``handlers.APIBase.write_error``) and the CLI turns them into one clear line with exit code 2.
Each carries the HTTP status it stands for so that mapping is a lookup, not a chain of ``if``.
"""

from __future__ import annotations

from typing import Any


class PluginError(Exception):
    """Base of every error a user can cause or fix; never a bug."""

    status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Extra JSON-able fields sent beside ``message`` (e.g. ``problems``, ``report``).
        self.details = details


class InvalidPackage(PluginError):
    """The uploaded archive or its manifest is not acceptable (400)."""

    status = 400


class InvalidRequest(PluginError):
    """The request body or its parameters are malformed (400)."""

    status = 400


class Forbidden(PluginError):
    """The caller may not do this (403)."""

    status = 403


class NotFound(PluginError):
    """Unknown plugin, version or execution (404)."""

    status = 404


class Conflict(PluginError):
    """The request conflicts with the current state (409)."""

    status = 409


class ChecksumMismatch(PluginError):
    """An archive differs from its published sha256 (422); nothing was installed."""

    status = 422


class ArchiveMismatch(PluginError):
    """An archive's manifest names another plugin or version than the catalog entry it was
    fetched as (422); nothing was installed."""

    status = 422


class TooLarge(PluginError):
    """The upload or its decompressed content exceeds a configured cap (413)."""

    status = 413


class ScanRefused(PluginError):
    """The security scan found blocking problems (422); ``details['report']`` holds the report."""

    status = 422


class SandboxUnavailable(PluginError):
    """The Docker engine (or a runner image) cannot be reached (503)."""

    status = 503


class RemoteUnavailable(PluginError):
    """A remote marketplace could not be reached or answered an error (502)."""

    status = 502


class TooManyRequests(PluginError):
    """Too many runs are queued, for this user or for the server (429); retry later."""

    status = 429
