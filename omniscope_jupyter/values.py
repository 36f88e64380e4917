"""The plugin system's fixed vocabularies, declared once: languages, permissions, run statuses.

They are ``StrEnum``s, so a member is its string (it goes into JSON, SQL and Docker labels as
is) and a typo in code is an ``AttributeError`` rather than a silent mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """The language a plugin is written in (the manifest's ``language``)."""

    PYTHON = "python"
    R = "r"

    @property
    def suffix(self) -> str:
        """The file suffix its ``entry_point`` must have."""
        return {"python": ".py", "r": ".R"}[self.value]


class Permission(StrEnum):
    """What a plugin may do beyond computing on its input (the manifest's ``permissions``)."""

    READ_DATA = "read_data"
    WRITE_DATA = "write_data"
    NETWORK = "network"
    FILE_SYSTEM = "file_system"


class ExecutionStatus(StrEnum):
    """Where a run is: waiting, running, or one of the finished outcomes."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    OOM = "oom"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


#: The statuses a run never leaves.
FINISHED = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMEOUT,
        ExecutionStatus.OOM,
        ExecutionStatus.CANCELLED,
    }
)

__all__ = ["FINISHED", "ExecutionStatus", "Language", "Permission"]
