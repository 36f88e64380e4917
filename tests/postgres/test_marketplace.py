"""The marketplace on PostgreSQL: publish, full-text search (GIN index), ratings, reviews.

Search answers as on SQLite: the search suite's queries, what users type for the normalizer
and the query syntax of tests/security all run here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import InvalidPackage
from omniscope_jupyter.marketplace import Marketplace
from omniscope_jupyter.marketplace.search import PG_INDEX_MARK, SearchIndex

from ..marketplace.test_search import NORMALIZER, NORMALIZER_QUERIES
from ..marketplace.test_search import PLUGINS as SEARCH_PLUGINS
from ..security.test_marketplace_attacks import QUERY_SYNTAX

pytestmark = pytest.mark.timeout(120)

# The search suite's catalog, with its R plugin swapped for a Python one (no R scan needed).
PLUGINS = [
    *SEARCH_PLUGINS[:3],
    {"name": "sensor_smoother", "description": "LOESS smoothing of noisy sensor series",
     "category": "preprocessing", "tags": ["sensors", "smoothing"],
     "extension_points": ["preprocessing"], "author": "Dan Wu"},
]


@pytest.fixture
def market(tmp_path: Path, pg_url: str) -> Iterator[Marketplace]:
    manager = PluginManager(tmp_path / "store", db_url=pg_url)
    yield Marketplace(manager)
    manager.close()


@pytest.fixture
def catalog(market: Marketplace, package: Callable[..., Path]) -> Marketplace:
    for spec in PLUGINS:
        market.catalog.publish(package(**spec), user="alice")
    return market


def names(market: Marketplace, **body: Any) -> list[str]:
    return [r["name"] for r in market.search({"include_remote": False, **body})["results"]]


def test_search_runs_on_the_gin_expression_index(catalog: Marketplace) -> None:
    with catalog.manager.engine.connect() as conn:
        index = conn.scalar(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'catalog_plugins_fts'"
        ))
        assert index is not None and "gin" in index
        assert "to_tsvector('english'" in index and "to_tsvector('simple'" in index
        # With sequential scans priced out, the planner uses the index for our query's shape:
        # proof that the query's expression is the index's.
        conn.execute(text("SET enable_seqscan = off"))
        fts = catalog.catalog.index.matches(["quantile", "normalise"])
        plan = "\n".join(conn.scalars(text(f"EXPLAIN {_sql(conn, fts)}")))
        assert "catalog_plugins_fts" in plan, plan


def _sql(conn: Any, subquery: Any) -> str:
    """The SELECT of a subquery with its parameters inlined (for EXPLAIN)."""
    return str(subquery.element.compile(conn, compile_kwargs={"literal_binds": True}))


def test_a_word_from_a_description_finds_the_plugin(catalog: Marketplace) -> None:
    assert names(catalog, query="quantile") == ["drift_watch"]
    assert names(catalog, query="variance") == ["frame_scaler"]
    # Stemming, and prefixes as on SQLite: "rescaling", "rescal" and "quant" find their words.
    assert names(catalog, query="rescaling") == ["frame_scaler"]
    assert names(catalog, query="Rescal") == ["frame_scaler"]
    assert names(catalog, query="quant") == ["drift_watch"]
    # Name parts, tags and author are indexed too; every word must match.
    assert names(catalog, query="report") == ["pdf_report"]
    assert names(catalog, query="Carla") == ["pdf_report"]
    assert sorted(names(catalog, query="sensor")) == ["drift_watch", "sensor_smoother"]
    assert names(catalog, query="sensor loess") == ["sensor_smoother"]
    assert names(catalog, query="nothing-like-this") == []
    # Stop words are words as written too ("of" is in two descriptions, "the" in none).
    assert names(catalog, query="the of") == []
    assert sorted(names(catalog, query="of")) == ["pdf_report", "sensor_smoother"]
    assert names(catalog, query="!!!") == []
    # Category words are indexed (split at "_" like names).
    assert names(catalog, query="report generation") == ["pdf_report"]


def test_query_syntax_is_words_never_an_operator_or_an_error(catalog: Marketplace) -> None:
    for query, expected in QUERY_SYNTAX:
        assert sorted(names(catalog, query=query)) == expected, query[:60]
    with catalog.manager.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM catalog_plugins")) == len(PLUGINS)


def test_what_users_type_finds_the_normalizer(
    catalog: Marketplace, package: Callable[..., Path]
) -> None:
    catalog.catalog.publish(package(**NORMALIZER), user="omniscope")
    for query in NORMALIZER_QUERIES:
        assert names(catalog, query=query) == ["data_normalizer"], query
    python = sorted(["data_normalizer", *(p["name"] for p in PLUGINS)])
    assert sorted(names(catalog, query="python")) == sorted(names(catalog, language="python"))
    assert sorted(names(catalog, language="Python")) == python
    assert names(catalog, language="r") == []  # exact: not the prefix "r" of "robust"


def test_an_index_of_an_older_definition_is_rebuilt_at_open(catalog: Marketplace) -> None:
    engine = catalog.manager.engine
    with engine.begin() as conn:  # the index as an older version created it
        conn.execute(text("DROP INDEX catalog_plugins_fts"))
        conn.execute(text("CREATE INDEX catalog_plugins_fts ON catalog_plugins "
                          "USING gin (to_tsvector('english', search_document))"))
    SearchIndex(engine)  # what opening the store does
    with engine.connect() as conn:
        index = conn.scalar(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'catalog_plugins_fts'"
        ))
        mark = conn.scalar(text("SELECT obj_description('catalog_plugins_fts'::regclass)"))
    assert "to_tsvector('simple'" in index and mark == PG_INDEX_MARK
    assert names(catalog, query="smoothi") == ["sensor_smoother"]
    SearchIndex(engine)  # and an index of today's definition is left alone


def test_relevance_filters_and_paging(catalog: Marketplace) -> None:
    answer = catalog.search({"query": "sensor", "include_remote": False})
    assert answer["total"] == 2
    assert all(isinstance(r["score"], float) and r["score"] > 0 for r in answer["results"])
    scores = [r["score"] for r in answer["results"]]
    assert scores == sorted(scores, reverse=True)
    assert names(catalog, query="sensor", category="preprocessing") == ["sensor_smoother"]
    assert names(catalog, extension_point="data_export") == ["pdf_report"]
    assert names(catalog, tags=["Sensors"]) == ["drift_watch", "sensor_smoother"]
    page = catalog.search({"page": 2, "page_size": 3, "include_remote": False})
    assert [r["name"] for r in page["results"]] == ["sensor_smoother"] and page["total"] == 4


def test_a_new_version_reindexes_in_the_same_transaction(
    catalog: Marketplace, package: Callable[..., Path]
) -> None:
    spec = {**PLUGINS[0], "version": "1.1.0", "description": "Finds covariate shift"}
    catalog.catalog.publish(package(**spec), user="alice")
    assert names(catalog, query="covariate") == ["drift_watch"]
    assert names(catalog, query="quantile") == []
    # An older version published later does not take the index back.
    catalog.catalog.publish(package(**{**PLUGINS[0], "version": "0.9.0"}), user="alice")
    assert names(catalog, query="covariate") == ["drift_watch"]
    assert catalog.catalog.details("drift_watch")["versions"] == ["0.9.0", "1.0.0", "1.1.0"]


def test_sort_by_rating_downloads_and_newest(catalog: Marketplace) -> None:
    reviews = catalog.reviews
    reviews.rate("pdf_report", 5, user="u0")  # one 5-star rating...
    for i in range(20):  # ...does not beat twenty ratings of 4.5 on average
        reviews.rate("frame_scaler", 4 + i % 2, user=f"u{i}")
    reviews.rate("sensor_smoother", 1, user="u0")
    assert names(catalog, sort="rating") == [
        "frame_scaler", "pdf_report", "drift_watch", "sensor_smoother"
    ]
    catalog.catalog.count_download("drift_watch", "1.0.0")
    assert names(catalog, sort="downloads")[0] == "drift_watch"
    assert names(catalog, sort="newest") == [p["name"] for p in reversed(PLUGINS)]
    featured = catalog.featured()
    assert sorted(r["name"] for r in featured["results"]) == sorted(p["name"] for p in PLUGINS)


def test_ratings_replace_per_user_and_reviews_page_newest_first(catalog: Marketplace) -> None:
    reviews = catalog.reviews
    first = reviews.rate("drift_watch", 2, user="bob")
    assert (first["replaced"], first["rating_average"], first["rating_count"]) == (False, 2.0, 1)
    again = reviews.rate("drift_watch", 4, user="bob")
    assert (again["replaced"], again["rating_average"], again["rating_count"]) == (True, 4.0, 1)
    reviews.rate("drift_watch", 5, user="carol")
    for i in range(25):
        reviews.review("drift_watch", f"review number {i}\nsecond line", user=f"user{i}",
                       rating=3 if i == 0 else None)
    summary = reviews.list("drift_watch", page=1, page_size=10)
    assert summary["total"] == 25
    assert summary["rating"] == {"average": 4.0, "count": 3}  # bob 4, carol 5, user0 3
    assert [r["text"].split("\n")[0] for r in summary["reviews"]][:2] == [
        "review number 24", "review number 23"
    ]
    last = reviews.list("drift_watch", page=3, page_size=10)
    assert [r["text"] for r in last["reviews"]][-1] == "review number 0\nsecond line"
    assert len(last["reviews"]) == 5 and last["reviews"][-1]["rating"] == 3
    assert reviews.list("drift_watch", page=4, page_size=10)["reviews"] == []


def test_manifest_text_neither_database_could_store_is_refused_first(
    market: Marketplace, package: Callable[..., Path]
) -> None:
    """PostgreSQL enforces VARCHAR lengths and refuses NUL in text; SQLite does neither. The
    manifest's own checks now refuse such text before either database sees it."""
    with pytest.raises(InvalidPackage) as caught:
        market.catalog.publish(
            package(author="A. Very-Long-Name " * 20, category="c" * 100, tags=["bin\u0000ary"],
                    description="Reads raw\u0000bytes and quantiles"),
            user="alice",
        )
    problems = " ".join(caught.value.details["problems"])
    assert "author: at most 200" in problems and "category: at most 64" in problems
    assert "description: holds control" in problems
    assert names(market, query="quantile") == []


def test_catalog_names_sort_by_code_point_as_on_sqlite(
    market: Marketplace, package: Callable[..., Path]
) -> None:
    published = ["datab", "data1", "data_b", "data_2"]
    for name in published:
        market.catalog.publish(package(name=name, description="Same words"), user="alice")
    # Ties (all ranked alike, or relevance ranks of equal text) are broken by name.
    assert names(market) == names(market, query="same words", sort="downloads") == sorted(published)
    assert [e["name"] for e in market.catalog.all_entries()] == sorted(published)
