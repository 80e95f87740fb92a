"""Render throughput: line record → intent → config, per platform, against Nornir + nornir_jinja2.

Both sides render (secrets masked) the same templates for the same lines in the same run. The baseline gets an advantage:
the template context is precomputed for it (it does no record validation and no intent building); it
renders with nornir_jinja2's `template_file(path=...)` as documented, through Nornir's default threaded runner
(20 workers). A second baseline row passes a shared, pre-built `jinja_env` (the tuned way).

    python bench/render.py [--repeat 5] [--copies 20]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections import defaultdict
from pathlib import Path

import yaml
from nornir.core import Nornir
from nornir.core.inventory import Defaults, Groups, Host, Hosts, Inventory
from nornir.plugins.runners import ThreadedRunner
from nornir_jinja2.plugins.tasks import template_file

from provisioner.intent import build_intent
from provisioner.record import parse_line
from provisioner.render import Unsupported, get_platform, platforms, render
from provisioner.render.renderer import TEMPLATE_ROOT, _environment
from provisioner.render.secretview import SecretView

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "lines").glob("*.yaml"))


def jobs_per_platform() -> dict[str, list[dict]]:
    """For each platform, the example records whose router (or HGW) intent it can render."""
    out: dict[str, list[dict]] = defaultdict(list)
    for path in EXAMPLES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        intent = build_intent(parse_line(data))
        for name, plat in platforms().items():
            dev = intent.hgw if plat.default_role == "hgw" else intent.router
            if dev is None:
                continue
            try:
                plat.check(dev)
            except Unsupported:
                continue
            out[name].append(data)
    return out


def ours(records: list[dict], platform: str) -> int:
    n = 0
    for data in records:
        render(build_intent(parse_line(data)), platform, show_secrets=False)
        n += 1
    return n


def baseline_inventory(
    records: list[dict], platform: str, copies: int
) -> tuple[Inventory, list[tuple[str, str]]]:
    plat = get_platform(platform)
    hosts = Hosts()
    for c in range(copies):
        for i, data in enumerate(records):
            intent = build_intent(parse_line(data))
            dev = intent.hgw if plat.default_role == "hgw" else intent.router
            ctx = plat.context(dev, SecretView(False))
            base = {
                "platform": plat.name,
                "role": dev.role,
                "customer_id": intent.customer_id,
                "comment": plat.comment_prefix,
            }
            outs = plat.outputs(dev, ctx)
            name = f"{platform}-{c}-{i}"
            hosts[name] = Host(
                name=name, data={"ctx": {**base, **ctx}, "outputs": [(o.template, o.extra) for o in outs]}
            )
    return Inventory(hosts=hosts, groups=Groups(), defaults=Defaults())


def baseline(inv: Inventory, platform: str, shared_env: bool) -> int:
    plat = get_platform(platform)
    filters = {"q": plat.quote, **plat.filters()}
    env = _environment(platform) if shared_env else None
    path = str(TEMPLATE_ROOT / plat.template_dir)

    def task(task):
        ctx = task.host.data["ctx"]
        for tmpl, extra in task.host.data["outputs"]:
            kwargs = {**ctx, **extra}
            kwargs.pop("host", None)
            if shared_env:
                task.run(task=template_file, template=tmpl, jinja_env=env, **kwargs)
            else:
                task.run(task=template_file, template=tmpl, path=path, jinja_filters=filters, **kwargs)

    nr = Nornir(inventory=inv, runner=ThreadedRunner())  # the default runner: 20 threads
    result = nr.run(task=task)
    failed = [h for h, r in result.items() if r.failed]
    if failed:
        raise SystemExit(f"baseline failed on {failed[:3]}: {[r.exception for r in result[failed[0]]]}")
    return len(result)


def timed(fn, *args) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--copies", type=int, default=20, help="each example is rendered this many times per run")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    jobs = jobs_per_platform()
    print(
        f"{'platform':<12} {'configs':>7} {'ours/s':>9} {'nornir/s':>9} {'ratio':>7} {'nornir+env/s':>12} {'ratio':>7}"
    )
    ratios = []
    for platform in sorted(jobs):
        records = jobs[platform] * args.copies
        inv = baseline_inventory(jobs[platform], platform, args.copies)
        ours(records[:3], platform)  # warm caches (template compile) for both sides alike
        r_ours, r_base, r_env = [], [], []
        for _ in range(args.repeat):
            t, n = timed(ours, records, platform)
            r_ours.append(n / t)
            t, n = timed(baseline, inv, platform, False)
            r_base.append(n / t)
            t, n = timed(baseline, inv, platform, True)
            r_env.append(n / t)
        o, b, e = statistics.median(r_ours), statistics.median(r_base), statistics.median(r_env)
        ratios.append(o / b)
        print(
            f"{platform:<12} {len(records):>7} {o:>9.0f} {b:>9.0f} {o / b:>6.1f}× {e:>12.0f} {o / e:>6.1f}×"
        )
    print(f"geometric-mean ratio vs nornir_jinja2 (documented use): {statistics.geometric_mean(ratios):.1f}×")
    print("reproduce: python bench/render.py --repeat", args.repeat, "--copies", args.copies)


if __name__ == "__main__":
    main()
