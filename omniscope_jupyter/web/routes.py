"""The route table of ``/api/plugins``: every handler the extension serves, in match order."""

from __future__ import annotations

from typing import Any

from .base import PluginsAPIHandler
from .marketplace import marketplace_routes
from .plugins import (
    CancelHandler,
    EnableHandler,
    ExecuteHandler,
    ExecutionEventsHandler,
    ExecutionHandler,
    ExecutionsHandler,
    ExtensionPointsHandler,
    HistoryHandler,
    InstallHandler,
    ListHandler,
    PluginHandler,
    ReadmeHandler,
    RollbackHandler,
    ScanPackageHandler,
    ScanReportHandler,
    SdkCreateHandler,
    UpdateHandler,
)

#: Every route lives under this prefix.
API_PREFIX = "/api/plugins"
_ID = r"(?P<plugin_id>[^/]+)"
_EXECUTION = r"(?P<execution_id>[^/]+)"


def route_table() -> list[tuple[str, type[PluginsAPIHandler], dict[str, Any]]]:
    """Routes relative to ``/api/plugins``; fixed words come before ``{plugin_id}``."""
    return [
        *marketplace_routes(),
        ("/install", InstallHandler, {}),
        ("/list", ListHandler, {}),
        ("/extension-points", ExtensionPointsHandler, {}),
        ("/sdk/create", SdkCreateHandler, {}),
        ("/sdk/scan", ScanPackageHandler, {}),
        (f"/{_ID}", PluginHandler, {}),
        (f"/{_ID}/enable", EnableHandler, {"enabled": True}),
        (f"/{_ID}/disable", EnableHandler, {"enabled": False}),
        (f"/{_ID}/update", UpdateHandler, {}),
        (f"/{_ID}/rollback", RollbackHandler, {}),
        (f"/{_ID}/history", HistoryHandler, {}),
        (f"/{_ID}/scan", ScanReportHandler, {}),
        (f"/{_ID}/readme", ReadmeHandler, {}),
        (f"/{_ID}/execute", ExecuteHandler, {}),
        (f"/{_ID}/executions", ExecutionsHandler, {}),
        (f"/{_ID}/executions/{_EXECUTION}", ExecutionHandler, {}),
        (f"/{_ID}/executions/{_EXECUTION}/cancel", CancelHandler, {}),
        (f"/{_ID}/executions/{_EXECUTION}/events", ExecutionEventsHandler, {}),
    ]
