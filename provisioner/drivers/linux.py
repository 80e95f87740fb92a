"""Linux CPE driver (pppd + rp-pppoe, dhcpcd, dnsmasq, nftables, hostapd), over netmiko `linux`.

The "running config" of a Linux CPE is the content of the files the provisioner manages (the rendered
files' paths, e.g. /etc/ppp/peers/flets, plus the list of what it managed before, /etc/hikari/managed, so
a file the intent no longer needs is removed). Nothing is normalised away: the files carry no timestamps,
and a restore is checked byte for byte.

- apply: every changed file is written atomically over SFTP (temp file in the same directory + rename),
  so file contents (secrets) never cross the interactive session or its log; then each daemon whose files
  changed is reloaded through the shell (`Unit`s: addressing and nftables first, the others together in one
  round trip), every command ending in an exit-status marker that `error_pattern` catches. A CPE whose
  kernel has no inet/ip nftables (the lab's UML guests, lab/CPE.md) gets its ruleset validated by the
  controller's own nft and installed without loading, and the report says so.
- save: a no-op. The files are the persistent configuration; the CPE boots with what is on disk.
- backup: the snapshot is kept by the job (locally) and copied on the CPE under /etc/hikari/backup/<job>
  for a technician; restore writes the snapshot back (absent files removed) and reloads what it touched.

The login must be root-equivalent (the lab CPE's user is uid 0; OpenWrt logs in as root).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import logging
import posixpath
import re
import shlex
import stat
import subprocess
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from provisioner.drivers.base import Backup, CpeDriver
from provisioner.drivers.errors import CommandRejected, DriverError
from provisioner.drivers.models import (
    ConfigSnapshot,
    Facts,
    Ipv4Address,
    Ipv6Prefix,
    PppoeStatus,
    TunnelStatus,
    WifiStatus,
)
from provisioner.drivers.registry import register_driver
from provisioner.render import RenderedConfig
from provisioner.sessionlog import mask_line, note

MANAGED_LIST = "/etc/hikari/managed"
BACKUP_DIR = "/etc/hikari/backup"
SYSLOG = "/var/log/syslog"
RC_MARK = "hikari-rc="
_UNIT_MARK = "hikari-unit "
RELOAD_SCRIPT = "/run/hikari-reload.sh"
_SEP = "--hikari-section--"
LONG_COMMAND = 400


@dataclass(frozen=True)
class Unit:
    """A daemon (or script) that reads some managed files and is reloaded when they change.

    `reload(present)` gets the unit's files that exist after the change and returns the shell to run;
    `stop` runs instead when none of them exists any more."""

    name: str
    paths: tuple[str, ...]  # exact paths, or directories ending in "/"
    reload: Callable[[list[str]], str]
    stop: str = ""
    serial: bool = False  # reloaded alone, before the others (what the others depend on)

    def owns(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.paths)


def _wait_gone(pattern: str, tenths: int = 50) -> str:
    """Shell: wait (bounded) until no process matches `pattern` (pgrep -f). Anchor patterns at the start
    (^name): unanchored, they also match the shell running this very line."""
    return (
        f"i=0; while pgrep -f {shlex.quote(pattern)} >/dev/null && [ $i -lt {tenths} ]; "
        f"do sleep 0.1; i=$((i+1)); done"
    )


def _stop(pattern: str, term: str, tenths: int = 50) -> str:
    """Shell: ask a daemon to stop (`term`), wait (bounded), then make sure (SIGKILL). Bounded on purpose:
    `dhcpcd -x` itself waits up to ~45 s for a busy daemon."""
    q = shlex.quote(pattern)
    return f"{term}; {_wait_gone(pattern, tenths)}; pkill -KILL -f {q} 2>/dev/null; true"


def _pppd_reload(present: list[str]) -> str:
    """Redial each peer (its secrets may have changed); with no peer file left, hang every session up."""
    peers = [posixpath.basename(p) for p in present if p.startswith("/etc/ppp/peers/")]
    steps = []
    for peer in peers:
        q = shlex.quote(peer)
        # pppd ends with LCP Terminate (PADT follows): up to ~10 s when the BAS is slow to ack
        steps += [_stop(f"^(/usr/sbin/)?pppd call {peer}$", f"poff {q} >/dev/null 2>&1", tenths=120), f"pon {q}"]
    return "; ".join(steps) or _PPPD_STOP


def _dnsmasq_reload(present: list[str]) -> str:
    conf = " ".join(f"-C {shlex.quote(p)}" for p in present[:1])
    # Leases where Debian keeps them, else in /run (a read-only /var/lib, as on the lab's CPE).
    lease = "lf=/var/lib/misc/dnsmasq.leases; touch $lf 2>/dev/null || lf=/run/hikari-dnsmasq.leases"
    return f"{_DNSMASQ_STOP}; {lease}; dnsmasq {conf} -x /run/hikari-dnsmasq.pid --dhcp-leasefile=$lf"


def _hostapd_reload(present: list[str]) -> str:
    """Start hostapd on each radio that exists (all at once: hostapd takes ~2 s to start on a small CPU).
    The files whose radio is absent (the lab has none) are gated by one hostapd that reads them in turn, so
    a configuration hostapd would refuse still stops the push. Shell builtins where they do (`[ -e ]`,
    `case`): on a small CPU, or a UML guest, every process started costs 0.1-0.3 s."""
    if not present:
        return "true"
    steps = ["set --", "w="]
    for conf in present:
        q = shlex.quote(conf)
        iface = posixpath.basename(conf).removeprefix("hostapd-").removesuffix(".conf")
        pid = shlex.quote(f"/run/hikari-hostapd-{posixpath.basename(conf)}.pid")
        steps.append(
            f"if [ -e {shlex.quote('/sys/class/net/' + iface)} ]; then "
            f"([ -s {pid} ] && kill $(cat {pid}) 2>/dev/null; hostapd -B -P {pid} {q} >/dev/null) & w=\"$w $!\"; "
            f"else set -- \"$@\" {q}; fi"
        )
    gate = hostapd_gate('"$@"')
    steps += ["r=0", f"[ $# -eq 0 ] || {{ {gate}; }} || r=1",
              "for p in $w; do wait $p || r=1; done", "[ $r = 0 ]"]
    return "; ".join(steps)


_HOSTAPD_COMPLAINT = re.compile(r"^Line \d+:|errors? found in configuration|did not finish reading")
_HOSTAPD_SUMMARY = re.compile(r"errors? found in configuration file '(?P<file>[^']*)'")
HOSTAPD_GATE_SECONDS = 60  # a bound for a hostapd that hangs; 50 busy UML CPEs need more than 20 s to read


def hostapd_gate(confs: str) -> str:
    """Shell: hostapd reads the files `confs` (shell words; no radio needed for that); exit 0 only when it
    read them all and went on to the driver, else print its complaint ("Line N: ..." then "N errors found in
    configuration file 'X'") and fail. Silence is no proof: under load `timeout` may end hostapd before it
    read the files. -k: without a radio hostapd can block and ignore SIGTERM. No -d: at its default level
    hostapd prints its errors and nothing of the files' values (an SSID could read like a complaint)."""
    return (
        f"o=$(timeout -k 1 {HOSTAPD_GATE_SECONDS} hostapd {confs} 2>&1); case \"$o\" in "
        "*'found in configuration'*|*'Line '[0-9]*) printf '%s\\n' \"$o\" | "
        "grep -E '^Line [0-9]+:|errors? found in configuration'; false;; "
        "*nl80211:*|*'Failed to initialize driver'*) true;; "
        "*) echo 'hostapd did not finish reading the configuration'; false;; esac"
    )


def hostapd_complaints(gate_output: str) -> list[str]:
    """The gate's complaint lines, each named by the file hostapd names in the summary that follows them."""
    out, pending = [], []
    for line in gate_output.splitlines():
        line = line.strip()
        if summary := _HOSTAPD_SUMMARY.search(line):
            name = posixpath.basename(summary["file"])
            out += [f"{name}: {c}" for c in [*pending, line]]
            pending = []
        elif _HOSTAPD_COMPLAINT.search(line) and "grep" not in line:
            pending.append(line)
    return out + [f"hostapd: {c}" for c in pending]


_PPPD_STOP = _stop("^(/usr/sbin/)?pppd call ", "poff -a >/dev/null 2>&1", tenths=120)
_DHCPCD_STOP = _stop("^dhcpcd", "pkill -TERM -x dhcpcd")
_DNSMASQ_STOP = (
    "[ -s /run/hikari-dnsmasq.pid ] && kill $(cat /run/hikari-dnsmasq.pid) 2>/dev/null; "
    + _wait_gone("^dnsmasq -C /etc/dnsmasq.d/")
)
# The tunnel needs the delegated prefix on the LAN first: retry in the background, bounded (20 s).
_TUNNEL_START = (
    "(setsid sh -c 'for i in $(seq 1 100); do sh /etc/hikari/tunnel.sh >/run/hikari-tunnel.log 2>&1 "
    "&& exit 0; sleep 0.2; done; exit 1' </dev/null >/dev/null 2>&1 &)"
)

# Dependency order: addressing and filters first, then the WAN daemons, then what rides on them.
LINUX_UNITS: tuple[Unit, ...] = (
    Unit("network", ("/etc/hikari/network.sh",), lambda p: "sh /etc/hikari/network.sh", serial=True),
    Unit("nftables", ("/etc/nftables.conf",), lambda p: "nft -f /etc/nftables.conf", "nft flush ruleset",
         serial=True),
    Unit("dnsmasq", ("/etc/dnsmasq.d/",), _dnsmasq_reload, _DNSMASQ_STOP),
    Unit("dhcpcd", ("/etc/dhcpcd.conf",), lambda p: f"{_DHCPCD_STOP}; dhcpcd -b -q </dev/null >/dev/null",
         _DHCPCD_STOP),
    Unit("pppd", ("/etc/ppp/peers/", "/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets"), _pppd_reload, _PPPD_STOP),
    Unit(
        "tunnel",
        ("/etc/hikari/tunnel.sh",),
        lambda p: _TUNNEL_START,
        "ip -6 tunnel del dslite0 2>/dev/null; ip -6 tunnel del mape0 2>/dev/null; true",
    ),
    Unit("hostapd", ("/etc/hostapd/",), _hostapd_reload, "pkill -f '^hostapd -B -P /run/hikari-hostapd' ; true"),
    Unit(
        "snmpd",
        ("/etc/snmp/snmpd.conf.d/",),
        lambda p: "[ -s /run/snmpd.pid ] && kill -HUP $(cat /run/snmpd.pid); true",
        "[ -s /run/snmpd.pid ] && kill -HUP $(cat /run/snmpd.pid); true",
    ),
)

# The parts of the state read (LinuxDriver._read_state) each getter answers from.
_STATE_KEYS_FOR = {"pppoe": ("addr", "pppd", "log"), "ipv4": ("addr",), "ipv6": ("addr", "unreachable"),
                   "tunnel": ("tunnels",)}
_TUNNEL_KINDS = {"dslite": "ds-lite", "mape": "map-e", "ipip": "ipip"}
# A pap/chap-secrets line (or its diff line): client server SECRET [addresses]
_SECRETS_FILE_LINE = re.compile(
    r'^[+\- ]?\s*(?!#)(?:"(?:[^"\\]|\\.)*"|[^\s"]+)\s+(?:"(?:[^"\\]|\\.)*"|\S+)\s+(?P<v>"(?:[^"\\]|\\.)*"|\S+)'
)


def file_mode(path: str) -> int:
    """Mode for a file the provisioner creates: root-only (the daemons read it as root; any file may hold a
    secret), scripts executable. A file that exists keeps its mode."""
    return 0o700 if path.endswith(".sh") else 0o600


def managed_list(paths: Iterable[str]) -> str:
    return "".join(f"{p}\n" for p in sorted(set(paths)))


@register_driver
class LinuxDriver(CpeDriver):
    platform = "linux"
    netmiko_device_type = "linux"
    vendor = "Linux"
    # Every command we run ends with `echo hikari-rc=$?`: a non-zero status is a refusal.
    error_pattern = r"hikari-rc=[1-9]"
    save_is_noop = True
    units: ClassVar[tuple[Unit, ...]] = LINUX_UNITS
    ppp_ifname_default: ClassVar[str] = "ppp0"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sftp: Any = None
        self._log_mark: int | None = None
        self._state: dict[str, Any] | None = None
        self._nft_inet: bool | None = None
        self._hostapd_passed: dict[str, str] = {}  # conf -> content hostapd accepted in this session

    def mask_file_text(self, name: str, text: str) -> str:
        """pppd's *-secrets files hold the password as the third word of every line, with no keyword."""
        if posixpath.basename(name).endswith("secrets"):
            text = "".join(mask_line(line, (_SECRETS_FILE_LINE,)) for line in text.splitlines(keepends=True))
        return super().mask_file_text(name, text)

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Leave the shell and close. Not netmiko's disconnect(): for a root login its cleanup takes the
        prompt `#` for sudo's and sends an `exit` that ends the shell, then waits ~10 s for a prompt."""
        self._close_sftp()
        conn, self.conn = self.conn, None
        if conn is None:
            return
        _quiet(lambda: conn.write_channel("exit" + conn.RETURN))
        _quiet(conn.paramiko_cleanup)
        if conn.session_log:
            _quiet(conn.session_log.close)
        _quiet(lambda: logging.getLogger("netmiko").removeFilter(conn._secrets_filter))

    def drop(self) -> None:
        self._sftp = None
        super().drop()

    def _close_sftp(self) -> None:
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            try:
                sftp.close()
            except Exception:
                pass

    def sftp(self) -> Any:
        if self._sftp is None:
            with self._transport_guard("sftp"):
                self._sftp = self.conn.remote_conn_pre.open_sftp()
        return self._sftp

    def run(self, command: str, *, timeout: float | None = None, check: bool = True) -> str:
        """A shell command in the session; a non-zero exit status (error_pattern on the marker) raises
        CommandRejected carrying what the command printed."""
        line = f"{command}; echo {RC_MARK}$?"
        # The shell wraps a line longer than the terminal and netmiko then never sees its echo.
        out = self.send(
            line, read_timeout=timeout or self.timeouts.apply, check=False, cmd_verify=len(line) < LONG_COMMAND
        ).replace("\r", "")
        # No marker at all means the shell never ran the line (a syntax error): that is a failure too.
        failed = re.search(self.error_pattern, out) or not re.search(rf"^{RC_MARK}\d+", out, re.M)
        if check and failed:
            said = [line.strip() for line in out.splitlines() if line.strip() and not line.startswith(RC_MARK)]
            raise CommandRejected(
                f"{self.target.label}: `{command.split()[0]}` failed: {self.secrets.mask(' | '.join(said[-3:]))}",
                output=self.secrets.mask(out),
            )
        return out

    def output(self, command: str, *, timeout: float | None = None) -> str:
        """The output of a read-only command, without the status marker (a failure still raises)."""
        out = self.run(command, timeout=timeout)
        return "\n".join(line for line in out.splitlines() if not line.startswith(RC_MARK)).strip("\n")

    # ------------------------------------------------------------------ files
    def read_files(self, paths: Iterable[str]) -> dict[str, str | None]:
        """Exact contents (None = absent) through SFTP: nothing of it reaches the session log."""
        out: dict[str, str | None] = {}
        sftp = self.sftp()
        for path in sorted(set(paths)):
            with self._transport_guard(f"read {path}"):
                try:
                    with sftp.open(path, "rb") as fh:
                        out[path] = fh.read().decode("utf-8")
                except FileNotFoundError:
                    out[path] = None
        return out

    def write_file(self, path: str, content: str, *, log: bool = True) -> None:
        """Atomic: a temp file in the same directory, its mode set, then renamed over the target."""
        sftp = self.sftp()
        directory = posixpath.dirname(path)
        tmp = posixpath.join(directory, f".{posixpath.basename(path)}.hikari-{uuid.uuid4().hex[:8]}")
        data = content.encode("utf-8")
        with self._transport_guard(f"write {path}"):
            self._makedirs(directory)
            try:
                mode = stat.S_IMODE(sftp.stat(path).st_mode)  # an existing file keeps its mode
            except FileNotFoundError:
                mode = file_mode(path)
            try:
                sftp.putfo(io.BytesIO(data), tmp, file_size=len(data), confirm=True)
                sftp.chmod(tmp, mode)
                sftp.posix_rename(tmp, path)
            except OSError as exc:
                if not self.is_alive():
                    raise
                _quiet(lambda: sftp.remove(tmp))
                raise CommandRejected(f"{self.target.label}: cannot write {path} ({exc})") from None
        if log:
            note(self.session_log, f"wrote {path} ({len(data)} bytes, mode {mode:o})", self.secrets)

    def remove_file(self, path: str) -> None:
        with self._transport_guard(f"remove {path}"):
            try:
                self.sftp().remove(path)
            except FileNotFoundError:
                return
        note(self.session_log, f"removed {path}", self.secrets)

    def _makedirs(self, directory: str) -> None:
        sftp = self.sftp()
        missing = []
        while directory not in ("", "/"):
            try:
                if stat.S_ISDIR(sftp.stat(directory).st_mode):
                    break
                raise CommandRejected(f"{self.target.label}: {directory} is not a directory")
            except FileNotFoundError:
                missing.append(directory)
                directory = posixpath.dirname(directory)
        for d in reversed(missing):
            sftp.mkdir(d, 0o755)

    # ------------------------------------------------------------------ configuration
    def managed_paths(self) -> list[str]:
        listed = self.read_files([MANAGED_LIST])[MANAGED_LIST] or ""
        return [line.strip() for line in listed.splitlines() if line.strip().startswith("/")]

    def intended(self, rendered: RenderedConfig) -> ConfigSnapshot:
        if rendered.masked:
            raise DriverError("a masked render cannot be pushed: render with show_secrets=True")
        files: dict[str, str | None] = {}
        for name, content in rendered.files.items():
            if not name.startswith("/") or ".." in name.split("/"):
                raise DriverError(f"{self.platform}: rendered file {name!r} is not an absolute path")
            files[name] = content
        files[MANAGED_LIST] = managed_list(files)
        return ConfigSnapshot(platform=self.platform, files=files)

    def get_running_config(self, rendered: RenderedConfig | None = None) -> ConfigSnapshot:
        """The managed files as they are: those the CPE lists as managed, plus the rendered ones."""
        paths = {MANAGED_LIST, *self.managed_paths()}
        if rendered is not None:
            paths |= set(rendered.files)
        return ConfigSnapshot(platform=self.platform, files=self.read_files(paths))

    def snapshot_like(self, snapshot: ConfigSnapshot) -> ConfigSnapshot:
        return ConfigSnapshot(platform=self.platform, files=self.read_files(snapshot.files))

    def apply(self, rendered: RenderedConfig, running: ConfigSnapshot) -> None:
        want = self.intended(rendered).files
        for path in running.files:
            want.setdefault(path, None)  # managed before, not any more: remove it
        self._converge(want, running.files)

    def _converge(self, want: dict[str, str | None], have: dict[str, str | None]) -> None:
        changed = [p for p, content in want.items() if have.get(p) != content]
        if not changed:
            return
        self._mark_log()
        # The list of managed files goes last: if the session dies half-way, it still names every file
        # the previous state had, so a later run still finds and removes what this one added.
        for path in sorted(changed, key=lambda p: p == MANAGED_LIST):
            content = want[path]
            if content is None:
                self.remove_file(path)
            else:
                self.write_file(path, content)
        self.reload(changed, want)

    def reload(self, changed: list[str], state: dict[str, str | None]) -> None:
        """Reload the units whose files changed: the serial ones first, one by one (addressing, filters),
        then the rest at once in one round trip (they do not depend on each other: pppd, dhcpcd, dnsmasq,
        hostapd ... each waits for its own peer). A unit that fails stops the push with its own output."""
        parallel: list[tuple[Unit, str]] = []
        for unit in self.units:
            if not any(unit.owns(p) for p in changed):
                continue
            present = sorted(p for p, content in state.items() if unit.owns(p) and content is not None)
            command = unit.reload(present) if present else unit.stop
            if unit.name == "nftables" and not self._kernel_has_nft_inet():
                # e.g. the lab's UML kernel (bridge family only, lab/CPE.md): validate, install, say so.
                for path in present:
                    validate_nft_locally(state[path] or "", self.secrets)
                self.warnings.append("nftables: the CPE's kernel lacks the inet/ip families; the ruleset was "
                                     "validated by the controller's nft and installed, not loaded")
            elif command and unit.serial:
                self._reload_units([(unit, command)])
            elif command:
                parallel.append((unit, command))
        if parallel:
            self._reload_units(parallel)

    def _reload_units(self, units: list[tuple[Unit, str]]) -> None:
        """One round trip, in a non-interactive `sh`: in the login shell a background job that touches the
        terminal is stopped by SIGTTOU (job control) and its `wait` never returns. A watchdog ends what
        overruns the apply timeout."""
        t0 = time.monotonic()
        limit = max(5, int(self.timeouts.apply) - 10)
        script = []
        for i, (unit, command) in enumerate(units):
            script.append(f"( {command} ) </dev/null >/run/hikari-reload.{unit.name} 2>&1 & p{i}=$!")
        pids = " ".join(f"$p{i}" for i in range(len(units)))
        script.append(f"( sleep {limit}; kill {pids} ) </dev/null >/dev/null 2>&1 & w=$!")
        for i, (unit, _) in enumerate(units):
            script.append(f"wait $p{i}; r=$?; echo {_UNIT_MARK}{unit.name} $r; "
                          f"[ $r = 0 ] || tail -n 5 /run/hikari-reload.{unit.name}")
        script.append("pkill -P $w 2>/dev/null; kill $w 2>/dev/null; true")
        # The script goes as a file: in `sh -c '<script>'` its own text would match the pgrep patterns.
        self.write_file(RELOAD_SCRIPT, "\n".join(script) + "\n", log=False)
        note(self.session_log, "reload script:\n" + "\n".join(script), self.secrets)
        out = self.run(f"sh {RELOAD_SCRIPT}")
        statuses = dict(re.findall(rf"^{_UNIT_MARK}(\S+) (\d+)$", out, re.M))
        for unit, _ in units:
            if statuses.get(unit.name) != "0":
                said = [line.strip() for line in out.splitlines()
                        if line.strip() and not line.startswith((_UNIT_MARK, RC_MARK))][-3:]
                raise CommandRejected(
                    f"{self.target.label}: {unit.name} refused its new configuration: "
                    + self.secrets.mask(" | ".join(said) or f"exit status {statuses.get(unit.name, '?')}"),
                    output=self.secrets.mask(out),
                )
        names = ", ".join(u.name for u, _ in units)
        note(self.session_log, f"reloaded {names} in {time.monotonic() - t0:.2f} s", self.secrets)
        if any(u.name == "hostapd" for u, _ in units):
            confs = [p for p in self.managed_paths() if p.startswith("/etc/hostapd/")]
            self._hostapd_passed.update({p: c for p, c in self.read_files(confs).items() if c is not None})

    def _kernel_has_nft_inet(self) -> bool:
        if self._nft_inet is None:
            out = self.run("nft add table inet hikari_probe 2>&1 && nft delete table inet hikari_probe", check=False)
            self._nft_inet = not re.search(self.error_pattern, out)
        return self._nft_inet

    def save(self) -> None:
        """Nothing to do: the files written by apply() are the configuration the CPE boots with."""

    def backup(self, job_id: str, snapshot: ConfigSnapshot) -> Backup:
        return Backup(snapshot=snapshot, on_device=self._copy_on_device(job_id, snapshot))

    def _copy_on_device(self, job_id: str, snap: ConfigSnapshot) -> str:
        where = posixpath.join(BACKUP_DIR, re.sub(r"[^A-Za-z0-9_.-]", "_", job_id))
        present = [p for p, c in snap.files.items() if c is not None]
        absent = [p for p, c in snap.files.items() if c is None]
        self.write_file(f"{where}/manifest.json", json.dumps({"present": present, "absent": absent}) + "\n")
        if present:
            files = " ".join(shlex.quote(p.lstrip("/")) for p in present)
            self.run(f"umask 077; tar -C / -cf {shlex.quote(where)}/files.tar {files}")
        return where

    def restore(self, backup: Backup) -> None:
        have = self.read_files(backup.snapshot.files)
        self._converge(dict(backup.snapshot.files), have)

    def discard_backup(self, backup: Backup) -> None:
        if backup.on_device and backup.on_device.startswith(BACKUP_DIR + "/"):
            self.run(f"rm -rf {shlex.quote(backup.on_device)}", check=False)

    # ------------------------------------------------------------------ getters
    def _mark_log(self) -> None:
        """Remember where the syslog ends, so status reads only what the daemons said since the push."""
        try:
            size = self.output(f"stat -c %s {SYSLOG} 2>/dev/null || echo 0").strip().splitlines()
            self._log_mark = int(size[-1]) if size else 0
        except (DriverError, ValueError):
            self._log_mark = None

    def log_command(self, program: str) -> str:
        """Shell printing `program`'s recent syslog lines (since the last push, when one happened)."""
        start = (self._log_mark or 0) + 1
        return f"tail -c +{start} {SYSLOG} 2>/dev/null | grep -F {shlex.quote(program + '[')} | tail -n 40"

    @contextlib.contextmanager
    def status_poll(self, needs: Collection[str] | None = None) -> Iterator[None]:
        """One read of the CPE's state answers every getter of a verify poll (UML CPEs make each command
        cost ~0.1-0.3 s, so one round trip per poll instead of six); only the parts `needs` asks for."""
        keys = None if needs is None else {k for need in needs for k in _STATE_KEYS_FOR.get(need, ())}
        self._state = self._read_state(keys)
        try:
            yield
        finally:
            self._state = None

    def _read_state(self, keys: Collection[str] | None = None) -> dict[str, Any]:
        parts = {
            "addr": "ip -j addr show",
            "unreachable": "ip -j -6 route show type unreachable",
            "tunnels": "ip -j -d link show type ip6tnl",
            "pppd": "pgrep -x pppd >/dev/null && echo yes || echo no",
            "log": self.log_command("pppd"),
        }
        parts = {k: v for k, v in parts.items() if keys is None or k in keys}
        if not parts:
            return {}
        out = self.output(f"; echo {_SEP}; ".join(f"{{ {p}; }}" for p in parts.values()) + "; true")
        sections = dict(zip(parts, [chunk.strip() for chunk in out.split(_SEP)] + [""] * len(parts), strict=False))
        parse = {"pppd": lambda text: text.endswith("yes"),
                 "log": lambda text: [line for line in text.splitlines() if line.strip()]}
        return {k: parse.get(k, _json_list)(text) for k, text in sections.items()}

    def state(self, *keys: str) -> dict[str, Any]:
        """The parts `keys` of the state: from the poll's read when it has them, else read now."""
        st = getattr(self, "_state", None)
        return st if st is not None and all(k in st for k in keys) else self._read_state(keys)

    def get_facts(self) -> Facts:
        out = self.output("hostname; uname -r; cat /proc/uptime; . /etc/os-release 2>/dev/null; echo \"$PRETTY_NAME\"")
        lines = [*out.splitlines(), "", "", "", ""]
        return Facts(
            platform=self.platform,
            hostname=lines[0].strip(),
            vendor=self.vendor,
            model=lines[3].strip(),
            os_version=lines[1].strip(),
            uptime_s=float(lines[2].split()[0]) if lines[2].split() else None,
        )

    def ppp_ifname(self, session: int) -> str:
        return self.ppp_ifname_default if session == 1 else f"ppp{session - 1}"

    def get_pppoe_status(self, session: int = 1) -> PppoeStatus:
        ifname = self.ppp_ifname(session)
        st = self.state(*_STATE_KEYS_FOR["pppoe"])
        links = [link for link in st["addr"] if link.get("ifname") == ifname]
        return parse_pppoe(session, ifname, links, st["pppd"], st["log"])

    def get_ipv4_addresses(self) -> list[Ipv4Address]:
        return parse_ipv4(self.state(*_STATE_KEYS_FOR["ipv4"])["addr"])

    def get_ipv6_prefixes(self) -> list[Ipv6Prefix]:
        st = self.state(*_STATE_KEYS_FOR["ipv6"])
        return parse_ipv6(st["addr"], st["unreachable"])

    def get_tunnel_status(self) -> list[TunnelStatus]:
        return parse_tunnels(self.state(*_STATE_KEYS_FOR["tunnel"])["tunnels"])

    def get_wifi_status(self) -> WifiStatus:
        confs = [p for p in self.managed_paths() if p.startswith("/etc/hostapd/")]
        if not confs:
            return WifiStatus(configured=False, accepted=False, detail="no Wi-Fi configuration")
        texts = {conf: text or "" for conf, text in self.read_files(confs).items()}
        unchecked = [c for c in confs if self._hostapd_passed.get(c) != texts[c]]  # not gated by this session
        complaints = []
        if unchecked:
            gate = self.run(hostapd_gate(" ".join(map(shlex.quote, unchecked))), check=False,
                            timeout=HOSTAPD_GATE_SECONDS + 30)
            complaints = hostapd_complaints(gate)
        ssids = [m.group(1) for conf in confs for m in re.finditer(r"^ssid2?=(.*)$", texts[conf], re.M)]
        return WifiStatus(
            configured=True,
            accepted=not complaints,
            ssids=tuple(ssids),
            detail="; ".join(complaints[:5]),
        )


# ---------------------------------------------------------------------- parsers (pure, unit-tested)
_AUTH_FAIL = re.compile(r"(CHAP|PAP)? ?authentication failed|peer refused to authenticate|auth.* fail", re.I)


def parse_pppoe(
    session: int, ifname: str, links: list[dict[str, Any]], pppd_running: bool, log: list[str]
) -> PppoeStatus:
    """`ip -j addr show dev pppN` + whether pppd runs + pppd's syslog lines since the push."""
    link = links[0] if links else None
    inet = next((a for a in (link or {}).get("addr_info", []) if a.get("family") == "inet"), None)
    detail = ""
    failures = [line for line in log if _AUTH_FAIL.search(line)]
    if failures:
        detail = "authentication failed"
    elif log:
        detail = log[-1].split("]: ", 1)[-1].strip()
    if link and inet and "UP" in link.get("flags", []):
        return PppoeStatus(
            session=session, state="up", interface=ifname,
            ipv4=ipaddress.IPv4Address(inet["local"]),
            peer=ipaddress.IPv4Address(inet["address"]) if inet.get("address") else None,
            mtu=link.get("mtu"),
        )
    state = "connecting" if pppd_running else "down"
    return PppoeStatus(session=session, state=state, interface=ifname if link else None, detail=detail)


def parse_ipv4(links: list[dict[str, Any]]) -> list[Ipv4Address]:
    out = []
    for link in links:
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                out.append(Ipv4Address(
                    interface=link["ifname"], address=ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}")
                ))
    return out


def parse_ipv6(links: list[dict[str, Any]], unreachable: list[dict[str, Any]]) -> list[Ipv6Prefix]:
    """Interface addresses give their /64 (origin ra when SLAAC-made, pd when the address sits inside a
    delegated prefix); dhcpcd's unreachable routes (proto dhcp) give the delegated prefixes themselves."""
    delegated = [
        ipaddress.IPv6Network(r["dst"]) for r in unreachable if r.get("protocol") == "dhcp" and "/" in r.get("dst", "")
    ]
    out = [Ipv6Prefix(interface="lo", prefix=net, origin="pd") for net in delegated]
    for link in links:
        for a in link.get("addr_info", []):
            if a.get("family") != "inet6" or a.get("scope") != "global":
                continue
            addr = ipaddress.IPv6Address(a["local"])
            net = ipaddress.IPv6Interface(f"{a['local']}/{a['prefixlen']}").network
            if any(addr in d for d in delegated):
                origin = "pd"
            elif a.get("dynamic") or a.get("mngtmpaddr"):
                origin = "ra"
            else:
                origin = "static"
            lft = a.get("valid_life_time")
            out.append(Ipv6Prefix(
                interface=link["ifname"], prefix=net, origin=origin, address=addr,
                valid_lifetime_s=lft if isinstance(lft, int) and lft < 2**32 - 1 else None,
            ))
    return out


def parse_tunnels(links: list[dict[str, Any]]) -> list[TunnelStatus]:
    out = []
    for link in links:
        name = link.get("ifname")
        if not name or name == "ip6tnl0":  # the kernel's fallback device, not a tunnel of ours
            continue
        info = (link.get("linkinfo") or {}).get("info_data") or {}
        kind = next((k for prefix, k in _TUNNEL_KINDS.items() if name.startswith(prefix)), "unknown")
        up = "UP" in link.get("flags", []) and link.get("operstate") in ("UP", "UNKNOWN")
        out.append(TunnelStatus(
            name=name, kind=kind, state="up" if up else "down",  # type: ignore[arg-type]
            local=info.get("local"), remote=info.get("remote"),
        ))
    return out


def validate_nft_locally(ruleset: str, secrets) -> None:
    """`nft -c` of a ruleset with the controller's own kernel, in a throwaway network namespace."""
    try:
        proc = subprocess.run(["unshare", "-rn", "nft", "-c", "-f", "-"], input=ruleset, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverError(f"cannot validate the nftables ruleset on the controller ({exc})") from None
    if proc.returncode != 0:
        said = [line for line in proc.stderr.splitlines() if "Error" in line][:2]
        raise CommandRejected("nftables refused its new configuration: " + secrets.mask(" | ".join(said)))


def _json_list(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return [d for d in data if isinstance(d, dict) and d] if isinstance(data, list) else []


def _quiet(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass
