"""Typed shape of catalog.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

FamilyId = Literal["next", "cross"]
Region = Literal["east", "west"]
Ipv4Method = Literal["pppoe", "map-e", "ds-lite", "ipip"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegionInfo(_Frozen):
    name_ja: str
    ngn_dns: list[str]
    ngn_domain: str
    approval_letter: str


class Ipv6Delivery(_Frozen):
    mode: Literal["ra", "pd"]
    prefix_length: int
    router_behind_hgw: Ipv6Delivery | None = None


class Family(_Frozen):
    name_ja: str
    max_pppoe_sessions: int
    ipv4_methods: list[Ipv4Method]
    v6_option_included: bool
    ipv6_delivery: dict[str, Ipv6Delivery]
    pppoe_mtu: int


class Variant(_Frozen):
    name_ja: str
    shared_mbps: int
    access_methods: list[str]


class Product(_Frozen):
    id: str
    region: Region
    family: FamilyId
    name_ja: str
    building: Literal["detached", "apartment"]
    down_mbps: int
    up_mbps: int
    access_methods: list[str] = []
    variants: dict[str, Variant] = {}
    excluded_options: list[str] = []
    rental_hgw_wifi: bool = False

    def access_methods_for(self, variant: str | None) -> list[str]:
        if variant is not None:
            return self.variants[variant].access_methods
        return self.access_methods


class OptionInfo(_Frozen):
    name_ja: str
    kind: str
    extra_sessions_max: int = 0


class RadioSpec(_Frozen):
    band: Literal["2.4", "5"]
    standard: Literal["11n", "11ac"]
    max_width_mhz: int
    channels: list[int]


class WifiCard(_Frozen):
    name_ja: str
    radios: list[RadioSpec]
    security: list[Literal["wpa2", "wpa2-wpa3"]]
    max_ssids_per_radio: int


class HgwModel(_Frozen):
    name_ja: str
    families: list[FamilyId]
    max_standard: Literal["11n", "11ac"]
    card_slot: bool


class RouterModel(_Frozen):
    platform: str
    wifi_card: str | None = None


class Vne(_Frozen):
    name_ja: str
    methods: list[Ipv4Method]
    mape_provider: str | None = None
    aftr: str | None = None


class Catalog(_Frozen):
    version: int
    regions: dict[Region, RegionInfo]
    access_methods: dict[str, str]
    families: dict[FamilyId, Family]
    products: list[Product]
    options: dict[str, OptionInfo]
    hgw_models: dict[str, HgwModel]
    wifi_cards: dict[str, WifiCard]
    router_models: dict[str, RouterModel]
    vnes: dict[str, Vne]

    def product(self, product_id: str) -> Product:
        for p in self.products:
            if p.id == product_id:
                return p
        raise KeyError(product_id)

    def product_ids(self) -> list[str]:
        return [p.id for p in self.products]
