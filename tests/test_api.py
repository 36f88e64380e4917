"""The REST API of issue 2, through a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.web.routes import route_table

from .api import assert_error, call, upload

pytestmark = pytest.mark.timeout(60)


async def test_install_answers_the_contract_and_plugin_starts_disabled(
    jp_fetch: Any, package: Callable[..., Path]
) -> None:
    status, body = await upload(jp_fetch, package())
    assert status == 201, body
    assert {"plugin_id", "name", "version", "enabled", "scan", "dependencies"} <= set(body)
    assert body["plugin_id"] == "my_plugin" and body["version"] == "1.0.0"
    assert body["enabled"] is False and body["scan"]["passed"] is True


async def test_lifecycle_enable_list_details_disable_uninstall(
    jp_fetch: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    await upload(jp_fetch, package())
    status, body = await call(jp_fetch, "POST", "my_plugin", "enable")
    assert (status, body["enabled"]) == (200, True)
    status, body = await call(jp_fetch, "GET", "list")
    assert status == 200 and [p["plugin_id"] for p in body["plugins"]] == ["my_plugin"]
    status, body = await call(jp_fetch, "GET", "list", params={"enabled": "false"})
    assert body["plugins"] == []
    for key, value, hit in (
        ("category", "analysis", 1),
        ("category", "visualization", 0),
        ("language", "python", 1),
        ("language", "r", 0),
        ("extension_point", "analysis", 1),
        ("extension_point", "data_import", 0),
    ):
        _, body = await call(jp_fetch, "GET", "list", params={key: value})
        assert body["count"] == hit, (key, value)
    status, details = await call(jp_fetch, "GET", "my_plugin")
    assert status == 200
    assert details["manifest"]["name"] == "my_plugin" and details["versions"] == ["1.0.0"]
    assert [h["action"] for h in details["history"]] == ["install", "enable"]
    assert details["scan"]["passed"] is True
    status, body = await call(jp_fetch, "POST", "my_plugin", "disable")
    assert (status, body["enabled"]) == (200, False)
    status, body = await call(jp_fetch, "DELETE", "my_plugin")
    assert status == 200 and body["versions"] == ["1.0.0"]
    assert not (store_dir / "versions" / "my_plugin").exists()
    status, body = await call(jp_fetch, "GET", "my_plugin")
    assert_error(status, body, 404, "my_plugin")


async def test_versions_update_rollback_and_wrong_direction(
    jp_fetch: Any, package: Callable[..., Path]
) -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        status, body = await upload(jp_fetch, package(version=version))
        assert status == 201, body
        assert body["active_version"] == "1.0.0"  # a new upload never switches
    status, body = await call(jp_fetch, "POST", "my_plugin", "update", body={"target_version": "1.1.0"})
    assert (status, body["active_version"], body["previous_version"]) == (200, "1.1.0", "1.0.0")
    # Default update: the newest installed, pre-releases ordered by semver.
    status, body = await call(jp_fetch, "POST", "my_plugin", "update", body={})
    assert (status, body["active_version"]) == (200, "2.0.0-rc.1")
    status, body = await call(jp_fetch, "POST", "my_plugin", "update", body={"target_version": "1.0.0"})
    assert_error(status, body, 409, "use rollback")
    status, body = await call(
        jp_fetch, "POST", "my_plugin", "rollback",
        body={"target_version": "1.0.0", "reason": "Bug in new version"},
    )
    assert (status, body["active_version"]) == (200, "1.0.0")
    status, body = await call(jp_fetch, "POST", "my_plugin", "rollback", body={"target_version": "1.1.0"})
    assert_error(status, body, 409, "use update")
    status, body = await call(jp_fetch, "POST", "my_plugin", "rollback", body={})
    assert_error(status, body, 409, "no older installed version")
    status, body = await call(jp_fetch, "POST", "my_plugin", "update", body={"target_version": "9.9.9"})
    assert_error(status, body, 404, "no installed version 9.9.9")
    status, body = await call(jp_fetch, "POST", "my_plugin", "update", body={"target_version": "soon"})
    assert_error(status, body, 400, "not a semantic version")
    _, history = await call(jp_fetch, "GET", "my_plugin", "history")
    last = history["history"][-1]
    assert (last["action"], last["from_version"], last["to_version"], last["reason"]) == (
        "rollback", "2.0.0-rc.1", "1.0.0", "Bug in new version",
    )


async def test_reupload_of_an_installed_version_is_409(
    jp_fetch: Any, package: Callable[..., Path]
) -> None:
    await upload(jp_fetch, package())
    status, body = await upload(jp_fetch, package())
    assert_error(status, body, 409, "already installed")


async def test_invalid_manifest_is_400_listing_every_problem(
    jp_fetch: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    status, body = await upload(
        jp_fetch, package(version="one", extension_points=["nowhere"], permissions=["root"])
    )
    assert_error(status, body, 400, "3 problem(s)")
    assert len(body["problems"]) == 3
    assert list((store_dir / "staging").iterdir()) == []
    assert not (store_dir / "versions" / "my_plugin").exists()


async def test_bad_uploads_are_400(jp_fetch: Any, tmp_path: Path) -> None:
    status, body = await call(jp_fetch, "POST", "install", body=b"{}", headers={"Content-Type": "application/json"})
    assert_error(status, body, 400, "multipart/form-data")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    status, body = await upload(jp_fetch, junk)
    assert_error(status, body, 400, "not a readable tar archive")
    status, body = await call(jp_fetch, "POST", "my_plugin", "rollback", body=b"{not json")
    assert_error(status, body, 400, "not valid JSON")


@pytest.mark.omniscope_config(max_upload_bytes=20_000)
async def test_upload_over_the_cap_is_413(jp_fetch: Any, package: Callable[..., Path], store_dir: Path) -> None:
    big = package(files={"blob.bin": bytes(range(256)) * 400})  # incompressible enough
    big.write_bytes(big.read_bytes() + __import__("os").urandom(30_000))
    status, body = await upload(jp_fetch, big)
    assert_error(status, body, 413, "limit")
    assert list((store_dir / "staging").iterdir()) == []


async def test_extension_points_lists_the_ten_with_contracts(jp_fetch: Any) -> None:
    status, body = await call(jp_fetch, "GET", "extension-points")
    assert status == 200 and body["count"] == 10
    names = [p["name"] for p in body["extension_points"]]
    assert names[:3] == ["data_import", "data_export", "preprocessing"] and "integration" in names
    assert all(p["description"] and p["input"] and p["output"] for p in body["extension_points"])


async def test_archive_attack_through_rest_is_400_naming_the_member(
    jp_fetch: Any, tmp_path: Path, store_dir: Path
) -> None:
    import io
    import tarfile

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("my_plugin/../../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    status, body = await upload(jp_fetch, evil)
    assert_error(status, body, 400, "my_plugin/../../escape.py")
    assert not (store_dir.parent / "escape.py").exists()


def _concrete(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: {"plugin_id": "my_plugin"}.get(m[1], "x"), pattern)


def _all_routes() -> list[tuple[str, str]]:
    out = []
    for pattern, handler, _ in route_table():
        for method in ("get", "post", "delete", "put", "patch"):
            if method in vars(handler) or any(method in vars(b) for b in handler.__mro__[1:2]):
                out.append((method.upper(), _concrete(pattern)))
    return out


async def test_every_route_refuses_unauthenticated_calls(jp_fetch: Any, package: Callable[..., Path]) -> None:
    await upload(jp_fetch, package())
    routes = _all_routes()
    assert len(routes) >= 12
    for method, path in routes:
        status, body = await call(
            jp_fetch, method, *path.strip("/").split("/"),
            headers={"Authorization": "token wrong"},
        )
        assert status in (401, 403), (method, path, status, body)
        assert "message" in body


async def test_aborted_upload_leaves_nothing_behind(
    jp_fetch: Any, jp_http_port: int, jp_auth_header: dict[str, str], jp_base_url: str,
    store_dir: Path,
) -> None:
    await call(jp_fetch, "GET", "list")  # the server is up
    boundary = "abort-boundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"x.tar.gz\"\r\n\r\n"
    ).encode() + b"\0" * 5000
    request = (
        f"POST {jp_base_url.rstrip('/')}/api/plugins/install HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{jp_http_port}\r\n"
        f"Authorization: {jp_auth_header['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: 15000\r\n\r\n"
    ).encode()
    _reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write(request + head)
    await writer.drain()
    for _ in range(50):  # the handler has started receiving the body
        if list((store_dir / "staging").iterdir()):
            break
        await asyncio.sleep(0.05)
    assert list((store_dir / "staging").iterdir()), "the upload never started"
    writer.close()  # hang up mid-body
    await writer.wait_closed()
    for _ in range(100):
        if not list((store_dir / "staging").iterdir()):
            break
        await asyncio.sleep(0.05)
    assert list((store_dir / "staging").iterdir()) == []
