"""Plugins written as attackers write them, run in the real sandbox under each runtime.

Every plugin here passes the install-time scan (its modules are fetched by computed names, see
``conftest.PRELUDE``); each test asserts the exact refusal or containment, and ``run_attack``
that the run left no container and no run folder behind. Network attacks aim at live targets:
a TCP listener on 0.0.0.0 of the host, test hosts of ours in a network namespace (each private
range, the cloud metadata address, one public address), running neighbour containers, and the
public internet (pypi.org:443).

Elsewhere (issue 13): filling ``/data`` (``tests/reliability/test_data_fill.py``; a volume is
checked after each run, not capped, so a test must not fill the host's disk) and a server
SIGKILLed mid-run (``tests/reliability/test_engine_deadlines.py``); see
``tests/reliability/COVERAGE.md``.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from omniscope_jupyter.sandbox.container import (
    RUN_ENV,
    SANDBOX_NETWORK,
    ensure_network,
    is_gvisor,
)
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from tests.sandbox.conftest import retired

from .conftest import (
    TEST_HOST_PRIVATE,
    TEST_HOST_PUBLIC,
    AttackFactory,
    HostListener,
    NetnsHost,
    answer_from,
    host_ipv4_addresses,
    run_attack,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "examples"

CONNECT = """
class Connect:
    def execute(self, input_data):
        seen = {}
        for host, port in input_data["parameters"]["targets"]:
            key = f"{host}:{port}"
            try:
                conn = _net.create_connection((host, port), timeout=5)
            except _net.gaierror:
                seen[key] = "no DNS"
                continue
            except OSError as exc:
                seen[key] = _errno.errorcode.get(exc.errno, str(exc))
                continue
            conn.settimeout(2)
            try:
                seen[key] = "answered " + conn.recv(64).decode()
            except OSError:
                seen[key] = "connected"  # a TLS server waits for us to speak first
            conn.close()
        return {"data": None, "metadata": seen}
"""


def attempts(
    sandbox: ExecutionService, attack: AttackFactory, targets: list[list[Any]], network: bool
) -> dict[str, str]:
    """``{"host:port": outcome}`` of connecting to each target from one run."""
    target = attack(CONNECT, permissions=("network",) if network else ())
    answer = run_attack(sandbox, target, parameters={"targets": targets})
    assert answer["status"] == "succeeded", answer["errors"]
    return dict(answer["metadata"])


@pytest.fixture
def targets(
    engine_client: docker.DockerClient,
    host_listener: HostListener,
    netns_host: NetnsHost,
    neighbours: dict[str, str],
) -> dict[str, list[Any]]:
    """Live targets by kind, each checked from the host to answer before it is attacked."""
    ensure_network(engine_client)
    gateways = [gateway_of(engine_client, name) for name in ("bridge", SANDBOX_NETWORK)]
    host = host_ipv4_addresses()
    assert set(gateways) <= set(host), (gateways, host)
    for address in host:
        assert answer_from(address, host_listener.port) == "host"
    for address in netns_host.addresses:
        assert answer_from(address, netns_host.port) == address
    for address in neighbours.values():
        assert answer_from(address, 8080) == address
    host_listener.accepted.clear()
    return {
        "host": [[a, host_listener.port] for a in host],
        "loopback": [["127.0.0.1", host_listener.port]],
        "private": [[a, netns_host.port] for a in TEST_HOST_PRIVATE.values()],
        "public": [[TEST_HOST_PUBLIC, netns_host.port]],
        "neighbours": [[a, 8080] for a in neighbours.values()],
        "internet": [["pypi.org", 443]],
    }


def gateway_of(client: docker.DockerClient, network: str) -> str:
    """The host's address on a Docker network (its gateway; the subnet's first host if unset)."""
    ipam = client.networks.get(network).attrs["IPAM"]["Config"][0]
    return str(ipam.get("Gateway") or next(ipaddress.ip_network(ipam["Subnet"]).hosts()))


def keys(*groups: list[list[Any]]) -> list[str]:
    return [f"{host}:{port}" for group in groups for host, port in group]


@pytest.mark.parametrize("network", [False, True], ids=["without-network", "with-network"])
def test_only_the_public_internet_and_only_with_network(
    sandbox: ExecutionService, attack: AttackFactory, targets: dict[str, list[Any]],
    host_listener: HostListener, network: bool,
) -> None:
    everything = [t for group in targets.values() for t in group]
    seen = attempts(sandbox, attack, everything, network=network)
    # Without `network` no interface but loopback; with it every address of the host (docker0's
    # and the sandbox bridge's gateways included), other containers, 10/8, 172.16/12,
    # 192.168/16, 100.64/10 and 169.254.169.254 are rejected by the host firewall.
    refused = "EHOSTUNREACH" if network else "ENETUNREACH"
    (public,) = keys(targets["public"])
    assert seen == {
        **dict.fromkeys(keys(targets["host"], targets["private"], targets["neighbours"]), refused),
        **dict.fromkeys(keys(targets["loopback"]), "ECONNREFUSED"),  # its own loopback
        public: f"answered {TEST_HOST_PUBLIC}" if network else refused,
        "pypi.org:443": "connected" if network else "no DNS",
    }
    assert host_listener.accepted == []


ENGINE_SOCKETS = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/docker/containerd/containerd.sock",
    "/proc/1/root/var/run/docker.sock",
]
ENGINE = """
class Engine:
    def execute(self, input_data):
        seen = {}
        for path in input_data["parameters"]["sockets"]:
            client = _net.socket(_net.AF_UNIX)
            try:
                client.connect(path)
                client.sendall(b"GET /containers/json HTTP/1.0\\r\\n\\r\\n")
                seen[path] = "answered " + client.recv(64).decode(errors="replace")
            except OSError as exc:
                seen[path] = _errno.errorcode.get(exc.errno, str(exc))
            finally:
                client.close()
        return {"data": None, "metadata": seen}
"""


@pytest.mark.parametrize("permissions", [(), ("network", "file_system")], ids=["none", "all"])
def test_the_docker_engine_is_out_of_reach(
    sandbox: ExecutionService, attack: AttackFactory, permissions: tuple[str, ...]
) -> None:
    assert Path("/var/run/docker.sock").is_socket()  # the real target exists on the host
    answer = run_attack(sandbox, attack(ENGINE, permissions=permissions),
                        parameters={"sockets": ENGINE_SOCKETS})  # fmt: skip
    # PID 1 is the runner, not dumpable: its /proc entries are closed to the plugin.
    assert answer["metadata"] == {
        **dict.fromkeys(ENGINE_SOCKETS, "ENOENT"), "/proc/1/root/var/run/docker.sock": "EACCES"
    }


READ = """
class Read:
    def execute(self, input_data):
        seen = {}
        for path in input_data["parameters"]["paths"]:
            try:
                with open(path, "rb") as handle:
                    seen[path] = "read " + handle.read(64).hex()
            except OSError as exc:
                seen[path] = _errno.errorcode.get(exc.errno, str(exc))
        return {"data": None, "metadata": seen}
"""


def test_host_files_the_store_and_the_token_file_are_out_of_reach(
    sandbox: ExecutionService, attack: AttackFactory, tmp_path: Path
) -> None:
    token_file = tmp_path / ".omniscope-token"  # as scripts/run.sh writes it
    server_info = tmp_path / "runtime" / "jpserver-4711.json"  # a server's token, as Jupyter has it
    server_info.parent.mkdir()
    for secret in (token_file, server_info):
        secret.write_text('{"token": "secret-token-4711"}')
    store_db = Path(str(sandbox.session_factory().bind.url.database))  # type: ignore[union-attr]
    assert store_db.is_file()
    own = ["/etc/shadow", "/proc/1/root/etc/shadow"]  # the image's, unreadable for uid 65534
    host = [str(store_db), str(token_file), str(server_info), "/host/etc/shadow"]
    answer = run_attack(sandbox, attack(READ), parameters={"paths": own + host})
    assert answer["metadata"] == {**dict.fromkeys(own, "EACCES"), **dict.fromkeys(host, "ENOENT")}


SNOOP = """
class Snoop:
    def execute(self, input_data):
        others = {}
        for entry in _os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/environ", "rb") as handle:
                        others[entry] = handle.read().decode(errors="replace")
                except OSError as exc:
                    others[entry] = _errno.errorcode.get(exc.errno, str(exc))
        return {"data": None, "metadata": {"own": dict(_os.environ), "processes": others}}
"""


def test_environment_and_jupyter_token_are_not_passed_on(
    sandbox: ExecutionService, attack: AttackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "secret-token-4711")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak-0815")
    meta = run_attack(sandbox, attack(SNOOP))["metadata"]
    # The fixed run environment, plus what the image, Docker and the runner itself set.
    assert set(meta["own"]) - set(RUN_ENV) <= {"PATH", "HOSTNAME", "JE_ARROW_MALLOC_CONF"}, meta
    assert {k: meta["own"][k] for k in RUN_ENV} == RUN_ENV
    everything = repr(meta)
    assert "secret-token-4711" not in everything and "do-not-leak-0815" not in everything


FORK_BOMB = """
class Bomb:
    def execute(self, input_data):
        children, refused = [], None
        while len(children) < 1000:
            try:
                pid = _os.fork()
            except OSError as exc:
                refused = _errno.errorcode.get(exc.errno)
                break
            if pid == 0:
                _load("time").sleep(60)
                _os._exit(0)
            children.append(pid)
        for pid in children:
            _os.kill(pid, 9)
            _os.waitpid(pid, 0)
        return {"data": None, "metadata": {"forked": len(children), "refused": refused}}
"""


def test_a_fork_bomb_is_stopped(
    sandbox: ExecutionService, attack: AttackFactory, runtime: str
) -> None:
    answer = run_attack(sandbox, attack(FORK_BOMB))
    if is_gvisor(runtime):
        # Every guest process costs gVisor host memory (ptrace platform): memory runs out
        # before the process cap (RLIMIT_NPROC inside the sandbox) is reached.
        assert_killed_whole(sandbox, answer)
    else:
        assert answer["status"] == "succeeded", answer["errors"]
        assert answer["metadata"]["refused"] == "EAGAIN"
        assert answer["metadata"]["forked"] < sandbox.settings.pids


def assert_killed_whole(sandbox: ExecutionService, answer: dict[str, Any]) -> None:
    """Under gVisor the kernel's OOM killer takes the whole sandbox (Docker reports an ``oom``
    event), which the host records as a failed run, not yet as ``oom``."""
    assert answer["status"] == "failed", answer
    assert answer["errors"] == ["the sandbox failed during the run: the sandbox container stopped"]
    assert retired(sandbox, answer["execution_id"])


def test_a_memory_bomb_is_killed(
    sandbox: ExecutionService, attack: AttackFactory, runtime: str
) -> None:
    bomb = attack(
        "class Hog:\n    def execute(self, input_data):\n"
        "        return {'data': None, 'metadata': {'size': len(b'x' * (2 << 30))}}\n"
    )
    answer = run_attack(sandbox, bomb)
    if is_gvisor(runtime):
        return assert_killed_whole(sandbox, answer)
    assert answer["status"] == "oom"
    limit = sandbox.settings.memory
    assert answer["errors"] == [f"the plugin exceeded its memory limit ({limit}) and was killed"]
    assert retired(sandbox, answer["execution_id"])  # an abnormal end retires the container


def test_an_endless_loop_is_stopped_at_its_timeout(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    spin = attack("class Spin:\n    def execute(self, input_data):\n        while True:\n            pass\n")
    answer = run_attack(sandbox, spin, timeout=2)
    assert answer["status"] == "timeout"
    assert answer["errors"] == ["the plugin did not finish within 2 s and was stopped"]
    assert retired(sandbox, answer["execution_id"])


DAEMON = """
class Daemon:
    def execute(self, input_data):
        marker = input_data["parameters"]["marker"]
        if input_data["parameters"]["look"]:  # a later run: is the daemon still around?
            found = []
            for entry in _os.listdir("/proc"):
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as handle:
                        if marker.encode() in handle.read():
                            found.append(entry)
                except OSError:
                    continue
            return {"data": None, "metadata": {"found": found}}
        signals = _load("sig" + "nal")
        read, write = _os.pipe()
        child = _os.fork()
        if child == 0:
            _os.setsid()
            if _os.fork() == 0:
                for name in ("SIGTERM", "SIGHUP", "SIGINT"):
                    signals.signal(getattr(signals, name), signals.SIG_IGN)
                _os.write(write, str(_os.getpid()).encode())
                _os.execv("/bin/sleep", [marker, "300"])
            _os._exit(0)
        _os.waitpid(child, 0)
        daemon = int(_os.read(read, 16))
        _os.kill(daemon, 0)  # alive, and no longer our child
        return {"data": None, "metadata": {"daemon": daemon}}
"""


def test_a_daemonised_grandchild_dies_with_the_run(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    """Not in the next run of the same plugin (which may get the same container), nor on the
    host."""
    marker = f"omniscope-daemon-{uuid.uuid4().hex}"
    daemon = attack(DAEMON)
    planted = run_attack(sandbox, daemon, parameters={"marker": marker, "look": False})
    assert planted["status"] == "succeeded", planted["errors"]
    assert planted["metadata"]["daemon"] > 1
    later = run_attack(sandbox, daemon, parameters={"marker": marker, "look": True})
    assert later["metadata"] == {"found": []}
    assert host_processes_with(marker) == []


def host_processes_with(marker: str) -> list[int]:
    """Host PIDs whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


FILL = """
class Fill:
    def execute(self, input_data):
        seen = {}
        chunk = b"x" * (1 << 20)
        for folder in ("/tmp", "/out", "/dev/shm"):
            written, refused = 0, None
            fd = _os.open(folder + "/fill", _os.O_WRONLY | _os.O_CREAT, 0o600)
            try:
                while written < (1 << 30):
                    written += _os.write(fd, chunk)
            except OSError as exc:
                refused = _errno.errorcode.get(exc.errno)
            _os.close(fd)
            getattr(_os, "un" + "link")(folder + "/fill")
            seen[folder] = {"written": written, "refused": refused}
        return {"data": None, "metadata": seen}
"""


def test_filling_scratch_space_hits_its_cap(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    answer = run_attack(sandbox, attack(FILL))
    assert answer["status"] == "succeeded", answer["errors"]
    # In memory, not on the host's disk: sandbox_tmpfs_size, sandbox_out_size, Docker's /dev/shm.
    for folder in ("/tmp", "/out", "/dev/shm"):
        assert answer["metadata"][folder]["refused"] == "ENOSPC"
        assert 0 < answer["metadata"][folder]["written"] <= 64 * 1024 * 1024


PLANT = """
class Plant:
    def execute(self, input_data):
        p = input_data["parameters"]
        if p["look"]:  # a later run: what is left in the writable places?
            return {"data": None, "metadata": {d: sorted(_os.listdir(d)) for d in p["places"]}}
        for place in p["places"]:
            for name, host_file in p["links"].items():
                _os.symlink(host_file, f"{place}/{name}")
        return {"data": None, "metadata": {"planted": True}, "logs": ["links planted"]}
"""


def test_links_to_host_files_planted_in_outputs_lead_nowhere(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    """The host reads a run's result from the runner's channel, never from a path a plugin can
    touch: links named like results change nothing, and the next run finds none of them."""
    store_db = str(sandbox.session_factory().bind.url.database)  # type: ignore[union-attr]
    links = {"result.json": store_db, "data.arrow": "/etc/shadow", "events.jsonl": store_db}
    places = ["/out", "/tmp", "/dev/shm"]
    plant = attack(PLANT)
    planted = run_attack(sandbox, plant, parameters={"look": False, "places": places, "links": links})
    assert (planted["status"], planted["metadata"], planted["logs"]) == (
        "succeeded", {"planted": True}, ["links planted"]
    )  # fmt: skip
    later = run_attack(sandbox, plant, parameters={"look": True, "places": places, "links": {}})
    assert later["metadata"] == {place: [] for place in places}


def test_a_huge_result_is_refused_with_a_message(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    cap = sandbox.settings.max_result_json_bytes
    huge = attack(
        "class Huge:\n    def execute(self, input_data):\n"
        f"        return {{'data': None, 'metadata': {{'blob': 'x' * {cap}}}}}\n"
    )
    answer = run_attack(sandbox, huge)
    assert answer["status"] == "failed"
    assert f"bytes is above the {cap}-byte cap" in answer["errors"][0], answer["errors"]


def test_deeply_nested_data_is_refused_with_a_message(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    deep = attack(
        "class Deep:\n    def execute(self, input_data):\n        data = None\n"
        "        for _ in range(100000):\n            data = [data]\n"
        "        return {'data': data}\n"
    )
    answer = run_attack(sandbox, deep)
    assert answer["status"] == "failed"
    assert answer["errors"][0] == "RecursionError: maximum recursion depth exceeded"


def test_a_forged_deep_result_file_is_a_refused_output(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    """The plugin swaps the runner's own JSON writer: ``result.json`` arrives 100,000 deep.

    The host's parse raised RecursionError (a 500 for a synchronous REST run)."""
    forged = attack(
        "import json\n"
        "_dumps = json.dumps\n"
        "def deep(obj, *args, **kwargs):\n"
        "    return '[' * 100000 + ']' * 100000\n"
        "class Forger:\n"
        "    def execute(self, input_data):\n"
        "        json.dumps = deep\n"
        "        return {'data': 1}\n"
    )
    answer = run_attack(sandbox, forged)
    assert answer["status"] == "failed"
    assert any("nested too deeply" in e or "not valid JSON" in e for e in answer["errors"]), answer


def example(name: str) -> PluginTarget:
    folder = EXAMPLES / name
    return PluginTarget(
        plugin_id=name, version="1.0.0", path=folder,
        manifest=json.loads((folder / "manifest.json").read_text()),
    )  # fmt: skip


SPEC_ROWS = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
SPEC_COLUMNS = {"var1": [1, 2, 3, 4, 5], "var2": [2, 4, 6, 8, 10], "var3": [1, 3, 5, 7, 9]}


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("data_normalizer", {"input_data": SPEC_ROWS, "parameters": {"method": "zscore"},
                             "extension_point": "preprocessing"}),
        ("correlation_analyzer", {"input_data": SPEC_COLUMNS, "extension_point": "analysis",
                                  "parameters": {"method": "pearson", "threshold": 0.7}}),
        ("outlier_detector", {"input_data": {"x": [1, 2, 3, 2, 1, 100]},
                              "extension_point": "analysis"}),
    ],
)  # fmt: skip
def test_the_example_plugins_run(sandbox: ExecutionService, name: str, body: dict) -> None:
    """The examples work under each runtime (gVisor's user-space kernel runs them unchanged)."""
    answer = run_attack(sandbox, example(name), **body)
    assert answer["status"] == "succeeded", answer["errors"]
    if name == "data_normalizer":
        assert answer["data"]["data"] == [[-1.0] * 3, [0.0] * 3, [1.0] * 3]
    if name == "correlation_analyzer":
        assert [row[1:] for row in answer["data"]["data"]] == [[1.0, 1.0, 1.0]] * 3
