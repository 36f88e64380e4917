"""Facts about the runner image's interpreter and C library, declared once.

Dependency locks are resolved for them (wheels for that Python ABI and glibc), the runner image's
own wheels are downloaded for them, and the probe of a built image reports the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunnerImageFacts:
    """The interpreter and C library plugins run on."""

    #: ``major.minor`` of the image's CPython.
    python: str
    #: glibc version (manylinux tags up to it are accepted).
    glibc: str
    #: The Debian suite the image is built from.
    debian: str

    @property
    def abi(self) -> str:
        """The CPython ABI tag (``cp313``)."""
        return "cp" + self.python.replace(".", "")


#: The offline image: debootstrap of Debian trixie (Python 3.13, glibc 2.41).
OFFLINE = RunnerImageFacts(python="3.13", glibc="2.41", debian="trixie")
#: The pulled image: ``python:3.11-slim`` on Debian bookworm (glibc 2.36).
PULLED = RunnerImageFacts(python="3.11", glibc="2.36", debian="bookworm")


def runner_image_facts(image_mode: str) -> RunnerImageFacts:
    """The facts of the runner image built in ``image_mode`` (``offline`` or ``pull``)."""
    return PULLED if image_mode == "pull" else OFFLINE


__all__ = ["OFFLINE", "PULLED", "RunnerImageFacts", "runner_image_facts"]
