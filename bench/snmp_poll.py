"""Benchmark the SNMP poller on the lab CPEs' agents against a sequential net-snmp loop over the same agents.

Both collect the same data per agent: sysUpTime, sysName, and the interfaces' descr/name, oper status and
64-bit counters. The baseline is what a script would do: per agent `snmpbulkwalk` of ifTable and of
ifXTable and an `snmpget` of the two scalars, one agent after the other (credentials come from a per-agent
snmp.conf, so they never appear on a command line). Ours is `SnmpPoller`: every agent at once, one engine.

Reported: agents polled per second for the baseline; for ours steady state (a poller kept between rounds,
as the service keeps it), cold (`poll_many` including the engine's start), and all rounds at once.
Goal: ours (steady) ≥ 20× the baseline.

Run as root with the lab up (`provisioner lab up`); without a running lab it brings a three-CPE lab up and
takes it down afterwards.   python bench/snmp_poll.py [--rounds 10] [--v3] [--cpes 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IF_TABLE, IF_X_TABLE = "1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1"
SCALARS = ("1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0")


def snmp_conf(cpe, v3: bool) -> str:
    if not v3:
        return f"defVersion 2c\ndefCommunity {cpe.snmp_community.get_secret_value()}\n"
    return (f"defVersion 3\ndefSecurityName {cpe.snmp_v3_user}\ndefSecurityLevel authPriv\n"
            f"defAuthType SHA\ndefAuthPassphrase {cpe.snmp_auth_key.get_secret_value()}\n"
            f"defPrivType AES\ndefPrivPassphrase {cpe.snmp_priv_key.get_secret_value()}\n")


def baseline(cpes, rounds: int, v3: bool, workdir: Path) -> float:
    """Agents per second of the sequential net-snmp loop."""
    envs = []
    for cpe in cpes:
        conf_dir = workdir / cpe.name
        conf_dir.mkdir(mode=0o700)
        (conf_dir / "snmp.conf").write_text(snmp_conf(cpe, v3))
        envs.append({**os.environ, "SNMPCONFPATH": str(conf_dir), "SNMP_PERSISTENT_DIR": str(workdir / "persist")})
    t0 = time.monotonic()
    for _ in range(rounds):
        for cpe, env in zip(cpes, envs, strict=True):
            for argv in (["snmpbulkwalk", cpe.mgmt_ip, IF_TABLE], ["snmpbulkwalk", cpe.mgmt_ip, IF_X_TABLE],
                         ["snmpget", cpe.mgmt_ip, *SCALARS]):
                subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return rounds * len(cpes) / (time.monotonic() - t0)


async def ours(targets, rounds: int) -> dict[str, float]:
    from provisioner.checks.snmp_poller import SnmpPoller, poll_many

    t0 = time.monotonic()
    results = await poll_many(targets)
    cold = len(targets) / (time.monotonic() - t0)
    _check(results)
    poller = SnmpPoller()
    try:
        _check(await poller.poll(targets))  # learn engine IDs and table sizes, as a kept poller has
        t0 = time.monotonic()
        for _ in range(rounds):
            _check(await poller.poll(targets))
        steady = rounds * len(targets) / (time.monotonic() - t0)
        t0 = time.monotonic()
        _check(await poller.poll(targets * rounds))
        at_once = rounds * len(targets) / (time.monotonic() - t0)
    finally:
        poller.close()
    return {"cold": cold, "steady": steady, "at_once": at_once}


def _check(results) -> None:
    failed = [f"{r.host}: {r.reason} {r.error}" for r in results if not r.ok]
    if failed:
        raise SystemExit("poll failed: " + "; ".join(failed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--v3", action="store_true", help="SNMPv3 authPriv (SHA/AES) instead of v2c")
    parser.add_argument("--cpes", type=int, default=3,
                        help="CPEs of the lab the benchmark brings up when none is running (a NOC polls many)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from lab import Lab, LabNotRunning
    from provisioner.checks.snmp_poller import SnmpTarget

    try:
        lab, own = Lab.load(), False
    except LabNotRunning:
        lab, own = Lab.up(cpes=args.cpes, profile="next"), True
    try:
        cpes = lab.cpes
        if args.v3:
            targets = [SnmpTarget(host=c.mgmt_ip, v3_user=c.snmp_v3_user, v3_auth_key=c.snmp_auth_key,
                                  v3_priv_key=c.snmp_priv_key) for c in cpes]
        else:
            targets = [SnmpTarget(host=c.mgmt_ip, community=c.snmp_community) for c in cpes]
        with tempfile.TemporaryDirectory(prefix="hkl-bench-snmp-") as workdir:
            base = baseline(cpes, args.rounds, args.v3, Path(workdir))
        mine = asyncio.run(ours(targets, args.rounds))
    finally:
        if own:
            lab.down()

    version = "v3 authPriv SHA/AES" if args.v3 else "v2c"
    hosts = " ".join(c.mgmt_ip for c in cpes)
    print(f"SNMP {version}, {len(cpes)} lab CPE agents, {args.rounds} rounds (agents polled per second):")
    print(f"  baseline, sequential: for h in {hosts}; do snmpbulkwalk $h {IF_TABLE}; "
          f"snmpbulkwalk $h {IF_X_TABLE}; snmpget $h {' '.join(SCALARS)}; done")
    print(f"    {base:8.1f} agents/s")
    print("  ours, SnmpPoller (one engine, all agents concurrently, GETBULK sized by ifNumber):")
    print(f"    steady {mine['steady']:8.1f} agents/s   ratio {mine['steady'] / base:5.1f}×  (goal ≥ 20×)")
    print(f"    cold   {mine['cold']:8.1f} agents/s   ratio {mine['cold'] / base:5.1f}×  (poll_many incl. engine start)")
    print(f"    at once {mine['at_once']:7.1f} agents/s   ratio {mine['at_once'] / base:5.1f}×  "
          f"({args.rounds} × {len(cpes)} polls in one batch)")


if __name__ == "__main__":
    main()
