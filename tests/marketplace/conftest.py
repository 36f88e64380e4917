"""Marketplace test fixtures: two identities (and an admin) on one server, publish helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer

from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.marketplace import Marketplace
from omniscope_jupyter.web.marketplace import ADMIN_RESOURCE

from ..api import call
from ..helpers import multipart
from .helpers import HeaderIdentityProvider, as_user


class CurationByAdminAuthorizer(Authorizer):
    """Everyone may use the API; only the user ``admin`` holds the marketplace-admin resource."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource == ADMIN_RESOURCE:
            return getattr(user, "username", "") == "admin"
        return True


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "ServerApp": {
            **jp_server_config["ServerApp"],
            "identity_provider_class": HeaderIdentityProvider,
            "authorizer_class": CurationByAdminAuthorizer,
        },
    }


Api = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """``await api(method, *path, user=, body=, params=)`` → (status, JSON)."""

    async def fetch(method: str, *path: str, user: str = "alice", **kw: Any) -> tuple[int, Any]:
        headers = {**kw.pop("headers", {}), **as_user(user)}
        return await call(jp_fetch, method, *path, headers=headers, **kw)

    return fetch


@pytest.fixture
def publish(jp_fetch: Any) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """``await publish(archive, user="alice")`` → (status, JSON) of the publish route."""

    async def send(archive: Path, user: str = "alice") -> tuple[int, Any]:
        body, ctype = multipart(archive)
        return await call(
            jp_fetch, "POST", "marketplace", "publish", body=body,
            headers={"Content-Type": ctype, **as_user(user)},
        )

    return send


@pytest.fixture
def market(jp_serverapp: Any) -> Marketplace:
    """The server's marketplace core (to inspect state, or to swap a configured one in)."""
    market: Marketplace = jp_serverapp.web_app.settings["omniscope_system"]._marketplace
    return market


@pytest.fixture
def core(jp_serverapp: Any) -> PluginSystem:
    """The server's plugin system, as the handlers call it."""
    found: PluginSystem = jp_serverapp.web_app.settings["omniscope_system"]
    return found
