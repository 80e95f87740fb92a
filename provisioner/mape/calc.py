"""MAP-E arithmetic (RFC 7597, and the draft-03 CE interface ID the Japanese VNEs use).

From a delegated prefix and its Basic Mapping Rule: the EA bits (the `ea_length` bits right after the
rule IPv6 prefix) are the IPv4 suffix followed by the PSID; the CE IPv6 address is subnet-ID 0 of the
End-user prefix plus an interface ID built from the IPv4 address and PSID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import Any

from provisioner.mape.rules import MapeError, MapeProvider, MapeRule, load_providers


class MapeInputError(MapeError):
    """The prefix given is not a usable IPv6 prefix."""


class UnknownProvider(MapeError):
    """The provider name is not in the rule file."""


class NoMatchingRule(MapeError):
    """No rule covers the prefix, or the prefix is too short to carry the rule's EA bits."""

    def __init__(self, message: str, prefix: IPv6Network, providers: tuple[str, ...]) -> None:
        super().__init__(message)
        self.prefix = prefix
        self.providers = providers


@dataclass(frozen=True)
class MapeResult:
    """Everything a CE needs for its MAP-E tunnel, for one delegated prefix."""

    provider: str
    provider_name: str
    rule: MapeRule
    prefix: IPv6Network
    end_user_prefix: IPv6Network
    ipv4: IPv4Address
    psid: int
    psid_len: int
    psid_offset: int
    ea_len: int
    port_ranges: list[tuple[int, int]]
    ce_ipv6: IPv6Address
    br: IPv6Address
    draft03: bool
    tunnel_mtu: int

    @property
    def port_count(self) -> int:
        return sum(last - first + 1 for first, last in self.port_ranges)

    @property
    def ce_in_prefix(self) -> bool:
        """False for an RA /64 other than subnet 0: the CE address then lies outside that /64."""
        return self.ce_ipv6 in self.prefix

    def to_dict(self) -> dict[str, Any]:
        rule = self.rule
        return {
            "prefix": str(self.prefix),
            "end_user_prefix": str(self.end_user_prefix),
            "provider": self.provider,
            "provider_name": self.provider_name,
            "rule": {
                "ipv6_prefix": str(rule.ipv6_prefix),
                "ipv4_prefix": str(rule.ipv4_prefix),
                "ea_length": rule.ea_length,
                "psid_offset": rule.psid_offset,
                "psid_length": rule.psid_len,
                "note": rule.note,
            },
            "ipv4": str(self.ipv4),
            "psid": self.psid,
            "psid_len": self.psid_len,
            "psid_offset": self.psid_offset,
            "ea_len": self.ea_len,
            "port_ranges": [list(r) for r in self.port_ranges],
            "port_count": self.port_count,
            "ce_ipv6": str(self.ce_ipv6),
            "ce_in_prefix": self.ce_in_prefix,
            "br": str(self.br),
            "draft03": self.draft03,
            "tunnel_mtu": self.tunnel_mtu,
        }


def parse_prefix(prefix: str | IPv6Network) -> IPv6Network:
    """The delegated prefix (/56, or an RA /64); anything longer than /64 is refused."""
    if isinstance(prefix, IPv6Network):
        net = prefix
    else:
        text = str(prefix).strip()
        if "/" not in text:
            raise MapeInputError(
                f"{text!r} has no prefix length; give the delegated prefix, e.g. 240b:10:abcd:ef00::/56"
            )
        try:
            net = IPv6Network(text)
        except ValueError as exc:
            raise MapeInputError(f"{text!r} is not an IPv6 prefix: {exc}") from None
    if net.prefixlen > 64:
        raise MapeInputError(f"{net} is longer than /64; give the delegated prefix (/56) or the RA /64")
    return net


def port_ranges(psid: int, psid_len: int, psid_offset: int) -> list[tuple[int, int]]:
    """RFC 7597 5.1: for A = 1 … 2^a − 1, ports (A << (16 − a)) | (PSID << m) … + 2^m − 1."""
    m = 16 - psid_offset - psid_len
    ranges = []
    for a_value in range(1, 1 << psid_offset):
        first = (a_value << (16 - psid_offset)) | (psid << m)
        ranges.append((first, first + (1 << m) - 1))
    return ranges


def interface_id(ipv4: IPv4Address, psid: int, draft03: bool) -> int:
    """64-bit CE interface ID.

    RFC 7597: 16 zero bits, IPv4, PSID right-aligned in 16 bits.
    draft-03 (as mapcalc's LEGACY mode and the VNE calculators build it): the same fields one byte
    earlier, i.e. 8 zero bits, IPv4, PSID right-aligned in 16 bits, 8 zero bits.
    """
    rfc = (int(ipv4) << 16) | psid
    return rfc << 8 if draft03 else rfc


def map_prefix(prefix: IPv6Network, rule: MapeRule, provider_name: str = "") -> MapeResult:
    """Apply `rule` to a prefix that lies inside it and is at least as long as its End-user prefix."""
    ea_end = rule.end_user_prefix_len
    if not prefix.subnet_of(rule.ipv6_prefix):
        message = f"{prefix} is not inside {rule.provider} rule {rule.describe()}"
        raise NoMatchingRule(message, prefix, (rule.provider,))
    if prefix.prefixlen < ea_end:
        raise NoMatchingRule(_too_short(prefix, rule), prefix, (rule.provider,))
    shift = 128 - ea_end
    ea_bits = (int(prefix.network_address) >> shift) & ((1 << rule.ea_length) - 1)
    psid = ea_bits & ((1 << rule.psid_len) - 1)
    ipv4 = IPv4Address(int(rule.ipv4_prefix.network_address) | (ea_bits >> rule.psid_len))
    end_user = IPv6Network((int(prefix.network_address) >> shift << shift, ea_end))
    ce = IPv6Address(int(end_user.network_address) | interface_id(ipv4, psid, rule.draft03))
    return MapeResult(
        provider=rule.provider,
        provider_name=provider_name,
        rule=rule,
        prefix=prefix,
        end_user_prefix=end_user,
        ipv4=ipv4,
        psid=psid,
        psid_len=rule.psid_len,
        psid_offset=rule.psid_offset,
        ea_len=rule.ea_length,
        port_ranges=port_ranges(psid, rule.psid_len, rule.psid_offset),
        ce_ipv6=ce,
        br=rule.br,
        draft03=rule.draft03,
        tunnel_mtu=rule.tunnel_mtu,
    )


def _too_short(prefix: IPv6Network, rule: MapeRule) -> str:
    needed = rule.end_user_prefix_len
    carried = max(prefix.prefixlen - rule.ipv6_prefix.prefixlen, 0)
    return (
        f"{prefix} lies in {rule.provider} rule {rule.describe()}, but that rule needs at least a "
        f"/{needed}: its {rule.ea_length} EA bits run from bit {rule.ipv6_prefix.prefixlen} to bit "
        f"{needed}, and a /{prefix.prefixlen} carries only {carried} of them "
        f"({rule.ea_length - carried} missing); give the delegated /{needed} or the RA /64"
    )


def _select(providers: Mapping[str, MapeProvider], provider: str | None) -> dict[str, MapeProvider]:
    if provider is None:
        return dict(providers)
    key = provider.strip().lower()
    if key not in providers:
        raise UnknownProvider(f"unknown MAP-E provider {provider!r}; known: {', '.join(providers)}")
    return {key: providers[key]}


def find_rule(
    prefix: str | IPv6Network,
    provider: str | None = None,
    *,
    providers: Mapping[str, MapeProvider] | None = None,
) -> MapeRule:
    """The rule (of `provider`, or of any provider) whose IPv6 prefix contains `prefix`.

    Raises NoMatchingRule, naming the prefix and the providers searched, when no rule contains it or
    when it is too short to carry the rule's EA bits.
    """
    net = parse_prefix(prefix)
    table = load_providers() if providers is None else providers
    searched = _select(table, provider)
    for candidate in searched.values():
        rule = candidate.rule_containing(net)
        if rule is not None:
            if net.prefixlen < rule.end_user_prefix_len:
                raise NoMatchingRule(_too_short(net, rule), net, tuple(searched))
            return rule
    raise NoMatchingRule(_no_rule_message(net, searched, table), net, tuple(searched))


def _no_rule_message(
    net: IPv6Network, searched: Mapping[str, MapeProvider], table: Mapping[str, MapeProvider]
) -> str:
    message = f"no MAP-E rule of {', '.join(searched)} contains {net}"
    covered = [r for p in searched.values() for r in p.rules if r.ipv6_prefix.subnet_of(net)]
    if covered:
        listed = ", ".join(f"{r.provider} {r.ipv6_prefix}" for r in covered[:3])
        more = f" and {len(covered) - 3} more" if len(covered) > 3 else ""
        return (
            f"{message}: a /{net.prefixlen} is shorter than the rule prefixes it covers ({listed}{more}); "
            "give the delegated /56 or the RA /64"
        )
    others = [p for key, p in table.items() if key not in searched and p.rule_containing(net)]
    if others:
        return f"{message}; it lies in a rule of {others[0].key}: try --provider {others[0].key}"
    return message


def compute_mape(
    prefix: str | IPv6Network,
    provider: str | None = None,
    *,
    providers: Mapping[str, MapeProvider] | None = None,
) -> MapeResult:
    """MAP-E parameters for a delegated prefix: CE IPv4, PSID, port sets, CE IPv6, BR, MTU."""
    table = load_providers() if providers is None else providers
    net = parse_prefix(prefix)
    rule = find_rule(net, provider, providers=table)
    return map_prefix(net, rule, table[rule.provider].name)
