"""Domain values turned into API answers: the one place rows and times become JSON.

Every answer of every door (REST, ``omniplug --json``, magics) is built from here, so a
timestamp is always timezone-aware ISO 8601 in UTC (SQLite hands back naive datetimes; they are
UTC by construction) and a row becomes a dict one way only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


def timestamp(value: datetime | None) -> str | None:
    """``value`` as ISO 8601 UTC with offset (``2026-12-02T16:22:27.123456+00:00``)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def row_answer(
    row: Any, fields: Iterable[str], renamed: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The answer of an ORM ``row``: ``fields`` by attribute name, ``renamed`` {answer: attr}.

    Datetimes become ``timestamp``s; everything else is taken as stored (JSON columns are JSON).
    """
    pairs = [(name, name) for name in fields] + list((renamed or {}).items())
    out: dict[str, Any] = {}
    for key, attribute in pairs:
        value = getattr(row, attribute)
        out[key] = timestamp(value) if isinstance(value, datetime) else value
    return out


__all__ = ["row_answer", "timestamp"]
