"""Host side of the BRAS role: the files its pppoe-server and pppd sessions read, and its markers.

The guest dir's `etc/ppp/` is bound live over the guest's /etc/ppp, so rewriting the secrets here
(atomically) changes what the next authentication sees: pppd reads them per session.

Config (dict): ac_name; service_name (""/absent: pppoe-server answers only PADIs with an empty
Service-Name, as FLET'S clients send; a name: that one is offered too); local_ip; pool_start;
pool_size (default 64); dns (list); mru (default 1454); ipv6cp (default True); nics (guest NIC
names, default all); accounts: [{user, password, enabled=True, max_sessions=1, ip=None}].  An
account's `ip` is the fixed address of its first concurrent session; its n-th session gets ip+n-1
(see pppd_bras.c).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

from lab.guest.boot import (
    ACCOUNT_NAME,
    BootSpec,
    GuestConfigError,
    doc_ipv4,
    secret,
    word,
    write_file,
)

PPP_DIR = "etc/ppp"  # under the guest dir
SESSIONS_DIR = "state/sessions"
SERVER = "server"  # pppoe-server's service name for lab.guest.boot.set_service
PLUGIN_NAME = "pppd_bras.so"  # in the guest dir's bin/
_SCRIPTS = Path(__file__).with_name("bras-ppp")
MODULES = ["ppp_generic", "ppp_async"]  # sessions run pppd over a pty with user-mode `pppoe`


def _accounts(accounts: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for i, raw in enumerate(accounts):
        acc = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw)
        what = f"accounts[{i}]"
        user = acc.get("user")
        if not isinstance(user, str) or not ACCOUNT_NAME.match(user):
            raise GuestConfigError(f"{what}.user must be 1-64 characters of letters, digits and ._@+-")
        max_sessions = acc.get("max_sessions", 1)
        if not isinstance(max_sessions, int) or not 1 <= max_sessions <= 16:
            raise GuestConfigError(f"{what}.max_sessions must be an integer from 1 to 16")
        ip = acc.get("ip")
        out.append(
            {
                "user": user,
                "password": secret(acc.get("password"), f"{what}.password"),
                "enabled": bool(acc.get("enabled", True)),
                "max_sessions": max_sessions,
                "ip": None if ip is None else str(doc_ipv4(ip, f"{what}.ip")),
            }
        )
    users = [acc["user"] for acc in out]
    if len(set(users)) != len(users):
        raise GuestConfigError("accounts: a user appears twice")
    return out


def _quote(text: str) -> str:
    """A word of pppd's secrets files: double quotes, backslash escapes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_accounts(guest_dir: Path, accounts: Iterable[Any]) -> None:
    """Write chap-secrets, pap-secrets and the plugin's account list (disabled accounts are left out)."""
    accs = [acc for acc in _accounts(accounts) if acc["enabled"]]
    ppp = guest_dir / PPP_DIR
    limits = "".join(f"{a['user']} {a['max_sessions']} {a['ip'] or '-'}\n" for a in accs)
    write_file(ppp / "hkl-accounts", "# user max_sessions first-fixed-address\n" + limits, 0o600)
    secrets = "".join(f"{_quote(a['user'])} * {_quote(a['password'])} *\n" for a in accs)
    # pppd started with `auth` and no secret at all exits before LCP ("Modem hangup" at the client); a real
    # BAS answers an unknown or disabled user with an authentication failure. A sentinel that no client
    # knows the password of keeps the files non-empty when every account is disabled.
    secrets += f'"hkl-sentinel@invalid" * {_quote(token_urlsafe(24))} *\n'
    header = "# client server secret addresses (lab BRAS accounts; written by lab/guest/bras.py)\n"
    for name in ("chap-secrets", "pap-secrets"):
        write_file(ppp / name, header + secrets, 0o600)


def _mru(config: Mapping[str, Any]) -> int:
    mru = config.get("mru", 1454)
    if not isinstance(mru, int) or not 576 <= mru <= 1492:
        raise GuestConfigError("mru must be an integer from 576 to 1492")
    return mru


def _pppd_wrapper(mru: int) -> str:
    # pppoe-server appends "mru 1492 mtu 1492" after our options file; options given later win.
    return f"#!/bin/sh\n# pppd for pppoe-server's sessions with the NGN's MRU\nexec /usr/sbin/pppd \"$@\" mru {mru} mtu {mru}\n"


def _server_options(config: Mapping[str, Any], ac_name: str) -> str:
    mru = _mru(config)
    dns = [str(doc_ipv4(addr, f"dns[{i}]")) for i, addr in enumerate(config.get("dns", []))]
    if len(dns) > 2:
        raise GuestConfigError("dns: IPCP carries at most two servers")
    lines = [
        "# pppd options of the lab BRAS's sessions (written by lab/guest/bras.py)",
        f"name {ac_name}",
        f"plugin /run/lab/bin/{PLUGIN_NAME}",
        "auth",
        "require-chap",  # proposed first (CHAP-MD5), as the NGN's BAS does
        "require-pap",  # taken when the client Naks CHAP with PAP
        f"mru {mru}",  # overridden by pppoe-server's own arguments, hence hkl-pppd
        f"mtu {mru}",
        *(f"ms-dns {addr}" for addr in dns),
        "+ipv6" if config.get("ipv6cp", True) else "noipv6",
        "lcp-echo-interval 10",
        "lcp-echo-failure 3",
        "novj",
        "noccp",
        "nodefaultroute",
        "noproxyarp",
        "debug",
    ]
    return "\n".join(lines) + "\n"


def prepare(guest_dir: Path, config: Mapping[str, Any], nics: Mapping[str, str], hostname: str) -> BootSpec:
    """Write the BRAS's /etc/ppp into the guest dir and describe its boot.

    `nics` maps every name a NIC may be given by (vecN and its name in the guest) to its guest name.
    """
    ac_name = word(config.get("ac_name", "hkl-BAS"), "ac_name")
    service = config.get("service_name", "")
    if service:
        word(service, "service_name")
    local_ip = doc_ipv4(config.get("local_ip"), "local_ip")
    pool_start = doc_ipv4(config.get("pool_start"), "pool_start")
    pool_size = config.get("pool_size", 64)
    if not isinstance(pool_size, int) or pool_size < 1:
        raise GuestConfigError("pool_size must be a positive integer")
    doc_ipv4(pool_start + pool_size - 1, "pool_start + pool_size - 1")
    given = list(config.get("nics") or dict.fromkeys(nics.values()))
    unknown = [nic for nic in given if nic not in nics]
    if unknown:
        raise GuestConfigError(f"nics: {unknown} are not NICs of this guest")
    served = list(dict.fromkeys(nics[nic] for nic in given))

    ppp = guest_dir / PPP_DIR
    if ppp.exists():
        shutil.rmtree(ppp)
    write_accounts(guest_dir, config.get("accounts", []))
    write_file(ppp / "pppoe-server-options", _server_options(config, ac_name))
    write_file(ppp / "options", "# lab BRAS: session options are in pppoe-server-options\n")
    write_file(ppp / "hkl-pppd", _pppd_wrapper(_mru(config)), 0o755)
    for script in _SCRIPTS.iterdir():
        write_file(ppp / script.name, script.read_text(), 0o755)

    args = [arg for nic in served for arg in ("-I", nic)]
    args += ["-C", ac_name, "-L", str(local_ip), "-R", str(pool_start), "-N", str(pool_size)]
    args += ["-O", "/etc/ppp/pppoe-server-options", "-q", "/etc/ppp/hkl-pppd"]
    args += ["-S", service] if service else []
    return BootSpec(
        role="bras",
        hostname=hostname,
        modules=MODULES + (["ipv6"] if config.get("ipv6cp", True) else []),
        binds=[(PPP_DIR, "/etc/ppp")],
        extra={"HKL_PPPOE_ARGS": args},
    )


def sessions(guest_dir: Path) -> list[dict[str, Any]]:
    """The sessions whose IPCP is up: user, ip, local_ip, ifname, pid (guest pid of pppd), since."""
    out = []
    for path in sorted((guest_dir / SESSIONS_DIR).glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):  # ended between listing and reading
            continue
    return out
