"""An authorizer that denies writes makes every changing route answer 403 and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.core.lifecycle import PluginManager

from .api import assert_error, call, upload
from .doubles import ReadOnlyAuthorizer


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {**jp_server_config, "ServerApp": {**jp_server_config["ServerApp"], "authorizer_class": ReadOnlyAuthorizer}}


async def test_writes_are_403_reads_allowed(
    jp_fetch: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    # Seed the store directly: the API may not write here.
    manager = PluginManager(store_dir)
    manager.install(package())
    manager.install(package(version="1.1.0"))
    manager.close()

    status, body = await upload(jp_fetch, package(version="2.0.0"))
    assert_error(status, body, 403)
    for verb, body_ in (("enable", None), ("update", {"target_version": "1.1.0"}), ("disable", None)):
        status, body = await call(jp_fetch, "POST", "my_plugin", verb, body=body_)
        assert_error(status, body, 403)
    status, body = await call(jp_fetch, "POST", "my_plugin", "rollback", body={"target_version": "1.0.0"})
    assert_error(status, body, 403)
    status, body = await call(jp_fetch, "DELETE", "my_plugin")
    assert_error(status, body, 403)
    status, body = await call(jp_fetch, "POST", "sdk", "create", body={"name": "x_y"})
    assert_error(status, body, 403)

    status, details = await call(jp_fetch, "GET", "my_plugin")
    assert status == 200
    assert (details["versions"], details["active_version"], details["enabled"]) == (
        ["1.0.0", "1.1.0"], "1.0.0", False,
    )
