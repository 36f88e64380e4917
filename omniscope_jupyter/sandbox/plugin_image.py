"""The image a plugin runs in: the runner image, or a layer on it with the plugin's locked wheels.

Also what the dependency stage must know about a runner image (:func:`probe_runner_image`): its
interpreter, C library and installed packages, read once by running our own image.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InvalidPackage, SandboxUnavailable
from .locks import digest, has_wheel
from .settings import SandboxSettings

#: Where a plugin image's wheels are unpacked; the image puts it first on ``PYTHONPATH`` so a
#: plugin's newer version of a base package wins over the runner image's own.
DEPS_DIR = "/opt/omniscope/deps"
#: Repository of the per-plugin images; the tag is a hash of the runner image tag and the lock.
PLUGIN_IMAGE_REPO = "omniscope-plugin"


def plugin_image_tag(base_tag: str, lock: dict[str, Any]) -> str:
    """Tag of the image for ``lock`` on ``base_tag``: equal inputs, equal tag, so it is reused."""
    return f"{PLUGIN_IMAGE_REPO}:{digest({'base': base_tag, 'lock': lock['digest']})[:24]}"


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
                if not has_wheel(Path(wheel_dir), wheel):
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


#: Seconds the probe may take (R lists its packages too).
PROBE_SECONDS = 120
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


def probe_runner_image(
    client: Any, tag: str, settings: SandboxSettings | None = None
) -> dict[str, Any]:
    """What a runner image provides: its Python version, glibc and machine, and its installed
    Python and R packages (``r_packages["R"]`` is R's version), for ``DependencyResolver``.

    Runs our own image (not plugin code) once, without network, hardened like a run and
    labelled like one for ``settings``' store (a process killed meanwhile leaves a container
    the next reaper on that store removes); callers cache the answer per tag.
    """
    import docker.errors
    import requests.exceptions

    from .container import PURPOSE_LABEL, RUN_LABEL, hardened_options, remove_quietly

    labels = {RUN_LABEL: f"probe-{uuid.uuid4().hex}", PURPOSE_LABEL: "probe-runner-image"}
    options = hardened_options(
        image=tag, labels=labels, network=False, settings=settings or SandboxSettings()
    )
    container = None
    try:
        container = client.containers.create(**options, command=["python3", "-c", _PROBE])
        container.start()
        status = container.wait(timeout=PROBE_SECONDS)
        output = container.logs(stdout=True, stderr=False)
        failure = container.logs(stdout=False, stderr=True) if status.get("StatusCode") else b""
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxUnavailable(f"cannot read the packages of {tag}: {exc}") from exc
    finally:
        if container is not None:
            remove_quietly(container)
    if status.get("StatusCode"):
        tail = failure.decode("utf-8", "replace").strip()[-300:]
        raise SandboxUnavailable(f"cannot read the packages of {tag}: the probe failed: {tail}")
    facts: dict[str, Any] = json.loads(output.decode())
    return facts


__all__ = [
    "DEPS_DIR",
    "PLUGIN_IMAGE_REPO",
    "build_plugin_image",
    "plugin_image_tag",
    "probe_runner_image",
]
