"""Engine and sessions of the plugin store, and the on-disk layout beside it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from .orm import Base


def make_engine(db_url: str) -> Engine:
    """Create the engine; for SQLite turn on foreign keys, WAL and a busy timeout.

    WAL lets the CLI and a running server share the database file; foreign keys make the
    ``ON DELETE CASCADE`` of uninstall real on SQLite. PostgreSQL sessions read times in UTC
    (``_postgresql_utc``). Creates the missing tables (``create_schema``).
    """
    if db_url.startswith("sqlite"):
        engine = create_engine(db_url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    else:
        engine = create_engine(db_url, pool_pre_ping=True)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "connect", _postgresql_utc, insert=True)
    create_schema(engine)
    return engine


#: Key of the PostgreSQL advisory lock held while creating the schema (any fixed number).
SCHEMA_LOCK_KEY = 0x0A1115C0


def lock_schema(conn: Connection) -> None:
    """On PostgreSQL, wait for other processes creating the schema, until this transaction ends.

    Server, CLI and kernels may start together on an empty database; two ``CREATE TABLE`` or
    ``CREATE INDEX IF NOT EXISTS`` at once fail there with a duplicate key in the catalog.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def create_schema(engine: Engine, tables: list[Table] | None = None) -> None:
    """Create the missing tables (default: all of ``Base``) in one transaction, under the lock."""
    with engine.begin() as conn:
        lock_schema(conn)
        Base.metadata.create_all(conn, tables=tables)
        _add_new_columns(conn)


#: Columns added after a table was first released: ``create_all`` never alters a table, so a
#: store made by an older version gets them here. (table, column) of ``Base``'s tables.
ADDED_COLUMNS = (
    ("executions", "runner"),
    ("executions", "provenance"),
    ("executions", "events"),
)


def _add_new_columns(conn: Connection) -> None:
    inspector = inspect(conn)
    for table_name, column_name in ADDED_COLUMNS:
        if not inspector.has_table(table_name):
            continue
        if column_name in {c["name"] for c in inspector.get_columns(table_name)}:
            continue
        column = Base.metadata.tables[table_name].c[column_name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f'ALTER TABLE {table_name} ADD COLUMN "{column_name}" {kind}'))


def _postgresql_utc(dbapi_conn: Any, _record: Any) -> None:
    """Read times back in UTC, as SQLite does, whatever the server's ``timezone`` setting.

    PostgreSQL returns ``timestamptz`` in the session's zone, so answers would otherwise carry
    the server's local offset. Set in autocommit so the pool's reset (a rollback) keeps it.
    """
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    cur = dbapi_conn.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.close()
    dbapi_conn.autocommit = autocommit


class StoreLayout:
    """Where a store keeps its files, and the lock that serialises changes to them.

    ``versions/<name>/<version>`` holds installed files; ``staging/`` receives uploads and
    extractions on the same filesystem so a finished version moves in with one ``os.replace``;
    ``trash/`` receives what is being deleted, so a removal is a rename too.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.versions = data_dir / "versions"
        self.staging = data_dir / "staging"
        self.trash = data_dir / "trash"
        for d in (self.data_dir, self.versions, self.staging, self.trash):
            d.mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.RLock()
        self._lock_path = data_dir / ".lock"

    def version_dir(self, name: str, version: str) -> Path:
        return self.versions / name / version

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise store changes across threads and processes (server and CLI)."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
