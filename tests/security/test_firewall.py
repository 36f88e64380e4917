"""The sandbox network's host firewall: the rules, their install and repair, and refusals.

What the rules do to real traffic is in ``test_container_attacks.py``; here the rules are
installed under chains of their own (``TEST_PREFIX``) for an interface that does not exist,
so the server's rules and everyone else's traffic are never touched.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from traitlets import TraitError

from omniscope_jupyter.config import OmniscopeConfig, make_system
from omniscope_jupyter.errors import SandboxUnavailable
from omniscope_jupyter.sandbox import firewall, pip_container
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.firewall import (
    BLOCKED_V4,
    FirewallPolicy,
    Iptables,
    RuleSet,
    SandboxFirewall,
    problems,
)
from omniscope_jupyter.sandbox.pip_container import PipContainer
from omniscope_jupyter.sandbox.runner import SandboxRunner
from tests.prereq import missing

from .conftest import AttackFactory, run_attack

TEST_PREFIX = f"OMNITEST-{uuid.uuid4().hex[:6].upper()}"
OK = "class Ok:\n    def execute(self, input_data):\n        return {'data': None}\n"


def test_the_rules_cut_every_private_range_and_let_only_dns_and_allowed_through() -> None:
    rules = RuleSet("omnisandbox0", resolvers=("10.255.255.53",), allow=("10.9.8.0/24",))
    forward = rules.chain_rules(4)[rules.forward_chain]
    assert forward == [
        f"-A {rules.forward_chain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"-A {rules.forward_chain} -d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN",
        f"-A {rules.forward_chain} -d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j RETURN",
        f"-A {rules.forward_chain} -d 10.9.8.0/24 -j RETURN",
        *(f"-A {rules.forward_chain} -d {block} -j REJECT --reject-with icmp-admin-prohibited"
          for block in BLOCKED_V4),
    ]  # fmt: skip
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
            "100.64.0.0/10"} <= set(BLOCKED_V4)  # fmt: skip
    # Traffic to the host itself: nothing but replies, DNS and allowed addresses.
    assert rules.chain_rules(4)[rules.input_chain][-1].endswith("-j REJECT --reject-with icmp-admin-prohibited")
    assert rules.chain_rules(6) == {
        chain: [f"-A {chain} -j REJECT --reject-with icmp6-adm-prohibited"]
        for chain in (rules.input_chain, rules.forward_chain)
    }
    assert rules.jumps(4) == {
        "INPUT": f"-A INPUT -i omnisandbox0 -j {rules.input_chain}",
        "DOCKER-USER": f"-A DOCKER-USER -i omnisandbox0 -j {rules.forward_chain}",
    }


def test_verification_spots_missing_altered_and_overtaken_rules() -> None:
    rules = RuleSet("br-sbx")
    good = "\n".join([
        "*filter", ":INPUT ACCEPT [0:0]", ":DOCKER-USER - [0:0]",
        f":{rules.input_chain} - [0:0]", f":{rules.forward_chain} - [0:0]",
        "-A INPUT -i other0 -j SOMEONE-ELSES",  # another interface's rule may come first
        rules.jumps(4)["INPUT"], "-A INPUT -j ACCEPT",
        rules.jumps(4)["DOCKER-USER"], "-A DOCKER-USER -j RETURN",
        *[rule for chain in rules.chain_rules(4).values() for rule in chain], "COMMIT",
    ])  # fmt: skip
    assert problems(good, rules, 4) == []
    altered = good.replace("-d 10.0.0.0/8", "-d 10.0.0.0/9")
    assert problems(altered, rules, 4) == [f"IPv4 chain {rules.forward_chain} is altered"]
    overtaken = good.replace("-A INPUT -i other0", "-A INPUT -m conntrack --ctstate NEW -j ACCEPT\n-A INPUT -i other0")
    assert problems(overtaken, rules, 4) == ["IPv4 INPUT has rules for br-sbx before our jump"]
    wildcard = good.replace("-A INPUT -i other0", "-A INPUT -i br-+")
    assert problems(wildcard, rules, 4) == ["IPv4 INPUT has rules for br-sbx before our jump"]
    gone = good.replace(rules.jumps(4)["DOCKER-USER"] + "\n", "")
    assert problems(gone, rules, 4) == ["IPv4 DOCKER-USER lacks the jump for br-sbx"]


def test_allow_entries_are_ipv4_addresses_or_blocks() -> None:
    assert FirewallPolicy(allow=("10.1.2.3", "192.168.4.0/24")).allow
    for bad in ("fd00::1/64", "not-an-address"):
        with pytest.raises(ValueError, match=bad.split("/")[0]):
            FirewallPolicy(allow=(bad,))
    with pytest.raises(TraitError, match="sandbox_network_allow"):
        OmniscopeConfig(sandbox_network_allow=["fd00::/8"])


@pytest.fixture
def own_chains() -> Iterator[SandboxFirewall]:
    """A firewall with chains of its own (for an interface that does not exist), removed after."""
    if subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, check=False).returncode:
        missing("iptables readable by this user (root) with Docker's chains")
    wall = SandboxFirewall(resolvers=("10.255.255.53",), chain_prefix=TEST_PREFIX)
    yield wall
    wall.remove()


def saved(family: int) -> str:
    return Iptables(family).save()


def test_install_is_idempotent_and_repairs_tampering(own_chains: SandboxFirewall) -> None:
    bridge = "osecdummy0"
    assert own_chains.check(bridge)  # nothing there yet
    own_chains.install(bridge)
    own_chains.install(bridge)
    assert own_chains.check(bridge) == []
    rules = own_chains.rules(bridge)
    for family in (4, 6):
        text = saved(family)
        for jump in rules.jumps(family).values():
            assert text.count(jump) == 1, jump  # one jump each, however often installed
    # Tamper: drop the metadata rejection; put an ACCEPT for the bridge above our jump.
    metadata = "-d 169.254.0.0/16 -j REJECT --reject-with icmp-admin-prohibited"
    subprocess.run(["iptables", "-D", rules.forward_chain, *metadata.split()], check=True)
    subprocess.run(["iptables", "-I", "INPUT", "1", "-i", bridge, "-j", "ACCEPT"], check=True)
    try:
        assert own_chains.check(bridge) == [
            f"IPv4 chain {rules.forward_chain} is altered",
            f"IPv4 INPUT has rules for {bridge} before our jump",
        ]
        own_chains.guard(bridge)  # repairs: refilled chain, the jump first again
        assert own_chains.check(bridge) == []
    finally:
        subprocess.run(["iptables", "-D", "INPUT", "-i", bridge, "-j", "ACCEPT"], check=False)
    own_chains.install("osecdummy1")  # the network was recreated on another bridge
    assert rules.jumps(4)["INPUT"] not in saved(4)
    own_chains.remove()
    assert TEST_PREFIX not in saved(4) and TEST_PREFIX not in saved(6)


class _Broken(Iptables):
    """iptables as on a host without it (or as a user who may not use it)."""

    def __init__(self, family: int) -> None:
        super().__init__(family, binary="/nonexistent/iptables")


@pytest.fixture
def broken_firewall(monkeypatch: pytest.MonkeyPatch) -> SandboxFirewall:
    """The process's firewall cannot read or write any rule."""
    wall = SandboxFirewall(tables=[_Broken(4), _Broken(6)])
    monkeypatch.setattr(firewall, "_active", wall)
    return wall


def test_unverifiable_rules_refuse_network_runs_with_503(
    broken_firewall: SandboxFirewall, sandbox: ExecutionService, attack: AttackFactory
) -> None:
    networked = attack(OK, permissions=("network",))
    with pytest.raises(SandboxUnavailable) as refused:
        sandbox.run(networked, {"extension_point": "analysis"})
    assert refused.value.status == 503
    message = refused.value.message
    assert message.startswith("network access is refused: the sandbox firewall")
    assert "/nonexistent/iptables-save is not installed (apt-get install iptables)" in message
    assert "c.OmniscopeApp.sandbox_firewall = False" in message
    (record,) = sandbox.page(networked.plugin_id)["executions"]
    recorded = asyncio.run(sandbox.get(networked.plugin_id, record["execution_id"]))
    assert (recorded["status"], recorded["errors"]) == ("failed", [message])
    assert record["execution_id"] not in sandbox.runner.served  # refused before any container
    # Runs without the permission never join the network: they are not affected.
    assert run_attack(sandbox, attack(OK))["status"] == "succeeded"
    assert sandbox.check_sandbox() == [message]


def test_the_opt_out_skips_the_firewall(
    monkeypatch: pytest.MonkeyPatch, sandbox: ExecutionService, attack: AttackFactory
) -> None:
    wall = SandboxFirewall(FirewallPolicy(enabled=False), tables=[_Broken(4), _Broken(6)])
    monkeypatch.setattr(firewall, "_active", wall)
    assert run_attack(sandbox, attack(OK, permissions=("network",)))["status"] == "succeeded"


def test_the_dependency_resolver_is_refused_too(
    broken_firewall: SandboxFirewall,
    monkeypatch: pytest.MonkeyPatch,
    engine_client: docker.DockerClient,
    images: dict[str, str],
    tmp_path: Path,
) -> None:
    """pip's container joins the same network through the same gate."""
    monkeypatch.setattr(pip_container, "ensure_resolver_image", lambda *a: images["python"])
    pip = PipContainer(client_factory=lambda: engine_client)
    with pip.workspace(tmp_path) as workspace, pytest.raises(SandboxUnavailable, match="sandbox firewall"):
        pip.run(["--version"], workspace)


@pytest.mark.parametrize("runtime", ["runc"], indirect=True)
def test_an_unregistered_runtime_is_reported_at_start_and_refuses_runs(
    sandbox: ExecutionService, attack: AttackFactory
) -> None:
    settings = replace(sandbox.settings, runtime="no-such-runtime")
    broken = ExecutionService(sandbox.session_factory, SandboxRunner(settings), settings)
    expected = "sandbox_runtime is 'no-such-runtime' but the Docker engine has no such runtime"
    assert [p[: len(expected)] for p in broken.check_sandbox()] == [expected]
    with pytest.raises(SandboxUnavailable, match=expected):
        broken.run(attack(OK), {"extension_point": "analysis"})
    broken.runner.close()


def test_the_settings_reach_the_sandbox_and_the_process_firewall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firewall, "_active", firewall.active())  # restored afterwards
    config = OmniscopeConfig(
        data_dir=str(tmp_path / "store"), sandbox_runtime="runsc", sandbox_firewall=False,
        sandbox_network_allow=["10.1.2.3/32"], seed_marketplace=False,
    )  # fmt: skip
    settings = config.sandbox_settings()
    assert (settings.runtime, settings.firewall, settings.network_allow) == ("runsc", False, ("10.1.2.3/32",))
    system = make_system(config)
    try:
        assert firewall.active().policy == FirewallPolicy(enabled=False, allow=("10.1.2.3/32",))
    finally:
        system.close()
