"""A throwaway PostgreSQL server for the store's ``db_url`` path, one per test session.

The session starts its own cluster (``initdb`` into a temporary folder, ``pg_ctl`` on a unix
socket only, never a TCP port), gives every test a fresh database so tests stay independent, and
stops and deletes the cluster at the end. The system's own PostgreSQL service is never used.
Missing server binaries or a missing ``psycopg`` skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..prereq import missing

#: Where Debian puts the server binaries (``apt-get install postgresql``, 15 or newer for ICU
#: collations); PG_BIN overrides.
BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"


def _bin_dir() -> Path | None:
    candidates = [os.environ["PG_BIN"]] if os.environ.get("PG_BIN") else []
    candidates += sorted(glob.glob(BIN_GLOB), key=lambda p: int(Path(p).parent.name), reverse=True)
    for c in candidates:
        if (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


@dataclass
class Cluster:
    """A running throwaway cluster reachable on ``socket_dir`` (port names the socket file)."""

    bin_dir: Path
    root: Path
    socket_dir: Path
    port: int
    as_owner: list[str]

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3 over the unix socket)."""
        return (
            f"postgresql+psycopg://{SUPERUSER}@/{database}"
            f"?host={self.socket_dir}&port={self.port}"
        )

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """Start a private cluster for the session; stop it and delete its files afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        missing("PostgreSQL server binaries (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg (pip install 'psycopg[binary]>=3.1')")
    assert bin_dir is not None
    # The server refuses to run as root: as root, the cluster belongs to the postgres OS user.
    as_owner = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="omni-pg-"))  # short: a socket path is <= 107 bytes
    if as_owner:
        shutil.chown(root, user=SUPERUSER, group=SUPERUSER)
    data = root / "data"
    # Any number will do: the socket lives in our own folder and no TCP port is opened.
    cluster = Cluster(bin_dir, root, root, 5432, as_owner)
    started = False
    try:
        # Databases collate by ICU's en-US, like a typical production server (not byte order
        # as SQLite and the C locale do), so ordering differences show up here.
        _run(
            [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--locale-provider=icu",
             "--icu-locale=en-US", "--no-sync"],
            "initdb",
        )
        # Durability is worthless for a throwaway cluster; turning it off keeps tests fast.
        options = (
            f"-p {cluster.port} -k {root} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
             "-o", options, "-w", "-t", "60", "start"],
            "pg_ctl start",
        )
        started = True
        yield cluster
    finally:
        if started:
            subprocess.run(
                [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=120, check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty database for one test; dropped (with any leftover connection) after it."""
    name = f"omni_{uuid.uuid4().hex[:12]}"
    pg_cluster.admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def omniscope_config(pg_url: str) -> dict[str, Any]:
    """The REST tests' server stores everything in this test's PostgreSQL database."""
    return {"db_url": pg_url}
