"""The SNMP poller against the lab CPEs' real net-snmp agents (inside the UML guests), v2c and v3 authPriv."""

import asyncio
import json
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from provisioner.checks.snmp_poller import SnmpPoller, SnmpTarget, poll_many, poll_many_sync

pytestmark = pytest.mark.lab


def v2c(cpe, community: str | None = None) -> SnmpTarget:
    return SnmpTarget(host=cpe.mgmt_ip, community=SecretStr(community) if community else cpe.snmp_community)


def v3(cpe, auth_key: str | None = None) -> SnmpTarget:
    return SnmpTarget(host=cpe.mgmt_ip, v3_user=cpe.snmp_v3_user,
                      v3_auth_key=SecretStr(auth_key) if auth_key else cpe.snmp_auth_key,
                      v3_priv_key=cpe.snmp_priv_key)


def assert_polled(cpe, result) -> None:
    assert result.ok, (cpe.name, result.reason, result.error)
    assert result.sys_name == cpe.name
    assert result.sys_uptime_ticks > 0
    by_name = {i.name: i for i in result.interfaces}
    assert {cpe.wan_iface, cpe.mgmt_iface, cpe.lan_iface} <= set(by_name)
    mgmt = by_name[cpe.mgmt_iface]
    assert mgmt.oper_status == "up" and mgmt.descr == cpe.mgmt_iface
    assert mgmt.hc_in_octets > 0 and mgmt.hc_out_octets > 0  # our own SNMP traffic crosses it
    assert [i.index for i in result.interfaces] == sorted(i.index for i in result.interfaces)


@pytest.mark.parametrize("make_target", [v2c, v3], ids=["v2c", "v3-authPriv"])
def test_polls_every_lab_cpe(lab, make_target):
    cpes = lab.cpes
    results = poll_many_sync([make_target(cpe) for cpe in cpes])
    assert [r.host for r in results] == [cpe.mgmt_ip for cpe in cpes]
    for cpe, result in zip(cpes, results, strict=True):
        assert_polled(cpe, result)
        assert result.version == ("v2c" if make_target is v2c else "v3")


def test_v2c_and_v3_of_all_cpes_in_one_poll_agree(lab):
    # The CPEs share the v3 user name with per-CPE keys: each agent's keys must stay its own.
    cpes = lab.cpes
    results = poll_many_sync([v2c(cpe) for cpe in cpes] + [v3(cpe) for cpe in cpes])
    for cpe, by_v2c, by_v3 in zip(cpes, results[: len(cpes)], results[len(cpes):], strict=True):
        assert_polled(cpe, by_v2c)
        assert_polled(cpe, by_v3)
        assert [i.name for i in by_v2c.interfaces] == [i.name for i in by_v3.interfaces]


def test_results_carry_no_secret(lab):
    cpes = lab.cpes
    results = poll_many_sync([v2c(cpes[0]), v3(cpes[1])])
    dumped = json.dumps([r.model_dump(mode="json") for r in results]) + repr(results) + repr(v3(cpes[1]))
    for secret in (cpes[0].snmp_community, cpes[1].snmp_auth_key, cpes[1].snmp_priv_key):
        assert secret.get_secret_value() not in dumped


def test_counters_and_uptime_move_between_polls(lab):
    # net-snmp caches interface statistics for a few seconds: poll until the cache has been refreshed.
    cpe = lab.cpes[0]

    async def until_counters_move():
        poller = SnmpPoller()
        try:
            (first,) = await poller.poll([v2c(cpe)])
            for _ in range(20):
                await asyncio.sleep(1.0)
                (later,) = await poller.poll([v2c(cpe)])
                if later.ok and _mgmt(cpe, later).hc_in_octets != _mgmt(cpe, first).hc_in_octets:
                    break
            return first, later
        finally:
            poller.close()

    first, later = asyncio.run(until_counters_move())
    assert first.ok and later.ok
    assert _mgmt(cpe, later).hc_in_octets > _mgmt(cpe, first).hc_in_octets  # our own polls crossed mgmt0
    assert later.sys_uptime_ticks > first.sys_uptime_ticks


def _mgmt(cpe, result):
    return {i.name: i for i in result.interfaces}[cpe.mgmt_iface]


def test_wrong_credentials_fail_alone_and_say_why(lab):
    cpes = lab.cpes
    targets = [v2c(cpe) for cpe in cpes] + [v2c(cpes[0], "not-the-community"), v3(cpes[1], "not-the-auth-key")]
    results = poll_many_sync(targets, timeout=1.0, retries=1)
    for cpe, result in zip(cpes, results, strict=False):
        assert_polled(cpe, result)
    wrong_community, wrong_key = results[-2:]
    assert not wrong_community.ok and wrong_community.reason == "timeout"  # agents ignore bad communities
    assert not wrong_key.ok and wrong_key.reason == "auth"


def test_a_dead_cpe_does_not_stall_the_others(lab):
    cpes = lab.cpes
    lab.fault("snmpd-down", cpe=cpes[0].index)
    try:
        results = poll_many_sync([v2c(cpe) for cpe in cpes], timeout=0.5, retries=1)
    finally:
        lab.clear("snmpd-down", cpe=cpes[0].index)
    dead, alive = results[0], results[1:]
    assert not dead.ok and dead.reason == "timeout"
    for cpe, result in zip(cpes[1:], alive, strict=True):
        assert_polled(cpe, result)
    # The healthy agents were answered while the dead one was still being retried.
    assert max(r.elapsed_ms for r in alive) < dead.elapsed_ms


def test_one_target_at_a_time_still_polls_them_all(lab):
    cpes = lab.cpes
    results = asyncio.run(poll_many([v2c(cpe) for cpe in cpes], concurrency=1))
    for cpe, result in zip(cpes, results, strict=True):
        assert_polled(cpe, result)


def test_cli_snmp_poll_reads_the_community_from_the_environment(lab):
    cpe = lab.cpes[0]
    community = cpe.snmp_community.get_secret_value()
    env = {**os.environ, "HKL_COMMUNITY": community}
    argv = [sys.executable, "-m", "provisioner.cli", "snmp-poll", cpe.mgmt_ip, "--community-env", "HKL_COMMUNITY"]
    as_json = subprocess.run([*argv, "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert as_json.returncode == 0, as_json.stderr
    (result,) = json.loads(as_json.stdout)
    assert result["ok"] and result["sys_name"] == cpe.name
    table = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert table.returncode == 0 and cpe.name in table.stdout
    assert community not in as_json.stdout + as_json.stderr + table.stdout + table.stderr
