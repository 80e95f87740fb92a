"""The lab's user-mode-linux guests: the BRAS (pppoe-server + pppd) and the Linux CPEs.

The host kernel has no PPP, so everything that runs pppd runs in a UML guest.  A guest is:

    ip netns exec <netns> unshare --pid --fork --kill-child=SIGKILL /usr/bin/linux ...

with the host's root as a read-only hostfs and its NICs on veth ends in `netns` (vector driver, raw
socket).  The UML kernel process is PID 1 of its own PID namespace, so when it goes, every host process
of the guest goes with it (a UML killed alone would leave its guest processes running on the host).
`stop()` asks the guest to power off through the UML management console; killing the namespace's
PID 1 is the fallback.  `LD_PRELOAD` of lab/shim/xstate_shim.c keeps UML alive on AVX-512 hosts.

Per guest, everything lives in `<run_dir>/<name>/` (`guest_dir`); see lab/guest/init for its layout.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.guest import bras, cpe
from lab.guest.boot import (
    GLIBC_TUNABLES,
    UML_MODULES,
    GuestConfigError,
    ifname,
    set_service,
    write_file,
)
from lab.network import in_ns
from lab.procs import pss_kib
from lab.shim import build_pppd_plugin, build_shim, build_syslogd

__all__ = [
    "GuestConfigError",
    "Nic",
    "UmlError",
    "UmlGuest",
    "bras_sessions",
    "bras_set_accounts",
    "bras_start_server",
    "bras_stop_server",
    "build_shim",
    "cpe_service",
]

UML_BINARY = "/usr/bin/linux"
GUEST_SOURCES = Path(__file__).parent / "guest"
GUEST_SCRIPTS = ("init", "bras.sh", "cpe.sh")
ROLES = {"bras": bras.prepare, "cpe": cpe.prepare}
# Recreated at each start; the rest of the guest dir (ssh host key, dhcpcd DUID/leases, snmp engine
# state) survives a restart as it would on a real box.
FRESH_DIRS = ("bin", "ctl", "log", "modroot", "state", "uml")
# Kernel boot 1.9 s -> 0.2 s: skip the RAID6 and zswap set-up (0.85 s and 0.2 s of benchmarks; the guests
# have neither RAID nor swap), the crypto self-tests, the 256 legacy BSD ptys and the delay-loop
# calibration (udelay precision does not matter to a UML guest).
FAST_BOOT_ARGS = (
    "initcall_blacklist=raid6_select_algo,init_zswap",
    "cryptomgr.notests",
    "pty.legacy_count=0",
    "lpj=10000000",
)
MIN_MEM_MB = 48  # 32 MB does not boot a client; 64 MB leaves ~49 MB to the guest's processes
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_MCONSOLE_MAGIC, _MCONSOLE_VERSION, _MCONSOLE_MAX = 0xCAFEBABE, 2, 512
_SUN_PATH_MAX = 107
_SYS_KCMP, _KCMP_VM = 312, 1
# Harmless lines of every boot (epoll on a regular-file console, no PCI/ubd/SELinux in the guest).
_CONSOLE_NOISE = ("epollctl add err", "SELinux:", "mmapper_init", "Failed to initialize ubd")
_libc = ctypes.CDLL(None, use_errno=True)


def _same_address_space(a: int, b: int) -> bool:
    """kcmp(KCMP_VM): whether two processes share their memory (x86_64 syscall number)."""
    return _libc.syscall(_SYS_KCMP, a, b, _KCMP_VM, 0, 0) == 0


class UmlError(RuntimeError):
    """A guest could not be started or stopped; the message carries the tail of its console log."""


@dataclass(frozen=True)
class Nic:
    guest_name: str  # the NIC's name inside the guest (UML calls it vecN; init renames it)
    host_iface: str  # the veth end in the guest's netns that UML opens a raw socket on
    mac: str


@functools.cache
def kernel_version() -> str:
    """Version of the UML kernel, which names its modules directory."""
    versions = sorted(p.name for p in UML_MODULES.iterdir()) if UML_MODULES.is_dir() else []
    if len(versions) == 1:
        return versions[0]
    out = subprocess.run([UML_BINARY, "--version"], capture_output=True, text=True).stdout.strip()
    if out not in versions:
        raise UmlError(f"no UML modules for kernel {out!r} under {UML_MODULES} (install user-mode-linux)")
    return out


class UmlGuest:
    """One UML guest; a fresh object may take over a guest another process started (pid file)."""

    def __init__(
        self,
        *,
        name: str,
        netns: str,
        role: str,
        nics: list[Nic],
        run_dir: Path,
        config: dict,
        mem_mb: int = 64,
        hostname: str | None = None,
    ) -> None:
        if not _NAME.match(name) or name == "bin":  # run_dir/bin holds the built helpers
            raise GuestConfigError(f"guest name {name!r}: use 1-31 of a-z, 0-9 and - (not 'bin')")
        if role not in ROLES:
            raise GuestConfigError(f"role {role!r}: one of {sorted(ROLES)}")
        if not nics:
            raise GuestConfigError("a guest needs at least one NIC")
        for i, nic in enumerate(nics):
            ifname(nic.guest_name, f"nics[{i}].guest_name")
            if not _MAC.match(nic.mac.lower()):
                raise GuestConfigError(f"nics[{i}].mac: {nic.mac!r} is not a MAC address")
        if len({nic.guest_name for nic in nics}) != len(nics):
            raise GuestConfigError("two NICs have the same guest name")
        if mem_mb < MIN_MEM_MB:
            raise GuestConfigError(f"mem_mb: at least {MIN_MEM_MB}")
        self.name, self.netns, self.role, self.nics = name, netns, role, list(nics)
        self.run_dir = Path(run_dir).absolute()
        self.config, self.mem_mb = config, mem_mb
        self.hostname = hostname or config.get("hostname") or name
        self.guest_dir = self.run_dir / name
        if any(c.isspace() for c in str(self.guest_dir)):
            raise GuestConfigError(f"run_dir {run_dir}: no spaces (it goes on the kernel command line)")
        if len(str(self._mconsole_path)) > _SUN_PATH_MAX:
            raise GuestConfigError(f"run_dir {run_dir} is too long for the guest's console socket path")
        self.boot_seconds: float | None = None  # host-measured launch -> ready of the last start()
        self._proc: subprocess.Popen | None = None

    # ----- paths
    @property
    def uml_dir(self) -> Path:
        return self.guest_dir / "uml"

    @property
    def console_log(self) -> Path:
        return self.guest_dir / "log" / "console.log"

    @property
    def syslog(self) -> Path:
        """The guest's /var/log/syslog (pppoe-server, pppd, sshd, snmpd, dhcpcd log here)."""
        return self.guest_dir / "log" / "syslog"

    @property
    def _mconsole_path(self) -> Path:
        return self.uml_dir / self.name / "mconsole"

    @property
    def _pid_file(self) -> Path:
        return self.guest_dir / "uml.pid"

    # ----- processes
    def _is_guest_process(self, pid: int) -> bool:
        """Whether `pid` is a live host process of this guest (its command line names our uml_dir)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return f"uml_dir={self.uml_dir}".encode() in cmdline.split(b"\0")

    def _recorded_pids(self) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in json.loads(self._pid_file.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    @property
    def pid(self) -> int | None:
        """Host pid of the UML kernel process (PID 1 of the guest's PID namespace), if it runs."""
        kernel = self._recorded_pids().get("kernel")
        return kernel if kernel and self._is_guest_process(kernel) else None

    def is_running(self) -> bool:
        return any(self._is_guest_process(pid) for pid in self._recorded_pids().values())

    def host_pids(self) -> list[int]:
        """Every host process of this guest (UML kernel, its helpers, one per guest address space)."""
        pids = (int(p) for p in os.listdir("/proc") if p.isdigit())
        return [pid for pid in pids if self._is_guest_process(pid)]

    def memory_kib(self) -> int:
        """Host memory the guest uses now: the proportional set size of each of its address spaces.

        UML's helper threads are separate processes sharing the kernel's address space: each address
        space is counted once.
        """
        spaces: list[int] = []
        for pid in self.host_pids():
            if not any(_same_address_space(pid, other) for other in spaces):
                spaces.append(pid)
        return sum(pss_kib(pid) for pid in spaces)

    # ----- start
    def _check_netns(self) -> None:
        if not Path("/run/netns", self.netns).exists():
            raise UmlError(f"{self.name}: network namespace {self.netns!r} does not exist")
        out = subprocess.run(["ip", "-n", self.netns, "-o", "link", "show"], capture_output=True, text=True)
        present = {line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()}
        missing = [nic.host_iface for nic in self.nics if nic.host_iface not in present]
        if missing:
            raise UmlError(f"{self.name}: {missing} not found in namespace {self.netns}")

    def _prepare(self) -> None:
        self.guest_dir.mkdir(parents=True, exist_ok=True)
        for sub in FRESH_DIRS:
            shutil.rmtree(self.guest_dir / sub, ignore_errors=True)
            (self.guest_dir / sub).mkdir()
        self._pid_file.unlink(missing_ok=True)
        aliases = {f"vec{i}": nic.guest_name for i, nic in enumerate(self.nics)}
        aliases.update({nic.guest_name: nic.guest_name for nic in self.nics})
        spec = ROLES[self.role](self.guest_dir, self.config, aliases, self.hostname)
        spec.renames = [(f"vec{i}", nic.guest_name) for i, nic in enumerate(self.nics)]
        spec.write(self.guest_dir, kernel_version())
        for script in GUEST_SCRIPTS:
            write_file(self.guest_dir / "bin" / script, (GUEST_SOURCES / script).read_text(), 0o755)
        shutil.copy2(build_syslogd(self.run_dir), self.guest_dir / "bin" / "syslogd")
        if self.role == "bras":
            shutil.copy2(build_pppd_plugin(self.run_dir), self.guest_dir / "bin" / bras.PLUGIN_NAME)

    def _kernel_args(self) -> list[str]:
        args = [
            f"mem={self.mem_mb}M",
            f"umid={self.name}",
            f"uml_dir={self.uml_dir}",
            "root=/dev/root",
            "rootfstype=hostfs",
            "rootflags=/",
            "ro",
            f"init={self.guest_dir / 'bin' / 'init'}",
            "con=null",
            "con0=null,fd:1",  # the guest console (init's output, kernel warnings) -> console.log
            "quiet",
            *FAST_BOOT_ARGS,
        ]
        args += [
            f"vec{i}:transport=raw,ifname={nic.host_iface},mac={nic.mac.lower()}"
            for i, nic in enumerate(self.nics)
        ]
        # Unknown parameters become the environment of init and so of every guest process.
        return [*args, f"HKL_DIR={self.guest_dir}", f"GLIBC_TUNABLES={GLIBC_TUNABLES}"]

    def start(self, timeout: float = 20.0) -> None:
        """Boot the guest; return once its role reported ready, else stop it and raise UmlError."""
        if self.is_running():
            raise UmlError(f"{self.name} is already running (pid {self.pid})")
        self._check_netns()
        shim = build_shim(self.run_dir)
        self._prepare()
        argv = in_ns(self.netns, ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", UML_BINARY])
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_PRELOAD": str(shim)}
        started = time.monotonic()
        with open(self.console_log, "ab") as console:
            self._proc = subprocess.Popen(
                [*argv, *self._kernel_args()],
                cwd=self.guest_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not killed by a Ctrl-C meant for the caller
            )
        try:
            self._record_pids()
            self._wait_ready(started + timeout)
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started

    def _record_pids(self) -> None:
        launcher = self._proc.pid
        children = Path(f"/proc/{launcher}/task/{launcher}/children")
        deadline = time.monotonic() + 5
        kernel = None
        while kernel is None and time.monotonic() < deadline and self._proc.poll() is None:
            try:
                kernel = int(children.read_text().split()[0])
            except (OSError, IndexError, ValueError):
                time.sleep(0.005)
        write_file(self._pid_file, json.dumps({"launcher": launcher, "kernel": kernel or 0}) + "\n")
        if kernel is None:
            raise UmlError(f"{self.name}: the guest did not start\n{self.console_tail()}")

    def _wait_ready(self, deadline: float) -> None:
        state = self.guest_dir / "state"
        while time.monotonic() < deadline:
            if (state / "ready").exists():
                return
            if (state / "failed").exists():
                reason = (state / "failed").read_text().strip()
                raise UmlError(f"{self.name}: boot failed: {reason}\n{self.console_tail()}")
            if self._proc.poll() is not None:
                raise UmlError(f"{self.name}: UML exited ({self._proc.returncode})\n{self.console_tail()}")
            time.sleep(0.02)
        raise UmlError(f"{self.name}: not ready within the timeout\n{self.console_tail()}")

    def console_tail(self, lines: int = 30) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except OSError:
            return "(no console log)"
        kept = [line for line in text.splitlines() if not line.startswith(_CONSOLE_NOISE)]
        return "\n".join(kept[-lines:])

    # ----- stop
    def _mconsole(self, command: str, timeout: float = 2.0) -> str:
        """One request on the UML management console (the protocol of uml_mconsole)."""
        data = command.encode()
        # UML answers to the sender's address: a path, since abstract sockets do not cross into the
        # guest's network namespace.
        own = self.uml_dir / f"c{os.getpid()}"
        own.unlink(missing_ok=True)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(own))
            try:
                sock.settimeout(timeout)
                sock.sendto(
                    struct.pack(f"<III{_MCONSOLE_MAX}s", _MCONSOLE_MAGIC, _MCONSOLE_VERSION, len(data), data),
                    str(self._mconsole_path),
                )
                reply = sock.recv(12 + _MCONSOLE_MAX)
            finally:
                own.unlink(missing_ok=True)
        err, _more, length = struct.unpack("<iII", reply[:12])
        text = reply[12 : 12 + length].rstrip(b"\0").decode(errors="replace")
        if err:
            raise UmlError(f"{self.name}: mconsole {command!r} failed: {text}")
        return text

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                self._proc.poll()  # reap our child so it does not linger as a zombie
            if not self.is_running():
                return True
            time.sleep(0.02)
        return not self.is_running()

    def stop(self, timeout: float = 5.0) -> None:
        """Power the guest off (its role stops its daemons first); kill its PID namespace as a fallback."""
        if not self.is_running():
            self._reap()
            return
        booted = any((self.guest_dir / "state" / m).exists() for m in ("ready", "failed"))
        try:
            # "cad" reaches init as SIGINT once init has set kernel.ctrl-alt-del to 0; before that it
            # would reboot the guest, so a guest still booting is halted at once instead.
            self._mconsole("cad" if booted else "halt")
            graceful = self._wait_gone(timeout)
        except (OSError, UmlError):
            graceful = False
        if not graceful:
            pids = self._recorded_pids()
            for role in ("kernel", "launcher"):  # PID 1 first: the kernel then kills the namespace
                pid = pids.get(role)
                if pid and self._is_guest_process(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if not self._wait_gone(3.0):
                raise UmlError(f"{self.name}: still running after SIGKILL: pids {self.host_pids()}")
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass


# ----- BRAS controls (fault injection and observation)
def _bras_dir(guest: UmlGuest) -> Path:
    if guest.role != "bras":
        raise UmlError(f"{guest.name} is a {guest.role}, not a BRAS")
    return guest.guest_dir


def bras_set_accounts(guest: UmlGuest, accounts: Iterable[Mapping[str, Any] | Any]) -> None:
    """Replace the BRAS's accounts at run time; the next authentication sees them (atomic rewrite)."""
    bras.write_accounts(_bras_dir(guest), accounts)


def bras_sessions(guest: UmlGuest) -> list[dict[str, Any]]:
    """Sessions with IPCP up: {user, ip, local_ip, ifname, pid, since} (pid is pppd's in the guest)."""
    return bras.sessions(_bras_dir(guest))


def bras_stop_server(guest: UmlGuest, timeout: float = 10.0) -> None:
    """Fault "BRAS down": stop pppoe-server (no PADO any more) and end every session; the guest stays up."""
    set_service(_bras_dir(guest), bras.SERVER, up=False, timeout=timeout)


def bras_start_server(guest: UmlGuest, timeout: float = 10.0) -> None:
    set_service(_bras_dir(guest), bras.SERVER, up=True, timeout=timeout)


# ----- CPE controls
def cpe_service(guest: UmlGuest, service: str, running: bool, timeout: float = 10.0) -> None:
    """Stop or start a CPE's sshd or snmpd (fault injection); returns once the guest reports it.

    Stopping sshd closes its listener only: open sessions stay, as with `systemctl stop ssh`.
    """
    if guest.role != "cpe":
        raise UmlError(f"{guest.name} is a {guest.role}, not a CPE")
    if service not in cpe.SERVICES:
        raise UmlError(f"no CPE service {service!r} (one of {', '.join(cpe.SERVICES)})")
    set_service(guest.guest_dir, service, up=running, timeout=timeout)
