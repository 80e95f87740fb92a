"""Namespaces, veth pairs and bridges through iproute2 (batched: one `ip` process per namespace).

The lab's plumbing:
Layout (see lab/README.md for the picture):
  host: hkl-mgmt0 198.51.100.1/24  <->  hkl-core: bridge hkl-mgmt  <->  each CPE's management NIC
  hkl-core: one bridge per line (hkl-ln<i>) with the CPE's WAN, Kea/radvd and optionally the probe port;
            PPPoE lines also link to the BRAS segment (bridge hkl-pppoe) through a veth that only passes
            PPPoE ethertypes (nft bridge filter) on an isolated port (lines never see each other's PADI).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lab.topology import (
    BRAS_IF,
    BRAS_NS,
    BRAS_PORT,
    CORE_NS,
    CPE_LAN_ADDR,
    HOST_MGMT_ADDR,
    HOST_MGMT_IF,
    HOST_MGMT_PEER,
    LAN_HOST_ADDR,
    MGMT_BRIDGE,
    NGN_DNS6,
    NGN_NAMES,
    PPPOE_BRIDGE,
    PREFIX,
    PROBE_IF,
    PROBE_MAC,
    PROBE_NS,
    PROBE_PORT,
    Topology,
)

NETNS_DIR = Path("/run/netns")


class NetworkError(RuntimeError):
    pass


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True, timeout: float = 30) -> str:
    """Run a command; on failure raise with its stderr (never with secrets: none go through here)."""
    proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise NetworkError(f"{' '.join(argv[:4])}… failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def in_ns(netns: str | None, argv: Sequence[str]) -> list[str]:
    """argv run inside a namespace (or as is for the host)."""
    return list(argv) if netns is None else ["ip", "netns", "exec", netns, *argv]


def ip_batch(commands: Sequence[str], netns: str | None = None) -> None:
    """Apply many `ip` commands with one process (the lab's bring-up is mostly this)."""
    if not commands:
        return
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    run(argv, input="\n".join(commands) + "\n")


def add_netns(name: str) -> None:
    run(["ip", "netns", "add", name])


def list_netns(prefix: str = PREFIX) -> list[str]:
    out = run(["ip", "-j", "netns", "list"], check=False) or "[]"
    return sorted(entry["name"] for entry in json.loads(out) if entry["name"].startswith(prefix))


def netns_pids(name: str) -> list[int]:
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(tok) for tok in out.split()]


def delete_netns(name: str) -> None:
    run(["ip", "netns", "delete", name], check=False)


def host_links(prefix: str = PREFIX, netns: str | None = None) -> list[str]:
    out = run(["ip", *(["-n", netns] if netns else []), "-j", "link", "show"], check=False) or "[]"
    return sorted(link["ifname"] for link in json.loads(out) if link["ifname"].startswith(prefix))


def link_state(ifname: str, netns: str | None = None) -> str | None:
    """The link's operstate ("UP", "DOWN", "LOWERLAYERDOWN"), or None if it does not exist."""
    argv = ["ip", *(["-n", netns] if netns else []), "-j", "link", "show", "dev", ifname]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout or "[]")
    return data[0].get("operstate") if data else None


def set_link(ifname: str, up: bool, netns: str | None = None) -> None:
    run(["ip", *(["-n", netns] if netns else []), "link", "set", "dev", ifname, "up" if up else "down"])


def sysctl(netns: str | None, settings: dict[str, str | int]) -> None:
    """Several sysctls in one process; inside a namespace they apply to that namespace only."""
    args = [f"{key}={value}" for key, value in settings.items()]
    run(in_ns(netns, ["sysctl", "-q", "-w", *args]))


def nft(netns: str, ruleset: str) -> None:
    run(in_ns(netns, ["nft", "-f", "-"]), input=ruleset)


# Namespace-local sysctls: no IPv6 on ports that only carry frames for a guest or a bridge.
QUIET_IPV6 = {"net.ipv6.conf.default.disable_ipv6": 1, "net.ipv6.conf.all.disable_ipv6": 1}
NO_AUTOCONF = {"net.ipv6.conf.default.accept_ra": 0, "net.ipv6.conf.all.accept_ra": 0}


# ---------------------------------------------------------------- the lab's plumbing
PPPOE_ETHERTYPES = "{ 0x8863, 0x8864 }"


def namespaces(topo: Topology) -> list[str]:
    names = [CORE_NS, PROBE_NS]
    if topo.pppoe_lines:
        names.append(BRAS_NS)
    for line in topo.lines:
        names += [line.cpe_ns, line.lan_ns]
    return names


def _bridge(name: str) -> list[str]:
    # No STP (ports forward at once) and no multicast snooping (RS/RA/DHCPv6 multicast must always flood).
    return [
        f"link add {name} type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
        f"link set {name} up",
    ]


def _port(name: str, bridge: str) -> str:
    return f"link set {name} master {bridge} up"


def pppoe_filter(topo: Topology) -> str:
    """nft bridge ruleset for hkl-core: nothing but PPPoE enters or leaves the BRAS segment's links."""
    ports = [BRAS_PORT]
    for line in topo.pppoe_lines:
        ports += [line.pppoe_line_port, line.pppoe_bras_port]
    names = ", ".join(f'"{port}"' for port in ports)
    return (
        "table bridge hkl {\n"
        "  chain forward {\n"
        "    type filter hook forward priority 0; policy accept;\n"
        f"    iifname {{ {names} }} ether type != {PPPOE_ETHERTYPES} drop\n"
        f"    oifname {{ {names} }} ether type != {PPPOE_ETHERTYPES} drop\n"
        "  }\n"
        "}\n"
    )


def build(topo: Topology) -> tuple[list[str], list[str]]:
    """Create everything; return (namespaces, host links) as created, for the state file."""
    created_ns: list[str] = []
    for name in namespaces(topo):
        add_netns(name)
        created_ns.append(name)

    # Guest ports and the BRAS port carry frames for a UML guest only: no IPv6 of the namespace's own.
    for name in [line.cpe_ns for line in topo.lines] + ([BRAS_NS] if topo.pppoe_lines else []):
        sysctl(name, QUIET_IPV6)
    # Core: routes between lines (no way out exists), no DAD delay so Kea/radvd bind at once,
    # ports without IPv6 of their own (re-enabled on the line bridges below).
    sysctl(
        CORE_NS,
        {
            "net.ipv6.conf.all.forwarding": 1,
            "net.ipv6.conf.default.accept_dad": 0,
            "net.ipv6.conf.default.disable_ipv6": 1,
        },
    )
    sysctl(PROBE_NS, {"net.ipv6.conf.default.accept_dad": 0})

    core = ["link set lo up", *_bridge(MGMT_BRIDGE)]
    core += [f"addr add {addr}/128 dev lo" for addr in {NGN_DNS6, *NGN_NAMES.values()}]
    if topo.pppoe_lines:
        core += _bridge(PPPOE_BRIDGE)
        core.append(f"link add {BRAS_PORT} type veth peer name {BRAS_IF} netns {BRAS_NS}")
        core.append(_port(BRAS_PORT, PPPOE_BRIDGE))
    per_ns: dict[str, list[str]] = {PROBE_NS: ["link set lo up", f"link set {PROBE_IF} up"]}
    if topo.pppoe_lines:
        per_ns[BRAS_NS] = ["link set lo up", f"link set {BRAS_IF} up"]
    for line in topo.lines:
        core += _bridge(line.bridge)
        core.append(f"link add {line.wan_port} type veth peer name {line.cpe_wan_if} netns {line.cpe_ns}")
        core.append(_port(line.wan_port, line.bridge))
        core.append(f"link add {line.mgmt_port} type veth peer name {line.cpe_mgmt_if} netns {line.cpe_ns}")
        core.append(_port(line.mgmt_port, MGMT_BRIDGE))
        if line.profile.pppoe:
            core.append(f"link add {line.pppoe_line_port} type veth peer name {line.pppoe_bras_port}")
            core.append(_port(line.pppoe_line_port, line.bridge))
            core.append(_port(line.pppoe_bras_port, PPPOE_BRIDGE))
            core.append(f"link set dev {line.pppoe_bras_port} type bridge_slave isolated on")
        per_ns[line.cpe_ns] = [
            "link set lo up",
            f"link add {line.cpe_lan_if} type veth peer name {line.lan_host_if} netns {line.lan_ns}",
            *(f"link set {ifname} up" for ifname in (line.cpe_wan_if, line.cpe_mgmt_if, line.cpe_lan_if)),
        ]
        per_ns[line.lan_ns] = [
            "link set lo up",
            f"addr add {LAN_HOST_ADDR} dev {line.lan_host_if}",
            f"link set {line.lan_host_if} up",
            f"route add default via {CPE_LAN_ADDR.ip}",
        ]
    probe_line = topo.probe
    core.append(f"link add {PROBE_PORT} type veth peer name {PROBE_IF} address {PROBE_MAC} netns {PROBE_NS}")
    core.append(_port(PROBE_PORT, probe_line.bridge))
    core.append(f"link set {HOST_MGMT_PEER} master {MGMT_BRIDGE} up")

    # The host's one link into the lab: created here, its peer moved into the core at once.
    ip_batch([f"link add {HOST_MGMT_IF} type veth peer name {HOST_MGMT_PEER} netns {CORE_NS}"])
    host_links = [HOST_MGMT_IF]
    sysctl(None, {f"net.ipv6.conf.{HOST_MGMT_IF}.disable_ipv6": 1})
    ip_batch([f"addr add {HOST_MGMT_ADDR} dev {HOST_MGMT_IF}", f"link set {HOST_MGMT_IF} up"])

    ip_batch(core, CORE_NS)
    # Line bridges are the NGN edge's routed interfaces: IPv6 on, one address per line.
    sysctl(CORE_NS, {f"net.ipv6.conf.{line.bridge}.disable_ipv6": 0 for line in topo.lines})
    ip_batch([f"addr add {line.router_addr} dev {line.bridge}" for line in topo.lines], CORE_NS)
    if topo.pppoe_lines:
        nft(CORE_NS, pppoe_filter(topo))
    for name, cmds in per_ns.items():
        ip_batch(cmds, name)
    return created_ns, host_links
