"""The plugin store's lifecycle on PostgreSQL (``PluginManager(data_dir, db_url=...)``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, make_url, select

from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import Conflict, NotFound
from omniscope_jupyter.store import Execution, HistoryEntry, PluginVersion

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def manager(tmp_path: Path, pg_url: str) -> Iterator[PluginManager]:
    m = PluginManager(tmp_path / "store", db_url=pg_url)
    yield m
    m.close()


def _count(m: PluginManager, model: Any, name: str) -> int:
    with m.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(model.plugin_name == name))


def _record_run(m: PluginManager, name: str, version: str, **fields: Any) -> str:
    """An execution row as the execution service writes it."""
    run_id = str(uuid.uuid4())
    with m.sessions.begin() as s:
        s.add(
            Execution(id=run_id, plugin_name=name, version=version, extension_point="analysis",
                      status="succeeded", **fields)
        )
    return run_id


def test_the_store_is_on_postgresql(manager: PluginManager) -> None:
    assert manager.engine.dialect.name == "postgresql"
    assert {"plugins", "plugin_versions", "version_history", "executions"} <= set(
        inspect(manager.engine).get_table_names()
    )
    assert not (manager.layout.data_dir / "omniscope.db").exists()


def test_lifecycle_install_update_rollback_enable_disable_uninstall(
    manager: PluginManager, package: Callable[..., Path]
) -> None:
    first = manager.install(package(), user="alice")
    assert (first["version"], first["active_version"], first["enabled"]) == ("1.0.0", "1.0.0", False)
    with pytest.raises(Conflict, match="already installed"):
        manager.install(package(), user="alice")
    for version in ("1.1.0", "2.0.0-rc.1"):
        assert manager.install(package(version=version), user="alice")["active_version"] == "1.0.0"

    assert manager.update("my_plugin", "1.1.0", user="alice")["active_version"] == "1.1.0"
    assert manager.update("my_plugin", user="alice")["active_version"] == "2.0.0-rc.1"
    with pytest.raises(Conflict, match="use rollback"):
        manager.update("my_plugin", "1.0.0")
    back = manager.rollback("my_plugin", "1.0.0", "Bug in new version", user="bob")
    assert (back["previous_version"], back["active_version"]) == ("2.0.0-rc.1", "1.0.0")
    assert manager.set_enabled("my_plugin", True, user="bob") == {"plugin_id": "my_plugin",
                                                                 "enabled": True}
    manager.set_enabled("my_plugin", True, user="bob")  # twice: no second history entry
    manager.set_enabled("my_plugin", False, user="bob")

    details = manager.details("my_plugin")
    assert details["versions"] == ["1.0.0", "1.1.0", "2.0.0-rc.1"]  # semver order
    assert details["active_version"] == "1.0.0" and details["enabled"] is False
    assert details["manifest"]["config"]["param1"]["default"] == "value"  # JSON round trip
    assert [(h["action"], h["from_version"], h["to_version"]) for h in details["history"]] == [
        ("install", None, "1.0.0"),
        ("install", None, "1.1.0"),
        ("install", None, "2.0.0-rc.1"),
        ("update", "1.0.0", "1.1.0"),
        ("update", "1.1.0", "2.0.0-rc.1"),
        ("rollback", "2.0.0-rc.1", "1.0.0"),
        ("enable", "1.0.0", "1.0.0"),
        ("disable", "1.0.0", "1.0.0"),
    ]
    assert details["history"][5]["reason"] == "Bug in new version"
    assert [p["name"] for p in manager.list_plugins(enabled=False, extension_point="analysis")] == [
        "my_plugin"
    ]

    # 3 GiB does not fit PostgreSQL's 32-bit INTEGER: the column must be a BIGINT.
    run = _record_run(manager, "my_plugin", "1.0.0", peak_memory_bytes=3 * 2**30,
                      parameters={"method": "zscore"}, result={"data": [[1, 2]], "errors": []})
    with manager.sessions() as s:
        row = s.get(Execution, run)
        assert row is not None and row.peak_memory_bytes == 3 * 2**30
        assert row.result == {"data": [[1, 2]], "errors": []}

    gone = manager.uninstall("my_plugin", user="alice")
    assert gone["versions"] == ["1.0.0", "1.1.0", "2.0.0-rc.1"]
    for model in (PluginVersion, HistoryEntry, Execution):  # ON DELETE CASCADE on the server
        assert _count(manager, model, "my_plugin") == 0, model
    assert not (manager.layout.versions / "my_plugin").exists()
    with pytest.raises(NotFound):
        manager.details("my_plugin")
    # A fresh install after uninstall starts over.
    assert manager.install(package(), user="alice")["version"] == "1.0.0"
    assert [h["action"] for h in manager.history("my_plugin")] == ["install"]


def test_times_come_back_aware_and_in_utc_whatever_the_server_zone(
    tmp_path: Path, pg_url: str, pg_cluster: Any, package: Callable[..., Path]
) -> None:
    # A server whose sessions default to a zone far from UTC, as production servers often are.
    database = make_url(pg_url).database
    pg_cluster.admin(f"ALTER DATABASE \"{database}\" SET timezone TO 'Pacific/Kiritimati'")
    m = PluginManager(tmp_path / "store", db_url=pg_url)
    try:
        before = datetime.now(UTC)
        m.install(package(), user="alice")
        details = m.details("my_plugin")
        for stamp in (details["installed_at"], details["updated_at"], details["history"][0]["at"],
                      details["versions_detail"][0]["installed_at"]):
            at = datetime.fromisoformat(stamp)
            assert at.utcoffset() == timedelta(0), stamp
            assert abs(at - before) < timedelta(minutes=5), stamp
    finally:
        m.close()


def test_concurrent_changes_from_threads_share_the_pool(
    manager: PluginManager, package: Callable[..., Path]
) -> None:
    """The server runs store calls in worker threads: many at once must neither fail nor leak."""
    archives = [package(name=f"plugin_{i}") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda a: manager.install(a, user="alice"), archives))
        assert sorted(r["name"] for r in results) == [f"plugin_{i}" for i in range(8)]
        toggled = list(pool.map(lambda i: manager.set_enabled(f"plugin_{i}", True), range(8)))
        assert all(t["enabled"] for t in toggled)
        listed = list(pool.map(lambda _: len(manager.list_plugins(enabled=True)), range(16)))
    assert listed == [8] * 16
    pool_status = manager.engine.pool.checkedout()  # type: ignore[attr-defined]
    assert pool_status == 0


def test_text_with_nul_characters_is_recorded(
    manager: PluginManager, package: Callable[..., Path]
) -> None:
    """A plugin's stray binary output or a reason with NUL must not fail the write."""
    manager.install(package(), user="alice")
    manager.install(package(version="1.1.0"), user="alice")
    manager.update("my_plugin", "1.1.0")
    manager.rollback("my_plugin", "1.0.0", "bad\u0000byte")
    assert manager.history("my_plugin")[-1]["reason"] == "bad\ufffdbyte"
    run = _record_run(manager, "my_plugin", "1.0.0", stdout="raw\u0000out", stderr="\u0000",
                      parameters={"sep": "\u0000"})
    with manager.sessions() as s:
        row = s.get(Execution, run)
        assert row is not None
        assert (row.stdout, row.stderr) == ("raw\ufffdout", "\ufffd")
        assert row.parameters == {"sep": "\u0000"}  # JSON (not JSONB) keeps the escape


def test_names_sort_by_code_point_as_on_sqlite(
    manager: PluginManager, package: Callable[..., Path]
) -> None:
    """The database collates en-US (``data_2 data_b data1 datab``); listings must not."""
    names = ["datab", "data1", "data_b", "data_2"]
    for name in names:
        manager.install(package(name=name))
    assert [p["name"] for p in manager.list_plugins()] == sorted(names)


def test_many_processes_may_open_a_new_database_at_once(tmp_path: Path, pg_url: str) -> None:
    """Server, CLI and kernels may start together on an empty database: one creates the schema."""
    from omniscope_jupyter.marketplace import Marketplace

    def open_store(i: int) -> str:
        m = PluginManager(tmp_path / f"store{i}", db_url=pg_url)
        try:
            Marketplace(m)
            return m.engine.dialect.name
        finally:
            m.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(open_store, range(6))) == ["postgresql"] * 6
