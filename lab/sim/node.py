"""Start and stop a simulated router (a test double) inside the running lab.

Simulator k lives in namespace `hkl-sim<k>` with two links into hkl-core: its management port on the
management bridge at 198.51.100.(200+k) (the host reaches it over hkl-mgmt0, like the CPEs), and its WAN port
on an existing customer line's bridge, sharing that line with the line's CPE (a Cross line for PD, a Next line
for PPPoE: the lab's accounts allow two sessions). The SSH server (lab.sim.ssh_server) runs inside the
namespace; its pid is recorded under the lab's run directory and stop() ends it (gracefully first, so the WAN
is torn down as a router would) and removes the namespace, which takes both links with it.

    from lab.sim.node import start_sim, stop_sim
    sim = start_sim(lab, 1, "yamaha-rtx", line=1)
    conn = netmiko.ConnectHandler(**sim.netmiko())
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path

from pydantic import BaseModel, SecretStr

from lab import network as net
from lab import procs
from lab.state import ProcRecord
from lab.topology import CORE_NS, MGMT_BRIDGE, MGMT_NET

SIM_NS = re.compile(r"^hkl-sim(\d+)$")
MAX_SIMS = 54                       # 198.51.100.201 .. .254
VENDORS = {"yamaha-rtx": ("yamaha", "RTX830"), "nec-ix": ("nec_ix", "IX2215")}
WAN_IF, MGMT_IF = "wan0", "mgmt0"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0                 # PPPoE teardown and the DHCPv6 Release happen on SIGTERM


class SimError(RuntimeError):
    pass


class SimInfo(BaseModel):
    """What a test or driver needs to reach a simulated router. Secrets are SecretStr."""

    index: int
    vendor: str
    model: str
    line: int
    netns: str
    mgmt_ip: str
    wan_mac: str
    username: str
    password: SecretStr
    secret: SecretStr               # the Yamaha administrator password ("" on the IX)
    proc: ProcRecord

    @property
    def device_type(self) -> str:
        return VENDORS[self.vendor][0]

    def netmiko(self, **extra) -> dict:
        """ConnectHandler keyword arguments (password login, no keys or agent)."""
        return {"device_type": self.device_type, "host": self.mgmt_ip, "username": self.username,
                "password": self.password.get_secret_value(), "secret": self.secret.get_secret_value(),
                "use_keys": False, "allow_agent": False, **extra}


def sim_dir(lab_dir: Path) -> Path:
    return lab_dir / "sim"


def _names(k: int) -> dict[str, str]:
    return {"netns": f"hkl-sim{k}", "mgmt_port": f"hkl-s{k}m", "wan_port": f"hkl-s{k}w"}


def _mgmt_addr(k: int) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(f"{MGMT_NET.network_address + 200 + k}/{MGMT_NET.prefixlen}")


def _mgmt_mac(k: int) -> str:
    return f"02:4b:4c:05:{k:02x}:02"


def _wan_mac(k: int) -> str:
    return f"02:4b:4c:05:{k:02x}:01"   # locally administered, "KL", role 5 = simulator


def _write_private(path: Path, data: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)


def start_sim(lab, index: int, vendor: str, line: int, model: str | None = None) -> SimInfo:
    """Bring simulator `index` up on lab line `line` (its bridge must exist: the lab is up)."""
    if vendor not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}; choose {', '.join(VENDORS)}")
    if not 1 <= index <= MAX_SIMS:
        raise ValueError(f"simulator index must be 1..{MAX_SIMS}, not {index}")
    bridge = lab.topology.line(line).bridge
    model = model or VENDORS[vendor][1]
    names = _names(index)
    directory = sim_dir(lab.dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    stop_sim(lab.dir, index)  # a leftover from an aborted run
    info = SimInfo(index=index, vendor=vendor, model=model, line=line, netns=names["netns"],
                   mgmt_ip=str(_mgmt_addr(index).ip), wan_mac=_wan_mac(index), username="lab",
                   password=SecretStr(secrets.token_urlsafe(12)),
                   secret=SecretStr(secrets.token_urlsafe(12) if vendor == "yamaha-rtx" else ""),
                   proc=ProcRecord(name=f"sim{index}", pid=0, starttime=0, exe="python"))
    try:
        _plumb(index, bridge)
        info.proc = _spawn(info, directory)
    except BaseException:
        stop_sim(lab.dir, index)
        raise
    (directory / f"sim{index}.json").write_text(info.model_dump_json(exclude={"password", "secret"}))
    return info


def _plumb(k: int, bridge: str) -> None:
    names = _names(k)
    ns = names["netns"]
    net.add_netns(ns)
    # The WAN takes no RA and makes no address until the configuration says so (`address auto`).
    net.sysctl(ns, {"net.ipv6.conf.default.accept_ra": 0, "net.ipv6.conf.default.autoconf": 0,
                    "net.ipv6.conf.all.accept_ra": 0, "net.ipv6.conf.default.accept_dad": 0})
    net.ip_batch([
        # A fixed MAC: the next simulator on this address is reachable at once, not after the host's
        # neighbour entry for the last one has gone stale and failed (seconds of lost SYNs).
        f"link add {names['mgmt_port']} type veth peer name {MGMT_IF} address {_mgmt_mac(k)} netns {ns}",
        f"link set {names['mgmt_port']} master {MGMT_BRIDGE} up",
        f"link add {names['wan_port']} type veth peer name {WAN_IF} address {_wan_mac(k)} netns {ns}",
        f"link set {names['wan_port']} master {bridge} up",
    ], CORE_NS)
    net.sysctl(ns, {f"net.ipv6.conf.{MGMT_IF}.disable_ipv6": 1})
    net.ip_batch(["link set lo up", f"addr add {_mgmt_addr(k)} dev {MGMT_IF}", f"link set {MGMT_IF} up",
                  f"link set {WAN_IF} up"], ns)


def _spawn(info: SimInfo, directory: Path) -> ProcRecord:
    k = info.index
    conf_path, ready = directory / f"sim{k}.conf.json", directory / f"sim{k}.ready"
    ready.unlink(missing_ok=True)
    _write_private(conf_path, {
        "vendor": info.vendor, "model": info.model, "listen": info.mgmt_ip, "port": 22, "wan_iface": WAN_IF,
        "login_user": info.username, "login_password": info.password.get_secret_value(),
        "admin_password": info.secret.get_secret_value(), "host_key": str(directory / f"sim{k}.hostkey"),
        "ready_file": str(ready),
    })
    cache = directory / "cache"
    cache.mkdir(exist_ok=True)
    _, rec = procs.spawn(f"sim{k}", [sys.executable, "-m", "lab.sim.ssh_server", "--config", str(conf_path)],
                         netns=info.netns, log=directory / f"sim{k}.log",
                         env={"XDG_CACHE_HOME": str(cache), "HOME": str(cache)})
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if not procs.is_ours(rec) or time.monotonic() > deadline:
            tail = (directory / f"sim{k}.log").read_text(errors="replace")[-800:]
            raise SimError(f"simulator {k} did not start; log:\n{tail}")
        time.sleep(0.05)
    return rec


def stop_sim(lab_dir: Path, index: int) -> None:
    """Stop simulator `index` (gracefully: its WAN sessions are torn down) and remove its namespace."""
    directory = sim_dir(lab_dir)
    names = _names(index)
    record = directory / f"sim{index}.json"
    if record.exists():
        procs.stop([ProcRecord.model_validate(json.loads(record.read_text())["proc"])], timeout=STOP_TIMEOUT)
    if names["netns"] in net.list_netns():
        procs.kill_pids_in_netns(net.netns_pids(names["netns"]))
        net.delete_netns(names["netns"])
    for suffix in (".json", ".conf.json", ".ready"):
        (directory / f"sim{index}{suffix}").unlink(missing_ok=True)


def stop_all_sims(lab_dir: Path) -> list[str]:
    """Stop every simulator, recorded or not (found by namespace name)."""
    stopped = []
    for name in net.list_netns():
        m = SIM_NS.match(name)
        if m:
            stop_sim(lab_dir, int(m.group(1)))
            stopped.append(name)
    return stopped
