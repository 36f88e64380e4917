"""Live events of a run: what the in-container runner appends to ``/out/events.jsonl``.

Protocol (the writer is ``sandbox/runner/omniscope_runner.py``): one JSON object a line, each
with a growing ``seq`` and ``t`` (seconds since the job started) and a ``type``:

* ``log``: ``stream`` (``stdout`` or ``stderr``) and ``text``, one line the plugin printed;
* ``progress``: ``fraction`` (0..1) and ``message``, from ``context["progress"](0.4, "fitting")``
  (R: ``omniscope_progress(0.4, "fitting")``);
* ``truncated``: the runner's cap was reached; it wrote nothing after this.

Two ways in, one parser: the one-shot runner appends the lines to its ``/out`` file, which the
host reads as it grows (``poll``: no link followed, a regular file only, a byte cap); a runner
that forwards them (the pooled sandbox's events pipe) hands the text to ``feed`` as it comes,
in chunks that may cut lines. Either way every field is re-checked (an unknown type or a
malformed line is dropped) and at most ``MAX_EVENTS_BYTES`` are taken. Events are only ever
shown, never acted on.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
#: Bytes of a run's events the host reads at most (the runner itself stops at 1 MiB).
MAX_EVENTS_BYTES = 2 << 20
#: Events kept per run (in memory while it runs, in its record after): the newest ones.
KEPT_EVENTS = 2000
#: Log lines a running execution's record shows (``log_tail``).
LOG_TAIL = 20
#: JSON bytes of events a finished execution's record keeps (the newest ones).
RECORDED_BYTES = 256 * 1024
_TEXT_CAP = 2000
_MESSAGE_CAP = 500


def events_path(work_dir: Path, execution_id: str) -> Path:
    """Where the run's events are on the host: ``<work_dir>/<execution id>/out/events.jsonl``.

    The run directory layout is ``SandboxRunner``'s (``/out`` is mounted from ``out/``).
    """
    return work_dir / execution_id / "out" / EVENTS_FILE


def clean_event(raw: Any) -> dict[str, Any] | None:
    """The event with only known, well-typed fields; None for anything else."""
    if not isinstance(raw, dict):
        return None
    seq, kind, t = raw.get("seq"), raw.get("type"), raw.get("t", 0)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return None
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        return None
    event: dict[str, Any] = {"seq": seq, "t": float(t), "type": kind}
    if kind == "log":
        stream, text = raw.get("stream"), raw.get("text")
        if stream not in ("stdout", "stderr") or not isinstance(text, str):
            return None
        event.update(stream=stream, text=text[:_TEXT_CAP])
    elif kind == "progress":
        fraction, message = raw.get("fraction"), raw.get("message", "")
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            return None
        if fraction != fraction:  # NaN
            return None
        event.update(
            fraction=min(1.0, max(0.0, float(fraction))), message=str(message)[:_MESSAGE_CAP]
        )
    elif kind != "truncated":
        return None
    return event


class EventTail:
    """Follows one run's events file as it grows; thread-safe, keeps the newest events."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()

    def poll(self) -> list[dict[str, Any]]:
        """Read what was appended to the file since the last poll; return the new events."""
        with self._lock:
            return self._take(self._read())

    def feed(self, text: str | bytes) -> list[dict[str, Any]]:
        """Take forwarded event text (any chunk of the JSON lines); return the new events."""
        chunk = text.encode("utf-8") if isinstance(text, str) else text
        with self._lock:
            chunk = chunk[: max(0, MAX_EVENTS_BYTES - self._offset)]
            self._offset += len(chunk)
            return self._take(chunk)

    def _take(self, chunk: bytes) -> list[dict[str, Any]]:
        if not chunk:
            return []
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        new: list[dict[str, Any]] = []
        for line in lines:
            try:
                event = clean_event(json.loads(line.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError):
                event = None
            last = new[-1]["seq"] if new else (self.events[-1]["seq"] if self.events else 0)
            if event is not None and event["seq"] > last:
                new.append(event)
        self.events = (self.events + new)[-KEPT_EVENTS:]
        return new

    def recorded(self, budget: int = RECORDED_BYTES) -> list[dict[str, Any]]:
        """The newest kept events that fit ``budget`` JSON bytes, oldest first (for the record)."""
        with self._lock:
            kept: list[dict[str, Any]] = []
            for event in reversed(self.events):
                budget -= len(json.dumps(event))
                if budget < 0:
                    break
                kept.append(event)
            return kept[::-1]

    def since(self, after: int) -> list[dict[str, Any]]:
        """Kept events with ``seq`` above ``after`` (after a ``poll``)."""
        with self._lock:
            return [e for e in self.events if e["seq"] > after]

    def _read(self) -> bytes:
        room = MAX_EVENTS_BYTES - self._offset
        if room <= 0:
            return b""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return b""  # not written yet, or the run's folder is already gone
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return b""
            os.lseek(fd, self._offset, os.SEEK_SET)
            chunk = os.read(fd, room)
        except OSError:
            return b""
        finally:
            os.close(fd)
        self._offset += len(chunk)
        return chunk


def live_summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest progress and log lines of ``events``, for a running execution's record."""
    progress = next((e for e in reversed(events) if e["type"] == "progress"), None)
    lines = [e["text"] for e in events if e["type"] == "log"][-LOG_TAIL:]
    return {
        "progress": (
            {"fraction": progress["fraction"], "message": progress["message"]} if progress else None
        ),
        "log_tail": lines,
    }


__all__ = ["EVENTS_FILE", "EventTail", "clean_event", "events_path", "live_summary"]
