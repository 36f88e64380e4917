"""A run's deadline and its leftovers do not depend on the process that started it living."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from omniscope_jupyter.sandbox.container import RUN_LABEL
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.pool import OWNERS, remove_tree
from tests.sandbox.conftest import (
    PluginFactory,
    gone,
    start_other_process,
    wait_for_container,
)

STUCK = """
import subprocess, time

class Stuck:
    def execute(self, input_data):
        subprocess.Popen(["sleep", "600"])
        time.sleep(600)
"""


def plugin_processes(container: Any) -> list[str]:
    """What runs in the container besides the runner (PID 1) and its forked children."""
    return [p[-1] for p in container.top()["Processes"] if "omniscope_sandbox.py" not in p[-1]]


def test_the_container_enforces_the_deadline_while_its_server_is_stuck_and_ends_with_it(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(STUCK)
    body = {"extension_point": "analysis", "timeout": 3}
    other = start_other_process(service, target, body)
    try:
        execution_id, container = wait_for_container(service, target)
        token = container.labels[RUN_LABEL]
        other.send_signal(signal.SIGSTOP)  # the server hangs: it will not stop the run
        deadline = time.monotonic() + 60
        while plugin_processes(container) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert plugin_processes(container) == []  # the runner killed the run at its deadline
        other.send_signal(signal.SIGKILL)  # now the server dies (kill -9)
        other.communicate()
        assert gone(token)  # the runner saw its socket close and ended the container
    finally:
        if other.poll() is None:
            other.kill()
            other.communicate()
    asyncio.run(service.startup())
    record = asyncio.run(service.get(target.plugin_id, execution_id))
    assert record["status"] == "failed" and "the process that started this run ended" in record["errors"][0]
    assert not (service.settings.work_dir / token).exists()


def test_leftover_run_folders_of_dead_processes_are_swept_at_start(
    service: ExecutionService, tmp_path: Path
) -> None:
    root = service.settings.work_dir
    (root / OWNERS).mkdir(parents=True, exist_ok=True)
    dead = root / "0123456789abcdef"
    (dead / "plugin").mkdir(parents=True)
    (dead / "input.arrow").write_bytes(b"x")
    (root / OWNERS / dead.name).write_text(f"{os.uname().nodename}:999999999:1")
    alive = root / "fedcba9876543210"
    alive.mkdir()
    (root / OWNERS / alive.name).write_text(f"{os.uname().nodename}:1:{_start_ticks(1)}")
    asyncio.run(service.startup())
    assert not dead.exists() and not (root / OWNERS / dead.name).exists()
    assert alive.exists()  # PID 1 lives: its folder is kept
    remove_tree(alive)


def _start_ticks(pid: int) -> str:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rfind(")") + 2 :].split()[19]


def test_removing_a_run_folder_has_no_depth_limit_and_repairs_modes(tmp_path: Path) -> None:
    """Deeper than PATH_MAX and than the open-files limit, with a folder made unreadable."""
    top = tmp_path / "run"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for depth in range(3000):
        os.mkdir("dd", dir_fd=fd)
        inner = os.open("dd", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
        if depth == 5:
            os.chmod(fd, 0)
    os.close(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)
    remove_tree(top)
    assert not top.exists()
