"""The operator's FLET'S offer, loaded from data (catalog.yaml), never from code branches."""

from provisioner.catalog.loader import get_catalog
from provisioner.catalog.models import (
    Catalog,
    Family,
    HgwModel,
    Ipv6Delivery,
    Product,
    RadioSpec,
    Variant,
    Vne,
    WifiCard,
)

__all__ = [
    "Catalog",
    "Family",
    "HgwModel",
    "Ipv6Delivery",
    "Product",
    "RadioSpec",
    "Variant",
    "Vne",
    "WifiCard",
    "get_catalog",
]
