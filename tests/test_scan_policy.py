"""The install pipeline's scan stage: a blocking report is a 422 with the report; force is guarded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import Conflict, Forbidden, ScanRefused

from .api import assert_error, upload
from .doubles import SystemCallScanner

DANGEROUS = {"my_plugin.py": "import os\n\n\ndef run():\n    os.system('rm -rf /')\n"}


@pytest.fixture
def omniscope_config() -> dict[str, Any]:
    return {"scanner_class": "tests.doubles.SystemCallScanner"}


async def test_refused_by_scan_is_422_with_rule_file_line(
    jp_fetch: Any, package: Callable[..., Path], store_dir: Path
) -> None:
    status, body = await upload(jp_fetch, package(files=DANGEROUS))
    assert_error(status, body, 422, "T605", "my_plugin.py:5")
    assert body["report"]["findings"][0]["line"] == 5
    assert not (store_dir / "versions" / "my_plugin").exists()
    status, body = await upload(jp_fetch, package(files=DANGEROUS), force="true")
    assert_error(status, body, 403, "Forced installs are disabled")


def test_forced_install_is_recorded(tmp_path: Path, package: Callable[..., Path]) -> None:
    manager = PluginManager(tmp_path, scanner=SystemCallScanner(), allow_force=True)
    with pytest.raises(ScanRefused):
        manager.install(package(files=DANGEROUS))
    result = manager.install(package(files=DANGEROUS), force=True, user="admin")
    assert result["forced"] is True and result["scan"]["passed"] is False
    history = manager.history("my_plugin")
    assert (history[0]["action"], history[0]["user"]) == ("install-forced", "admin")
    assert manager.scan_report("my_plugin")["report"]["findings"][0]["rule_id"] == "T605"
    strict = PluginManager(tmp_path / "other", scanner=SystemCallScanner())
    with pytest.raises(Forbidden):
        strict.install(package(files=DANGEROUS, version="2.0.0"), force=True)


class _Flip(SystemCallScanner):
    """Passes everything until ``strict`` is set: a rule update between install and update."""

    strict = False

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> Any:
        report = super().scan(package_dir, manifest)
        return report if self.strict else type(report)(scanners=["lenient"])


def test_update_rescans_the_target(tmp_path: Path, package: Callable[..., Path]) -> None:
    scanner = _Flip()
    manager = PluginManager(tmp_path, scanner=scanner)
    manager.install(package())
    manager.install(package(version="1.1.0", files=DANGEROUS))
    scanner.strict = True
    with pytest.raises(ScanRefused, match="T605"):
        manager.update("my_plugin", "1.1.0")
    assert manager.details("my_plugin")["active_version"] == "1.0.0"
    scanner.strict = False
    manager.update("my_plugin", "1.1.0")
    assert manager.scan_report("my_plugin")["report"]["scanners"] == ["lenient"]
    scanner.strict = True  # rollback never scans: it is the way out of a bad version
    assert manager.rollback("my_plugin", "1.0.0")["active_version"] == "1.0.0"


class _WhileScanning(SystemCallScanner):
    """Runs ``during(manager)`` once, in another thread, while an update scans (as a concurrent
    request would) and records whether that thread could finish meanwhile."""

    def __init__(self, manager_dir: Path) -> None:
        super().__init__()
        self.manager = PluginManager(manager_dir, scanner=self)
        self.during: Callable[[PluginManager], Any] | None = None
        self.finished: list[bool] = []

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> Any:
        during, self.during = self.during, None
        if during is not None:
            thread = threading.Thread(target=during, args=(self.manager,))
            thread.start()
            thread.join(timeout=10)  # blocks for good when the update holds the store lock
            self.finished.append(not thread.is_alive())
        return super().scan(package_dir, manifest)


def test_update_scans_without_holding_the_store_lock(
    tmp_path: Path, package: Callable[..., Path]
) -> None:
    """A slow re-scan (R in a container) must not stall every other change of the store."""
    manager = _WhileScanning(tmp_path).manager
    manager.install(package())
    manager.install(package(version="1.1.0"))
    scanner = manager.scanner
    assert isinstance(scanner, _WhileScanning)
    scanner.during = lambda m: m.set_enabled("my_plugin", True, user="other")
    assert manager.update("my_plugin", "1.1.0")["active_version"] == "1.1.0"
    assert scanner.finished == [True]
    assert manager.details("my_plugin")["enabled"] is True


def test_a_change_during_the_update_scan_is_a_conflict(
    tmp_path: Path, package: Callable[..., Path]
) -> None:
    """Under the lock the update re-checks what it scanned before switching."""
    manager = _WhileScanning(tmp_path).manager
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        manager.install(package(version=version))
    scanner = manager.scanner
    assert isinstance(scanner, _WhileScanning)
    scanner.during = lambda m: m.update("my_plugin", "1.2.0", user="other")
    with pytest.raises(Conflict, match="changed while its update to 1.1.0 was prepared"):
        manager.update("my_plugin", "1.1.0")
    assert scanner.finished == [True]
    assert manager.details("my_plugin")["active_version"] == "1.2.0"
    assert [h["action"] for h in manager.history("my_plugin")][-1:] == ["update"]
    assert manager.history("my_plugin")[-1]["user"] == "other"
