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
