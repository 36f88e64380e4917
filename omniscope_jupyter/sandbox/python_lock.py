"""The Python lock: a plugin's requirements become exact wheels with sha256, for the runner.

Requirements arrive parsed (:mod:`.requirements`); markers are judged here for the runner's
interpreter, and what the runner image already provides (numpy, pandas, pyarrow, ...) is kept
as long as the requirement accepts the provided version, so most plugins need no pip at all
(and no Docker). The rest goes to pip, which runs only inside the resolver container
(:mod:`.pip_container`), for the runner's interpreter and platform, ``--only-binary=:all:``:
first a dry run whose JSON report names every wheel and its sha256, then a hash-checked
download. Transitive dependencies on image packages are pinned to the image's versions and
offered as metadata-only stub wheels, so the layer cannot break the image's compiled packages.

The host reads back only the report (size-capped, parsed as data, every entry checked: a wheel
from the index with a sha256, or one of our stubs) and the wheels, whose sha256 it computes
itself on the bytes it copies into the shared cache; all of a lock's wheels or none enter it.

The lock is plain JSON (stored with the plugin and shown in its details)::

    {"language": "python", "declared": [...], "target": {...},
     "base": [{"name", "version"}],                       # provided by the image, not reinstalled
     "resolved": [{"name", "version", "sha256", "filename"}],  # wheels of the plugin's layer
     "digest": "<sha256 of target + resolved>"}
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from packaging.markers import default_environment
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ..errors import InvalidPackage
from .locks import PackageVersions, digest, has_wheel, package_versions
from .pip_container import IN_DIR, OUT_DIR, PipOutcome, SandboxOutputRefused, Workspace
from .requirements import (
    DISTRIBUTION_NAME,
    PythonRequirement,
    RequirementError,
    parse_python_requirement,
)

#: pip's report is refused above this size (a few hundred packages take well under 1 MiB).
MAX_REPORT_BYTES = 16 * 1024 * 1024
#: A wheel larger than this is refused.
MAX_WHEEL_BYTES = 2 * 1024 * 1024 * 1024
#: Error text kept from pip: enough to see the cause, not a wall of output.
_MAX_MESSAGE_LINES = 30
#: A canonical (PEP 503) name: what may be pinned or stubbed.
_CANONICAL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION_TEXT = re.compile(r"^[A-Za-z0-9.+!_-]{1,64}$")
_STUBS = "stubs"
_STUB_URL = Path(IN_DIR, _STUBS).as_uri() + "/"


class PipRunner(Protocol):
    """Where pip runs (the resolver container; a test double in tests)."""

    def workspace(self, parent: Path) -> contextlib.AbstractContextManager[Workspace]: ...

    def run(self, args: Sequence[str], workspace: Workspace) -> PipOutcome: ...


def manylinux_platforms(arch: str, glibc: str) -> list[str]:
    """Every manylinux platform tag a glibc ``glibc`` system on ``arch`` accepts, newest first.

    pip's ``--platform`` takes exact tags, not "this glibc or older", so all are listed.
    """
    major, minor = (int(part) for part in glibc.split(".")[:2])
    if major != 2:
        raise ValueError(f"unsupported glibc version {glibc!r}")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += [f"{name}_{arch}" for m, name in legacy.items() if m <= minor]
    return tags


@dataclass(frozen=True)
class PythonTarget:
    """The runner image's interpreter (``"3.13"``), C library and machine: what a lock is for."""

    python_version: str
    glibc: str
    arch: str

    def as_dict(self) -> dict[str, str]:
        """The lock's ``target`` (part of its digest)."""
        return {
            "python": self.python_version,
            "implementation": "cp",
            "abi": self.abi,
            "arch": self.arch,
            "glibc": self.glibc,
        }

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    def platforms(self) -> list[str]:
        return manylinux_platforms(self.arch, self.glibc)

    def pip_options(self) -> list[str]:
        """Wheels only, for this interpreter and platform (not the container's own)."""
        options = [
            "--only-binary=:all:",
            "--python-version", self.python_version,
            "--implementation", "cp",
            "--abi", self.abi,
        ]  # fmt: skip
        for tag in self.platforms():
            options += ["--platform", tag]
        return options

    def marker_environment(self) -> dict[str, str]:
        """Environment markers of the runner, so ``; python_version < '3.12'`` is judged for
        its interpreter rather than the host's."""
        env = {key: str(value) for key, value in default_environment().items()}
        major_minor = ".".join(self.python_version.split(".")[:2])
        full = self.python_version if self.python_version.count(".") >= 2 else major_minor + ".0"
        env.update(
            python_version=major_minor,
            python_full_version=full,
            implementation_name="cpython",
            platform_python_implementation="CPython",
            sys_platform="linux",
            platform_system="Linux",
            os_name="posix",
            platform_machine=self.arch,
        )
        return env


class PythonLock:
    """Locks Python requirements into wheels of a shared cache.

    Parameters
    ----------
    wheel_cache:
        Directory of downloaded wheels, shared by all plugins (file names are unique per
        release on an index, and every file is checked against the lock's sha256 before use).
    base_packages:
        ``{name: version}`` of the runner image's Python packages, or a callable.
    target:
        The runner's interpreter and platform.
    pip:
        Where pip runs: the resolver container.
    """

    def __init__(
        self,
        *,
        wheel_cache: str | os.PathLike[str],
        base_packages: PackageVersions,
        target: PythonTarget,
        pip: PipRunner,
    ) -> None:
        self.wheel_cache = Path(wheel_cache)
        self._base_packages = base_packages
        self.target = target
        self.pip = pip

    def base_packages(self) -> dict[str, str]:
        """The runner image's Python packages by canonical name."""
        return {canonicalize_name(k): v for k, v in package_versions(self._base_packages).items()}

    def lock(self, declared: list[str]) -> dict[str, Any]:
        """The lock of ``declared``, or ``InvalidPackage`` (``SandboxUnavailable`` when pip is
        needed and Docker is not there)."""
        try:
            requirements = [parse_python_requirement(text) for text in declared]
        except RequirementError as exc:
            raise InvalidPackage(f"dependency {exc}") from None
        environment = self.target.marker_environment()
        # No requirement: nothing to compare with the image, so no need to ask it (or Docker).
        base = self.base_packages() if requirements else {}
        provided: dict[str, str] = {}
        wanted: list[PythonRequirement] = []
        for req in requirements:
            if not req.applies(environment):
                continue
            version = base.get(req.key)
            if version is not None and not req.extras and req.accepts(version):
                provided[req.key] = version
            else:
                wanted.append(req)
        resolved: list[dict[str, str]] = []
        if wanted:
            # Only a requirement the image's version fails replaces it; one that merely asks for
            # extras ("pandas[excel]") keeps the image's pandas and adds the extras' packages.
            overridden = {r.key for r in wanted if r.key in base and not r.accepts(base[r.key])}
            # Distribution builds carry local labels ("2.2.3+dfsg") the index does not have;
            # the public version is what the index knows and what pins and matches compare.
            public = ((n, _public(v)) for n, v in base.items() if n not in overridden)
            pins = {n: p for n, p in public if p and _CANONICAL.fullmatch(n)}
            # A stub has no extras, so a package asked for with extras is resolved from the
            # index, still pinned to the image's version, and then left out of the layer.
            with_extras = {r.key for r in wanted if r.extras}
            stubs = {n: v for n, v in pins.items() if n not in with_extras}
            found, used = self._resolve(wanted, pins, stubs)
            provided.update({name: base[name] for name in used})
            for item in found:
                name = canonicalize_name(item["name"])
                if name in pins and pins[name] == _public(item["version"]):
                    provided[name] = base[name]
                else:
                    resolved.append(item)
            self._fetch(resolved)
        resolved.sort(key=lambda item: canonicalize_name(item["name"]))
        target = self.target.as_dict()
        return {
            "language": "python",
            "declared": declared,
            "target": target,
            "base": [{"name": n, "version": v} for n, v in sorted(provided.items())],
            "resolved": resolved,
            "digest": digest({"target": target, "resolved": resolved}),
        }

    def _resolve(
        self, wanted: list[PythonRequirement], pins: dict[str, str], stubs: dict[str, str]
    ) -> tuple[list[dict[str, str]], set[str]]:
        """Resolve ``wanted`` plus their dependencies without downloading more than metadata.

        Returns the chosen wheels and the names of image packages taken from ``stubs``.
        pip's dry run reads each release's metadata (PEP 658) and reports the chosen wheel's URL
        and sha256; ``--target`` is only there because pip allows ``--platform`` with it alone.
        The image's packages are offered as metadata-only stub wheels with the best-ranked tag,
        so pip takes them as they are: it needs no wheel of that exact version on the index
        (Debian's markupsafe has none for cp313) and pulls in none of their dependencies.
        """
        tag = f"{self.target.abi}-{self.target.abi}-{self.target.platforms()[0]}"
        with self.pip.workspace(self.wheel_cache) as ws:
            stub_files = {
                name: _write_stub_wheel(ws.inputs / _STUBS, name, version, tag)
                for name, version in stubs.items()
            }
            constraints = "".join(f"{n}=={v}\n" for n, v in sorted(pins.items()))
            ws.write_input("constraints.txt", constraints)
            ws.write_input("requirements.txt", "".join(f"{r.pip_line}\n" for r in wanted))
            self._pip(
                ws, "install", "--dry-run", "--ignore-installed", "--quiet",
                "--target", "/tmp/target", "--report", f"{OUT_DIR}/report.json",
                "--find-links", f"{IN_DIR}/{_STUBS}", "--constraint", f"{IN_DIR}/constraints.txt",
                "--requirement", f"{IN_DIR}/requirements.txt", *self.target.pip_options(),
            )  # fmt: skip
            try:
                raw = ws.read_output("report.json", MAX_REPORT_BYTES)
            except SandboxOutputRefused as exc:
                raise InvalidPackage(f"dependency resolution refused: {exc}") from None
        if raw is None:
            raise InvalidPackage("dependency resolution refused: pip wrote no report")
        return read_report(raw, stub_files)

    def _fetch(self, wheels: list[dict[str, str]]) -> None:
        """Bring every wheel of the lock into the cache, verified on the host; all or none."""
        missing = [w for w in wheels if not has_wheel(self.wheel_cache, w)]
        if not missing:
            return
        with self.pip.workspace(self.wheel_cache) as ws:
            # Name, version and hash were checked when the report was read.
            ws.write_input(
                "requirements.txt",
                "".join(
                    f"{w['name']}=={w['version']} --hash=sha256:{w['sha256']}\n" for w in missing
                ),
            )
            self._pip(
                ws, "download", "--no-deps", "--require-hashes", "--quiet",
                "--dest", f"{OUT_DIR}/wheels", *self.target.pip_options(),
                "--requirement", f"{IN_DIR}/requirements.txt",
            )  # fmt: skip
            # Copied out beside the cache (same file system), moved in once all are verified,
            # so a failed install leaves no half-downloaded file behind.
            with tempfile.TemporaryDirectory(prefix=".download-", dir=self.wheel_cache) as tmp:
                for wheel in missing:
                    dest = Path(tmp, wheel["filename"])
                    try:
                        sha256 = ws.copy_output("wheels", wheel["filename"], dest, MAX_WHEEL_BYTES)
                    except SandboxOutputRefused as exc:
                        raise InvalidPackage(f"downloaded wheel refused: {exc}") from None
                    if sha256 != wheel["sha256"]:
                        raise InvalidPackage(
                            f"downloaded wheel {wheel['filename']} has sha256 {sha256}, not the "
                            f"resolved {wheel['sha256']}"
                        )
                for wheel in missing:
                    os.replace(Path(tmp, wheel["filename"]), self.wheel_cache / wheel["filename"])

    def _pip(self, workspace: Workspace, *args: str) -> None:
        """Run pip in its container; its failure refuses the install with pip's explanation."""
        outcome = self.pip.run(args, workspace)
        if outcome.timed_out:
            raise InvalidPackage("dependency resolution did not finish within its time limit")
        if outcome.exit_code != 0:
            detail = _pip_message(outcome.output)
            raise InvalidPackage(f"dependencies cannot be resolved: {detail}", pip_output=detail)


def read_report(raw: bytes, stub_files: dict[str, str]) -> tuple[list[dict[str, str]], set[str]]:
    """The wheels pip chose, from its (untrusted) JSON report; and the stubs it took.

    Every entry must be one of our stubs (``stub_files``: canonical name -> file name) or a
    wheel from an http(s) index whose file name matches its name and version, with a sha256;
    anything else (a source archive, a local path, a direct URL) refuses the install.
    """
    try:
        report = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPackage(f"pip's resolution report is not JSON: {exc}") from None
    install = report.get("install") if isinstance(report, dict) else None
    if not isinstance(install, list):
        raise InvalidPackage("pip's resolution report has no list of packages")
    items: list[dict[str, str]] = []
    used: set[str] = set()
    for entry in install:
        name, version, info = _entry_parts(entry)
        url = info.get("url")
        if not isinstance(url, str):
            raise InvalidPackage(f"dependency {name}=={version} has no download URL")
        key = canonicalize_name(name)
        if url.startswith(_STUB_URL) and key in stub_files:
            if url != _STUB_URL + stub_files[key]:
                raise InvalidPackage(f"dependency {name}=={version} is not the image's stub")
            used.add(key)
            continue
        filename = unquote(PurePosixPath(urlsplit(url).path).name)
        archive = info.get("archive_info")
        hashes = archive.get("hashes") if isinstance(archive, dict) else None
        sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
        if (
            urlsplit(url).scheme not in {"https", "http"}
            or entry.get("is_direct")
            or not isinstance(sha256, str)
            or not _SHA256.fullmatch(sha256)
            or not _wheel_of(filename, key, version)
        ):
            raise InvalidPackage(
                f"dependency {name}=={version} has no wheel with a sha256 on the index "
                f"(pip chose {url[:200]!r})"
            )
        items.append({"name": name, "version": version, "sha256": sha256, "filename": filename})
    return items, used


def _entry_parts(entry: Any) -> tuple[str, str, dict[str, Any]]:
    metadata = entry.get("metadata") if isinstance(entry, dict) else None
    info = entry.get("download_info") if isinstance(entry, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    version = metadata.get("version") if isinstance(metadata, dict) else None
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(info, dict)):
        raise InvalidPackage("pip's resolution report has an entry without name or version")
    # Both go into the download's requirement file: a plain name and a plain PEP 440 version.
    if (
        not DISTRIBUTION_NAME.fullmatch(name)
        or not _VERSION_TEXT.fullmatch(version)
        or not _public(version)
    ):
        raise InvalidPackage(
            f"pip's resolution report names {name[:100]!r} {version[:100]!r}, which is not a "
            "package name and version"
        )
    return name, version, info


def _wheel_of(filename: str, key: str, version: str) -> bool:
    """Whether ``filename`` is a plain wheel file name of ``key`` ``version``."""
    if "/" in filename or "\\" in filename or filename.startswith("."):
        return False
    try:
        name, wheel_version, _build, _tags = parse_wheel_filename(filename)
        return name == key and wheel_version == Version(version)
    except (InvalidWheelFilename, InvalidVersion):
        return False


def _write_stub_wheel(directory: Path, name: str, version: str, tag: str) -> str:
    """A wheel holding only the metadata of ``name`` ``version``: how pip learns it is there.

    ``name`` is canonical and ``version`` public (checked by the caller), so the file name is
    plain. Returns it.
    """
    directory.mkdir(mode=0o755, exist_ok=True)
    directory.chmod(0o755)
    dist = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    path = directory / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as stub:
        stub.writestr(
            f"{dist}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        stub.writestr(
            f"{dist}.dist-info/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: omniscope\nRoot-Is-Purelib: false\nTag: {tag}\n",
        )
        stub.writestr(f"{dist}.dist-info/RECORD", "")
    path.chmod(0o644)
    return path.name


def _public(version: str) -> str | None:
    try:
        return Version(version).public
    except InvalidVersion:
        return None


def _pip_message(output: str) -> str:
    """pip's explanation without its warnings about unrelated index locations."""
    lines = [
        line.rstrip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(("WARNING:", "[notice]"))
    ]
    if len(lines) > _MAX_MESSAGE_LINES:
        lines = [*lines[:_MAX_MESSAGE_LINES], "..."]
    return "\n".join(lines) or "pip failed without a message"


__all__ = ["PipRunner", "PythonLock", "PythonTarget", "manylinux_platforms", "read_report"]
