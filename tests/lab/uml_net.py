"""A throw-away network for the UML guest tests (namespaces and links named hkltu-*), and SSH into it.

Not the lab's topology (lab/network.py): the smallest one that exercises lab.uml, so these tests can
run next to a running lab.  The test process stays in the host namespace; it reaches the CPE's
management address through a socket opened inside the management namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko

from lab.network import add_netns, delete_netns, ip_batch, list_netns, sysctl
from lab.uml import Nic, UmlGuest

PREFIX = "hkltu"
NS_BRAS, NS_CPE, NS_MGMT = f"{PREFIX}-bras", f"{PREFIX}-cpe", f"{PREFIX}-mgmt"
MGMT_HOST, MGMT_CPE = "198.51.100.1/24", "198.51.100.21/24"
CPE_HOSTNAME = "hkltu-cpe1"
BRAS_MAC, WAN_MAC, MGMT_MAC, LAN_MAC = (f"02:4b:54:00:00:0{i}" for i in range(1, 5))
_CLONE_NEWNET = 0x40000000


def build() -> None:
    """BRAS <-> CPE WAN over one veth pair; CPE management <-> the mgmt namespace; a LAN veth."""
    destroy()
    for ns in (NS_BRAS, NS_CPE, NS_MGMT):
        add_netns(ns)
    ip_batch(
        [
            f"link add {PREFIX}-b0 netns {NS_BRAS} type veth peer name {PREFIX}-w0 netns {NS_CPE}",
            f"link add {PREFIX}-m0 netns {NS_MGMT} type veth peer name {PREFIX}-m1 netns {NS_CPE}",
            f"link add {PREFIX}-l0 netns {NS_CPE} type veth peer name {PREFIX}-l1 netns {NS_CPE}",
        ]
    )
    # The veth ends only carry the guests' frames: no host IPv6 chatter on them.
    for ns in (NS_BRAS, NS_CPE):
        sysctl(ns, {"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1})
    ip_batch([f"link set {PREFIX}-b0 up"], NS_BRAS)
    ip_batch([f"link set {PREFIX}-{end} up" for end in ("w0", "m1", "l0", "l1")], NS_CPE)
    ip_batch([f"addr add {MGMT_HOST} dev {PREFIX}-m0", f"link set {PREFIX}-m0 up"], NS_MGMT)


def destroy() -> None:
    for ns in list_netns(PREFIX):
        delete_netns(ns)


def bras_guest(run_dir: Path, accounts: list[dict]) -> UmlGuest:
    return UmlGuest(
        name="hkltu-bras",
        netns=NS_BRAS,
        role="bras",
        nics=[Nic("eth0", f"{PREFIX}-b0", BRAS_MAC)],
        run_dir=run_dir,
        config={
            "ac_name": "hkl-BAS",
            "service_name": "",
            "local_ip": "203.0.113.1",
            "pool_start": "203.0.113.100",
            "pool_size": 16,
            "dns": ["203.0.113.53", "203.0.113.54"],
            "mru": 1454,
            "accounts": accounts,
            "ipv6cp": True,
        },
    )


def cpe_guest(run_dir: Path, users: list[dict], snmp: dict) -> UmlGuest:
    return UmlGuest(
        name="hkltu-cpe1",
        netns=NS_CPE,
        role="cpe",
        nics=[
            Nic("wan0", f"{PREFIX}-w0", WAN_MAC),
            Nic("mgmt0", f"{PREFIX}-m1", MGMT_MAC),
            Nic("lan0", f"{PREFIX}-l0", LAN_MAC),
        ],
        run_dir=run_dir,
        config={
            "hostname": CPE_HOSTNAME,
            "nics": {"wan": "vec0", "mgmt": "mgmt0", "lan": "lan0"},
            "mgmt_addr": MGMT_CPE,
            "lan_addr4": "192.0.2.1/24",
            "users": users,
            "snmp": snmp,
        },
    )


def cpe_addr() -> str:
    return MGMT_CPE.split("/")[0]


def ns_socket(netns: str, host: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection opened inside `netns` (a socket keeps the namespace it was created in)."""
    result: dict = {}

    def connect() -> None:  # setns() moves only this thread
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({netns})")
            finally:
                os.close(fd)
            result["sock"] = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=connect)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


@dataclass
class Shell:
    """Commands on the CPE over SSH as a lab user (uid 0 in the guest)."""

    client: paramiko.SSHClient

    def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        chan = self.client.get_transport().open_session(timeout=timeout)
        chan.set_combine_stderr(True)
        chan.settimeout(timeout)
        chan.exec_command(command)
        with chan.makefile("rb") as stdout:
            out = stdout.read().decode(errors="replace")
        return chan.recv_exit_status(), out

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        with self.client.open_sftp() as sftp:
            with sftp.open(path, "w") as fh:
                fh.write(text)
            sftp.chmod(path, mode)


@contextmanager
def ssh(user: str, *, password: str | None = None, key: paramiko.PKey | None = None) -> Iterator[Shell]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        cpe_addr(),
        username=user,
        password=password,
        pkey=key,
        sock=ns_socket(NS_MGMT, cpe_addr(), 22),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    try:
        yield Shell(client)
    finally:
        client.close()


def snmpget(*args: str, wait: int = 2, retries: int = 1) -> subprocess.CompletedProcess:
    """net-snmp's snmpget from the management namespace (-On: numeric OIDs)."""
    argv = ["ip", "netns", "exec", NS_MGMT, "snmpget", "-On", "-t", str(wait), "-r", str(retries), *args]
    env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": "/nonexistent-hkltu"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)


def peer_file(user: str, unit: int, *extra: str) -> str:
    """A pppd peer as the provisioner's linux platform writes one: kernel-mode PPPoE on wan0."""
    lines = [
        "plugin rp-pppoe.so",
        "nic-wan0",
        f'user "{user}"',
        "noauth",
        "hide-password",
        "noipdefault",
        "usepeerdns",
        "mtu 1454",
        "mru 1454",
        "+ipv6",
        "maxfail 1",
        f"unit {unit}",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def secrets_line(user: str, password: str) -> str:
    return f'"{user}" * "{password}" *\n'
