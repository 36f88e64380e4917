"""Install and update from the catalog: sha256 checked before extraction, downloads counted."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.cli import main
from omniscope_jupyter.config import open_system
from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.errors import Conflict, NotFound
from omniscope_jupyter.marketplace import ChecksumMismatch

from ..api import assert_error

pytestmark = pytest.mark.timeout(60)


async def test_published_by_alice_found_installed_rated_reviewed_and_updated_by_bob(
    api: Any, publish: Any, package: Callable[..., Path]
) -> None:
    archive = package(description="Estimates heteroscedasticity of residual series")
    assert (await publish(archive, user="alice"))[0] == 201
    status, found = await api("POST", "marketplace", "search",
                              body={"query": "heteroscedasticity"}, user="bob")
    assert status == 200 and [r["name"] for r in found["results"]] == ["my_plugin"]
    assert found["results"][0]["publisher"] == "alice"

    status, body = await api("POST", "marketplace", "install", body={"name": "my_plugin"}, user="bob")
    assert status == 201, body
    assert (body["version"], body["enabled"], body["source"]) == ("1.0.0", False, "local")
    assert body["sha256"] == found["results"][0]["sha256"]
    status, details = await api("GET", "my_plugin", user="bob")
    assert details["versions_detail"][0]["installed_by"] == "bob"
    assert details["versions_detail"][0]["sha256"] == body["sha256"]

    assert (await api("POST", "my_plugin", "rate", body={"rating": 4}, user="bob"))[0] == 200
    status, _ = await api("POST", "my_plugin", "review",
                          body={"text": "Clear output.", "version": "1.0.0"}, user="bob")
    assert status == 201

    assert (await publish(package(version="1.1.0"), user="alice"))[0] == 201
    status, found = await api("POST", "marketplace", "search", body={}, user="bob")
    hit = found["results"][0]
    assert (hit["latest_version"], hit["installed_version"], hit["downloads"]) == ("1.1.0", "1.0.0", 1)
    assert hit["rating"] == {"average": 4.0, "count": 1}

    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "version": "1.1.0"}, user="bob")
    assert (status, body["version"], body["active_version"]) == (201, "1.1.0", "1.0.0")
    status, body = await api("POST", "my_plugin", "update", body={"target_version": "1.1.0"},
                             user="bob")
    assert (status, body["active_version"]) == (200, "1.1.0")
    status, catalog = await api("GET", "marketplace", "plugins", "my_plugin", user="bob")
    assert catalog["downloads"] == 2
    assert [v["downloads"] for v in catalog["versions_detail"]] == [1, 1]


async def test_tampered_archive_is_refused_before_extraction_and_nothing_changes(
    api: Any, market: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    market.catalog.publish(package(), user="alice")
    stored = store_dir / "catalog" / "my_plugin" / "1.0.0.tar.gz"
    # Swap in another valid package: it would install fine, only its hash betrays it.
    shutil.copyfile(package(description="trojan"), stored)
    status, body = await api("POST", "marketplace", "install", body={"name": "my_plugin"}, user="bob")
    assert_error(status, body, 422, "does not match its published sha256", "nothing was installed")
    assert (await api("GET", "my_plugin"))[0] == 404
    assert not (store_dir / "versions" / "my_plugin").exists()
    assert list((store_dir / "staging").iterdir()) == []
    status, catalog = await api("GET", "marketplace", "plugins", "my_plugin")
    assert catalog["downloads"] == 0


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({}, 400, "name"),
        ({"name": 3}, 400, "name"),
        ({"name": "my_plugin", "version": "latest"}, 400, "semantic version"),
        ({"name": "my_plugin", "extra": 1}, 400, "extra"),
        ({"name": "ghost"}, 404, "'ghost'"),
        ({"name": "my_plugin", "version": "9.0.0"}, 404, "no published version 9.0.0"),
        ({"name": "my_plugin", "source": "elsewhere"}, 400, "no remote marketplace is named"),
        ({"name": "../../my_plugin"}, 400, "not a plugin name"),
        ({"name": "my_plugin", "version": "1.0.0/../../x"}, 400, "semantic version"),
    ],
)
async def test_bad_install_requests(
    api: Any, market: Any, package: Callable[..., Path], body: dict[str, Any], status: int,
    fragment: str,
) -> None:
    market.catalog.publish(package(), user="alice")
    got, payload = await api("POST", "marketplace", "install", body=body)
    assert_error(got, payload, status, fragment)
    assert (await api("GET", "my_plugin"))[0] == 404


async def test_installing_an_installed_version_is_409(
    api: Any, market: Any, package: Callable[..., Path]
) -> None:
    market.catalog.publish(package(), user="alice")
    assert (await api("POST", "marketplace", "install", body={"name": "my_plugin"}))[0] == 201
    status, body = await api("POST", "marketplace", "install", body={"name": "my_plugin"})
    assert_error(status, body, 409, "already installed")


def test_update_fetches_a_not_yet_installed_target_from_the_catalog(
    core: PluginSystem, package: Callable[..., Path], store_dir: Path
) -> None:
    """``PluginSystem.update`` (the REST route and ``omniplug update``) installs a published target."""
    catalog = core._marketplace.catalog
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        catalog.publish(package(version=version), user="alice")
    catalog.install("my_plugin", "1.0.0", user="bob")
    assert core.update("my_plugin", "1.1.0", user="bob")["active_version"] == "1.1.0"
    # No target: the newest published, because it is newer than every installed version.
    assert core.update("my_plugin", None, user="bob")["active_version"] == "1.2.0"
    assert core.details("my_plugin")["versions"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [v["downloads"] for v in catalog.details("my_plugin")["versions_detail"]] == [1, 1, 1]
    # Nothing to fetch: already at the newest, unknown to the catalog, or plugin not installed.
    with pytest.raises(Conflict, match="no newer installed version"):
        core.update("my_plugin", None, user="bob")
    with pytest.raises(NotFound, match="no installed version 7.0.0"):
        core.update("my_plugin", "7.0.0", user="bob")
    with pytest.raises(NotFound, match="No plugin named 'other_plugin'"):
        core.update("other_plugin", "1.0.0", user="bob")
    assert catalog.version_to_fetch("my_plugin", None, ["1.0.0"]) == "1.2.0"
    assert catalog.version_to_fetch("my_plugin", "1.1.0", ["1.1.0"]) is None
    assert catalog.version_to_fetch("ghost", None, []) is None
    # A tampered target is refused before extraction: nothing installed, nothing counted.
    catalog.publish(package(version="1.3.0"), user="alice")
    (store_dir / "catalog/my_plugin/1.3.0.tar.gz").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatch):
        core.update("my_plugin", "1.3.0", user="bob")
    assert core.details("my_plugin")["active_version"] == "1.2.0"
    assert catalog.details("my_plugin")["downloads"] == 3
    assert list((store_dir / "staging").iterdir()) == []


async def test_update_to_an_older_published_version_is_409_before_anything_is_fetched(
    api: Any, market: Any, package: Callable[..., Path]
) -> None:
    """The direction is checked first: no install of the older version, no download counted."""
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        market.catalog.publish(package(version=version), user="alice")
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "version": "1.2.0"}, user="bob")
    assert status == 201, body
    status, body = await api("POST", "my_plugin", "update", body={"target_version": "1.1.0"},
                             user="bob")
    assert_error(status, body, 409, "1.1.0 is older than the active 1.2.0", "use rollback")
    status, details = await api("GET", "my_plugin", user="bob")
    assert (details["versions"], details["active_version"]) == (["1.2.0"], "1.2.0")
    status, catalog = await api("GET", "marketplace", "plugins", "my_plugin", user="bob")
    assert catalog["downloads"] == 1
    assert [v["downloads"] for v in catalog["versions_detail"]] == [0, 0, 1]


def test_cli_update_fetches_the_target_from_the_catalog(
    tmp_path: Path, package: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``omniplug update p 1.1.0`` answers as REST does: fetched from the catalog, switched."""
    store = tmp_path / "cli-store"
    seeded = open_system(str(store), user="alice")
    try:
        for version in ("1.0.0", "1.1.0"):
            seeded.publish(package(version=version), user="alice")
        seeded.install_from_marketplace({"name": "my_plugin", "version": "1.0.0"})
    finally:
        seeded.close()
    assert main(["update", "my_plugin", "1.1.0", "--data-dir", str(store)]) == 0, (
        capsys.readouterr().err
    )
    assert "my_plugin: 1.0.0 -> 1.1.0" in capsys.readouterr().out
    check = PluginManager(store)
    try:
        details = check.details("my_plugin")
        assert (details["active_version"], details["versions"]) == ("1.1.0", ["1.0.0", "1.1.0"])
        assert details["versions_detail"][1]["installed_by"] == "cli"
    finally:
        check.close()


def test_a_crash_between_move_and_commit_leaves_no_orphan_archive(
    market: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    orphan = store_dir / "catalog" / "my_plugin" / "1.0.0.tar.gz"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a publish killed before its commit")
    assert market.catalog.recover() == [str(orphan)]
    market.catalog.publish(package(), user="alice")  # the version is still publishable


async def test_archive_route_serves_the_published_bytes_with_their_sha256(
    jp_fetch: Any, api: Any, market: Any, package: Callable[..., Path]
) -> None:
    archive = package()
    market.catalog.publish(archive, user="alice")
    r = await jp_fetch("api", "plugins", "marketplace", "plugins", "my_plugin", "versions",
                       "1.0.0", "archive")
    assert r.code == 200 and r.body == archive.read_bytes()
    assert r.headers["Content-Type"] == "application/gzip"
    assert r.headers["X-Content-SHA256"] == market.catalog.details("my_plugin")["sha256"]
    assert market.catalog.details("my_plugin")["downloads"] == 1
    status, body = await api("GET", "marketplace", "plugins", "my_plugin", "versions", "2.0.0",
                             "archive")
    assert_error(status, body, 404, "no published version 2.0.0")
    status, body = await api("GET", "marketplace", "plugins", "ghost")
    assert_error(status, body, 404, "'ghost'")
