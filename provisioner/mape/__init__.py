"""MAP-E calculator: VNE rule sets (rules.yaml) and RFC 7597 / draft-03 arithmetic."""

from provisioner.mape.calc import (
    MapeInputError,
    MapeResult,
    NoMatchingRule,
    UnknownProvider,
    compute_mape,
    find_rule,
    interface_id,
    map_prefix,
    parse_prefix,
    port_ranges,
)
from provisioner.mape.rules import (
    MapeError,
    MapeProvider,
    MapeRule,
    RulesFileError,
    load_providers,
    parse_providers,
)

__all__ = [
    "MapeError",
    "MapeInputError",
    "MapeProvider",
    "MapeResult",
    "MapeRule",
    "NoMatchingRule",
    "RulesFileError",
    "UnknownProvider",
    "compute_mape",
    "find_rule",
    "interface_id",
    "load_providers",
    "map_prefix",
    "parse_prefix",
    "parse_providers",
    "port_ranges",
]
