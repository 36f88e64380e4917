"""Ways to run the R extractor (``r_rules.R``): in the hardened sandbox container, or on the host.

Production scans run :class:`DockerRRunner`: the runner image of ``omniscope_jupyter.sandbox``
with the same hardening as a plugin run (no network, read-only root, all capabilities dropped,
user 65534, limits), the R files copied to a fresh world-readable directory mounted read-only.
The extractor writes its JSON to a file of a mounted output directory, read back like a plugin's
result (no symlink followed, size-capped): the container's stdout is a log capped at a few
hundred KiB, which the facts of a long plugin exceed.
:class:`HostRRunner` runs the host's ``Rscript``: for authors' ``omniplug scan`` without Docker
and for development only; it is never the server's default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from ..errors import SandboxUnavailable
from .r_scan import RScanError

#: Output of the extractor is a few hundred bytes per call; anything near this is not ours.
MAX_OUTPUT_BYTES = 32 * 1024 * 1024
#: The extractor's output file, in the output directory mounted at ``/out``.
FACTS_FILE = "facts.json"


class HostRRunner:
    """Runs ``Rscript --vanilla`` on the host (parse only: no plugin code is evaluated)."""

    def __init__(self, rscript: str = "Rscript", timeout: float = 60.0) -> None:
        path = shutil.which(rscript)
        if path is None:
            raise SandboxUnavailable(f"{rscript} is not installed on this machine")
        self.rscript = path
        self.timeout = timeout

    def __call__(self, script: Path, package_dir: Path, files: list[str]) -> str:
        try:
            proc = subprocess.run(
                [self.rscript, "--vanilla", str(script), str(package_dir), *files],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
                env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
            )
        except subprocess.TimeoutExpired as e:
            raise RScanError(f"R extractor timed out after {self.timeout}s") from e
        if proc.returncode != 0:
            raise RScanError(
                f"R extractor failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
            )
        return proc.stdout


class DockerRRunner:
    """Runs the extractor in the sandbox's runner image, hardened like a plugin run.

    Parameters
    ----------
    client:
        A ``docker.DockerClient``; default ``sandbox.container.docker_client()``.
    image:
        The image tag; default: the ``r`` runner image of ``sandbox.images.ensure_images``.
    settings:
        ``sandbox.settings.SandboxSettings`` for limits and the image plan; default settings.
    """

    def __init__(self, client: Any = None, image: str | None = None, settings: Any = None) -> None:
        from ..sandbox.settings import SandboxSettings

        self._client = client
        self._image = image
        self.settings = settings or SandboxSettings()

    @property
    def client(self) -> Any:
        if self._client is None:
            from ..sandbox.container import docker_client

            self._client = docker_client()
        return self._client

    @property
    def image(self) -> str:
        if self._image is None:
            from ..sandbox.images import ensure_images

            self._image = ensure_images(self.client, settings=self.settings)["r"]
        return self._image

    def __call__(self, script: Path, package_dir: Path, files: list[str]) -> str:
        import docker.errors
        import requests

        from ..sandbox.container import Mounts, container_options, remove_quietly
        from ..sandbox.runner import OutputRefused, read_output

        with tempfile.TemporaryDirectory(prefix="omniscope-rscan-") as tmp:
            # Only the R files, readable by user 65534 whatever the upload's modes were.
            src = Path(tmp) / "plugin"
            for rel in files:
                dest = src / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(package_dir) / rel, dest)
            shutil.copyfile(script, Path(tmp) / "r_rules.R")
            for p in [Path(tmp), *Path(tmp).rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
            out_dir = Path(tmp) / "out"
            out_dir.mkdir(mode=0o700)
            try:
                os.chown(out_dir, 65534, 65534)  # the container's user writes the facts there
            except PermissionError:
                out_dir.chmod(0o777)
            options = container_options(
                execution_id=f"scan-{uuid.uuid4().hex[:12]}",
                plugin_id="scan",
                image=self.image,
                permissions=frozenset(),  # network_mode "none"
                mounts=Mounts(plugin_dir=src, job_dir=src, out_dir=out_dir),
                settings=self.settings,
            )
            # A scan needs no job directory: the code and the script read-only, the output.
            options["volumes"] = {
                str(src): {"bind": "/plugin", "mode": "ro"},
                str(Path(tmp) / "r_rules.R"): {
                    "bind": "/opt/omniscope-scan/r_rules.R",
                    "mode": "ro",
                },
                str(out_dir): {"bind": "/out", "mode": "rw"},
            }
            options["environment"] = {
                **options.get("environment", {}),
                "OMNISCOPE_SCAN_OUTPUT": f"/out/{FACTS_FILE}",
            }
            options["command"] = [
                "Rscript",
                "--vanilla",
                "/opt/omniscope-scan/r_rules.R",
                "/plugin",
                *files,
            ]
            container = None
            try:
                container = self.client.containers.create(**options)
                container.start()
                status = container.wait(timeout=self.settings.timeout)
                err = container.logs(stdout=False, stderr=True)
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as e:
                raise RScanError(f"R extractor did not finish in {self.settings.timeout}s") from e
            except docker.errors.ImageNotFound as e:
                raise SandboxUnavailable(f"R scan image {self.image} is missing") from e
            except docker.errors.APIError as e:
                raise SandboxUnavailable(f"the R scan container failed to run: {e}") from e
            finally:
                if container is not None:
                    remove_quietly(container)
            if status.get("StatusCode") != 0:
                tail = err.decode("utf-8", "replace").strip()[-300:]
                raise RScanError(f"R extractor failed ({status.get('StatusCode')}): {tail}")
            dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                out = read_output(dir_fd, FACTS_FILE, MAX_OUTPUT_BYTES)
            except OutputRefused as e:
                raise RScanError(f"R extractor output refused: {e}") from e
            finally:
                os.close(dir_fd)
        if out is None:
            raise RScanError(f"R extractor wrote no {FACTS_FILE}")
        return out.decode("utf-8", "replace")
