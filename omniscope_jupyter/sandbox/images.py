"""Runner images: planned from their inputs, tagged by a hash of them, built on first need.

Offline mode (the default) needs no registry: ``sandbox/build-rootfs.sh`` debootstraps a minimal
Debian (packages from the apt mirror), ``docker import`` turns the cached tarball into a base
image, and ``sandbox/Dockerfile.runner`` layers the host-downloaded wheels and the runner scripts
on it. One image serves both languages (R through rpy2). Pull mode builds the plain Dockerfiles in
``sandbox/docker/`` (``FROM python:3.11-slim``, ``FROM r-base``) for machines that can pull.

Each tag is a hash of everything that goes into its image (package list, wheel pins, runner
scripts, Dockerfile), so editing the runner yields a new tag and a rebuild that reuses the cached
rootfs, and an unchanged tree never rebuilds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from ..errors import SandboxUnavailable
from ..values import Language
from .settings import SandboxSettings

Progress = Callable[[str], None]

LANGUAGES: tuple[str, ...] = tuple(Language)
_PACKAGE_DIR = Path(__file__).resolve().parent
_BUILD_LOCK = threading.Lock()


def sandbox_source_dir() -> Path:
    """The ``sandbox/`` build directory: in the source tree, or shipped inside the wheel."""
    for candidate in (_PACKAGE_DIR / "build", _PACKAGE_DIR.parents[1] / "sandbox"):
        if (candidate / "build-rootfs.sh").is_file():
            return candidate
    raise SandboxUnavailable("the sandbox build files (sandbox/) are missing from this installation")


def runner_files() -> dict[str, Path]:
    """Files copied to ``/opt/omniscope`` in every runner image; ``transfer.py`` is shared."""
    src = sandbox_source_dir() / "runner"
    files = {p.name: p for p in sorted(src.iterdir()) if p.suffix in {".py", ".R"}}
    files["transfer.py"] = _PACKAGE_DIR / "transfer.py"
    return files


def _read_list(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ImagePlan:
    """What to build and under which tags, computed from the inputs without touching Docker."""

    mode: str
    #: language -> runner image tag.
    tags: dict[str, str]
    #: Offline only: tag of the imported debootstrap base and the cache key of its rootfs.
    base_tag: str | None = None
    packages: list[str] = field(default_factory=list)
    wheels: list[str] = field(default_factory=list)


def plan(settings: SandboxSettings) -> ImagePlan:
    """Compute the image tags for ``settings`` from the content of every input."""
    src = sandbox_source_dir()
    wheels = _read_list(src / "requirements.txt")
    runner = [(name, path.read_bytes()) for name, path in runner_files().items()]
    runner_parts = [p for name, data in runner for p in (name, data)]
    if settings.image_mode == "pull":
        tags = {}
        for language in LANGUAGES:
            dockerfile = (src / "docker" / f"{language}.Dockerfile").read_bytes()
            tags[language] = f"omniscope-sandbox-{language}:" + _digest(
                dockerfile, *wheels, *runner_parts
            )
        return ImagePlan(mode="pull", tags=tags, wheels=wheels)
    if settings.image_mode != "offline":
        raise SandboxUnavailable(f"unknown sandbox image mode {settings.image_mode!r}")
    packages = _read_list(src / "packages.txt")
    base_tag = "omniscope-sandbox-base:" + _digest(
        (src / "build-rootfs.sh").read_bytes(),
        settings.debian_suite,
        settings.debian_mirror,
        ",".join(packages),
    )
    runner_tag = "omniscope-sandbox-runner:" + _digest(
        base_tag, (src / "Dockerfile.runner").read_bytes(), *wheels, *runner_parts
    )
    return ImagePlan(
        mode="offline",
        tags={language: runner_tag for language in LANGUAGES},
        base_tag=base_tag,
        packages=packages,
        wheels=wheels,
    )


def _present(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def image_status(client: docker.DockerClient, settings: SandboxSettings | None = None) -> dict[str, Any]:
    """Which runner images this tree needs and whether Docker already has them."""
    settings = settings or SandboxSettings()
    p = plan(settings)
    status: dict[str, Any] = {
        "mode": p.mode,
        "images": {lang: {"tag": tag, "present": _present(client, tag)} for lang, tag in p.tags.items()},
    }
    if p.base_tag:
        rootfs = _rootfs_cache(settings, p.base_tag)
        status["base"] = {
            "tag": p.base_tag,
            "present": _present(client, p.base_tag),
            "rootfs_cached": rootfs.is_file(),
            "rootfs": str(rootfs),
        }
    status["ready"] = all(i["present"] for i in status["images"].values())
    return status


def ensure_images(
    client: docker.DockerClient,
    progress: Progress | None = None,
    settings: SandboxSettings | None = None,
) -> dict[str, str]:
    """Return ``{language: tag}``, building whatever is missing first (with progress lines).

    Safe to call before every run: when the images exist this is a few ``inspect`` calls.
    Concurrent callers, in this process or others, wait for one build instead of racing.
    """
    settings = settings or SandboxSettings()
    say = progress or (lambda line: None)
    p = plan(settings)
    if all(_present(client, tag) for tag in set(p.tags.values())):
        return dict(p.tags)
    with _build_lock(settings):
        if p.mode == "offline":
            assert p.base_tag is not None
            if not _present(client, p.base_tag):
                _import_base(client, settings, p, say)
            tag = p.tags["python"]
            if not _present(client, tag):
                with _context(settings, p, "Dockerfile.runner", say) as ctx:
                    _docker_build(client, ctx, tag, {"BASE": p.base_tag}, say, pull=False)
        else:
            for language, tag in p.tags.items():
                if not _present(client, tag):
                    with _context(settings, p, f"docker/{language}.Dockerfile", say) as ctx:
                        _docker_build(client, ctx, tag, {}, say, pull=True)
    say("sandbox images ready: " + ", ".join(f"{k}={v}" for k, v in p.tags.items()))
    return dict(p.tags)


def ensure_resolver_image(
    client: docker.DockerClient,
    progress: Progress | None = None,
    settings: SandboxSettings | None = None,
) -> str:
    """Tag of the image the dependency stage runs pip in, built on first need.

    It is the runner's base (offline: the debootstrap base; pull: the Python runner image) plus
    the pip wheel of ``resolver-requirements.txt``, downloaded on the host and copied in like
    the runner's wheels: pip must resolve for the runner's interpreter, and never on the host.
    """
    settings = settings or SandboxSettings()
    say = progress or (lambda line: None)
    p = plan(settings)
    src = sandbox_source_dir()
    pins = _read_list(src / "resolver-requirements.txt")
    if p.mode == "pull":
        base = ensure_images(client, progress, settings)["python"]  # takes the build lock
    else:
        assert p.base_tag is not None
        base = p.base_tag
    tag = "omniscope-sandbox-resolver:" + _digest(
        base, (src / "Dockerfile.resolver").read_bytes(), *pins
    )
    if _present(client, tag):
        return tag
    with _build_lock(settings):
        if p.mode == "offline" and not _present(client, base):
            _import_base(client, settings, p, say)
        if not _present(client, tag):
            pip = _wheels(settings, dataclasses.replace(p, wheels=pins), say)
            with tempfile.TemporaryDirectory(prefix="omniscope-build-") as tmp:
                ctx = Path(tmp)
                shutil.copy(src / "Dockerfile.resolver", ctx / "Dockerfile")
                shutil.copytree(pip, ctx / "pip")
                _docker_build(client, ctx, tag, {"BASE": base}, say, pull=False)
    return tag


@contextlib.contextmanager
def _build_lock(settings: SandboxSettings) -> Iterator[None]:
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with _BUILD_LOCK, open(settings.cache_dir / "build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _rootfs_cache(settings: SandboxSettings, base_tag: str) -> Path:
    return settings.cache_dir / f"rootfs-{base_tag.split(':', 1)[1]}.tar"


def _import_base(
    client: docker.DockerClient, settings: SandboxSettings, p: ImagePlan, say: Progress
) -> None:
    assert p.base_tag is not None
    tarball = _rootfs_cache(settings, p.base_tag)
    if not tarball.is_file():
        if os.geteuid() != 0:
            raise SandboxUnavailable(
                "building the offline sandbox base image needs root (debootstrap); run "
                "`sudo omniplug sandbox build` once, or set the image mode to 'pull'"
            )
        if shutil.which("debootstrap") is None:
            raise SandboxUnavailable("debootstrap is not installed (apt-get install debootstrap)")
        say(f"building base root filesystem ({settings.debian_suite}) with debootstrap...")
        script = sandbox_source_dir() / "build-rootfs.sh"
        args = [
            "sh", str(script), str(tarball), settings.debian_suite, settings.debian_mirror,
            ",".join(p.packages),
        ]
        _stream_process(args, say, "debootstrap of the sandbox base")
    repository, tag = p.base_tag.split(":", 1)
    say(f"importing {tarball.name} as {p.base_tag}...")
    try:
        client.api.import_image(src=str(tarball), repository=repository, tag=tag)
    except docker.errors.APIError as exc:
        raise SandboxUnavailable(f"docker import of the sandbox base failed: {exc}") from exc
    if not _present(client, p.base_tag):
        raise SandboxUnavailable(f"docker import did not produce {p.base_tag}")


def _stream_process(args: list[str], say: Progress, what: str) -> None:
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            line = line.rstrip()
            say(line)
            tail = [*tail, line][-20:]
    if proc.returncode != 0:
        raise SandboxUnavailable(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail[-5:]))


def _wheels(settings: SandboxSettings, p: ImagePlan, say: Progress) -> Path:
    """Download (once, cached) the pinned wheels for the image's Python and unpack them."""
    key = _digest(*p.wheels, p.mode)
    unpacked = settings.cache_dir / f"site-packages-{key}"
    if unpacked.is_dir():
        return unpacked
    download = settings.cache_dir / f"wheels-{key}"
    download.mkdir(parents=True, exist_ok=True)
    say("downloading wheels for the image's Python 3.13: " + ", ".join(p.wheels))
    args = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313",
        "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
        "-d", str(download), *p.wheels,
    ]
    _stream_process(args, say, "pip download of the runner wheels")
    staging = Path(tempfile.mkdtemp(prefix="site-packages-", dir=settings.cache_dir))
    for wheel in sorted(download.glob("*.whl")):
        say(f"unpacking {wheel.name}")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(staging)  # zipfile refuses absolute and ../ member names
    staging.rename(unpacked)
    return unpacked


@contextlib.contextmanager
def _context(
    settings: SandboxSettings, p: ImagePlan, dockerfile: str, say: Progress
) -> Iterator[Path]:
    """A build context: the Dockerfile, runner scripts and (offline) unpacked wheels."""
    src = sandbox_source_dir()
    with tempfile.TemporaryDirectory(prefix="omniscope-build-") as tmp:
        ctx = Path(tmp)
        shutil.copy(src / dockerfile, ctx / "Dockerfile")
        shutil.copy(src / "requirements.txt", ctx / "requirements.txt")
        (ctx / "runner").mkdir()
        for name, path in runner_files().items():
            shutil.copy(path, ctx / "runner" / name)
        if p.mode == "offline":
            shutil.copytree(_wheels(settings, p, say), ctx / "site-packages")
        yield ctx


def _docker_build(
    client: docker.DockerClient,
    ctx: Path,
    tag: str,
    buildargs: dict[str, str],
    say: Progress,
    *,
    pull: bool,
) -> None:
    say(f"building {tag}...")
    try:
        for chunk in client.api.build(
            path=str(ctx), tag=tag, buildargs=buildargs, pull=pull, rm=True, forcerm=True,
            decode=True, labels={"omniscope.image": "runner"},
        ):
            if "error" in chunk:
                raise SandboxUnavailable(f"building {tag} failed: {chunk['error'].strip()}")
            line = str(chunk.get("stream", "")).rstrip()
            if line:
                say(line)
    except docker.errors.APIError as exc:
        raise SandboxUnavailable(f"building {tag} failed: {exc}") from exc
