"""No 500 for bad input: hostile bodies posted to every POST/PUT route answer 4xx with a message.

Deeply nested JSON used to raise ``RecursionError`` and an integer of more than 4,300 digits a
``ValueError`` that is not a ``JSONDecodeError``: both escaped as HTTP 500; so did an integer
beyond 64 bits in ``input_data`` (Arrow's ``OverflowError``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from omniscope_jupyter import jsonsafe
from omniscope_jupyter.web.routes import route_table

from ..api import assert_error, call, upload

DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES = {
    "deep array": DEEP,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep but parseable": b'{"input_data": {"x": ' + b"[" * 80 + b"1" + b"]" * 80 + b"}}",
    "huge integer": b'{"input_data": {"x": [' + b"9" * 5000 + b']}, "rating": 1' + b"9" * 5000 + b"}",
    "not utf-8": b'{"text": "\xff\xfe"}',
    "not an object": b"[1, 2, 3]",
    "truncated": b'{"name": "x',
}


def _post_routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every route with a body-taking verb."""
    found = []
    for pattern, handler, _kwargs in route_table():
        path = re.sub(r"\(\?P<plugin_id>[^)]*\)", "my_plugin", pattern)
        path = re.sub(r"\(\?P<execution_id>[^)]*\)", "00000000-0000-0000-0000-000000000000", path)
        path = re.sub(r"\(\?P<version>[^)]*\)", "1.0.0", path)
        for method in ("POST", "PUT"):
            if method.lower() in handler.__dict__ or any(
                method.lower() in base.__dict__ for base in handler.__mro__[1:-1]
                if base.__module__.startswith("omniscope_jupyter")
            ):
                found.append((method, path))
    return found


ROUTES = _post_routes()


def test_every_body_route_is_covered() -> None:
    paths = {path for _, path in ROUTES}
    assert {"/install", "/my_plugin/execute", "/marketplace/search", "/my_plugin/review"} <= paths
    assert len(ROUTES) >= 12


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_hostile_bodies_never_answer_500(
    jp_fetch: Any, method: str, path: str, name: str
) -> None:
    try:
        response = await jp_fetch(
            "api", "plugins", *path.strip("/").split("/"), method=method, body=BODIES[name],
            headers={"Content-Type": "application/json"},
        )
        status, body = response.code, response.body
    except HTTPClientError as e:
        assert e.response is not None
        status, body = e.code, e.response.body
    assert 400 <= status < 500, (status, body[:300])
    assert isinstance(json.loads(body).get("message"), str)


def test_parsing_bounds_depth_iteratively() -> None:
    with pytest.raises(jsonsafe.UnsafeJSON, match="nested too deeply"):
        jsonsafe.loads(DEEP)
    with pytest.raises(jsonsafe.UnsafeJSON, match="too large"):
        jsonsafe.loads(b"1" * 5000)
    nested: Any = 1
    for _ in range(200):
        nested = [nested]
    with pytest.raises(jsonsafe.UnsafeJSON, match="more than 64 levels"):
        jsonsafe.check_depth(nested)
    assert jsonsafe.loads(b'{"a": [[1, 2], [3, 4]]}') == {"a": [[1, 2], [3, 4]]}


#: Integers JSON reads fine that no 64-bit Arrow column holds (they raised OverflowError: a 500).
BEYOND_INT64 = {
    "above uint64": {"x": [2**64]},
    "below int64": {"x": [-(2**63) - 1]},
    "one of many": {"x": [1, 2, 2**70]},
    "in a row": [[2**64, 1], [2, 3]],
    "in records": [{"a": 2**65}],
}


@pytest.mark.parametrize("name", sorted(BEYOND_INT64))
async def test_integers_beyond_int64_in_input_data_are_a_400(
    jp_fetch: Any, package: Callable[..., Path], name: str
) -> None:
    status, body = await upload(jp_fetch, package(dependencies=[]))
    assert status == 201, body
    assert (await call(jp_fetch, "POST", "my_plugin", "enable"))[0] == 200
    status, body = await call(jp_fetch, "POST", "my_plugin", "execute", body={
        "extension_point": "analysis", "input_data": BEYOND_INT64[name],
    })  # fmt: skip
    assert_error(status, body, 400, "input_data", "beyond the 64-bit range")
