"""Test doubles swapped in through the extension's dotted-path traits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.auth.authorizer import Authorizer

from omniscope_jupyter.scan.report import Finding, ScanReport
from omniscope_jupyter.stages import ScanStage


class SystemCallScanner(ScanStage):
    """Flags ``os.system`` as HIGH, like the real scanner's rule, without needing Bandit."""

    def __init__(self, **settings: Any) -> None:
        pass

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        findings = []
        for path in sorted(package_dir.rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "os.system" in line:
                    findings.append(
                        Finding("T605", "HIGH", "HIGH", path.name, number, "os.system call")
                    )
        return ScanReport(findings=findings, scanners=["double"])


class ReadOnlyAuthorizer(Authorizer):
    """Allows reading the plugin API, refuses every write and execute."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource.startswith("omniscope:plugins") and action != "read")
