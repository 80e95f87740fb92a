"""RA lines (feature ipv6-ra) on the linux platform: the LAN shares the WAN's SLAAC /64 through ndppd (ND proxy
on wan0) and dnsmasq's RA (constructor:lan0 from the ::1 the dhcpcd hook puts on lan0).

Real parts only: the hook is run by sh with the variables dhcpcd gives it, ndppd starts on what the hook wrote,
and the end-to-end test runs radvd (the NGN), the rendered dhcpcd/dnsmasq/nftables and ndppd (the CPE) and a
SLAAC host (the LAN) in throwaway namespaces named hklr<pid>..., all removed by the fixture."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from provisioner.render import Unsupported, render, render_device
from tests.render.conftest import require_tool
from tests.render.scenarios import SCENARIOS, ipv6, pppoe, router
from tests.render.test_linux_tools import _files, _needs_root, _run

HOOK, EXIT_HOOK = "/etc/hikari/ipv6-ra.sh", "/etc/dhcpcd.exit-hook"
PREFIX_A, PREFIX_B = "2001:db8:0:77::", "2001:db8:0:78::"
NGN_SERVER = "2001:db8:53::a"  # an NGN address outside the line's /64 (the NGN DNS of the scenarios)


# ---------------------------------------------------------------------------------------------- rendering
def test_ra_line_renders_the_hook_and_the_lan_ra():
    files = render(SCENARIOS["next-ra-pppoe"], "linux", role="router").files
    assert files[EXIT_HOOK].splitlines()[-3:] == ['if [ "$interface" = wan0 ]; then',
                                                  "    sh /etc/hikari/ipv6-ra.sh", "fi"]
    hook = files[HOOK]
    assert "WAN=wan0\nLAN=lan0\nSTATE=/run/hikari\n" in hook
    dhcpcd = files["/etc/dhcpcd.conf"]
    assert "interface wan0\n" in dhcpcd and "ipv6rs\n" in dhcpcd and "ia_pd" not in dhcpcd
    assert "enable-ra\ndhcp-range=::,constructor:lan0,ra-stateless,64\n" in files["/etc/dnsmasq.d/hikari.conf"]
    network = files["/etc/hikari/network.sh"]
    assert "net.ipv6.conf.all.forwarding=1" in network and "net.ipv6.conf.wan0.accept_ra=2" in network


def test_pd_lines_get_no_ra_hook():
    files = render(SCENARIOS["next-denwa-pd"], "linux", role="router").files
    assert EXIT_HOOK not in files and HOOK not in files


def test_ra_hook_follows_the_bridge_when_wifi_joins_the_lan():
    dev = router(pppoe=(pppoe(),), ipv6=ipv6("ra", 64), wifi=SCENARIOS["hgw-wifi"].hgw.wifi)
    hook = render_device(dev, "linux").files[HOOK]
    assert "LAN=br-lan\n" in hook


def test_ra_line_without_a_64_is_refused():
    dev = router(pppoe=(pppoe(),), ipv6=ipv6("ra", 56))
    with pytest.raises(Unsupported) as err:
        render_device(dev, "linux")
    assert "ipv6-ra with a /56 (the LAN shares a SLAAC /64)" in err.value.reasons


def test_dslite_on_an_ra_line_sources_from_the_wan_address():
    """The LAN's ::1 sits behind the ND proxy, which never answers for the CPE itself: the B4 uses wan0's."""
    dev = SCENARIOS["cross-dslite"].router.model_copy(update={"ipv6": ipv6("ra", 64)})
    script = render_device(dev, "linux").files["/etc/hikari/tunnel.sh"]
    assert "ip -6 -o addr show dev wan0 scope global" in script
    pd = render(SCENARIOS["cross-dslite"], "linux", role="router").files["/etc/hikari/tunnel.sh"]
    assert "ip -6 -o addr show dev lan0 scope global" in pd


@pytest.mark.parametrize("name", [HOOK, EXIT_HOOK])
def test_hooks_parse_with_sh(name, tmp_path):
    path = _files("next-ra-pppoe", tmp_path)[name]
    out = _run(["sh", "-n", str(path)])
    assert out.returncode == 0, out.stderr


def test_sh_n_negative_control(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text('if [ "$interface" = wan0 ]; then\n    sh x\n')
    assert _run(["sh", "-n", str(bad)]).returncode != 0


# ---------------------------------------------------------------------------------------------- namespaces
class Namespaces:
    """Throwaway network namespaces hklr<pid><tag> joined by veths; close() ends what runs in them (by the
    namespace's own pid list) and deletes them."""

    def __init__(self) -> None:
        self.prefix = f"hklr{os.getpid() % 100000}"
        self.made: list[str] = []
        self.veths = 0

    def add(self, tag: str) -> str:
        name = self.prefix + tag
        subprocess.run(["ip", "netns", "del", name], capture_output=True)  # a leftover of a killed run
        self.ip("netns", "add", name)
        self.made.append(name)
        self.ip("-n", name, "link", "set", "lo", "up")
        return name

    def veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        self.veths += 1
        a, b = f"{self.prefix}v{self.veths}a", f"{self.prefix}v{self.veths}b"
        self.ip("link", "add", a, "type", "veth", "peer", "name", b)
        for ns, tmp, name in ((ns_a, a, if_a), (ns_b, b, if_b)):
            self.ip("link", "set", tmp, "netns", ns)
            self.ip("-n", ns, "link", "set", tmp, "name", name)

    @staticmethod
    def ip(*args: str) -> str:
        out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout

    def sh(self, ns: str, script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`script` in `ns`, in a private mount namespace (so it may bind its own /run, /etc...)."""
        return subprocess.run(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        for ns in reversed(self.made):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                pids = [int(p) for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                                       text=True).stdout.split()]
                for pid in pids:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                if pids:
                    time.sleep(0.5)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def netns() -> Iterator[Namespaces]:
    _needs_root()
    for tool in ("ndppd", "radvd", "dhcpcd", "dnsmasq", "nft", "ping"):
        require_tool(tool)
    spaces = Namespaces()
    try:
        yield spaces
    finally:
        spaces.close()


def wait_for(check: Callable[[], object], timeout: float, what: str,
             diagnose: Callable[[], str] = str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{diagnose()}")
        time.sleep(0.2)


def addresses(ns: str, ifname: str) -> list[dict]:
    info = json.loads(Namespaces.ip("-n", ns, "-j", "-6", "addr", "show", "dev", ifname, "scope", "global"))
    return [a for a in info[0]["addr_info"] if "local" in a] if info else []  # ip -j pads with {}


def ndppd_pid(run: Path) -> int | None:
    pidfile = run / "hikari" / "ndppd.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    try:
        return pid if Path(f"/proc/{pid}/comm").read_text().strip() == "ndppd" else None
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------- the hook
def ra_env(prefix: str, *, length: int = 64, flags: str = "LA", vltime: int = 86400, pltime: int = 14400,
           reason: str = "ROUTERADVERT") -> dict[str, str]:
    """The variables dhcpcd 9.4 gives its hooks for one RA with one prefix (as seen on this machine)."""
    return {"reason": reason, "interface": "wan0", "nd1_from": "fe80::1", "nd1_acquired": "100",
            "nd1_now": "130", "nd1_prefix_information1_prefix": prefix,
            "nd1_prefix_information1_length": str(length), "nd1_prefix_information1_flags": flags,
            "nd1_prefix_information1_vltime": str(vltime), "nd1_prefix_information1_pltime": str(pltime)}


@pytest.fixture
def hook_box(netns, tmp_path):
    """A CPE namespace with wan0 and lan0 (veths to a peer namespace) and a runner for the rendered hook."""
    cpe, peer = netns.add("c"), netns.add("p")
    netns.veth(cpe, "wan0", peer, "wan0")
    netns.veth(cpe, "lan0", peer, "lan0")
    for ns in (cpe, peer):
        for ifname in ("wan0", "lan0"):
            netns.ip("-n", ns, "link", "set", ifname, "up")
    hook = _files("next-ra-pppoe", tmp_path)[HOOK]
    run = tmp_path / "run"
    run.mkdir()

    def call(env: dict[str, str]) -> subprocess.CompletedProcess:
        out = netns.sh(cpe, f"mount --bind {run} /run && exec sh {hook}", env)
        assert out.returncode == 0, out.stderr
        return out

    return cpe, run, call


def lan_addresses(cpe: str) -> dict[str, dict]:
    return {a["local"]: a for a in addresses(cpe, "lan0")}


def lan_routes(cpe: str) -> list[dict]:
    routes = json.loads(Namespaces.ip("-n", cpe, "-j", "-6", "route", "show", "dev", "lan0"))
    return [r for r in routes if r.get("metric") == 1]


@pytest.mark.lab
def test_hook_sets_up_the_lan_share_and_ndppd_starts_cleanly(hook_box):
    cpe, run, call = hook_box
    call(ra_env(PREFIX_A))
    assert (run / "hikari" / "ipv6-ra.prefix").read_text() == PREFIX_A + "\n"
    conf = (run / "hikari" / "ndppd.conf").read_text()
    assert "proxy wan0 {" in conf and f"rule {PREFIX_A}/64 {{" in conf and "iface lan0" in conf
    pid = ndppd_pid(run)
    assert pid, (run / "hikari" / "ndppd.log").read_text()
    time.sleep(0.5)                                     # still alive after binding wan0 and lan0
    assert ndppd_pid(run) == pid
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:3] == [b"ndppd", b"-c", b"/run/hikari/ndppd.conf"]
    log = (run / "hikari" / "ndppd.log").read_text()
    assert "Using configuration file '/run/hikari/ndppd.conf'" in log and "(error)" not in log, log
    addr = lan_addresses(cpe)[PREFIX_A + "1"]
    assert addr["prefixlen"] == 64
    assert addr["valid_life_time"] <= 86400 - 30 and addr["preferred_life_time"] <= 14400 - 30  # RA age counted
    assert [r["dst"] for r in lan_routes(cpe)] == [PREFIX_A + "/64"]


@pytest.mark.lab
def test_hook_follows_a_new_prefix_and_is_idempotent(hook_box):
    cpe, run, call = hook_box
    call(ra_env(PREFIX_A))
    first = ndppd_pid(run)
    call(ra_env(PREFIX_A))                              # the next RA, same prefix: ndppd left alone
    assert ndppd_pid(run) == first
    call(ra_env(PREFIX_B))
    second = ndppd_pid(run)
    assert second and second != first
    assert f"rule {PREFIX_B}/64 {{" in (run / "hikari" / "ndppd.conf").read_text()
    addrs = lan_addresses(cpe)
    assert addrs[PREFIX_A + "1"].get("deprecated") and addrs[PREFIX_A + "1"]["preferred_life_time"] == 0
    assert addrs[PREFIX_A + "1"]["valid_life_time"] <= 7200      # LAN hosts drop it within the 2 h floor
    assert not addrs[PREFIX_B + "1"].get("deprecated")
    assert [r["dst"] for r in lan_routes(cpe)] == [PREFIX_B + "/64"]


@pytest.mark.lab
def test_hook_withdraws_when_the_wan_prefix_goes(hook_box):
    cpe, run, call = hook_box
    call(ra_env(PREFIX_A))
    pid = ndppd_pid(run)
    call({"reason": "STOPPED", "interface": "wan0"})
    assert not Path(f"/proc/{pid}").exists() or ndppd_pid(run) is None
    assert not (run / "hikari" / "ipv6-ra.prefix").exists()
    assert lan_addresses(cpe)[PREFIX_A + "1"]["preferred_life_time"] == 0
    assert lan_routes(cpe) == []


@pytest.mark.lab
@pytest.mark.parametrize("env", [
    ra_env("2001:db8::;touch${IFS}/tmp/hklr-pwned;"),  # hostile: never reaches a shell or ndppd.conf
    ra_env("2001:db8:0:77::1"),                        # not a /64 prefix as dhcpcd prints one
    ra_env(PREFIX_A, length=56),                       # SLAAC needs a /64
    ra_env(PREFIX_A, flags="L"),                       # not autonomous: no SLAAC on this prefix
    ra_env(PREFIX_A, vltime=0, pltime=0),              # withdrawn by the NGN
    {**ra_env(PREFIX_A), "interface": "lan0"},         # an event of the LAN interface
])
def test_hook_ignores_what_is_not_a_usable_wan_64(hook_box, env):
    cpe, run, call = hook_box
    call(env)
    assert not (run / "hikari" / "ipv6-ra.prefix").exists()
    assert ndppd_pid(run) is None and lan_addresses(cpe) == {}
    assert not Path("/tmp/hklr-pwned").exists()


@pytest.mark.lab
def test_ndppd_negative_control(netns, tmp_path):
    """ndppd refuses a rule without a method, so the check above can fail."""
    cpe = netns.add("c")
    bad = tmp_path / "bad.conf"
    bad.write_text("proxy lo {\n    rule 2001:db8::/64 {\n        ifaze lan0\n    }\n}\n")
    out = netns.sh(cpe, f"exec timeout 3 ndppd -c {bad}")
    assert out.returncode != 0, out.stdout
    assert "(error) You must specify either 'iface', 'auto' or 'static'" in out.stdout + out.stderr


# ---------------------------------------------------------------------------------------------- end to end
RADVD_CONF = """interface ngn0 {{
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    AdvOtherConfigFlag on;
{prefixes}}};
"""
RADVD_PREFIX = "    prefix {prefix}/64 {{ AdvOnLink on; AdvAutonomous on;{extra} }};\n"


def radvd_conf(current: str, withdrawn: str | None = None) -> str:
    prefixes = RADVD_PREFIX.format(prefix=current, extra="")
    if withdrawn:  # renumbering: the old prefix announced once more with zero lifetimes
        prefixes += RADVD_PREFIX.format(prefix=withdrawn, extra=" AdvValidLifetime 0; AdvPreferredLifetime 0;")
    return RADVD_CONF.format(prefixes=prefixes)


CPE_START = """set -e
mount -t overlay hklr -o lowerdir={etc}:/etc /etc
mount --bind {run} /run
mount --bind {state}/dhcpcd /var/lib/dhcpcd
mount --bind {state}/misc /var/lib/misc
sh /etc/hikari/network.sh
nft -f /etc/nftables.conf
dnsmasq -C /etc/dnsmasq.d/hikari.conf -x /run/hikari-dnsmasq.pid >>{state}/daemons.log 2>&1
dhcpcd -b -q >>{state}/daemons.log 2>&1
"""


def slaac_address(host: str, prefix: str) -> str | None:
    net = ipaddress.IPv6Network(prefix + "/64")
    for a in addresses(host, "eth0"):
        if ipaddress.IPv6Address(a["local"]) in net and not a.get("tentative") and not a.get("deprecated"):
            return a["local"]
    return None


def pings(host: str, source: str) -> bool:
    out = subprocess.run(["ip", "netns", "exec", host, "ping", "-6", "-n", "-c", "1", "-W", "1", "-I", source,
                          NGN_SERVER], capture_output=True, text=True, timeout=10)
    return out.returncode == 0


@pytest.mark.lab
def test_lan_host_reaches_the_ngn_through_the_nd_proxy(netns, tmp_path):
    """NGN (radvd, RA /64) -- wan0 [CPE: rendered dhcpcd + hook, ndppd, dnsmasq RA, nftables] lan0 -- LAN host.

    The LAN host takes a SLAAC address in the WAN's /64 and pings an NGN address; the NGN resolved the host's
    address to the CPE's wan0 MAC (ndppd answered for it). Then the NGN renumbers the line and all follows."""
    ngn, cpe, host = netns.add("n"), netns.add("c"), netns.add("h")
    netns.veth(ngn, "ngn0", cpe, "wan0")
    netns.veth(cpe, "lan0", host, "eth0")
    for ns, ifname in ((ngn, "ngn0"), (host, "eth0")):
        netns.ip("-n", ns, "link", "set", ifname, "up")

    # The NGN: the line's /64 on-link on the subscriber port, a server address elsewhere, radvd announcing.
    netns.ip("-n", ngn, "addr", "add", NGN_SERVER + "/128", "dev", "lo")
    netns.ip("-n", ngn, "-6", "route", "add", PREFIX_A + "/64", "dev", "ngn0")
    radvd_dir = tmp_path / "radvd"
    radvd_dir.mkdir()
    (radvd_dir / "radvd.conf").write_text(radvd_conf(PREFIX_A))
    out = netns.sh(ngn, f"sysctl -qw net.ipv6.conf.all.forwarding=1 && radvd -C {radvd_dir}/radvd.conf "
                        f"-p {radvd_dir}/radvd.pid -m logfile -l {radvd_dir}/radvd.log >/dev/null 2>&1")
    assert out.returncode == 0, out.stderr

    # The CPE: the rendered files at their paths (an overlay on /etc), its daemons started as the driver does.
    files = _files("next-ra-pppoe", tmp_path / "cpe")
    etc, run, state = tmp_path / "cpe" / "etc", tmp_path / "run", tmp_path / "state"
    for d in (run, state / "dhcpcd", state / "misc"):
        d.mkdir(parents=True)
    assert HOOK in files and EXIT_HOOK in files
    out = netns.sh(cpe, CPE_START.format(etc=etc, run=run, state=state))
    assert out.returncode == 0, out.stderr + (state / "daemons.log").read_text()

    def diagnose() -> str:
        logs = [f"== {f.relative_to(tmp_path)}\n{f.read_text(errors='replace')[-2000:]}"
                for f in (state / "daemons.log", run / "hikari" / "ndppd.log", radvd_dir / "radvd.log")
                if f.exists()]
        shows = [f"== {ns} {' '.join(args)}\n" + subprocess.run(["ip", "-n", ns, *args], capture_output=True,
                                                                text=True).stdout
                 for ns in (ngn, cpe, host) for args in (["-6", "addr"], ["-6", "route"], ["-6", "neigh"])]
        return "\n".join(logs + shows)

    prefix_file = run / "hikari" / "ipv6-ra.prefix"
    wait_for(lambda: prefix_file.exists() and prefix_file.read_text() == PREFIX_A + "\n", 15, "the hook's /64", diagnose)
    assert ndppd_pid(run)
    host_addr = wait_for(lambda: slaac_address(host, PREFIX_A), 30, "the LAN host's SLAAC address", diagnose)
    wait_for(lambda: pings(host, host_addr), 15, f"{host_addr} pinging {NGN_SERVER}", diagnose)

    cpe_mac = json.loads(netns.ip("-n", cpe, "-j", "link", "show", "wan0"))[0]["address"]
    neigh = json.loads(netns.ip("-n", ngn, "-j", "-6", "neigh", "show", host_addr, "dev", "ngn0"))
    assert neigh and neigh[0]["lladdr"] == cpe_mac, neigh    # the proxy answered for the LAN host

    # Renumbering: the NGN moves the line to a new /64 and withdraws the old one.
    netns.ip("-n", ngn, "-6", "route", "add", PREFIX_B + "/64", "dev", "ngn0")
    (radvd_dir / "radvd.conf").write_text(radvd_conf(PREFIX_B, withdrawn=PREFIX_A))
    os.kill(int((radvd_dir / "radvd.pid").read_text()), signal.SIGHUP)
    wait_for(lambda: prefix_file.read_text() == PREFIX_B + "\n", 15, "the hook to follow the new /64", diagnose)
    assert f"rule {PREFIX_B}/64 {{" in (run / "hikari" / "ndppd.conf").read_text()
    new_addr = wait_for(lambda: slaac_address(host, PREFIX_B), 30, "the LAN host's address in the new /64", diagnose)
    wait_for(lambda: pings(host, new_addr), 15, f"{new_addr} pinging {NGN_SERVER}", diagnose)
    old = {a["local"]: a for a in addresses(host, "eth0")}[host_addr]
    assert old.get("deprecated"), old                         # the LAN RA deprecated the old /64
