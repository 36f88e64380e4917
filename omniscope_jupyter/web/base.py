"""The base of every REST handler: auth resource, JSON helpers, one error mapping.

Every verb of every handler is ``@web.authenticated`` then ``@authorized`` on the resource
``omniscope:plugins`` (``read`` for GET, ``write`` for changes, ``execute`` to run). Domain
errors (``errors.PluginError``) become their status code and a JSON ``{"message", "reason",
...details}`` body here, in ``write_error``; anything else is a bug and stays a 500 with a log
entry. Handlers only parse the request and call ``PluginSystem``; blocking work runs in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from .. import jsonsafe
from ..core.system import PluginSystem
from ..errors import InvalidRequest, PluginError
from .executors import WorkPools

AUTH_RESOURCE = "omniscope:plugins"
T = TypeVar("T")
#: A JSON body up to this size is parsed on the event loop (well under a millisecond).
SMALL_BODY_BYTES = 64 * 1024
#: An answer of at most this many values, none a long text, is serialised on the event loop.
SMALL_ANSWER_VALUES = 2000


def _is_small(value: Any, limit: int = SMALL_ANSWER_VALUES) -> bool:
    """Whether ``value`` holds at most ``limit`` values and no text over 4 KiB (a bounded
    walk: it stops at the first value past the limit)."""
    stack = [value]
    for _ in range(limit):
        if not stack:
            return True
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, str) and len(item) > 4096:
            return False
    return not stack


class PluginsAPIHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every handler: auth resource, JSON helpers, error mapping."""

    auth_resource = AUTH_RESOURCE

    @property
    def system(self) -> PluginSystem:
        """The plugin system of this server (``config.make_system``)."""
        return self.settings["omniscope_system"]

    async def is_authorized_for(self, action: str, resource: str) -> bool:
        """Whether the current user may ``action`` on ``resource`` (sync or async authorizer)."""
        return bool(
            await maybe_await(
                self.authorizer.is_authorized(self, self.current_user, action, resource)
            )
        )

    @property
    def username(self) -> str:
        user = self.current_user
        return getattr(user, "username", None) or str(user or "")

    async def in_thread(
        self, fn: Callable[..., T], *args: Any, work: str = "read", **kwargs: Any
    ) -> T:
        """Run blocking core work off the event loop, in the pool for its kind of ``work``.

        Kinds (``executors.WORK_KINDS``): ``read`` (quick store reads), ``install`` (scans,
        installs, publishes, updates), ``remote`` (calls to other marketplaces), ``data``
        (encoding and decoding run data). A kind's pool full of slow work never delays another's.
        """
        pools: WorkPools = self.settings["omniscope_work_pools"]
        return await pools.run(work, functools.partial(fn, *args, **kwargs))

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object body; an empty body is ``{}``."""
        return parse_object(self.request.body)

    async def large_json_body(self) -> dict[str, Any]:
        """``json_body`` parsed in a thread when it is large: for bodies that carry data
        (execute); a small one is parsed here, as a thread hop would cost more."""
        if len(self.request.body) <= SMALL_BODY_BYTES:
            return parse_object(self.request.body)
        return await self.in_thread(parse_object, self.request.body, work="data")

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    async def reply_large(self, payload: Any, status: int = 200) -> None:
        """``reply`` serialised in a thread when it is large: for answers that carry result
        data (a small one is serialised here, as a thread hop would cost more)."""
        if _is_small(payload):
            text = json.dumps(payload, default=str)
        else:
            text = await self.in_thread(json.dumps, payload, default=str, work="data")
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
            self.finish(self._redact(json.dumps(body, default=str)))
            return
        super().write_error(status_code, **kwargs)

    def _redact(self, text: str) -> str:
        """``text`` without the host's folders (store, staging, working dir, temp, home).

        Error messages quote paths from deep in the core (a staging path, the projects
        folder, pip's output); a client learns nothing of the host's layout from them.
        """
        folders = {
            self.system.store_dir: "<store>",
            Path(self.settings["omniscope_sdk_root_dir"]): "<root_dir>",
            Path.cwd(): "<server>",
            Path(tempfile.gettempdir()): "<tmp>",
            self.system.run_dir: "<runs>",
            Path.home(): "<home>",
        }
        # Longest first, so the store inside the home folder is named as the store.
        for folder, name in sorted(folders.items(), key=lambda kv: -len(str(kv[0]))):
            for form in {str(folder), str(folder.resolve())}:
                if len(form) > 1:
                    text = text.replace(form, name)
        return text

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


def parse_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; any malformed, too deep or too large body is a 400."""
    if not raw or not raw.strip():
        return {}
    try:
        body = jsonsafe.loads(raw, what="The request body")
    except jsonsafe.UnsafeJSON as e:
        raise InvalidRequest(f"{e}.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


async def maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value
