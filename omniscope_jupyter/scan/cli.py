"""``omniplug scan PATH`` for authors: the server's scan, run locally before uploading.

R files are parsed in the sandbox container when Docker and its runner image are available, else
by the host's ``Rscript`` (parse only, nothing evaluated), else they are reported as unscanned.
Unpinned dependencies the runner image provides are checked at the image's version, as the
server does, when that image is there to ask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SandboxUnavailable
from ..manifest import read_manifest
from ..sandbox.locks import PackageVersions
from .r_scan import RRunner, RScanError
from .report import ScanReport
from .scanner import DEFAULT_MAX_FILE_BYTES, PackageScanner

EXIT_PASSED, EXIT_REFUSED = 0, 1


def cli_scan(
    path: str | Path,
    *,
    vulndb_path: str | Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    r_runner: RRunner | None = None,
    base_packages: PackageVersions = None,
) -> tuple[ScanReport, int]:
    """Scan the plugin folder ``path``; exit code 0 when the server would accept it, else 1.

    Raises ``InvalidPackage`` when the folder has no valid ``manifest.json`` (the CLI's exit 2).
    """
    package_dir = Path(path)
    manifest = read_manifest(package_dir)
    scanner = PackageScanner(
        vulndb_path=vulndb_path,
        max_file_bytes=max_file_bytes,
        r_runner=r_runner or local_r_runner(),
        base_packages=base_packages or local_image_packages,
    )
    report = scanner.scan(package_dir, manifest.as_dict())
    return report, EXIT_REFUSED if report.blocking else EXIT_PASSED


def local_r_runner() -> RRunner:
    """The sandbox container when its image is already built, else the host's Rscript."""
    from .r_runners import DockerRRunner, HostRRunner

    try:
        from ..sandbox.container import docker_client
        from ..sandbox.images import image_status

        client = docker_client(timeout=5)
        status = image_status(client)
        if status["images"]["r"]["present"]:
            return DockerRRunner(client=client, image=status["images"]["r"]["tag"])
    except SandboxUnavailable:
        pass
    try:
        return HostRRunner()
    except SandboxUnavailable:
        return _no_r


def local_image_packages() -> dict[str, str]:
    """``{name: version}`` of the Python runner image when Docker has it built."""
    from ..sandbox.container import docker_client
    from ..sandbox.images import image_status
    from ..sandbox.plugin_image import probe_runner_image

    client = docker_client(timeout=5)
    image = image_status(client)["images"]["python"]
    if not image["present"]:
        raise SandboxUnavailable("the runner image is not built (omniplug sandbox build)")
    return dict(probe_runner_image(client, image["tag"])["python_packages"])


def _no_r(script: Path, package_dir: Path, files: list[str]) -> str:
    raise RScanError("neither Docker with the sandbox image nor Rscript is available here")


def format_report(report: ScanReport | dict[str, Any]) -> str:
    """The report as terminal text: one line per finding, then the verdict and the database."""
    data = report.to_dict() if isinstance(report, ScanReport) else report
    lines = []
    for f in data["findings"]:
        where = f"{f['file']}:{f['line']}" if f["line"] else f["file"]
        lines.append(f"{f['severity']:<6} {f['rule_id']:<6} {where}  {f['message']}")
        if f.get("fix_hint"):
            lines.append(f"{'':14}fix: {f['fix_hint']}")
    counts = ", ".join(f"{n} {s}" for s, n in data["counts"].items())
    lines.append(
        f"scan {'passed' if data['passed'] else 'REFUSED'} ({counts}); "
        f"scanners: {', '.join(data['scanners'])}"
    )
    db = data.get("vulnerability_db") or {}
    if db:
        lines.append(
            f"vulnerability database: {db.get('format')} {db.get('version') or ''} "
            f"dated {db.get('date')} ({db.get('advisories')} advisories)"
        )
    return "\n".join(lines)
