"""The queue of runs waiting for a run thread: fair between users, bounded, thread-safe.

Each user has a FIFO of their queued runs; users are served round-robin, so one user's hundred
queued runs delay another user's next run by at most one run per other user, not by a hundred.
The queue is capped per user and in total (``TooManyRequests``, HTTP 429, beyond). It holds only
small run descriptions: inputs of queued runs are spooled to disk by the execution service.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from ..errors import TooManyRequests

T = TypeVar("T")


class FairQueue(Generic[T]):
    """Items keyed by id, queued per user, taken round-robin across users."""

    def __init__(self, max_per_user: int, max_total: int) -> None:
        self.max_per_user, self.max_total = max_per_user, max_total
        self._queues: dict[str, deque[tuple[str, T]]] = {}
        #: Users with queued items, the next one to be served first.
        self._order: deque[str] = deque()
        self._users: dict[str, str] = {}
        self._cond = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._users)

    def put(self, key: str, user: str, item: T) -> None:
        """Queue ``item``; ``TooManyRequests`` when ``user`` or everyone has too many queued."""
        with self._cond:
            if self._closed:
                raise TooManyRequests("the server is shutting down; no run is accepted")
            mine = self._queues.get(user)
            if mine is not None and len(mine) >= self.max_per_user:
                raise TooManyRequests(
                    f"you have {len(mine)} runs queued, the most one user may; wait for some "
                    "to finish (sandbox_max_queued_per_user)",
                    queued=len(mine),
                )
            if len(self._users) >= self.max_total:
                raise TooManyRequests(
                    f"{len(self._users)} runs are queued, the most this server takes; retry "
                    "later (sandbox_max_queued)",
                    queued=len(self._users),
                )
            if mine is None:
                mine = self._queues[user] = deque()
                self._order.append(user)
            mine.append((key, item))
            self._users[key] = user
            self._cond.notify()

    def get(self) -> tuple[str, T] | None:
        """The next item (blocking); None once the queue is closed."""
        with self._cond:
            while not self._order and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            user = self._order.popleft()
            mine = self._queues[user]
            key, item = mine.popleft()
            if mine:
                self._order.append(user)
            else:
                del self._queues[user]
            del self._users[key]
            return key, item

    def remove(self, key: str) -> T | None:
        """Take a queued item out (a cancel); None when it is not queued (any more)."""
        with self._cond:
            user = self._users.pop(key, None)
            if user is None:
                return None
            mine = self._queues[user]
            found = next(item for k, item in mine if k == key)
            self._queues[user] = deque(entry for entry in mine if entry[0] != key)
            if not self._queues[user]:
                del self._queues[user]
                self._order.remove(user)
            return found

    def position(self, key: str) -> tuple[int, int] | None:
        """``(position, length)``: how many runs start before it, plus one, and how many wait."""
        with self._cond:
            user = self._users.get(key)
            if user is None:
                return None
            index = next(i for i, (k, _) in enumerate(self._queues[user]) if k == key)
            rank = self._order.index(user)
            ahead = index
            for turn, other in enumerate(self._order):
                if other != user:
                    ahead += min(len(self._queues[other]), index + (1 if turn < rank else 0))
            return ahead + 1, len(self._users)

    def close(self) -> list[T]:
        """Stop handing out items; the ones still queued, for the caller to settle."""
        with self._cond:
            self._closed = True
            left = [item for mine in self._queues.values() for _, item in mine]
            self._queues.clear()
            self._order.clear()
            self._users.clear()
            self._cond.notify_all()
            return left
