"""The dependency stage: a plugin's declared requirements become a lock, then an image layer.

Python requirements are resolved on the host, for the runner image's interpreter and platform
(not the host's), by pip with ``--only-binary=:all:`` so that no package code (no ``setup.py``,
no build backend) ever runs on the host; containers cannot reach an index, so the wheels are
downloaded here into a shared cache, checked against the index's sha256, and later copied into a
per-plugin image layered on the runner image. What the runner image already provides (numpy,
pandas, pyarrow, ...) is neither downloaded nor reinstalled as long as the requirement accepts
the provided version; transitive dependencies on those packages are pinned to the provided
versions so the layer cannot break the image's compiled packages. R requirements are only
checked against the R image's installed packages: R packages are not installed per plugin.

The lock is plain JSON (stored with the plugin and shown in its details)::

    {"language": "python", "declared": [...], "target": {...},
     "base": [{"name", "version"}],                       # provided by the image, not reinstalled
     "resolved": [{"name", "version", "sha256", "filename"}],  # wheels of the plugin's layer
     "digest": "<sha256 of target + resolved>"}
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..archive import sha256_file
from ..errors import InvalidPackage, SandboxUnavailable
from ..stages import DependencyStage

#: Where a plugin image's wheels are unpacked; the image puts it first on ``PYTHONPATH`` so a
#: plugin's newer version of a base package wins over the runner image's own.
DEPS_DIR = "/opt/omniscope/deps"
#: Repository of the per-plugin images; the tag is a hash of the runner image tag and the lock.
PLUGIN_IMAGE_REPO = "omniscope-plugin"

#: Packages every R installation has (they ship with R itself); their version is R's.
R_BUILTIN_PACKAGES = frozenset(
    {
        "base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods",
        "parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils",
    }
)  # fmt: skip

_R_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z][A-Za-z0-9.]*)\s*"
    r"(?:\(\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<version>[0-9]+(?:[.-][0-9]+)*)\s*\))?\s*$"
)
#: Error text kept from pip: enough to see the cause, not a wall of output.
_MAX_MESSAGE_LINES = 30

PackageVersions = Mapping[str, str] | Callable[[], Mapping[str, str]] | None


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


class DependencyResolver(DependencyStage):
    """``DependencyStage`` that locks Python wheels for the runner image and checks R packages.

    Parameters
    ----------
    wheel_cache:
        Directory of downloaded wheels, shared by all plugins (file names are unique per
        release on an index, and every file is checked against the lock's sha256 before use).
    base_packages:
        ``{name: version}`` of the Python runner image, or a callable returning it (called on
        first need, so reading it from the image can wait until a plugin has dependencies).
    r_packages:
        ``{name: version}`` of the R runner image's installed packages (key ``"R"``: R's own
        version), or a callable.
    r_version:
        R version of the R image when ``r_packages`` lacks ``"R"``: for ``R (>= x.y)`` and
        the version of R's built-in packages.
    python_version, glibc, arch:
        The runner image's interpreter (``"3.13"``), C library and machine (default: this
        host's, which is the containers' too).
    pip_command:
        How to run pip on the host (default: this interpreter's ``-m pip``).
    timeout:
        Seconds each pip call may take before the install is refused.
    """

    def __init__(
        self,
        *,
        wheel_cache: str | os.PathLike[str],
        base_packages: PackageVersions = None,
        r_packages: PackageVersions = None,
        r_version: str | None = None,
        python_version: str = "3.13",
        glibc: str = "2.41",
        arch: str | None = None,
        pip_command: Iterable[str] | None = None,
        timeout: float = 600.0,
        **settings: Any,
    ) -> None:
        self.wheel_cache = Path(wheel_cache)
        self._base_packages = base_packages
        self._r_packages = r_packages
        self.r_version = r_version
        self.python_version = python_version
        self.glibc = glibc
        self.arch = arch or platform.machine()
        self.pip_command = list(pip_command or [sys.executable, "-m", "pip"])
        self.timeout = timeout
        self.settings = settings

    # -- the stage -------------------------------------------------------------------------

    def resolve(self, package_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        """Lock ``manifest['dependencies']`` for the plugin's language, or raise ``InvalidPackage``."""
        declared = manifest.get("dependencies") or []
        if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
            raise InvalidPackage("manifest 'dependencies' must be a list of strings")
        if str(manifest.get("language", "python")).lower() == "r":
            return self._check_r(declared)
        return self._lock_python(declared)

    # -- Python ----------------------------------------------------------------------------

    @property
    def target(self) -> dict[str, str]:
        """The interpreter and platform the lock is for (part of its digest)."""
        return {
            "python": self.python_version,
            "implementation": "cp",
            "abi": "cp" + self.python_version.replace(".", ""),
            "arch": self.arch,
            "glibc": self.glibc,
        }

    def base_packages(self) -> dict[str, str]:
        """The runner image's Python packages by canonical name."""
        return {canonicalize_name(k): v for k, v in _materialize(self._base_packages).items()}

    def _lock_python(self, declared: list[str]) -> dict[str, Any]:
        requirements = [_parse_python_requirement(text) for text in declared]
        environment = self._marker_environment()
        # No requirement: nothing to compare with the image, so no need to ask it (or Docker).
        base = self.base_packages() if requirements else {}
        provided: dict[str, str] = {}
        wanted: list[Requirement] = []
        for req in requirements:
            if req.marker is not None and not req.marker.evaluate(environment):
                continue
            name = canonicalize_name(req.name)
            version = base.get(name)
            if version is not None and not req.extras and _accepts(req, version):
                provided[name] = version
            else:
                wanted.append(req)
        resolved: list[dict[str, Any]] = []
        if wanted:
            # Only a requirement the image's version fails replaces it; one that merely asks for
            # extras ("pandas[excel]") keeps the image's pandas and adds the extras' packages.
            overridden = {
                canonicalize_name(r.name)
                for r in wanted
                if canonicalize_name(r.name) in base
                and not _accepts(r, base[canonicalize_name(r.name)])
            }
            # Distribution builds carry local labels ("2.2.3+dfsg") the index does not have;
            # the public version is what the index knows and what pins and matches compare.
            public = ((n, _public(v)) for n, v in base.items() if n not in overridden)
            pins = {n: p for n, p in public if p}
            # A stub has no extras, so a package asked for with extras is resolved from the
            # index, still pinned to the image's version, and then left out of the layer.
            with_extras = {canonicalize_name(r.name) for r in wanted if r.extras}
            stubs = {n: v for n, v in pins.items() if n not in with_extras}
            found, used = self._pip_resolve(wanted, pins, stubs)
            provided.update({name: base[name] for name in used})
            for item in found:
                name = canonicalize_name(item["name"])
                if name in pins and pins[name] == _public(item["version"]):
                    provided[name] = base[name]
                else:
                    resolved.append(item)
            self._fetch(resolved)
        resolved.sort(key=lambda item: canonicalize_name(item["name"]))
        target = self.target
        return {
            "language": "python",
            "declared": declared,
            "target": target,
            "base": [{"name": n, "version": v} for n, v in sorted(provided.items())],
            "resolved": resolved,
            "digest": _digest({"target": target, "resolved": resolved}),
        }

    def _marker_environment(self) -> dict[str, Any]:
        """Environment markers of the runner image, so ``; python_version < '3.12'`` is judged
        for the container's interpreter rather than the host's."""
        env = dict(default_environment())
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

    def _target_options(self) -> list[str]:
        target = self.target
        options = [
            "--only-binary=:all:",
            "--python-version", target["python"],
            "--implementation", target["implementation"],
            "--abi", target["abi"],
        ]  # fmt: skip
        for tag in self._platforms():
            options += ["--platform", tag]
        return options

    def _platforms(self) -> list[str]:
        return manylinux_platforms(self.arch, self.glibc)

    def _pip_resolve(
        self, wanted: list[Requirement], pins: dict[str, str], stubs: dict[str, str]
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """Resolve ``wanted`` plus their dependencies without downloading more than metadata.

        Returns the chosen wheels and the names of image packages taken from ``stubs``.
        pip's dry run reads each release's metadata (PEP 658) and reports the chosen wheel's URL
        and sha256; ``--target`` is only there because pip allows ``--platform`` with it alone.
        The image's packages are offered as metadata-only stub wheels with the best-ranked tag,
        so pip takes them as they are: it needs no wheel of that exact version on the index
        (Debian's markupsafe has none for cp313) and pulls in none of their dependencies.
        """
        with tempfile.TemporaryDirectory(prefix="omniscope-resolve-") as tmp:
            stub_dir = Path(tmp, "image")
            stub_dir.mkdir()
            tag = f"{self.target['abi']}-{self.target['abi']}-{self._platforms()[0]}"
            for name, version in stubs.items():
                _write_stub_wheel(stub_dir, name, version, tag)
            constraints = Path(tmp, "constraints.txt")
            constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
            report = Path(tmp, "report.json")
            self._pip(
                "install", "--dry-run", "--ignore-installed", "--quiet",
                "--target", str(Path(tmp, "target")), "--report", str(report),
                "--find-links", str(stub_dir), "--constraint", str(constraints),
                *self._target_options(), *[str(req) for req in wanted],
            )  # fmt: skip
            install = json.loads(report.read_text()).get("install", [])
            stub_url = stub_dir.as_uri()
        items: list[dict[str, Any]] = []
        used: set[str] = set()
        for entry in install:
            name, version = entry["metadata"]["name"], entry["metadata"]["version"]
            info = entry.get("download_info") or {}
            url = str(info.get("url", ""))
            if url.startswith(stub_url):
                used.add(canonicalize_name(name))
                continue
            sha256 = ((info.get("archive_info") or {}).get("hashes") or {}).get("sha256")
            filename = PurePosixPath(url.split("#")[0]).name
            if not sha256 or not filename.endswith(".whl"):
                raise InvalidPackage(
                    f"dependency {name}=={version} has no wheel with a sha256 on the index"
                )
            items.append({"name": name, "version": version, "sha256": sha256, "filename": filename})
        return items, used

    def _fetch(self, wheels: list[dict[str, str]]) -> None:
        """Bring every wheel of the lock into the cache, verified; all or none of them."""
        missing = [w for w in wheels if not _has_wheel(self.wheel_cache, w)]
        if not missing:
            return
        self.wheel_cache.mkdir(parents=True, exist_ok=True)
        # Downloads land beside the cache (same file system) and move in only once all are
        # verified, so a failed install leaves no half-downloaded file behind.
        with tempfile.TemporaryDirectory(prefix=".download-", dir=self.wheel_cache) as tmp:
            requirements = Path(tmp, "requirements.txt")
            requirements.write_text(
                "".join(
                    f"{w['name']}=={w['version']} --hash=sha256:{w['sha256']}\n" for w in missing
                )
            )
            dest = Path(tmp, "wheels")
            self._pip(
                "download", "--no-deps", "--require-hashes", "--quiet", "--dest", str(dest),
                *self._target_options(), "--requirement", str(requirements),
            )  # fmt: skip
            for wheel in missing:
                if not _has_wheel(dest, wheel):
                    raise InvalidPackage(
                        f"downloaded wheel for {wheel['name']}=={wheel['version']} does not match "
                        f"the resolved file {wheel['filename']} (sha256 {wheel['sha256']})"
                    )
            for wheel in missing:
                os.replace(dest / wheel["filename"], self.wheel_cache / wheel["filename"])

    def _pip(self, *args: str) -> None:
        """Run pip; its failure refuses the install with pip's own explanation."""
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        try:
            done = subprocess.run(
                [*self.pip_command, *args, "--no-color"],
                capture_output=True, text=True, timeout=self.timeout, env=env, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise InvalidPackage(
                f"dependency resolution did not finish within {self.timeout:g} s"
            ) from None
        if done.returncode != 0:
            detail = _pip_message(f"{done.stdout}\n{done.stderr}")
            raise InvalidPackage(f"dependencies cannot be resolved: {detail}", pip_output=detail)

    # -- R ---------------------------------------------------------------------------------

    def r_packages(self) -> dict[str, str]:
        """The R image's packages, plus ``R`` itself and its built-in packages at R's version."""
        packages = dict(_materialize(self._r_packages))
        r_version = self.r_version or packages.get("R")
        if r_version:
            packages["R"] = r_version
            for name in R_BUILTIN_PACKAGES:
                packages.setdefault(name, r_version)
        return packages

    def _check_r(self, declared: list[str]) -> dict[str, Any]:
        available = self.r_packages()
        found: dict[str, str] = {}
        problems: list[str] = []
        for text in declared:
            match = _R_REQUIREMENT.match(text)
            if match is None:
                raise InvalidPackage(
                    f"R dependency {text!r} is not of the form 'pkg' or 'pkg (>= 1.2)'"
                )
            name, op, wanted = match["name"], match["op"], match["version"]
            have = available.get(name)
            if have is None and name in R_BUILTIN_PACKAGES and not op:
                continue  # ships with every R; only a version bound needs R's version
            if have is None:
                problems.append(f"{name} (not installed)")
            elif op and not _r_satisfies(have, op, wanted):
                problems.append(f"{name} ({op} {wanted}; the image has {have})")
            else:
                found[name] = have
        if problems:
            raise InvalidPackage(
                "R packages not available in the R runner image: " + ", ".join(problems),
                missing=problems,
            )
        return {
            "language": "r",
            "declared": declared,
            "target": {"r": available.get("R", "unknown")},
            "base": [{"name": n, "version": v} for n, v in sorted(found.items())],
            "resolved": [],
            "digest": _digest({"r": available.get("R"), "base": sorted(found.items())}),
        }


# -- the per-plugin image -------------------------------------------------------------------


def plugin_image_tag(base_tag: str, lock: dict[str, Any]) -> str:
    """Tag of the image for ``lock`` on ``base_tag``: equal inputs, equal tag, so it is reused."""
    return f"{PLUGIN_IMAGE_REPO}:{_digest({'base': base_tag, 'lock': lock['digest']})[:24]}"


def build_plugin_image(
    client: Any,
    base_tag: str,
    lock: dict[str, Any],
    wheel_dir: str | os.PathLike[str],
    progress: Callable[[str], None] | None = None,
) -> str:
    """The image a plugin with ``lock`` runs in: ``base_tag`` itself, or a layer with its wheels.

    The wheels are unpacked on the host into the build context (a wheel is a zip; unpacking runs
    none of its code) and copied to ``DEPS_DIR``, first on ``PYTHONPATH``: the build needs no
    pip and no network, and the layer holds the installed files only. They are byte-compiled in
    the image because its root is read-only at run time. An existing image is reused as is.
    """
    wheels = lock.get("resolved") or []
    if not wheels:
        return base_tag
    # Imported here: resolving a lock must not need the Docker SDK, only building does.
    import docker.errors
    import requests.exceptions

    from .images import _docker_build, _present

    say = progress or (lambda line: None)
    tag = plugin_image_tag(base_tag, lock)
    try:
        if _present(client, tag):
            return tag
        user = (client.images.get(base_tag).attrs.get("Config") or {}).get("User") or ""
        say(f"building {tag} on {base_tag} with {len(wheels)} wheel(s)")
        with tempfile.TemporaryDirectory(prefix="omniscope-plugin-build-") as tmp:
            context = Path(tmp)
            (context / "Dockerfile").write_text(_dockerfile(base_tag, user, lock["digest"]))
            deps = context / "deps"
            deps.mkdir(mode=0o755)
            deps.chmod(0o755)  # the umask must not make the layer unreadable for user 65534
            for wheel in wheels:
                if not _has_wheel(Path(wheel_dir), wheel):
                    raise InvalidPackage(
                        f"wheel {wheel['filename']} is missing from {wheel_dir} or does not "
                        "match the lock's sha256"
                    )
                _unpack_wheel(Path(wheel_dir) / wheel["filename"], deps)
            _docker_build(client, context, tag, {}, say, pull=False)
    except docker.errors.ImageNotFound as exc:
        raise SandboxUnavailable(f"runner image {base_tag} is not built: {exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxUnavailable(f"Docker engine error while building {tag}: {exc}") from exc
    return tag


def _dockerfile(base_tag: str, user: str, digest: str) -> str:
    lines = [
        f"FROM {base_tag}",
        "USER root",
        f"COPY deps/ {DEPS_DIR}/",
        f"RUN python3 -m compileall -q {DEPS_DIR} > /dev/null || true",
        f"ENV PYTHONPATH={DEPS_DIR}",
        f"LABEL org.omniscope.lock-digest={digest}",
    ]
    if user:
        lines.append(f"USER {user}")
    return "\n".join(lines) + "\n"


def _unpack_wheel(wheel: Path, target: Path) -> None:
    """Install a wheel's importable files into ``target`` (PEP 427: ``*.data/purelib|platlib``
    go to the top; scripts, headers and data files are not needed to import the package)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.is_dir() or not parts:
                continue
            if info.filename.startswith("/") or ".." in parts:
                raise InvalidPackage(f"wheel {wheel.name} has an unsafe path {info.filename!r}")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in {"purelib", "platlib"}:
                    continue
                parts = parts[2:]
            path = target.joinpath(*parts)
            if path.exists():
                continue  # two wheels shipping one file (namespace package): keep the first
            for parent in reversed(path.relative_to(target).parents[:-1]):
                (target / parent).mkdir(exist_ok=True)
                (target / parent).chmod(0o755)
            with archive.open(info) as source, path.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            path.chmod(0o755 if (info.external_attr >> 16) & 0o111 else 0o644)


#: Run inside a runner image by ``probe_runner_image``: what the dependency stage must know.
_PROBE = """
import importlib.metadata, json, platform, shutil, subprocess, sys
python = {}
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if name and name not in python:  # the first on sys.path is the one imported
        python[name] = dist.version
r = {}
if shutil.which("Rscript"):
    code = ("ip <- installed.packages()[, c('Package', 'Version'), drop = FALSE];"
            "v <- as.list(ip[!duplicated(ip[, 'Package']), 'Version']);"
            "names(v) <- ip[!duplicated(ip[, 'Package']), 'Package'];"
            "v$R <- paste(R.version$major, R.version$minor, sep = '.');"
            "cat(jsonlite::toJSON(v, auto_unbox = TRUE))")
    r = json.loads(subprocess.run(["Rscript", "-e", code], capture_output=True, text=True,
                                  check=True).stdout)
print(json.dumps({
    "python_version": "%d.%d" % sys.version_info[:2],
    "glibc": platform.libc_ver()[1],
    "arch": platform.machine(),
    "python_packages": python,
    "r_packages": r,
}))
"""


def probe_runner_image(client: Any, tag: str) -> dict[str, Any]:
    """What a runner image provides: its Python version, glibc and machine, and its installed
    Python and R packages (``r_packages["R"]`` is R's version), for ``DependencyResolver``.

    Runs our own image (not plugin code) once, without network; callers cache the answer per tag.
    """
    import docker.errors
    import requests.exceptions

    try:
        output = client.containers.run(
            tag, ["python3", "-c", _PROBE], network_mode="none", user="65534:65534",
            environment={"HOME": "/tmp"}, remove=True, stdout=True, stderr=False,
        )  # fmt: skip
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxUnavailable(f"cannot read the packages of {tag}: {exc}") from exc
    facts: dict[str, Any] = json.loads(output.decode())
    return facts


# -- helpers --------------------------------------------------------------------------------


def _materialize(packages: PackageVersions) -> Mapping[str, str]:
    if packages is None:
        return {}
    return packages() if callable(packages) else packages


def _parse_python_requirement(text: str) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidPackage(f"dependency {text!r} is not a valid requirement: {exc}") from None
    if req.url:
        # A URL would fetch whatever is there, bypassing the index's hashes and names.
        raise InvalidPackage(f"dependency {text!r} is a direct URL; name a package on the index")
    return req


def _write_stub_wheel(directory: Path, name: str, version: str, tag: str) -> None:
    """A wheel holding only the metadata of ``name`` ``version``: how pip learns it is there."""
    dist = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    with zipfile.ZipFile(directory / f"{dist}-{tag}.whl", "w") as stub:
        stub.writestr(
            f"{dist}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        stub.writestr(
            f"{dist}.dist-info/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: omniscope\nRoot-Is-Purelib: false\nTag: {tag}\n",
        )
        stub.writestr(f"{dist}.dist-info/RECORD", "")


def _public(version: str) -> str | None:
    try:
        return Version(version).public
    except InvalidVersion:
        return None


def _accepts(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _r_version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.split(r"[.-]", version) if part.isdigit())


def _r_satisfies(have: str, op: str, wanted: str) -> bool:
    a, b = _r_version_key(have), _r_version_key(wanted)
    return {
        ">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b, "==": a == b, "!=": a != b,
    }[op]  # fmt: skip


def _has_wheel(directory: Path, wheel: dict[str, str]) -> bool:
    path = directory / wheel["filename"]
    return path.is_file() and sha256_file(path) == wheel["sha256"]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _pip_message(output: str) -> str:
    """pip's explanation without its warnings about unrelated index locations."""
    lines = [
        line.rstrip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(("WARNING:", "[notice]"))
    ]
    if len(lines) > _MAX_MESSAGE_LINES:
        lines = lines[:_MAX_MESSAGE_LINES] + ["..."]
    return "\n".join(lines) or "pip failed without a message"


__all__ = [
    "DEPS_DIR",
    "DependencyResolver",
    "build_plugin_image",
    "manylinux_platforms",
    "plugin_image_tag",
    "probe_runner_image",
]
