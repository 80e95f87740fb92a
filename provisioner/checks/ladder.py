"""The 一次切り分け ladder: observations of a line → the first failing stage and who must act.

Pure logic, no I/O: `provisioner.checks.observe` gathers the observations (CPE CLI, SNMP, probes) and this
module judges them, so every verdict is testable on its own. Stage order follows the NEC IX troubleshooting
guideline and the field checklist in reference §4.1: reachability → link → PPPoE discovery → authentication →
IPCP → IPv6 (RA/PD) → IPv4 over IPv6 → DNS → LAN and Wi-Fi. Who acts follows seed 000 §3 (NTT builds and
repairs the line; the operator does first-line isolation and raises the NTT ticket) and reference §4.2.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from provisioner.intent.models import DeviceIntent

Party = Literal["ntt", "isp", "vne", "operator", "customer"]
Status = Literal["ok", "fail", "skipped"]

STAGES = (
    "cpe-reachable",
    "wan-link",
    "pppoe-discovery",
    "pppoe-auth",
    "ipcp",
    "ipv6",
    "ipv4-over-ipv6",
    "dns",
    "lan-wifi",
)

PARTY_LABEL = {
    "ntt": "NTT (line, ONU, NGN) — the operator raises the NTT ticket",
    "isp": "ISP (authentication, address)",
    "vne": "VNE (IPoE, tunnel)",
    "operator": "operator (CPE configuration, rental equipment, order data)",
    "customer": "customer (LAN, cabling, own devices)",
}


class PppoeObservation(BaseModel):
    """What is known of the line's PPPoE session, from the CPE (pppd state/log) or a probe."""

    model_config = ConfigDict(frozen=True)

    up: bool
    ipv4: str | None = None
    dns: list[str] = Field(default_factory=list)
    # Why it is down, as a code: no-pado, pads-error, lcp-timeout, auth-rejected, session-limit,
    # ipcp-no-address, or None when unknown.
    failure: str | None = None
    detail: str = ""
    source: str = "cli"


class Ipv6Observation(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Literal["ra", "pd", "none"]
    prefix: str | None = None
    prefix_length: int | None = None
    lan_prefix: str | None = None
    source: str = "cli"


class Observations(BaseModel):
    """Everything gathered for one line. None means "not observed" (source unavailable), never "bad"."""

    model_config = ConfigDict(frozen=True)

    cli_ok: bool | None = None
    cli_error: str | None = None
    snmp_ok: bool | None = None
    snmp_error: str | None = None
    wan_link_up: bool | None = None
    wan_link_source: str = "cli"
    pppoe: PppoeObservation | None = None
    ipv6: Ipv6Observation | None = None
    tunnel_up: bool | None = None
    tunnel_detail: str = ""
    dns_servers: list[str] | None = None
    lan_ok: bool | None = None
    lan_detail: str = ""
    wifi_ok: bool | None = None
    wifi_detail: str = ""
    v6_option: bool = True


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str
    status: Status
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    cause: str | None = None
    party: Party | None = None
    next_action: str | None = None


class Diagnosis(BaseModel):
    customer_id: str
    ok: bool
    stages: list[Verdict]
    failed: Verdict | None = None
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class _Fail(Exception):
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict


def _fail(stage: str, summary: str, *, cause: str, party: Party, action: str, **evidence: Any) -> _Fail:
    return _Fail(
        Verdict(
            stage=stage,
            status="fail",
            summary=summary,
            cause=cause,
            party=party,
            next_action=action,
            evidence=evidence,
        )
    )


def _ok(stage: str, summary: str, **evidence: Any) -> Verdict:
    return Verdict(stage=stage, status="ok", summary=summary, evidence=evidence)


def judge(customer_id: str, device: DeviceIntent, obs: Observations) -> Diagnosis:
    """Walk the ladder; stop at the first failing stage, mark the rest skipped."""
    checks = [
        ("cpe-reachable", _reachable),
        ("wan-link", _wan_link),
        ("pppoe-discovery", _pppoe_discovery),
        ("pppoe-auth", _pppoe_auth),
        ("ipcp", _ipcp),
        ("ipv6", _ipv6),
        ("ipv4-over-ipv6", _tunnel),
        ("dns", _dns),
        ("lan-wifi", _lan_wifi),
    ]
    out: list[Verdict] = []
    failed: Verdict | None = None
    for stage, check in checks:
        if failed is not None:
            out.append(Verdict(stage=stage, status="skipped", summary=f"not checked: {failed.stage} failed"))
            continue
        try:
            verdict = check(device, obs)
        except _Fail as f:
            verdict = failed = f.verdict
        if verdict is not None:
            out.append(verdict)
    return Diagnosis(customer_id=customer_id, ok=failed is None, stages=out, failed=failed)


# ---- stages: each returns an ok Verdict, None when it does not apply, or raises _Fail --------------------------


def _reachable(device: DeviceIntent, o: Observations) -> Verdict:
    ev = {"cli": o.cli_ok, "snmp": o.snmp_ok}
    if o.cli_ok is False and o.snmp_ok is False:
        raise _fail(
            "cpe-reachable",
            "the CPE answers neither SSH nor SNMP",
            cause="CPE powered off or hung, or its management path is down",
            party="operator",
            action="check the CPE's management path; ask the customer whether the router is powered (lamps), then power-cycle ONU → router",
            cli_error=o.cli_error,
            snmp_error=o.snmp_error,
        )
    if o.cli_ok is False:
        raise _fail(
            "cpe-reachable",
            "SSH to the CPE fails but SNMP answers: the CPE is up, its SSH service is not",
            cause="CPE management (sshd) down or credentials changed",
            party="operator",
            action="restore the CPE's SSH service (remote reboot via the management path, or dispatch with a rental swap)",
            cli_error=o.cli_error,
            snmp=o.snmp_ok,
        )
    if o.snmp_ok is False:
        raise _fail(
            "cpe-reachable",
            "SNMP to the CPE times out but SSH works: the agent is down",
            cause="CPE SNMP agent down or community/user changed",
            party="operator",
            action="restart the CPE's SNMP agent (re-push the management config); monitoring is blind until then",
            snmp_error=o.snmp_error,
        )
    return _ok(
        "cpe-reachable", "CPE answers " + " and ".join(k for k, v in ev.items() if v) or "not observed", **ev
    )


def _wan_link(device: DeviceIntent, o: Observations) -> Verdict | None:
    if o.wan_link_up is None:
        return Verdict(stage="wan-link", status="skipped", summary="WAN link state not observed")
    if not o.wan_link_up:
        raise _fail(
            "wan-link",
            "the CPE's WAN port has no link to the ONU",
            cause="LAN cable between ONU and router unplugged or broken, or the router's WAN port (UNI lamp off)",
            party="customer",
            action="ask the customer to check the cable between ONU and router and the ONU's UNI lamp; if the ONU's 光回線/認証 lamps are off too, raise an NTT ticket",
            source=o.wan_link_source,
        )
    return _ok("wan-link", "WAN link up", source=o.wan_link_source)


def _pppoe(device: DeviceIntent) -> bool:
    return bool(device.pppoe)


def _pppoe_discovery(device: DeviceIntent, o: Observations) -> Verdict | None:
    if not _pppoe(device):
        return None
    p = o.pppoe
    if p is None:
        return Verdict(stage="pppoe-discovery", status="skipped", summary="PPPoE state not observed")
    if not p.up and p.failure in ("no-pado", "pads-error"):
        raise _fail(
            "pppoe-discovery",
            "PADI sent, no PADO from any access concentrator"
            if p.failure == "no-pado"
            else "PADS carried an error tag",
            cause="the NGN does not answer PPPoE discovery while the link is up: network side (NGN/BAS path) or ONU",
            party="ntt",
            action="power-cycle ONU → router (upstream first); if PADO still does not come, raise an NTT fault ticket with the お客様ID",
            detail=p.detail,
            source=p.source,
        )
    return _ok("pppoe-discovery", "access concentrator answered", source=p.source)


def _pppoe_auth(device: DeviceIntent, o: Observations) -> Verdict | None:
    if not _pppoe(device) or o.pppoe is None:
        return None
    p = o.pppoe
    if not p.up and p.failure == "lcp-timeout":
        raise _fail(
            "pppoe-auth",
            "PPPoE session found but LCP never came up",
            cause="the access concentrator stopped answering after discovery (BAS or NGN side)",
            party="ntt",
            action="retry once; if it persists, raise an NTT ticket (and ask the ISP whether its BAS is congested)",
            detail=p.detail,
            source=p.source,
        )
    if not p.up and p.failure == "auth-rejected":
        raise _fail(
            "pppoe-auth",
            "the ISP rejected the PPPoE authentication",
            cause="wrong ID or password in the CPE, missing @domain, or the account is suspended at the ISP",
            party="isp",
            action="compare the record's PPPoE ID with the ISP's registration; ask the ISP whether the account is active; re-push the config after correcting the record",
            detail=p.detail,
            source=p.source,
        )
    if not p.up and p.failure == "session-limit":
        raise _fail(
            "pppoe-auth",
            "authenticated, then the session was cut: the account's PPPoE sessions are all in use",
            cause="another device (a PC dialling PPPoE, a second router) or a stale session after a CPE swap holds the sessions",
            party="customer",
            action="ask the customer to disconnect other PPPoE devices; a stale session clears after the BAS keepalive times out (or the ISP can clear it)",
            detail=p.detail,
            source=p.source,
        )
    return _ok("pppoe-auth", "authenticated", source=p.source)


def _ipcp(device: DeviceIntent, o: Observations) -> Verdict | None:
    if not _pppoe(device) or o.pppoe is None:
        return None
    p = o.pppoe
    if not p.up or not p.ipv4:
        raise _fail(
            "ipcp",
            "PPP is up but no IPv4 address was negotiated"
            if p.failure == "ipcp-no-address"
            else "PPPoE session is down",
            cause="the ISP did not assign an address (fixed-IP mismatch or pool exhausted)"
            if p.failure == "ipcp-no-address"
            else f"session down ({p.failure or 'reason unknown'})",
            party="isp" if p.failure == "ipcp-no-address" else "operator",
            action="check the fixed-IP setting against the ISP contract"
            if p.failure == "ipcp-no-address"
            else "read the CPE's PPP log; run `provisioner probe pppoe` from the ONU port to separate line from CPE",
            detail=p.detail,
            source=p.source,
        )
    expected = next((s.fixed_ipv4 for s in device.pppoe if s.fixed_ipv4), None)
    if expected and str(expected) != p.ipv4:
        raise _fail(
            "ipcp",
            f"IPCP gave {p.ipv4}, the contract's fixed address is {expected}",
            cause="the ISP's fixed-IP registration and the order differ",
            party="isp",
            action="ask the ISP to check the fixed-IP assignment of this account",
            ipv4=p.ipv4,
        )
    return _ok("ipcp", f"IPv4 {p.ipv4}", ipv4=p.ipv4, dns=p.dns)


def _ipv6(device: DeviceIntent, o: Observations) -> Verdict | None:
    want = device.ipv6
    if want is None:
        return None
    seen = o.ipv6
    if seen is None:
        return Verdict(stage="ipv6", status="skipped", summary="IPv6 state not observed")
    ev = {
        "expected": f"{want.mode} /{want.expected_prefix_length}",
        "seen": seen.mode,
        "prefix": seen.prefix,
        "source": seen.source,
    }
    if seen.mode == "none":
        if not o.v6_option:
            raise _fail(
                "ipv6",
                "no IPv6 from the NGN and the line has no フレッツ・v6オプション",
                cause="フレッツ・v6オプション not on the line",
                party="operator",
                action="order フレッツ・v6オプション for the line",
                **ev,
            )
        raise _fail(
            "ipv6",
            f"no {'DHCPv6-PD reply' if want.mode == 'pd' else 'router advertisement'} from the NGN",
            cause="the NGN does not serve IPv6 to this line (NGN side, or an IPoE order pending / another VNE still attached)",
            party="ntt",
            action="check for a pending IPoE order or an old VNE after 事業者変更; otherwise raise an NTT ticket",
            **ev,
        )
    if seen.mode != want.mode:
        raise _fail(
            "ipv6",
            f"the NGN delivers {seen.mode.upper()} where the line expects {want.mode.upper()} /{want.expected_prefix_length}",
            cause="ひかり電話 status or product in the order differs from the line (RA without ひかり電話, PD with it)",
            party="operator",
            action="correct the order's ひかり電話 / product data (or the NTT contract) and re-provision",
            **ev,
        )
    if seen.prefix_length and seen.prefix_length != want.expected_prefix_length:
        raise _fail(
            "ipv6",
            f"got a /{seen.prefix_length}, expected /{want.expected_prefix_length}",
            cause="router placement differs from the order (behind an HGW it gets /60, on the ONU /56)",
            party="operator",
            action="check where the router is connected and correct the record's placement",
            **ev,
        )
    if want.mode == "pd" and device.lan is not None and not seen.lan_prefix:
        raise _fail(
            "ipv6",
            "a prefix was delegated but the LAN has no /64 from it",
            cause="CPE configuration (prefix not assigned to the LAN interface)",
            party="operator",
            action="re-push the CPE configuration",
            **ev,
        )
    return _ok("ipv6", f"{seen.mode.upper()} {seen.prefix or ''}".strip(), **ev)


def _tunnel(device: DeviceIntent, o: Observations) -> Verdict | None:
    if device.tunnel is None:
        return None
    if o.tunnel_up is None:
        return Verdict(stage="ipv4-over-ipv6", status="skipped", summary="tunnel state not observed")
    if not o.tunnel_up:
        raise _fail(
            "ipv4-over-ipv6",
            f"{device.tunnel.kind} tunnel to the {device.tunnel.vne} VNE is down",
            cause="VNE side (BR/AFTR unreachable, service not opened for this prefix) or AFTR name not resolvable via NGN DNS",
            party="vne",
            action=f"confirm the {device.tunnel.vne} contract is opened for this line's prefix; check the AFTR/BR from the CPE",
            detail=o.tunnel_detail,
        )
    return _ok("ipv4-over-ipv6", f"{device.tunnel.kind} up", detail=o.tunnel_detail)


def _dns(device: DeviceIntent, o: Observations) -> Verdict | None:
    if o.dns_servers is None:
        return Verdict(stage="dns", status="skipped", summary="DNS configuration not observed")
    if not o.dns_servers:
        isp = bool(device.pppoe)
        raise _fail(
            "dns",
            "the CPE has no DNS server",
            cause="no DNS from IPCP (ISP)" if isp else "no DNS from DHCPv6 (NGN/VNE)",
            party="isp" if isp else "vne",
            action="check `usepeerdns`/IPCP DNS on the CPE and the ISP's DNS assignment",
        )
    return _ok("dns", ", ".join(o.dns_servers), servers=o.dns_servers)


def _lan_wifi(device: DeviceIntent, o: Observations) -> Verdict | None:
    if o.lan_ok is False:
        raise _fail(
            "lan-wifi",
            "the CPE's LAN side is not as configured",
            cause=o.lan_detail or "LAN interface down or without its address",
            party="customer" if "link" in (o.lan_detail or "") else "operator",
            action="check the customer's LAN cabling/switch; re-push the LAN configuration if the address is missing",
        )
    if device.wifi and o.wifi_ok is False:
        raise _fail(
            "lan-wifi",
            "the Wi-Fi configuration is not accepted",
            cause=o.wifi_detail or "Wi-Fi configuration rejected",
            party="operator",
            action="re-render and re-push the Wi-Fi settings",
        )
    if o.lan_ok is None and o.wifi_ok is None:
        return Verdict(stage="lan-wifi", status="skipped", summary="LAN and Wi-Fi not observed")
    return _ok(
        "lan-wifi",
        "LAN " + ("ok" if o.lan_ok else "not observed") + ("; Wi-Fi config accepted" if o.wifi_ok else ""),
    )
