"""The REST API on a server whose ``OmniscopeApp.db_url`` points at PostgreSQL (smoke test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..api import call, upload
from ..helpers import multipart

pytestmark = pytest.mark.timeout(120)


async def test_lifecycle_and_marketplace_through_the_api(
    jp_fetch: Any, jp_serverapp: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    manager = jp_serverapp.web_app.settings["omniscope_system"]._manager
    assert manager.engine.dialect.name == "postgresql"

    status, body = await upload(jp_fetch, package(description="Finds quantile drift"))
    assert status == 201, body
    status, body = await upload(jp_fetch, package(version="1.1.0"))
    assert status == 201, body
    status, body = await call(jp_fetch, "POST", "my_plugin", "enable")
    assert (status, body["enabled"]) == (200, True)
    status, body = await call(jp_fetch, "POST", "my_plugin", "update", body={})
    assert (status, body["active_version"]) == (200, "1.1.0")
    status, body = await call(jp_fetch, "POST", "my_plugin", "rollback",
                              body={"target_version": "1.0.0", "reason": "Bug in new version"})
    assert (status, body["active_version"]) == (200, "1.0.0")
    status, body = await call(jp_fetch, "GET", "list")
    assert status == 200 and [p["plugin_id"] for p in body["plugins"]] == ["my_plugin"]
    status, details = await call(jp_fetch, "GET", "my_plugin")
    assert status == 200 and details["installed_at"].endswith("+00:00")
    assert [h["action"] for h in details["history"]] == [
        "install", "install", "enable", "update", "rollback"
    ]

    archive, ctype = multipart(package(name="drift_watch", description="Quantile drift alarms"))
    status, body = await call(jp_fetch, "POST", "marketplace", "publish", body=archive,
                              headers={"Content-Type": ctype})
    assert status in (200, 201), body
    status, body = await call(jp_fetch, "POST", "marketplace", "search",
                              body={"query": "quantil", "sort": "rating"})
    assert status == 200 and [r["name"] for r in body["results"]] == ["drift_watch"], body
    status, body = await call(jp_fetch, "POST", "drift_watch", "rate", body={"rating": 4})
    assert status == 200 and body["rating_average"] == 4.0, body
    status, body = await call(jp_fetch, "POST", "drift_watch", "review",
                              body={"text": "Does what it says.", "rating": 5})
    assert status in (200, 201), body
    status, body = await call(jp_fetch, "GET", "drift_watch", "review",
                              params={"page": "1", "page_size": "20"})
    assert status == 200 and body["total"] == 1, body
    assert (body["reviews"][0]["text"], body["reviews"][0]["rating"]) == ("Does what it says.", 5)

    status, body = await call(jp_fetch, "DELETE", "my_plugin")
    assert (status, body["versions"]) == (200, ["1.0.0", "1.1.0"])
    status, _ = await call(jp_fetch, "GET", "my_plugin")
    assert status == 404
    # Everything went to PostgreSQL: no SQLite file was made in the data dir.
    assert not list(store_dir.glob("*.db"))
