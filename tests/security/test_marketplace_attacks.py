"""Attacks on the marketplace: every string that reaches it is hostile, every remote too.

* Search queries full of FTS5 and tsquery syntax are words (200, sensible results, never 500);
  tests/postgres/test_marketplace.py runs ``QUERY_SYNTAX`` on PostgreSQL.
* No request makes the server connect anywhere but a configured remote (SSRF): ``source``
  names a remote, results' links are never followed, and a redirect to another host is not
  followed (the token stays home). A capture server on 127.0.0.2 proves nothing reached it.
* A remote that drips, floods or answers nonsense is reported on time, within the caps.
* Names and versions from requests or remotes never build a path outside staging, and an
  archive is installed only as the plugin and version its catalog entry names.
* Review text, user names and manifest strings are stored and answered as data.
"""

from __future__ import annotations

import hashlib
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import InvalidRequest
from omniscope_jupyter.marketplace import Marketplace

from ..api import assert_error
from ..helpers import build_package
from ..marketplace.conftest import (  # noqa: F401 -- fixtures
    api,
    jp_server_config,
    market,
    publish,
)
from ..marketplace.test_remote import StubRemote, running, serve_remotes
from ..marketplace.test_search import (
    PLUGINS,
    catalog,  # noqa: F401 -- fixture
)

pytestmark = pytest.mark.timeout(60)

#: (query, names it finds in the search suite's catalog): syntax is dropped, words remain.
QUERY_SYNTAX: list[tuple[str, list[str]]] = [
    ("NEAR", []),
    ('"NEAR"', []),
    ("NEAR(quantile drift)", []),  # NEAR is a word no plugin has, not an operator
    ("quantile NEAR/2 drift", []),
    ('"quantile', ["drift_watch"]),  # unbalanced quotes
    ('quantile"', ["drift_watch"]),
    ('"quantile" "drift"', ["drift_watch"]),
    ('""', []),
    ('"', []),
    ("quant*", ["drift_watch"]),
    ("*", []),
    ("^quantile", ["drift_watch"]),
    ("drift:quantile", ["drift_watch"]),  # a column filter "drift:" would be an error
    ("name:drift", []),  # "name" is a word here
    ("{name description}:quantile", []),
    ("quantile AND drift", []),  # AND, OR, NOT: words every result must contain
    ("quantile OR variance", []),
    ("NOT variance", []),
    ("(quantile)", ["drift_watch"]),
    ("((quantile", ["drift_watch"]),
    ("-quantile", ["drift_watch"]),  # not a negation
    ("quantile -drift", ["drift_watch"]),
    ("+quantile", ["drift_watch"]),
    ("quantile\x00", ["drift_watch"]),
    ("\x00", []),
    ("\x07quantile\x7f\x1b", ["drift_watch"]),
    ("\u202equantile", ["drift_watch"]),
    ("QUANTILE", ["drift_watch"]),
    ("\uff51\uff55\uff41\uff4e\uff54\uff49\uff4c\uff45", ["drift_watch"]),  # fullwidth: NFKC
    ("quantile\\", ["drift_watch"]),
    ("quantile'", ["drift_watch"]),
    ("quantile | pdf", []),  # tsquery syntax
    ("!quantile & (drift:*)", ["drift_watch"]),
    ("drift <-> quantile", ["drift_watch"]),
    ("drift <2> quantile:A", []),
    ("'; DROP TABLE catalog_plugins; --", []),
    ("quantile' OR '1'='1", []),
    ("quantile ' || pg_sleep(5) || '", []),
    ("%_%", []),  # LIKE wildcards
    ("\ud800", []),
    ("quantile " * 10_000, ["drift_watch"]),  # 10k words: the first distinct ones count
    (" ".join(f"w{i}" for i in range(10_000)), []),
    ("x" * 100_000, []),
]


async def _search(api: Any, **body: Any) -> dict[str, Any]:  # noqa: F811
    status, payload = await api("POST", "marketplace", "search", body=body)
    assert status == 200, (body, status, payload)
    return payload


async def test_query_syntax_is_words_never_an_operator_or_an_error(
    api: Any, catalog: None, market: Marketplace  # noqa: F811
) -> None:
    for query, expected in QUERY_SYNTAX:
        started = time.monotonic()
        body = await _search(api, query=query, include_remote=False)
        assert sorted(r["name"] for r in body["results"]) == expected, query[:60]
        assert time.monotonic() - started < 2.0, query[:60]
    # Nothing any query said was executed.
    with market.manager.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM catalog_plugins")) == len(PLUGINS)


def test_query_words_are_bounded() -> None:
    from omniscope_jupyter.marketplace.search import (
        MAX_QUERY_WORDS,
        MAX_WORD_CHARS,
        query_words,
    )

    assert query_words('NEAR("a" b*) AND name:c^ -d') == ["near", "a", "b", "and", "name", "c", "d"]
    assert query_words("data_normalizer") == ["data", "normalizer"]
    assert len(query_words(" ".join(f"w{i}" for i in range(10_000)))) == MAX_QUERY_WORDS
    assert query_words("y" * 10_000) == ["y" * MAX_WORD_CHARS]
    assert query_words("\x00\x01 \ud800 ' \" * ( ) : ^ - _") == []


async def test_manifest_strings_are_data_in_the_index_and_the_answer(
    api: Any, market: Marketplace, package: Callable[..., Path]  # noqa: F811
) -> None:
    hostile = {
        "description": 'Finds NEAR("x" OR y) AND name:* ^"zebras"; DROP TABLE catalog_fts; --',
        "author": "O'Brien \"Bobby\" Tables'); DELETE FROM catalog_plugins; --",
        "tags": ['"', "*", "NOT", "a%b_c"],
        "category": "x' OR '1'='1",
    }
    market.catalog.publish(package(**hostile), user="alice")
    body = await _search(api, query="zebras")
    (hit,) = body["results"]
    assert {k: hit[k] for k in hostile} == hostile  # answered as published
    assert [r["name"] for r in (await _search(api, query="bobby tables"))["results"]] == [
        "my_plugin"
    ]
    assert [r["name"] for r in (await _search(api, category=hostile["category"]))["results"]] == [
        "my_plugin"
    ]
    assert (await _search(api, tags=["a%b_c"]))["total"] == 1
    assert (await _search(api, tags=["a_b%c"]))["total"] == 0  # LIKE wildcards are escaped
    with market.manager.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM catalog_fts")) == 1


async def test_a_manifest_with_lone_surrogates_publishes_or_is_refused_never_500(
    publish: Any, package: Callable[..., Path], api: Any  # noqa: F811
) -> None:
    status, body = await publish(package(description="half \ud800 a character", author="\udfff"))
    assert status in (201, 400), body
    status, body = await api("POST", "marketplace", "search", body={"query": "half"})
    assert status == 200


async def test_hostile_plugin_ids_in_routes_are_404(api: Any) -> None:  # noqa: F811
    for plugin_id in ["..%2F..%2Fetc", "a%00b", "%C3%A9", "x" * 300, "my_plugin%0a"]:
        for method, path, body in [
            ("GET", ("marketplace", "plugins", plugin_id), None),
            ("GET", ("marketplace", "plugins", plugin_id, "versions", "1.0.0", "archive"), None),
            ("POST", (plugin_id, "rate"), {"rating": 5}),
            ("POST", (plugin_id, "review"), {"text": "hi"}),
            ("GET", (plugin_id, "reviews"), None),
        ]:
            status, payload = await api(method, *path, body=body)
            assert_error(status, payload, 404, "No plugin named")


def test_catalog_paths_refuse_what_is_not_a_name_and_version(
    market: Marketplace,  # noqa: F811
) -> None:
    published = market.catalog
    assert published.archive_path("my_plugin", "1.0.0") == published.root / "my_plugin/1.0.0.tar.gz"
    for name, version in [("../../x", "1.0.0"), ("my_plugin", "../../1.0.0"),
                          ("my_plugin", "1.0.0/../../x"), ("My/Plugin", "1.0.0"),
                          ("my_plugin", ""), ("", "1.0.0")]:
        with pytest.raises(InvalidRequest):
            published.archive_path(name, version)


# -- remotes --------------------------------------------------------------------------------

DEADLINE = 1.0
MAX_ANSWER = 256 * 1024
MAX_ARCHIVE = 64 * 1024


@pytest.fixture
def evil() -> Iterator[StubRemote]:
    """The configured remote that misbehaves (``respond`` scripts it)."""
    with running(StubRemote()) as server:
        yield server


@pytest.fixture
def capture() -> Iterator[StubRemote]:
    """Another host (127.0.0.2): it must never be asked anything, least of all with a token."""
    with running(StubRemote("127.0.0.2")) as server:
        server.respond = lambda h: _send_json(h, {"results": [], "total": 0})
        yield server


def _evil_config(evil: StubRemote) -> dict[str, Any]:
    return {
        "remotes": [{"name": "evil", "url": evil.url, "token": "evil-token"}],
        "remote_timeout": DEADLINE,
        "remote_download_timeout": DEADLINE,
        "remote_max_answer_bytes": MAX_ANSWER,
        "remote_max_archive_bytes": MAX_ARCHIVE,
    }


@pytest.fixture
def evil_market(jp_serverapp: Any, evil: StubRemote) -> Marketplace:
    """The test server's marketplace with ``evil`` as its one remote (small caps, 1 s)."""
    return serve_remotes(jp_serverapp, **_evil_config(evil))


@pytest.fixture
def evil_core(tmp_path: Path, evil: StubRemote) -> Iterator[Marketplace]:
    """The same marketplace core without a server, for what is measured in this thread."""
    manager = PluginManager(tmp_path / "core")
    yield Marketplace(manager, **_evil_config(evil))
    manager.close()


def _send(h: Any, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    h.send_response(status)
    for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        h.send_header(key, value)
    h.end_headers()
    h.wfile.write(body)


def _send_json(h: Any, payload: Any, status: int = 200) -> None:
    _send(h, status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def _status_of(body: dict[str, Any], source: str = "evil") -> dict[str, Any]:
    found: dict[str, Any] = {s["source"]: s for s in body["sources"]}[source]
    return found


#: What a request might put in ``source`` to pick a host ({port}: the capture server's).
SSRF_SOURCES: list[Any] = [
    "http://127.0.0.2:{port}/",
    "https://169.254.169.254/latest/meta-data/",
    "//127.0.0.2:{port}",
    "HTTP://127.0.0.2:{port}/",
    "file:///etc/passwd",
    "127.0.0.2:{port}",
    "evil/../127.0.0.2",
    "evil ",
    {"url": "http://127.0.0.2:{port}/"},
    ["evil"],
    7,
]


async def test_a_request_cannot_name_a_url_or_host_as_source(
    api: Any, evil_market: Marketplace, evil: StubRemote, capture: StubRemote  # noqa: F811
) -> None:
    port = capture.server_address[1]
    for source in SSRF_SOURCES:
        if isinstance(source, str):
            source = source.format(port=port)
        elif isinstance(source, dict):
            source = {"url": source["url"].format(port=port)}
        status, body = await api("POST", "marketplace", "install",
                                 body={"name": "my_plugin", "source": source})
        assert_error(status, body, 400, "source")
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "source": capture.url})
    assert_error(status, body, 400, "never a URL")
    assert capture.seen_paths == [] and evil.seen_paths == []


async def test_a_search_body_cannot_carry_a_url(
    api: Any, evil_market: Marketplace, capture: StubRemote  # noqa: F811
) -> None:
    for field in ("source", "url", "remote", "remotes"):
        status, body = await api("POST", "marketplace", "search",
                                 body={"query": "x", field: capture.url})
        assert_error(status, body, 400, field)
    assert capture.seen_paths == []


async def test_links_in_remote_results_are_never_followed(
    api: Any, evil_market: Marketplace, evil: StubRemote, capture: StubRemote  # noqa: F811
) -> None:
    def respond(h: Any) -> None:
        if h.command == "POST":
            _send_json(h, {"total": 2, "results": [
                {"name": "lure", "source": capture.url, "url": capture.url,
                 "download": capture.url + "lure.tar.gz", "latest_version": "1.0.0",
                 "versions_detail": [{"version": "1.0.0", "archive": capture.url}]},
                {"name": "../../lure", "latest_version": "1.0.0"},
            ]})
        else:
            _send_json(h, {"name": "lure", "latest_version": "1.0.0",
                           "versions_detail": [{"version": "1.0.0", "sha256": "0" * 64,
                                                "url": capture.url}]})

    evil.respond = respond
    body = await _search(api)
    (lure,) = [r for r in body["results"] if r["source"] != "local"]
    assert lure["source"] == "evil" and not {"url", "download", "versions_detail"} & set(lure)
    assert _status_of(body)["dropped"] == 1  # the traversal name
    evil.respond = lambda h: _send(h, 200, b"not the archive") if "archive" in h.path \
        else respond(h)
    status, payload = await api("POST", "marketplace", "install",
                                body={"name": "lure", "source": "evil"})
    assert_error(status, payload, 422, "does not match")
    assert evil.seen_paths[-1].endswith("/marketplace/plugins/lure/versions/1.0.0/archive")
    assert capture.seen_paths == []


async def test_a_redirect_to_another_host_is_refused_and_the_token_stays_home(
    api: Any, evil_market: Marketplace, evil: StubRemote, capture: StubRemote  # noqa: F811
) -> None:
    for code in (301, 302, 303, 307, 308):
        evil.respond = lambda h, code=code: _send(
            h, code, b"", {"Location": capture.url + h.path.lstrip("/")}
        )
        status = _status_of(await _search(api))
        assert status["ok"] is False
        assert status["error"] == f"redirected to another host ({capture.url}api/plugins/" \
            "marketplace/search); not followed", code
        got, payload = await api("POST", "marketplace", "install",
                                 body={"name": "my_plugin", "source": "evil"})
        assert_error(got, payload, 502, "evil: redirected to another host")
    assert capture.seen_auth == []
    assert evil.seen_auth == ["token evil-token"] * 10


async def test_a_redirect_within_the_remote_is_followed_with_its_token(
    api: Any, evil_market: Marketplace, evil: StubRemote  # noqa: F811
) -> None:
    def respond(h: Any) -> None:
        if h.path.endswith("/search"):
            _send(h, 303, b"", {"Location": "/api/plugins/marketplace/search-moved"})
        else:
            _send_json(h, {"total": 1, "results": [{"name": "moved_plugin"}]})

    evil.respond = respond
    body = await _search(api)
    assert _status_of(body)["ok"] is True
    assert [r["name"] for r in body["results"]] == ["moved_plugin"]
    assert evil.seen_auth == ["token evil-token"] * 2


def _drip(where: str) -> Callable[[Any], None]:
    """A remote that sends a byte every 0.2 s, in its headers or its body, for a minute."""

    def respond(h: Any) -> None:
        try:
            if where == "body":
                h.send_response(200)
                h.send_header("Content-Length", "1000")
                h.end_headers()
                h.wfile.flush()
            else:
                h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(300):
                h.wfile.write(b" " if where == "body" else b"X")
                h.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client gave up: what we want

    return respond


async def test_a_dripping_remote_is_reported_within_the_deadline(
    api: Any, evil_market: Marketplace, evil: StubRemote  # noqa: F811
) -> None:
    for where in ("headers", "body"):
        evil.respond = _drip(where)
        started = time.monotonic()
        body = await _search(api)
        assert time.monotonic() - started < DEADLINE + 1.0, where
        assert _status_of(body) == {
            "source": "evil", "url": evil.url.rstrip("/"), "ok": False,
            "error": f"no complete answer within {DEADLINE:g} s", "total": 0,
        }
        started = time.monotonic()
        status, payload = await api("POST", "marketplace", "install",
                                    body={"name": "my_plugin", "source": "evil"})
        assert_error(status, payload, 502, "no complete answer within")
        assert time.monotonic() - started < DEADLINE + 1.0, where


HUGE = 110 * 1024 * 1024
#: Made before memory is traced: only the client's allocations count.
_FLOOD_CHUNK = b" " * (1 << 20)


def _flood(declared: bool, sent: list[int]) -> Callable[[Any], None]:
    """110 MB of a search answer, with its Content-Length or without; ``sent`` counts it."""

    def respond(h: Any) -> None:
        h.send_response(200)
        if declared:
            h.send_header("Content-Length", str(HUGE))
        h.end_headers()
        try:
            while sent[0] < HUGE:
                h.wfile.write(_FLOOD_CHUNK)
                sent[0] += len(_FLOOD_CHUNK)
        except OSError:
            pass  # the client hung up

    return respond


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_answer_is_reported_and_read_only_up_to_the_cap(
    evil_core: Marketplace, evil: StubRemote, declared: bool
) -> None:
    sent = [0]
    evil.respond = _flood(declared, sent)
    tracemalloc.start()
    try:
        answer = evil_core.search({"query": "x"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    status = _status_of(answer)
    assert status["ok"] is False and f"{MAX_ANSWER}-byte cap" in status["error"]
    assert peak < 16 * MAX_ANSWER, peak
    assert sent[0] < HUGE // 2


async def test_an_archive_over_the_cap_is_refused_and_removed(
    api: Any, evil_market: Marketplace, evil: StubRemote, store_dir: Path  # noqa: F811
) -> None:
    archive = b"\x1f\x8b" + b"\x00" * (4 * MAX_ARCHIVE)

    def respond(h: Any) -> None:
        if h.path.endswith("/archive"):
            h.send_response(200)
            h.end_headers()  # no Content-Length: read until the cap
            try:
                h.wfile.write(archive)
            except OSError:
                pass  # the client hung up
        else:
            _send_json(h, {"name": "big_one", "latest_version": "1.0.0", "versions_detail": [
                {"version": "1.0.0", "sha256": "a" * 64}]})

    evil.respond = respond
    status, payload = await api("POST", "marketplace", "install",
                                body={"name": "big_one", "source": "evil"})
    assert_error(status, payload, 502, f"{MAX_ARCHIVE}-byte cap")
    assert list((store_dir / "staging").iterdir()) == []


PROBE = "omniscope-escape-probe"
#: A remote's plugin details that try to steer a path or URL, and what the 502 says.
HOSTILE_DETAILS: list[tuple[dict[str, Any], str]] = [
    ({"latest_version": f"../../../../../../tmp/{PROBE}", "versions_detail": []},
     f"{PROBE}' is not a version"),
    ({"name": f"../../{PROBE}", "latest_version": "1.0.0", "versions_detail": []},
     f"it describes '../../{PROBE}'"),
    ({"latest_version": "1.0.0", "versions_detail": "1.0.0"}, "versions_detail is not a list"),
    ({"latest_version": "1.0.0", "versions_detail": [{"version": "1.0.0", "sha256": 5}]},
     "sha256 of 1.0.0 is not 64 hex digits"),
    ({"latest_version": "1.0.0",
      "versions_detail": [{"version": "1.0.0", "sha256": f"../../{PROBE}"}]},
     "sha256 of 1.0.0 is not 64 hex digits"),
]


async def test_remote_details_cannot_steer_paths_or_urls(
    api: Any, evil_market: Marketplace, evil: StubRemote, tmp_path: Path,  # noqa: F811
    store_dir: Path,
) -> None:
    for details, fragment in HOSTILE_DETAILS:
        evil.respond = lambda h, details=details: _send_json(h, details)
        status, payload = await api("POST", "marketplace", "install",
                                    body={"name": "my_plugin", "source": "evil"})
        assert_error(status, payload, 502, "malformed description of my_plugin", fragment)
    assert [p for p in evil.seen_paths if "archive" in p] == []
    assert list((store_dir / "staging").iterdir()) == []
    assert _found(tmp_path, f"**/*{PROBE}*") == _found(Path("/tmp"), f"*{PROBE}*") == []


def _found(root: Path, pattern: str) -> list[Path]:
    return list(root.glob(pattern))


async def test_a_traversal_name_is_refused_before_asking_the_remote(
    api: Any, evil_market: Marketplace, evil: StubRemote, tmp_path: Path  # noqa: F811
) -> None:
    for name in ("../../x", "../../../tmp/x", "x/../../y", "/etc/passwd"):
        status, payload = await api("POST", "marketplace", "install",
                                    body={"name": name, "source": "evil"})
        assert_error(status, payload, 400, "not a plugin name")
    status, payload = await api("POST", "marketplace", "install",
                                body={"name": "my_plugin", "version": "1.0.0/../../../x",
                                      "source": "evil"})
    assert_error(status, payload, 400, "semantic version")
    assert evil.seen_paths == []


#: Manifests of an archive the remote publishes as my_plugin 1.0.0 (its sha256 is right).
MISNAMED: list[tuple[dict[str, str], str]] = [
    ({"name": "other_plugin"}, "holds other_plugin 1.0.0"),
    ({"version": "2.0.0"}, "holds my_plugin 2.0.0"),
    ({"name": "other_plugin", "version": "9.9.9"}, "holds other_plugin 9.9.9"),
    ({"version": "1.0.0+evil"}, "holds my_plugin 1.0.0+evil"),
]


@pytest.mark.parametrize(("manifest", "holds"), MISNAMED, ids=[h for _, h in MISNAMED])
async def test_an_archive_naming_another_plugin_or_version_is_refused(
    api: Any, evil_market: Marketplace, evil: StubRemote, tmp_path: Path,  # noqa: F811
    store_dir: Path, manifest: dict[str, str], holds: str,
) -> None:
    """A remote (or a tampered catalog) must not install, say, an update of an installed plugin
    in place of the one the user asked for: the manifest inside must match the entry."""
    archive = build_package(tmp_path / "misnamed.tar.gz", **manifest).read_bytes()
    details = {"name": "my_plugin", "latest_version": "1.0.0", "versions_detail": [
        {"version": "1.0.0", "sha256": hashlib.sha256(archive).hexdigest()}]}
    evil.respond = lambda h: _send(h, 200, archive) if h.path.endswith("/archive") \
        else _send_json(h, details)
    status, payload = await api("POST", "marketplace", "install",
                                body={"name": "my_plugin", "source": "evil"})
    assert_error(status, payload, 422, "evil: The archive published as my_plugin 1.0.0", holds,
                 "nothing was installed")
    assert evil.seen_paths[-1].endswith("/marketplace/plugins/my_plugin/versions/1.0.0/archive")
    for name in ("my_plugin", "other_plugin"):
        assert (await api("GET", name))[0] == 404
    assert list((store_dir / "staging").iterdir()) == []
    assert list((store_dir / "versions").glob("*")) == []


#: (raw answer, what the remote's status says): each is a failure of that remote, reported.
MALFORMED: list[tuple[bytes, str]] = [
    (b"<html>not json</html>", "not JSON"),
    (b"", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'"results"', "not a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"results": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
    (b'{"total": ' + b"9" * 5000 + b', "results": []}', "not JSON"),
    (b'{"total": NaN, "results": []}', "NaN is not a JSON number"),
    (b'{"results": [{"name": "x_y", "score": Infinity}]}', "Infinity is not a JSON number"),
    (b'{"results": {"name": "x_y"}}', "results are not a list"),
]

#: Results with a value of the wrong shape: each is dropped, the rest of the answer kept.
BAD_RESULTS: list[Any] = [
    {"name": "big_total", "downloads": 10**300},
    {"name": "big_float", "downloads": 1e300},
    {"name": "huge_rating", "rating": {"average": 1e300, "count": 1}},
    {"name": "many_ratings", "rating": {"average": 4, "count": 2**60}},
    {"name": "deep_scan", "scan": {"passed": True, "counts": {"a": [[[[{}]]]]}}},
    {"name": "scan_list", "scan": [1, 2]},
    {"name": "bad_version", "latest_version": "../../x"},
    {"name": "bad_versions", "versions": ["1.0.0", {"$gt": ""}]},
    {"name": "odd_date", "published_at": "0001-01-01T00:00:00"},
    {"name": "text_score", "score": "99"},
    {"name": 12},
    None,
]


async def test_malformed_answers_are_reported_never_500(
    api: Any, evil_market: Marketplace, evil: StubRemote  # noqa: F811
) -> None:
    for raw, fragment in MALFORMED:
        evil.respond = lambda h, raw=raw: _send(h, 200, raw)
        status = _status_of(await _search(api))
        assert status["ok"] is False and fragment in status["error"], (raw[:40], status)
    evil.respond = lambda h: _send_json(h, {"total": 10**100, "results": [
        {"name": "good_one", "scan": {"passed": True, "counts": {"high": 0}, "extra": "x"}},
        *BAD_RESULTS,
    ]})
    body = await _search(api, sort="newest")
    (good,) = [r for r in body["results"] if r["source"] == "evil"]
    assert good["scan"] == {"passed": True, "counts": {"high": 0}, "scanned_at": None}
    status = _status_of(body)
    assert (status["ok"], status["dropped"], status["total"]) == (True, len(BAD_RESULTS), 1)


async def test_error_answers_are_read_capped_and_described_in_one_line(
    api: Any, evil_market: Marketplace, evil: StubRemote  # noqa: F811
) -> None:
    for raw in [b"[" * 100_000, b"{" + b" " * (4 * MAX_ANSWER),
                json.dumps({"message": "two\nlines\x1b[31m" + "m" * 1000}).encode()]:
        evil.respond = lambda h, raw=raw: _send(h, 500, raw)
        error = _status_of(await _search(api))["error"]
        assert error.startswith("HTTP 500") and len(error) < 250 and "\n" not in error
        assert "\x1b" not in error


# -- reviews --------------------------------------------------------------------------------


async def test_review_text_and_user_names_are_stored_and_answered_as_text(
    jp_fetch: Any, api: Any, catalog: None, market: Marketplace  # noqa: F811
) -> None:
    text_ = "<img src=x onerror=alert(1)>'); DROP TABLE reviews; -- \"NEAR\" *"
    user = "<script>alert('u')</script>'; DELETE FROM ratings; --"
    status, body = await api("POST", "drift_watch", "review",
                             body={"text": text_, "rating": 4}, user=user)
    assert status == 201, body
    assert (body["review"]["text"], body["review"]["user"]) == (text_, user)
    response = await jp_fetch("api", "plugins", "drift_watch", "reviews", method="GET")
    assert response.headers["Content-Type"].startswith("application/json")
    listing = json.loads(response.body)
    assert [(r["text"], r["user"]) for r in listing["reviews"]] == [(text_, user)]
    assert listing["rating"] == {"average": 4.0, "count": 1}
    body = await _search(api, query="drift")
    assert body["results"][0]["rating"]["count"] == 1


async def test_hostile_json_bodies_are_400_not_500(api: Any) -> None:  # noqa: F811
    for raw, status in [
        (b'{"page": ' + b"9" * 5000 + b"}", 400),
        (b'{"query": ' + b"[" * 100_000 + b"}", 400),
        (b'{"page": 1e999}', 400),
        (b'{"query": NaN}', 400),
        (b'{"query": "\\ud800 quantile"}', 200),
        (b'{"query": "x", "tags": ["\\udfff"]}', 400),
    ]:
        got, payload = await api("POST", "marketplace", "search", body=raw)
        assert got == status, (raw[:30], payload)
