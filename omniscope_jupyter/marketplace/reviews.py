"""Ratings (1..5, one per user) and plain-text reviews of catalog or installed plugins.

A rating and the plugin's ``RatingSummary`` change in one transaction, so an average is never
out of step with the ratings it sums. Reviews are stored exactly as typed (after trimming) and
returned as JSON strings; nothing here or in the API renders them as HTML (``<b>`` is five
characters of text). Control characters other than newline and tab are refused so a review
cannot smuggle terminal escapes, and so are lone surrogates (no UTF-8 can store them) and the
bidirectional overrides that make text read other than it is stored ("Trojan Source").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..answers import row_answer
from ..core.lifecycle import PluginManager
from ..errors import InvalidRequest, NotFound
from ..store import PluginVersion, Rating, Review
from .checks import is_plugin_name, unprintable
from .orm import CatalogVersion, RatingSummary

DEFAULT_MAX_REVIEW_CHARS = 5000
#: Embeddings, overrides and isolates of the Unicode bidirectional algorithm.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_rating(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidRequest(f"rating must be a whole number from 1 to 5, not {value!r}.")
    return value


def rating_dict(summary: RatingSummary | None) -> dict[str, Any]:
    if summary is None or not summary.count:
        return {"average": None, "count": 0}
    return {"average": round(summary.average, 2), "count": summary.count}


class Reviews:
    """Ratings and reviews kept in the store's database.

    Parameters
    ----------
    manager
        The store whose database and lock are used (and whose installed plugins may be rated).
    max_chars
        Longest accepted review text, in characters.
    """

    def __init__(self, manager: PluginManager, max_chars: int = DEFAULT_MAX_REVIEW_CHARS) -> None:
        self.manager = manager
        self.sessions = manager.sessions
        self.max_chars = max_chars

    def _known_versions(self, s: Session, name: str) -> set[str]:
        """Versions of ``name`` published or installed here; ``NotFound`` when neither."""
        if not is_plugin_name(name):
            raise NotFound(f"No plugin named {name!r:.80} is in the marketplace or installed here.")
        versions = set(
            s.scalars(select(CatalogVersion.version).where(CatalogVersion.plugin_name == name))
        ) | set(s.scalars(select(PluginVersion.version).where(PluginVersion.plugin_name == name)))
        if not versions:
            raise NotFound(f"No plugin named {name!r} is in the marketplace or installed here.")
        return versions

    def rate(self, name: str, rating: Any, *, user: str) -> dict[str, Any]:
        """Set ``user``'s rating of ``name`` (replacing theirs) and return the new average."""
        value = check_rating(rating)
        with self.manager.layout.locked(), self.sessions.begin() as s:
            self._known_versions(s, name)
            replaced = self._set_rating(s, name, user, value)
            return _rating_answer(s, name, user, replaced)

    def _set_rating(self, s: Session, name: str, user: str, value: int) -> bool:
        row = s.scalar(select(Rating).where(Rating.plugin_name == name, Rating.user == user))
        replaced = row is not None
        if row is None:
            s.add(Rating(plugin_name=name, user=user, rating=value))
        else:
            row.rating = value
        s.flush()
        count, total = s.execute(
            select(func.count(Rating.id), func.coalesce(func.sum(Rating.rating), 0)).where(
                Rating.plugin_name == name
            )
        ).one()
        summary = s.get(RatingSummary, name) or RatingSummary(plugin_name=name)
        summary.count, summary.total = count, total
        summary.average = total / count if count else 0.0
        s.add(summary)
        s.flush()
        return replaced

    def check_text(self, text: Any) -> str:
        """The review's text, trimmed; ``InvalidRequest`` unless it is plain text under the cap."""
        if not isinstance(text, str):
            raise InvalidRequest("text must be a string: the review's plain text.")
        text = text.replace("\r\n", "\n").strip()
        if not text:
            raise InvalidRequest("text is empty: write a few words for the review.")
        if len(text) > self.max_chars:
            raise InvalidRequest(
                f"text is {len(text)} characters long; a review holds at most {self.max_chars}."
            )
        if unprintable(text, allowed="\n\t") or not BIDI_CONTROLS.isdisjoint(text):
            raise InvalidRequest(
                "text holds control characters (other than newline and tab) or bidirectional "
                "overrides; send plain text."
            )
        return text

    def review(
        self,
        name: str,
        text: Any,
        *,
        user: str,
        rating: Any = None,
        version: Any = None,
    ) -> dict[str, Any]:
        """Add ``user``'s review; a ``rating`` with it also replaces their rating."""
        body = self.check_text(text)
        value = None if rating is None else check_rating(rating)
        if version is not None and not isinstance(version, str):
            raise InvalidRequest("version must be a string such as '1.0.0'.")
        with self.manager.layout.locked(), self.sessions.begin() as s:
            known = self._known_versions(s, name)
            if version is not None and version not in known:
                raise NotFound(
                    f"{name} has no version {version[:80]} in the marketplace or installed here."
                )
            row = Review(plugin_name=name, user=user, text=body, rating=value, version=version)
            s.add(row)
            replaced = None if value is None else self._set_rating(s, name, user, value)
            s.flush()
            answer = _rating_answer(s, name, user, replaced)
            return {**answer, "review": _review_dict(row, {user: answer["user_rating"]})}

    def list(self, name: str, *, page: int = 1, page_size: int = 20) -> dict[str, Any]:
        """Reviews of ``name``, newest first, one page at a time."""
        with self.sessions() as s:
            self._known_versions(s, name)
            total = s.scalar(select(func.count(Review.id)).where(Review.plugin_name == name))
            rows = s.scalars(
                select(Review)
                .where(Review.plugin_name == name)
                .order_by(Review.at.desc(), Review.id.desc())
                .offset((page - 1) * page_size)
                .limit(page_size)
            ).all()
            ratings = _current_ratings(s, name, {r.user for r in rows})
            return {
                "plugin_id": name,
                "reviews": [_review_dict(r, ratings) for r in rows],
                "total": total,
                "page": page,
                "page_size": page_size,
                "rating": rating_dict(s.get(RatingSummary, name)),
            }


def _review_dict(r: Review, ratings: dict[str, int]) -> dict[str, Any]:
    """A review, with its author's current rating (``ratings``), not the one sent with it."""
    return {**row_answer(r, ("id", "user", "text", "version", "at")), "rating": ratings.get(r.user)}


def _current_ratings(s: Session, name: str, users: set[str]) -> dict[str, int]:
    """``{user: rating}`` of ``users`` who rate ``name`` now."""
    if not users:
        return {}
    rows = s.execute(
        select(Rating.user, Rating.rating).where(Rating.plugin_name == name, Rating.user.in_(users))
    )
    return {user: rating for user, rating in rows}


def _rating_answer(s: Session, name: str, user: str, replaced: bool | None) -> dict[str, Any]:
    """What ``/rate`` and ``/review`` both answer about ratings, in one shape.

    ``rating`` is the plugin's ``{average, count}`` (as search and the review list show it),
    ``user_rating`` the user's current rating, ``replaced`` whether this call replaced one
    (None: it rated nothing); ``rating_average``/``rating_count`` repeat ``rating`` flat.
    """
    summary = rating_dict(s.get(RatingSummary, name))
    return {
        "plugin_id": name,
        "user": user,
        "user_rating": _current_ratings(s, name, {user}).get(user),
        "replaced": replaced,
        "rating": summary,
        "rating_average": summary["average"],
        "rating_count": summary["count"],
    }
