"""OpenWrt driver: the Linux driver with UCI as the configuration store (netmiko `linux`; the shell is ash).

The rendered config is one `uci batch` script. Its managed files are the UCI packages the batch touches
(/etc/config/network, dhcp, firewall, wireless ...). The intended content of each is computed on the CPE
itself: the batch runs against a scratch copy of /etc/config (`uci -c <dir> batch`), so UCI's own canonical
formatting is what gets compared and written. From there it is the Linux transaction: files written
atomically, `reload_config` (procd reloads exactly the services whose config changed), backup and restore
of the package files. save is a no-op: /etc/config is the persistent store.

Not exercised in the lab (Debian has no `uci`); parsers and plans are unit-tested.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import uuid
from typing import Any, ClassVar

from provisioner.drivers.errors import DriverError
from provisioner.drivers.linux import MANAGED_LIST, LinuxDriver, Unit, managed_list, parse_ipv6
from provisioner.drivers.models import ConfigSnapshot, Ipv6Prefix, WifiStatus
from provisioner.drivers.registry import register_driver
from provisioner.render import RenderedConfig

UCI_DIR = "/etc/config"
_PACKAGE = re.compile(r"^\s*(?:set|add_list|del_list|delete|add|rename|reorder)\s+([a-z0-9_]+)[.\s=]", re.M)
OPENWRT_UNITS: tuple[Unit, ...] = (Unit("uci", (UCI_DIR + "/",), lambda p: "reload_config", "reload_config"),)


def batch_packages(batch: str) -> list[str]:
    """The UCI packages a batch script changes (`set network.wan.proto=pppoe` -> network)."""
    return sorted(set(_PACKAGE.findall(batch)))


@register_driver
class OpenWrtDriver(LinuxDriver):
    platform = "openwrt"
    vendor = "OpenWrt"
    units: ClassVar[tuple[Unit, ...]] = OPENWRT_UNITS
    secret_patterns = (re.compile(r"option\s+(?:key|password|auth_secret|sae_password)\s+(?P<v>.+)$"),)
    ppp_ifname_default = "pppoe-wan"

    def intended(self, rendered: RenderedConfig) -> ConfigSnapshot:
        if rendered.masked:
            raise DriverError("a masked render cannot be pushed: render with show_secrets=True")
        batch = "\n".join(rendered.files.values())
        packages = batch_packages(batch)
        if not packages:
            raise DriverError("the rendered uci batch changes no package")
        files: dict[str, str | None] = dict(self._uci_apply_scratch(batch, packages))
        files[MANAGED_LIST] = managed_list(files)
        return ConfigSnapshot(platform=self.platform, files=files)

    def _uci_apply_scratch(self, batch: str, packages: list[str]) -> dict[str, str | None]:
        scratch = f"/tmp/hikari-uci-{uuid.uuid4().hex[:8]}"
        script = f"{scratch}.batch"
        self.write_file(script, batch)
        try:
            self.run(
                f"mkdir -p {scratch} && cp -a {UCI_DIR}/. {scratch}/ && "
                f"uci -c {scratch} batch < {script} >/dev/null"
            )
            got = self.read_files(posixpath.join(scratch, p) for p in packages)
        finally:
            self.run(f"rm -rf {scratch} {script}", check=False)
        return {posixpath.join(UCI_DIR, posixpath.basename(path)): content for path, content in got.items()}

    def get_running_config(self, rendered: RenderedConfig | None = None) -> ConfigSnapshot:
        paths = {MANAGED_LIST, *self.managed_paths()}
        if rendered is not None:
            paths |= {posixpath.join(UCI_DIR, p) for p in batch_packages("\n".join(rendered.files.values()))}
        return ConfigSnapshot(platform=self.platform, files=self.read_files(paths))

    def log_command(self, program: str) -> str:
        return f"logread -e {shlex.quote(program)} 2>/dev/null | tail -n 40"

    def get_ipv6_prefixes(self) -> list[Ipv6Prefix]:
        found = parse_ipv6(self.state("addr")["addr"], [])
        status = self.output("ifstatus wan6 2>/dev/null || echo '{}'")
        return found + parse_ifstatus_prefixes(json.loads(status or "{}"))

    def get_wifi_status(self) -> WifiStatus:
        if not any(p.endswith("/wireless") for p in self.managed_paths()):
            return WifiStatus(configured=False, accepted=False, detail="no Wi-Fi configuration")
        return parse_wifi_status(json.loads(self.output("wifi status 2>/dev/null || echo '{}'") or "{}"))


def parse_ifstatus_prefixes(status: dict[str, Any]) -> list[Ipv6Prefix]:
    import ipaddress

    out = []
    for p in status.get("ipv6-prefix", []):
        net = ipaddress.IPv6Network(f"{p['address']}/{p['mask']}", strict=False)
        out.append(Ipv6Prefix(interface=status.get("l3_device", "wan6"), prefix=net, origin="pd",
                              valid_lifetime_s=p.get("valid")))
    return out


def parse_wifi_status(status: dict[str, Any]) -> WifiStatus:
    ssids, problems = [], []
    for radio, info in status.items():
        if not info.get("up"):
            problems.append(f"{radio} is not up")
        for iface in info.get("interfaces", []):
            ssid = (iface.get("config") or {}).get("ssid")
            if ssid:
                ssids.append(ssid)
    return WifiStatus(configured=True, accepted=bool(status) and not problems, ssids=tuple(ssids),
                      detail="; ".join(problems) or ("" if status else "no radio"))
