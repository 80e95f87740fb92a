"""The Yamaha RTX and NEC IX drivers over SSH (netmiko's own yamaha / nec_ix device types) against the lab's
router simulators (lab/sim: test doubles of the consoles, since no RTX or IX can run here). Their WAN side is
the CLI tests' RecordingWan, so no PPPoE session ever comes up: the PPPoE check cannot pass and a push with it
must be restored; the getters' answers on a real WAN are tested in tests/lab/test_sim_lab.py's setting.
"""

from __future__ import annotations

import threading

import paramiko
import pytest
from pydantic import SecretStr

from lab.sim.nec_ix import NecIxConfig, NecIxSimulator
from lab.sim.ssh_server import SimSshServer
from lab.sim.yamaha import YamahaConfig, YamahaRtxSimulator
from provisioner import service
from provisioner.drivers import CommandRejected, Target, get_driver
from provisioner.provision import ProvisionOptions, provision
from tests.conftest import EXAMPLES, load_example
from tests.drivers.conftest import plain_device
from tests.lab.test_sim_cli import RecordingWan


@pytest.fixture
def serve():
    servers = []

    def start(router) -> int:
        server = SimSshServer(router, "127.0.0.1", 0, paramiko.ECDSAKey.generate(bits=256))
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
        return server.sock.getsockname()[1]

    yield start
    for server in servers:
        server.stopping.set()


class SimCredentials:
    """Any credential a record names (SNMP community, SNMPv3 keys) resolves to a fixed test value."""

    def login(self, ref, host):
        return service.Login(username="lab", password=SecretStr("login-pw"), secret=SecretStr("admin-pw"))

    def render_secret(self, ref, host):
        return SecretStr("sim" + "".join(c for c in ref if c.isalnum())[:8] + "key1")


def rendered_example(platform: str):
    """The first example line for this platform, rendered in clear (the push needs the secrets)."""
    for path in EXAMPLES:
        record = service.read_line(load_example(path))
        intent = service.line_intent(record)
        if intent.router and intent.router.platform == platform and intent.router.pppoe:
            target = Target(host="127.0.0.1", platform=platform, username="lab")
            item = service.prepare_push(record, target=target, resolver=SimCredentials())
            return item.rendered, item.device
    raise AssertionError(f"no example line for {platform}")


def yamaha_target(port: int) -> Target:
    return Target(host="127.0.0.1", port=port, platform="yamaha-rtx", username="lab",
                  password=SecretStr("login-pw"), secret=SecretStr("admin-pw"), name="rtx-sim")


def nec_target(port: int) -> Target:
    return Target(host="127.0.0.1", port=port, platform="nec-ix", username="lab", password=SecretStr("login-pw"),
                  name="ix-sim")


def test_yamaha_push_is_then_a_noop_and_restore_converges_back(serve):
    sim = YamahaRtxSimulator(YamahaConfig(login_password="login-pw", admin_password="admin-pw"), wan=RecordingWan())
    port = serve(sim)
    cfg, _ = rendered_example("yamaha-rtx")
    with get_driver("yamaha-rtx")(yamaha_target(port)) as d:
        before = d.get_running_config()
        diff = d.diff(before, cfg)
        assert diff.changes > 20 and "pp auth myname" in diff.text
        password = next(line.split()[-1] for line in cfg.lines() if "pp auth myname" in line)
        assert password not in diff.text
        backup = d.backup("job", before)
        d.apply(cfg, before)
        after = d.get_running_config()
        assert d.diff(after, cfg).changes == 0  # what the RTX shows is what was rendered: idempotent
        assert "pp auth accept pap chap" in after.files["config"]
        d.restore(backup)
        assert d.snapshot_like(backup.snapshot).same_as(backup.snapshot)
    # only the console settings the driver made at login remain; nothing was saved
    assert all(line.startswith("console ") for line in sim.running.lines()) and not sim.saved.lines()


def test_yamaha_refused_line_raises_and_save_saves(serve):
    sim = YamahaRtxSimulator(YamahaConfig(login_password="login-pw", admin_password="admin-pw"), wan=RecordingWan())
    port = serve(sim)
    with get_driver("yamaha-rtx")(yamaha_target(port)) as d:
        with pytest.raises(CommandRejected):
            d.send_config(["dns service recursive", "dns servr 192.0.2.53"])
        d.save()
    assert not sim.unsaved and "dns service recursive" in sim.saved.lines()


def test_yamaha_transaction_without_a_wan_is_restored_to_the_byte(serve, tmp_path):
    sim = YamahaRtxSimulator(YamahaConfig(login_password="login-pw", admin_password="admin-pw"), wan=RecordingWan())
    port = serve(sim)
    cfg, device = rendered_example("yamaha-rtx")
    device = device.model_copy(update={"ipv6": None})  # the simulator's `show ipv6 address` crashes (lab/sim)
    report = provision(yamaha_target(port), cfg, device,
                       options=ProvisionOptions(state_dir=tmp_path, verify_timeout=3.0))
    assert report.status == "restored", report.reason
    assert report.verify.checks[0].name == "pppoe" and not report.verify.checks[0].ok
    assert report.restore_verified and not report.saved and not sim.saved.lines()
    assert all(line.startswith("console ") for line in sim.running.lines())


def test_yamaha_transaction_that_verifies_is_saved(serve, tmp_path):
    sim = YamahaRtxSimulator(YamahaConfig(login_password="login-pw", admin_password="admin-pw"), wan=RecordingWan())
    port = serve(sim)
    cfg, _ = rendered_example("yamaha-rtx")
    opts = ProvisionOptions(state_dir=tmp_path, verify_timeout=3.0)
    report = provision(yamaha_target(port), cfg, plain_device(platform="yamaha-rtx"), options=opts)
    assert report.status == "ok" and report.saved, report.reason
    assert not sim.unsaved
    again = provision(yamaha_target(port), cfg, plain_device(platform="yamaha-rtx"), options=opts)
    assert again.status == "no-op" and again.changes == 0


def test_nec_push_noop_restore_and_save(serve, tmp_path):
    sim = NecIxSimulator(NecIxConfig(login_password="login-pw"), wan=RecordingWan())
    port = serve(sim)
    cfg, device = rendered_example("nec-ix")
    opts = ProvisionOptions(state_dir=tmp_path, verify_timeout=3.0)
    failed = provision(nec_target(port), cfg, device, options=opts)
    assert failed.status == "restored" and failed.restore_verified, failed.reason
    assert sim.running == sim.saved
    ok = provision(nec_target(port), cfg, plain_device(platform="nec-ix"), options=opts)
    assert ok.status == "ok" and ok.saved, ok.reason
    assert sim.running == sim.saved
    again = provision(nec_target(port), cfg, plain_device(platform="nec-ix"), options=opts)
    assert again.status == "no-op", again.diff
