"""Full-text search of the catalog through the database's own index.

SQLite: an FTS5 virtual table ``catalog_fts`` (porter stemming over unicode61 tokens, ranked by
``bm25`` with the name weighted most, then tags, author, description). Our code writes its row
in the same transaction as the catalog row it mirrors, so the index never drifts; ``create``
rebuilds it when its row count disagrees (e.g. a database restored without it).

PostgreSQL: a GIN expression index on ``to_tsvector('english', search_document)`` queried with
a ``to_tsquery`` of prefix terms and ranked with ``ts_rank``; the column itself is the index's
source, so there is nothing to keep in sync (tested against a real server in tests/postgres).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Float, String, column, func, literal_column, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Subquery

from ..errors import InvalidRequest
from ..extension_points import EXTENSION_POINT_NAMES
from ..store.database import lock_schema
from .orm import CatalogPlugin, RatingSummary
from .ranking import bayesian_rating_sql

FTS_TABLE = "catalog_fts"
#: bm25 weights of the FTS columns: plugin_name (the key, unindexed), name, description, tags,
#: author. A word in the name says more about a plugin than the same word in its description.
_BM25 = "bm25(catalog_fts, 0.0, 10.0, 1.0, 5.0, 2.0)"
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_CHARS = 500


def fts_fields(manifest: dict[str, Any]) -> dict[str, str]:
    """The indexed texts of a manifest: words of the name split at ``_`` so parts match."""
    name = str(manifest.get("name", ""))
    return {
        "name": f"{name} {name.replace('_', ' ')}",
        "description": str(manifest.get("description", "")),
        "tags": " ".join(str(t) for t in manifest.get("tags", [])),
        "author": str(manifest.get("author", "")),
    }


def search_document(manifest: dict[str, Any]) -> str:
    return " ".join(fts_fields(manifest).values())


def query_words(query: str) -> list[str]:
    """The words of a user's query; raises ``InvalidRequest`` when it has none to search."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"query is longer than {MAX_QUERY_CHARS} characters.")
    words = [w.lower() for w in _WORD.findall(query)]
    if not words:
        raise InvalidRequest(f"query {query!r} has no word to search for.")
    return words


class SearchIndex:
    """The catalog's full-text index on the engine's database (SQLite FTS5 or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        self.create(engine)

    def create(self, engine: Engine) -> None:
        """Create the index if missing; rebuild the FTS5 table if it disagrees with the catalog."""
        with engine.begin() as conn:
            lock_schema(conn)
            if self.dialect == "postgresql":
                conn.execute(
                    text(
                        "CREATE INDEX IF NOT EXISTS catalog_plugins_fts ON catalog_plugins "
                        "USING gin (to_tsvector('english', search_document))"
                    )
                )
                return
            conn.execute(
                text(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                    "plugin_name UNINDEXED, name, description, tags, author, "
                    "tokenize='porter unicode61')"
                )
            )
            indexed = conn.scalar(text(f"SELECT count(*) FROM {FTS_TABLE}"))
            catalog = conn.scalar(select(func.count()).select_from(CatalogPlugin))
            if indexed != catalog:
                conn.execute(text(f"DELETE FROM {FTS_TABLE}"))
                with Session(bind=conn) as s:
                    for plugin in s.scalars(select(CatalogPlugin)):
                        latest = next(
                            v for v in plugin.versions if v.version == plugin.latest_version
                        )
                        self._insert(s, plugin.name, latest.manifest)

    def sync(self, s: Session, name: str, manifest: dict[str, Any]) -> None:
        """Index ``manifest`` as plugin ``name``'s text, inside the caller's transaction."""
        if self.dialect == "postgresql":
            return  # the expression index follows catalog_plugins.search_document by itself
        s.execute(text(f"DELETE FROM {FTS_TABLE} WHERE plugin_name = :n"), {"n": name})
        self._insert(s, name, manifest)

    @staticmethod
    def _insert(s: Session, name: str, manifest: dict[str, Any]) -> None:
        s.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (plugin_name, name, description, tags, author) "
                "VALUES (:plugin_name, :name, :description, :tags, :author)"
            ),
            {"plugin_name": name, **fts_fields(manifest)},
        )

    def matches(self, query: str) -> Subquery:
        """A subquery of ``(plugin_name, score)`` for the plugins matching every query word.

        A higher score is more relevant. Each word matches as a prefix of a stemmed word on
        both databases (``normal`` finds ``normalizer``); only PostgreSQL drops stop words.
        """
        words = query_words(query)
        if self.dialect == "postgresql":
            # The configuration is a literal so the query's expression is the index's.
            config: Any = literal_column("'english'::regconfig")
            doc = func.to_tsvector(config, CatalogPlugin.search_document)
            # Words are \w+ only, so ``word:*`` joined by ``&`` holds no other operator.
            q = func.to_tsquery(config, " & ".join(f"{w}:*" for w in words))
            return (
                select(
                    CatalogPlugin.name.label("plugin_name"),
                    func.ts_rank(doc, q).label("score"),
                )
                .where(doc.bool_op("@@")(q))
                .subquery("fts")
            )
        expression = " ".join(f'"{w}"*' for w in words)  # quoted: no FTS5 operator injection
        return (
            text(
                f"SELECT plugin_name, -{_BM25} AS score FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH :expression"
            )
            .bindparams(expression=expression)
            .columns(column("plugin_name", String), column("score", Float))
            .subquery("fts")
        )


SORTS = ("relevance", "rating", "downloads", "newest")
LANGUAGES = ("python", "r")
MAX_PAGE_SIZE = 100
_REQUEST_FIELDS = frozenset(
    {"query", "category", "language", "extension_point", "tags", "sort", "page", "page_size",
     "include_remote"}
)


@dataclass(frozen=True)
class SearchRequest:
    """A validated ``POST /marketplace/search`` body."""

    query: str = ""
    category: str | None = None
    language: str | None = None
    extension_point: str | None = None
    tags: tuple[str, ...] = ()
    sort: str = "relevance"
    page: int = 1
    page_size: int = 20
    #: Whether configured remote marketplaces are searched too (off when a remote asks us).
    include_remote: bool = True

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SearchRequest:
        """Validate a request body, naming every problem at once (``InvalidRequest``)."""
        problems = [f"{k}: unknown field." for k in sorted(set(body) - _REQUEST_FIELDS)]

        def text_field(key: str) -> str | None:
            value = body.get(key)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                problems.append(f"{key}: must be a string.")
                return None
            return value.strip()

        query = text_field("query") or ""
        if query and not _WORD.search(query):
            problems.append(f"query: {query!r} has no word to search for.")
        if len(query) > MAX_QUERY_CHARS:
            problems.append(f"query: longer than {MAX_QUERY_CHARS} characters.")
        category = text_field("category")
        language = text_field("language")
        if language is not None and language not in LANGUAGES:
            problems.append(f"language: {language!r} must be python or r.")
        point = text_field("extension_point")
        if point is not None and point not in EXTENSION_POINT_NAMES:
            problems.append(
                f"extension_point: {point!r} is not one of {', '.join(sorted(EXTENSION_POINT_NAMES))}."
            )
        tags = body.get("tags") or []
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            problems.append("tags: must be a list of non-empty strings.")
            tags = []
        sort = text_field("sort") or "relevance"
        if sort not in SORTS:
            problems.append(f"sort: {sort!r} must be one of {', '.join(SORTS)}.")
        page = _int_field(body, "page", 1, 1, 10_000, problems)
        page_size = _int_field(body, "page_size", 20, 1, MAX_PAGE_SIZE, problems)
        include_remote = body.get("include_remote", True)
        if not isinstance(include_remote, bool):
            problems.append("include_remote: must be true or false.")
        if problems:
            raise InvalidRequest(
                "The search request has problems: " + " ".join(problems), problems=problems
            )
        return cls(
            query=query,
            category=category,
            language=language,
            extension_point=point,
            tags=tuple(t.strip().lower() for t in tags),
            sort=sort,
            page=page,
            page_size=page_size,
            include_remote=bool(include_remote),
        )

    def to_body(self, **changes: Any) -> dict[str, Any]:
        """This request as a JSON body (what is forwarded to a remote marketplace)."""
        body = {
            "query": self.query,
            "category": self.category,
            "language": self.language,
            "extension_point": self.extension_point,
            "tags": list(self.tags),
            "sort": self.sort,
            "page": self.page,
            "page_size": self.page_size,
            "include_remote": self.include_remote,
        }
        body.update(changes)
        return {k: v for k, v in body.items() if v is not None}


def _int_field(
    body: dict[str, Any], key: str, default: int, lo: int, hi: int, problems: list[str]
) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        problems.append(f"{key}: must be a whole number from {lo} to {hi}.")
        return default
    return value


def key_of(values: list[str] | tuple[str, ...]) -> str:
    """``|a|b|``: a list as text where one member is found with ``LIKE '%|a|%'``."""
    return "|" + "|".join(v.lower() for v in values) + "|"


def run_search(
    s: Session, index: SearchIndex, req: SearchRequest, *, limit: int, offset: int
) -> tuple[list[tuple[CatalogPlugin, float | None]], int]:
    """The catalog plugins matching ``req`` (filters in SQL), sorted, one window; and the total."""
    stmt = select(CatalogPlugin)
    score_col: Any = None
    if req.query:
        fts = index.matches(req.query)
        score_col = fts.c.score
        stmt = stmt.join(fts, fts.c.plugin_name == CatalogPlugin.name).add_columns(score_col)
    if req.category:
        stmt = stmt.where(CatalogPlugin.category == req.category)
    if req.language:
        stmt = stmt.where(CatalogPlugin.language == req.language)
    if req.extension_point:
        stmt = stmt.where(
            CatalogPlugin.extension_points_key.contains(f"|{req.extension_point}|", autoescape=True)
        )
    for tag in req.tags:
        stmt = stmt.where(CatalogPlugin.tags_key.contains(f"|{tag}|", autoescape=True))
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    summary = aliased(RatingSummary)
    stmt = stmt.outerjoin(summary, summary.plugin_name == CatalogPlugin.name)
    order: list[Any]
    if req.sort == "rating":
        order = [bayesian_rating_sql(summary.total, summary.count).desc()]
    elif req.sort == "downloads":
        order = [CatalogPlugin.downloads.desc()]
    elif req.sort == "newest":
        order = [CatalogPlugin.published_at.desc()]
    else:
        order = [score_col.desc()] if score_col is not None else []
    stmt = stmt.order_by(*order, CatalogPlugin.name).limit(limit).offset(offset)
    rows = s.execute(stmt).all()
    scored: list[tuple[CatalogPlugin, float | None]] = [
        (row[0], cast(float, tuple(row)[1]) if score_col is not None else None) for row in rows
    ]
    return scored, total
