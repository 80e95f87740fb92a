"""`provisioner lab setup`: install what the lab needs, idempotently, without starting any host service.

Debian's packages for Kea, radvd, snmpd and OpenSSH would start their daemons on the host when installed;
a policy-rc.d that answers 101 ("action forbidden") stops that for the duration of the install (invoke-rc.d
and deb-systemd-invoke both honour it). The lab never uses those host services: it runs its own daemons.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGES = (
    "iproute2",
    "nftables",
    "procps",
    "util-linux",
    "kea-dhcp6-server",  # DHCPv6-PD (with the run_script hook, in kea-common)
    "radvd",
    "dnsmasq-base",  # the NGN resolver
    "dhcpcd-base",  # the CPEs' (and probes') DHCPv6 client
    "user-mode-linux",  # BRAS and CPE guests: the host kernel has no PPP
    "kmod",
    "ppp",
    "pppoe",  # rp-pppoe: pppoe-server and pppoe
    "gcc",  # the UML helpers (ptrace shim, guest syslogd, BRAS pppd plugin)
    "libc6-dev",
    "snmpd",
    "snmp",
    "openssh-server",
    "openssh-client",
    "openssl",
    "ndppd",  # ND proxy of the linux platform on RA lines
    "hostapd",  # the linux platform's Wi-Fi files are syntax-checked by the real hostapd
    "iputils-ping",
)
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
DENY_ALL = (
    "#!/bin/sh\n# written by hikari-provisioner lab setup during an install: start no service\nexit 101\n"
)


class SetupError(RuntimeError):
    pass


def missing_packages(packages: tuple[str, ...] = PACKAGES) -> list[str]:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
        capture_output=True,
        text=True,
    )
    installed = {line.split()[0] for line in proc.stdout.splitlines() if line.split()[1:2] == ["ii"]}
    return [p for p in packages if p not in installed]


@contextmanager
def no_service_starts() -> Iterator[None]:
    """Deny every service start while packages install; keep an existing policy-rc.d untouched."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text(DENY_ALL)
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(f"apt-get {args[0]} failed:\n{proc.stderr.strip()[-1500:]}")


def install(packages: list[str], log: Callable[[str], object]) -> None:
    if not packages:
        return
    log(f"installing {' '.join(packages)}")
    with no_service_starts():
        _apt("update", "-qq")
        _apt("install", "-y", "-qq", "--no-install-recommends", *packages)
    still = missing_packages(tuple(packages))
    if still:
        raise SetupError(f"still missing after apt-get install: {' '.join(still)}")


def build_helpers(log: Callable[[str], object]) -> None:
    """Compile the UML helpers once to prove the toolchain works (each run builds its own copy)."""
    from lab.shim import build_pppd_plugin, build_shim, build_syslogd

    with tempfile.TemporaryDirectory(prefix="hkl-setup-") as tmp:
        for build in (build_shim, build_syslogd, build_pppd_plugin):
            path = build(Path(tmp))
            log(f"built {path.name}")


def ensure(log: Callable[[str], object] = print) -> None:
    """Idempotent: installs only what is missing, then checks the helpers build."""
    if os.geteuid() != 0:
        raise SetupError("lab setup needs root (apt-get)")
    missing = missing_packages()
    if missing:
        install(missing, log)
    else:
        log("lab packages: all installed")
    try:
        build_helpers(log)
    except Exception as exc:  # BuildError and gcc/pppd troubles alike
        raise SetupError(f"cannot build the lab's UML helpers: {exc}") from exc
