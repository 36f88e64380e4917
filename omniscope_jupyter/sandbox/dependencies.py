"""The dependency stage: a plugin's declared requirements become a lock, then an image layer.

It composes the concerns that live apart: :mod:`.requirements` (a dependency string becomes a
typed value, or is refused), :mod:`.python_lock` (exact wheels for the runner's Python, with pip
run only inside the resolver container of :mod:`.pip_container`), :mod:`.r_check` (R packages
are checked against the image, not installed) and :mod:`.plugin_image` (the per-plugin image a
lock runs in). Names of the latter stay importable from here for existing callers.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from ..errors import InvalidPackage
from ..stages import DependencyStage
from .locks import PackageVersions
from .pip_container import PipContainer
from .plugin_image import (
    DEPS_DIR,
    PLUGIN_IMAGE_REPO,
    build_plugin_image,
    plugin_image_tag,
    probe_runner_image,
)
from .python_lock import PipRunner, PythonLock, PythonTarget, manylinux_platforms
from .r_check import R_BUILTIN_PACKAGES, RCheck
from .settings import SandboxSettings


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
    timeout:
        Seconds each pip command may take before the install is refused.
    sandbox_settings:
        Image mode and cache of the resolver image, and the owner label its containers carry
        so this store's reaper removes leftovers (default: ``SandboxSettings()``).
    client_factory:
        Returns the Docker client pip's containers are made with (e.g. ``SandboxRunner.client``,
        shared and left open); default: a new client per pip command.
    index_url, ca_bundle:
        The package index (default: pip's) and the CA bundle pip trusts, mounted read-only
        (default: the host's system bundle).
    pip:
        Where pip runs; default: a :class:`PipContainer` from the settings above (tests swap
        a double in).
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
        timeout: float = 600.0,
        sandbox_settings: SandboxSettings | None = None,
        client_factory: Callable[[], docker.DockerClient] | None = None,
        index_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        pip: PipRunner | None = None,
        **settings: Any,
    ) -> None:
        self.wheel_cache = Path(wheel_cache)
        self.settings = settings
        self.python = PythonLock(
            wheel_cache=self.wheel_cache,
            base_packages=base_packages,
            target=PythonTarget(python_version, glibc, arch or platform.machine()),
            pip=pip
            or PipContainer(
                settings=sandbox_settings,
                client_factory=client_factory,
                index_url=index_url,
                ca_bundle=ca_bundle,
                timeout=timeout,
            ),
        )
        self.r = RCheck(r_packages, r_version)

    def resolve(self, package_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        """Lock ``manifest['dependencies']`` for the plugin's language, or raise ``InvalidPackage``
        (``SandboxUnavailable`` when pip is needed and Docker is not there)."""
        declared = manifest.get("dependencies") or []
        if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
            raise InvalidPackage("manifest 'dependencies' must be a list of strings")
        if str(manifest.get("language", "python")).lower() == "r":
            return self.r.check(declared)
        return self.python.lock(declared)

    @property
    def target(self) -> dict[str, str]:
        """The interpreter and platform Python locks are for (part of their digest)."""
        return self.python.target.as_dict()


__all__ = [
    "DEPS_DIR",
    "PLUGIN_IMAGE_REPO",
    "R_BUILTIN_PACKAGES",
    "DependencyResolver",
    "build_plugin_image",
    "manylinux_platforms",
    "plugin_image_tag",
    "probe_runner_image",
]
