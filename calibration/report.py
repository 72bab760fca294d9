"""Headline figures against the calibration targets over several seeds (mean and range).

    python -m calibration.report [--seeds 5] [--scale 0.01] [--scenario experiments/baseline.toml]

Prints a Markdown table; runs two seeds at a time.
"""
from __future__ import annotations

import argparse
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from abm.scenario import load_scenario
from calibration.targets import headline, load_targets

ROOT = Path(__file__).resolve().parents[1]


def _one(args):
    path, scale, seed = args
    m = SafeMobilityModel(load_scenario(path, scale=scale, seed=seed))
    m.run()
    m.release()
    return headline(timeseries(m))


def _fmt(x):
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3f}"


def table(heads: list[dict]) -> str:
    targets = load_targets()
    rows = ["| Figure | Model mean [min, max] | Target |", "|---|---|---|"]
    for k, t in targets.items():
        if k not in heads[0] or k == "smo_processing_months":
            continue
        if isinstance(t["value"], dict):
            for n, v in t["value"].items():
                xs = np.array([h[k].get(n, np.nan) for h in heads], dtype=float)
                rows.append(f"| {k}: {n} | {_fmt(xs.mean())} [{_fmt(xs.min())}, {_fmt(xs.max())}] | {v:,} |")
            continue
        xs = np.array([h[k] for h in heads], dtype=float)
        rows.append(f"| {k} | {_fmt(xs.mean())} [{_fmt(xs.min())}, {_fmt(xs.max())}] | {t['value']} |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Headline figures against targets over several seeds")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--scenario", default=str(ROOT / "experiments" / "baseline.toml"))
    args = ap.parse_args(argv)
    with get_context("fork").Pool(2) as pool:
        heads = pool.map(_one, [(args.scenario, args.scale, s) for s in range(1, args.seeds + 1)])
    print(f"{args.seeds} seeds (1-{args.seeds}) at scale {args.scale:g}: {args.scenario}\n")
    print(table(heads))


if __name__ == "__main__":
    main()
