"""record + catalog → Intent. Every refusal names the field and the catalog rule behind it."""

from __future__ import annotations

import functools
import ipaddress

from provisioner.catalog import Catalog, Product, get_catalog
from provisioner.intent import models as m
from provisioner.record import FieldProblem, LineRecord, RecordError

HGW_PLATFORM = "ntt-hgw"


class IntentRefused(RecordError):
    """The record is well-formed but the line (product, options, equipment) cannot have what it asks for."""


class _Problems:
    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, field: str, reason: str) -> None:
        self.items.append(FieldProblem(field=field, reason=reason))

    def raise_if_any(self, source: str) -> None:
        if self.items:
            raise IntentRefused(self.items, source)


def build_intent(record: LineRecord, catalog: Catalog | None = None) -> m.Intent:
    catalog = catalog or get_catalog()
    problems = _Problems()
    product = _check_product(record, catalog, problems)
    problems.raise_if_any(record.customer_id)
    assert product is not None
    family = catalog.families[product.family]

    _check_options(record, product, catalog, problems)
    _check_ipv4_method(record, product, family.ipv4_methods, family.max_pppoe_sessions, catalog, problems)
    _check_equipment(record, product, catalog, problems)
    problems.raise_if_any(record.customer_id)

    pppoe_on = _pppoe_device(record)
    router = (
        _router_intent(record, product, catalog, pppoe_on == "router", problems)
        if record.equipment.router
        else None
    )
    hgw = _hgw_intent(record, product, catalog, pppoe_on == "hgw", problems) if record.equipment.hgw else None
    problems.raise_if_any(record.customer_id)
    return m.Intent(
        customer_id=record.customer_id,
        region=record.region,
        product=product.id,
        family=product.family,
        hikari_denwa=record.hikari_denwa,
        router=router,
        hgw=hgw,
    )


# ---- checks against the catalog ---------------------------------------------------------------------------


def _check_product(record: LineRecord, catalog: Catalog, p: _Problems) -> Product | None:
    try:
        product = catalog.product(record.product)
    except KeyError:
        p.add("product", f"unknown product {record.product!r}; known: {', '.join(catalog.product_ids())}")
        return None
    if product.region != record.region:
        p.add("product", f"{product.id} is a {product.region} product but the line is in the {record.region}")
    if product.variants:
        if record.variant is None:
            p.add("variant", f"{product.id} needs a variant: {', '.join(product.variants)}")
            return product
        if record.variant not in product.variants:
            p.add(
                "variant",
                f"{product.id} has no variant {record.variant!r}; known: {', '.join(product.variants)}",
            )
            return product
    elif record.variant is not None:
        p.add("variant", f"{product.id} has no variants")
        return product
    allowed = product.access_methods_for(record.variant)
    if record.access_method not in allowed:
        p.add(
            "access_method",
            f"{product.id} {record.variant or ''} offers {', '.join(allowed)}, not {record.access_method}".replace(
                "  ", " "
            ),
        )
    return product


def _check_options(record: LineRecord, product: Product, catalog: Catalog, p: _Problems) -> None:
    for i, opt in enumerate(record.options):
        if opt not in catalog.options:
            p.add(f"options.{i}", f"unknown option {opt!r}")
        elif opt in product.excluded_options:
            p.add(
                f"options.{i}",
                f"{catalog.options[opt].name_ja} ({opt}) cannot be used on {product.name_ja} ({product.id})",
            )
    phone = {"standard": "hikari-denwa", "office": "hikari-denwa-office"}.get(record.hikari_denwa)
    if phone and phone in product.excluded_options:
        p.add(
            "hikari_denwa",
            f"{catalog.options[phone].name_ja} cannot be used on {product.name_ja} ({product.id})",
        )
    family = catalog.families[product.family]
    if record.extra_pppoe_sessions:
        if "session-plus" not in record.options:
            p.add("extra_pppoe_sessions", "extra PPPoE sessions need the session-plus option")
        elif product.family == "cross":
            p.add("extra_pppoe_sessions", "光クロス is IPoE only: no extra PPPoE sessions")
        elif record.extra_pppoe_sessions > catalog.options["session-plus"].extra_sessions_max:
            p.add(
                "extra_pppoe_sessions",
                f"at most {catalog.options['session-plus'].extra_sessions_max} extra sessions",
            )
    max_sessions = family.max_pppoe_sessions + record.extra_pppoe_sessions
    if record.pppoe_sessions > max_sessions:
        p.add(
            "pppoe_sessions",
            f"{product.id} allows {max_sessions} PPPoE session(s), {record.pppoe_sessions} requested",
        )


def _check_ipv4_method(
    record: LineRecord,
    product: Product,
    methods: list[str],
    max_sessions: int,
    catalog: Catalog,
    p: _Problems,
) -> None:
    method = record.ipv6.ipv4_method
    if method not in methods:
        reason = f"{product.name_ja} ({product.id}) offers IPv4 by {', '.join(methods)}, not {method}"
        if product.family == "cross" and method == "pppoe":
            reason = f"{product.name_ja} is IPoE only (seed 002 ※8): PPPoE is not offered; use map-e, ds-lite or ipip"
        p.add("ipv6.ipv4_method", reason)
    uses_ipoe = method != "pppoe" or record.ipv6.vne is not None
    if uses_ipoe and not (record.v6_option or catalog.families[product.family].v6_option_included):
        p.add("v6_option", "IPoE (IPv4 over IPv6 or a VNE) needs フレッツ・v6オプション on the line")
    vne = record.ipv6.vne
    if vne and method != "pppoe" and method not in catalog.vnes[vne].methods:
        p.add("ipv6.ipv4_method", f"VNE {vne} offers {', '.join(catalog.vnes[vne].methods)}, not {method}")
    if (
        method == "map-e"
        and record.ipv6.mape
        and vne
        and catalog.vnes[vne].mape_provider != record.ipv6.mape.provider
    ):
        p.add("ipv6.mape.provider", f"VNE {vne} runs MAP-E rules of {catalog.vnes[vne].mape_provider}")
    if record.isp and record.isp.fixed_ipv4 and method != "pppoe":
        p.add("isp.fixed_ipv4", "a fixed IPv4 over IPoE is the ipip method (ipv6.ipip), not isp.fixed_ipv4")


def _check_equipment(record: LineRecord, product: Product, catalog: Catalog, p: _Problems) -> None:
    eq = record.equipment
    if eq.router and eq.router.model not in catalog.router_models:
        p.add(
            "equipment.router.model",
            f"unknown router model {eq.router.model!r}; known: {', '.join(catalog.router_models)}",
        )
    elif eq.router and catalog.router_models[eq.router.model].platform != eq.router.platform:
        p.add(
            "equipment.router.platform",
            f"{eq.router.model} is a {catalog.router_models[eq.router.model].platform}",
        )
    if eq.hgw:
        hgw = catalog.hgw_models.get(eq.hgw.model)
        if hgw is None:
            p.add(
                "equipment.hgw.model",
                f"unknown home gateway {eq.hgw.model!r}; known: {', '.join(catalog.hgw_models)}",
            )
        elif product.family not in hgw.families:
            p.add("equipment.hgw.model", f"{eq.hgw.model} is not for {product.family} lines")
        if eq.hgw.wifi_card and eq.hgw.wifi_card not in catalog.wifi_cards:
            p.add(
                "equipment.hgw.wifi_card",
                f"unknown wireless LAN card {eq.hgw.wifi_card!r}; known: {', '.join(catalog.wifi_cards)}",
            )
    if product.family == "next" and record.hikari_denwa != "none":
        if eq.hgw is None:
            p.add(
                "equipment.hgw",
                "ひかり電話 needs the home gateway: it converts the delegated prefix and serves the phone",
            )
        elif eq.router and eq.router.placement == "on-onu":
            p.add(
                "equipment.router.placement",
                "with ひかり電話 the home gateway sits on the ONU; the router goes behind-hgw",
            )
    if record.wifi:
        card_id = _wifi_card(record, catalog)
        if card_id is None:
            p.add(
                "wifi",
                "no radio to serve it: neither a wireless LAN card in the home gateway nor a router with Wi-Fi",
            )
        elif card_id in catalog.wifi_cards:
            _check_wifi(record, card_id, catalog, p)


def _wifi_card(record: LineRecord, catalog: Catalog) -> str | None:
    """Wi-Fi is served by the HGW's wireless LAN card when the line rents one, else by a router with radios."""
    eq = record.equipment
    if eq.hgw and eq.hgw.wifi_card:
        return eq.hgw.wifi_card
    if eq.router and eq.router.model in catalog.router_models:
        return catalog.router_models[eq.router.model].wifi_card
    return None


def _check_wifi(record: LineRecord, card_id: str, catalog: Catalog, p: _Problems) -> None:
    assert record.wifi
    card = catalog.wifi_cards[card_id]
    bands = {r.band: r for r in card.radios}
    per_band: dict[str, int] = {}
    for i, ssid in enumerate(record.wifi.ssids):
        if ssid.security not in card.security:
            p.add(
                f"wifi.ssids.{i}.security",
                f"{card_id} supports {', '.join(card.security)}, not {ssid.security}",
            )
        for band in ssid.bands:
            if band not in bands:
                p.add(f"wifi.ssids.{i}.bands", f"{card_id} has no {band} GHz radio")
            per_band[band] = per_band.get(band, 0) + 1
    for band, n in per_band.items():
        if n > card.max_ssids_per_radio:
            p.add(
                "wifi.ssids",
                f"{n} SSIDs on {band} GHz; the card carries {card.max_ssids_per_radio} per radio",
            )
    for band, field in (("2.4", "channel_2g"), ("5", "channel_5g")):
        ch = getattr(record.wifi, field)
        if ch != "auto" and band in bands and ch not in bands[band].channels:
            p.add(f"wifi.{field}", f"channel {ch} is not a {band} GHz channel of this card in JP")
    if "5" in bands and record.wifi.width_5g and record.wifi.width_5g > bands["5"].max_width_mhz:
        p.add(
            "wifi.width_5g",
            f"the card's 5 GHz radio ({bands['5'].standard}) is at most {bands['5'].max_width_mhz} MHz wide",
        )


# ---- intent per device ---------------------------------------------------------------------------------------


def _pppoe_device(record: LineRecord) -> str | None:
    """PPPoE runs on the router when there is one, else on the HGW."""
    if record.ipv6.ipv4_method != "pppoe":
        return None
    return "router" if record.equipment.router else "hgw"


def _pppoe_sessions(record: LineRecord, family_mtu: int) -> tuple[m.Pppoe, ...]:
    assert record.isp and record.isp.pppoe
    fixed = record.isp.fixed_ipv4
    return (
        m.Pppoe(
            session=1,
            username=record.isp.pppoe.username,
            password=record.isp.pppoe.password,
            mtu=family_mtu,
            mru=family_mtu,
            mss=family_mtu - 40,
            fixed_ipv4=fixed.address if fixed and fixed.kind == "single" else None,
            unnumbered_block=fixed.block if fixed and fixed.kind == "unnumbered" else None,
        ),
    )


def _ipv6(record: LineRecord, product: Product, catalog: Catalog, behind_hgw: bool) -> m.Ipv6:
    family = catalog.families[product.family]
    delivery = family.ipv6_delivery.get(record.hikari_denwa) or family.ipv6_delivery["none"]
    if behind_hgw and delivery.router_behind_hgw:
        delivery = delivery.router_behind_hgw
    region = catalog.regions[record.region]
    return m.Ipv6(
        mode=delivery.mode,
        expected_prefix_length=delivery.prefix_length,
        ngn_dns=tuple(ipaddress.IPv6Address(a) for a in region.ngn_dns),
        ngn_domain=region.ngn_domain,
    )


def _tunnel(record: LineRecord, p: _Problems) -> m.Tunnel | None:
    svc = record.ipv6
    if svc.ipv4_method == "pppoe":
        return None
    assert svc.vne
    if svc.ipv4_method == "map-e":
        assert svc.mape
        return m.Tunnel(
            kind="map-e",
            vne=svc.vne,
            mtu=_mape_mtu(svc.mape.provider),
            mape=_mape(svc.mape.provider, svc.delegated_prefix, p),
        )
    if svc.ipv4_method == "ds-lite":
        assert svc.dslite
        aftr = svc.dslite.aftr
        is_addr = ":" in aftr
        return m.Tunnel(
            kind="ds-lite", vne=svc.vne, dslite=m.DsliteTunnel(aftr=aftr, aftr_is_address=is_addr)
        )
    assert svc.ipip
    return m.Tunnel(
        kind="ipip",
        vne=svc.vne,
        ipip=m.IpipTunnel(
            br=svc.ipip.br,
            ipv4=svc.ipip.ipv4,
            interface_id=svc.ipip.interface_id,
            update_url=svc.ipip.update_url,
            update_user=svc.ipip.update_user,
            update_password=svc.ipip.update_password,
        ),
    )


def _nat(runs_pppoe: bool, tunnel: m.Tunnel | None) -> m.Nat | None:
    """Masquerade out of PPPoE, MAP-E (into the port set) or IPIP; never on DS-Lite, where the AFTR does the
    NAT (RFC 6333: the B4 element only encapsulates)."""
    if runs_pppoe:
        return m.Nat(enabled=True, outside="pppoe")
    if tunnel and tunnel.kind != "ds-lite":
        return m.Nat(enabled=True, outside="tunnel")
    return None


def _mape_mtu(provider: str) -> int:
    from provisioner.mape import load_providers

    return load_providers()[provider].rules[0].tunnel_mtu


@functools.cache
def _mape_rules(provider: str) -> tuple[m.MapeRule, ...]:
    """The provider's rule set as intent models, built once (OCN alone has hundreds of rules)."""
    from provisioner.mape import load_providers

    return tuple(
        m.MapeRule(
            ipv6_prefix=r.ipv6_prefix,
            ipv4_prefix=r.ipv4_prefix,
            ea_length=r.ea_length,
            psid_offset=r.psid_offset,
            br=r.br,
        )
        for r in load_providers()[provider].rules
    )


def _mape(provider: str, delegated: ipaddress.IPv6Network | None, p: _Problems) -> m.MapeTunnel:
    from provisioner.mape import MapeError, compute_mape, load_providers

    spec = load_providers()[provider]
    rules = _mape_rules(provider)
    base = {"provider": provider, "draft03": spec.rules[0].draft03, "rules": rules}
    if delegated is None:
        return m.MapeTunnel(br=spec.rules[0].br, **base)
    try:
        res = compute_mape(delegated, provider)
    except MapeError as err:
        p.add("ipv6.delegated_prefix", str(err))
        return m.MapeTunnel(br=spec.rules[0].br, **base)
    rule = next(r for r in rules if r.ipv6_prefix == res.rule.ipv6_prefix)
    return m.MapeTunnel(
        br=res.br,
        delegated_prefix=delegated,
        rule=rule,
        ipv4=res.ipv4,
        psid=res.psid,
        psid_length=res.psid_len,
        ce_ipv6=res.ce_ipv6,
        port_ranges=tuple(res.port_ranges),
        **base,
    )


def _lan(record: LineRecord) -> m.Lan:
    lan = record.lan
    assert lan.dhcp_start and lan.dhcp_end
    return m.Lan(ipv4=lan.ipv4, dhcp_start=lan.dhcp_start, dhcp_end=lan.dhcp_end)


def _management(record: LineRecord, default_name: str) -> m.Management:
    mg = record.management
    hostname = (mg.hostname if mg and mg.hostname else default_name).lower()
    snmp = None
    if mg and (mg.snmp_community_ref or mg.snmp_v3_user):
        snmp = m.Snmp(v2c_community_ref=mg.snmp_community_ref, v3_user=mg.snmp_v3_user)
    return m.Management(hostname=hostname, address=mg.address if mg else None, snmp=snmp)


def _router_intent(
    record: LineRecord, product: Product, catalog: Catalog, runs_pppoe: bool, p: _Problems
) -> m.DeviceIntent:
    router = record.equipment.router
    assert router
    behind = router.placement == "behind-hgw"
    tunnel = _tunnel(record, p)
    if behind and tunnel and tunnel.kind == "map-e":
        # reference §3.5: MAP-E rules match the NGN-delegated /56; under an HGW the router only sees a /60 or /64.
        p.add(
            "equipment.router.placement",
            "MAP-E behind a home gateway computes from the wrong prefix; put the router on the ONU or run MAP-E on the HGW",
        )
    family = catalog.families[product.family]
    ipv6 = _ipv6(record, product, catalog, behind_hgw=behind)
    known = record.ipv6.delegated_prefix
    if known is not None and known.prefixlen != ipv6.expected_prefix_length:
        p.add(
            "ipv6.delegated_prefix",
            f"this line receives a /{ipv6.expected_prefix_length} ({ipv6.mode.upper()}), not a /{known.prefixlen}",
        )
    return m.DeviceIntent(
        role="router",
        platform=router.platform,
        model=router.model,
        wan_mode="pppoe" if runs_pppoe else "ipoe",
        pppoe=_pppoe_sessions(record, family.pppoe_mtu) if runs_pppoe else (),
        ipv6=ipv6,
        tunnel=tunnel,
        nat=_nat(runs_pppoe, tunnel),
        lan=_lan(record),
        wifi=_wifi(record, catalog, "router"),
        management=_management(record, f"r-{record.customer_id}"),
    )


def _hgw_intent(
    record: LineRecord, product: Product, catalog: Catalog, runs_pppoe: bool, p: _Problems
) -> m.DeviceIntent:
    eq = record.equipment
    assert eq.hgw
    family = catalog.families[product.family]
    router_present = eq.router is not None
    return m.DeviceIntent(
        role="hgw",
        platform=HGW_PLATFORM,
        model=eq.hgw.model,
        wan_mode="pppoe" if runs_pppoe else "ipoe",
        pppoe=_pppoe_sessions(record, family.pppoe_mtu) if runs_pppoe else (),
        ipv6=_ipv6(record, product, catalog, behind_hgw=False),
        nat=m.Nat(enabled=True, outside="pppoe") if runs_pppoe else None,
        # With a router on its LAN the HGW keeps its own LAN defaults; the router serves the customer LAN.
        lan=None if router_present else _lan(record),
        wifi=_wifi(record, catalog, "hgw"),
        # The operator cannot reach NTT's HGW over SSH/SNMP (reference §2.5): a technician or an ACS applies it.
        management=m.Management(hostname=f"hgw-{record.customer_id}".lower(), ssh=False),
        filters=False,
    )


def _wifi_role(record: LineRecord) -> str | None:
    if not record.wifi:
        return None
    hgw = record.equipment.hgw
    return "hgw" if hgw and hgw.wifi_card else "router"


def _wifi(record: LineRecord, catalog: Catalog, role: str) -> tuple[m.WifiRadio, ...]:
    if _wifi_role(record) != role:
        return ()
    card_id = _wifi_card(record, catalog)
    assert record.wifi and card_id
    card = catalog.wifi_cards[card_id]
    radios = []
    for idx, spec in enumerate(card.radios, start=1):
        ssids = tuple(
            m.WifiSsid(
                name=s.name,
                passphrase=s.passphrase,
                security=s.security,
                pmf="optional" if s.security == "wpa2-wpa3" else "disabled",
                hidden=s.hidden,
            )
            for s in record.wifi.ssids
            if spec.band in s.bands
        )
        if not ssids:
            continue
        if spec.band == "2.4":
            channel, width = record.wifi.channel_2g, 20
        else:
            channel, width = record.wifi.channel_5g, record.wifi.width_5g or spec.max_width_mhz
        radios.append(
            m.WifiRadio(
                index=idx,
                band=spec.band,
                standard=spec.standard,
                channel=channel,
                width_mhz=width,
                ssids=ssids,
            )
        )
    return tuple(radios)
