"""Typed loader for the MAP-E rule sets in rules.yaml (providers → Basic Mapping Rules)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, cached_property
from importlib import resources
from ipaddress import IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RULES_FILE = "rules.yaml"
# The C loader parses the ~700 rules five times faster than the pure-Python one.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MapeError(ValueError):
    """Base of every MAP-E error: bad input, unknown provider, no rule, bad rule data."""


class RulesFileError(MapeError):
    """rules.yaml (or a rule file given to load_providers) is malformed or inconsistent."""


class MapeRule(BaseModel):
    """One Basic Mapping Rule with every parameter the arithmetic needs (provider defaults resolved)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    ipv6_prefix: IPv6Network
    ipv4_prefix: IPv4Network
    ea_length: int = Field(ge=0, le=48)
    psid_offset: int = Field(ge=1, le=15)
    br: IPv6Address
    draft03: bool
    tunnel_mtu: int = Field(ge=576, le=65535)
    note: str = ""

    @property
    def ipv4_suffix_len(self) -> int:
        return 32 - self.ipv4_prefix.prefixlen

    @property
    def psid_len(self) -> int:
        return self.ea_length - self.ipv4_suffix_len

    @property
    def end_user_prefix_len(self) -> int:
        """Shortest delegated prefix that carries all EA bits (/56 for every VNE rule)."""
        return self.ipv6_prefix.prefixlen + self.ea_length

    @model_validator(mode="after")
    def _check_geometry(self) -> MapeRule:
        if self.psid_len < 0:
            raise ValueError(
                f"EA length {self.ea_length} is shorter than the {self.ipv4_suffix_len} IPv4 suffix bits "
                f"of {self.ipv4_prefix} (IPv4-prefix delegation is not supported)"
            )
        if self.end_user_prefix_len > 64:
            raise ValueError(
                f"EA bits of {self.ipv6_prefix} + {self.ea_length} extend to bit {self.end_user_prefix_len}, "
                "past /64 into the interface ID"
            )
        if self.psid_offset + self.psid_len > 16:
            raise ValueError(
                f"PSID offset {self.psid_offset} + PSID length {self.psid_len} exceed the 16 port bits"
            )
        return self

    def describe(self) -> str:
        return f"{self.ipv6_prefix} → {self.ipv4_prefix}"


class MapeProvider(BaseModel):
    """A VNE's rule set as loaded from the rules file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    name: str
    source: str
    rules: tuple[MapeRule, ...]

    @cached_property
    def _index(self) -> dict[tuple[int, int], MapeRule]:
        return {_key(rule.ipv6_prefix, rule.ipv6_prefix.prefixlen): rule for rule in self.rules}

    @cached_property
    def _lengths(self) -> tuple[int, ...]:
        return tuple(sorted({rule.ipv6_prefix.prefixlen for rule in self.rules}))

    def rule_containing(self, prefix: IPv6Network) -> MapeRule | None:
        """The rule whose IPv6 prefix contains `prefix` (one dict look-up per rule prefix length)."""
        for length in self._lengths:
            if length <= prefix.prefixlen and (rule := self._index.get(_key(prefix, length))):
                return rule
        return None


def _key(prefix: IPv6Network, length: int) -> tuple[int, int]:
    return length, int(prefix.network_address) >> (128 - length)


class _ProviderSpec(BaseModel):
    """Schema of one provider entry in the file; rule entries stay raw until defaults are merged."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str = Field(min_length=1)
    br: IPv6Address | None = None
    psid_offset: int | None = None
    ea_length: int | None = None
    draft03: bool
    tunnel_mtu: int = 1460
    rules: list[dict[str, Any]] = Field(min_length=1)


_RULE_KEYS = {"ipv6", "ipv4", "br", "psid_offset", "ea_length", "note"}
_INHERITED = ("br", "psid_offset", "ea_length")


def _build_rule(key: str, spec: _ProviderSpec, index: int, raw: Mapping[str, Any]) -> MapeRule:
    where = f"provider {key!r}, rule {index} ({raw.get('ipv6', '?')})"
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RulesFileError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_RULE_KEYS)}")
    fields: dict[str, Any] = {"provider": key, "draft03": spec.draft03, "tunnel_mtu": spec.tunnel_mtu}
    for name in _INHERITED:
        value = raw.get(name, getattr(spec, name))
        if value is None:
            raise RulesFileError(f"{where}: no {name} (set it on the rule or on the provider)")
        fields[name] = value
    fields.update(ipv6_prefix=raw.get("ipv6"), ipv4_prefix=raw.get("ipv4"), note=raw.get("note", ""))
    try:
        return MapeRule.model_validate(fields)
    except ValidationError as exc:
        raise RulesFileError(f"{where}: {_describe_errors(exc)}") from None


def _describe_errors(exc: ValidationError) -> str:
    messages = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"])
        text = err["msg"].removeprefix("Value error, ")
        messages.append(f"{where}: {text}" if where else text)
    return "; ".join(messages)


def _check_no_overlap(rules: Iterable[MapeRule], attr: str) -> None:
    """Rules must be unambiguous both ways: no IPv6 prefix inside another, no shared IPv4 space."""
    ordered = sorted(rules, key=lambda r: (int(getattr(r, attr).network_address), getattr(r, attr).prefixlen))
    widest: MapeRule | None = None
    for rule in ordered:
        net = getattr(rule, attr)
        if widest is not None and int(net.network_address) <= int(getattr(widest, attr).broadcast_address):
            raise RulesFileError(
                f"rules overlap in {attr}: {widest.provider} {widest.describe()} and "
                f"{rule.provider} {rule.describe()}"
            )
        if widest is None or net.broadcast_address > getattr(widest, attr).broadcast_address:
            widest = rule


def parse_providers(document: Any, origin: str = RULES_FILE) -> Mapping[str, MapeProvider]:
    """Validate a parsed rules document ({providers: {key: spec}}) into providers."""
    if not isinstance(document, dict) or not isinstance(document.get("providers"), dict):
        raise RulesFileError(f"{origin}: expected a mapping with a 'providers' mapping at the top")
    providers: dict[str, MapeProvider] = {}
    for key, raw_spec in document["providers"].items():
        try:
            spec = _ProviderSpec.model_validate(raw_spec)
        except ValidationError as exc:
            raise RulesFileError(f"{origin}: provider {key!r}: {_describe_errors(exc)}") from None
        rules = tuple(_build_rule(key, spec, i, raw) for i, raw in enumerate(spec.rules))
        providers[key] = MapeProvider(key=key, name=spec.name, source=spec.source, rules=rules)
    every_rule = [rule for provider in providers.values() for rule in provider.rules]
    _check_no_overlap(every_rule, "ipv6_prefix")
    _check_no_overlap(every_rule, "ipv4_prefix")
    return MappingProxyType(providers)


def load_providers(path: str | Path | None = None) -> Mapping[str, MapeProvider]:
    """Providers from `path`, or the packaged rules.yaml (loaded once) when `path` is None."""
    if path is None:
        return _packaged_providers()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(f"cannot read MAP-E rules file {path}: {exc.strerror}") from None
    return _parse_text(text, str(path))


@cache
def _packaged_providers() -> Mapping[str, MapeProvider]:
    text = resources.files(__package__).joinpath(RULES_FILE).read_text(encoding="utf-8")
    return _parse_text(text, f"{__package__}/{RULES_FILE}")


def _parse_text(text: str, origin: str) -> Mapping[str, MapeProvider]:
    try:
        document = yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{origin}: not valid YAML: {exc}") from None
    return parse_providers(document, origin)
