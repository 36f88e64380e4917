"""The OpenAPI description matches the registered routes, both ways."""

from __future__ import annotations

import re
from importlib.resources import files

import yaml

from omniscope_jupyter.web.routes import API_PREFIX, route_table

METHODS = {"get", "post", "put", "patch", "delete"}


def _registered() -> set[tuple[str, str]]:
    out = set()
    for pattern, handler, _ in route_table():
        path = API_PREFIX + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
        out |= {(path, m) for m in METHODS if m in vars(handler)}
    return out


def test_openapi_describes_exactly_the_registered_routes() -> None:
    spec = yaml.safe_load((files("omniscope_jupyter") / "openapi.yaml").read_text())
    described = {
        (path, method) for path, item in spec["paths"].items() for method in item if method in METHODS
    }
    assert described == _registered(), {
        "undocumented": sorted(_registered() - described),
        "not served": sorted(described - _registered()),
    }
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                assert "403" in op["responses"], (path, method)
