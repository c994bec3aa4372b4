"""`python -m arc_eks.simulate --stack dev --trace examples/traces/two-weeks.csv` (`make simulate`).

Prints queue wait, runner-hours, node-hours and cost per pool and in total; with `--set` the same
for the changed configuration, side by side with the baseline. Exit 2 on a bad trace, a bad
setting or a configuration the package would refuse.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from arc_eks.errors import ConfigError
from arc_eks.simulate import report
from arc_eks.simulate.model import simulate
from arc_eks.simulate.params import Params
from arc_eks.simulate.setup import Setting, load
from arc_eks.simulate.trace import TraceError, read_trace

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arc_eks.simulate", description=__doc__)
    parser.add_argument("--stack", required=True, help="environment: stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--trace", required=True, type=Path, help="CSV job trace")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--teams-dir", type=Path, default=None)
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="compare with a changed setting: team/pool.autoscaling.min=0 or a stack key such "
        "as nodeGroup.maxSize=8 (repeatable; all together make one alternative)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="model parameter (docs/scaling-model.md)",
    )
    parser.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="TYPE=USD",
        help="on-demand USD per node-hour",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--html", type=Path, default=None, help="write the plot to this HTML file")
    args = parser.parse_args(argv)

    try:
        params = Params().with_overrides(_pairs(args.param, "--param"))
        for instance_type, usd in _pairs(args.price, "--price").items():
            params.prices[instance_type] = float(usd)
        settings = [Setting.parse(s) for s in args.settings]
        jobs = read_trace(args.trace)
        scenarios = {"baseline": load(args.project_dir, args.stack, teams_dir=args.teams_dir)}
        if settings:
            scenarios["with --set"] = load(
                args.project_dir, args.stack, teams_dir=args.teams_dir, settings=settings
            )
        missing = {
            g.instance_type
            for s in scenarios.values()
            for g in s.node_groups.values()
            if g.instance_type not in params.prices
        }
        if missing:
            raise ValueError(f"no price for {', '.join(sorted(missing))}: add --price TYPE=USD")
    except (ValueError, TraceError) as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 2

    results = {name: simulate(loaded, jobs, params) for name, loaded in scenarios.items()}
    named = {name: report.figures(r, params) for name, r in results.items()}
    if args.json:
        payload = {
            "stack": args.stack,
            "trace": str(args.trace),
            "settings": args.settings,
            "scenarios": report.to_json(named),
        }
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        print(f"stack {args.stack}, trace {args.trace} ({len(jobs)} jobs)")
        if settings:
            print("with --set: " + ", ".join(args.settings))
        print(report.render_text(named, params), end="")
    if args.html is not None:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(
            report.render_html(results, named, f"arc-eks scaling model: {args.stack}")
        )
        if not args.json:
            print(f"plot: {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
