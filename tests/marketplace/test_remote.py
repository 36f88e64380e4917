"""Remote marketplaces: merged search with source tags, verified installs, failures reported.

The "team" remote is this very test server reached over HTTP (a real OmniScope API answering
the client); a stub on 127.0.0.1 plays a broken or tampering remote (``StubRemote.respond``
scripts any other behaviour: tests/security); a closed local port plays an unreachable one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.marketplace import Marketplace

from ..api import assert_error

pytestmark = pytest.mark.timeout(60)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubRemote(ThreadingHTTPServer):
    """A fake marketplace: search fails with 500 (or answers ``search_answer``), details
    publish ``sha256`` of ``published`` but the archive served is ``served`` (a tampered copy).

    ``respond``, when set, answers every request instead (to redirect, drip, flood...);
    ``seen_auth`` and ``seen_paths`` record what was asked.
    """

    published: bytes = b""
    served: bytes = b""
    search_answer: Any = None
    respond: Callable[[_StubHandler], None] | None = None
    seen_auth: list[str]
    seen_paths: list[str]

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _StubHandler)
        self.seen_auth = []
        self.seen_paths = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


@contextlib.contextmanager
def running(server: StubRemote) -> Iterator[StubRemote]:
    """``server`` answering in a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _StubHandler(BaseHTTPRequestHandler):
    server: StubRemote

    def log_message(self, *args: Any) -> None:
        pass

    def _seen(self) -> bool:
        """Record the request; True when ``respond`` answered it."""
        self.server.seen_auth.append(self.headers.get("Authorization", ""))
        self.server.seen_paths.append(self.path)
        if self.server.respond is None:
            return False
        if self.command == "POST":
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.respond(self)
        return True

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if self._seen():
            return
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.search_answer is not None:
            self._send(200, json.dumps(self.server.search_answer).encode())
            return
        self._send(500, json.dumps({"message": "database on fire"}).encode())

    def do_GET(self) -> None:
        if self._seen():
            return
        if self.path.endswith("/marketplace/plugins/my_plugin"):
            sha = hashlib.sha256(self.server.published).hexdigest()
            detail = {"latest_version": "1.0.0",
                      "versions_detail": [{"version": "1.0.0", "sha256": sha}]}
            self._send(200, json.dumps(detail).encode())
        elif self.path.endswith("/versions/1.0.0/archive"):
            self._send(200, self.server.served, "application/gzip")
        else:
            self._send(404, b'{"message": "no such plugin"}')


@pytest.fixture
def stub() -> Iterator[StubRemote]:
    with running(StubRemote()) as server:
        yield server


def serve_remotes(jp_serverapp: Any, **kwargs: Any) -> Marketplace:
    """Swap in this server's marketplace built with ``kwargs`` (``remotes``...) as traits would."""
    system = jp_serverapp.web_app.settings["omniscope_system"]
    market = Marketplace(system._manager, **kwargs)
    system._marketplace = market
    return market


@pytest.fixture
def remotes(
    jp_serverapp: Any, jp_http_port: int, jp_base_url: str, stub: StubRemote
) -> Marketplace:
    """This server's marketplace, configured with three remotes."""
    return serve_remotes(
        jp_serverapp,
        remotes=[
            {"name": "team", "url": f"http://127.0.0.1:{jp_http_port}{jp_base_url}",
             "token": jp_serverapp.identity_provider.token},
            {"name": "offline", "url": f"http://127.0.0.1:{_closed_port()}/", "token": "t"},
            {"name": "broken", "url": stub.url, "token": "stub-token"},
        ],
        remote_timeout=3.0,
    )


async def test_search_merges_remotes_with_source_tags_and_reports_failures(
    api: Any, remotes: Marketplace, package: Callable[..., Path], stub: StubRemote
) -> None:
    remotes.catalog.publish(package(description="Kalman filtering of telemetry"), user="alice")
    status, body = await api("POST", "marketplace", "search", body={"query": "kalman"})
    assert status == 200, body
    assert sorted((r["source"], r["name"]) for r in body["results"]) == [
        ("local", "my_plugin"), ("team", "my_plugin"),
    ]
    assert all(r["installed"] is False for r in body["results"])
    sources = {s["source"]: s for s in body["sources"]}
    assert sources["local"]["ok"] and sources["team"] == {
        "source": "team", "url": remotes.remotes.find("team").url, "ok": True, "total": 1,
    }
    assert sources["offline"]["ok"] is False and "unreachable" in sources["offline"]["error"]
    assert sources["broken"]["ok"] is False
    assert sources["broken"]["error"] == "HTTP 500: database on fire"
    assert body["total"] == 2
    assert stub.seen_auth == ["token stub-token"]
    # A remote is asked not to ask its own remotes (no loops), and can be skipped.
    status, body = await api("POST", "marketplace", "search",
                             body={"query": "kalman", "include_remote": False})
    assert [r["source"] for r in body["results"]] == ["local"] and len(body["sources"]) == 1


def _remote_hit(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "latest_version": "1.0.0", "description": "Kalman smoothing",
            "rating": {"average": 4.5, "count": 2}, "downloads": 7,
            "published_at": "2024-05-01T10:00:00+00:00", "score": 1.5, **fields}


@pytest.mark.parametrize("sort", ["relevance", "rating", "downloads", "newest"])
async def test_malformed_remote_results_are_dropped_and_reported_not_fatal(
    api: Any, remotes: Marketplace, package: Callable[..., Path], stub: StubRemote, sort: str
) -> None:
    remotes.catalog.publish(package(description="Kalman filtering of telemetry"), user="alice")
    stub.search_answer = {
        "total": 7,
        "results": [
            _remote_hit("good_one", extra_field="left out", installed=True),
            _remote_hit("lots_of_downloads", downloads="lots"),
            _remote_hit("text_rating", rating={"average": "5", "count": 1}),
            _remote_hit("huge_rating", rating={"average": 500, "count": 1}),
            _remote_hit("bad_date", published_at="yesterday"),
            _remote_hit("../../etc"),
            "not an object",
        ],
    }
    status, body = await api("POST", "marketplace", "search",
                             body={"query": "kalman", "sort": sort})
    assert status == 200, body
    remote = [r for r in body["results"] if r["source"] == "broken"]
    assert [r["name"] for r in remote] == ["good_one"]
    assert remote[0]["installed"] is False and "extra_field" not in remote[0]
    assert remote[0]["rating"] == {"average": 4.5, "count": 2}
    broken = {s["source"]: s for s in body["sources"]}["broken"]
    assert (broken["ok"], broken["total"], broken["dropped"]) == (True, 1, 6)
    rating_rule = "rating must be {average: 0-5 or null, count: integer >= 0}"
    assert broken["problems"][:3] == [
        "result 1: lots_of_downloads: downloads must be an integer >= 0, not 'lots'",
        f"result 2: text_rating: {rating_rule}, not {{'average': '5', 'count': 1}}",
        f"result 3: huge_rating: {rating_rule}, not {{'average': 500, 'count': 1}}",
    ]
    assert len(broken["problems"]) == 5  # the first few are described
    assert {"local", "team"} <= {r["source"] for r in body["results"]}


async def test_a_remote_answering_results_of_the_wrong_type_is_reported(
    api: Any, remotes: Marketplace, stub: StubRemote
) -> None:
    stub.search_answer = {"results": {"name": "x"}, "total": "lots"}
    status, body = await api("POST", "marketplace", "search", body={})
    assert status == 200, body
    broken = {s["source"]: s for s in body["sources"]}["broken"]
    assert broken["ok"] is False and "results are not a list" in broken["error"]
    stub.search_answer = {"results": [_remote_hit("fine")], "total": "lots"}
    status, body = await api("POST", "marketplace", "search", body={})
    broken = {s["source"]: s for s in body["sources"]}["broken"]
    assert (broken["ok"], broken["total"]) == (True, 1)
    assert [r["name"] for r in body["results"] if r["source"] == "broken"] == ["fine"]


async def test_install_from_a_remote_verifies_sha256_and_counts_there(
    api: Any, remotes: Marketplace, package: Callable[..., Path]
) -> None:
    remotes.catalog.publish(package(), user="alice")
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "source": "team"}, user="bob")
    assert status == 201, body
    assert (body["source"], body["version"]) == ("team", "1.0.0")
    assert body["sha256"] == remotes.catalog.details("my_plugin")["sha256"]
    assert remotes.catalog.details("my_plugin")["downloads"] == 1  # served by the remote route
    status, body = await api("POST", "marketplace", "search", body={"query": "description"})
    assert all(r["installed"] for r in body["results"])


async def test_a_tampered_remote_archive_is_refused_and_nothing_installed(
    api: Any, remotes: Marketplace, package: Callable[..., Path], stub: StubRemote,
    store_dir: Path,
) -> None:
    stub.published = package().read_bytes()
    stub.served = package(description="trojan").read_bytes()
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "source": "broken"})
    assert_error(status, body, 422, "from broken does not match", "nothing was installed")
    assert (await api("GET", "my_plugin"))[0] == 404
    assert list((store_dir / "staging").iterdir()) == []
    # The same stub serving the published bytes installs fine.
    stub.served = stub.published
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "source": "broken"})
    assert (status, body["source"]) == (201, "broken")


async def test_remote_install_failures_are_clear(api: Any, remotes: Marketplace) -> None:
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "my_plugin", "source": "offline"})
    assert_error(status, body, 502, "offline", "unreachable")
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "ghost", "source": "broken"})
    assert_error(status, body, 404, "broken has no plugin named 'ghost'")
    status, body = await api("POST", "marketplace", "install",
                             body={"name": "ghost", "source": "team"})
    assert_error(status, body, 404, "team has no plugin named 'ghost'")


def test_remote_configuration_is_validated() -> None:
    from omniscope_jupyter.marketplace.remote import RemoteCatalogs

    with pytest.raises(ValueError, match="http"):
        RemoteCatalogs.from_config([{"url": "file:///etc/passwd"}])
    with pytest.raises(TypeError, match="url"):
        RemoteCatalogs.from_config(["https://x"])
    with pytest.raises(ValueError, match="not 'local'"):
        RemoteCatalogs.from_config([{"url": "https://x", "name": "local"}])
    with pytest.raises(ValueError, match="Two remote marketplaces are named 'x'"):
        RemoteCatalogs.from_config([{"url": "https://x"}, {"url": "http://y", "name": "x"}])
    for url in ("https://user:secret@team.example/", "https://team.example/?x=1"):
        with pytest.raises(ValueError, match="without credentials"):
            RemoteCatalogs.from_config([{"url": url}])
    # Without a name, a remote is called by its host (a request names it, never its URL).
    (r,) = RemoteCatalogs.from_config(
        [{"url": "https://team.example:8443/lab/", "token": "t"}]
    ).remotes
    assert (r.url, r.name, r.source) == ("https://team.example:8443/lab", "team.example:8443",
                                         "team.example:8443")
