"""How much of the October 2022 pause each information channel carries (docs/ODD.md, "Channels"); in
calibration/ as the pause is an Americas calibration target (calibration/targets.toml).

Runs the baseline over seeds with every channel on, then with one channel off at a time (its weekly
chance of hearing, information.hear_<channel>, set to 0), then with all off (word of mouth only), and
reports the pooled 4-week drop of Venezuelan Darien crossings after 2022-10-12 (1 - window_ratio of the
seeds' summed time series) with each seed's drop, and the share of Venezuelan residents who had heard of
parole and of the expulsions 4 weeks after the announcement.

    python -m calibration.channels [--scale 0.01] [--seeds 1 2 3 4 5] [--jobs 2]
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from abm.pack import CHANNELS
from calibration.setting import BASELINE
from calibration.targets import pause_date, pause_nationalities

# the pause target's date and nationality (calibration/targets.toml), not written here
ANNOUNCED = pause_date()
NATIONALITY = pause_nationalities()[0]


def _run(args) -> pd.DataFrame:
    path, scale, seed, overrides = args
    from abm.model import SafeMobilityModel
    from abm.outputs import timeseries
    from calibration.posterior import load_run

    m = SafeMobilityModel(load_run(path, scale=scale, seed=seed, overrides=overrides))
    m.run()
    m.release()
    ts = timeseries(m)
    keep = ts.metric.isin(["darien_crossings", "heard_parole", "heard_expulsion", "integrating", "waiting_smo",
                           "waiting_parole", "preparing"])
    return ts[keep & (ts.nationality == NATIONALITY)]


def runs(overrides: list[str], seeds, scale: float, jobs: int = 2, path: Path = BASELINE) -> list[pd.DataFrame]:
    from multiprocessing import get_context

    from abm.kernels import one_thread

    args = [(path, scale, s, overrides) for s in seeds]
    if jobs <= 1:
        return [_run(a) for a in args]
    with get_context("fork").Pool(jobs, initializer=one_thread) as pool:
        return pool.map(_run, args)


def drop(tss) -> float:
    """1 - (crossings in the 4 weeks from the announcement week) / (the 4 weeks before), pooled."""
    from calibration.targets import window_ratio

    return 1 - window_ratio(pd.concat(tss, ignore_index=True), "darien_crossings", ANNOUNCED, nationality=NATIONALITY)


def heard_share(tss, topic: str, weeks: int = 4) -> float:
    """Share of Venezuelan residents who have heard of `topic` `weeks` weeks after the announcement (pooled)."""
    ts = pd.concat(tss, ignore_index=True)
    dates = sorted(ts.date.unique())
    d0 = max(d for d in dates if d <= ANNOUNCED.isoformat())
    at = dates[dates.index(d0) + weeks]
    now = ts[ts.date == at]
    residents = now[now.metric.isin(["integrating", "waiting_smo", "waiting_parole", "preparing"])].value.sum()
    return float(now[now.metric == f"heard_{topic}"].value.sum() / residents) if residents else float("nan")


def table(seeds=(1, 2, 3, 4, 5), scale: float = 0.01, jobs: int = 2, channels=CHANNELS) -> pd.DataFrame:
    cases = [("all channels", [])] + [(f"without {c}", [f"information.hear_{c}=0"]) for c in channels]
    cases.append(("none (word of mouth only)", [f"information.hear_{c}=0" for c in channels]))
    rows = []
    for label, ov in cases:
        tss = runs(ov, seeds, scale, jobs)
        from calibration.targets import window_ratio
        per_seed = [1 - window_ratio(ts, "darien_crossings", ANNOUNCED, nationality=NATIONALITY) for ts in tss]
        rows.append({"case": label, "pooled_drop": drop(tss), "min_seed": min(per_seed), "max_seed": max(per_seed),
                     "per_seed": " ".join(f"{d:.2f}" for d in per_seed),
                     "heard_parole_4wk": heard_share(tss, "parole"), "heard_expulsion_4wk": heard_share(tss, "expulsion")})
    t = pd.DataFrame(rows)
    base = t.loc[0, "pooled_drop"]
    t["share_of_drop_lost"] = (base - t.pooled_drop) / base
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    t = table(tuple(a.seeds), a.scale, a.jobs)
    print(markdown(t))


def markdown(t: pd.DataFrame) -> str:
    cols = ["case", "pooled_drop", "per_seed", "share_of_drop_lost", "heard_parole_4wk", "heard_expulsion_4wk"]
    head = ["case", "pooled 4-week drop", "per seed (1..)", "share of the drop lost", "heard of parole at 4 weeks",
            "heard of expulsion at 4 weeks"]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for _, r in t.iterrows()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
