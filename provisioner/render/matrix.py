"""Platform x feature matrix, generated from the Platform classes (the README table)."""

from __future__ import annotations

import argparse

from provisioner.intent.models import ALL_FEATURES
from provisioner.render.platform import platforms


def feature_matrix() -> dict[str, dict[str, bool]]:
    return {name: {f: f in p.features for f in ALL_FEATURES} for name, p in platforms().items()}


def markdown(limits: bool = False) -> str:
    table = feature_matrix()
    names = list(table)
    rows = ["| feature | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for f in ALL_FEATURES:
        rows.append(f"| {f} | " + " | ".join("✓" if table[n][f] else "—" for n in names) + " |")
    if limits:
        rows.append("")
        for name, plat in platforms().items():
            rows += [f"- **{name}**: {limit}" for limit in plat.limits]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the README table (the default)")
    parser.add_argument("--limits", action="store_true", help="also list each platform's finer limits")
    args = parser.parse_args(argv)
    print(markdown(limits=args.limits), end="")


if __name__ == "__main__":
    main()
