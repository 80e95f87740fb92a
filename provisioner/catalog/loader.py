"""Load and cache the catalog; HIKARI_CATALOG points at an operator's own file."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import yaml

from provisioner.catalog.models import Catalog

DEFAULT_PATH = Path(__file__).with_name("data") / "catalog.yaml"


@cache
def _load(path: str) -> Catalog:
    with open(path, encoding="utf-8") as fh:
        return Catalog.model_validate(yaml.safe_load(fh))


def get_catalog() -> Catalog:
    return _load(os.environ.get("HIKARI_CATALOG", str(DEFAULT_PATH)))
