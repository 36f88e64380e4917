"""Featured (admin flag first, then the documented ranking) and categories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.extension_points import EXTENSION_POINTS
from omniscope_jupyter.marketplace.ranking import RankInput, bayesian_rating, rank

from ..api import assert_error

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def test_bayesian_rating_needs_many_ratings_to_rank_high() -> None:
    assert bayesian_rating(5.0, 1) == pytest.approx(3.333, abs=1e-3)
    assert bayesian_rating(4.8, 100) > bayesian_rating(5.0, 3)
    assert bayesian_rating(0.0, 0) == 3.0  # no ratings: the neutral prior


def test_ranking_weighs_rating_downloads_and_recency() -> None:
    def item(name: str, avg: float = 0.0, n: int = 0, dl: int = 0, days: int = 0) -> RankInput:
        return RankInput(name, avg, n, dl, NOW - timedelta(days=days))

    order = [i.name for i, _ in rank([
        item("stale", 4.0, 10, 10, days=720),
        item("loved", 4.9, 40, 50, days=30),
        item("fresh_unrated", days=0),
        item("popular", 3.5, 10, 5000, days=60),
    ], now=NOW)]
    assert order == ["loved", "popular", "fresh_unrated", "stale"]
    scores = {i.name: s for i, s in rank([item("a", days=0), item("b", days=90)], now=NOW)}
    assert scores["a"] > scores["b"] and all(0 <= s <= 1 for s in scores.values())


@pytest.fixture
def three(market: Any, package: Callable[..., Path]) -> None:
    for name in ("alpha_one", "beta_two", "gamma_three"):
        market.catalog.publish(package(name=name, category="analysis"), user="alice")
    market.catalog.publish(
        package(name="fin_ratios", category="finance", extension_points=["analysis", "integration"]),
        user="alice",
    )


async def test_featured_puts_admin_curated_first_then_ranked(api: Any, three: None) -> None:
    for i in range(6):
        await api("POST", "beta_two", "rate", body={"rating": 5}, user=f"u{i}")
    status, body = await api("GET", "marketplace", "featured")
    assert status == 200, body
    assert body["results"][0]["name"] == "beta_two"
    assert body["results"][0]["featured_because"] == "ranked" and "Bayesian" in body["ranking"]
    status, body = await api("PUT", "marketplace", "plugins", "gamma_three", "featured",
                             body={"featured": True}, user="admin")
    assert status == 200, body
    status, body = await api("GET", "marketplace", "featured", params={"limit": "2"})
    assert [r["name"] for r in body["results"]] == ["gamma_three", "beta_two"]
    assert body["results"][0]["featured_because"] == "curated"


async def test_only_an_admin_features_and_bad_flags_are_400(api: Any, three: None) -> None:
    status, body = await api("PUT", "marketplace", "plugins", "alpha_one", "featured",
                             body={"featured": True}, user="bob")
    assert_error(status, body, 403, "admin")
    status, body = await api("PUT", "marketplace", "plugins", "alpha_one", "featured",
                             body={"featured": "yes"}, user="admin")
    assert_error(status, body, 400, "featured")
    status, body = await api("PUT", "marketplace", "plugins", "ghost", "featured",
                             body={"featured": True}, user="admin")
    assert_error(status, body, 404, "ghost")
    status, body = await api("GET", "marketplace", "featured")
    assert not any(r["featured"] for r in body["results"])
    status, body = await api("GET", "marketplace", "featured", params={"limit": "x"})
    assert_error(status, body, 400, "limit")


async def test_categories_are_the_extension_points_plus_used_ones_with_counts(
    api: Any, three: None
) -> None:
    status, body = await api("GET", "marketplace", "categories")
    assert status == 200
    by_name = {c["name"]: c for c in body["categories"]}
    assert [c["name"] for c in body["categories"][:10]] == [p.name for p in EXTENSION_POINTS]
    assert all(c["description"] for c in body["categories"])
    assert by_name["analysis"]["count"] == 3 and by_name["analysis"]["extension_point_count"] == 4
    assert by_name["integration"]["count"] == 0 and by_name["integration"]["extension_point_count"] == 1
    assert by_name["finance"]["count"] == 1 and by_name["finance"]["extension_point"] is False
    assert body["count"] == 11
