"""The boot files a guest's `init` reads, and helpers shared by the role modules.

Each exec in a UML guest is costly (tens of ms, far more on a loaded host), so the host prepares
everything it can and init runs one `mount -a`, one `modprobe -a` and one `ip -batch` per step:
  boot.env     shell variables: role, hostname, modules to load, role-specific HKL_* values
  fstab.base   /proc, /sys, /dev/pts, /dev/shm, tmpfs /run, this dir at /run/lab, tmpfs /tmp /var/tmp /root,
               /var/log (the dir's log/)
  fstab.etc    the /etc overlay and the role's bind mounts (after the modules are in)
  net.batch    NIC renames (vecN -> name), links up, addresses
  modroot/     lib/modules/<version> -> the UML modules, for `modprobe -d` (the host has no /lib/modules)
  bin/modprobe the kernel's module loader (autoload of nf_tables etc.) pointing modprobe at modroot
  etc/         empty stand-ins for the host's private /etc files (shadow, SSH host keys, secrets)
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

# Modules every guest loads: the guest's /etc is an overlay (host /etc below, the guest dir's etc/ above).
BASE_MODULES = ("overlay",)
UML_MODULES = Path("/usr/lib/uml/modules")
GUEST_DIR = "/run/lab"  # where the guest sees its host dir
# The UML kernel keeps only the legacy + AVX part of a guest process's FPU state (lab/shim/xstate_shim.c):
# every guest process gets this to keep glibc off AVX-512 (via the kernel command line, sshd's SetEnv).
GLIBC_TUNABLES = "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD"
DOC_NETS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_IFNAME = re.compile(r"^[a-z][a-z0-9]{0,14}$")
# Names that pppd's secrets files, the plugin's accounts file and shell scripts all take verbatim.
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
_WORD = re.compile(r"^[A-Za-z0-9._@+:=,/-]{1,128}$")


class GuestConfigError(ValueError):
    """A role config the guest cannot run with; the message names the field (never a secret's value)."""


@dataclass
class BootSpec:
    """What a role needs from init besides its role script."""

    role: str
    hostname: str
    modules: list[str]
    renames: list[tuple[str, str]] = field(default_factory=list)  # (kernel name vecN, name in the guest)
    addrs: list[tuple[str, str]] = field(default_factory=list)  # (ifname, address/prefix)
    binds: list[tuple[str, str]] = field(default_factory=list)  # (path under the guest dir, guest path)
    extra: dict[str, str | list[str]] = field(default_factory=dict)  # role-specific HKL_* variables

    def write(self, guest_dir: Path, kernel_version: str) -> None:
        """Write the boot files into `guest_dir` (see the module docstring)."""
        if "," in str(guest_dir):
            raise GuestConfigError(f"{guest_dir}: no commas (the path is a hostfs mount option)")
        values = {
            "HKL_ROLE": self.role,
            "HKL_HOSTNAME": self.hostname,
            "HKL_MODULES": [*BASE_MODULES, *self.modules],
            **self.extra,
        }
        env = ["# written by lab/guest/boot.py; sourced by the guest's init"]
        for key, value in values.items():
            quoted = (
                f"({' '.join(map(shlex.quote, value))})" if isinstance(value, list) else shlex.quote(value)
            )
            env.append(f"{key}={quoted}")
        write_file(guest_dir / "boot.env", "\n".join(env) + "\n")

        write_file(
            guest_dir / "fstab.base",
            _fstab(
                ("proc", "/proc", "proc", "defaults"),
                ("sysfs", "/sys", "sysfs", "defaults"),
                ("devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666,X-mount.mkdir"),
                ("tmpfs", "/dev/shm", "tmpfs", "mode=1777,X-mount.mkdir"),
                ("tmpfs", "/run", "tmpfs", "mode=755"),
                ("hostfs", GUEST_DIR, "hostfs", f"{guest_dir},X-mount.mkdir"),
                ("tmpfs", "/tmp", "tmpfs", "mode=1777"),
                ("tmpfs", "/var/tmp", "tmpfs", "mode=1777"),
                ("tmpfs", "/root", "tmpfs", "mode=700"),
                (f"{GUEST_DIR}/log", "/var/log", "none", "bind"),
            ),
        )
        overlay = f"lowerdir={GUEST_DIR}/etc:/etc,upperdir=/run/hkl/etc/upper,workdir=/run/hkl/etc/work"
        write_file(
            guest_dir / "fstab.etc",
            _fstab(
                ("overlay", "/etc", "overlay", overlay),
                *((f"{GUEST_DIR}/{src}", dst, "none", "bind") for src, dst in self.binds),
            ),
        )

        _hide_host_secrets(guest_dir / "etc")

        net = ["link set lo up"]
        for old, new in self.renames:
            net += [f"link set {old} name {new}"] if old != new else []
            net.append(f"link set {new} up")
        net += [f"addr add {addr} dev {ifname}" for ifname, addr in self.addrs]
        write_file(guest_dir / "net.batch", "\n".join(net) + "\n")

        modroot = guest_dir / "modroot" / "lib" / "modules"
        modroot.mkdir(parents=True, exist_ok=True)
        link = modroot / kernel_version
        if not link.is_symlink():
            link.symlink_to(UML_MODULES / kernel_version)
        loader = f'#!/bin/sh\nexec /usr/sbin/modprobe -d {GUEST_DIR}/modroot "$@"\n'
        write_file(guest_dir / "bin" / "modprobe", loader, 0o755)


def _hide_host_secrets(seed: Path) -> None:
    """Cover the host's private files in /etc (shadow, SSH host keys, secrets) with empty ones.

    The guest's /etc shows the host's below the seed layer, and a lab user is root in the guest.
    Files the role seeded itself stay as they are.
    """
    for top, _dirs, files in os.walk("/etc"):
        for name in files:
            path = Path(top, name)
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            target = seed / path.relative_to("/etc")
            if stat.S_ISREG(mode) and not mode & stat.S_IROTH and not target.exists():
                write_file(target, "", stat.S_IMODE(mode))


def _fstab(*entries: tuple[str, str, str, str]) -> str:
    return "".join(f"{src} {dst} {fstype} {opts} 0 0\n" for src, dst, fstype, opts in entries)


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Write atomically (temp + rename): a running guest reads some of these files at any moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)  # the umask must not loosen or tighten what the daemons check
    os.replace(tmp, path)


def doc_ipv4(value: object, what: str) -> ipaddress.IPv4Address:
    """An IPv4 address inside the documentation ranges the lab may use."""
    try:
        addr = ipaddress.IPv4Address(str(value))
    except ValueError:
        raise GuestConfigError(f"{what}: {value!r} is not an IPv4 address") from None
    if not any(addr in net for net in DOC_NETS):
        raise GuestConfigError(f"{what}: {addr} is outside the lab's documentation ranges")
    return addr


def doc_ipv4_interface(value: object, what: str) -> ipaddress.IPv4Interface:
    try:
        iface = ipaddress.IPv4Interface(str(value))
    except ValueError:
        raise GuestConfigError(f"{what}: {value!r} is not an IPv4 address/prefix") from None
    doc_ipv4(iface.ip, what)
    return iface


def ifname(value: object, what: str) -> str:
    if not isinstance(value, str) or not _IFNAME.match(value):
        raise GuestConfigError(f"{what}: {value!r} is not a valid interface name")
    return value


def word(value: object, what: str) -> str:
    """A token that goes into daemon config files unquoted (community names, AC names, users)."""
    if not isinstance(value, str) or not _WORD.match(value):
        raise GuestConfigError(f"{what} must be 1-128 characters of letters, digits and ._@+:=,/-")
    return value


def secret(value: object, what: str, *, min_len: int = 1) -> str:
    """A password or key: any printable text without line breaks (never echoed in errors)."""
    if not isinstance(value, str) or len(value) < min_len or any(c in value for c in "\r\n\0"):
        raise GuestConfigError(
            f"{what} must be a string of at least {min_len} characters without line breaks"
        )
    return value


def set_service(guest_dir: Path, name: str, up: bool, timeout: float) -> None:
    """Ask the guest's role loop to stop or start a daemon and wait until it reports the new state.

    The request is the file ctl/<name>-down (present: stopped); the guest answers in state/<name>.
    """
    request = guest_dir / "ctl" / f"{name}-down"
    if up:
        request.unlink(missing_ok=True)
    else:
        write_file(request, "down\n")
    want = "up" if up else "down"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (guest_dir / "state" / name).read_text().strip() == want:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the guest did not report {name} {want} within {timeout:.0f} s")
