"""Other OmniScope marketplaces, searched and installed from over their REST API.

Each remote is ``{"url", "token", "name"?}`` (the server's base URL, a Jupyter token for it and
the name requests call it by; by default its host). Search asks every remote at once; results
carry a ``source`` tag (the remote's name) and whether they are installed *here*. A remote that
cannot be reached, refuses us, is too slow or answers nonsense is reported in the answer's
``sources`` and never fails the search; so is each result that does not have the shape of a
search result (a ``rating`` that is not numbers, ``"downloads": "lots"``...), which is dropped
rather than let into the merge. An install from a remote reads the version's sha256 from the
remote's catalog, streams the archive to staging while hashing it under a size cap, and
refuses it before extraction unless the two agree.

A remote is another server, and what it answers is data, never a place to go:

* A request names a remote by its configured name (``resolve``); a URL, a host or an unknown
  name is a 400, so no request chooses where this server connects.
* URLs are built from the configured base URL and names and versions checked as a manifest
  checks them (``checks.check_plugin_ref``); nothing a remote answers (links in a result,
  ``source``...) is ever followed, as every field not in ``RESULT_FIELDS`` is dropped.
* Only http(s) is spoken, and a redirect is followed only within the remote's origin (scheme,
  host, port): the token (an ``Authorization`` header) never reaches another host.
* Every call has a total wall-clock deadline (``timeout``; ``download_timeout`` for an
  archive), not just a timeout per read: a watchdog shuts the call's socket when it passes,
  so a remote dripping a byte every few seconds, in its headers or body, fails on time.
  (Name resolution is the system resolver's and is bounded by its own timeouts.)
* An answer is read up to a cap (``max_answer_bytes`` for JSON, ``max_download_bytes`` for an
  archive) and refused beyond it; JSON is parsed strictly (no NaN or Infinity; nesting and
  integers bounded by the parser) and every value used is checked.

Requests use ``urllib.request`` in worker threads (the core is synchronous; the handlers call
it off the event loop) and honour the usual ``*_proxy`` environment variables.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import re
import socket
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Self

from ..errors import InvalidRequest, NotFound, RemoteUnavailable
from .catalog import ChecksumMismatch, copy_hashing
from .checks import check_plugin_ref, is_plugin_name, is_version, unprintable
from .search import SearchRequest

log = logging.getLogger(__name__)

API = "/api/plugins/marketplace"
DEFAULT_TIMEOUT = 5.0
DEFAULT_DOWNLOAD_TIMEOUT = 120.0
DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
#: Most results asked of (and taken from) each remote for one merged page.
MAX_REMOTE_WINDOW = 100
#: How many dropped results of one remote are described in its status.
MAX_REPORTED_PROBLEMS = 5
#: The largest count taken from a remote: every JSON reader holds it exactly.
MAX_COUNT = 2**53 - 1
#: How much of a remote's error answer is read, and of its message reported.
MAX_ERROR_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 200
_CHUNK = 1 << 16
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _clip(value: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Remote text for a message or a log line: one line, control characters blanked, cut."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL: where a redirect may go with the token."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


@dataclass(frozen=True)
class RemoteMarketplace:
    """One configured remote marketplace."""

    url: str
    token: str = ""
    name: str = ""

    @property
    def source(self) -> str:
        """The tag its results carry, and how requests name it."""
        return self.name

    @classmethod
    def from_config(cls, item: Any) -> RemoteMarketplace:
        """Validate one entry of the ``remote_marketplaces`` setting."""
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise TypeError(f"A remote marketplace must be {{'url', 'token'}}, not {item!r}.")
        url = item["url"].rstrip("/")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Remote marketplace URL {url!r} must start with http:// or https://.")
        if "@" in parts.netloc or parts.query or parts.fragment:
            raise ValueError(
                f"Remote marketplace URL {url!r} must be a base URL without credentials, query "
                "or fragment (its Jupyter token goes in 'token')."
            )
        name = str(item.get("name") or parts.netloc)
        if name == "local" or len(name) > 64 or unprintable(name) or "/" in name:
            raise ValueError(
                f"Remote marketplace name {name!r} must be at most 64 printable characters "
                "without '/', and not 'local'."
            )
        return cls(url=url, token=str(item.get("token") or ""), name=name)


class RemoteError(Exception):
    """A remote call that failed; ``str()`` says how in one line, ``status`` is its HTTP code."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Deadline:
    """The wall-clock end of one remote call; when it passes, the call's sockets are shut.

    A socket timeout bounds each read, not the call: a remote sending a byte every few seconds
    would hold a search for minutes. Shutting a socket down wakes any read blocked on it,
    whatever part of the exchange (TLS, headers, body) it is in. The watchdog holds a
    duplicate of each socket's descriptor (a shutdown acts on the connection, whichever
    descriptor names it), so it still works once TLS has taken over the socket.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self.expired = True  # nothing may be watched any more
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def error(self) -> RemoteError:
        return RemoteError(f"no complete answer within {self.seconds:g} s")

    def remaining(self) -> float:
        """Seconds left; ``RemoteError`` when none are."""
        left = self.end - time.monotonic()
        if left <= 0 or self.expired:
            raise self.error()
        return left

    def connect(
        self, address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        """``socket.create_connection`` with the time left, watched until the call ends."""
        sock = socket.create_connection(address, self.remaining(), source_address)
        with self._lock:
            if not self.expired:
                self._sockets.append(sock.dup())
                return sock
        sock.close()
        raise self.error()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, deadline: _Deadline, **kwargs: Any) -> None:
        kwargs["timeout"] = deadline.remaining()
        super().__init__(host, **kwargs)
        self._create_connection = deadline.connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, deadline: _Deadline, **kwargs: Any) -> None:
        kwargs["timeout"] = deadline.remaining()
        super().__init__(host, **kwargs)
        self._create_connection = deadline.connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_HTTPConnection, deadline=self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_HTTPSConnection, deadline=self.deadline), req)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the origin it came from (the token goes with it)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            fp.close()
            raise RemoteError(
                f"redirected to another host ({_clip(newurl, 100)}); not followed", code
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """An opener that speaks http(s) only (no file:, ftp:, data:), under ``deadline``."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
        _SameOriginRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _chunks(
    response: http.client.HTTPResponse, max_bytes: int, deadline: _Deadline
) -> Iterator[bytes]:
    """The body of ``response`` in chunks; ``RemoteError`` past ``max_bytes`` or the deadline."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise RemoteError(f"answered {int(declared)} bytes, over the {max_bytes}-byte cap")
    size = 0
    while True:
        try:
            chunk = response.read1(_CHUNK)
        except (OSError, http.client.HTTPException) as e:
            raise deadline.error() if deadline.expired else RemoteError(_describe(e)) from None
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise RemoteError(f"answered more than the {max_bytes}-byte cap")
        deadline.remaining()
        yield chunk
    if deadline.expired:
        raise deadline.error()  # the watchdog's shutdown reads as the end of the answer
    if response.length:
        raise RemoteError("the answer ended before its Content-Length")


def _describe(e: BaseException) -> str:
    if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
        return f"unreachable: {_clip(e.reason)}"
    return _clip(f"{type(e).__name__}: {e}")


def _http_error(e: urllib.error.HTTPError, deadline: _Deadline) -> RemoteError:
    """An error answer as a ``RemoteError``, with the first part of its JSON ``message``."""
    message = ""
    try:
        body = e.read(MAX_ERROR_BYTES)
        found = json.loads(body).get("message") if body.lstrip().startswith(b"{") else None
        message = _clip(found) if isinstance(found, str) else ""
    except Exception:  # noqa: BLE001 -- an unreadable error body only loses its message
        message = ""
    finally:
        e.close()
    if deadline.expired:
        return deadline.error()
    return RemoteError(f"HTTP {e.code}" + (f": {message}" if message else f" {_clip(e.reason)}"),
                       e.code)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes) -> dict[str, Any]:
    """A remote's JSON object answer; ``RemoteError`` for anything else (NaN, deep nesting...)."""
    try:
        payload = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise RemoteError("answered JSON nested too deeply") from None
    except ValueError as e:  # also huge integers and text that is not UTF-8
        raise RemoteError(f"answered something that is not JSON ({_clip(e, 100)})") from None
    if not isinstance(payload, dict):
        raise RemoteError("the answer is not a JSON object")
    return payload


class RemoteCatalogs:
    """The configured remote marketplaces and the HTTP calls to them.

    Parameters
    ----------
    remotes
        The configured remotes (``from_config`` validates the setting).
    timeout
        Wall-clock seconds each JSON call (search, plugin details) may take, in total.
    download_timeout
        Wall-clock seconds an archive download may take, in total.
    max_answer_bytes
        Largest JSON answer read from a remote; a larger one is a failure of that remote.
    max_download_bytes
        Largest archive downloaded from a remote (the upload cap is the natural value).
    """

    def __init__(
        self,
        remotes: list[RemoteMarketplace],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    ) -> None:
        names = [r.name for r in remotes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"Two remote marketplaces are named {', '.join(map(repr, twice))}: give each "
                "its own 'name'."
            )
        self.remotes = list(remotes)
        self.timeout = timeout
        self.download_timeout = download_timeout
        self.max_answer_bytes = max_answer_bytes
        self.max_download_bytes = max_download_bytes

    @classmethod
    def from_config(cls, items: list[Any], **kwargs: Any) -> RemoteCatalogs:
        return cls([RemoteMarketplace.from_config(i) for i in items], **kwargs)

    def find(self, source: str) -> RemoteMarketplace:
        """The remote configured as ``source`` (by name; never by URL)."""
        for remote in self.remotes:
            if source == remote.name:
                return remote
        known = ", ".join(repr(r.name) for r in self.remotes) or "none is configured"
        if "//" in source or source.lower().startswith(("http:", "https:")):
            raise InvalidRequest(
                "source names a remote marketplace the admin configured, never a URL "
                f"(known: {known})."
            )
        raise InvalidRequest(f"source: no remote marketplace is named {source[:80]!r} "
                             f"(known: {known}).")

    def resolve(self, value: Any) -> RemoteMarketplace | None:
        """The remote a request's ``source`` names; None for this server's own catalog."""
        if value is None or value in ("", "local"):
            return None
        if not isinstance(value, str):
            raise InvalidRequest("source must be the name of a remote marketplace, or 'local'.")
        return self.find(value)

    # -- HTTP -------------------------------------------------------------------------------

    def _request(self, remote: RemoteMarketplace, path: str, body: Any) -> urllib.request.Request:
        request = urllib.request.Request(
            remote.url + API + path,
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        if remote.token:
            request.add_header("Authorization", f"token {remote.token}")
        return request

    @contextlib.contextmanager
    def _exchange(
        self, remote: RemoteMarketplace, path: str, *, body: Any = None, seconds: float
    ) -> Iterator[tuple[http.client.HTTPResponse, _Deadline]]:
        """The response to one call, open while its deadline runs.

        Raises ``RemoteError`` (its ``status`` is the HTTP code of an error answer).
        """
        with _Deadline(seconds) as deadline:
            try:
                response = _opener(deadline).open(
                    self._request(remote, path, body), timeout=deadline.remaining()
                )
            except urllib.error.HTTPError as e:
                raise _http_error(e, deadline) from None
            except (OSError, http.client.HTTPException, ValueError) as e:
                failure = deadline.error() if deadline.expired else RemoteError(_describe(e))
                raise failure from None
            with response:
                yield response, deadline

    def _json(self, remote: RemoteMarketplace, path: str, body: Any = None) -> dict[str, Any]:
        with self._exchange(remote, path, body=body, seconds=self.timeout) as (response, deadline):
            data = b"".join(_chunks(response, self.max_answer_bytes, deadline))
        return parse_json(data)

    # -- search -----------------------------------------------------------------------------

    def search(
        self, req: SearchRequest, window: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The first ``window`` results of every remote, and one status per remote."""
        if not self.remotes:
            return [], []
        window = min(window, MAX_REMOTE_WINDOW)
        body = req.to_body(page=1, page_size=window, include_remote=False)
        with ThreadPoolExecutor(max_workers=min(len(self.remotes), 8)) as pool:
            answers = list(pool.map(lambda r: self._search_one(r, body, window), self.remotes))
        results = [item for items, _ in answers for item in items]
        return results, [status for _, status in answers]

    def _search_one(
        self, remote: RemoteMarketplace, body: dict[str, Any], window: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        status: dict[str, Any] = {"source": remote.name, "url": remote.url}
        try:
            payload = self._json(remote, "/search", body)
            results = payload.get("results", [])
            if not isinstance(results, list):
                raise RemoteError("its results are not a list")
        except Exception as e:  # any failure of a remote is reported, not raised
            if isinstance(e, RemoteError):
                error = str(e)
            else:  # a bug of ours, or a failure no branch above foresaw
                log.exception("Searching remote marketplace %s failed", remote.name)
                error = _describe(e)
            log.warning("Remote marketplace %s failed: %s", remote.name, error)
            return [], {**status, "ok": False, "error": error, "total": 0}
        items, problems = [], []
        for i, raw in enumerate(results[:window]):
            try:
                items.append({**clean_result(raw), "source": remote.name})
            except MalformedResult as e:
                problems.append(f"result {i}: {e}")
        total: int = payload["total"] if _is_count(payload.get("total")) else len(results)
        status.update(ok=True, total=max(total - len(problems), len(items)))
        if problems:
            log.warning("Remote marketplace %s sent %d malformed result(s): %s",
                        remote.name, len(problems), "; ".join(problems))
            status["dropped"] = len(problems)
            status["problems"] = problems[:MAX_REPORTED_PROBLEMS]
        return items, status

    # -- install ----------------------------------------------------------------------------

    def download(
        self, source: str, name: str, version: str | None, staging: Path
    ) -> tuple[Path, str, str]:
        """Fetch a published archive from a remote into ``staging``, verified by sha256.

        ``name`` and ``version`` must be a plugin name and semantic version (``InvalidRequest``
        otherwise), and so must the version the remote publishes. Returns (path, version,
        sha256); raises ``NotFound``, ``RemoteUnavailable`` or ``ChecksumMismatch`` (the
        archive is then deleted unread).
        """
        remote = self.find(source)
        check_plugin_ref(name, version)
        try:
            details = self._json(remote, f"/plugins/{name}")
        except RemoteError as e:
            if e.status == 404:
                raise NotFound(f"{remote.name} has no plugin named {name!r}.") from None
            raise RemoteUnavailable(f"{remote.name}: {e}.") from None
        try:
            version, expected = published_version(details, name, version)
        except MalformedResult as e:
            raise RemoteUnavailable(
                f"{remote.name} answered a malformed description of {name}: {e}."
            ) from None
        if expected is None:
            raise NotFound(f"{remote.name} has no published version {version} of {name}.")
        # Both checked: the file is in staging and the URL path has nothing to escape.
        path = staging / f"{name}-{version}.tar.gz"
        archive = f"/plugins/{name}/versions/{urllib.parse.quote(version, safe='')}/archive"
        try:
            with self._exchange(remote, archive, seconds=self.download_timeout) as (r, deadline):
                actual, _ = copy_hashing(_chunks(r, self.max_download_bytes, deadline), path)
        except RemoteError as e:
            path.unlink(missing_ok=True)
            raise RemoteUnavailable(
                f"Downloading {name} {version} from {remote.name} failed: {e}."
            ) from None
        if actual != expected:
            path.unlink()
            raise ChecksumMismatch(
                f"The archive of {name} {version} from {remote.name} does not match the "
                f"sha256 its catalog publishes (expected {expected}, got {actual}); it was not "
                "extracted and nothing was installed."
            )
        return path, version, expected


def published_version(
    details: dict[str, Any], name: str, version: str | None
) -> tuple[str, str | None]:
    """(version, sha256) of ``version`` (default the newest) in a remote's plugin details.

    The sha256 is None when that version is not published there; ``MalformedResult`` says
    what is wrong with details that do not have the shape of ours.
    """
    if details.get("name", name) != name:
        raise MalformedResult(f"it describes {_clip(details.get('name'), 80)!r}")
    if version is None:
        latest = details.get("latest_version")
        if not (isinstance(latest, str) and is_version(latest)):
            raise MalformedResult(f"latest_version {_clip(latest, 80)!r} is not a version")
        version = latest
    entries = details.get("versions_detail")
    if not isinstance(entries, list):
        raise MalformedResult("versions_detail is not a list")
    entry = next(
        (v for v in entries if isinstance(v, dict) and v.get("version") == version), None
    )
    if entry is None:
        return version, None
    sha256 = entry.get("sha256")
    if not (isinstance(sha256, str) and _SHA256.match(sha256)):
        raise MalformedResult(f"the sha256 of {version} is not 64 hex digits")
    return version, sha256


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        and abs(value) <= MAX_COUNT
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_versions(value: Any) -> bool:
    return isinstance(value, list) and all(is_version(v) for v in value)


def _is_rating(value: Any) -> bool:
    if not isinstance(value, dict) or not _is_count(value.get("count", 0)):
        return False
    average = value.get("average")
    return average is None or (_is_number(average) and 0 <= average <= 5)


def _is_date(value: Any) -> bool:
    """An ISO date the merge can sort by (``timestamp()`` overflows for some)."""
    try:
        datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError, OverflowError, OSError):
        return False
    return True


def _is_scan(value: Any) -> bool:
    """A scan summary as ``scan.report.scan_summary`` makes it (other keys are dropped)."""
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    counts = value.get("counts")
    if counts is not None and not (
        isinstance(counts, dict)
        and len(counts) <= 10
        and all(isinstance(k, str) and _is_count(v) for k, v in counts.items())
    ):
        return False
    return value.get("passed") in (None, True, False) and _is_text_or_none(
        value.get("scanned_at")
    )


#: The fields of a search result taken from a remote: (check, what it must be, default).
#: Anything else a remote sends is left out; ``source`` and ``installed*`` are ours to set.
RESULT_FIELDS: dict[str, tuple[Any, str, Any]] = {
    "plugin_id": (_is_text, "a string", None),
    "latest_version": (is_version, "a semantic version", ""),
    "versions": (_is_versions, "a list of semantic versions", []),
    "description": (_is_text, "a string", ""),
    "author": (_is_text, "a string", ""),
    "language": (_is_text_or_none, "a string", None),
    "input_format": (lambda v: v in ("dataframe", "json"), '"dataframe" or "json"', "dataframe"),
    "category": (_is_text_or_none, "a string", None),
    "tags": (_is_texts, "a list of strings", []),
    "extension_points": (_is_texts, "a list of strings", []),
    "permissions": (_is_texts, "a list of strings", []),
    "rating": (_is_rating, "{average: 0-5 or null, count: integer >= 0}",
               {"average": None, "count": 0}),
    "downloads": (_is_count, "an integer >= 0", 0),
    "featured": (lambda v: isinstance(v, bool), "true or false", False),
    "owner": (_is_text, "a string", ""),
    "publisher": (_is_text, "a string", ""),
    "published_at": (_is_date, "an ISO date", None),
    "sha256": (_is_text, "a string", ""),
    "scan": (_is_scan, "{passed, counts, scanned_at}", None),
    "score": (lambda v: v is None or _is_number(v), "a finite number", None),
}


class MalformedResult(ValueError):
    """A remote's search result that does not have the shape of one."""


def clean_result(item: Any) -> dict[str, Any]:
    """A remote's search result checked field by field; ``MalformedResult`` says what is wrong.

    The merge sorts remote results with the local ones by rating, downloads, date or score,
    so a value of the wrong type must not get that far: one bad result is dropped, not the
    whole answer. Its ``name`` must be a plugin name, as it may be installed by that name.
    """
    if not isinstance(item, dict):
        raise MalformedResult("not an object")
    name = item.get("name")
    if not is_plugin_name(name):
        raise MalformedResult(f"name {_clip(name, 80)!r} is not a plugin name")
    out: dict[str, Any] = {"name": name}
    for field, (check, expected, default) in RESULT_FIELDS.items():
        if field not in item or (item[field] is None and default is None):
            out[field] = name if field == "plugin_id" else default
            continue
        if not check(item[field]):
            raise MalformedResult(
                f"{name}: {field} must be {expected}, not {_clip(repr(item[field]), 80)}"
            )
        out[field] = item[field]
    rating = out["rating"]
    out["rating"] = {"average": rating.get("average"), "count": rating.get("count", 0)}
    if out["scan"] is not None:
        out["scan"] = {k: out["scan"].get(k) for k in ("passed", "counts", "scanned_at")}
    return out
