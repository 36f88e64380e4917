"""A read-only user can search and read the marketplace but changes nothing in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..api import assert_error
from ..doubles import ReadOnlyAuthorizer
from .helpers import HeaderIdentityProvider

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "ServerApp": {
            **jp_server_config["ServerApp"],
            "identity_provider_class": HeaderIdentityProvider,
            "authorizer_class": ReadOnlyAuthorizer,
        },
    }


async def test_reads_allowed_writes_403(
    jp_fetch: Any, api: Any, publish: Any, market: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    market.catalog.publish(package(), user="alice")
    for path in (("marketplace", "featured"), ("marketplace", "categories"),
                 ("marketplace", "plugins", "my_plugin"), ("my_plugin", "reviews")):
        status, _ = await api("GET", *path)
        assert status == 200, path
    r = await jp_fetch("api", "plugins", "marketplace", "plugins", "my_plugin", "versions",
                       "1.0.0", "archive")
    assert r.code == 200 and r.body[:2] == b"\x1f\x8b"
    status, body = await api("POST", "marketplace", "search", body={"query": "plugin"})
    assert status == 200 and body["total"] == 1  # search is a read, though a POST

    status, body = await publish(package(version="2.0.0"))
    assert_error(status, body, 403)
    for path, body_ in (
        (("marketplace", "install"), {"name": "my_plugin"}),
        (("my_plugin", "rate"), {"rating": 5}),
        (("my_plugin", "review"), {"text": "nice"}),
    ):
        status, payload = await api("POST", *path, body=body_)
        assert_error(status, payload, 403)
    status, payload = await api("PUT", "marketplace", "plugins", "my_plugin", "featured",
                                body={"featured": True})
    assert_error(status, payload, 403)

    details = market.catalog.details("my_plugin")
    # The archive download counted; nothing else changed.
    assert (details["versions"], details["featured"], details["downloads"]) == (["1.0.0"], False, 1)
    assert details["rating"]["count"] == 0 and not (store_dir / "versions" / "my_plugin").exists()
