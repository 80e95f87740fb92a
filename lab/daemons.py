"""The NGN's IPv6 services in hkl-core: Kea DHCPv6 (PD and information), radvd (RA) and a resolver (dnsmasq).

Each renders its configuration from the topology into the run directory and runs in the foreground with its
pid, lock, lease and log files there. Nothing touches the host's /etc or /var.
"""

from __future__ import annotations

import glob
import json
import signal
import socket
import time
from pathlib import Path

from lab import procs
from lab.state import ProcRecord
from lab.topology import (
    AFTR_NAME,
    CORE_NS,
    NGN_DNS6,
    NGN_DOMAIN,
    NGN_NAMES,
    Line,
    Topology,
)

# Lifetimes like the NGN's Cross lines (reported 4 h); renewals at the usual 0.5/0.8.
VALID_LIFETIME = 14400
PREFERRED_LIFETIME = 7200


class DaemonError(RuntimeError):
    pass


def _wait(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
    raise DaemonError(f"{what} not ready after {timeout:.0f} s; log {log}:\n{tail}")


def _listening_udp(rec: ProcRecord, port: int) -> bool:
    """Whether the daemon's namespace has a UDP socket bound to `port` (read through the daemon's /proc)."""
    if not procs.is_ours(rec):
        raise DaemonError(f"{rec.name} exited")
    for table in ("udp6", "udp"):
        try:
            rows = Path(f"/proc/{rec.pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        if any(int(row.split()[1].rsplit(":", 1)[1], 16) == port for row in rows):
            return True
    return False


# ---------------------------------------------------------------- Kea
def _run_script_hook() -> str:
    found = sorted(glob.glob("/usr/lib/*/kea/hooks/libdhcp_run_script.so"))
    if not found:
        raise DaemonError(
            "Kea's run_script hook (libdhcp_run_script.so) is missing; run `provisioner lab setup`"
        )
    return found[0]


# Installs a route to each delegated prefix via the requesting router, as a real BNG does, so the CPE's LAN
# addresses can reach the NGN resolver and AFTR; removes it when the lease goes away.
ROUTE_HOOK = """#!/bin/sh
# Kea run_script hook (lab): route delegated prefixes to the CPE that holds them.
log="$(dirname "$0")/route-hook.log"
case "$1" in
leases6_committed)
    i=0
    while [ "$i" -lt "${DELETED_LEASES6_SIZE:-0}" ]; do
        p=DELETED_LEASES6_AT$i
        eval t=\\$${p}_TYPE a=\\$${p}_ADDRESS l=\\$${p}_PREFIX_LEN
        [ "$t" = IA_PD ] && ip -6 route del "$a/$l" 2>/dev/null && echo "del $a/$l" >>"$log"
        i=$((i + 1))
    done
    i=0
    while [ "$i" -lt "${LEASES6_SIZE:-0}" ]; do
        p=LEASES6_AT$i
        eval t=\\$${p}_TYPE a=\\$${p}_ADDRESS l=\\$${p}_PREFIX_LEN
        if [ "$t" = IA_PD ]; then
            ip -6 route replace "$a/$l" via "$QUERY6_REMOTE_ADDR" dev "$QUERY6_IFACE_NAME" \\
                && echo "add $a/$l via $QUERY6_REMOTE_ADDR dev $QUERY6_IFACE_NAME" >>"$log"
        fi
        i=$((i + 1))
    done
    ;;
lease6_release|lease6_expire|lease6_decline)
    if [ "$LEASE6_TYPE" = IA_PD ]; then
        ip -6 route del "$LEASE6_ADDRESS/$LEASE6_PREFIX_LEN" 2>/dev/null \\
            && echo "del $LEASE6_ADDRESS" >>"$log"
    fi
    ;;
esac
exit 0
"""


class Kea:
    """kea-dhcp6 serving every line: PD pools on PD lines, DNS/AFTR information on all lines."""

    name = "kea"

    def __init__(self, run_dir: Path):
        self.dir = run_dir / "kea"
        self.conf = self.dir / "kea-dhcp6.conf"
        self.socket = self.dir / "kea6.sock"
        self.log = self.dir / "kea-dhcp6.log"

    def render(self, topo: Topology, ra_only: set[int]) -> dict:
        """Kea config; lines in `ra_only` keep their subnet (information only) but lose their PD pool."""
        subnets = []
        for line in topo.lines:
            subnet: dict = {"id": line.index, "subnet": str(line.link_net), "interface": line.bridge}
            if line.pd_pool is not None and line.index not in ra_only:
                plen = line.profile.pd_length
                subnet["pd-pools"] = [
                    {
                        "prefix": str(line.pd_pool.network_address),
                        "prefix-len": line.pd_pool.prefixlen,
                        "delegated-len": plen,
                    }
                ]
            subnets.append(subnet)
        return {
            "Dhcp6": {
                "interfaces-config": {"interfaces": [line.bridge for line in topo.lines]},
                "control-socket": {"socket-type": "unix", "socket-name": str(self.socket)},
                "lease-database": {
                    "type": "memfile",
                    "persist": True,
                    "lfc-interval": 0,
                    "name": str(self.dir / "leases6.csv"),
                },
                "server-id": {
                    "type": "EN",
                    "enterprise-id": 32473,
                    "identifier": "686b6c2d6e676e",
                    "persist": False,
                },
                "preferred-lifetime": PREFERRED_LIFETIME,
                "valid-lifetime": VALID_LIFETIME,
                "renew-timer": PREFERRED_LIFETIME // 2,
                "rebind-timer": PREFERRED_LIFETIME * 4 // 5,
                "option-data": [
                    {"name": "dns-servers", "data": str(NGN_DNS6)},
                    {"name": "domain-search", "data": NGN_DOMAIN},
                    {"name": "aftr-name", "data": AFTR_NAME},
                ],
                "hooks-libraries": [
                    {
                        "library": _run_script_hook(),
                        "parameters": {"name": str(self.dir / "route-hook.sh"), "sync": False},
                    }
                ],
                "subnet6": subnets,
                "loggers": [
                    {"name": "kea-dhcp6", "severity": "INFO", "output_options": [{"output": str(self.log)}]}
                ],
            }
        }

    def write(self, topo: Topology, ra_only: set[int]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        hook = self.dir / "route-hook.sh"
        if not hook.exists():
            hook.write_text(ROUTE_HOOK)
            hook.chmod(0o755)
        self.conf.write_text(json.dumps(self.render(topo, ra_only), indent=1))

    def start(self) -> ProcRecord:
        self.socket.unlink(missing_ok=True)
        env = {"KEA_PIDFILE_DIR": str(self.dir), "KEA_LOCKFILE_DIR": str(self.dir)}
        _, rec = procs.spawn(
            self.name, ["kea-dhcp6", "-c", str(self.conf)], netns=CORE_NS, log=self.dir / "kea.out", env=env
        )
        _wait(lambda: self._ready(rec), 10, "Kea", self.log)
        return rec

    def _ready(self, rec: ProcRecord) -> bool:
        if not procs.is_ours(rec):
            raise DaemonError(f"Kea exited; see {self.dir / 'kea.out'} and {self.log}")
        try:
            return self.command("status-get").get("result") == 0
        except OSError:
            return False

    def command(self, command: str, arguments: dict | None = None) -> dict:
        msg: dict = {"command": command}
        if arguments:
            msg["arguments"] = arguments
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(json.dumps(msg).encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return json.loads(b"".join(chunks) or b"{}")

    def reload(self, topo: Topology, ra_only: set[int]) -> None:
        self.write(topo, ra_only)
        answer = self.command("config-reload")
        if answer.get("result") != 0:
            raise DaemonError(f"Kea refused its new configuration: {answer.get('text')}")

    def leases(self) -> list[dict]:
        """Active leases from the lease file (last line per prefix wins; expired rows dropped)."""
        path = self.dir / "leases6.csv"
        if not path.exists():
            return []
        rows = path.read_text().splitlines()
        if not rows:
            return []
        header = rows[0].split(",")
        latest: dict[str, dict] = {}
        for row in rows[1:]:
            rec = dict(zip(header, row.split(","), strict=False))
            latest[f"{rec.get('address')}/{rec.get('prefix_len')}"] = rec
        now = time.time()
        return [
            r for r in latest.values() if int(r.get("expire") or 0) > now and r.get("valid_lifetime") != "0"
        ]


# ---------------------------------------------------------------- radvd
def _ra_block(line: Line, ra_only: bool) -> str:
    pd_line = line.pd_pool is not None and not ra_only
    body = [
        "  AdvSendAdvert on;",
        "  MinRtrAdvInterval 3;",
        "  MaxRtrAdvInterval 10;",
        "  AdvDefaultLifetime 1800;",
        f"  AdvManagedFlag {'on' if pd_line else 'off'};",  # PD lines: go ask DHCPv6
        "  AdvOtherConfigFlag on;",  # every line: DNS and AFTR name from DHCPv6 information
    ]
    if not pd_line:  # RA lines: one /64 for SLAAC (Next without ひかり電話)
        body.append(f"  prefix {line.link_net} {{ AdvOnLink on; AdvAutonomous on; }};")
    body.append(f"  RDNSS {NGN_DNS6} {{ }};")
    body.append(f"  DNSSL {NGN_DOMAIN} {{ }};")
    return f"interface {line.bridge} {{\n" + "\n".join(body) + "\n};\n"


class Radvd:
    name = "radvd"

    def __init__(self, run_dir: Path):
        self.dir = run_dir / "radvd"
        self.conf = self.dir / "radvd.conf"
        self.pidfile = self.dir / "radvd.pid"
        self.log = self.dir / "radvd.log"

    def write(self, topo: Topology, ra_only: set[int]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text("".join(_ra_block(line, line.index in ra_only) for line in topo.lines))
        self.conf.chmod(0o644)  # radvd refuses a config others can write

    def start(self) -> ProcRecord:
        self.pidfile.unlink(missing_ok=True)
        argv = [
            "radvd",
            "-n",
            "-C",
            str(self.conf),
            "-p",
            str(self.pidfile),
            "-m",
            "logfile",
            "-l",
            str(self.log),
        ]
        _, rec = procs.spawn(self.name, argv, netns=CORE_NS, log=self.dir / "radvd.out")
        _wait(lambda: procs.is_ours(rec) and self.pidfile.exists(), 5, "radvd", self.dir / "radvd.out")
        return rec

    def reload(self, rec: ProcRecord, topo: Topology, ra_only: set[int]) -> None:
        self.write(topo, ra_only)
        if not procs.signal_proc(rec, signal.SIGHUP):
            raise DaemonError("radvd is not running")


# ---------------------------------------------------------------- resolver
class Resolver:
    """dnsmasq answering the NGN names (AFTR, service-information sites) at the NGN DNS address."""

    name = "resolver"

    def __init__(self, run_dir: Path):
        self.dir = run_dir / "dns"
        self.conf = self.dir / "dnsmasq.conf"
        self.log = self.dir / "dnsmasq.log"

    def write(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "no-resolv",  # nothing upstream: the lab never sends traffic out
            "no-hosts",
            "no-poll",
            "bind-interfaces",
            f"listen-address={NGN_DNS6}",
            "user=nobody",
            "group=nogroup",
            f"pid-file={self.dir / 'dnsmasq.pid'}",
            f"log-facility={self.log}",
            "log-queries",
            *(f"host-record={name},{addr}" for name, addr in NGN_NAMES.items()),
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> ProcRecord:
        argv = ["dnsmasq", "-k", f"--conf-file={self.conf}"]
        _, rec = procs.spawn(self.name, argv, netns=CORE_NS, log=self.dir / "dnsmasq.out")
        _wait(lambda: _listening_udp(rec, 53), 5, "dnsmasq", self.dir / "dnsmasq.out")
        return rec
