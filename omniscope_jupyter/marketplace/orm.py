"""SQLAlchemy tables of the marketplace catalog, in the same database as the plugin store.

The catalog is apart from what is installed here: a published version is an archive kept for
anyone to install, an installed version is files a sandbox runs. Ratings and reviews use the
store's ``Rating`` and ``Review`` tables (they apply to catalog and installed plugins alike);
``RatingSummary`` keeps their average beside them so search can sort by it in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..store.database import create_schema
from ..store.orm import Base, NameType, NulFreeText, utcnow


class CatalogPlugin(Base):
    """A published plugin: its newest version's searchable fields, owner, flags and counters.

    ``category``, ``language``, ``tags_key`` and ``extension_points_key`` repeat the newest
    version's manifest so filters run in SQL; the ``*_key`` columns hold ``|a|b|`` so one value
    is found with ``LIKE '%|a|%'`` on any database. Text copied from a manifest is unbounded
    ``NulFreeText``: PostgreSQL enforces VARCHAR lengths and refuses NUL, SQLite does neither.
    """

    __tablename__ = "catalog_plugins"

    name: Mapped[str] = mapped_column(NameType, primary_key=True)
    latest_version: Mapped[str] = mapped_column(String(64))
    #: The Jupyter user who first published it; only they (or an admin) publish new versions.
    owner: Mapped[str] = mapped_column(String(128), default="")
    #: Curated by an admin; featured plugins come first in ``/marketplace/featured``.
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(NulFreeText, default="")
    author: Mapped[str] = mapped_column(NulFreeText, default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    category: Mapped[str] = mapped_column(NulFreeText, default="")
    tags_key: Mapped[str] = mapped_column(NulFreeText, default="|")
    extension_points_key: Mapped[str] = mapped_column(NulFreeText, default="|")
    #: Name, description, tags and author as one text: what full-text search indexes.
    search_document: Mapped[str] = mapped_column(NulFreeText, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When the newest version was published (sort ``newest``, ranking recency).
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[CatalogVersion]] = relationship(
        back_populates="plugin", cascade="all, delete-orphan", passive_deletes=True
    )


class CatalogVersion(Base):
    """One published version; its archive is ``catalog/<name>/<version>.tar.gz``."""

    __tablename__ = "catalog_versions"
    __table_args__ = (UniqueConstraint("plugin_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_name: Mapped[str] = mapped_column(
        ForeignKey("catalog_plugins.name", ondelete="CASCADE")
    )
    version: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Of the archive as published; checked before any extraction at install.
    sha256: Mapped[str] = mapped_column(String(64))
    #: BIGINT, like every byte count (PostgreSQL's INTEGER stops at 2 GiB).
    size: Mapped[int] = mapped_column(BigInteger)
    #: Relative to the data dir, so the data dir can move.
    path: Mapped[str] = mapped_column(String(512))
    scan_report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    publisher: Mapped[str] = mapped_column(String(128), default="")
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    downloads: Mapped[int] = mapped_column(Integer, default=0)

    plugin: Mapped[CatalogPlugin] = relationship(back_populates="versions")


class RatingSummary(Base):
    """Count, sum and average of a plugin's ratings, rewritten with every rating change."""

    __tablename__ = "rating_summaries"

    plugin_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    average: Mapped[float] = mapped_column(Float, default=0.0)


MARKETPLACE_TABLES: list[Table] = [
    cast(Table, model.__table__) for model in (CatalogPlugin, CatalogVersion, RatingSummary)
]


def create_tables(engine: Engine) -> None:
    """Create the marketplace tables if missing (the store's ``make_engine`` knows only its own)."""
    create_schema(engine, MARKETPLACE_TABLES)
