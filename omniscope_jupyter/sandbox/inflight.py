"""This process's runs by plugin, so that an uninstall can stop them and know when they are gone.

An uninstall deletes a plugin's records (its runs' with them) and files while its runs may be
anywhere: being recorded, queued, binding a container, running. ``ExecutionService.forget_plugin``
dooms the runs of the plugin this process holds (:meth:`PluginRuns.doom`), stops them, and waits
for them (:meth:`PluginRuns.wait_gone`) before it retires their containers and removes the
``/data`` volume, so no run of it recreates what was removed. A run recorded after the uninstall
cannot be recorded at all (its record's foreign key refuses it): it is refused with a 409.
"""

from __future__ import annotations

import threading
import time


class PluginRuns:
    """Execution id -> plugin id of every run between its recording and its end; thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._plugin: dict[str, str] = {}
        self._doomed: set[str] = set()

    def enter(self, execution_id: str, plugin_id: str) -> None:
        with self._cond:
            self._plugin[execution_id] = plugin_id

    def leave(self, execution_id: str) -> None:
        with self._cond:
            self._plugin.pop(execution_id, None)
            self._doomed.discard(execution_id)
            self._cond.notify_all()

    def doom(self, plugin_id: str) -> list[str]:
        """Mark the runs of ``plugin_id`` as stopped by its uninstall; their ids."""
        with self._cond:
            ids = [e for e, p in self._plugin.items() if p == plugin_id]
            self._doomed.update(ids)
            return ids

    def doomed(self, execution_id: str) -> bool:
        with self._cond:
            return execution_id in self._doomed

    def wait_gone(self, plugin_id: str, timeout: float) -> list[str]:
        """Wait until no run of ``plugin_id`` is left, up to ``timeout``; those still left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while left := [e for e, p in self._plugin.items() if p == plugin_id]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return left
                self._cond.wait(remaining)
        return []


__all__ = ["PluginRuns"]
