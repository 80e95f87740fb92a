"""The Yamaha RTX and NEC IX drivers on the lab's router simulators (lab/sim: test doubles of the consoles)
whose WAN is real: a PPPoE session on the lab BRAS, a DHCPv6-PD lease from Kea, SLAAC from radvd. The
transaction end to end: pushed, verified from the routers' own status commands, saved; a wrong ISP password
restored to the byte; a second push a no-op.

Lines of the default lab: 1 next (PPPoE + RA /64), 4 next-denwa-router (PPPoE + PD /60).
"""

from __future__ import annotations

import ipaddress

import pytest

from provisioner import service
from provisioner.drivers import Target
from provisioner.provision import ProvisionOptions, provision
from provisioner.record import parse_line

pytestmark = pytest.mark.lab

NEXT, DENWA_ROUTER = 1, 4


def line(lab, index, platform, model, *, password=None, denwa=False):
    cpe = lab.cpe(index)
    data = {"customer_id": f"CAF1000030{index}", "region": "east", "product": "east-family",
            "isp": {"name": "Lab ISP", "pppoe": {"username": cpe.isp_user,
                                                  "password": password or cpe.isp_password.get_secret_value()}},
            "equipment": {"router": {"platform": platform, "model": model}},
            "management": {"address": "198.51.100.201", "credential_ref": "rental-router"}}
    if denwa:
        data["hikari_denwa"] = "standard"
        data["equipment"]["hgw"] = {"model": "hgw-11ac"}
        data["equipment"]["router"]["placement"] = "behind-hgw"
    return parse_line(data)


def target(info, platform) -> Target:
    return Target(host=info.mgmt_ip, platform=platform, username=info.username, password=info.password,
                  secret=info.secret if info.secret.get_secret_value() else None, name=f"sim{info.index}")


def push(record, tgt, tmp_path, timeout=60.0):
    item = service.prepare_push(record, target=tgt)
    return provision(item.target, item.rendered, item.device, secrets=item.secrets,
                     options=ProvisionOptions(state_dir=tmp_path, verify_timeout=timeout))


def account_ips(lab, index):
    acc = next(a for a in lab.state.accounts if a.user == lab.cpe(index).isp_user)
    return {str(ipaddress.IPv4Address(acc.ip)), str(ipaddress.IPv4Address(acc.ip) + 1)}


def test_yamaha_next_line_verified_on_a_real_pppoe_session_then_noop(lab, sims, tmp_path):
    info = sims(1, "yamaha-rtx", NEXT)
    tgt = target(info, "yamaha-rtx")
    report = push(line(lab, NEXT, "yamaha-rtx", "RTX830"), tgt, tmp_path)
    assert report.status == "ok" and report.verified and report.saved, report.reason
    pppoe = next(c for c in report.verify.checks if c.name == "pppoe")
    assert pppoe.evidence["session1"]["ipv4"] in account_ips(lab, NEXT)
    assert next(c for c in report.verify.checks if c.name == "ipv6-ra").ok
    again = push(line(lab, NEXT, "yamaha-rtx", "RTX830"), tgt, tmp_path)
    assert again.status == "no-op", again.diff


def test_yamaha_wrong_isp_password_is_restored(lab, sims, tmp_path):
    info = sims(2, "yamaha-rtx", NEXT)
    tgt = target(info, "yamaha-rtx")
    bad = push(line(lab, NEXT, "yamaha-rtx", "RTX830", password="not-the-password-3"), tgt, tmp_path, timeout=40)
    assert bad.status == "restored" and bad.restore_verified, bad.reason
    assert next(c for c in bad.verify.checks if c.name == "pppoe").reason == "auth-rejected"


def test_nec_denwa_line_gets_pppoe_and_a_60(lab, sims, tmp_path):
    info = sims(3, "nec-ix", DENWA_ROUTER)
    tgt = target(info, "nec-ix")
    report = push(line(lab, DENWA_ROUTER, "nec-ix", "IX2215", denwa=True), tgt, tmp_path)
    assert report.status == "ok" and report.saved, report.reason
    pd = next(c for c in report.verify.checks if c.name == "ipv6-pd")
    assert "/60" in pd.detail
    again = push(line(lab, DENWA_ROUTER, "nec-ix", "IX2215", denwa=True), tgt, tmp_path)
    assert again.status == "no-op", again.diff
