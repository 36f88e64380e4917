"""The pool's containers: bound to one plugin version and user, and nothing a run leaves behind
(files, environment, module state, processes, IPC) is seen by the next run in the same one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from omniscope_jupyter.sandbox.executions import ExecutionService

from .conftest import PluginFactory

ANALYSIS = {"extension_point": "analysis"}

# Plants every kind of state a run could leave, then (next run) looks for all of it.
PLANT_PY = """
import ctypes, os, subprocess, sys, time

class Planter:
    def execute(self, input_data):
        seen = {
            "tmp": sorted(os.listdir("/tmp")), "out": sorted(os.listdir("/out")),
            "shm": sorted(os.listdir("/dev/shm")),
            "env": os.environ.get("PLANTED"), "module": getattr(os, "planted", None),
            "imported": "planted_module" in sys.modules,
            "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "me": os.getpid(), "parent": os.getppid(),
        }
        if input_data["parameters"].get("plant"):
            for folder in ("/tmp", "/out", "/dev/shm"):
                with open(f"{folder}/planted", "w") as handle:
                    handle.write("left behind")
            os.chmod("/tmp/planted", 0)
            os.environ["PLANTED"] = "yes"
            os.planted = "yes"
            sys.modules["planted_module"] = os
            # A daemonised grandchild in its own session, and a plain background child.
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(600)
                os._exit(0)
            subprocess.Popen(["sleep", "600"])
            libc = ctypes.CDLL(None, use_errno=True)
            seen["shmget"] = libc.shmget(0, 4096, 0o1600)  # IPC_PRIVATE | IPC_CREAT
            seen["msgget"] = libc.msgget(0, 0o1600)
        return {"data": None, "metadata": seen}
"""

PLANT_R = """
Planter <- setRefClass("Planter", methods = list(
  execute = function(input_data) {
    seen <- list(
      tmp = list.files(tempdir()), planted_global = exists("planted", envir = globalenv()),
      env = Sys.getenv("PLANTED"), options = getOption("planted", "none"),
      processes = length(list.files("/proc", pattern = "^[0-9]+$"))
    )
    if (isTRUE(input_data$parameters$plant)) {
      writeLines("left behind", file.path(tempdir(), "planted.txt"))
      assign("planted", TRUE, envir = globalenv())
      Sys.setenv(PLANTED = "yes")
      options(planted = "yes")
      system("sleep 600", wait = FALSE)
    }
    list(data = NULL, metadata = seen)
  }
))
"""


def same_container(service: ExecutionService, *answers: dict) -> bool:
    tokens = {service.runner.served[a["execution_id"]] for a in answers}
    return len(tokens) == 1


def test_a_run_leaves_nothing_the_next_run_sees(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(PLANT_PY)
    first = service.run(target, {**ANALYSIS, "parameters": {"plant": True}})
    assert first["status"] == "succeeded", first["errors"]
    assert first["metadata"]["shmget"] == -1 and first["metadata"]["msgget"] == -1  # no SysV IPC
    second = service.run(target, ANALYSIS)
    assert second["status"] == "succeeded", second["errors"]
    assert same_container(service, first, second)  # the zygote path, not a fresh container
    seen = second["metadata"]
    assert (seen["tmp"], seen["out"], seen["shm"]) == ([], [], [])
    assert seen["env"] is None and seen["module"] is None and seen["imported"] is False
    # Only the runner (PID 1) and this run's own process: the daemons of the first are gone.
    assert seen["processes"] == [1, seen["me"]] and seen["parent"] == 1


def test_an_r_run_leaves_nothing_the_next_run_sees(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(PLANT_R, language="r")
    first = service.run(target, {**ANALYSIS, "parameters": {"plant": True}})
    assert first["status"] == "succeeded", (first["errors"], first["stderr"])
    second = service.run(target, ANALYSIS)
    assert second["status"] == "succeeded", (second["errors"], second["stderr"])
    assert same_container(service, first, second)
    seen = second["metadata"]
    assert seen["tmp"] == [] and seen["planted_global"] is False
    assert seen["env"] == "" and seen["options"] == "none"
    assert seen["processes"] == 2  # the runner and this run's process


def test_a_container_serves_one_plugin_version_of_one_user(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin("class Ok:\n    def execute(self, input_data):\n        return {'data': None}\n")
    alice = [service.run(target, ANALYSIS, user="alice") for _ in range(2)]
    bob = service.run(target, ANALYSIS, user="bob")
    newer = service.run(replace(target, version="1.0.1"), ANALYSIS, user="alice")
    assert same_container(service, *alice)
    for other in (bob, newer):
        assert not same_container(service, alice[0], other)


DEEP = """
import os

class Deep:
    def execute(self, input_data):
        seen = {"out": os.listdir("/out"), "tmp": os.listdir("/tmp")}
        if input_data["parameters"].get("dig"):
            for top in ("/out", "/tmp"):
                path = top
                for _ in range(1500):
                    path = os.path.join(path, "d")
                    os.mkdir(path)
                os.chmod(os.path.join(top, "d", "d"), 0o500)
        return {"data": None, "metadata": seen}
"""


def test_deeply_nested_folders_are_removed_between_runs(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(DEEP)
    first = service.run(target, {**ANALYSIS, "parameters": {"dig": True}})
    assert first["status"] == "succeeded", first["errors"]
    second = service.run(target, ANALYSIS)
    assert second["status"] == "succeeded", second["errors"]
    assert second["metadata"] == {"out": [], "tmp": []}
    assert same_container(service, first, second)


FILL = """
import errno, os

class Fill:
    def execute(self, input_data):
        p = input_data["parameters"]
        written, files, error = 0, 0, None
        try:
            if p["what"] == "bytes":
                with open("/out/big", "wb") as handle:
                    while written < 1 << 30:
                        handle.write(b"x" * (1 << 20))
                        written += 1 << 20
            else:
                while files < 1_000_000:
                    open(f"/out/f{files}", "w").close()
                    files += 1
        except OSError as exc:
            error = errno.errorcode.get(exc.errno)
        return {"data": None, "metadata": {"written": written, "files": files, "error": error}}
"""


@pytest.mark.parametrize("what", ["bytes", "files"])
def test_out_is_capped_in_bytes_and_files(
    service: ExecutionService, make_plugin: PluginFactory, what: str
) -> None:
    """/out is a tmpfs of the container, not a host folder: its caps hold, the host's disk is
    never written."""
    answer = service.run(make_plugin(FILL), {**ANALYSIS, "parameters": {"what": what}})
    assert answer["status"] == "succeeded", answer["errors"]
    meta = answer["metadata"]
    assert meta["error"] == "ENOSPC", meta
    if what == "bytes":
        assert meta["written"] <= 64 * 1024 * 1024
    else:
        assert meta["files"] < service.settings.out_files
