"""The token holder is one stable user: a second rating replaces the first, history names them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.web.identity import TokenUserIdentityProvider

from .api import call, upload


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "ServerApp": {
            **jp_server_config["ServerApp"],
            "identity_provider_class": TokenUserIdentityProvider,
        },
        "TokenUserIdentityProvider": {"token_username": "ana"},
    }


async def test_token_calls_are_one_user(jp_fetch: Any, package: Callable[..., Path]) -> None:
    status, body = await upload(jp_fetch, package())
    assert status == 201, body
    _, first = await call(jp_fetch, "POST", "my_plugin", "rate", body={"rating": 2})
    _, second = await call(jp_fetch, "POST", "my_plugin", "rate", body={"rating": 5})
    assert second["rating_count"] == 1 and second["replaced"] is True, (first, second)
    _, details = await call(jp_fetch, "GET", "my_plugin")
    assert details["history"][0]["user"] == "ana"


async def test_login_form_with_the_token_signs_in(
    jp_fetch: Any, jp_serverapp: Any, jp_base_url: str, http_server_client: Any
) -> None:
    """The /login page takes the token (it answered 500: the provider lacked user_for_token)."""
    from urllib.parse import urlencode

    page = await http_server_client.fetch(f"{jp_base_url}login", raise_error=False)
    assert page.code == 200
    xsrf = next(
        c.split(";")[0].split("=", 1)[1]
        for c in page.headers.get_list("Set-Cookie")
        if c.startswith("_xsrf=")
    )
    form = urlencode({"password": jp_serverapp.identity_provider.token, "_xsrf": xsrf})
    answer = await http_server_client.fetch(
        f"{jp_base_url}login",
        method="POST",
        body=form,
        headers={"Cookie": f"_xsrf={xsrf}"},
        follow_redirects=False,
        raise_error=False,
    )
    assert answer.code == 302, answer.body[:500]
    assert any(c.startswith("username-") for c in answer.headers.get_list("Set-Cookie"))
