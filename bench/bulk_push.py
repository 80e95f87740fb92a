"""Bulk push + verify on N lab CPEs (real sshd, pppd, dhcpcd in UML guests): ours vs Nornir + netmiko.

Both sides push the same rendered configs to the same CPEs from the same starting state (each CPE reset to
its pristine files, daemons stopped) and count a CPE done when it verifies (PPPoE up with IPv4, the
delegated prefix and the LAN /64, the DS-Lite tunnel, Wi-Fi accepted: provisioner.verify, the same checks
and the same polling for both).

- ours: provisioner.provision.provision_many(concurrency=K): per CPE lock, SFTP writes (atomic), reloads of
  the daemons whose files changed, backup, verify, save; one SSH session per thread.
- baseline: Nornir's default threaded runner (20 workers) with nornir_netmiko: netmiko_file_transfer (SCP,
  with its md5 checks) for each file, one netmiko_send_command running the same reloads, then the same
  verify over the task's netmiko connection. No backup, no diff: less work than ours.
- floor: the slowest single CPE pushed alone (a sample, one of each line kind; each CPE alone on the lab)
  x the number of waves ceil(N / K). It assumes a CPU per CPE; in the lab all guests share the machine,
  so the run also prints a CPU floor: N x the CPU seconds one CPE's push costs the machine alone / cores,
  and how busy the machine was during each side's run.

    python bench/bulk_push.py [--cpes 50] [--concurrency 50] [--repeat 1] [--reuse-lab] [--solo 2]
                              [--kinds next-denwa-router,cross]

PPPOE AT SCALE: the lab's BRAS is one UML guest (one virtual CPU) whose pppoe-server relays every session
through a user-mode `pppoe` and a pppd of its own. On a 2-core machine with 50 guests it cannot bring 25
sessions up at once (LCP times out on the BRAS side; 6 and 19 of 25 unverified in two runs), so the N = 50
figure here is measured on Cross (IPoE, DS-Lite) lines: `--cpes 50 --kinds cross`. Mixed lines are
measured at N = 20.

Prints both times, the speed-up (goal >= 3x) and ours / floor (goal <= 1.5x), and the command.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from nornir.core import Nornir
from nornir.core.inventory import ConnectionOptions, Defaults, Groups, Host, Hosts, Inventory
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir.core.task import Result, Task
from nornir.plugins.runners import ThreadedRunner
from nornir_netmiko.tasks import netmiko_file_transfer, netmiko_send_command

from provisioner import service
from provisioner.drivers import Backup, Timeouts, get_driver
from provisioner.drivers.linux import (
    LINUX_UNITS,
    MANAGED_LIST,
    LinuxDriver,
    managed_list,
    validate_nft_locally,
)
from provisioner.provision import ProvisionItem, ProvisionOptions, provision, provision_many
from provisioner.sessionlog import JobSecrets
from provisioner.verify import verify

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "lab"
KINDS = {"next-denwa-router": "next-pppoe-linux.yaml", "cross": "cross-dslite-linux.yaml"}
CORES = os.cpu_count() or 1
NORNIR_DEFAULT_WORKERS = 20  # nornir.plugins.runners.ThreadedRunner(num_workers=20)
# 50 UML guests share the machine's cores: under that load a daemon's start takes minutes, not seconds.
VERIFY_TIMEOUT = 300.0
TIMEOUTS = Timeouts(connect=60.0, banner=120.0, auth=60.0, command=300.0, apply=900.0)


# ---------------------------------------------------------------------- the lab and the work
def bring_up(n: int, reuse: bool, kinds: list[str]):
    from lab import Lab, topology

    # The lab caps itself at topology.MAX_CPES (32 today); this benchmark's N is 50 by definition. Booting
    # 50 UML guests at once on 2 cores misses the lab's per-guest boot timeout: boot them 8 at a time.
    topology.MAX_CPES = max(topology.MAX_CPES, n)
    Lab.GUEST_BOOT_WORKERS = min(n + 1, 8)

    profiles = [kinds[i % len(kinds)] for i in range(n)]
    if reuse:
        lab = Lab.load()
        if [c.profile for c in lab.cpes] == profiles:
            return lab
        print("the running lab does not have the benchmark's CPEs; bringing a new one up", file=sys.stderr)
    t0 = time.monotonic()
    lab = Lab.up(profile=",".join(profiles))
    print(f"lab up with {n} CPEs in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return lab


def work_items(lab) -> list[ProvisionItem]:
    resolver = service.LabCredentials(lab)
    items = []
    for cpe in lab.cpes:
        data = yaml.safe_load((EXAMPLES / KINDS[cpe.profile]).read_text(encoding="utf-8"))
        data["customer_id"] = f"CAF8{cpe.index:07d}"
        record = service.read_line(service.fill_from_lab(data, cpe))
        items.append(service.prepare_push(record, resolver=resolver))
    return items


def pristine(items: list[ProvisionItem]) -> list[Backup]:
    """Each CPE's files as the lab made them (everything either side may write), to reset to."""
    def read(it: ProvisionItem) -> Backup:
        with get_driver("linux")(it.target, timeouts=TIMEOUTS) as d:
            return Backup(snapshot=d.get_running_config(it.rendered))
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(read, items))


def reset(items: list[ProvisionItem], backups: list[Backup], only: list[int] | None = None) -> None:
    """Put the pristine files back and stop what they no longer start (pppd, dhcpcd, dnsmasq ...)."""
    def one(i: int) -> None:
        with get_driver("linux")(items[i].target, timeouts=TIMEOUTS) as d:
            d.restore(backups[i])
            if not d.snapshot_like(backups[i].snapshot).same_as(backups[i].snapshot):
                raise RuntimeError(f"{items[i].target.label} did not reset")
            d.run("poff -a >/dev/null 2>&1; dhcpcd -x >/dev/null 2>&1; "
                  "ip -6 tunnel del dslite0 2>/dev/null; true")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, only if only is not None else range(len(items))))
    time.sleep(2)  # PADT and DHCPv6 release settle on the BRAS and Kea


def cpu_jiffies() -> tuple[int, int]:
    """/proc/stat's (total, idle + iowait) jiffies of the whole machine."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def busy_since(before: tuple[int, int]) -> float:
    """The share of the machine busy since `before` (a cpu_jiffies())."""
    total, idle = (now - then for now, then in zip(cpu_jiffies(), before, strict=True))
    return 1 - idle / total if total else 0.0


# ---------------------------------------------------------------------- ours
def run_ours(items: list[ProvisionItem], concurrency: int, state: Path) -> tuple[float, list]:
    opts = ProvisionOptions(state_dir=state, verify_timeout=VERIFY_TIMEOUT, timeouts=TIMEOUTS)
    t0 = time.monotonic()
    reports = provision_many(items, concurrency=concurrency, options=opts)
    elapsed = time.monotonic() - t0
    bad = [(r.cpe, r.status, r.reason) for r in reports if not r.verified]
    if bad:
        raise RuntimeError(f"ours: {len(bad)} CPE(s) not verified: {bad[:3]}")
    return elapsed, reports


def solo_times(items, backups, sample: list[int], state: Path) -> tuple[list[float], list[float]]:
    """Each sampled CPE pushed alone: its time, and the CPU seconds the machine spent on it (guest and
    controller; the idle load of the other guests, measured just before, taken off)."""
    times, cpu = [], []
    for i in sample:
        reset(items, backups, only=[i])
        it = items[i]
        quiet = cpu_jiffies()
        time.sleep(5.0)
        idle = busy_since(quiet)
        t0, before = time.monotonic(), cpu_jiffies()
        r = provision(it.target, it.rendered, it.device, options=ProvisionOptions(
            state_dir=state, verify_timeout=VERIFY_TIMEOUT, timeouts=TIMEOUTS), secrets=it.secrets)
        times.append(time.monotonic() - t0)
        cpu.append(max(0.0, busy_since(before) - idle) * times[-1] * CORES)
        if not r.verified:
            raise RuntimeError(f"solo {it.target.label}: {r.status} {r.reason}")
    return times, cpu


# ---------------------------------------------------------------------- baseline: Nornir + netmiko
def reload_commands(files: dict[str, str]) -> list[str]:
    """The same daemon reloads ours runs, in the same order (every unit touched by the files). As ours does
    on the lab's CPEs (their kernel has no inet/ip nftables), the ruleset is validated on the controller and
    installed, not loaded."""
    steps = []
    for unit in LINUX_UNITS:
        present = sorted(p for p in files if unit.owns(p))
        if present and unit.name != "nftables":
            steps.append(unit.reload(present))
    return steps


def baseline_task(task: Task, item: ProvisionItem, tmp: Path) -> Result:
    files = dict(item.rendered.files)
    files[MANAGED_LIST] = managed_list(files)
    dirs = sorted({str(Path(p).parent) for p in files})
    task.run(netmiko_send_command, command_string="mkdir -p " + " ".join(map(shlex.quote, dirs)))
    for path, content in files.items():
        local = tmp / f"{task.host.name}-{Path(path).name}"
        local.write_text(content, encoding="utf-8")
        task.run(netmiko_file_transfer, source_file=str(local), dest_file=Path(path).name,
                 file_system=str(Path(path).parent), direction="put", overwrite_file=True)
    validate_nft_locally(files["/etc/nftables.conf"], JobSecrets())
    for command in reload_commands(files):
        # cmd_verify=False: what netmiko advises when a long line is wrapped by the shell
        task.run(netmiko_send_command, command_string=command, read_timeout=TIMEOUTS.apply, cmd_verify=False)
    driver = LinuxDriver(item.target, timeouts=TIMEOUTS)
    driver.conn = task.host.get_connection("netmiko", task.nornir.config)  # verify over Nornir's session
    try:
        result = verify(driver, item.device, timeout=VERIFY_TIMEOUT)
    finally:
        driver.conn = None
    return Result(host=task.host, result=result.ok, failed=not result.ok, changed=True)


def run_baseline(items: list[ProvisionItem]) -> tuple[float, int]:
    ConnectionPluginRegister.auto_register()  # what InitNornir does: nornir_netmiko's "netmiko" plugin
    hosts = Hosts()
    for it in items:
        t = it.target
        hosts[t.name] = Host(
            name=t.name, hostname=t.host, username=t.username,
            password=t.password.get_secret_value() if t.password else None, platform="linux",
            connection_options={"netmiko": ConnectionOptions(extras={
                "key_file": t.key_file, "use_keys": bool(t.key_file), "allow_agent": False,
                "banner_timeout": TIMEOUTS.banner, "conn_timeout": TIMEOUTS.connect,
                "auth_timeout": TIMEOUTS.auth})},
            data={"item": it},
        )
    nr = Nornir(inventory=Inventory(hosts=hosts, groups=Groups(), defaults=Defaults()),
                runner=ThreadedRunner(num_workers=NORNIR_DEFAULT_WORKERS))
    with tempfile.TemporaryDirectory(prefix="hkl-bench-") as tmp:
        t0 = time.monotonic()
        agg = nr.run(task=lambda task: baseline_task(task, task.host.data["item"], Path(tmp)))
        elapsed = time.monotonic() - t0
    nr.close_connections()
    failed = [name for name, res in agg.items() if res.failed]
    for name in failed[:3]:
        print(f"baseline: {name} failed: {_short(agg[name][-1].exception or agg[name][0].exception)}",
              file=sys.stderr)
    # A failed CPE only makes the baseline's time shorter than a complete run: keep the time, count them.
    return elapsed, len(failed)


def _short(exc: BaseException | None) -> str:
    return " ".join(str(exc).split())[:200] if exc else "?"


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpes", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of (ours, baseline), order alternating")
    ap.add_argument("--solo", type=int, default=2, help="CPEs pushed alone for the floor (one per kind first)")
    ap.add_argument("--reuse-lab", action="store_true", help="use the running lab if it has these CPEs")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help=f"line kinds, in turn over the CPEs (of {', '.join(KINDS)}); PPPoE at scale: see this file's docstring")
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    if unknown := sorted(set(kinds) - set(KINDS)):
        ap.error(f"--kinds: unknown {unknown}")
    logging.disable(logging.WARNING)

    lab = bring_up(args.cpes, args.reuse_lab, kinds)
    try:
        return measure(lab, args, argv)
    finally:
        if not args.reuse_lab:
            lab.down()


def measure(lab, args: argparse.Namespace, argv: list[str] | None) -> int:
    items = work_items(lab)
    backups = pristine(items)
    state = Path(tempfile.mkdtemp(prefix="hkl-bench-state-"))
    ours_t, base_t = [], []
    busy: dict[str, list[float]] = {"ours": [], "baseline": []}
    base_failed: list[int] = []
    for rnd in range(args.repeat):
        order = ("ours", "baseline") if rnd % 2 == 0 else ("baseline", "ours")
        for side in order:
            reset(items, backups)
            before = cpu_jiffies()
            if side == "ours":
                ours_t.append(run_ours(items, args.concurrency, state)[0])
            else:
                elapsed, failed = run_baseline(items)
                base_t.append(elapsed)
                base_failed.append(failed)
            busy[side].append(busy_since(before))
            print(f"round {rnd + 1}: {side} {(ours_t if side == 'ours' else base_t)[-1]:.1f} s", file=sys.stderr)
    kinds_first = list({lab.cpes[i].profile: i for i in reversed(range(len(items)))}.values())
    sample = (kinds_first + [i for i in range(len(items)) if i not in kinds_first])[: max(1, args.solo)]
    solos, solo_cpu = solo_times(items, backups, sample, state)
    reset(items, backups)

    ours, base = statistics.median(ours_t), statistics.median(base_t)
    waves = math.ceil(len(items) / args.concurrency)
    floor = max(solos) * waves
    speedup, to_floor = base / ours, ours / floor
    mix = ", ".join(f"{sum(c.profile == k for c in lab.cpes)} {k}" for k in KINDS)
    print(f"CPEs: {len(items)} ({mix})  concurrency: ours {args.concurrency}, baseline {NORNIR_DEFAULT_WORKERS} "
          f"(Nornir default)  rounds: {args.repeat}")
    print(f"ours (push + verify):            {ours:7.1f} s")
    print(f"baseline (Nornir + netmiko):     {base:7.1f} s"
          + (f"  ({max(base_failed)} of {len(items)} CPEs failed in a round)" if any(base_failed) else ""))
    print(f"slowest single CPE alone:        {max(solos):7.1f} s  (sample of {len(solos)}: "
          + ", ".join(f"{s:.1f}" for s in solos) + ")")
    print(f"floor = slowest single x {waves} wave(s): {floor:7.1f} s")
    print(f"machine busy (all {CORES} cores, guests + controller): ours "
          f"{statistics.median(busy['ours']):.0%}, baseline {statistics.median(busy['baseline']):.0%}")
    # The floor above assumes every CPE has a CPU of its own; here all of them share the machine's.
    cpu_floor = max(solo_cpu) * len(items) / CORES
    print(f"CPU floor = {len(items)} x the CPU of one CPE's push alone ({max(solo_cpu):.1f} s) / {CORES} cores: "
          f"{cpu_floor:7.1f} s; ours / CPU floor: {ours / cpu_floor:.2f}x, baseline / CPU floor: "
          f"{base / cpu_floor:.2f}x")
    print(f"speed-up vs baseline: {speedup:.2f}x  (goal >= 3x: {'met' if speedup >= 3 else 'NOT met'})")
    print(f"ours / floor:         {to_floor:.2f}x  (goal <= 1.5x: {'met' if to_floor <= 1.5 else 'NOT met'})")
    print("command: python bench/bulk_push.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))
    return 0


if __name__ == "__main__":
    # A SIGTERM (e.g. `timeout`) must still take the lab down: turn it into an exception.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
