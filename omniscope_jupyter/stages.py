"""The pluggable stages of the install pipeline: security scan and dependency resolution.

The install pipeline (``manager.PluginManager.install``) calls both on the extracted, validated
package before anything is stored. Each is chosen by a dotted path trait on the server extension
(``scanner_class``, ``dependency_resolver_class``) so a team can swap one in and tests can swap a
double in. The defaults here accept everything; the real ones live in ``scan/`` and ``sandbox/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .scan.report import ScanReport


class ScanStage:
    """Scans an extracted package; must not execute any of its code on the host.

    The ``scanner_class`` trait only takes subclasses (``Type(klass=ScanStage)``); a subclass
    is built with the scan settings as keyword arguments and may ignore those it does not use.
    """

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        """The report of ``package_dir`` (whose validated manifest is ``manifest``)."""
        raise NotImplementedError


class DependencyStage:
    """Resolves a package's declared dependencies into a lock, or raises ``InvalidPackage``.

    The ``dependency_resolver_class`` trait only takes subclasses; see ``ScanStage``.
    """

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def resolve(self, package_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        """The lock (plain JSON) of the package's declared dependencies."""
        raise NotImplementedError


class PassingScanner(ScanStage):
    """Scan stage that finds nothing: the default until a real scanner is configured."""

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        return ScanReport(scanners=["none"])


class DeclaredDependencies(DependencyStage):
    """Dependency stage that records the declared requirements as they are, unresolved."""

    def resolve(self, package_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        return {"declared": list(manifest.get("dependencies", [])), "resolved": []}
