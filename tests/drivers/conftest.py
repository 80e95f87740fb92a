from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.intent.models import DeviceIntent, Management
from provisioner.provision import ProvisionOptions
from provisioner.render import RenderedConfig
from tests.drivers.sshd_cpe import SshdCpe

NEEDED = ("sshd", "ssh", "ssh-keygen", "nft", "unshare", "ip")


def _require() -> None:
    missing = [] if os.geteuid() == 0 else ["root"]
    missing += [p for p in NEEDED if shutil.which(p, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    if missing:
        reason = "needs " + ", ".join(missing)
        if os.environ.get("HIKARI_REQUIRE_LAB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def sshd_cpe(tmp_path: Path) -> Iterator[SshdCpe]:
    """A fresh CPE management plane (real sshd in a namespace of its own) per test."""
    _require()
    slot = 1 + (os.getpid() % 14)  # its /30 in 203.0.113.192/26; one CPE at a time per test process
    cpe = SshdCpe(slot=slot, root=tmp_path / "cpe").up()
    try:
        yield cpe
    finally:
        cpe.down()


@pytest.fixture
def options(tmp_path: Path) -> ProvisionOptions:
    return ProvisionOptions(state_dir=tmp_path / "state", verify_timeout=2.0, backoff_s=0.05)


def plain_device(**kw) -> DeviceIntent:
    """A DeviceIntent with nothing to verify but what a test adds."""
    base = {"role": "router", "platform": "linux", "model": "linux-cpe", "wan_mode": "ipoe",
            "management": Management(hostname="hkld-test")}
    return DeviceIntent(**{**base, **kw})


GOOD_NFT = """#!/usr/sbin/nft -f
flush ruleset
table inet filter {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 22 accept
    }
}
"""
BAD_NFT = GOOD_NFT.replace("tcp dport 22 accept", "tcp dport 22 acept")


def rendered(files: dict[str, str], *, masked: bool = False) -> RenderedConfig:
    return RenderedConfig(platform="linux", role="router", customer_id="CAF99999999", files=files,
                          masked=masked, masked_secrets=())
