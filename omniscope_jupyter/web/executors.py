"""Bounded thread pools per kind of blocking work, so slow work never starves the API.

Tornado handlers push blocking core calls to threads. On one shared pool (asyncio's default:
cores + 4 threads, six on this 2-core host) six slow scans left ``GET /api/plugins/list``
unanswered for minutes. Each kind of work gets its own pool, sized by ``work_threads``; when
one is saturated its requests wait for a thread of that kind only. Plugin runs are not here:
the execution service has its own pool (``sandbox_max_concurrent_runs``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: Kinds of work and their default number of threads.
WORK_KINDS: dict[str, int] = {"read": 8, "install": 2, "remote": 4, "data": 2}


class WorkPools:
    """One ``ThreadPoolExecutor`` per kind of work; created with the server, shut with it."""

    def __init__(self, sizes: Mapping[str, int] | None = None) -> None:
        merged = {**WORK_KINDS, **(sizes or {})}
        unknown = sorted(set(merged) - set(WORK_KINDS))
        if unknown:
            raise ValueError(f"unknown kinds of work {unknown}; known: {sorted(WORK_KINDS)}")
        self._pools = {
            kind: ThreadPoolExecutor(max(1, int(n)), thread_name_prefix=f"omniscope-{kind}")
            for kind, n in merged.items()
        }

    async def run(self, kind: str, fn: Callable[[], T]) -> T:
        """``fn()`` on a thread of ``kind``'s pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pools[kind], fn)

    def shutdown(self) -> None:
        """Stop taking work; running calls finish on their own (nothing waits for them here)."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["WORK_KINDS", "WorkPools"]
