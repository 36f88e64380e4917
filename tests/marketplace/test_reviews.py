"""Ratings (one per user, averaged in the same transaction) and plain-text reviews with paging."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..api import assert_error, upload

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def published(market: Any, package: Callable[..., Path]) -> None:
    market.catalog.publish(package(), user="alice")


async def _rating(api: Any) -> dict[str, Any]:
    status, body = await api("GET", "my_plugin", "reviews")
    assert status == 200, body
    return body["rating"]


async def test_one_rating_per_user_replaced_and_averaged(api: Any, published: None) -> None:
    status, body = await api("POST", "my_plugin", "rate", body={"rating": 5}, user="bob")
    assert status == 200 and (body["rating_average"], body["rating_count"]) == (5.0, 1)
    assert body["replaced"] is False
    status, body = await api("POST", "my_plugin", "rate", body={"rating": 2}, user="bob")
    assert (body["rating_average"], body["rating_count"], body["replaced"]) == (2.0, 1, True)
    status, body = await api("POST", "my_plugin", "rate", body={"rating": 5}, user="carol")
    assert (body["rating_average"], body["rating_count"]) == (3.5, 2)
    status, body = await api("POST", "marketplace", "search", body={"query": "my_plugin"})
    assert body["results"][0]["rating"] == {"average": 3.5, "count": 2}


@pytest.mark.parametrize("rating", [0, 6, -1, 4.5, "5", True, None])
async def test_bad_ratings_are_400_and_change_nothing(
    api: Any, published: None, rating: Any
) -> None:
    await api("POST", "my_plugin", "rate", body={"rating": 4}, user="bob")
    status, body = await api("POST", "my_plugin", "rate", body={"rating": rating}, user="bob")
    assert_error(status, body, 400, "rating")
    assert await _rating(api) == {"average": 4.0, "count": 1}


async def test_missing_rating_is_400(api: Any, published: None) -> None:
    status, body = await api("POST", "my_plugin", "rate", body={})
    assert_error(status, body, 400, "rating is required")


async def test_unknown_plugin_is_404_for_rate_and_review(api: Any) -> None:
    status, body = await api("POST", "ghost", "rate", body={"rating": 3})
    assert_error(status, body, 404, "'ghost'")
    status, body = await api("POST", "ghost", "review", body={"text": "hi"})
    assert_error(status, body, 404, "'ghost'")
    status, body = await api("GET", "ghost", "reviews")
    assert_error(status, body, 404, "'ghost'")


async def test_an_installed_plugin_not_in_the_catalog_can_be_rated(
    jp_fetch: Any, api: Any, package: Callable[..., Path]
) -> None:
    assert (await upload(jp_fetch, package()))[0] == 201
    status, body = await api("POST", "my_plugin", "rate", body={"rating": 4})
    assert status == 200 and body["rating_count"] == 1


async def test_reviews_are_plain_text_capped_and_paged(api: Any, published: None) -> None:
    html = "<script>alert(1)</script> **works** & more"
    status, body = await api(
        "POST", "my_plugin", "review", body={"text": f"  {html}\r\n", "rating": 4}, user="bob"
    )
    assert status == 201, body
    assert body["review"]["text"] == html  # stored as typed (trimmed), never escaped or rendered
    assert body["review"]["user"] == "bob" and body["rating"] == {"average": 4.0, "count": 1}
    for i in range(2):
        status, _ = await api("POST", "my_plugin", "review",
                              body={"text": f"review {i}", "version": "1.0.0"}, user="carol")
        assert status == 201
    status, page1 = await api("GET", "my_plugin", "review", params={"page_size": "2"})
    assert (status, page1["total"]) == (200, 3)
    assert [r["text"] for r in page1["reviews"]] == ["review 1", "review 0"]
    status, page2 = await api("GET", "my_plugin", "reviews", params={"page": "2", "page_size": "2"})
    assert [r["text"] for r in page2["reviews"]] == [html]
    status, body = await api("GET", "my_plugin", "reviews", params={"page_size": "0"})
    assert_error(status, body, 400, "page_size")


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"text": ""}, 400, "text is empty"),
        ({"text": "   \n\t "}, 400, "text is empty"),
        ({}, 400, "text"),
        ({"text": 42}, 400, "text must be a string"),
        ({"text": "x" * 5001}, 400, "at most 5000"),
        ({"text": "bell \x07 here"}, 400, "control characters"),
        ({"text": "nul \x00 here"}, 400, "control characters"),
        ({"text": "\x1b[2J\x1b[31mred"}, 400, "control characters"),
        ({"text": "del \x7f here"}, 400, "control characters"),
        ({"text": "lone \ud800 surrogate"}, 400, "control characters"),
        ({"text": "good \u202eevil"}, 400, "bidirectional overrides"),
        ({"text": "ok", "rating": 6}, 400, "rating"),
        ({"text": "ok", "version": "9.9.9"}, 404, "no version 9.9.9"),
        ({"text": "ok", "stars": 5}, 400, "stars"),
    ],
)
async def test_bad_reviews_are_refused_and_change_nothing(
    api: Any, published: None, body: dict[str, Any], status: int, fragment: str
) -> None:
    got, payload = await api("POST", "my_plugin", "review", body=body)
    assert_error(got, payload, status, fragment)
    got, listing = await api("GET", "my_plugin", "reviews")
    assert (listing["total"], listing["rating"]["count"]) == (0, 0)
