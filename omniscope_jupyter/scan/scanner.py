"""The install pipeline's scan stage: files, Python (Bandit + permissions), R, dependencies.

The scan is advisory: it refuses packages that plainly do dangerous things and tells the author
where and how to fix them, but a determined author can hide code from any static check. The
sandbox every plugin runs in is the security boundary; the scan only keeps the obvious out.

Nothing in the package is executed by this process: Python files are read with ``ast`` (and by
Bandit, which does the same), R files are parsed by R inside the sandbox container.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import SandboxUnavailable
from ..sandbox.locks import PackageVersions, package_versions
from ..stages import ScanStage
from .bandit_scan import BANDIT_NAME, bandit_findings
from .files import inspect_files
from .python_rules import python_rule_findings
from .r_scan import RRunner, r_findings
from .report import SEVERITIES, Finding, ScanReport
from .rules import BANDIT_PROCESS_RULES
from .vulndb import VulnerabilityDB, dependency_findings, load_vulndb

DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024


class PackageScanner(ScanStage):
    """The real :class:`~omniscope_jupyter.stages.ScanStage`.

    Parameters
    ----------
    vulndb_path:
        A safety-db ``insecure_full.json``, or an OSV directory or ``all.zip``; default: the
        database of the installed ``safety-db`` distribution.
    max_file_bytes:
        Files larger than this are refused (F006) and not read.
    r_runner:
        How to run the R extractor (``run(script, package_dir, files) -> stdout``); default: a
        :class:`~omniscope_jupyter.scan.r_runners.DockerRRunner` built on first R file seen.
    docker_client, r_image, sandbox_settings:
        Passed to that default ``DockerRRunner``.
    base_packages:
        ``{name: version}`` of the Python runner image, or a callable returning it (asked only
        for a package with dependencies): an unpinned dependency the image provides is checked
        at the image's version instead of being reported as unknown.
    """

    def __init__(
        self,
        *,
        vulndb_path: str | Path | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        r_runner: RRunner | None = None,
        docker_client: Any = None,
        r_image: str | None = None,
        sandbox_settings: Any = None,
        base_packages: PackageVersions = None,
    ) -> None:
        self.vulndb_path = vulndb_path
        self.max_file_bytes = int(max_file_bytes)
        self._r_runner = r_runner
        self._docker = (docker_client, r_image, sandbox_settings)
        self._lock = threading.Lock()
        self._base_packages = base_packages

    @property
    def vulndb(self) -> VulnerabilityDB:
        """The loaded database (cached per path and modification time)."""
        return load_vulndb(self.vulndb_path)

    @property
    def r_runner(self) -> RRunner:
        with self._lock:
            if self._r_runner is None:
                from .r_runners import DockerRRunner

                client, image, settings = self._docker
                self._r_runner = DockerRRunner(client=client, image=image, settings=settings)
            return self._r_runner

    def _image_packages(self) -> dict[str, str]:
        """The runner image's Python packages; none when Docker cannot say (a plain check)."""
        try:
            return dict(package_versions(self._base_packages))
        except SandboxUnavailable:
            return {}

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        """Scan the extracted package at ``package_dir`` described by ``manifest``."""
        package_dir = Path(package_dir)
        permissions = set(manifest.get("permissions") or [])
        inv = inspect_files(package_dir, manifest.get("entry_point"), self.max_file_bytes)
        findings: list[Finding] = list(inv.findings)
        scanners = ["files"]

        if inv.python_files:
            py, parsed = python_rule_findings(package_dir, inv.python_files, permissions)
            findings += _one_per_spawn(py, bandit_findings(package_dir, parsed))
            scanners += ["python-permissions", BANDIT_NAME]
        if inv.r_files:
            r, r_version = r_findings(self.r_runner, package_dir, inv.r_files, permissions)
            findings += r
            scanners.append(f"r-parser (R {r_version})" if r_version else "r-parser (failed)")

        db = self.vulndb
        db_info = dict(db.info)
        deps = [str(d) for d in manifest.get("dependencies") or []]
        if manifest.get("language", "python") == "python":
            findings += dependency_findings(db, deps, self._image_packages() if deps else None)
            scanners.append(f"vulndb ({db_info.get('format')})")
        elif deps:
            db_info["note"] = "R dependencies are not checked: the database covers PyPI only."

        rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
        findings.sort(key=lambda f: (rank.get(f.severity, 9), f.file, f.line, f.rule_id))
        return ScanReport(findings=findings, scanners=scanners, vulnerability_db=db_info)


def _one_per_spawn(ours: list[Finding], bandit: list[Finding]) -> list[Finding]:
    """Both lists, without our PY104 where Bandit already refuses that process start (HIGH)."""
    covered = {
        (f.file, f.line)
        for f in bandit
        if f.rule_id in BANDIT_PROCESS_RULES and f.severity == "HIGH"
    }
    return [f for f in ours if f.rule_id != "PY104" or (f.file, f.line) not in covered] + bandit
