"""Install-time security scanning of plugin packages."""

from .report import Finding, ScanReport

__all__ = ["Finding", "ScanReport"]
