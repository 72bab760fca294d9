"""Command line: `smo-abm run SCENARIO [--scale F] [--seed N] [--out DIR] [--set key=value ...]`,
`smo-abm bench [--quick] [--out DIR] [--max-agents N]`."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import InputError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="smo-abm", description="Safe Mobility agent-based model")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a scenario and write its outputs (in people) to a folder")
    r.add_argument("scenario", help="scenario TOML file (see experiments/)")
    r.add_argument("--scale", type=float, help="agents per person (default: the scenario's, 0.01 in the baseline)")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    r.add_argument("--out", help="output folder (default: results/<scenario name>)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario value, e.g. behaviour.tolerated_wait_weeks=20 or "
                        "pack.offices.Colombia.weekly_quota=5000 (repeatable)")
    r.add_argument("--force", action="store_true", help="run even if the output folder already holds this run")
    r.add_argument("--no-figures", action="store_true", help="skip the figures")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    b = sub.add_parser("bench", help="benchmark the model on the baseline: scaling, reference step, cost growth "
                                     "(writes OUT/bench.json and OUT/report.md)")
    b.add_argument("--quick", action="store_true",
                   help="rows up to 300k agents, reference step at 30k agents (a smoke test, a few minutes)")
    b.add_argument("--out", default="results/bench", help="output folder (default: results/bench)")
    b.add_argument("--max-agents", type=int, metavar="N", help="no scaling row above N agents")
    return ap


def run_command(args) -> int:
    from tqdm import tqdm

    from .model import SafeMobilityModel
    from .outputs import is_complete, write_run
    from .scenario import load_scenario

    sc = load_scenario(args.scenario, overrides=args.set, scale=args.scale, seed=args.seed)
    out = Path(args.out) if args.out else Path("results") / sc.name
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out", "exists and is not a folder")
    if not args.force and is_complete(out, sc):
        print(f"{out}: already holds this run (same inputs); use --force to run it again")
        return 0
    t0 = time.perf_counter()
    model = SafeMobilityModel(sc)
    total = model.spinup + model.n_weeks
    with tqdm(total=total, desc=f"{sc.name} (scale {sc.scale:g}, seed {sc.seed})", unit="wk",
              disable=args.quiet, file=sys.stderr) as bar:
        model.run(progress=bar)
    wall = time.perf_counter() - t0
    write_run(model, out, wall, figures=not args.no_figures)
    model.release()
    print(f"{out}: {model.people.n} agents, {model.n_weeks} weeks, {wall:.1f} s")
    return 0


def bench_command(args) -> int:
    from benchmarks.suite import run_suite

    if args.max_agents is not None and args.max_agents < 1:
        raise InputError("command line", "--max-agents", "must be a positive number of agents")
    run_suite(Path(args.out), quick=args.quick, max_agents=args.max_agents)
    return 0  # a measurement: targets that fail are reported, not an error


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return run_command(args)
        if args.command == "bench":
            return bench_command(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
