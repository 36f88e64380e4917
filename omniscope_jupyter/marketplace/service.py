"""The marketplace as one object the handlers (and the CLI or notebooks) call.

It ties the local catalog, ratings and reviews, the ranking and the remote marketplaces
together; each concern lives in its own module and this one only combines their answers.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

from ..core.lifecycle import PluginManager
from ..errors import ArchiveMismatch, InvalidRequest
from . import ranking
from .catalog import Catalog
from .checks import check_plugin_ref
from .remote import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_TIMEOUT,
    RemoteCatalogs,
)
from .reviews import DEFAULT_MAX_REVIEW_CHARS, Reviews
from .search import SearchRequest

DEFAULT_FEATURED_COUNT = 6


class Marketplace:
    """Publish, search, feature, rate, review and install plugins.

    Parameters
    ----------
    manager
        The local store (database, lock, scan stage, install pipeline).
    remotes
        Other OmniScope marketplaces: ``[{"url", "token", "name"?}, ...]``.
    review_max_chars, featured_count
        The review length cap and how many plugins ``featured`` returns.
    remote_timeout, remote_download_timeout
        Wall-clock seconds a JSON call to a remote (search, details) and an archive download
        from one may take in total.
    remote_max_answer_bytes, remote_max_archive_bytes
        Largest JSON answer and archive read from a remote (the upload cap suits the latter).
    """

    def __init__(
        self,
        manager: PluginManager,
        *,
        remotes: list[dict[str, Any]] | None = None,
        review_max_chars: int = DEFAULT_MAX_REVIEW_CHARS,
        remote_timeout: float = DEFAULT_TIMEOUT,
        remote_download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        remote_max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        remote_max_archive_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        featured_count: int = DEFAULT_FEATURED_COUNT,
    ) -> None:
        self.manager = manager
        self.catalog = Catalog(manager)
        self.reviews = Reviews(manager, review_max_chars)
        self.remotes = RemoteCatalogs.from_config(
            remotes or [],
            timeout=remote_timeout,
            download_timeout=remote_download_timeout,
            max_answer_bytes=remote_max_answer_bytes,
            max_download_bytes=remote_max_archive_bytes,
        )
        self.featured_count = featured_count

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        """Search the catalog, and the remotes unless the request (or no remote) says not to.

        With remotes, each source's first ``page * page_size`` results are merged by the
        requested sort and the page is cut from the merge; relevance scores of different
        sources are each source's own and only roughly comparable.
        """
        req = SearchRequest.parse(body)
        answer: dict[str, Any] = {
            "query": req.query,
            "sort": req.sort,
            "page": req.page,
            "page_size": req.page_size,
        }
        if not (req.include_remote and self.remotes.remotes):
            local = self.catalog.search(req)
            return {
                **answer,
                **local,
                "sources": [{"source": "local", "ok": True, "total": local["total"]}],
            }
        window = req.page * req.page_size
        local = self.catalog.search(req, limit=window, offset=0)
        remote_results, statuses = self.remotes.search(req, window)
        installed = self.catalog.installed_map([r["name"] for r in remote_results])
        for item in remote_results:
            item["installed"] = item["name"] in installed
            item["installed_version"] = installed.get(item["name"])
        merged = sorted(local["results"] + remote_results, key=_merge_key(req.sort))
        start = (req.page - 1) * req.page_size
        return {
            **answer,
            "results": merged[start : start + req.page_size],
            "total": local["total"] + sum(s["total"] for s in statuses),
            "sources": [{"source": "local", "ok": True, "total": local["total"]}, *statuses],
        }

    def featured(self, limit: int | None = None) -> dict[str, Any]:
        """Admin-flagged plugins first, then the best by ``ranking.score``."""
        limit = limit or self.featured_count
        entries = {e["name"]: e for e in self.catalog.all_entries()}
        ranked = ranking.rank(
            [
                ranking.RankInput(
                    name=e["name"],
                    rating_average=e["rating"]["average"] or 0.0,
                    rating_count=e["rating"]["count"],
                    downloads=e["downloads"],
                    published_at=datetime.fromisoformat(e["published_at"]),
                )
                for e in entries.values()
            ]
        )
        order = [(i, s) for i, s in ranked if entries[i.name]["featured"]]
        order += [(i, s) for i, s in ranked if not entries[i.name]["featured"]]
        results = [
            {**entries[i.name], "score": round(s, 4),
             "featured_because": "curated" if entries[i.name]["featured"] else "ranked"}
            for i, s in order[:limit]
        ]
        return {
            "results": results,
            "count": len(results),
            "ranking": "curated first; then 0.5*Bayesian rating (prior 3 stars x5) "
            "+ 0.3*log downloads + 0.2*exp(-age/90 days)",
        }

    def categories(self) -> dict[str, Any]:
        categories = self.catalog.categories()
        return {"categories": categories, "count": len(categories)}

    def install(self, body: dict[str, Any], *, user: str) -> dict[str, Any]:
        """Install ``{"name", "version"?, "source"?}`` from the catalog or a remote one.

        ``name`` and ``version`` are checked as a manifest checks them and ``source`` must be
        the name of a configured remote (never a URL) before anything else happens; the
        archive then goes through the install pipeline, which checks the manifest inside and
        refuses one naming another plugin or version (``ArchiveMismatch``, 422).
        """
        if not body.get("name"):
            raise InvalidRequest("name: the plugin to install is required.")
        name, version = check_plugin_ref(body.get("name"), body.get("version"))
        unknown = sorted(set(body) - {"name", "version", "source"})
        if unknown:
            raise InvalidRequest(f"Unknown field(s): {', '.join(str(u)[:80] for u in unknown)}.")
        remote = self.remotes.resolve(body.get("source"))
        if remote is None:
            return self.catalog.install(name, version, user=user)
        staging = self.manager.new_staging_dir()
        try:
            path, version, sha256 = self.remotes.download(remote.name, name, version, staging)
            # The remote chose the archive: it must be the plugin and version it says it is.
            try:
                result = self.manager.install(path, user=user, expect=(name, version))
            except ArchiveMismatch as exc:
                raise ArchiveMismatch(f"{remote.name}: {exc.message}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return {**result, "source": remote.name, "sha256": sha256}


def _merge_key(sort: str) -> Any:
    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        rating = item.get("rating") or {}
        if sort == "rating":
            primary = -ranking.bayesian_rating(rating.get("average") or 0.0, rating.get("count") or 0)
        elif sort == "downloads":
            primary = -(item.get("downloads") or 0)
        elif sort == "newest":
            try:
                primary = -datetime.fromisoformat(item.get("published_at", "")).timestamp()
            except (TypeError, ValueError, OverflowError, OSError):
                primary = 0.0
        else:
            primary = -(item.get("score") or 0.0)
        return (primary, item.get("name", ""), item.get("source", ""))

    return key
