"""How the marketplace ranks plugins: the score behind ``featured`` and ``sort=rating``.

Featured lists the plugins an admin flagged first, then fills up with the best ``score``:

    score = 0.5 * rating + 0.3 * popularity + 0.2 * freshness          (each term in [0, 1])

* ``rating`` is the **Bayesian average** of the 1..5 ratings, pulled toward a neutral prior of
  ``PRIOR_MEAN`` (3 stars) with the weight of ``PRIOR_WEIGHT`` (5) phantom ratings, mapped to
  [0, 1]. One 5-star rating gives 3.33 stars, fifty give 4.8: a plugin must earn its place
  with many good ratings, not one.
* ``popularity`` is ``log(1 + downloads) / log(1 + most downloads in the catalog)``: the log
  keeps one very popular plugin from flattening everyone else to zero.
* ``freshness`` is ``exp(-age / FRESHNESS_DAYS)`` of the newest published version (90 days):
  maintained plugins rise, abandoned ones slowly sink.

``sort=rating`` in search uses the same Bayesian average (in SQL), so a plugin with a single
5-star rating does not outrank one with a hundred 4.8-star ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 5.0
FRESHNESS_DAYS = 90.0
WEIGHTS = {"rating": 0.5, "popularity": 0.3, "freshness": 0.2}


def bayesian_rating(average: float, count: int) -> float:
    """The rating average on the 1..5 scale, corrected toward the prior for few ratings."""
    return (PRIOR_MEAN * PRIOR_WEIGHT + average * count) / (PRIOR_WEIGHT + count)


def bayesian_rating_sql(total: Any, count: Any) -> ColumnElement[Any]:
    """``bayesian_rating`` as a SQL expression over a rating sum and count (NULL = none)."""
    t, n = func.coalesce(total, 0), func.coalesce(count, 0)
    return (PRIOR_MEAN * PRIOR_WEIGHT + t * 1.0) / (PRIOR_WEIGHT + n)


@dataclass(frozen=True)
class RankInput:
    """What ranking needs of one catalog plugin."""

    name: str
    rating_average: float
    rating_count: int
    downloads: int
    published_at: datetime


def score(item: RankInput, max_downloads: int, now: datetime | None = None) -> float:
    """The documented score in [0, 1] (see the module docstring)."""
    now = now or datetime.now(UTC)
    rating = (bayesian_rating(item.rating_average, item.rating_count) - 1.0) / 4.0
    popularity = (
        math.log1p(item.downloads) / math.log1p(max_downloads) if max_downloads > 0 else 0.0
    )
    published = item.published_at
    if published.tzinfo is None:  # SQLite returns naive datetimes; we store UTC
        published = published.replace(tzinfo=UTC)
    age_days = max((now - published).total_seconds() / 86400.0, 0.0)
    freshness = math.exp(-age_days / FRESHNESS_DAYS)
    return (
        WEIGHTS["rating"] * rating
        + WEIGHTS["popularity"] * popularity
        + WEIGHTS["freshness"] * freshness
    )


def rank(items: list[RankInput], now: datetime | None = None) -> list[tuple[RankInput, float]]:
    """Items with their score, best first (ties by name, so the order is stable)."""
    top = max((i.downloads for i in items), default=0)
    scored = [(i, score(i, top, now)) for i in items]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0].name))
