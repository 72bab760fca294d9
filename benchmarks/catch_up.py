"""The catch-up period's trade-off: faithfulness to weekly belief updates against speed.

`python -m benchmarks.catch_up [--periods 1 4 13 26 52] [--seeds 5] [--timing-agents 1000000]`

For each period P (information.catch_up_weeks) it runs the baseline at the default scale for several
seeds and compares the headline figures of tests/test_scale.py with the weekly rule (P = 1; Welch
t-test p-values), then times one run at about `--timing-agents` agents (one process, all threads).
Writes results/bench/catch_up.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import time
from multiprocessing import get_context
from pathlib import Path


from abm.kernels import one_thread
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run
from calibration.targets import agreement_figures, welch

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"


def _figures(args) -> dict:
    scale, seed, period = args
    m = SafeMobilityModel(load_run(BASELINE, scale=scale, seed=seed,
                                   overrides=[f"information.catch_up_weeks={period}"]))
    m.run()
    m.release()
    return {k: float(v) for k, v in agreement_figures(timeseries(m)).items()}


def _timed(scale: float, period: int) -> float:
    t = time.perf_counter()
    m = SafeMobilityModel(load_run(BASELINE, scale=scale, overrides=[f"information.catch_up_weeks={period}"]))
    m.run()
    m.release()
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--periods", type=int, nargs="+", default=[1, 4, 13, 26, 52])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--timing-agents", type=int, default=1_000_000)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "catch_up.json"))
    args = ap.parse_args(argv)
    people = SafeMobilityModel(load_run(BASELINE, scale=0.001)).people.n * 1000
    timing_scale = min(1.0, args.timing_agents / people)
    res = {}
    with get_context("fork").Pool(2, initializer=one_thread) as pool:
        for period in args.periods:
            res[period] = {"figures": pool.map(_figures, [(args.scale, s, period) for s in range(1, args.seeds + 1)])}
    for period in args.periods:
        res[period]["wall_s"] = _timed(timing_scale, period)
    ref = res[args.periods[0]]["figures"]
    rows = []
    for period in args.periods:
        compared = welch(ref, res[period]["figures"])
        first = period == args.periods[0]
        figs = {k: {"mean": float(y.mean()), "sd": float(y.std(ddof=1)), "p_vs_first": 1.0 if first else p}
                for k, (_, y, p) in compared.items()}
        rows.append({"catch_up_weeks": period, "wall_s_at_timing_agents": res[period]["wall_s"], "figures": figs})
    out = {"scale": args.scale, "seeds": args.seeds, "timing_agents": args.timing_agents, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"{args.seeds} seeds at scale {args.scale:g}; p: Welch t-test against P = {args.periods[0]}; "
          f"wall: one run at {args.timing_agents:,} agents")
    for row in rows:
        figs = "  ".join(f"{k} {v['mean']:.4g} (p {v['p_vs_first']:.3f})" for k, v in row["figures"].items()
                         if k in ("darien_2023", "darien_venezuela_2023", "smo_registrations_may2024"))
        print(f"P = {row['catch_up_weeks']:3d}  wall {row['wall_s_at_timing_agents']:6.1f} s  {figs}")


if __name__ == "__main__":
    main()
