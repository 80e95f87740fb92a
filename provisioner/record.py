"""The line record: what the order system or a technician hands over, validated at the edge.

Only the record's own shape and formats are checked here; what the line *cannot have* given the catalog
(PPPoE on Cross, excluded options, radios the equipment lacks) is refused when the intent is built.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from provisioner.textsafety import SafeSecret, SafeStr

Region = Literal["east", "west"]

CUSTOMER_ID = re.compile(r"^(CAF|COP)\d{8}$")
PPPOE_USER = re.compile(
    r"^[A-Za-z0-9._+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+$"
)
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$"
)
APPROVAL_NUMBER = re.compile(r"^[A-Z][0-9]{10}$")
APPROVAL_VALID_DAYS = 15  # counting the issue day (reference §5.2, seed 002 転用 §1(2))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class PppoeAccount(_Model):
    username: SafeStr = Field(description="ISP PPPoE ID including the realm, e.g. abc123@isp.example")
    password: SafeSecret = Field(min_length=1, max_length=128)

    @field_validator("username")
    @classmethod
    def _realm_required(cls, v: str) -> str:
        if "@" not in v:
            raise ValueError(
                "must be ID@isp-domain: the NGN routes the session to the ISP by the @domain realm"
            )
        if not PPPOE_USER.match(v):
            raise ValueError(
                "not a valid ID@isp-domain (letters, digits, . _ + - before @, a DNS domain after)"
            )
        return v


class FixedIpv4(_Model):
    kind: Literal["single", "unnumbered"] = "single"
    address: ipaddress.IPv4Address | None = None
    block: ipaddress.IPv4Network | None = None

    @model_validator(mode="after")
    def _shape(self) -> FixedIpv4:
        if self.kind == "single" and self.address is None:
            raise ValueError("a single fixed IPv4 needs 'address'")
        if self.kind == "unnumbered":
            if self.block is None:
                raise ValueError("an unnumbered fixed IPv4 block needs 'block' (e.g. 203.0.113.8/29)")
            if self.block.prefixlen > 30 or self.block.prefixlen < 24:
                raise ValueError("an unnumbered block is /24 to /30")
        return self


class Isp(_Model):
    name: SafeStr = Field(min_length=1, max_length=64)
    pppoe: PppoeAccount | None = None
    fixed_ipv4: FixedIpv4 | None = None


class MapeRequest(_Model):
    provider: Literal["jpne", "ocn", "biglobe", "nuro", "lab"]


class DsliteRequest(_Model):
    aftr: SafeStr = Field(description="AFTR FQDN (resolved via the NGN DNS) or IPv6 address")

    @field_validator("aftr")
    @classmethod
    def _name_or_address(cls, v: str) -> str:
        try:
            ipaddress.IPv6Address(v)
            return v
        except ValueError:
            pass
        if not HOSTNAME.match(v) or "." not in v:
            raise ValueError("must be an FQDN such as gw.transix.jp or an IPv6 address")
        return v


class IpipRequest(_Model):
    br: ipaddress.IPv6Address
    ipv4: ipaddress.IPv4Address
    interface_id: ipaddress.IPv6Address = Field(
        description="ISP-given interface ID, e.g. ::1234:5678:9abc:def0"
    )
    update_url: SafeStr | None = Field(
        default=None, description="prefix-notification server (JPNE v6プラス固定IP)"
    )
    update_user: SafeStr | None = None
    update_password: SafeSecret | None = None

    @field_validator("interface_id")
    @classmethod
    def _iid_only(cls, v: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
        if int(v) >> 64:
            raise ValueError("interface ID must have its upper 64 bits zero (e.g. ::1:2:3:4)")
        return v


class Ipv6Service(_Model):
    vne: Literal["jpne", "ocn", "biglobe", "nuro", "transix", "xpass", "v6connect", "bbix", "lab"] | None = (
        None
    )
    ipv4_method: Literal["pppoe", "map-e", "ds-lite", "ipip"] = "pppoe"
    mape: MapeRequest | None = None
    dslite: DsliteRequest | None = None
    ipip: IpipRequest | None = None
    delegated_prefix: ipaddress.IPv6Network | None = Field(
        default=None,
        description="the line's prefix when already known (semi-static on the NGN): the delegated "
        "/56 or /60 on PD lines, the /64 on RA lines",
    )

    @model_validator(mode="after")
    def _method_parameters(self) -> Ipv6Service:
        needs = {"map-e": "mape", "ds-lite": "dslite", "ipip": "ipip"}
        wanted = needs.get(self.ipv4_method)
        for method, attr in needs.items():
            present = getattr(self, attr) is not None
            if method == self.ipv4_method and not present:
                raise ValueError(f"ipv4_method {method} needs the '{attr}' section")
            if method != self.ipv4_method and present:
                raise ValueError(f"'{attr}' is given but ipv4_method is {self.ipv4_method}")
        if wanted and self.vne is None:
            raise ValueError(f"ipv4_method {self.ipv4_method} runs over IPoE and needs the 'vne'")
        return self


class HgwEquipment(_Model):
    model: SafeStr
    wifi_card: SafeStr | None = None


class RouterEquipment(_Model):
    platform: Literal["yamaha-rtx", "nec-ix", "cisco-iosxe", "openwrt", "linux"]
    model: SafeStr
    placement: Literal["on-onu", "behind-hgw"] = "on-onu"


class Equipment(_Model):
    hgw: HgwEquipment | None = None
    router: RouterEquipment | None = None

    @model_validator(mode="after")
    def _something(self) -> Equipment:
        if self.hgw is None and self.router is None:
            raise ValueError("a line needs a home gateway, a router, or both")
        if self.router and self.router.placement == "behind-hgw" and self.hgw is None:
            raise ValueError("router placement behind-hgw needs an 'hgw'")
        return self


class Ssid(_Model):
    name: SafeStr = Field(min_length=1)
    passphrase: SafeSecret
    bands: list[Literal["2.4", "5"]] = Field(default_factory=lambda: ["2.4", "5"], min_length=1)
    security: Literal["wpa2", "wpa2-wpa3"] = "wpa2"
    hidden: bool = False

    @field_validator("name")
    @classmethod
    def _ssid_bytes(cls, v: str) -> str:
        if len(v.encode("utf-8")) > 32:
            raise ValueError("an SSID is at most 32 bytes (UTF-8)")
        return v

    @field_validator("passphrase")
    @classmethod
    def _wpa_psk(cls, v: SecretStr) -> SecretStr:
        s = v.get_secret_value()
        if re.fullmatch(r"[0-9a-fA-F]{64}", s):
            return v
        if not 8 <= len(s) <= 63 or not all(0x20 <= ord(c) <= 0x7E for c in s):
            raise ValueError("a WPA passphrase is 8-63 printable ASCII characters (or 64 hex digits)")
        return v


class WifiRequest(_Model):
    ssids: list[Ssid] = Field(min_length=1)
    channel_2g: int | Literal["auto"] = "auto"
    channel_5g: int | Literal["auto"] = "auto"
    width_5g: Literal[20, 40, 80] | None = None  # None: the widest the radio allows
    country: Literal["JP"] = "JP"

    @field_validator("ssids")
    @classmethod
    def _unique(cls, v: list[Ssid]) -> list[Ssid]:
        names = [s.name for s in v]
        if len(set(names)) != len(names):
            raise ValueError("SSID names must be unique")
        return v


class Lan(_Model):
    ipv4: ipaddress.IPv4Interface = ipaddress.IPv4Interface("192.168.1.1/24")
    dhcp_start: ipaddress.IPv4Address | None = None
    dhcp_end: ipaddress.IPv4Address | None = None

    @model_validator(mode="after")
    def _range_inside(self) -> Lan:
        net = self.ipv4.network
        if self.ipv4.ip in (net.network_address, net.broadcast_address):
            raise ValueError("the LAN address must be a host address of its subnet")
        if net.prefixlen > 29:
            raise ValueError("the LAN subnet must be /29 or larger")
        start = self.dhcp_start or net.network_address + 2
        end = self.dhcp_end or net.broadcast_address - 1
        for name, addr in (("dhcp_start", start), ("dhcp_end", end)):
            if addr not in net or addr in (net.network_address, net.broadcast_address):
                raise ValueError(f"{name} {addr} is not a host address in {net}")
        if int(start) > int(end):
            raise ValueError("dhcp_start is after dhcp_end")
        if int(start) <= int(self.ipv4.ip) <= int(end):
            raise ValueError(f"the DHCP range {start}-{end} contains the router's own address {self.ipv4.ip}")
        self.dhcp_start, self.dhcp_end = start, end
        return self


class Management(_Model):
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int = Field(default=22, ge=1, le=65535)
    credential_ref: SafeStr = Field(description="name of the device credential in the secret store")
    snmp_community_ref: SafeStr | None = None
    snmp_v3_user: SafeStr | None = None
    hostname: SafeStr | None = None

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is not None and not HOSTNAME.match(v):
            raise ValueError("not a valid hostname")
        return v


class Migration(_Model):
    kind: Literal["new", "tenyou", "jigyousha-henkou"] = "new"
    approval_number: SafeStr | None = None
    issued_on: dt.date | None = None
    received_on: dt.date | None = Field(
        default=None,
        description="when the operator took the order with this number; the 15-day window is checked "
        "against it (today when absent), so re-provisioning a line later does not fail on an old number",
    )

    @model_validator(mode="after")
    def _approval(self, info: ValidationInfo) -> Migration:
        if self.kind == "new":
            if self.approval_number or self.issued_on or self.received_on:
                raise ValueError("a new line has no approval number")
            return self
        label = "転用承諾番号" if self.kind == "tenyou" else "事業者変更承諾番号"
        if not self.approval_number or not self.issued_on:
            raise ValueError(f"{self.kind} needs approval_number ({label}) and issued_on")
        if not APPROVAL_NUMBER.match(self.approval_number):
            raise ValueError(f"{label} is one capital letter and 10 digits, e.g. F0123456789")
        today = self.received_on or _today(info)
        expires = self.issued_on + dt.timedelta(days=APPROVAL_VALID_DAYS - 1)
        if self.issued_on > today:
            raise ValueError(f"{label} issued_on {self.issued_on} is after the order date {today}")
        if today > expires:
            raise ValueError(
                f"{label} expired on {expires} (valid {APPROVAL_VALID_DAYS} days counting the issue day "
                f"{self.issued_on})"
            )
        if self.kind == "jigyousha-henkou":
            _check_encoded_expiry(self.approval_number, self.issued_on, expires, label)
        return self


def _check_encoded_expiry(number: str, issued: dt.date, expires: dt.date, label: str) -> None:
    """事業者変更承諾番号 digits 1-4 are the expiry MMDD (reference §5.2): it must fall in the window."""
    mm, dd = int(number[1:3]), int(number[3:5])
    candidates = []
    for year in (issued.year, issued.year + 1):
        try:
            candidates.append(dt.date(year, mm, dd))
        except ValueError:
            continue
    if not any(issued <= c <= expires for c in candidates):
        raise ValueError(f"{label} encodes expiry {mm:02d}/{dd:02d}, which is not within {issued}..{expires}")


def _today(info: ValidationInfo | None) -> dt.date:
    ctx = info.context if info is not None and info.context else {}
    return ctx.get("today") or dt.date.today()


OptionId = Annotated[str, Field(pattern=r"^[a-z0-9\-]{1,40}$")]


class LineRecord(_Model):
    """One FLET'S line as ordered: the input of every pipeline."""

    customer_id: SafeStr = Field(description="お客様ID (CAF/COP + 8 digits)")
    region: Region
    product: SafeStr = Field(description="catalog product id, e.g. east-family-gigaline-smart")
    variant: SafeStr | None = Field(default=None, description="マンション plan, e.g. plan1, mini-b")
    access_method: Literal["hikari-haisen", "vdsl", "lan-haisen"] = "hikari-haisen"
    hikari_denwa: Literal["none", "standard", "office"] = "none"
    v6_option: bool = Field(default=False, description="フレッツ・v6オプション")
    options: list[OptionId] = Field(default_factory=list)
    extra_pppoe_sessions: int = Field(default=0, ge=0, le=18)
    isp: Isp | None = None
    ipv6: Ipv6Service = Field(default_factory=Ipv6Service)
    pppoe_sessions: int = Field(default=1, ge=1, le=20, description="PPPoE sessions this line's CPEs open")
    equipment: Equipment
    wifi: WifiRequest | None = None
    lan: Lan = Field(default_factory=Lan)
    management: Management | None = None
    migration: Migration = Field(default_factory=Migration)

    @field_validator("customer_id")
    @classmethod
    def _customer_id(cls, v: str) -> str:
        if not CUSTOMER_ID.match(v):
            raise ValueError("お客様ID is CAF or COP followed by 8 digits, e.g. CAF12345678")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> LineRecord:
        problems = []
        if self.ipv6.ipv4_method == "pppoe" and (self.isp is None or self.isp.pppoe is None):
            problems.append("ipv4_method pppoe needs isp.pppoe (ID@domain and password)")
        m = self.migration
        if m.kind != "new" and m.approval_number:
            from provisioner.catalog import get_catalog

            letter = get_catalog().regions[self.region].approval_letter
            if m.approval_number[0] != letter:
                problems.append(
                    f"migration.approval_number starts with {m.approval_number[0]!r} but a {self.region} "
                    f"line's number starts with {letter!r}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class FieldProblem(BaseModel):
    """One bad field, safe to show: never carries the submitted value of a secret."""

    field: str
    reason: str


class RecordError(ValueError):
    """A line record was refused; `problems` lists every bad field with its reason."""

    def __init__(self, problems: list[FieldProblem], source: str | None = None):
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"invalid line record{where} ({len(problems)} problem{'s' * (len(problems) != 1)}):"]
        lines += [f"  - {p.field}: {p.reason}" for p in problems]
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid-line-record", "problems": [p.model_dump() for p in self.problems]}


def problems_from_validation(err: ValidationError) -> list[FieldProblem]:
    out = []
    for e in err.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "(record)"
        msg = e["msg"].removeprefix("Value error, ")
        out.append(FieldProblem(field=loc, reason=msg))
    return out


def parse_line(data: Any, *, today: dt.date | None = None, source: str | None = None) -> LineRecord:
    """Validate a decoded record; raise RecordError naming every bad field."""
    if not isinstance(data, dict):
        raise RecordError([FieldProblem(field="(record)", reason="must be a mapping of fields")], source)
    try:
        return LineRecord.model_validate(data, context={"today": today} if today else None)
    except ValidationError as err:
        raise RecordError(problems_from_validation(err), source) from None


def load_line(path: str | Path, *, today: dt.date | None = None) -> LineRecord:
    """Read a YAML or JSON line record from a file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(
            [FieldProblem(field="(file)", reason=f"cannot read {path}: {exc}")], str(path)
        ) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecordError(
            [FieldProblem(field="(file)", reason=f"not valid YAML/JSON: {reason}")], str(path)
        ) from None
    return parse_line(data, today=today, source=str(path))
