"""Full-text search of the catalog through the database's own index.

A query is words, never syntax: its letters and digits are kept (NFKC-folded, lowercased, at
most ``MAX_QUERY_WORDS`` distinct words of at most ``MAX_WORD_CHARS``) and everything else,
quotes, ``*``, ``:``, parentheses, ``-``, control characters, is a separator. FTS5 keywords
(``NEAR``, ``AND``, ``OR``, ``NOT``) and tsquery operators are thus ordinary words, and every
word reaches the database as a bound parameter. A plugin matches when each word is a prefix
of one of its words, either as written (``normaliz`` finds "normalizer") or after stemming
(``normalizing`` finds "normalizes"); a British ``-ise`` spelling also tries ``-ize`` and back
(``normalise``). The indexed text is the name (also split at ``_``), description, tags,
author, category (also split) and language, each cut to ``MAX_INDEXED_CHARS``.

SQLite: two FTS5 tables, ``catalog_fts`` (``porter unicode61``: stems) and
``catalog_fts_words`` (``unicode61``: words as written), ranked by ``bm25`` with the name
weighted most. Our code writes their rows in the same transaction as the catalog row they
mirror, so the index never drifts; ``create`` rebuilds a table whose definition is not ours
(a store made by an older version) or whose row count disagrees with the catalog.

PostgreSQL: a GIN expression index on ``english || simple`` tsvectors of ``search_document``
(stems and words as written), queried with ``to_tsquery`` of prefix lexemes and ranked with
``ts_rank``. The column itself is the index's source, so there is nothing to keep in sync; an
index of another definition is dropped and rebuilt at open (tested in tests/postgres).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Float, String, column, func, literal_column, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Subquery

from ..errors import InvalidRequest
from ..extension_points import EXTENSION_POINT_NAMES
from ..store.database import lock_schema
from ..values import Language
from .checks import storable, unprintable
from .orm import CatalogPlugin, RatingSummary
from .ranking import bayesian_rating_sql

#: Porter stems of the indexed text, and the same text's words as written (for prefixes).
FTS_TABLE = "catalog_fts"
WORDS_TABLE = "catalog_fts_words"
FTS_COLUMNS = ("name", "description", "tags", "author", "category", "language")
#: bm25 weights of plugin_name (the key, unindexed) then FTS_COLUMNS: a word in the name says
#: more about a plugin than the same word in its description.
_WEIGHTS = "0.0, 10.0, 1.0, 5.0, 2.0, 3.0, 1.0"
_TOKENIZERS = {
    FTS_TABLE: "porter unicode61 remove_diacritics 2",
    WORDS_TABLE: "unicode61 remove_diacritics 2",
}
#: As SQLite stores them in ``sqlite_master.sql``: a table with other text is rebuilt.
FTS_DDL = {
    table: f"CREATE VIRTUAL TABLE {table} USING fts5(plugin_name UNINDEXED, "
    f"{', '.join(FTS_COLUMNS)}, tokenize='{tokenizer}')"
    for table, tokenizer in _TOKENIZERS.items()
}
PG_INDEX = "catalog_plugins_fts"
_PG_CONFIGS = ("english", "simple")
PG_INDEX_DDL = (
    f"CREATE INDEX {PG_INDEX} ON catalog_plugins USING gin (("
    + " || ".join(f"to_tsvector('{c}'::regconfig, search_document)" for c in _PG_CONFIGS)
    + "))"
)
#: What ``search_document`` makes; a new one is recomputed for every row with the index.
SEARCH_DOCUMENT_FORMAT = "2: words of fts_fields"
#: The comment an index of ``PG_INDEX_DDL`` over documents of ``SEARCH_DOCUMENT_FORMAT``
#: carries (PostgreSQL rewrites the index's text, so that cannot be compared).
PG_INDEX_MARK = "omniscope-fts " + hashlib.sha256(
    (PG_INDEX_DDL + SEARCH_DOCUMENT_FORMAT).encode()
).hexdigest()[:16]

_WORD = re.compile(r"[^\W_]+")
#: Only this much of a query is read, and this many distinct words of it searched.
MAX_QUERY_CHARS = 2000
MAX_QUERY_WORDS = 16
MAX_WORD_CHARS = 64
#: Each indexed field is cut to this many characters (PostgreSQL caps a tsvector at 1 MB).
MAX_INDEXED_CHARS = 20_000
_BRITISH = re.compile(r"(?<=\w\w)[iy]([sz])(e|es|ed|ing|er|ers|ation|ations)$")


def _indexable(value: Any) -> str:
    """Manifest text as the index stores it: cut to ``MAX_INDEXED_CHARS``, storable."""
    return storable(str(value)[:MAX_INDEXED_CHARS])


def fts_fields(manifest: dict[str, Any]) -> dict[str, str]:
    """The indexed texts of a manifest: name and category also split at ``_`` so parts match."""
    name = str(manifest.get("name", ""))
    category = str(manifest.get("category", "") or "")
    tags = manifest.get("tags", [])
    fields = {
        "name": f"{name} {name.replace('_', ' ')}",
        "description": manifest.get("description", ""),
        "tags": " ".join(str(t) for t in tags) if isinstance(tags, list) else "",
        "author": manifest.get("author", ""),
        "category": f"{category} {category.replace('_', ' ')}".strip(),
        "language": manifest.get("language", "") or "",
    }
    return {k: _indexable(v) for k, v in fields.items()}


def search_document(manifest: dict[str, Any]) -> str:
    """The indexed texts as words only, what PostgreSQL indexes.

    Its parser would otherwise read ``median/IQR`` as one file-path token and ``z-score`` as
    a hyphenated word: words alone tokenize as FTS5 tokenizes the texts.
    """
    text_ = " ".join(fts_fields(manifest).values())
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text_)))


def query_words(query: str) -> list[str]:
    """The distinct words of a user's query, in order; all else in it is a separator.

    Never raises: a query of punctuation or FTS syntax only has no words (and finds nothing).
    """
    folded = unicodedata.normalize("NFKC", query[:MAX_QUERY_CHARS]).lower()
    words: list[str] = []
    for match in _WORD.finditer(folded):
        word = match.group()[:MAX_WORD_CHARS]
        if word not in words:
            words.append(word)
            if len(words) == MAX_QUERY_WORDS:
                break
    return words


def spellings(word: str) -> list[str]:
    """``word`` and its other spelling when it ends like ``-ise``/``-ize`` (``-yse``/``-yze``)."""
    m = _BRITISH.search(word)
    if m is None:
        return [word]
    other = "z" if m.group(1) == "s" else "s"
    return [word, word[: m.start(1)] + other + word[m.end(1) :]]


def _fts_prefix(word: str) -> str:
    """An FTS5 prefix term: a quoted string (``"`` doubled) is a phrase, never an operator."""
    return '"' + word.replace('"', '""') + '"*'


def _latest_manifests(s: Session) -> Iterator[tuple[CatalogPlugin, dict[str, Any]]]:
    """Each catalog plugin with its newest version's manifest (what the index holds)."""
    for plugin in s.scalars(select(CatalogPlugin)):
        latest = next(v for v in plugin.versions if v.version == plugin.latest_version)
        yield plugin, latest.manifest


def _fts_exists(conn: Connection, table: str) -> str | None:
    """The ``CREATE`` text of ``table`` as stored, or None when there is no such table."""
    sql = conn.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": table}
    )
    return None if sql is None else str(sql)


class SearchIndex:
    """The catalog's full-text index on the engine's database (SQLite FTS5 or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        self.create(engine)

    def create(self, engine: Engine) -> None:
        """Create the index if missing; rebuild it where its definition or rows are not ours."""
        with engine.begin() as conn:
            lock_schema(conn)
            if self.dialect == "postgresql":
                self._create_postgresql(conn)
                return
            rebuild = False
            for table, ddl in FTS_DDL.items():
                found = _fts_exists(conn, table)
                if found != ddl:
                    if found is not None:
                        conn.execute(text(f"DROP TABLE {table}"))
                    conn.execute(text(ddl))
                    rebuild = True
            catalog = conn.scalar(select(func.count()).select_from(CatalogPlugin))
            for table in FTS_DDL:
                rebuild = rebuild or conn.scalar(text(f"SELECT count(*) FROM {table}")) != catalog
            if rebuild:
                with Session(bind=conn) as s:
                    for table in FTS_DDL:
                        s.execute(text(f"DELETE FROM {table}"))
                    for plugin, manifest in _latest_manifests(s):
                        self._insert(s, plugin.name, manifest)

    @staticmethod
    def _create_postgresql(conn: Connection) -> None:
        """Create the GIN index, or rebuild one of another definition with its documents."""
        mark = conn.scalar(
            text("SELECT obj_description(to_regclass(:i), 'pg_class')"), {"i": PG_INDEX}
        )
        exists = conn.scalar(text("SELECT to_regclass(:i) IS NOT NULL"), {"i": PG_INDEX})
        if exists and mark == PG_INDEX_MARK:
            return
        if exists:
            conn.execute(text(f"DROP INDEX {PG_INDEX}"))
        with Session(bind=conn) as s:
            for plugin, manifest in _latest_manifests(s):
                plugin.search_document = search_document(manifest)
            s.flush()
        conn.execute(text(PG_INDEX_DDL))
        conn.execute(text(f"COMMENT ON INDEX {PG_INDEX} IS '{PG_INDEX_MARK}'"))

    def sync(self, s: Session, name: str, manifest: dict[str, Any]) -> None:
        """Index ``manifest`` as plugin ``name``'s text, inside the caller's transaction."""
        if self.dialect == "postgresql":
            return  # the expression index follows catalog_plugins.search_document by itself
        for table in FTS_DDL:
            s.execute(text(f"DELETE FROM {table} WHERE plugin_name = :n"), {"n": name})
        self._insert(s, name, manifest)

    @staticmethod
    def _insert(s: Session, name: str, manifest: dict[str, Any]) -> None:
        columns = ", ".join(FTS_COLUMNS)
        values = ", ".join(f":{c}" for c in FTS_COLUMNS)
        for table in FTS_DDL:
            s.execute(
                text(
                    f"INSERT INTO {table} (plugin_name, {columns}) "
                    f"VALUES (:plugin_name, {values})"
                ),
                {"plugin_name": name, **fts_fields(manifest)},
            )

    def matches(self, words: list[str]) -> Subquery:
        """A subquery of ``(plugin_name, score)`` for the plugins matching every one of ``words``.

        ``words`` come from ``query_words`` (at least one). A higher score is more relevant.
        """
        if not words:
            raise ValueError("matches() needs at least one word")
        if self.dialect == "postgresql":
            return self._matches_postgresql(words)
        # Only table names and parameter names are written into the SQL; words are bound.
        selects = []
        params: dict[str, str] = {}
        for i, word in enumerate(words):
            params[f"w{i}"] = " OR ".join(_fts_prefix(v) for v in spellings(word))
            selects += [
                f"SELECT plugin_name, -bm25({table}, {_WEIGHTS}) AS score, {i} AS word "
                f"FROM {table} WHERE {table} MATCH :w{i}"
                for table in FTS_DDL
            ]
        return (
            text(
                f"SELECT plugin_name, sum(score) AS score FROM ({' UNION ALL '.join(selects)}) "
                f"GROUP BY plugin_name HAVING count(DISTINCT word) = {len(words)}"
            )
            .bindparams(**params)
            .columns(column("plugin_name", String), column("score", Float))
            .subquery("fts")
        )

    @staticmethod
    def _matches_postgresql(words: list[str]) -> Subquery:
        # The configurations are literals so the query's expression is the index's.
        configs: list[Any] = [literal_column(f"'{c}'::regconfig") for c in _PG_CONFIGS]
        doc: Any = func.to_tsvector(configs[0], CatalogPlugin.search_document)
        for config in configs[1:]:
            doc = doc.op("||")(func.to_tsvector(config, CatalogPlugin.search_document))
        query: Any = None
        for word in words:
            # A bound "word:*" of letters and digits only: no tsquery operator can be in it.
            either: Any = None
            for variant in spellings(word):
                if not _WORD.fullmatch(variant):
                    raise ValueError(f"{variant!r} is not a word of query_words")
                for config in configs:
                    term = func.to_tsquery(config, f"{variant}:*")
                    either = term if either is None else either.op("||")(term)
            query = either if query is None else query.op("&&")(either)
        return (
            select(
                CatalogPlugin.name.label("plugin_name"),
                func.ts_rank(doc, query).label("score"),
            )
            .where(doc.bool_op("@@")(query))
            .subquery("fts")
        )


SORTS = ("relevance", "rating", "downloads", "newest")
LANGUAGES: tuple[str, ...] = tuple(Language)
MAX_PAGE_SIZE = 100
#: Longest filter value and most tags one search may name.
MAX_FILTER_CHARS = 200
MAX_TAGS = 20
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

    @property
    def words(self) -> list[str]:
        """What is searched for: ``query_words`` of the query."""
        return query_words(self.query)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SearchRequest:
        """Validate a request body, naming every problem at once (``InvalidRequest``).

        The query is free text (see ``query_words``); filters are exact values, so a filter
        holding control characters or longer than ``MAX_FILTER_CHARS`` is refused.
        """
        problems = [f"{k}: unknown field." for k in sorted(set(body) - _REQUEST_FIELDS)]

        def text_field(key: str, value: Any, limit: int | None = MAX_FILTER_CHARS) -> str | None:
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                problems.append(f"{key}: must be a string.")
                return None
            if limit is not None and len(value) > limit:
                problems.append(f"{key}: longer than {limit} characters.")
                return None
            if limit is not None and unprintable(value):
                problems.append(f"{key}: holds control characters.")
                return None
            return value.strip()

        query = (text_field("query", body.get("query"), None) or "")[:MAX_QUERY_CHARS]
        category = text_field("category", body.get("category"))
        language = text_field("language", body.get("language"))
        if language is not None:
            language = language.lower()
            if language not in LANGUAGES:
                problems.append(f"language: {language!r} must be python or r.")
        point = text_field("extension_point", body.get("extension_point"))
        if point is not None and point not in EXTENSION_POINT_NAMES:
            problems.append(
                f"extension_point: {point!r} is not one of {', '.join(sorted(EXTENSION_POINT_NAMES))}."
            )
        raw_tags = body.get("tags") or []
        if isinstance(raw_tags, str):
            raw_tags = [raw_tags]
        tags: list[str] = []
        if (
            not isinstance(raw_tags, list)
            or len(raw_tags) > MAX_TAGS
            or not all(isinstance(t, str) and t.strip() for t in raw_tags)
        ):
            problems.append(f"tags: must be a list of at most {MAX_TAGS} non-empty strings.")
        else:
            tags = [v.lower() for v in (text_field("tags", t) for t in raw_tags) if v]
        sort = text_field("sort", body.get("sort")) or "relevance"
        if sort not in SORTS:
            problems.append(f"sort: {sort!r} must be one of {', '.join(SORTS)}.")
        page = _int_field(body, "page", 1, 1, 10_000, problems)
        page_size = _int_field(body, "page_size", 20, 1, MAX_PAGE_SIZE, problems)
        include_remote = body.get("include_remote", True)
        if not isinstance(include_remote, bool):
            problems.append("include_remote: must be true or false.")
        if problems:
            problems = list(dict.fromkeys(problems))
            raise InvalidRequest(
                "The search request has problems: " + " ".join(problems), problems=problems
            )
        return cls(
            query=query,
            category=category,
            language=language,
            extension_point=point,
            tags=tuple(tags),
            sort=sort,
            page=page,
            page_size=page_size,
            include_remote=bool(include_remote),
        )

    def to_body(self, **changes: Any) -> dict[str, Any]:
        """This request as a JSON body (what is forwarded to a remote marketplace).

        The query is forwarded as its words only: what we search is what a remote searches.
        """
        body = {
            "query": " ".join(self.words),
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
    """The catalog plugins matching ``req`` (filters in SQL), sorted, one window; and the total.

    A query without a word to search for (punctuation only) finds nothing.
    """
    stmt = select(CatalogPlugin)
    score_col: Any = None
    if req.query:
        words = req.words
        if not words:
            return [], 0
        fts = index.matches(words)
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
