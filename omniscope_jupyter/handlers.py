"""REST handlers of ``/api/plugins/...``: parse the request, call the core, write JSON.

Every verb is ``@web.authenticated`` then ``@authorized`` on the resource ``omniscope:plugins``.
Domain errors (``errors.PluginError``) become their status code and a JSON
``{"message", "reason", ...details}`` body in one place: ``PluginsAPIHandler.write_error``.
Blocking work (disk, database, Docker, scans) runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.http1connection import HTTP1Connection

from .errors import Forbidden, InvalidRequest, PluginError
from .extension_points import EXTENSION_POINTS
from .local import Core
from .manager import PluginManager
from .sdk import create_project
from .upload import MultipartUpload

AUTH_RESOURCE = "omniscope:plugins"
T = TypeVar("T")


class PluginsAPIHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every handler: auth resource, JSON helpers, error mapping."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> PluginManager:
        return self.settings["omniscope_manager"]

    @property
    def core(self) -> Core:
        return self.settings["omniscope_core"]

    @property
    def username(self) -> str:
        user = self.current_user
        return getattr(user, "username", None) or str(user or "")

    async def in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking core work off the event loop."""
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object body; an empty body is ``{}``."""
        return _parse_object(self.request.body)

    async def large_json_body(self) -> dict[str, Any]:
        """``json_body`` parsed in a thread: for bodies that carry data (execute)."""
        return await self.in_thread(_parse_object, self.request.body)

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    async def reply_large(self, payload: Any, status: int = 200) -> None:
        """``reply`` serialised in a thread: for answers that carry result data."""
        text = await self.in_thread(json.dumps, payload, default=str)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        await self.finish(text)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Domain errors answer their own status with ``message`` and details; bugs stay 500."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, PluginError):
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json")
            body = {"message": exc.message, "reason": type(exc).__name__, **exc.details}
            self.finish(json.dumps(body, default=str))
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, PluginError):
            self.log.info("%s %s: %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)

    def query_flag(self, name: str) -> bool | None:
        value = self.get_query_argument(name, None)
        if value is None or value == "":
            return None
        if value.lower() in {"1", "true", "yes"}:
            return True
        if value.lower() in {"0", "false", "no"}:
            return False
        raise InvalidRequest(f"Query parameter {name!r} must be true or false, not {value!r}.")

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise InvalidRequest(f"Query parameter {name!r} must be an integer.") from None
        if not lo <= number <= hi:
            raise InvalidRequest(f"Query parameter {name!r} must be between {lo} and {hi}.")
        return number


@web.stream_request_body
class StreamingUploadHandler(PluginsAPIHandler):
    """Streams a multipart ``file`` to a staging folder under the upload cap, after auth.

    Anonymous, unauthorized and announced-too-large uploads are refused in ``prepare``, before
    a byte of body is received. Subclasses call ``uploaded_file()`` in ``post``; the staging
    folder is removed when the request finishes.
    """

    _upload: MultipartUpload | None = None
    _upload_error: PluginError | None = None
    _staging: Path | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method != "POST":
            return
        if not self.current_user:
            raise web.HTTPError(403)
        allowed = await _maybe_await(
            self.authorizer.is_authorized(self, self.current_user, "write", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"User is not authorized to write on {AUTH_RESOURCE}.")
        cap = self.settings["omniscope_max_upload_bytes"]
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap + 64 * 1024:
            raise web.HTTPError(413, f"The upload exceeds the {cap}-byte limit.")
        connection = self.request.connection
        assert isinstance(connection, HTTP1Connection)  # streaming bodies exist on HTTP/1 only
        connection.set_max_body_size(cap + 64 * 1024)
        self._staging = self.manager.new_staging_dir()
        self._upload = MultipartUpload(
            self.request.headers.get("Content-Type", ""), self._staging / "upload.tar", cap
        )

    def data_received(self, chunk: bytes) -> None:
        if self._upload is None or self._upload_error is not None:
            return
        try:
            self._upload.feed(chunk)
        except PluginError as e:
            self._upload_error = e

    def uploaded_file(self) -> Path:
        """The received archive; raises the upload's error (413, 400) if it failed."""
        assert self._upload is not None
        if self._upload_error is not None:
            raise self._upload_error
        return self._upload.finish()

    def upload_field(self, name: str, default: str = "") -> str:
        """A small text field of the multipart form, else the query argument."""
        assert self._upload is not None
        return self._upload.fields.get(name, self.get_query_argument(name, default))

    def on_finish(self) -> None:
        self._discard_upload()

    def on_connection_close(self) -> None:
        # A client that hangs up mid-body never reaches on_finish: clean up here too.
        self._discard_upload()
        super().on_connection_close()

    def _discard_upload(self) -> None:
        if self._upload is not None:
            self._upload.close()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None


class InstallHandler(StreamingUploadHandler):
    """``POST /api/plugins/install``: multipart ``file`` (and optional ``force``)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        package = self.uploaded_file()
        force = self.upload_field("force", "false").lower() in {"1", "true", "yes"}
        if force and not await _maybe_await(
            self.authorizer.is_authorized(
                self, self.current_user, "execute", AUTH_RESOURCE + ":force"
            )
        ):
            raise Forbidden("You are not authorized to force an install past the scan.")
        result = await self.in_thread(
            self.manager.install,
            package,
            user=self.username,
            force=force,
            progress=lambda step, detail: self.log.info("install %s: %s", step, detail),
        )
        self.reply(result, 201)


def _parse_object(raw: bytes) -> dict[str, Any]:
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidRequest(f"The request body is not valid JSON: {e}.") from e
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


class ListHandler(PluginsAPIHandler):
    """``GET /api/plugins/list?enabled=&category=&language=&extension_point=``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        plugins = await self.in_thread(
            self.manager.list_plugins,
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
        self.reply(await self.in_thread(self.manager.details, plugin_id))

    @web.authenticated
    @authorized
    async def delete(self, plugin_id: str) -> None:
        self.reply(await self.in_thread(self.core.uninstall, plugin_id, user=self.username))


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
                self.manager.set_enabled, plugin_id, self.enabled, user=self.username
            )
        )


class UpdateHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/update {"target_version"?}``."""

    @web.authenticated
    @authorized
    async def post(self, plugin_id: str) -> None:
        target = self.json_body().get("target_version")
        self.reply(await self.in_thread(self.core.update, plugin_id, target, user=self.username))


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
                self.manager.rollback,
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
        history = await self.in_thread(self.manager.history, plugin_id)
        self.reply({"plugin_id": plugin_id, "history": history})


class ScanReportHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/scan?version=``: the whole scan report."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        version = self.get_query_argument("version", None)
        self.reply(await self.in_thread(self.manager.scan_report, plugin_id, version))


class ExecuteHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/execute``: run in the sandbox; ``{"async": true}`` answers 202."""

    @web.authenticated
    @authorized(action="execute")
    async def post(self, plugin_id: str) -> None:
        body = await self.large_json_body()
        target = await self.in_thread(self.manager.installed, plugin_id)
        answer = await self.core.executions.execute(target, body, user=self.username)
        await self.reply_large(answer, 202 if body.get("async") else 200)


class ExecutionsHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/executions?page=&page_size=``: the execution history."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        page = self.query_int("page", 1, 1, 1_000_000)
        page_size = self.query_int("page_size", 20, 1, 200)
        self.reply(
            await self.in_thread(self.core.executions_page, plugin_id, page, page_size)
        )


class ExecutionHandler(PluginsAPIHandler):
    """``GET /api/plugins/{id}/executions/{execution_id}``: poll one execution."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str, execution_id: str) -> None:
        await self.reply_large(await self.core.executions.get(plugin_id, execution_id))


class CancelHandler(PluginsAPIHandler):
    """``POST /api/plugins/{id}/executions/{execution_id}/cancel``: kill and remove its container."""

    @web.authenticated
    @authorized(action="execute")
    async def post(self, plugin_id: str, execution_id: str) -> None:
        await self.reply_large(await self.core.executions.cancel(plugin_id, execution_id))


class ExtensionPointsHandler(PluginsAPIHandler):
    """``GET /api/plugins/extension-points``: the 10 points with their contracts."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        points = [p.to_dict() for p in EXTENSION_POINTS]
        self.reply({"extension_points": points, "count": len(points)})


class SdkCreateHandler(PluginsAPIHandler):
    """``POST /api/plugins/sdk/create``: scaffold a plugin project under the SDK root dir."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        root = Path(self.settings["omniscope_sdk_root_dir"])
        self.reply(await self.in_thread(create_project, root, self.json_body()), 201)


_ID = r"(?P<plugin_id>[^/]+)"
_EXECUTION = r"(?P<execution_id>[^/]+)"


def route_table() -> list[tuple[str, type[PluginsAPIHandler], dict[str, Any]]]:
    """Routes relative to ``/api/plugins``; fixed words come before ``{plugin_id}``."""
    from .marketplace_handlers import marketplace_routes

    return [
        *marketplace_routes(),
        ("/install", InstallHandler, {}),
        ("/list", ListHandler, {}),
        ("/extension-points", ExtensionPointsHandler, {}),
        ("/sdk/create", SdkCreateHandler, {}),
        (f"/{_ID}", PluginHandler, {}),
        (f"/{_ID}/enable", EnableHandler, {"enabled": True}),
        (f"/{_ID}/disable", EnableHandler, {"enabled": False}),
        (f"/{_ID}/update", UpdateHandler, {}),
        (f"/{_ID}/rollback", RollbackHandler, {}),
        (f"/{_ID}/history", HistoryHandler, {}),
        (f"/{_ID}/scan", ScanReportHandler, {}),
        (f"/{_ID}/execute", ExecuteHandler, {}),
        (f"/{_ID}/executions", ExecutionsHandler, {}),
        (f"/{_ID}/executions/{_EXECUTION}", ExecutionHandler, {}),
        (f"/{_ID}/executions/{_EXECUTION}/cancel", CancelHandler, {}),
    ]
