"""Small reliability defects: versions equal but for build metadata, host paths in errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..api import assert_error, call, upload


async def test_versions_differing_only_in_build_metadata_are_refused(
    jp_fetch: Any, package: Callable[..., Path]
) -> None:
    status, body = await upload(jp_fetch, package(version="1.0.0+a"))
    assert status == 201, body
    status, body = await upload(jp_fetch, package(version="1.0.0+b"))
    assert_error(status, body, 409, "only in build metadata", "1.0.0+a")
    _, details = await call(jp_fetch, "GET", "my_plugin")
    assert details["versions"] == ["1.0.0+a"]


async def test_errors_do_not_disclose_host_paths(
    jp_fetch: Any, sdk_root: Path, store_dir: Path
) -> None:
    request = {"name": "twice", "language": "python", "author": "a", "description": "d"}
    status, _ = await call(jp_fetch, "POST", "sdk", "create", body=request)
    assert status == 201
    status, body = await call(jp_fetch, "POST", "sdk", "create", body=request)
    assert_error(status, body, 409, "already exists in <root_dir>")
    text = str(body)
    assert str(sdk_root) not in text and str(store_dir.parent) not in text, text


async def test_a_deeply_nested_manifest_is_a_400(jp_fetch: Any, package: Callable[..., Path]) -> None:
    """It raised RecursionError inside json.loads: a 500."""
    deep = '{"name": "my_plugin", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    status, body = await upload(jp_fetch, package(files={"manifest.json": deep}))
    assert_error(status, body, 400, "manifest.json is nested too deeply")
