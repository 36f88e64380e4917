"""REST handlers of installed plugins, runs and the SDK (``/api/plugins/...``).

Thin: each parses its request and calls one ``PluginSystem`` method (see ``base.py`` for auth
and error mapping).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..core.system import ARROW_STREAM
from ..errors import Forbidden, InvalidRequest
from .base import AUTH_RESOURCE, PluginsAPIHandler
from .upload import StreamingUploadHandler


class InstallHandler(StreamingUploadHandler):
    """``POST /api/plugins/install``: multipart ``file``; optional flags ``force``, ``dev``,
    ``if_missing``, ``upgrade`` (form fields or query arguments, ``true``/``false``)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        package = self.uploaded_file()
        flags = {name: self.upload_flag(name) for name in ("force", "dev", "if_missing", "upgrade")}
        if flags["force"] and not await self.is_authorized_for(
            "execute", AUTH_RESOURCE + ":force"
        ):
            raise Forbidden("You are not authorized to force an install past the scan.")
        result = await self.in_thread(
            self.system.install,
            package,
            work="install",
            user=self.username,
            progress=lambda step, detail: self.log.info("install %s: %s", step, detail),
            **flags,
        )
        self.reply(result, 201)


class ListHandler(PluginsAPIHandler):
    """``GET /api/plugins/list?enabled=&category=&language=&extension_point=``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        plugins = await self.in_thread(
            self.system.list_plugins,
            enabled=self.query_flag("enabled"),
            category=self.get_query_argument("category", None),
            language=self.get_query_argument("language", None),
            extension_point=self.get_query_argument("extension_point", None),
        )
        self.reply({"plugins": plugins, "count": len(plugins)})


class PluginHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}`` details; ``DELETE`` uninstalls."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        self.reply(await self.in_thread(self.system.details, plugin_id))

    @web.authenticated
    @authorized
    async def delete(self, plugin_id: str) -> None:
        self.reply(await self.in_thread(self.system.uninstall, plugin_id, user=self.username))


class EnableHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/enable`` and ``/disable`` (``enabled`` set by the route)."""

    def initialize(self, enabled: bool, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.enabled = enabled

    @web.authenticated
    @authorized
    async def post(self, plugin_id: str) -> None:
        self.reply(
            await self.in_thread(
                self.system.set_enabled, plugin_id, self.enabled, user=self.username
            )
        )


class UpdateHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/update {"target_version"?}``."""

    @web.authenticated
    @authorized
    async def post(self, plugin_id: str) -> None:
        target = self.json_body().get("target_version")
        self.reply(
            await self.in_thread(
                self.system.update, plugin_id, target, user=self.username, work="install"
            )
        )


class RollbackHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/rollback {"target_version"?, "reason"?}``."""

    @web.authenticated
    @authorized
    async def post(self, plugin_id: str) -> None:
        body = self.json_body()
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise InvalidRequest("reason must be a string.")
        self.reply(
            await self.in_thread(
                self.system.rollback,
                plugin_id,
                body.get("target_version"),
                reason,
                user=self.username,
            )
        )


class HistoryHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/history``: the version history."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        history = await self.in_thread(self.system.history, plugin_id)
        self.reply({"plugin_id": plugin_id, "history": history})


class ScanReportHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/scan?version=``: the whole scan report."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        version = self.get_query_argument("version", None)
        self.reply(await self.in_thread(self.system.scan_report, plugin_id, version))


class ExecuteHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/execute``: run in the sandbox; ``{"async": true}`` answers 202."""

    @web.authenticated
    @authorized(action="execute")
    async def post(self, plugin_id: str) -> None:
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == ARROW_STREAM:  # the input table as Arrow; the rest as query args
            query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
            accept = self.request.headers.get("Accept", ARROW_STREAM)
            answer, arrow = await self.system.execute_arrow(
                plugin_id,
                self.request.body,
                query,
                user=self.username,
                arrow_answer=ARROW_STREAM in accept or "*/*" in accept,
            )
            if arrow is not None:
                self.set_header("X-Omniscope-Execution-Id", str(answer["execution_id"]))
                self.set_header("X-Omniscope-Status", str(answer["status"]))
                # APIHandler.finish sets the Content-Type itself (JSON unless told otherwise).
                await self.finish(arrow, set_content_type=ARROW_STREAM)
                return
            await self.reply_large(answer, 202 if "data" not in answer else 200)
            return
        body = await self.large_json_body()
        answer = await self.system.execute(plugin_id, body, user=self.username)
        await self.reply_large(answer, 202 if body.get("async") else 200)


class ExecutionsHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/executions?page=&page_size=``: the execution history."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        page = self.query_int("page", 1, 1, 1_000_000)
        page_size = self.query_int("page_size", 20, 1, 200)
        self.reply(await self.in_thread(self.system.executions_page, plugin_id, page, page_size))


class ExecutionHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/executions/{execution_id}``: poll one execution."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str, execution_id: str) -> None:
        await self.reply_large(await self.system.execution(plugin_id, execution_id))


class CancelHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/executions/{execution_id}/cancel``: kill and remove its container."""

    @web.authenticated
    @authorized(action="execute")
    async def post(self, plugin_id: str, execution_id: str) -> None:
        await self.reply_large(await self.system.cancel(plugin_id, execution_id))


class ExecutionEventsHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/executions/{execution_id}/events?after=``: server-sent events.

    One SSE event per live event of the run (``event:`` its type, ``id:`` its ``seq``, ``data:``
    the JSON event), ``event: status`` with ``{"status"}`` when it changes (queued, running),
    then ``event: end`` with ``{"status"}`` once the run finished; a client that reconnects
    resumes from ``Last-Event-ID`` (or ``after``).
    """

    #: Seconds between two looks at the run's events; and between keep-alive comments.
    POLL_SECONDS = 0.25
    KEEPALIVE_SECONDS = 15.0

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str, execution_id: str) -> None:
        after = self.query_int("after", 0, 0, 2**62)
        last = self.request.headers.get("Last-Event-ID", "")
        after = max(after, int(last)) if last.isdigit() else after
        events = self.system.execution_events
        batch = await self.in_thread(events, plugin_id, execution_id, after)  # 404 before SSE
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        quiet, status = 0.0, ""
        try:
            while True:
                if batch["status"] != status and not batch["finished"]:
                    status = batch["status"]
                    self.write(f"event: status\ndata: {json.dumps({'status': status})}\n\n")
                for event in batch["events"]:
                    self.write(f"id: {event['seq']}\nevent: {event['type']}\n")
                    self.write(f"data: {json.dumps(event)}\n\n")
                    after = event["seq"]
                if batch["finished"]:
                    self.write(f"event: end\ndata: {json.dumps({'status': batch['status']})}\n\n")
                    break
                quiet = 0.0 if batch["events"] else quiet + self.POLL_SECONDS
                if quiet >= self.KEEPALIVE_SECONDS:
                    self.write(": keep-alive\n\n")
                    quiet = 0.0
                await self.flush()
                await asyncio.sleep(self.POLL_SECONDS)
                batch = await self.in_thread(events, plugin_id, execution_id, after)
            await self.finish(set_content_type="text/event-stream")
        except StreamClosedError:
            pass  # the client went away; nothing to clean up


class ReadmeHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/readme?version=``: the package's README.md, as plain text and
    as safely rendered HTML."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        version = self.get_query_argument("version", None)
        self.reply(await self.in_thread(self.system.readme, plugin_id, version))


class ScanPackageHandler(StreamingUploadHandler):
    """``POST /api/plugins/sdk/scan``: multipart ``file``; the install's scan, nothing stored."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        package = self.uploaded_file()
        self.reply(await self.in_thread(self.system.scan_package, package, work="install"))


class ExtensionPointsHandler(PluginsAPIHandler):
    """``GET /api/plugins/extension-points``: the 10 points with their contracts."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        points = self.system.extension_points()
        self.reply({"extension_points": points, "count": len(points)})


class SdkCreateHandler(PluginsAPIHandler):
    """``POST /api/plugins/sdk/create``: scaffold a plugin project under the SDK root dir."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        root = Path(self.settings["omniscope_sdk_root_dir"])
        self.reply(await self.in_thread(self.system.create_project, root, self.json_body()), 201)
