"""SQLAlchemy tables of the plugin store.

One database holds everything a restart must not lose: plugins, each installed version, the
version history, scan reports, executions, ratings and reviews. SQLite in the Jupyter data dir by
default; any SQLAlchemy URL (PostgreSQL) through the ``db_url`` trait.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Aware UTC now, the default of every time column (``UTCDateTime``)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and always read back timezone-aware.

    SQLite keeps no offset and hands back naive datetimes; PostgreSQL answers in the session's
    zone. Every record's times are aware UTC in Python whichever database holds them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive one is UTC already (as every time this store writes)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class NulFreeText(TypeDecorator[str]):
    """Text that PostgreSQL can store: there each NUL character becomes U+FFFD.

    PostgreSQL refuses NUL in text (SQLite keeps it), and a plugin's stray binary output or an
    escaped NUL in a manifest or a request must be recorded, not fail the write with a 500.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and dialect.name == "postgresql" and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value


#: A plugin name: compared and sorted by code point everywhere, as SQLite and Python do.
#: PostgreSQL would otherwise use the database's locale (en-US puts ``data_b`` before ``data1``).
NameType = String(64).with_variant(String(64, collation="C"), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Plugin(Base):
    """An installed plugin: which of its versions is active and whether it may run."""

    __tablename__ = "plugins"

    name: Mapped[str] = mapped_column(NameType, primary_key=True)
    active_version: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    versions: Mapped[list[PluginVersion]] = relationship(
        back_populates="plugin", cascade="all, delete-orphan", passive_deletes=True
    )
    history: Mapped[list[HistoryEntry]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="HistoryEntry.id"
    )


class PluginVersion(Base):
    """One installed version; its files live under ``versions/<name>/<version>``."""

    __tablename__ = "plugin_versions"
    __table_args__ = (UniqueConstraint("plugin_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_name: Mapped[str] = mapped_column(ForeignKey("plugins.name", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Relative to the data dir, so the data dir can move.
    path: Mapped[str] = mapped_column(String(512))
    scan_report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The dependency lock produced by the dependency stage (empty when none).
    dependencies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    installed_by: Mapped[str] = mapped_column(String(128), default="")
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plugin: Mapped[Plugin] = relationship(back_populates="versions")


class HistoryEntry(Base):
    """Who did what to a plugin's versions, when, and why (install, update, rollback, ...)."""

    __tablename__ = "version_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_name: Mapped[str] = mapped_column(ForeignKey("plugins.name", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    from_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(NulFreeText, default="")
    user: Mapped[str] = mapped_column(String(128), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Execution(Base):
    """One run of a plugin in the sandbox, recorded whatever its outcome."""

    __tablename__ = "executions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    plugin_name: Mapped[str] = mapped_column(ForeignKey("plugins.name", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    extension_point: Mapped[str] = mapped_column(String(64))
    #: queued, running, succeeded, failed, timeout, oom, cancelled
    status: Mapped[str] = mapped_column(String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_shape: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    output_shape: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    #: The JSON answer (data, metadata, logs, warnings, errors) once finished.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    stdout: Mapped[str] = mapped_column(NulFreeText, default="")
    stderr: Mapped[str] = mapped_column(NulFreeText, default="")
    #: BIGINT: gigabytes overflow PostgreSQL's 32-bit INTEGER.
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    user: Mapped[str] = mapped_column(String(128), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: ``host:pid:start`` of the process running it (server, CLI or kernel on the same store):
    #: only that process's death makes an unfinished record stale.
    runner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The reproducibility stamp (``sandbox/provenance.py``): plugin, version, package sha256,
    #: lock digest, image, parameters, config, input digest.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The newest live events (progress, printed lines) once finished (``sandbox/events.py``).
    events: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class Rating(Base):
    """One user's 1..5 rating of a plugin; a second rating replaces the first."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("plugin_name", "user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_name: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str] = mapped_column(String(128))
    rating: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Review(Base):
    """A plain-text review (never rendered as HTML)."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_name: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)  # no NUL: ``Reviews.check_text`` refuses it
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
