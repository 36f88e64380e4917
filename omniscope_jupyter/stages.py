"""The pluggable stages of the install pipeline: security scan and dependency resolution.

The install pipeline (``manager.PluginManager.install``) calls both on the extracted, validated
package before anything is stored. Each is chosen by a dotted path trait on the server extension
(``scanner_class``, ``dependency_resolver_class``) so a team can swap one in and tests can swap a
double in. The defaults here accept everything; the real ones live in ``scan/`` and ``sandbox/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from .scan.report import ScanReport


class ScanStage(Protocol):
    """Scans an extracted package; must not execute any of its code on the host."""

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport: ...


class DependencyStage(Protocol):
    """Resolves a package's declared dependencies into a lock, or raises ``InvalidPackage``."""

    def resolve(self, package_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]: ...


class PassingScanner:
    """Scan stage that finds nothing: the default until a real scanner is configured."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        return ScanReport(scanners=["none"])


class DeclaredDependencies:
    """Dependency stage that records the declared requirements as they are, unresolved."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def resolve(self, package_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        return {"declared": list(manifest.get("dependencies", [])), "resolved": []}
