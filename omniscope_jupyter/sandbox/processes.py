"""Which process started a run, and whether it still lives: the reaper's test of ownership.

The server, ``omniplug`` and notebook kernels may all use one store at once, so the store's
hash alone cannot say whose container or record a leftover is. Each run carries the identity of
the process that started it, ``host:pid:start``, where ``start`` is the process's start time in
clock ticks after boot (``/proc/<pid>/stat`` field 22), so a reused pid is not mistaken for the
old process. Only a process on this host can be checked; another host's runs count as alive.
"""

from __future__ import annotations

import functools
import os
import socket


def _start_ticks(pid: int) -> str | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@functools.cache
def process_identity() -> str:
    """``host:pid:start`` of this process (computed once; a fork computes its own)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or 0}"


def _forget_after_fork() -> None:
    process_identity.cache_clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def is_alive(identity: str | None) -> bool:
    """Whether the process named by ``identity`` may still run (True for other hosts).

    A missing or malformed identity (a record from before identities existed) counts as dead.
    """
    if not identity:
        return False
    parts = identity.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid, start = parts
    if host != socket.gethostname():
        return True
    return _start_ticks(int(pid)) == start
