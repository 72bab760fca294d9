"""Headline figures against the calibration targets over several seeds (mean and range).

    python -m calibration.report [--seeds 5] [--scale 0.01] [--scenario experiments/baseline.toml]

Prints a Markdown table; runs two seeds at a time.
"""
from __future__ import annotations

import argparse
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run
from calibration.targets import headline, load_targets, pause_date, pause_nationalities, window_ratio

ROOT = Path(__file__).resolve().parents[1]


def _one(args):
    path, scale, seed = args
    m = SafeMobilityModel(load_run(path, scale=scale, seed=seed))
    m.run()
    m.release()
    ts = timeseries(m)
    return headline(ts), ts[ts.metric == "darien_crossings"]


def _fmt(x):
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3f}"


def table(heads: list[dict]) -> str:
    targets = load_targets()
    rows = ["| Figure | Role | Model mean [min, max] | Target |", "|---|---|---|---|"]
    for k, t in targets.items():
        if k not in heads[0] or k == "smo_processing_months":
            continue
        if isinstance(t["value"], dict):
            for n, v in t["value"].items():
                xs = np.array([h[k].get(n, np.nan) for h in heads], dtype=float)
                rows.append(f"| {k}: {n} | {t['role']} | {_fmt(xs.mean())} [{_fmt(xs.min())}, {_fmt(xs.max())}] | {v:,} |")
            continue
        xs = np.array([h[k] for h in heads], dtype=float)
        rows.append(f"| {k} | {t['role']} | {_fmt(xs.mean())} [{_fmt(xs.min())}, {_fmt(xs.max())}] | {t['value']} |")
    return "\n".join(rows)


def pause(crossings: list[pd.DataFrame]) -> str:
    """The parole pause (002 s6.2): Darien crossings in the 4 weeks from the announcement over the 4 weeks
    before, pooled over seeds, for the pause target's nationalities and the two others who cross most; and
    the pause nationalities' weekly crossings by month over the level before (targets.toml's pause target
    gives the date and the nationalities)."""
    import datetime as dt

    ts = pd.concat(crossings, ignore_index=True)
    date, focus = pause_date(), pause_nationalities()
    others = [n for n in ts.groupby("nationality").value.sum().sort_values(ascending=False).index if n not in focus]
    lines = ["| Nationality | after / before (pooled) | by seed |", "|---|---|---|"]
    for n in [*focus, *others[:2]]:
        per = [window_ratio(c, "darien_crossings", date, nationality=n) for c in crossings]
        pooled = window_ratio(ts, "darien_crossings", date, nationality=n)
        lines.append(f"| {n} | {pooled:.2f} | {', '.join(f'{r:.2f}' for r in per)} |")
    ve = ts[ts.nationality.isin(focus)].groupby("date").value.sum() / len(crossings)
    weeks = sorted(ve.index)
    d0 = max((w for w in weeks if w <= date.isoformat()), default=weeks[0])
    before = ve[(ve.index >= (dt.date.fromisoformat(d0) - dt.timedelta(days=28)).isoformat()) & (ve.index < d0)].sum() / 4
    months = [str(p) for p in pd.period_range(pd.Period(date, "M") + 1, periods=11, freq="M")]
    lines += ["", f"| Month | {', '.join(focus)}: weekly crossings / level before |", "|---|---|"]
    lines += [f"| {mo} | {ve[ve.index.str.startswith(mo)].mean() / before:.2f} |" for mo in months
              if ve.index.str.startswith(mo).any()]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Headline figures against targets over several seeds")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--scenario", default=str(ROOT / "experiments" / "baseline.toml"))
    args = ap.parse_args(argv)
    from abm.kernels import one_thread

    with get_context("fork").Pool(2, initializer=one_thread) as pool:
        out = pool.map(_one, [(args.scenario, args.scale, s) for s in range(1, args.seeds + 1)])
    heads = [h for h, _ in out]
    print(f"{args.seeds} seeds (1-{args.seeds}) at scale {args.scale:g}: {args.scenario}\n")
    print(table(heads))
    if set(pause_nationalities()) & set(out[0][1].nationality):
        print()
        print(pause([c for _, c in out]))


if __name__ == "__main__":
    main()
