"""pytest fixtures for tests that need the lab (`@pytest.mark.lab`).

`lab_factory(**spec)` brings a lab up (reusing the running one when the spec is the same) and the session
tears it down at the end; `lab` is the default 4-line lab. Without root or the lab's programs the fixtures
skip, except under HIKARI_REQUIRE_LAB=1 (CI), where they fail: a lab test is never silently skipped there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

NGN_PROGRAMS = ("ip", "nft", "kea-dhcp6", "radvd", "dnsmasq", "dhcpcd", "ssh-keygen", "sysctl")
GUEST_PROGRAMS = ("linux", "pppoe-server", "pppd", "pppoe", "snmpd", "sshd")
DEFAULT_SPEC = {"profile": "next,next-denwa,cross,next-denwa-router", "probe_line": 1}


def missing_prerequisites(guests: bool) -> list[str]:
    missing = [] if os.geteuid() == 0 else ["root"]
    programs = NGN_PROGRAMS + (GUEST_PROGRAMS if guests else ())
    missing += [p for p in programs if shutil.which(p, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    if guests and importlib.util.find_spec("lab.uml") is None:
        missing.append("lab.uml")
    return missing


def require_lab(guests: bool = True) -> None:
    """Skip (or fail under HIKARI_REQUIRE_LAB=1) when the lab cannot run here."""
    missing = missing_prerequisites(guests)
    if not missing:
        return
    reason = "lab prerequisites missing: " + ", ".join(missing) + " (run `provisioner lab setup` as root)"
    if os.environ.get("HIKARI_REQUIRE_LAB") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class LabFactory:
    """Makes labs for a test session. Between calls the session holds a shared lease on the running lab, so
    another session (a colleague's run on a shared machine) waits instead of replacing it mid-test."""

    def __init__(self) -> None:
        self.current: dict = {}
        self.lease = contextlib.ExitStack()

    def __call__(self, **spec):
        from lab import Lab
        from lab.lab import machine_lock

        spec = {"guests": True, **spec}
        require_lab(spec["guests"])
        if self.current.get("spec") == spec:
            lab = self._running()
            if lab is not None and lab.state.phase == "up":
                lab.clear()  # a test that failed half-way must not leave its fault to the next
                if lab.state.probe_line != spec.get("probe_line", 1):
                    lab.attach_probe(spec.get("probe_line", 1))
                return lab
        self.current.clear()
        self.lease.close()  # `up` takes the lock exclusively
        lab = Lab.up(**spec)
        self.current.update(spec=spec, started=lab.state.started_at)
        self.lease.enter_context(machine_lock(shared=True))
        return lab

    def _running(self):
        """The lab this factory made, if it is still the one running (a test may have replaced it)."""
        from lab import Lab

        try:
            lab = Lab.load()
        except Exception:
            return None
        return lab if self.current and lab.state.started_at == self.current["started"] else None

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """For a test that brings labs up and down itself: drop the session's lease meanwhile."""
        self.lease.close()
        self.current.clear()
        yield

    def close(self) -> None:
        from lab import Lab

        self.lease.close()
        if self._running() is not None:
            Lab.teardown()


@pytest.fixture(scope="session")
def lab_factory() -> Iterator[LabFactory]:
    factory = LabFactory()
    yield factory
    factory.close()


@pytest.fixture
def lab(lab_factory):
    """The default lab, asked of the factory for every test: another module may have replaced it with a lab of
    its own spec (or none) since, and a Lab object kept from before would point at namespaces that are gone."""
    return lab_factory(**DEFAULT_SPEC)


@pytest.fixture
def sims(lab):
    """start(index, vendor, line) -> SimInfo; every simulator started is stopped (WAN torn down) afterwards."""
    from lab.sim.node import start_sim, stop_sim

    started = []

    def start(index, vendor, line):
        sim = start_sim(lab, index, vendor, line)
        started.append(index)
        return sim

    yield start
    for index in started:
        stop_sim(lab.dir, index)


# ---------------------------------------------------------------- a real DHCPv6 client for probes
DHCPCD_CONF = """nodev
noipv4
ipv6only
option rapid_commit
interface {iface}
  iaid 1
  ia_pd 1
"""
DHCPCD_HOOK = """#!/bin/sh
env | grep -E '^(new_dhcp6_ia_pd1_prefix1|new_dhcp6_ia_pd1_prefix1_length)=' | sed "s/^/$reason /" >>"$0.events"
echo "$reason" >>"$0.events"
"""


def dhcpcd_once(netns: str, iface: str, mac: str, timeout: int = 8) -> dict:
    """Run dhcpcd 9 once (`-1`) in a namespace and return what it got: {"reasons", "pd"}.

    Its state directories are private tmpfs mounts (nothing touches the host's), and its DUID is derived from
    `mac` so that repeated runs are the same client to Kea (the same lease, no pool exhaustion).
    """
    with tempfile.TemporaryDirectory(prefix="hkl-dhcpcd-") as tmp:
        conf, hook = Path(tmp, "dhcpcd.conf"), Path(tmp, "hook")
        conf.write_text(DHCPCD_CONF.format(iface=iface))
        hook.write_text(DHCPCD_HOOK)
        hook.chmod(0o755)
        duid = "00:03:00:01:" + mac  # DUID-LL
        script = (
            "mount -t tmpfs hkl /run && mount -t tmpfs hkl /var/lib/dhcpcd && "
            f"echo {duid} > /var/lib/dhcpcd/duid && "
            f"timeout {timeout} dhcpcd -f {conf} -c {hook} -1 -t {timeout} -B {iface}; "
            # Leave the port as a freshly plugged laptop: dhcpcd turned the kernel's RA handling off.
            f"sysctl -qw net.ipv6.conf.{iface}.accept_ra=1; ip link set {iface} down; ip link set {iface} up"
        )
        subprocess.run(
            ["ip", "netns", "exec", netns, "unshare", "-m", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
        )
        events = Path(f"{hook}.events").read_text().splitlines() if Path(f"{hook}.events").exists() else []
    values = dict(line.split(" ", 1)[1].split("=", 1) for line in events if "=" in line)
    pd = None
    if "new_dhcp6_ia_pd1_prefix1" in values:
        pd = ipaddress.IPv6Network(
            f"{values['new_dhcp6_ia_pd1_prefix1']}/{values['new_dhcp6_ia_pd1_prefix1_length']}"
        )
    return {"reasons": [line for line in events if "=" not in line], "pd": pd}


# ---------------------------------------------------------------- small probes run inside a namespace
def run_in_ns(netns: str, code: str, *args: str, timeout: float = 30) -> str:
    """Run Python code inside a namespace from the start (scapy reads routes and interfaces at import)."""
    env = {**os.environ, "XDG_CACHE_HOME": tempfile.gettempdir()}
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe in {netns} failed: {proc.stderr[-800:]}")
    return proc.stdout


RA_PROBE = """
import json, sys
from scapy.all import (Ether, IPv6, ICMPv6ND_RS, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptRDNSS,
                       ICMPv6NDOptSrcLLAddr, get_if_hwaddr, sendp, sniff)
from scapy.utils6 import in6_mactoifaceid
iface, timeout = sys.argv[1], float(sys.argv[2])
mac = get_if_hwaddr(iface)
rs = (Ether(src=mac, dst="33:33:00:00:00:02") / IPv6(src="fe80::" + in6_mactoifaceid(mac), dst="ff02::2", hlim=255)
      / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=mac))
pkts = sniff(iface=iface, lfilter=lambda p: ICMPv6ND_RA in p, count=1, timeout=timeout,
             started_callback=lambda: sendp(rs, iface=iface, verbose=False))
out = None
if pkts:
    ra, layers = pkts[0][ICMPv6ND_RA], list(pkts[0].iterpayloads())
    out = {"M": int(ra.M), "O": int(ra.O), "router_lifetime": ra.routerlifetime, "src": pkts[0][IPv6].src,
           "prefixes": [f"{o.prefix}/{o.prefixlen}" for o in layers if isinstance(o, ICMPv6NDOptPrefixInfo)],
           "rdnss": [a for o in layers if isinstance(o, ICMPv6NDOptRDNSS) for a in o.dns]}
print(json.dumps(out))
"""


def ra_once(netns: str, iface: str, timeout: float = 4) -> dict | None:
    """Send a Router Solicitation and return the first RA (M/O flags, prefixes, RDNSS), or None."""
    return json.loads(run_in_ns(netns, RA_PROBE, iface, str(timeout)))


CAPTURE = """
import json, socket, sys, time
iface, seconds = sys.argv[1], float(sys.argv[2])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((iface, 0))
sock.settimeout(0.1)
print("ready", flush=True)
seen, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    try:
        frame = sock.recv(2048)
    except TimeoutError:
        continue
    seen.append({"src": frame[6:12].hex(":"), "type": int.from_bytes(frame[12:14], "big"), "data": frame[14:64].hex()})
print(json.dumps(seen))
"""

SEND = """
import socket, sys
iface, dst, ethertype, payload = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), bytes.fromhex(sys.argv[4])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))
src = open(f"/sys/class/net/{iface}/address").read().strip()
frame = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + ethertype.to_bytes(2, "big")
sock.send((frame + payload).ljust(60, b"\\0"))
"""


class Capture:
    """Frames seen on an interface inside a namespace while the `with` block runs (plus a short tail)."""

    def __init__(self, netns: str, iface: str, seconds: float = 1.5):
        self.argv = ["ip", "netns", "exec", netns, sys.executable, "-c", CAPTURE, iface, str(seconds)]
        self.frames: list[dict] = []

    def __enter__(self) -> Capture:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("capture did not start")
        return self

    def __exit__(self, *exc) -> None:
        out, _ = self.proc.communicate(timeout=30)
        self.frames = json.loads(out.strip().splitlines()[-1]) if out.strip() else []

    def carrying(self, marker: bytes) -> list[dict]:
        return [f for f in self.frames if marker.hex() in f["data"]]


def send_frame(
    netns: str, iface: str, ethertype: int, payload: bytes, dst: str = "ff:ff:ff:ff:ff:ff"
) -> None:
    run_in_ns(netns, SEND, iface, dst, hex(ethertype), payload.hex())


# ---------------------------------------------------------------- PPPoE from a CPE's real pppd
PPP_PEER = """plugin rp-pppoe.so
nic-{wan}
user "{user}"
password "{password}"
noauth
nodefaultroute
usepeerdns
+ipv6
maxfail 1
mtu 1454
mru 1454
{extra}
"""


def ppp_dial(lab, index: int, *, password: str | None = None, extra: str = "", peer: str = "hkltest"):
    """Dial PPPoE with the CPE's own pppd (`pppd call <peer> updetach`): (exit code, pppd's output).

    Exit 0 means the link is up and stays up (hang up with `ppp_hangup`).
    """
    cpe = lab.cpe(index)
    text = PPP_PEER.format(
        wan=cpe.wan_iface,
        user=cpe.isp_user,
        password=password if password is not None else cpe.isp_password.get_secret_value(),
        extra=extra,
    )
    result = lab.cpe_exec(index, f"cat > /etc/ppp/peers/{peer} && pppd call {peer} updetach", input=text)
    return result.returncode, result.stdout + result.stderr


def ppp_discovery(lab, index: int, seconds: int = 3) -> str:
    """Let the CPE's pppd try PPPoE discovery for a few seconds (debug on); return its log.

    (Debian's rp-pppoe.so ignores pppoe-padi-timeout: a failing discovery would take 35 s to give up.)
    """
    cpe = lab.cpe(index)
    text = PPP_PEER.format(
        wan=cpe.wan_iface, user=cpe.isp_user or "nobody@isp.example", password="x" * 8, extra="debug"
    )
    result = lab.cpe_exec(
        index,
        f"cat > /etc/ppp/peers/hklprobe && timeout {seconds} pppd call hklprobe nodetach",
        input=text,
        timeout=seconds + 30,
    )
    return result.stdout + result.stderr


def got_pado(log: str) -> bool:
    return "Recv PPPOE Discovery V1T1 PADO" in log


def wait_sessions(lab, count: int, timeout: float = 10) -> list[dict]:
    """The BRAS's sessions once it reports `count` (its ip-up publishes a session just after IPCP)."""
    deadline = time.monotonic() + timeout
    while len(sessions := lab.bras.sessions()) != count and time.monotonic() < deadline:
        time.sleep(0.1)
    return sessions


def ppp_hangup(lab, index: int) -> None:
    lab.cpe_exec(
        index,
        "poff -a >/dev/null 2>&1; for i in $(seq 50); do pgrep -x pppd >/dev/null || exit 0; "
        "sleep 0.1; done; pkill -KILL -x pppd",
    )


# ---------------------------------------------------------------- DHCPv6 from a CPE's real dhcpcd
CPE_DHCPCD = """nodev
noipv4
ipv6only
nohook resolv.conf
allowinterfaces {wan} {lan}
interface {wan}
  ipv6rs
  iaid 1
{pd}
"""


def cpe_dhcpcd(lab, index: int, *, until: str = "lan", wait: float = 8) -> str:
    """Start dhcpcd on the CPE asking for a prefix (delegated to its LAN as a /64); wait until the `until`
    side ("lan" or "wan") has a global address or `wait` seconds pass; return `ip -6 addr`."""
    cpe = lab.cpe(index)
    pd = f"  ia_pd 1 {cpe.lan_iface}/0/64"
    conf = CPE_DHCPCD.format(wan=cpe.wan_iface, lan=cpe.lan_iface, pd=pd)
    want = cpe.lan_iface if until == "lan" else cpe.wan_iface
    script = (
        f"dhcpcd -x >/dev/null 2>&1; cat > /etc/dhcpcd.conf && dhcpcd -q -b {cpe.wan_iface} {cpe.lan_iface}; "
        f"for i in $(seq {int(wait * 5)}); do ip -6 addr show dev {want} scope global | grep -q inet6 && break; "
        "sleep 0.2; done; ip -6 addr show scope global"
    )
    return lab.cpe_exec(index, script, input=conf).stdout


def cpe_dhcpcd_stop(lab, index: int) -> None:
    lab.cpe_exec(index, "dhcpcd -x >/dev/null 2>&1; sleep 0.3; ip -6 addr flush scope global")
