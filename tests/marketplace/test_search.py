"""Full-text search (SQLite FTS5) with filters, sorts, paging and validation.

tests/security/test_marketplace_attacks.py feeds search the query syntax of both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from omniscope_jupyter.marketplace.search import FTS_DDL, FTS_TABLE, SearchIndex

from ..api import assert_error, upload
from ..helpers import REPO

pytestmark = pytest.mark.timeout(60)

PLUGINS = [
    {"name": "drift_watch", "description": "Detects quantile drift in sensor streams",
     "category": "analysis", "tags": ["monitoring", "sensors"],
     "extension_points": ["analysis"], "author": "Alice Ng"},
    {"name": "frame_scaler", "description": "Rescales numeric columns to unit variance",
     "category": "preprocessing", "tags": ["scaling"],
     "extension_points": ["preprocessing"], "author": "Bob Roy"},
    {"name": "pdf_report", "description": "Writes a PDF summary of any frame",
     "category": "report_generation", "tags": ["pdf", "reporting"],
     "extension_points": ["report_generation", "data_export"], "author": "Carla Diaz"},
    {"name": "r_smoother", "description": "LOESS smoothing of noisy sensor series",
     "language": "r", "entry_point": "r_smoother.R", "category": "preprocessing",
     "tags": ["sensors", "smoothing"], "extension_points": ["preprocessing"], "author": "Dan Wu"},
]
#: The bundled example's manifest as published (its code is the test package's).
NORMALIZER = json.loads((REPO / "plugins/examples/data_normalizer/manifest.json").read_text())
#: What users type for it: a British spelling, a prefix of a stemmed word, a method named in
#: its description, its language, a stemmed form, its category and the name's parts.
NORMALIZER_QUERIES = ["normalise", "normaliz", "zscore", "Normalizing", "data normalizer",
                      "min-max", "python normalization", "robust IQR"]


@pytest.fixture
def catalog(market: Any, package: Callable[..., Path]) -> None:
    """The four plugins above, published by alice through the core (fixtures cannot await)."""
    for spec in PLUGINS:
        extra = {"files": {"r_smoother.R": "run <- function(x) x\n"}, "dependencies": []} \
            if spec.get("language") == "r" else {}
        market.catalog.publish(package(**spec, **extra), user="alice")


async def _names(api: Any, **body: Any) -> list[str]:
    status, payload = await api("POST", "marketplace", "search", body=body, user="bob")
    assert status == 200, payload
    return [r["name"] for r in payload["results"]]


async def test_a_word_from_a_description_finds_the_plugin(api: Any, catalog: None) -> None:
    assert await _names(api, query="quantile") == ["drift_watch"]
    assert await _names(api, query="variance") == ["frame_scaler"]
    # Stemming and prefixes: "rescaling" and "rescal" find "Rescales".
    assert await _names(api, query="rescaling") == ["frame_scaler"]
    assert await _names(api, query="rescal") == ["frame_scaler"]
    # Name parts, tags and author are indexed too; every word must match.
    assert await _names(api, query="report") == ["pdf_report"]
    assert await _names(api, query="smoothing") == ["r_smoother"]
    assert await _names(api, query="Carla") == ["pdf_report"]
    assert sorted(await _names(api, query="sensor")) == ["drift_watch", "r_smoother"]
    assert await _names(api, query="sensor loess") == ["r_smoother"]
    assert await _names(api, query="nothing-like-this") == []
    # FTS syntax in a query is text, not operators; punctuation only finds nothing.
    assert await _names(api, query='quantile OR "variance" NEAR(x') == []
    assert await _names(api, query="!!!") == []
    # Category and language are indexed words too (and category names split at "_").
    assert await _names(api, query="report generation") == ["pdf_report"]
    assert sorted(await _names(api, query="preprocessing")) == ["frame_scaler", "r_smoother"]


@pytest.fixture
def normalizer(market: Any, package: Callable[..., Path]) -> None:
    """The search catalog plus the bundled data_normalizer's manifest."""
    market.catalog.publish(package(**NORMALIZER), user="omniscope")


async def test_what_users_type_finds_the_normalizer(
    api: Any, catalog: None, normalizer: None
) -> None:
    for query in NORMALIZER_QUERIES:
        assert await _names(api, query=query) == ["data_normalizer"], query


async def test_language_is_an_exact_filter_and_a_word(
    api: Any, catalog: None, normalizer: None
) -> None:
    python = ["data_normalizer", "drift_watch", "frame_scaler", "pdf_report"]
    assert sorted(await _names(api, query="python")) == python
    assert sorted(await _names(api, language="python")) == python
    # "r" as a filter is the language, never the prefix "r" of "rescales" or "robust".
    assert await _names(api, language="r") == await _names(api, language="R") == ["r_smoother"]
    assert await _names(api, language="r", query="normaliz") == []
    assert await _names(api, language="python", query="smoothing") == []


def test_an_index_of_an_older_definition_is_rebuilt_at_open(
    market: Any, catalog: None, normalizer: None
) -> None:
    """A store made before language and category were indexed gets today's tables."""
    engine = market.manager.engine
    with engine.begin() as conn:
        for table in FTS_DDL:
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(plugin_name UNINDEXED, name, "
            "description, tags, author, tokenize='porter unicode61')"
        ))
        conn.execute(text(f"INSERT INTO {FTS_TABLE} VALUES ('drift_watch', 'x', 'y', 'z', 'w')"))
    SearchIndex(engine)  # what opening the store does
    with engine.connect() as conn:
        stored = dict(conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE name IN ('catalog_fts', 'catalog_fts_words')"
        )).all())
        assert stored == FTS_DDL
        for table in FTS_DDL:
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == len(PLUGINS) + 1
    found = market.search({"query": "zscore", "include_remote": False})["results"]
    assert [r["name"] for r in found] == ["data_normalizer"]


async def test_results_answer_the_contract(api: Any, catalog: None) -> None:
    status, body = await api("POST", "marketplace", "search", body={"query": "quantile"})
    assert status == 200 and body["total"] == 1
    (hit,) = body["results"]
    assert hit["latest_version"] == "1.0.0" and hit["source"] == "local"
    assert hit["rating"] == {"average": None, "count": 0} and hit["downloads"] == 0
    assert hit["installed"] is False and hit["score"] > 0
    assert body["sources"] == [{"source": "local", "ok": True, "total": 1}]


async def test_empty_query_lists_everything_with_filters_and_paging(api: Any, catalog: None) -> None:
    assert await _names(api) == ["drift_watch", "frame_scaler", "pdf_report", "r_smoother"]
    assert await _names(api, query="") == await _names(api)
    assert await _names(api, category="preprocessing") == ["frame_scaler", "r_smoother"]
    assert await _names(api, language="r") == ["r_smoother"]
    assert await _names(api, extension_point="data_export") == ["pdf_report"]
    assert await _names(api, tags=["sensors"]) == ["drift_watch", "r_smoother"]
    assert await _names(api, tags=["sensors", "smoothing"]) == ["r_smoother"]
    assert await _names(api, tags="SENSORS", query="drift") == ["drift_watch"]
    status, body = await api("POST", "marketplace", "search", body={"page": 2, "page_size": 3})
    assert (status, body["total"], [r["name"] for r in body["results"]]) == (200, 4, ["r_smoother"])


async def test_sorts_by_downloads_rating_newest_and_installed_flag(
    api: Any, catalog: None, publish: Any, package: Callable[..., Path]
) -> None:
    for _ in range(2):
        await api("POST", "marketplace", "install", body={"name": "pdf_report"})
        await api("DELETE", "pdf_report")
    status, body = await api("POST", "marketplace", "install", body={"name": "frame_scaler"})
    assert status == 201, body
    assert (await _names(api, sort="downloads"))[:2] == ["pdf_report", "frame_scaler"]
    # One 5-star rating does not beat many good ones (Bayesian average).
    await api("POST", "drift_watch", "rate", body={"rating": 5}, user="u0")
    for i in range(8):
        await api("POST", "r_smoother", "rate", body={"rating": 5 if i % 2 else 4}, user=f"u{i}")
    assert (await _names(api, sort="rating"))[:2] == ["r_smoother", "drift_watch"]
    assert (await _names(api, sort="newest"))[0] == "r_smoother"
    assert (await publish(package(**{**PLUGINS[0], "version": "1.1.0"})))[0] == 201
    assert (await _names(api, sort="newest"))[0] == "drift_watch"
    status, body = await api("POST", "marketplace", "search", body={"query": "variance"})
    assert body["results"][0]["installed"] is True
    assert body["results"][0]["installed_version"] == "1.0.0"


async def test_the_index_follows_the_newest_version_in_the_same_transaction(
    api: Any, catalog: None, publish: Any, package: Callable[..., Path], market: Any
) -> None:
    spec = {**PLUGINS[1], "version": "2.0.0", "description": "Winsorizes outlying columns"}
    assert (await publish(package(**spec)))[0] == 201
    assert await _names(api, query="variance") == []
    assert await _names(api, query="winsorizes") == ["frame_scaler"]
    # An older version published later does not take over the index.
    spec = {**PLUGINS[1], "version": "1.5.0", "description": "Legacy heteroscedastic scaler"}
    assert (await publish(package(**spec)))[0] == 201
    assert await _names(api, query="heteroscedastic") == []
    with market.manager.engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM catalog_fts")).scalar()
    assert rows == len(PLUGINS)


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"sort": "popularity"}, "sort"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"page": "2"}, "page"),
        ({"language": "java"}, "language"),
        ({"extension_point": "nowhere"}, "extension_point"),
        ({"tags": 5}, "tags"),
        ({"query": 5}, "query"),
        ({"querry": "x"}, "querry"),
        ({"category": "analysis\x00"}, "category: holds control characters"),
        ({"category": "\ud800"}, "category: holds control characters"),
        ({"category": "c" * 201}, "category: longer than 200"),
        ({"tags": ["ok", "bad\x1b[31m"]}, "tags: holds control characters"),
        ({"tags": ["t"] * 21}, "tags: must be a list of at most 20"),
    ],
)
async def test_bad_search_input_is_400(api: Any, body: dict[str, Any], fragment: str) -> None:
    status, payload = await api("POST", "marketplace", "search", body=body)
    assert_error(status, payload, 400, fragment)


async def test_non_json_search_body_is_400(api: Any) -> None:
    status, payload = await api("POST", "marketplace", "search", body=b"{not json")
    assert_error(status, payload, 400, "JSON")


async def test_search_sees_installed_state_of_this_server(
    jp_fetch: Any, api: Any, publish: Any, package: Callable[..., Path]
) -> None:
    archive = package()
    assert (await publish(archive))[0] == 201
    assert (await upload(jp_fetch, archive))[0] == 201  # installed directly, not from the catalog
    _status, body = await api("POST", "marketplace", "search", body={"query": "description"})
    assert body["results"][0]["installed"] is True
