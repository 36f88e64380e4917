"""What the Python lock, the R check and the per-plugin image share: the lock's digest, the
image's package lists, and the check that a cached wheel is the locked one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..archive import sha256_file

#: ``{name: version}`` of an image's packages, or a callable returning it (called on first
#: need, so reading it from the image waits until a plugin has dependencies).
PackageVersions = Mapping[str, str] | Callable[[], Mapping[str, str]] | None


def package_versions(packages: PackageVersions) -> Mapping[str, str]:
    """The mapping behind ``packages`` (calling it if it is a callable)."""
    if packages is None:
        return {}
    return packages() if callable(packages) else packages


def digest(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON: equal locks, equal digests (and image tags)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def has_wheel(directory: Path, wheel: Mapping[str, str]) -> bool:
    """Whether ``directory`` holds the lock entry's file with the lock's sha256."""
    path = directory / wheel["filename"]
    return path.is_file() and not path.is_symlink() and sha256_file(path) == wheel["sha256"]
