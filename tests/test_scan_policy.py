"""The install pipeline's scan stage: a blocking report is a 422 with the report; force is guarded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.errors import Forbidden, ScanRefused
from omniscope_jupyter.manager import PluginManager

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
