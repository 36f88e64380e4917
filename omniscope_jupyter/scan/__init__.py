"""Install-time security scanning of plugin packages.

The scan is advisory; the sandbox is the security boundary. ``PackageScanner`` is the install
pipeline's scan stage, ``cli_scan`` backs ``omniplug scan``. Both are imported lazily so that
importing the report types (as ``stages`` does) does not load Bandit.
"""

from typing import Any

from .report import Finding, ScanReport

__all__ = ["Finding", "PackageScanner", "ScanReport", "cli_scan", "format_report"]


def __getattr__(name: str) -> Any:
    if name == "PackageScanner":
        from .scanner import PackageScanner

        return PackageScanner
    if name in ("cli_scan", "format_report"):
        from . import cli

        return getattr(cli, name)
    raise AttributeError(name)
