"""R dependencies are checked, not installed: R packages come with the runner image only.

A plugin's ``pkg`` / ``pkg (>= 1.2)`` requirements are compared with the image's installed
packages (and R's own version); what is missing refuses the install with every gap named.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidPackage
from .locks import PackageVersions, digest, package_versions
from .requirements import RequirementError, parse_r_requirement

#: Packages every R installation has (they ship with R itself); their version is R's.
R_BUILTIN_PACKAGES = frozenset(
    {
        "base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods",
        "parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils",
    }
)  # fmt: skip


class RCheck:
    """Checks R requirements against the R runner image.

    Parameters
    ----------
    r_packages:
        ``{name: version}`` of the image's installed packages (key ``"R"``: R's own version),
        or a callable returning it on first need.
    r_version:
        R's version when ``r_packages`` lacks ``"R"``: for ``R (>= x.y)`` and the version of
        R's built-in packages.
    """

    def __init__(self, r_packages: PackageVersions = None, r_version: str | None = None) -> None:
        self._r_packages = r_packages
        self.r_version = r_version

    def packages(self) -> dict[str, str]:
        """The R image's packages, plus ``R`` itself and its built-in packages at R's version."""
        packages = dict(package_versions(self._r_packages))
        r_version = self.r_version or packages.get("R")
        if r_version:
            packages["R"] = r_version
            for name in R_BUILTIN_PACKAGES:
                packages.setdefault(name, r_version)
        return packages

    def check(self, declared: list[str]) -> dict[str, Any]:
        """The lock of an R plugin (what the image provides), or ``InvalidPackage``."""
        try:
            requirements = [parse_r_requirement(text) for text in declared]
        except RequirementError as exc:
            raise InvalidPackage(f"R dependency {exc}") from None
        available = self.packages()
        found: dict[str, str] = {}
        problems: list[str] = []
        for req in requirements:
            have = available.get(req.name)
            if have is None and req.name in R_BUILTIN_PACKAGES and not req.op:
                continue  # ships with every R; only a version bound needs R's version
            if have is None:
                problems.append(f"{req.name} (not installed)")
            elif not req.accepts(have):
                problems.append(f"{req.name} ({req.op} {req.version}; the image has {have})")
            else:
                found[req.name] = have
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
            "digest": digest({"r": available.get("R"), "base": sorted(found.items())}),
        }
