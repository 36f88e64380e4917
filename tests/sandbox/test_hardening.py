"""The sandbox holds: network, processes, memory, time, files, secrets, output, engine loss."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import threading
from collections.abc import Iterator

import docker
import pytest

from omniscope_jupyter.errors import SandboxUnavailable
from omniscope_jupyter.sandbox.container import volume_name
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.runner import SandboxRunner

from .conftest import PluginFactory, retired, served_by

ANALYSIS = {"extension_point": "analysis"}

CONNECT = """
import socket

class Connect:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        p = input_data["parameters"]
        try:
            with socket.create_connection((p["host"], p["port"]), timeout=3) as s:
                reply = s.recv(16).decode()
            return {"data": None, "metadata": {"connected": True, "reply": reply}}
        except OSError as exc:
            return {"data": None, "metadata": {"connected": False, "error": str(exc)}}
"""


@pytest.fixture
def bridge_server(engine_client: docker.DockerClient) -> Iterator[tuple[str, int]]:
    """A tiny TCP server on the host, reachable at the Docker bridge gateway address."""
    ipam = engine_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    server = socket.socket()
    server.bind((gateway, 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield gateway, server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_network_only_with_permission(
    service: ExecutionService, make_plugin: PluginFactory, bridge_server: tuple[str, int]
) -> None:
    host, port = bridge_server
    body = {**ANALYSIS, "parameters": {"host": host, "port": port}}
    denied = service.run(make_plugin(CONNECT), body)
    assert denied["status"] == "succeeded"
    assert denied["metadata"]["connected"] is False, denied["metadata"]
    assert "Network is unreachable" in denied["metadata"]["error"]  # no interface but lo
    # With `network` there is a route, but the host firewall rejects the host's own addresses
    # (tests/security/test_container_attacks.py: the public internet is what stays reachable).
    networked = service.run(make_plugin(CONNECT, permissions=("network",)), body)
    assert networked["metadata"]["connected"] is False, networked["metadata"]
    assert "No route to host" in networked["metadata"]["error"]


def test_fork_bomb_is_contained(service: ExecutionService, make_plugin: PluginFactory) -> None:
    target = make_plugin(
        """
        import os, signal, time

        class Bomb:
            def __init__(self, context):
                pass

            def execute(self, input_data):
                children, error = [], None
                for _ in range(1000):
                    try:
                        pid = os.fork()
                    except OSError as exc:
                        error = str(exc)
                        break
                    if pid == 0:
                        time.sleep(60)
                        os._exit(0)
                    children.append(pid)
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                return {"data": None, "metadata": {"forked": len(children), "error": error}}
        """
    )
    answer = service.run(target, ANALYSIS)
    assert answer["status"] == "succeeded", answer["errors"]
    assert answer["metadata"]["forked"] < 100
    assert answer["metadata"]["error"]


def test_memory_bomb_is_oom_and_service_keeps_working(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    bomb = make_plugin(
        """
        class Hog:
            def __init__(self, context):
                pass

            def execute(self, input_data):
                hog = []
                for _ in range(400):
                    hog.append(bytearray(10 * 1024 * 1024))
                return {"data": None}
        """
    )
    answer = service.run(bomb, ANALYSIS)
    assert answer["status"] == "oom", answer
    assert "memory limit" in answer["errors"][0]
    assert retired(service, answer["execution_id"])  # an abnormal end retires its container
    fine = make_plugin("class Ok:\n    def execute(self, input_data):\n        return {'data': None}\n")
    assert service.run(fine, ANALYSIS)["status"] == "succeeded"


def test_endless_loop_times_out_and_leaves_no_container(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    target = make_plugin(
        """
        class Spin:
            def __init__(self, context):
                pass

            def execute(self, input_data):
                while True:
                    pass
        """
    )
    answer = service.run(target, {**ANALYSIS, "timeout": 3})
    assert answer["status"] == "timeout"
    assert 3000 <= answer["duration_ms"] < 20000
    assert retired(service, answer["execution_id"])


def test_async_run_can_be_cancelled(service: ExecutionService, make_plugin: PluginFactory) -> None:
    target = make_plugin(
        "import time\nclass Sleep:\n    def execute(self, input_data):\n        time.sleep(60)\n"
    )

    async def scenario() -> tuple[dict, dict, dict]:
        started = await service.execute(target, {**ANALYSIS, "async": True})
        await asyncio.sleep(1.5)
        running = await service.get(target.plugin_id, started["execution_id"])
        final = await service.cancel(target.plugin_id, started["execution_id"])
        return started, running, final

    started, running, final = asyncio.run(scenario())
    assert started["status"] == "running" and running["status"] == "running"
    assert final["status"] == "cancelled"
    assert retired(service, started["execution_id"])


WRITER = """
import os

class Writer:
    def __init__(self, context):
        pass

    def execute(self, input_data):
        outcome = {}
        for path in ("/etc/evil", "/plugin/evil", "/evil", "/data/evil", "/opt/omniscope/evil",
                     "/tmp/ok"):
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                outcome[path] = "written"
            except OSError as exc:
                outcome[path] = type(exc).__name__
        if os.path.exists("/data/keep"):
            outcome["kept"] = open("/data/keep").read()
        return {"data": None, "metadata": outcome}
"""


def test_writes_outside_tmp_fail(
    service: ExecutionService, make_plugin: PluginFactory, engine_client: docker.DockerClient
) -> None:
    target = make_plugin(WRITER)
    meta = service.run(target, ANALYSIS)["metadata"]
    assert meta.pop("/tmp/ok") == "written"
    assert all(v != "written" for v in meta.values()), meta
    assert not (target.path / "evil").exists()


def test_file_system_permission_gives_a_persistent_volume(
    service: ExecutionService, make_plugin: PluginFactory, engine_client: docker.DockerClient
) -> None:
    target = make_plugin(
        WRITER.replace('outcome[path] = "written"', 'outcome[path] = "written"\n'
                       '                if path == "/data/evil": os.rename(path, "/data/keep")'),
        permissions=("file_system",),
    )
    try:
        first = service.run(target, ANALYSIS)["metadata"]
        assert first["/data/evil"] == "written" and first["/etc/evil"] != "written"
        second = service.run(target, ANALYSIS)["metadata"]
        assert second["kept"] == "x"
    finally:
        service.forget_plugin(target.plugin_id)  # its containers first, then its volume
    assert not [v for v in engine_client.volumes.list() if v.name == volume_name(service.settings.owner, target.plugin_id)]


def test_host_files_env_and_token_are_invisible(
    service: ExecutionService, make_plugin: PluginFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "secret-token-123")
    monkeypatch.setenv("OMNISCOPE_TEST_SECRET", "do-not-leak")
    host_paths = [os.getcwd(), os.path.expanduser("~/.cache"), os.path.expanduser("~/.jupyter"), "/tmp/venv",
                  "/var/run/docker.sock", str(service.settings.work_dir)]
    target = make_plugin(
        """
        import os

        class Spy:
            def __init__(self, context):
                pass

            def execute(self, input_data):
                paths = input_data["parameters"]["paths"]
                found = {p: os.path.exists(p) for p in paths}
                blob = ""
                for root in ("/proc/1/environ", "/proc/self/environ"):
                    try:
                        blob += open(root, "rb").read().decode(errors="replace")
                    except OSError:
                        pass
                return {"data": None, "metadata": {"env": dict(os.environ), "found": found,
                        "blob": blob, "uid": os.getuid(), "caps": open("/proc/self/status").read(),
                        "mountinfo": open("/proc/self/mountinfo").read()}}
        """
    )
    answer = service.run(target, {**ANALYSIS, "parameters": {"paths": host_paths}})
    meta = answer["metadata"]
    # The mounts come from folders named by random tokens: no store, plugin, user or run shows.
    for told in (str(target.path), answer["execution_id"], os.getcwd(), os.path.expanduser("~/")):
        assert told not in meta["mountinfo"], told
    assert "JUPYTER_TOKEN" not in meta["env"] and "OMNISCOPE_TEST_SECRET" not in meta["env"]
    assert "secret-token-123" not in meta["blob"] and "do-not-leak" not in meta["blob"]
    assert not any(meta["found"].values()), meta["found"]
    assert meta["uid"] == 65534
    assert "CapEff:\t0000000000000000" in meta["caps"]
    assert "NoNewPrivs:\t1" in meta["caps"]


def test_output_flood_is_capped(service: ExecutionService, make_plugin: PluginFactory) -> None:
    target = make_plugin(
        """
        import sys

        class Flood:
            def __init__(self, context):
                pass

            def execute(self, input_data):
                line = "x" * 1023 + "\\n"
                for _ in range(20 * 1024):
                    sys.stdout.write(line)
                    sys.stderr.write(line)
                return {"data": None}
        """
    )
    answer = service.run(target, ANALYSIS)
    assert answer["status"] == "succeeded"
    cap = service.settings.log_cap_bytes
    for stream in ("stdout", "stderr"):
        assert len(answer[stream]) <= cap + 100
        assert "truncated" in answer[stream]


def test_files_planted_in_out_are_never_read_by_the_host(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    """/out is a tmpfs of the container: a result there is not the run's result."""
    target = make_plugin(
        """
        import json, os

        class Plant:
            def __init__(self, context):
                pass

            def execute(self, input_data):
                os.symlink("/etc/shadow", "/out/result.json")
                with open("/out/data.arrow", "w") as handle:
                    json.dump({"status": "succeeded"}, handle)
                os._exit(0)
        """
    )
    answer = service.run(target, ANALYSIS)
    assert answer["status"] == "failed"
    assert "exited (code 0) without a result" in answer["errors"][0]


def test_the_pooled_container_is_hardened(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    """The options every pooled container gets, read back from the engine."""
    target = make_plugin("class Ok:\n    def execute(self, input_data):\n        return {'data': None}\n")
    answer = service.run(target, ANALYSIS)
    assert answer["status"] == "succeeded"
    (container,) = served_by(service, answer["execution_id"])
    host = container.attrs["HostConfig"]
    settings = service.settings
    assert container.attrs["Config"]["User"] == "65534:65534"
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["ReadonlyRootfs"] is True and host["NetworkMode"] == "none"
    assert host["PidsLimit"] == settings.pids
    assert host["Memory"] == host["MemorySwap"] > 0 and host["NanoCpus"] == int(settings.cpus * 1e9)
    assert "nr_inodes" in host["Tmpfs"]["/out"] and "size=" in host["Tmpfs"]["/tmp"]
    assert host["Sysctls"]["kernel.shmmni"] == "0" and host["AutoRemove"] is True
    assert not host.get("Init")  # the runner itself is the init (PID 1)
    labels = container.labels
    assert {"omniscope.run", "omniscope.owner", "omniscope.process"} <= set(labels)
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert mounts["/job"]["RW"] is False and mounts["/plugin"]["RW"] is False
    assert "/out" not in mounts  # a tmpfs, not a host folder


def test_pid_1_is_the_runner_and_the_plugin_cannot_signal_it(
    service: ExecutionService, make_plugin: PluginFactory
) -> None:
    """The runner (PID 1, non-dumpable) keeps the deadline: no plugin can stop, kill or trace it."""
    target = make_plugin(
        """
        import os, signal

        class Rebel:
            def execute(self, input_data):
                for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                    os.kill(1, sig)
                try:
                    open("/proc/1/mem", "rb").read(1)
                    mem = "read"
                except OSError as exc:
                    mem = type(exc).__name__
                cmdline = open("/proc/1/cmdline", "rb").read().decode().split("\\0")
                return {"data": None, "metadata": {"mem": mem, "cmdline": cmdline}}
        """
    )
    first = service.run(target, ANALYSIS)
    assert first["status"] == "succeeded", first["errors"]
    assert first["metadata"]["mem"] == "PermissionError"
    assert "/opt/omniscope/omniscope_sandbox.py" in first["metadata"]["cmdline"]
    again = service.run(target, ANALYSIS)  # the same container, still serving
    assert again["status"] == "succeeded"
    assert service.runner.served[again["execution_id"]] == service.runner.served[first["execution_id"]]


def test_unreachable_engine_is_sandbox_unavailable(
    make_plugin: PluginFactory, service: ExecutionService, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    dead = ExecutionService(service.session_factory, SandboxRunner(service.settings), service.settings)
    target = make_plugin("class Ok:\n    def execute(self, input_data):\n        return {'data': None}\n")
    with pytest.raises(SandboxUnavailable, match="Docker engine is not reachable"):
        dead.run(target, ANALYSIS)
    history = asyncio.run(dead.list_page(target.plugin_id))
    assert history["executions"][0]["status"] == "failed"
