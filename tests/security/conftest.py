"""Fixtures of the security tests: attacker plugins run in the real sandbox under each runtime,
and targets to attack (a host listener, test hosts in a network namespace, neighbour containers).

Every attack plugin is first scanned as the install pipeline would and must pass (it is written
to slip past the static scan); what contains it is the sandbox. Nothing may be left behind: no
container of a test's runs once its plugins are forgotten, and at the end no container with our
labels and no run folder.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from omniscope_jupyter.sandbox.container import OWNER_LABEL, is_gvisor
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.runner import SandboxRunner
from omniscope_jupyter.sandbox.settings import SandboxSettings
from omniscope_jupyter.scan.scanner import PackageScanner
from omniscope_jupyter.store.orm import Base, Execution
from tests.prereq import missing
from tests.sandbox import conftest as sandbox_fixtures
from tests.sandbox.conftest import PluginFactory, retired

# Fixtures shared with the sandbox tests: the engine, the runner images, plugin folders.
engine_client = sandbox_fixtures.engine_client
sandbox_settings = sandbox_fixtures.sandbox_settings
images = sandbox_fixtures.images
make_plugin = sandbox_fixtures.make_plugin

SECURITY_OWNER = f"sec-{uuid.uuid4().hex[:8]}"
#: Runtimes every attack runs under; runsc only where gVisor works (see ``runtime``).
RUNTIMES = ("runc", "runsc")
#: Label of the helper containers the attacks aim at (never a run's labels).
TARGET_LABEL = "omniscope.test-target"


def debian_has_runsc() -> bool:
    """Whether this system's Debian archive has the ``runsc`` package (bookworm has)."""
    if shutil.which("apt-cache") is None:
        return False
    probe = subprocess.run(
        ["apt-cache", "show", "runsc"], capture_output=True, timeout=60, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="session", params=RUNTIMES)
def runtime(
    request: pytest.FixtureRequest, engine_client: docker.DockerClient, images: dict[str, str]
) -> str:
    """The OCI runtime of the attacked containers. runsc is skipped (even in CI) only where
    Debian has no runsc package; packaged but not working is a broken setup (fails in CI)."""
    name = str(request.param)
    if not is_gvisor(name):
        return name
    if name not in (engine_client.info().get("Runtimes") or {}):
        if not debian_has_runsc():
            pytest.skip("gVisor: this Debian release has no runsc package")
        missing("gVisor: runsc is packaged but not registered with Docker (scripts/ensure-docker.sh)")
    try:
        engine_client.containers.run(
            images["python"], ["true"], runtime=name, network_mode="none", remove=True
        )
    except docker.errors.DockerException as exc:
        missing(f"gVisor: runsc is registered but cannot run a container here: {exc}")
    return name


@pytest.fixture(scope="session")
def attack_settings(
    runtime: str, tmp_path_factory: pytest.TempPathFactory
) -> SandboxSettings:
    # The product's default limits (memory, CPU, processes, /tmp), a shorter timeout and a
    # smaller result cap (so a test need not produce 16 MiB to meet it).
    return SandboxSettings(
        timeout=30,
        log_cap_bytes=16 * 1024,
        max_result_json_bytes=1024 * 1024,
        owner=SECURITY_OWNER,
        work_dir=tmp_path_factory.mktemp(f"attack-runs-{runtime}"),
        runtime=runtime,
    )


@pytest.fixture(scope="session")
def attack_runner(
    images: dict[str, str], attack_settings: SandboxSettings, engine_client: docker.DockerClient
) -> Iterator[SandboxRunner]:
    runner = SandboxRunner(attack_settings)
    yield runner
    runner.shutdown()
    ours = {"label": f"{OWNER_LABEL}={SECURITY_OWNER}"}
    for _ in range(150):  # containers the drain stopped remove themselves (auto_remove)
        left = engine_client.containers.list(all=True, filters=ours)
        if not left:
            break
        time.sleep(0.2)
    assert not left, f"labelled containers left after the attacks: {[c.name for c in left]}"
    # A drained pool removes its run folder once it is empty.
    work_dir = attack_settings.work_dir
    folders = [p.name for p in work_dir.iterdir() if p.is_dir()] if work_dir.exists() else []
    assert folders in ([], [".owners"]), f"run folders left after the attacks: {folders}"


@pytest.fixture
def sandbox(attack_runner: SandboxRunner, tmp_path: Path) -> Iterator[ExecutionService]:
    """An execution service on a fresh store whose runs use the runtime under test.

    Afterwards the test's plugins are forgotten (as at uninstall) and every container that
    served one of its runs must be gone; the pool keeps a plugin's container between its runs
    by design. At the end of the session no container with our labels and no run folder is left.
    """
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    Base.metadata.create_all(engine)
    service = ExecutionService(
        sessionmaker(engine, expire_on_commit=False), attack_runner, attack_runner.settings
    )
    yield service
    with service.session_factory() as session:
        runs = session.execute(select(Execution.id, Execution.plugin_name)).all()
    for plugin_id in {plugin for _, plugin in runs}:
        service.forget_plugin(plugin_id)
    kept = [run for run, _ in runs if not retired(service, run)]
    assert not kept, f"containers of these runs outlived their plugin: {kept}"


#: What every attack starts with: modules fetched by computed names, so no import, call or
#: module name the scan looks for appears in the source.
PRELUDE = """
import importlib
_load = importlib.import_module
_os = _load("o" + "s")
_net = _load("so" + "cket")
_errno = _load("er" + "rno")
"""
_SCANNED: dict[str, bool] = {}

AttackFactory = Callable[..., PluginTarget]


@pytest.fixture
def attack(make_plugin: PluginFactory) -> AttackFactory:
    """``attack(code, permissions=(...))``: a plugin of ``PRELUDE`` + ``code`` that the
    install-time scan lets through (asserted), ready to run."""

    def make(code: str, **kwargs: Any) -> PluginTarget:
        target = make_plugin(PRELUDE + textwrap.dedent(code), **kwargs)
        key = json.dumps([PRELUDE + code, target.manifest["permissions"]])
        if key not in _SCANNED:
            report = PackageScanner().scan(target.path, target.manifest)
            assert not report.blocking, [f.__dict__ for f in report.findings]
            _SCANNED[key] = True
        return target

    return make


def run_attack(service: ExecutionService, target: PluginTarget, **body: Any) -> dict[str, Any]:
    """Run ``target`` (extension point ``analysis``) to its end; its answer."""
    return service.run(target, {"extension_point": "analysis", **body})


@dataclass
class HostListener:
    """A TCP listener on 0.0.0.0 of the host: every address of every interface."""

    port: int
    accepted: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
def host_listener() -> Iterator[HostListener]:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.2)
    listener = HostListener(server.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except OSError:
                continue
            with conn:
                listener.accepted.append(peer)
                conn.sendall(b"host")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener
    stop.set()
    thread.join()
    server.close()


def host_ipv4_addresses() -> list[str]:
    """Every IPv4 address of every host interface but loopback (the bridges' gateways too)."""
    out = subprocess.run(
        ["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(
        info["local"]
        for link in json.loads(out)
        for info in link.get("addr_info", [])
        if not ipaddress.ip_address(info["local"]).is_loopback
    )


#: Addresses of the network-namespace test host: one per range the firewall cuts off, and one
#: that is not private (it stands for the public internet, deterministically, on this machine).
TEST_HOST_PRIVATE = {
    "10.0.0.0/8": "10.251.77.2",
    "172.16.0.0/12": "172.16.251.2",
    "192.168.0.0/16": "192.168.251.2",
    "100.64.0.0/10": "100.64.251.2",
    "169.254.169.254 (cloud metadata)": "169.254.169.254",
}
TEST_HOST_PUBLIC = "198.51.100.77"
_TEST_HOST_LINK = ("10.251.77.1", "10.251.77.2")
_NETNS_PREFIX = "omnisec-"
_ECHO_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(64)
while True:
    conn, _ = server.accept()
    with conn:
        conn.sendall(conn.getsockname()[0].encode())
"""


@dataclass(frozen=True)
class NetnsHost:
    """A host of our own in a network namespace, answering its address on ``port``."""

    namespace: str
    port: int

    @property
    def addresses(self) -> list[str]:
        return [*TEST_HOST_PRIVATE.values(), TEST_HOST_PUBLIC]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def netns_host() -> Iterator[NetnsHost]:
    """A veth pair into a fresh network namespace holding every ``TEST_HOST_*`` address (host
    routes for them point into it, so no packet to them ever leaves this machine)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        missing("network-namespace test hosts need root and iproute2")
    _remove_stale_test_hosts()
    tag = uuid.uuid4().hex[:6]
    namespace, outer, inner = f"{_NETNS_PREFIX}{tag}", f"osh{tag}", f"osn{tag}"
    host_side, ns_side = _TEST_HOST_LINK
    _ip("netns", "add", namespace)
    server = None
    try:
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", namespace)
        _ip("addr", "add", f"{host_side}/32", "dev", outer)
        _ip("link", "set", outer, "up")
        inside = ("-n", namespace)
        _ip(*inside, "link", "set", "lo", "up")
        for address in NetnsHost(namespace, 0).addresses:
            _ip(*inside, "addr", "add", f"{address}/32", "dev", inner)
            _ip("route", "add", f"{address}/32", "dev", outer)
        _ip(*inside, "link", "set", inner, "up")
        _ip(*inside, "route", "add", f"{host_side}/32", "dev", inner)
        _ip(*inside, "route", "add", "default", "via", host_side, "dev", inner)
        port = 18080
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", _ECHO_SERVER, str(port)]
        )
        host = NetnsHost(namespace, port)
        _wait_until_answering(ns_side, port)
        yield host
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", namespace], check=False)  # takes the veth along


def _remove_stale_test_hosts() -> None:
    """Namespaces (with their veth and routes) of a test run that was killed before cleanup."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listed.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(_NETNS_PREFIX):
            subprocess.run(["ip", "netns", "del", name], check=False)


def _wait_until_answering(address: str, port: int) -> None:
    for _ in range(100):
        try:
            with socket.create_connection((address, port), timeout=1) as conn:
                if conn.recv(64):
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the test host never answered on {address}:{port}")


def answer_from(address: str, port: int) -> str:
    """What a TCP service at ``address:port`` says first, asked from the host."""
    with socket.create_connection((address, port), timeout=3) as conn:
        return conn.recv(64).decode()


@pytest.fixture
def neighbours(
    engine_client: docker.DockerClient, images: dict[str, str]
) -> Iterator[dict[str, str]]:
    """Two running containers listening on 8080, ``{network: address}``: one on Docker's default
    bridge, one on the sandbox network (where a plugin holding ``network`` lives)."""
    from omniscope_jupyter.sandbox.container import SANDBOX_NETWORK, ensure_network

    ensure_network(engine_client)
    made: list[Any] = []
    addresses: dict[str, str] = {}
    try:
        for network in ("bridge", SANDBOX_NETWORK):
            container = engine_client.containers.run(
                images["python"],
                ["python3", "-c", _ECHO_SERVER, "8080"],
                network=network,
                user="65534:65534",
                cap_drop=["ALL"],
                read_only=True,
                labels={TARGET_LABEL: "neighbour"},
                detach=True,
            )
            made.append(container)
            container.reload()
            addresses[network] = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
            _wait_until_answering(addresses[network], 8080)
        yield addresses
    finally:
        for container in made:
            container.remove(force=True)
