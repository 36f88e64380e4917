"""The scan report: findings an author can act on, and the policy that blocks an install."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..answers import timestamp

SEVERITIES = ("LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class Finding:
    """One problem found in a package, located precisely enough to fix."""

    rule_id: str
    severity: str  # LOW | MEDIUM | HIGH
    confidence: str  # LOW | MEDIUM | HIGH
    file: str  # relative to the package root
    line: int  # 0 when the finding concerns the whole file
    message: str
    fix_hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScanReport:
    """Everything the scan stage found in one package version."""

    findings: list[Finding] = field(default_factory=list)
    #: Which scanners ran, e.g. ``["bandit 1.9.4", "files"]``.
    scanners: list[str] = field(default_factory=list)
    #: Date and source of the vulnerability database used, when one was.
    vulnerability_db: dict[str, Any] | None = None
    scanned_at: str = field(default_factory=lambda: str(timestamp(datetime.now(UTC))))

    @property
    def blocking(self) -> bool:
        """True when the default policy refuses the package (any HIGH finding)."""
        return any(f.severity == "HIGH" for f in self.findings)

    def summary(self) -> dict[str, Any]:
        counts = {s: 0 for s in SEVERITIES}
        for f in self.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        return {
            "passed": not self.blocking,
            "counts": counts,
            "scanners": self.scanners,
            "scanned_at": self.scanned_at,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "findings": [f.to_dict() for f in self.findings],
            "vulnerability_db": self.vulnerability_db,
        }


def scan_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The short form of a stored report that listings show beside each version.

    Stored reports are plain dicts (JSON columns); listings show whether it passed, the
    counts and the date, and leave the findings to ``GET .../scan``.
    """
    return {k: report.get(k) for k in ("passed", "counts", "scanned_at")}
