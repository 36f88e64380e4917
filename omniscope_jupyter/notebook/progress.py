"""Following a run from a notebook: status, elapsed time, live log lines, progress, cancel.

``follow`` drives a ``RunHandle`` to its end, handing a ``RunState`` to a ``show`` callback each
time something changed (the magics update one display with it; ``RunPanel`` its widgets). An
interrupt (the kernel's stop button, Ctrl-C) cancels the run, waits until its container is gone
and its record says so, then propagates.
"""

from __future__ import annotations

import html
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import PluginError
from ..values import ExecutionStatus
from .client import PluginResult, RunHandle

#: Log lines a run's display keeps.
SHOWN_LINES = 12


@dataclass
class RunState:
    """What a run's display shows; renders as HTML (notebooks) and text (terminals)."""

    plugin_id: str
    execution_id: str
    status: str = "queued"
    fraction: float | None = None
    message: str = ""
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=SHOWN_LINES))
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    error: str = ""
    result: PluginResult | None = None
    #: How many log lines arrived, and how many of them a terminal has printed (``new_lines``).
    seen: int = 0
    printed: int = 0

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def add(self, events: list[dict[str, Any]], status: str) -> bool:
        """Take new events and the current status; True when the display should change."""
        changed = status != self.status and self.ended is None
        if self.ended is None:
            self.status = status
        for event in events:
            changed = True
            if event["type"] == "log":
                self.lines.append(str(event["text"]))
                self.seen += 1
            elif event["type"] == "progress":
                self.fraction, self.message = float(event["fraction"]), str(event["message"])
            elif event["type"] == "truncated":
                self.lines.append("[further output not shown: the run printed too much]")
                self.seen += 1
        return changed

    def finish(self, result: PluginResult) -> None:
        self.result, self.status, self.ended = result, result.status, time.monotonic()
        if result.status == ExecutionStatus.SUCCEEDED:
            self.fraction = 1.0
        self.error = "; ".join(str(e) for e in result.answer.get("errors", []))[:2000]

    def fail(self, status: str, error: str) -> None:
        self.status, self.error, self.ended = status, error, time.monotonic()

    def new_lines(self) -> list[str]:
        """Lines not printed yet (for a terminal); marks them printed."""
        fresh = list(self.lines)[max(0, len(self.lines) - (self.seen - self.printed)) :]
        self.printed = self.seen
        return fresh

    def headline(self) -> str:
        version = (self.result.answer.get("version") if self.result else None) or ""
        when = f"{self.elapsed:.1f} s"
        return " ".join(p for p in (self.plugin_id, version, self.status, when) if p)

    def _repr_html_(self) -> str:
        colour = {"succeeded": "#080", "running": "#06c"}.get(self.status, "#b00")
        colour = "#666" if self.status == "queued" else colour
        parts = [
            f"<div class='omniscope-run'><b>{html.escape(self.plugin_id)}</b> "
            f"<span style='color:{colour}'>{html.escape(self.status)}</span> · "
            f"{self.elapsed:.1f} s · <code>{html.escape(self.execution_id[:8])}</code>"
        ]
        if self.fraction is not None:
            parts.append(
                f"<br><progress value='{self.fraction:.3f}' max='1'></progress> "
                f"{self.fraction:.0%} {html.escape(self.message)}"
            )
        if self.lines:
            parts.append(f"<pre>{html.escape(chr(10).join(self.lines))}</pre>")
        if self.error:
            parts.append(f"<pre style='color:#b00'>{html.escape(self.error)}</pre>")
        if self.result is not None and isinstance(self.result.data, pd.DataFrame):
            rows, columns = self.result.data.shape
            parts.append(f"<br>result: {rows} x {columns} DataFrame")
        return "".join(parts) + "</div>"

    def __repr__(self) -> str:
        progress = f" {self.fraction:.0%} {self.message}" if self.fraction is not None else ""
        return f"{self.headline()} (execution {self.execution_id[:8]}){progress}"


def follow(
    handle: RunHandle,
    show: Callable[[RunState], None],
    *,
    interval: float = 0.25,
    heartbeat: float = 1.0,
) -> PluginResult:
    """Drive ``handle`` to its end, calling ``show`` on every change (and each ``heartbeat`` s).

    Interrupted (``KeyboardInterrupt``), it cancels the run and waits for the record before
    re-raising; a run the backend refused raises its ``PluginError`` after ``show`` saw it.
    """
    state = RunState(handle.plugin_id, handle.execution_id)
    shown = 0.0
    try:
        show(state)
        while True:
            ended = handle.wait(interval)
            changed = state.add(handle.events(), handle.status)
            if changed or ended or time.monotonic() - shown >= heartbeat:
                show(state)
                shown = time.monotonic()
            if ended:
                break
        result = handle.result()
    except KeyboardInterrupt:
        state.fail("cancelling", "interrupted: cancelling the run")
        show(state)
        record = handle.cancel()
        state.fail(str(record.get("status", "cancelled")), "interrupted: the run was cancelled")
        show(state)
        raise
    except PluginError as exc:
        state.fail("refused", exc.message)
        show(state)
        raise
    state.add(handle.events(), result.status)
    state.finish(result)
    show(state)
    return result


__all__ = ["RunState", "follow"]
