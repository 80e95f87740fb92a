"""Lab bring-up and teardown times and memory per CPE (root; not a test, nothing here is timed in CI).

Targets (issue 3): `lab up` with BRAS, Kea, radvd and 3 CPEs under 15 s; `lab down` under 5 s.
Side by side with a baseline run of the same lab whose UML guests boot one after another (the lab boots
them all at once), and with the NGN alone (no guests) as the floor.

    sudo python bench/lab_updown.py [--runs 3] [--cpes 3] [--profile next,next-denwa,cross]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lab import Lab
from lab.procs import pss_kib


def one_run(cpes: int, profile: str, *, guests: bool = True, workers: int | None = None) -> dict:
    Lab.GUEST_BOOT_WORKERS = workers
    try:
        started = time.monotonic()
        lab = Lab.up(cpes=cpes, profile=profile, guests=guests)
        up = time.monotonic() - started
        memory = {}
        if guests:
            for name in lab.state.guests:
                memory[name] = lab._guest(name).memory_kib()
        memory["ngn daemons"] = sum(pss_kib(rec.pid) for rec in lab.state.processes.values())
        started = time.monotonic()
        lab.down()
        return {"up": up, "down": time.monotonic() - started, "memory": memory}
    finally:
        Lab.GUEST_BOOT_WORKERS = None


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpes", type=int, default=3)
    parser.add_argument("--profile", default="next,next-denwa,cross")
    args = parser.parse_args()
    profile = args.profile if "," not in args.profile else ",".join(args.profile.split(",")[: args.cpes])
    cases = {
        "lab (guests booted together)": {},
        "baseline: guests booted one by one": {"workers": 1},
        "floor: NGN only, no guests": {"guests": False},
    }
    results: dict[str, list[dict]] = {name: [] for name in cases}
    for _ in range(args.runs):  # interleaved, so load changes hit every case alike
        for name, kwargs in cases.items():
            results[name].append(one_run(args.cpes, profile, **kwargs))

    print(f"lab up/down, {args.cpes} CPEs ({profile}), {args.runs} runs, medians")
    ours = statistics.median(r["up"] for r in results["lab (guests booted together)"])
    for name, runs in results.items():
        up = [r["up"] for r in runs]
        down = [r["down"] for r in runs]
        ratio = statistics.median(up) / ours
        print(f"  {name:38s} up {summary(up)}  down {summary(down)}  up ratio {ratio:4.2f}")
    print("  targets: up < 15 s, down < 5 s")
    print("memory (PSS, last run of the lab)")
    memory = results["lab (guests booted together)"][-1]["memory"]
    for name, kib in memory.items():
        print(f"  {name:12s} {kib / 1024:7.1f} MiB")
    cpe = [kib for name, kib in memory.items() if name.startswith("cpe")]
    if cpe:
        print(f"  per CPE      {statistics.mean(cpe) / 1024:7.1f} MiB (mean of {len(cpe)})")


if __name__ == "__main__":
    main()
