"""Host side of the Linux CPE role: the guest's seed /etc (users, sshd, snmpd) and its boot description.

The guest's /etc is an overlay: the host's /etc below, the guest dir's `etc/` (written here) above and
a private tmpfs on top that takes every write, so the provisioner may rewrite any file in /etc (also by
rename, as editors and atomic writers do) without touching the host.  See lab/CPE.md for the contract.

Config (dict): hostname, nics {"wan", "mgmt", "lan"} (guest NIC names, or vecN of a renamed NIC),
mgmt_addr, lan_addr4, users [{name, password, authorized_key}], snmp {community, v3_user, auth_key,
priv_key}, files {"/etc/...": text or {"content", "mode"}} (optional extra seed files).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.guest.boot import (
    ACCOUNT_NAME,
    GLIBC_TUNABLES,
    BootSpec,
    GuestConfigError,
    doc_ipv4_interface,
    secret,
    word,
    write_file,
)

SEED_DIR = "etc"  # under the guest dir: the overlay's middle layer
SERVICES = ("sshd", "snmpd")  # the daemons the host may stop and start (lab.uml.cpe_service)
PERSIST_DIR = "persist"  # kept across restarts: the SSH host key (so known_hosts stays valid)
# pppd with the kernel-mode rp-pppoe.so plugin; ipv6 for IPv6CP, dhcpcd's PD and RAs.
MODULES = ["ppp_generic", "ppp_async", "pppoe", "ipv6"]
LAB_USER_GECOS = "hikari lab (root-equivalent)"
# Guest paths bound to host-visible dirs of the guest dir (besides /var/log, which every guest has).
BINDS = [("dhcpcd", "/var/lib/dhcpcd"), ("snmp", "/var/lib/snmp")]


def _sha512_crypt(password: str) -> str:
    # The password goes through stdin: never on a command line where `ps` shows it.
    proc = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=password + "\n", capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise GuestConfigError("openssl could not hash a lab user's password")
    return proc.stdout.strip()


def _users(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    users = config.get("users") or []
    if not users:
        raise GuestConfigError("users: a CPE needs at least one login user")
    out = []
    for i, user in enumerate(users):
        name = user.get("name")
        if not isinstance(name, str) or not ACCOUNT_NAME.match(name) or name.startswith("-"):
            raise GuestConfigError(f"users[{i}].name is not a valid login name")
        password, key = user.get("password"), user.get("authorized_key")
        if password is None and not key:
            raise GuestConfigError(f"users[{i}] needs a password or an authorized_key")
        if password is not None:
            secret(password, f"users[{i}].password")
        if key is not None and (not isinstance(key, str) or "\n" in key.strip()):
            raise GuestConfigError(f"users[{i}].authorized_key must be one line")
        out.append({"name": name, "password": password, "key": (key or "").strip()})
    return out


def _write_accounts(seed: Path, users: list[dict[str, Any]]) -> None:
    """passwd/shadow/group: the host's system accounts (locked) plus the lab users as uid 0."""
    names = {u["name"] for u in users}
    host = [line for line in Path("/etc/passwd").read_text().splitlines() if line.split(":")[0] not in names]
    lab = [f"{u['name']}:x:0:0:{LAB_USER_GECOS}:/root:/bin/bash" for u in users]
    write_file(seed / "passwd", "\n".join(host + lab) + "\n")
    shadow = [f"{line.split(':')[0]}:*:19000:0:99999:7:::" for line in host]
    shadow += [
        f"{u['name']}:{_sha512_crypt(u['password']) if u['password'] is not None else '*'}:19000:0:99999:7:::"
        for u in users
    ]
    write_file(seed / "shadow", "\n".join(shadow) + "\n", 0o640)
    for u in users:
        if u["key"]:
            write_file(seed / "ssh" / "authorized_keys" / u["name"], u["key"] + "\n")


def _sshd_config(listen: str, users: list[dict[str, Any]]) -> str:
    return f"""# sshd of the lab CPE (written by lab/guest/cpe.py)
ListenAddress {listen}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile /etc/ssh/authorized_keys/%u
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 50:30:100
SetEnv GLIBC_TUNABLES={GLIBC_TUNABLES}
AllowUsers {" ".join(u["name"] for u in users)}
Subsystem sftp /usr/lib/openssh/sftp-server
"""


def _snmpd_config(listen: str, snmp: Mapping[str, Any]) -> str:
    community = word(snmp.get("community"), "snmp.community")
    user = word(snmp.get("v3_user"), "snmp.v3_user")
    auth = secret(snmp.get("auth_key"), "snmp.auth_key", min_len=8)
    priv = secret(snmp.get("priv_key"), "snmp.priv_key", min_len=8)
    for value, what in ((auth, "snmp.auth_key"), (priv, "snmp.priv_key")):
        if '"' in value or "\\" in value:
            raise GuestConfigError(f"{what} must not contain double quotes or backslashes")
    return f"""# snmpd of the lab CPE (written by lab/guest/cpe.py)
agentAddress udp:{listen}:161
sysLocation hikari lab
sysContact lab operator
rocommunity {community}
createUser {user} SHA "{auth}" AES "{priv}"
rouser {user} priv
"""


def _host_key(guest_dir: Path) -> Path:
    key = guest_dir / PERSIST_DIR / "ssh_host_ed25519_key"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", guest_dir.name, "-f", str(key)],
            check=True,
            capture_output=True,
        )
    return key


def _extra_files(seed: Path, files: Mapping[str, Any]) -> None:
    for path, spec in files.items():
        if not isinstance(path, str) or not path.startswith("/etc/") or ".." in path.split("/"):
            raise GuestConfigError(f"files: {path!r} is not a path under /etc/")
        content, mode = (
            (spec, 0o644) if isinstance(spec, str) else (spec.get("content"), spec.get("mode", 0o644))
        )
        if not isinstance(content, str) or not isinstance(mode, int):
            raise GuestConfigError(f"files[{path!r}] must be text or {{content, mode}}")
        write_file(seed / path.removeprefix("/etc/"), content, mode)


def prepare(guest_dir: Path, config: Mapping[str, Any], nics: Mapping[str, str], hostname: str) -> BootSpec:
    """Write the CPE's seed /etc into the guest dir and describe its boot.

    `nics` maps every name a NIC may be given by (vecN and its name in the guest) to its guest name.
    """
    given = dict(config.get("nics") or {})
    roles = {}
    for role in ("wan", "mgmt", "lan"):
        if given.get(role) not in nics:
            raise GuestConfigError(f"nics.{role}: {given.get(role)!r} is not a NIC of this guest")
        roles[role] = nics[given[role]]
    mgmt = doc_ipv4_interface(config.get("mgmt_addr"), "mgmt_addr")
    addrs = [(roles["mgmt"], str(mgmt))]
    if config.get("lan_addr4"):
        addrs.append((roles["lan"], str(doc_ipv4_interface(config["lan_addr4"], "lan_addr4"))))
    users = _users(config)

    seed = guest_dir / SEED_DIR
    if seed.exists():
        shutil.rmtree(seed)
    _write_accounts(seed, users)
    write_file(seed / "hostname", hostname + "\n")
    write_file(seed / "hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost\n")
    write_file(seed / "resolv.conf", "# private to the lab CPE; dhcpcd and pppd (usepeerdns) rewrite it\n")
    write_file(seed / "ssh" / "sshd_config", _sshd_config(str(mgmt.ip), users))
    key = _host_key(guest_dir)
    write_file(seed / "ssh" / "ssh_host_ed25519_key", key.read_text(), 0o600)
    write_file(seed / "ssh" / "ssh_host_ed25519_key.pub", key.with_suffix(".pub").read_text())
    write_file(seed / "snmp" / "snmpd.conf", _snmpd_config(str(mgmt.ip), config.get("snmp") or {}), 0o600)
    _extra_files(seed, config.get("files") or {})
    for sub, _ in BINDS:
        (guest_dir / sub).mkdir(exist_ok=True)
    return BootSpec(
        role="cpe",
        hostname=hostname,
        modules=MODULES,
        addrs=addrs,
        binds=BINDS,
    )
