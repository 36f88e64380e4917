"""The host firewall of the sandbox network: ``network`` opens the public internet, not the host.

A plugin holding ``network`` (and the dependency resolver's pip) joins the ``omniscope-sandbox``
bridge. Docker lets such a container reach every address the host can: the host itself on every
address of every interface (a service bound to 0.0.0.0 answers on the bridge gateways), other
containers, the host's private networks and the cloud metadata service. These iptables rules,
matched on the sandbox bridge interface, cut all of that and leave the public internet:

* ``INPUT -i <bridge>`` jumps to :data:`INPUT_CHAIN` (traffic addressed to the host itself, on
  any of its addresses): replies to connections the host opened, and DNS to the resolvers
  Docker's embedded DNS forwards to, pass; everything else is rejected.
* ``DOCKER-USER -i <bridge>`` (Docker's chain for forwarded traffic, evaluated before its own
  accept rules) jumps to :data:`FORWARD_CHAIN`: replies and DNS to the resolvers pass, then
  addresses of :data:`BLOCKED_V4` (private, shared, link-local incl. 169.254.169.254, loopback,
  multicast, reserved) are rejected; everything else (the public internet) goes on to Docker's
  rules. Administrators' ``allow`` entries pass before the rejections (an internal index).
* IPv6: the sandbox network has none (Docker disables it in its containers); every IPv6 packet
  from the bridge is rejected in ``INPUT`` and ``FORWARD`` all the same (covers ``fc00::/7``).

Rejections answer ICMP "administratively prohibited", so a plugin's connect fails at once
(``EHOSTUNREACH``) instead of hanging until its timeout.

The rules are installed in one ``iptables-restore --noflush`` transaction per family (so two
processes racing leave a complete set) and *verified* by reading ``iptables-save`` back: our
chains must hold exactly the expected rules, and each jump must be in its chain with no rule
before it that could match the bridge's packets (only rules for other interfaces may be).
:func:`guard` checks before every use of the network (about 10 ms), repairs what it can and
otherwise raises :class:`SandboxUnavailable` (503): without verified rules no plugin joins the
network. ``c.OmniscopeApp.sandbox_firewall = False`` turns this off for hosts firewalled
otherwise. Needs root (CAP_NET_ADMIN) and Debian's ``iptables``.

``python -m omniscope_jupyter.sandbox.firewall check|install|remove BRIDGE`` does the same by
hand.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import SandboxUnavailable

log = logging.getLogger(__name__)

#: Our chains (in the ``filter`` table of both families).
CHAIN_PREFIX = "OMNISCOPE-SANDBOX"
FORWARD_CHAIN = f"{CHAIN_PREFIX}-FWD"
INPUT_CHAIN = f"{CHAIN_PREFIX}-IN"
#: Never the public internet: RFC 1918, shared (CGNAT) 100.64/10, link-local 169.254/16 (cloud
#: metadata), "this network", loopback, multicast and the reserved 240/4 (incl. broadcast).
BLOCKED_V4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
#: Where Docker's embedded DNS (127.0.0.11 in the container) gets its upstream servers from. It
#: forwards from inside the container's network namespace, so those queries cross the bridge.
RESOLV_CONFS = (Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf"))
DOCKER_DAEMON_JSON = Path("/etc/docker/daemon.json")
#: Bridged traffic only meets iptables when this is 1 (Docker sets it; checked all the same).
BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
_REPLIES = "-m conntrack --ctstate RELATED,ESTABLISHED"
_REJECT = {4: "-j REJECT --reject-with icmp-admin-prohibited",
           6: "-j REJECT --reject-with icmp6-adm-prohibited"}  # fmt: skip
_FIX_HINT = (
    "Run the server as root (iptables needs CAP_NET_ADMIN) with Debian's iptables installed "
    "(scripts/setup.sh), or, if this host firewalls the sandbox network otherwise, set "
    "c.OmniscopeApp.sandbox_firewall = False."
)


@dataclass(frozen=True)
class FirewallPolicy:
    """Whether the rules are required, and which destinations pass despite being private."""

    enabled: bool = True
    #: IPv4 addresses or CIDR blocks the sandbox may reach although private (an internal index).
    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for entry in self.allow:
            network = ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
            if network.version != 4:
                raise ValueError(f"{entry}: the sandbox network has no IPv6; allow IPv4 only")


class FirewallUnverified(Exception):
    """The rules are not in place and could not be put there (the text says why)."""


@dataclass(frozen=True)
class RuleSet:
    """The rules one bridge needs, in ``iptables-save`` form (so they compare exactly)."""

    bridge: str
    resolvers: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    input_chain: str = INPUT_CHAIN
    forward_chain: str = FORWARD_CHAIN

    def parents(self, family: int) -> dict[str, str]:
        """``{built-in or Docker chain: our chain it jumps to}``; IPv4 forwarding goes through
        Docker's ``DOCKER-USER`` (evaluated first, and Docker keeps the user rules there)."""
        forward = "DOCKER-USER" if family == 4 else "FORWARD"
        return {"INPUT": self.input_chain, forward: self.forward_chain}

    def chain_rules(self, family: int) -> dict[str, list[str]]:
        """``{our chain: [rule, ...]}``."""
        inp, fwd, reject = self.input_chain, self.forward_chain, _REJECT[family]
        if family == 6:
            return {inp: [f"-A {inp} {reject}"], fwd: [f"-A {fwd} {reject}"]}
        passes = [_REPLIES, *self._dns(), *(f"-d {_cidr(a)}" for a in self.allow)]
        return {
            inp: [*(f"-A {inp} {m} -j RETURN" for m in passes), f"-A {inp} {reject}"],
            fwd: [*(f"-A {fwd} {m} -j RETURN" for m in passes),
                  *(f"-A {fwd} -d {b} {reject}" for b in BLOCKED_V4)],
        }  # fmt: skip

    def jumps(self, family: int) -> dict[str, str]:
        """``{parent chain: our jump in it}`` (inserted as its first rule)."""
        return {
            parent: f"-A {parent} -i {self.bridge} -j {chain}"
            for parent, chain in self.parents(family).items()
        }

    def _dns(self) -> list[str]:
        return [
            f"-d {ip}/32 -p {proto} -m {proto} --dport 53"
            for ip in self.resolvers
            for proto in ("udp", "tcp")
        ]


def _cidr(entry: str) -> str:
    return str(ipaddress.ip_network(entry, strict=False))


def _rules_of(saved: str, chain: str) -> list[str]:
    return [line.strip() for line in saved.splitlines() if line.startswith(f"-A {chain} ")]


def _has_chain(saved: str, chain: str) -> bool:
    return f"\n:{chain} " in f"\n{saved}"


def problems(saved: str, rules: RuleSet, family: int) -> list[str]:
    """What in ``iptables-save -t filter`` output differs from ``rules`` (empty: all in place)."""
    found: list[str] = []
    for chain, expected in rules.chain_rules(family).items():
        actual = _rules_of(saved, chain)
        if actual != expected:
            found.append(f"IPv{family} chain {chain} is {'altered' if actual else 'missing'}")
    for parent, jump in rules.jumps(family).items():
        if not _has_chain(saved, parent):
            found.append(f"IPv{family} chain {parent} does not exist")
            continue
        before = _rules_of(saved, parent)
        if jump not in before:
            found.append(f"IPv{family} {parent} lacks the jump for {rules.bridge}")
        elif not all(_other_interface(r, rules.bridge) for r in before[: before.index(jump)]):
            found.append(f"IPv{family} {parent} has rules for {rules.bridge} before our jump")
    return found


def _other_interface(rule: str, bridge: str) -> bool:
    """Whether ``rule`` only matches packets coming in on another interface than ``bridge``
    (so it may stand before our jump: e.g. the jump of another bridge's rules)."""
    words = rule.split()
    if "-i" not in words or words[words.index("-i") - 1] == "!":
        return False
    interface = words[words.index("-i") + 1]
    if interface.endswith("+"):  # iptables' wildcard
        return not bridge.startswith(interface[:-1])
    return interface != bridge


def _stale_jumps(saved: str, rules: RuleSet, family: int) -> list[str]:
    """Deletions of every jump from a parent chain to ours (whatever bridge it names)."""
    ours = set(rules.parents(family).values())
    return [
        "-D" + line[2:]
        for parent in rules.parents(family)
        for line in _rules_of(saved, parent)
        if line.split()[-1] in ours
    ]


def restore_script(saved: str, rules: RuleSet, family: int) -> str:
    """An ``iptables-restore --noflush`` script that puts ``rules`` in place in one transaction:
    our chains refilled, stale jumps (e.g. to a former bridge) removed, the jumps put first."""
    chains = rules.chain_rules(family)
    lines = ["*filter"]
    lines += [f":{chain} - [0:0]" for chain in chains if not _has_chain(saved, chain)]
    lines += [f"-F {chain}" for chain in chains]
    lines += [rule for chain_rules in chains.values() for rule in chain_rules]
    lines += _stale_jumps(saved, rules, family)
    lines += [
        f"-I {parent} 1" + jump[len(f"-A {parent}") :]
        for parent, jump in rules.jumps(family).items()
    ]
    return "\n".join([*lines, "COMMIT"]) + "\n"


def removal_script(saved: str, rules: RuleSet, family: int) -> str:
    """An ``iptables-restore --noflush`` script that takes our jumps and chains out."""
    chains = [chain for chain in rules.chain_rules(family) if _has_chain(saved, chain)]
    lines = ["*filter", *_stale_jumps(saved, rules, family)]
    lines += [f"-F {chain}" for chain in chains] + [f"-X {chain}" for chain in chains]
    return "\n".join([*lines, "COMMIT"]) + "\n"


def host_resolvers(paths: Iterable[Path] = RESOLV_CONFS, daemon_json: Path = DOCKER_DAEMON_JSON) -> tuple[str, ...]:
    """IPv4 upstream DNS servers of Docker's embedded resolver (loopback ones excluded: the
    engine queries those itself, from the host)."""
    found: list[str] = []
    try:
        configured = json.loads(daemon_json.read_text()).get("dns") or []
    except (OSError, ValueError, AttributeError):
        configured = []
    candidates = [str(c) for c in configured]
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        candidates += re.findall(r"^\s*nameserver\s+(\S+)", text, flags=re.MULTILINE)
    for candidate in candidates:
        try:
            ip = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if ip.version == 4 and not ip.is_loopback and str(ip) not in found:
            found.append(str(ip))
    return tuple(found)


class Iptables:
    """``iptables-save``/``iptables-restore`` of one family (Debian's binaries, as Docker uses)."""

    def __init__(self, family: int, binary: str | None = None) -> None:
        self.family = family
        self.binary = binary or ("iptables" if family == 4 else "ip6tables")

    def save(self) -> str:
        return self._run([f"{self.binary}-save", "-t", "filter"])

    def restore(self, script: str) -> None:
        self._run([f"{self.binary}-restore", "--noflush", "--wait", "10"], script)

    def _run(self, argv: Sequence[str], stdin: str | None = None) -> str:
        try:
            proc = subprocess.run(
                argv, input=stdin, capture_output=True, text=True, timeout=30, check=False
            )
        except FileNotFoundError as exc:
            raise FirewallUnverified(f"{argv[0]} is not installed (apt-get install iptables)") from exc
        except subprocess.TimeoutExpired as exc:
            raise FirewallUnverified(f"{argv[0]} did not answer within 30 s") from exc
        if proc.returncode != 0:
            text = (proc.stderr or proc.stdout).strip().splitlines()
            raise FirewallUnverified(f"{argv[0]} failed: {text[-1] if text else proc.returncode}")
        return proc.stdout


class SandboxFirewall:
    """Checks and installs the rules of one bridge; thread-safe (one install at a time).

    ``chain_prefix`` names our two chains (``<prefix>-IN``, ``<prefix>-FWD``); tests use
    their own so they never touch the server's rules.
    """

    def __init__(
        self,
        policy: FirewallPolicy | None = None,
        *,
        tables: Sequence[Iptables] | None = None,
        resolvers: tuple[str, ...] | None = None,
        chain_prefix: str = CHAIN_PREFIX,
    ) -> None:
        self.policy = policy or FirewallPolicy()
        self.tables = list(tables) if tables is not None else [Iptables(4), Iptables(6)]
        self._resolvers = resolvers
        self._chains = {"input_chain": f"{chain_prefix}-IN", "forward_chain": f"{chain_prefix}-FWD"}
        self._lock = threading.Lock()

    def rules(self, bridge: str) -> RuleSet:
        """The rules ``bridge`` needs under this policy and the host's current resolvers."""
        resolvers = self._resolvers if self._resolvers is not None else host_resolvers()
        return RuleSet(bridge, resolvers, self.policy.allow, **self._chains)

    def check(self, bridge: str) -> list[str]:
        """What is missing or altered (empty: the rules are in place); raises
        ``FirewallUnverified`` when the tables cannot even be read."""
        rules = self.rules(bridge)
        found = _bridge_nf_problem()
        for table in self.tables:
            found += problems(table.save(), rules, table.family)
        return found

    def install(self, bridge: str) -> None:
        """Put the rules in place (idempotent) and verify them; ``FirewallUnverified`` if not."""
        rules = self.rules(bridge)
        with self._lock:
            for table in self.tables:
                saved = table.save()
                for parent in rules.parents(table.family):
                    if not _has_chain(saved, parent):
                        raise FirewallUnverified(
                            f"IPv{table.family} chain {parent} does not exist (is Docker "
                            "running with its iptables integration on?)"
                        )
                if problems(saved, rules, table.family):
                    table.restore(restore_script(saved, rules, table.family))
            left = self.check(bridge)
        if left:
            raise FirewallUnverified("; ".join(left))

    def remove(self) -> None:
        """Take our jumps and chains out (by hand, and for tests' own chains)."""
        rules = self.rules("unused")
        with self._lock:
            for table in self.tables:
                table.restore(removal_script(table.save(), rules, table.family))

    def guard(self, bridge: str) -> None:
        """Make sure the rules hold for ``bridge`` before a container joins it.

        Verifies (about 10 ms), installs or repairs when needed, and raises
        ``SandboxUnavailable`` (503) when they cannot be verified; does nothing when the policy
        is disabled.
        """
        if not self.policy.enabled:
            return
        try:
            if not self.check(bridge):
                return
            self.install(bridge)
            log.info("sandbox firewall installed for bridge %s", bridge)
        except FirewallUnverified as exc:
            raise SandboxUnavailable(
                "network access is refused: the sandbox firewall (the rules that keep plugins "
                "holding 'network' off this host, other containers and private networks) could "
                f"not be installed or verified on bridge {bridge}: {exc}. {_FIX_HINT}"
            ) from exc


def _bridge_nf_problem() -> list[str]:
    try:
        value = BRIDGE_NF.read_text().strip()
    except OSError:
        return ["the br_netfilter module is not loaded (bridged traffic bypasses iptables)"]
    return [] if value == "1" else [f"{BRIDGE_NF} is {value}, not 1"]


#: The process's firewall: set from the configuration (``config.make_system``); tests swap it.
_active = SandboxFirewall()


def configure(policy: FirewallPolicy) -> SandboxFirewall:
    """Use ``policy`` for every later :func:`guard` of this process; the new firewall."""
    global _active
    _active = SandboxFirewall(policy)
    return _active


def active() -> SandboxFirewall:
    """The process's firewall (the one :func:`guard` uses)."""
    return _active


def guard(bridge: str) -> None:
    """:meth:`SandboxFirewall.guard` of the process's firewall."""
    _active.guard(bridge)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omniscope_jupyter.sandbox.firewall check|install|remove [BRIDGE]``."""
    parser = argparse.ArgumentParser(prog="python -m omniscope_jupyter.sandbox.firewall")
    parser.add_argument("action", choices=["check", "install", "remove"])
    parser.add_argument("bridge", nargs="?", help="bridge interface (check/install)")
    parser.add_argument("--allow", action="append", default=[], help="IPv4 CIDR to let through")
    args = parser.parse_args(argv)
    firewall = SandboxFirewall(FirewallPolicy(allow=tuple(args.allow)))
    try:
        if args.action == "remove":
            firewall.remove()
            return 0
        if not args.bridge:
            parser.error("check and install need the bridge interface")
        if args.action == "install":
            firewall.install(args.bridge)
        found = firewall.check(args.bridge)
    except FirewallUnverified as exc:
        print(f"firewall: {exc}", file=sys.stderr)
        return 1
    print("\n".join(found) if found else f"firewall: rules in place for {args.bridge}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
