"""`Lab`: bring the whole lab up and down, report its status, inject and clear faults.

One lab per machine (namespace names are global). Every mutating call holds a lock file in the run directory,
and the state file is written after every step so that an aborted run is cleaned by the next `up`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr

from lab import network as net
from lab import procs
from lab.daemons import Kea, Radvd, Resolver
from lab.faults import bras_accounts
from lab.state import (
    Account,
    CpeSecrets,
    LabState,
    ProcRecord,
    RunDirError,
    make_run_dir,
    remove_run_dir,
    run_dir,
)
from lab.topology import (
    BRAS_AC_NAME,
    BRAS_ADDR,
    BRAS_DNS,
    BRAS_IF,
    BRAS_MAC,
    BRAS_NS,
    BRAS_POOL_START,
    BRAS_SERVICE_NAME,
    CORE_NS,
    CPE_LAN_ADDR,
    GUEST_BRAS,
    GUEST_LAN,
    GUEST_MGMT,
    GUEST_WAN,
    HOST_MGMT_IF,
    MGMT_NET,
    NEXT_MAX_SESSIONS,
    PPPOE_MRU,
    PROBE_IF,
    PROBE_MAC,
    PROBE_NS,
    PROBE_PORT,
    Line,
    Profile,
    Topology,
    parse_profiles,
)

MACHINE_LOCK = Path("/run/lock/hikari-lab.lock")  # empty; the one file outside the run dir (never removed)
LAB_NS_PATTERN = re.compile(r"^hkl-(core|bras|probe|cpe\d+|lan\d+)$")
GUEST_MEM_MB = 64
GUEST_BOOT_TIMEOUT = 30.0


class LabError(RuntimeError):
    """An operation on the lab failed (exit code 1)."""


class LabNotRunning(LabError):
    """No lab is up (no state file in the run directory)."""


# ---------------------------------------------------------------- public models
class CpeInfo(BaseModel):
    """What a driver, probe or test needs to reach one lab CPE. Secrets are SecretStr."""

    model_config = ConfigDict(frozen=True)

    name: str
    index: int
    profile: str
    netns: str
    lan_netns: str
    line_bridge: str
    mgmt_ip: str
    ssh_user: str
    ssh_password: SecretStr
    ssh_key_path: str
    snmp_community: SecretStr
    snmp_v3_user: str
    snmp_auth_key: SecretStr
    snmp_priv_key: SecretStr
    wan_iface: str
    mgmt_iface: str
    lan_iface: str
    lan_addr4: str
    isp_user: str | None
    isp_password: SecretStr | None
    pppoe: bool
    ipv6_mode: str  # "ra" or "pd"
    ra_prefix: str | None  # RA lines: the /64 the NGN advertises
    pd_length: int | None  # PD lines: the delegated length (56 or 60)
    pd_pool: str | None
    expected_pd: str | None  # the first prefix of the pool: what a CPE normally gets


class ProbePort(BaseModel):
    """A technician's laptop on the ONU of one line: a namespace with a port on that line's segment."""

    netns: str
    iface: str
    mac: str
    line: int
    profile: str


class AccountInfo(BaseModel):
    user: str
    password: SecretStr
    enabled: bool
    max_sessions: int


class BrasInfo(BaseModel):
    ac_name: str
    service_name: str
    address: str
    dns: list[str]
    netns: str
    accounts: list[AccountInfo]
    _lab: Lab = PrivateAttr()

    def sessions(self) -> list[dict]:
        """Active PPPoE sessions on the BRAS (from the guest)."""
        return self._lab._bras_sessions()


class NodeStatus(BaseModel):
    name: str
    kind: str
    netns: str | None
    addresses: str
    daemons: str
    pids: list[int]
    health: str  # "ok", "down", "fault: <kinds>", "degraded: <why>"


# ---------------------------------------------------------------- helpers
def _guests_api():
    try:
        from lab import uml
    except ImportError as exc:  # the UML half is built by lab.uml
        raise LabError(f"lab.uml is not available ({exc}); cannot start UML guests") from exc
    return uml


def _guest_call(function, *args):
    """Call into lab.uml, reporting its errors (GuestConfigError, UmlError) as LabError."""
    try:
        return function(*args)
    except LabError:
        raise
    except (ValueError, RuntimeError) as exc:
        raise LabError(str(exc)) from exc


@contextmanager
def machine_lock(shared: bool) -> Iterator[None]:
    """The lab's names are machine-wide, so is this lock: `up` and `down` take it exclusively, users of a
    running lab (a pytest session, a demo) shared, so nobody replaces a lab under another's feet.
    (Not a flock on /run/netns: `ip netns add` takes that one itself.)"""
    MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(MACHINE_LOCK, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        make_run_dir(directory)
    except RunDirError as exc:
        raise LabError(str(exc)) from None
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _keygen(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hkl-lab", "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _new_cpe_secrets(line: Line) -> CpeSecrets:
    return CpeSecrets(
        index=line.index,
        profile=line.profile.value,
        ssh_password=secrets.token_urlsafe(12),
        snmp_community="hkl" + secrets.token_hex(8),
        snmp_v3_user="labv3",
        snmp_auth_key=secrets.token_hex(12),
        snmp_priv_key=secrets.token_hex(12),
    )


def _new_accounts(topo: Topology) -> list[Account]:
    # Fixed addresses per line (two per account: a second session gets the next one) from the pool.
    return [
        Account(
            user=line.isp_user,
            password=secrets.token_urlsafe(12),
            max_sessions=NEXT_MAX_SESSIONS,
            ip=str(BRAS_POOL_START + NEXT_MAX_SESSIONS * (line.index - 1)),
        )
        for line in topo.pppoe_lines
    ]


def _check_mgmt_free() -> None:
    """The management /24 must not already be routed on the host (the lab adds an on-link route)."""
    out = net.run(["ip", "-j", "route", "show", "match", str(MGMT_NET)], check=False) or "[]"
    for route in json.loads(out):
        if route.get("dev") != HOST_MGMT_IF and route.get("dst") not in (None, "default"):
            raise LabError(f"{MGMT_NET} is already routed on this host via {route.get('dev')}; leaving it be")


# ---------------------------------------------------------------- the lab
class Lab:
    GUEST_BOOT_WORKERS: int | None = None  # None: boot every guest at once (bench/ compares one by one)

    def __init__(self, directory: Path, state: LabState):
        self.dir = directory
        self.state = state
        self.topology = Topology.build([Profile(p) for p in state.profiles], state.probe_line)
        self.kea = Kea(directory)
        self.radvd = Radvd(directory)
        self.resolver = Resolver(directory)

    # ----- construction
    @classmethod
    def load(cls, directory: Path | None = None) -> Lab:
        directory = directory or run_dir()
        state = LabState.load(directory)
        if state is None:
            raise LabNotRunning(f"no lab is running (no state in {directory}); run `provisioner lab up`")
        return cls(directory, state)

    @classmethod
    def up(
        cls,
        cpes: int | None = None,
        profile: str = "next",
        probe_line: int = 1,
        *,
        guests: bool = True,
        directory: Path | None = None,
    ) -> Lab:
        """Tear down whatever a previous run left, then build the lab. `guests=False` brings up only the
        network and the NGN's IPv6 services (no BRAS, no CPE guests)."""
        directory = directory or run_dir()
        topo = Topology.build(parse_profiles(profile, cpes), probe_line)
        with machine_lock(shared=False), _locked(directory):
            cls._teardown(directory)
            _check_mgmt_free()
            try:
                make_run_dir(directory)
            except RunDirError as exc:
                raise LabError(str(exc)) from None
            state = LabState(
                started_at=time.time(),
                profiles=[line.profile.value for line in topo.lines],
                probe_line=probe_line,
                accounts=_new_accounts(topo),
                cpes=[_new_cpe_secrets(line) for line in topo.lines],
                ssh_key_path=str(directory / "keys" / "id_ed25519"),
            )
            state.save(directory)
            lab = cls(directory, state)
            try:
                lab._bring_up(guests)
            except BaseException:
                cls._teardown(directory)
                raise
            return lab

    def _bring_up(self, guests: bool) -> None:
        topo, state = self.topology, self.state
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The guests' C helpers compile while the network and the NGN daemons come up.
            helpers = pool.submit(self._build_guest_helpers) if guests else None
            _keygen(Path(state.ssh_key_path))
            state.namespaces = net.namespaces(topo)
            state.host_links = [HOST_MGMT_IF]
            state.save(self.dir)  # names recorded before they exist: a crash below is still cleaned
            net.build(topo)
            ra_only = self._ra_only()
            self.resolver.write()
            self.kea.write(topo, ra_only)
            self.radvd.write(topo, ra_only)
            state.processes["resolver"] = self.resolver.start()
            state.processes["kea"] = self.kea.start()
            state.processes["radvd"] = self.radvd.start()
            state.guests_enabled = guests
            state.save(self.dir)
            if helpers is not None:
                helpers.result()
        if guests:
            self._start_guests()
        state.phase = "up"
        state.save(self.dir)

    # ----- guests
    def _guest_dir(self) -> Path:
        return self.dir / "guests"

    def bras_config(self) -> dict[str, Any]:
        return {
            "ac_name": BRAS_AC_NAME,
            "service_name": BRAS_SERVICE_NAME,
            "local_ip": str(BRAS_ADDR),
            "pool_start": str(BRAS_POOL_START),
            "dns": [str(addr) for addr in BRAS_DNS],
            "mru": PPPOE_MRU,
            "accounts": bras_accounts(self.state),
            "ipv6cp": True,
        }

    def cpe_config(self, line: Line) -> dict[str, Any]:
        sec = self._secrets(line.index)
        pub = Path(self.state.ssh_key_path + ".pub").read_text().strip()
        return {
            "hostname": line.cpe_name,
            "nics": {"wan": GUEST_WAN, "mgmt": GUEST_MGMT, "lan": GUEST_LAN},
            "mgmt_addr": str(line.mgmt_addr),
            "lan_addr4": str(CPE_LAN_ADDR),
            "users": [{"name": self.state.ssh_user, "password": sec.ssh_password, "authorized_key": pub}],
            "snmp": {
                "community": sec.snmp_community,
                "v3_user": sec.snmp_v3_user,
                "auth_key": sec.snmp_auth_key,
                "priv_key": sec.snmp_priv_key,
            },
            "profile": line.profile.value,
            "ipv6": {"mode": "pd" if line.pd_pool else "ra", "pd_length": line.profile.pd_length},
        }

    def _guest(self, name: str):
        """A handle on a guest (a fresh object: `down` may run in another process than `up`)."""
        uml = _guests_api()
        if name == "bras":
            return uml.UmlGuest(
                name="hkl-bras",
                netns=BRAS_NS,
                role="bras",
                nics=[uml.Nic(GUEST_BRAS, BRAS_IF, BRAS_MAC)],
                run_dir=self._guest_dir(),
                config=self.bras_config(),
                mem_mb=GUEST_MEM_MB,
            )
        line = self.topology.line(int(name.removeprefix("cpe")))
        return uml.UmlGuest(
            name=line.cpe_name,
            netns=line.cpe_ns,
            role="cpe",
            nics=[
                uml.Nic(GUEST_WAN, line.cpe_wan_if, line.wan_mac),
                uml.Nic(GUEST_MGMT, line.cpe_mgmt_if, line.mgmt_mac),
                uml.Nic(GUEST_LAN, line.cpe_lan_if, line.lan_mac),
            ],
            run_dir=self._guest_dir(),
            config=self.cpe_config(line),
            mem_mb=GUEST_MEM_MB,
            hostname=line.cpe_name,
        )

    def _guest_names(self) -> list[str]:
        names = ["bras"] if self.topology.pppoe_lines else []
        return names + [f"cpe{line.index}" for line in self.topology.lines]

    def _build_guest_helpers(self) -> None:
        """Build the guests' helpers once, before the parallel boots that all use them."""
        from lab.shim import build_pppd_plugin, build_shim, build_syslogd

        for build in (build_shim, build_syslogd, build_pppd_plugin):
            build(self._guest_dir())

    def _start_guests(self) -> None:
        def boot(name: str) -> tuple[str, ProcRecord]:
            guest = self._guest(name)
            guest.start(timeout=GUEST_BOOT_TIMEOUT)
            return name, ProcRecord(
                name=name,
                pid=guest.pid,
                starttime=procs.starttime(guest.pid) or 0,
                exe="guest",
                netns=guest.netns,
            )

        # UML boots are mostly waiting: start them all at once.
        workers = self.GUEST_BOOT_WORKERS or len(self._guest_names()) or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(boot, name) for name in self._guest_names()]
            errors = []
            for fut in futures:
                try:
                    name, rec = fut.result()
                    self.state.guests[name] = rec
                except Exception as exc:
                    errors.append(str(exc))
        self.state.save(self.dir)
        if errors:
            raise LabError("guests failed to start: " + "; ".join(errors))

    def _stop_guests(self) -> None:
        def halt(name: str) -> None:
            try:
                self._guest(name).stop()
            except Exception:  # the namespace sweep below removes what a failed stop leaves
                pass

        names = list(self.state.guests)
        if names:
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                list(pool.map(halt, names))

    def bras_server(self, running: bool) -> None:
        """Start or stop pppoe-server in the BRAS guest (nothing to do in a lab without guests)."""
        if "bras" not in self.state.guests:
            return
        uml = _guests_api()
        _guest_call(uml.bras_start_server if running else uml.bras_stop_server, self._guest("bras"))

    def push_bras_accounts(self, accounts: list[dict]) -> None:
        _guest_call(_guests_api().bras_set_accounts, self._guest("bras"), accounts)

    def cpe_exec(self, index: int, command: str, input: str | None = None, timeout: float = 60):
        """Run a shell command on a CPE as the lab user (root in the guest) over SSH with the lab key."""
        cpe = self.cpe(index)
        argv = [
            "ssh",
            "-i",
            cpe.ssh_key_path,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            f"{cpe.ssh_user}@{cpe.mgmt_ip}",
            command,
        ]
        return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)

    def cpe_service(self, index: int, service: str, running: bool) -> None:
        """Stop or start a management daemon inside a CPE guest (sshd, snmpd) and wait until it took."""
        _guest_call(_guests_api().cpe_service, self._guest(f"cpe{index}"), service, running)

    def reload_ipv6(self) -> None:
        """Re-render Kea and radvd for the current faults and make the running daemons pick them up."""
        ra_only = self._ra_only()
        self.radvd.reload(self.state.processes["radvd"], self.topology, ra_only)
        kea = self.state.processes.get("kea")
        if kea is not None and procs.is_ours(kea):
            self.kea.reload(self.topology, ra_only)
        else:  # kea-down is active: the next start reads the new file
            self.kea.write(self.topology, ra_only)

    def _bras_sessions(self) -> list[dict]:
        if "bras" not in self.state.guests:
            raise LabError("this lab has no BRAS (no PPPoE line)")
        return list(_guest_call(_guests_api().bras_sessions, self._guest("bras")))

    # ----- teardown
    def down(self) -> None:
        self.teardown(self.dir)

    @classmethod
    def teardown(cls, directory: Path | None = None) -> None:
        """Remove the lab (recorded or not): what `down` does, usable when no state file is left."""
        directory = directory or run_dir()
        with machine_lock(shared=False), _locked(directory):
            cls._teardown(directory)

    @classmethod
    def _teardown(cls, directory: Path) -> None:
        """Stop everything a run (this one or an aborted one) left: by state first, then by name."""
        state = LabState.load(directory)
        if state is not None:
            state.phase = "stopping"
            state.save(directory)
            lab = cls(directory, state)
            if state.guests:
                try:
                    lab._stop_guests()
                except LabError:
                    pass
            procs.stop(list(state.processes.values()))
        sweep_names()
        if directory.exists():
            remove_run_dir(directory)

    # ----- information
    def _secrets(self, index: int) -> CpeSecrets:
        return next(c for c in self.state.cpes if c.index == index)

    def _account(self, user: str) -> Account | None:
        return next((a for a in self.state.accounts if a.user == user), None)

    def cpe(self, index: int) -> CpeInfo:
        line = self.topology.line(index)
        sec = self._secrets(index)
        acc = self._account(line.isp_user) if line.profile.pppoe else None
        return CpeInfo(
            name=line.cpe_name,
            index=index,
            profile=line.profile.value,
            netns=line.cpe_ns,
            lan_netns=line.lan_ns,
            line_bridge=line.bridge,
            mgmt_ip=str(line.mgmt_addr.ip),
            ssh_user=self.state.ssh_user,
            ssh_password=SecretStr(sec.ssh_password),
            ssh_key_path=self.state.ssh_key_path,
            snmp_community=SecretStr(sec.snmp_community),
            snmp_v3_user=sec.snmp_v3_user,
            snmp_auth_key=SecretStr(sec.snmp_auth_key),
            snmp_priv_key=SecretStr(sec.snmp_priv_key),
            wan_iface=GUEST_WAN,
            mgmt_iface=GUEST_MGMT,
            lan_iface=GUEST_LAN,
            lan_addr4=str(CPE_LAN_ADDR),
            isp_user=acc.user if acc else None,
            isp_password=SecretStr(acc.password) if acc else None,
            pppoe=line.profile.pppoe,
            ipv6_mode="pd" if line.pd_pool else "ra",
            ra_prefix=None if line.pd_pool else str(line.link_net),
            pd_length=line.profile.pd_length,
            pd_pool=str(line.pd_pool) if line.pd_pool else None,
            expected_pd=str(line.expected_pd) if line.expected_pd else None,
        )

    @property
    def cpes(self) -> list[CpeInfo]:
        return [self.cpe(line.index) for line in self.topology.lines]

    @property
    def probe(self) -> ProbePort:
        line = self.topology.probe
        return ProbePort(
            netns=PROBE_NS, iface=PROBE_IF, mac=PROBE_MAC, line=line.index, profile=line.profile.value
        )

    @property
    def bras(self) -> BrasInfo:
        info = BrasInfo(
            ac_name=BRAS_AC_NAME,
            service_name=BRAS_SERVICE_NAME,
            address=str(BRAS_ADDR),
            dns=[str(a) for a in BRAS_DNS],
            netns=BRAS_NS,
            accounts=[
                AccountInfo(
                    user=a.user,
                    password=SecretStr(a.password),
                    enabled=a.enabled,
                    max_sessions=a.max_sessions,
                )
                for a in self.state.accounts
            ],
        )
        info._lab = self
        return info

    def attach_probe(self, line: int) -> ProbePort:
        """Move the probe port to another line's segment (the technician walks to another ONU)."""
        with _locked(self.dir):
            self._reload_state()
            target = self.topology.line(line)
            net.ip_batch(
                [f"link set {PROBE_PORT} nomaster", f"link set {PROBE_PORT} master {target.bridge} up"],
                CORE_NS,
            )
            # Re-plugged: the kernel drops what it learnt on the old line and solicits on the new one.
            net.ip_batch([f"link set {PROBE_IF} down", f"link set {PROBE_IF} up"], PROBE_NS)
            self.state.probe_line = line
            self.topology = Topology.build([Profile(p) for p in self.state.profiles], line)
            self.save()
        return self.probe

    def _ra_only(self) -> set[int]:
        return {f.cpe for f in self.state.faults if f.kind == "ra-instead-of-pd" and f.cpe is not None}

    # ----- status, faults (implemented in lab.status / lab.faults)
    def status(self) -> list[NodeStatus]:
        from lab.status import collect

        return collect(self)

    def fault(self, kind: str, cpe: int | None = None) -> bool:
        """Inject a fault; False if it was already active."""
        from lab import faults

        with _locked(self.dir):
            self._reload_state()
            return faults.inject(self, kind, cpe)

    def clear(self, kind: str | None = None, cpe: int | None = None) -> list[str]:
        from lab import faults

        with _locked(self.dir):
            self._reload_state()
            return faults.clear(self, kind, cpe)

    def _reload_state(self) -> None:
        state = LabState.load(self.dir)
        if state is None:
            raise LabNotRunning(f"the lab in {self.dir} is gone")
        self.state = state
        self.topology = Topology.build([Profile(p) for p in state.profiles], state.probe_line)

    def save(self) -> None:
        self.state.save(self.dir)


def sweep_names() -> list[str]:
    """Remove the lab's namespaces (after killing what runs inside) and its host link, by name."""
    removed = []
    names = [n for n in net.list_netns() if LAB_NS_PATTERN.match(n)]
    procs.kill_pids_in_netns([pid for name in names for pid in net.netns_pids(name)])
    for name in names:
        net.delete_netns(name)
        removed.append(name)
    if HOST_MGMT_IF in net.host_links():
        net.run(["ip", "link", "delete", HOST_MGMT_IF], check=False)
        removed.append(HOST_MGMT_IF)
    return removed
