"""Other OmniScope marketplaces, searched and installed from over their REST API.

Each remote is ``{"url", "token", "name"?}`` (the server's base URL and a Jupyter token for it).
Search asks every remote at once, each with a short timeout; results carry a ``source`` tag
(the remote's name, or its URL) and whether they are installed *here*. A remote that cannot be
reached, refuses us or answers nonsense is reported in the answer's ``sources`` and never
fails the search; so is each result that does not have the shape of a search result (a
``rating`` that is not numbers, ``"downloads": "lots"``...), which is dropped rather than let
into the merge. An install from a remote reads the version's sha256 from the remote's
catalog, streams the archive to staging while hashing it under a size cap, and refuses it
before extraction unless the two agree.

Requests use ``urllib.request`` in worker threads (the core is synchronous; the handlers call
it off the event loop) and honour the usual ``*_proxy`` environment variables.
"""

from __future__ import annotations

import json
import logging
import math
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest, NotFound, PluginError, RemoteUnavailable
from ..manifest import NAME_RE
from .catalog import ChecksumMismatch, copy_hashing
from .search import SearchRequest

log = logging.getLogger(__name__)

API = "/api/plugins/marketplace"
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
#: Most results asked of each remote for one merged page (a remote serves pages of <= 100).
MAX_REMOTE_WINDOW = 100
#: How many dropped results of one remote are described in its status.
MAX_REPORTED_PROBLEMS = 5


@dataclass(frozen=True)
class RemoteMarketplace:
    """One configured remote marketplace."""

    url: str
    token: str = ""
    name: str = ""

    @property
    def source(self) -> str:
        """The tag its results carry."""
        return self.name or self.url

    @classmethod
    def from_config(cls, item: Any) -> RemoteMarketplace:
        """Validate one entry of the ``remote_marketplaces`` setting."""
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise TypeError(f"A remote marketplace must be {{'url', 'token'}}, not {item!r}.")
        url = item["url"].rstrip("/")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"Remote marketplace URL {url!r} must start with http:// or https://.")
        return cls(url=url, token=str(item.get("token") or ""), name=str(item.get("name") or ""))


def _describe(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        try:
            message = json.loads(e.read() or b"{}").get("message", "")
        except (ValueError, AttributeError, OSError):
            message = ""
        return f"HTTP {e.code}" + (f": {message}" if message else f" {e.reason}")
    if isinstance(e, urllib.error.URLError):
        return f"unreachable: {e.reason}"
    return f"{type(e).__name__}: {e}"


class RemoteCatalogs:
    """The configured remote marketplaces and the HTTP calls to them."""

    def __init__(
        self,
        remotes: list[RemoteMarketplace],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.remotes = list(remotes)
        self.timeout = timeout
        self.max_download_bytes = max_download_bytes

    @classmethod
    def from_config(cls, items: list[Any], **kwargs: Any) -> RemoteCatalogs:
        return cls([RemoteMarketplace.from_config(i) for i in items], **kwargs)

    def find(self, source: str) -> RemoteMarketplace:
        for remote in self.remotes:
            if source in (remote.source, remote.url, remote.name):
                return remote
        known = ", ".join(r.source for r in self.remotes) or "none configured"
        raise NotFound(f"No remote marketplace {source!r} (known: {known}).")

    def _open(self, remote: RemoteMarketplace, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            remote.url + API + path,
            data=data,
            method="GET" if body is None else "POST",
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        if remote.token:
            request.add_header("Authorization", f"token {remote.token}")
        return urllib.request.urlopen(request, timeout=self.timeout)

    def _json(self, remote: RemoteMarketplace, path: str, body: Any = None) -> Any:
        with self._open(remote, path, body) as response:
            payload = json.loads(response.read(self.max_download_bytes))
        if not isinstance(payload, dict):
            raise TypeError("the answer is not a JSON object")
        return payload

    # -- search -----------------------------------------------------------------------------

    def search(
        self, req: SearchRequest, window: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The first ``window`` results of every remote, and one status per remote."""
        if not self.remotes:
            return [], []
        body = req.to_body(page=1, page_size=min(window, MAX_REMOTE_WINDOW), include_remote=False)
        with ThreadPoolExecutor(max_workers=min(len(self.remotes), 8)) as pool:
            answers = list(pool.map(lambda r: self._search_one(r, body), self.remotes))
        results = [item for items, _ in answers for item in items]
        return results, [status for _, status in answers]

    def _search_one(
        self, remote: RemoteMarketplace, body: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        try:
            payload = self._json(remote, "/search", body)
            results = payload.get("results", [])
            if not isinstance(results, list):
                raise TypeError("its results are not a list")
        except Exception as e:  # noqa: BLE001 -- any failure of a remote is reported, not raised
            error = _describe(e)  # once: it reads the error body
            log.warning("Remote marketplace %s failed: %s", remote.url, error)
            return [], {"source": remote.source, "url": remote.url, "ok": False,
                        "error": error, "total": 0}
        items, problems = [], []
        for i, raw in enumerate(results):
            try:
                items.append({**clean_result(raw), "source": remote.source})
            except MalformedResult as e:
                problems.append(f"result {i}: {e}")
        total = payload.get("total")
        if not _is_count(total):
            total = len(results)
        status: dict[str, Any] = {
            "source": remote.source,
            "url": remote.url,
            "ok": True,
            "total": max(total - len(problems), len(items)),
        }
        if problems:
            log.warning("Remote marketplace %s sent %d malformed result(s): %s",
                        remote.url, len(problems), "; ".join(problems))
            status["dropped"] = len(problems)
            status["problems"] = problems[:MAX_REPORTED_PROBLEMS]
        return items, status

    # -- install ----------------------------------------------------------------------------

    def download(
        self, source: str, name: str, version: str | None, staging: Path
    ) -> tuple[Path, str, str]:
        """Fetch a published archive from a remote into ``staging``, verified by sha256.

        Returns (path, version, sha256); raises ``NotFound``, ``RemoteUnavailable`` or
        ``ChecksumMismatch`` (the archive is then deleted unread).
        """
        remote = self.find(source)
        quoted = urllib.parse.quote(name, safe="")
        try:
            details = self._json(remote, f"/plugins/{quoted}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise NotFound(f"{remote.source} has no plugin named {name!r}.") from None
            raise RemoteUnavailable(f"{remote.source}: {_describe(e)}.") from None
        except Exception as e:  # noqa: BLE001
            raise RemoteUnavailable(f"{remote.source}: {_describe(e)}.") from None
        version = version or details.get("latest_version")
        entry = next(
            (v for v in details.get("versions_detail", []) if v.get("version") == version), None
        )
        if entry is None or not isinstance(entry.get("sha256"), str):
            raise NotFound(f"{remote.source} has no published version {version} of {name}.")
        expected = entry["sha256"]
        path = staging / f"{name}-{version}.tar.gz"
        archive_path = f"/plugins/{quoted}/versions/{urllib.parse.quote(version, safe='')}/archive"
        try:
            with self._open(remote, archive_path) as response:
                actual, _ = copy_hashing(response, path, self.max_download_bytes)
        except PluginError:
            raise
        except Exception as e:  # noqa: BLE001
            raise RemoteUnavailable(
                f"Downloading {name} {version} from {remote.source} failed: {_describe(e)}."
            ) from None
        if actual != expected:
            path.unlink()
            raise ChecksumMismatch(
                f"The archive of {name} {version} from {remote.source} does not match the "
                f"sha256 its catalog publishes (expected {expected}, got {actual}); it was not "
                "extracted and nothing was installed."
            )
        return path, version, expected


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_rating(value: Any) -> bool:
    if not isinstance(value, dict) or not _is_count(value.get("count", 0)):
        return False
    average = value.get("average")
    return average is None or (_is_number(average) and 0 <= average <= 5)


def _is_date(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


#: The fields of a search result taken from a remote: (check, what it must be, default).
#: Anything else a remote sends is left out; ``source`` and ``installed*`` are ours to set.
RESULT_FIELDS: dict[str, tuple[Any, str, Any]] = {
    "plugin_id": (_is_text, "a string", None),
    "latest_version": (_is_text, "a string", ""),
    "versions": (_is_texts, "a list of strings", []),
    "description": (_is_text, "a string", ""),
    "author": (_is_text, "a string", ""),
    "language": (_is_text_or_none, "a string", None),
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
    "scan": (lambda v: v is None or isinstance(v, dict), "an object", None),
    "score": (lambda v: v is None or _is_number(v), "a finite number", None),
}


class MalformedResult(ValueError):
    """A remote's search result that does not have the shape of one."""


def clean_result(item: Any) -> dict[str, Any]:
    """A remote's search result checked field by field; ``MalformedResult`` says what is wrong.

    The merge sorts remote results with the local ones by rating, downloads, date or score,
    so a value of the wrong type must not get that far: one bad result is dropped, not the
    whole answer.
    """
    if not isinstance(item, dict):
        raise MalformedResult("not an object")
    name = item.get("name")
    if not (isinstance(name, str) and NAME_RE.match(name)):
        raise MalformedResult(f"name {str(name)[:80]!r} is not a plugin name")
    out: dict[str, Any] = {"name": name}
    for field, (check, expected, default) in RESULT_FIELDS.items():
        if field not in item or (item[field] is None and default is None):
            out[field] = name if field == "plugin_id" else default
            continue
        if not check(item[field]):
            raise MalformedResult(f"{name}: {field} must be {expected}, not {item[field]!r:.80}")
        out[field] = item[field]
    rating = out["rating"]
    out["rating"] = {"average": rating.get("average"), "count": rating.get("count", 0)}
    return out


def check_source(value: Any) -> str | None:
    if value is None or value in ("", "local"):
        return None
    if not isinstance(value, str):
        raise InvalidRequest("source must be the name or URL of a remote marketplace.")
    return value
