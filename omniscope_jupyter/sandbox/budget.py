"""One memory budget for the result frames all runs of a process hold at once.

Each result is sized from its Arrow headers before it is decoded (``arrow_limits``) and one
result is capped (``max_output_decoded_bytes``), but four runs at once, each just under that cap,
hold four times as much. So a run reserves its result's decoded size here before decoding it,
and gives it back once its answer is made (the JSON or Arrow answer, or the frame handed to a
notebook's caller); the reservation also ends when the decoded frame itself is gone, so a caller
that never answers (the runner used on its own) cannot leak it.

A result that does not fit waits up to ``results_budget_wait_seconds`` for other runs' answers to
be made (moments: they are being written), then its run ends as ``failed`` with a message naming
the setting; a result larger than the whole budget fails at once. Waiting holds no decoded
memory: the result is still the sandbox's sealed memfd.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .transfer import TransferError

T = TypeVar("T")

#: The default budget: this share of the memory the server may use, within these bounds.
DEFAULT_SHARE = 4
MIN_DEFAULT_BYTES = 256 * 1024 * 1024
MAX_DEFAULT_BYTES = 4 * 1024 * 1024 * 1024
#: cgroup v2's limit of this process's group (a server in a container: its limit, not the host's).
_CGROUP_MAX = Path("/sys/fs/cgroup/memory.max")


class ResultBudgetExceeded(TransferError):
    """A result does not fit the budget for results in flight (its run fails, as refused)."""


def memory_limit() -> int:
    """Bytes this process may use: the host's memory, or its cgroup's limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = _CGROUP_MAX.read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def default_results_budget() -> int:
    """A quarter of :func:`memory_limit`, between 256 MiB and 4 GiB."""
    return max(MIN_DEFAULT_BYTES, min(MAX_DEFAULT_BYTES, memory_limit() // DEFAULT_SHARE))


class ResultBudget:
    """Bytes reserved by the results in flight, by run; thread-safe."""

    def __init__(self, capacity: int, wait_seconds: float = 0.0) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._held: dict[str, int] = {}
        self._cond = threading.Condition()
        #: The most bytes held at once, and how many reservations had to wait (for tests, bench).
        self.peak = 0
        self.waits = 0

    @property
    def in_flight(self) -> int:
        with self._cond:
            return sum(self._held.values())

    def reserve(self, key: str, size: int) -> None:
        """Reserve ``size`` bytes for run ``key``; ``ResultBudgetExceeded`` when they never fit."""
        if size > self.capacity:
            raise ResultBudgetExceeded(
                f"the result would take {size} bytes once decoded, more than the "
                f"{self.capacity}-byte budget this server keeps for results in flight "
                "(sandbox_results_budget_bytes)"
            )
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            waited = False
            while sum(self._held.values()) + size > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    free = self.capacity - sum(self._held.values())
                    raise ResultBudgetExceeded(
                        f"the result would take {size} bytes once decoded, but only {free} of "
                        f"the {self.capacity}-byte budget for results in flight "
                        f"(sandbox_results_budget_bytes) were free for {self.wait_seconds:g} s "
                        "while other runs' results were answered; run it again"
                    )
                waited = True
                self._cond.wait(left)
            self.waits += waited
            self._held[key] = self._held.get(key, 0) + size
            self.peak = max(self.peak, sum(self._held.values()))

    def release(self, key: str) -> None:
        """Give back what run ``key`` holds (nothing when it holds nothing)."""
        with self._cond:
            if self._held.pop(key, None) is not None:
                self._cond.notify_all()

    def hold(self, key: str, size: int, decode: Callable[[], T]) -> T:
        """``decode()`` under a reservation of ``size`` bytes for ``key``, kept until
        :meth:`release` or until the decoded value is garbage (whichever comes first)."""
        self.reserve(key, size)
        try:
            value = decode()
        except BaseException:
            self.release(key)
            raise
        try:
            weakref.finalize(value, self.release, key)
        except TypeError:  # a value without weak references: only ``release`` ends it
            pass
        return value


__all__ = [
    "ResultBudget",
    "ResultBudgetExceeded",
    "default_results_budget",
    "memory_limit",
]
