"""Helpers for REST tests: call the API and assert on status and JSON ``message``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPClientError

from .helpers import multipart


async def call(jp_fetch: Any, method: str, *path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    """Fetch ``/api/plugins/<path>``; return (status, decoded JSON) whatever the status."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body)
    if method in ("POST", "PUT") and body is None:
        body = b""
    try:
        r = await jp_fetch("api", "plugins", *path, method=method, body=body, **kw)
    except HTTPClientError as e:
        assert e.response is not None, e
        return e.code, json.loads(e.response.body or b"{}")
    return r.code, json.loads(r.body or b"{}")


async def upload(jp_fetch: Any, archive: Path, **fields: str) -> tuple[int, Any]:
    body, ctype = multipart(archive, **fields)
    return await call(jp_fetch, "POST", "install", body=body, headers={"Content-Type": ctype})


def assert_error(status: int, payload: Any, expected: int, *fragments: str) -> None:
    """The answer is ``expected`` with a JSON ``message`` containing every fragment."""
    assert status == expected, (status, payload)
    assert isinstance(payload.get("message"), str), payload
    for fragment in fragments:
        assert fragment in payload["message"], (fragment, payload["message"])
