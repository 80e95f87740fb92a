"""Quoting of user strings for the syntaxes the linux, openwrt and ntt-hgw platforms write.

Every quoter refuses control characters first (the record layer already does; this is defence in depth)
and raises UnsafeValue naming the problem, never the value (it may be a secret).
"""

from __future__ import annotations

import json
import shlex

from provisioner.render.errors import UnsafeValue
from provisioner.textsafety import find_control_chars


def refuse_controls(platform: str, value: str) -> str:
    bad = find_control_chars(value)
    if bad:
        raise UnsafeValue(platform, f"value contains control characters ({', '.join(bad)})")
    return value


def uci(value: str) -> str:
    """UCI batch: single quotes, a ' closes, escapes and reopens ('\\''), as libuci's parse_str reads it."""
    refuse_controls("openwrt", value)
    return "'" + value.replace("'", "'\\''") + "'"


def pppd(value: str) -> str:
    """pppd options/secrets files: double quotes; pppd's getword() takes \\ as escape inside them."""
    refuse_controls("linux", value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hostapd_raw(value: str) -> str:
    """hostapd reads `name=value` to the end of the line, verbatim (no quoting, no trimming)."""
    return refuse_controls("linux", value)


def hostapd_printf(value: str) -> str:
    """hostapd's P"..." string (printf_decode): backslash escapes \\\\ and \\" ; other bytes verbatim."""
    refuse_controls("linux", value)
    return 'P"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tr181(value: str) -> str:
    """A TR-181 xsd:string in our `Device.X = value` document: a JSON string literal."""
    refuse_controls("ntt-hgw", value)
    return json.dumps(value, ensure_ascii=False)


def nft_comment(value: str) -> str:
    """nft quoted string: it has no escape for ", so a value containing one is refused."""
    refuse_controls("linux", value)
    if '"' in value:
        raise UnsafeValue("linux", 'nft strings cannot carry a double quote (")')
    return f'"{value}"'


def shell(value: str) -> str:
    """POSIX sh word (single quotes)."""
    refuse_controls("linux", value)
    return shlex.quote(value)


def snmpd_token(value: str) -> str:
    """net-snmp snmpd.conf reads whitespace-separated tokens: refuse what would split, quote or comment."""
    refuse_controls("snmpd", value)
    if not value or any(c.isspace() or c in "#\"'\\" for c in value):
        raise UnsafeValue("snmpd", "an SNMP community/user may not contain spaces, quotes, backslashes or #")
    return value
