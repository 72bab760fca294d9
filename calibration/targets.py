"""Headline figures of a run and their comparison with the calibration targets (targets.toml).

Everything here is computed from the tidy time series (people), so the same code reads a finished
run's timeseries.csv.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from abm.summary import finite
from abm.summary import summary as model_summary

#: packs whose outputs can be compared with targets here: pack meta `calibration_targets` names the file
TARGETS_DIR = Path(__file__).parent
from abm.model import RESIDENT_STOCKS  # noqa: F401  (re-exported for code that read it here)


def pause_target(name: str = "targets.toml") -> dict:
    """The observe table of the pause target (the fit target measured as a window ratio: its date, metric and
    nationalities): the reports draw the pause around it."""
    for t in load_targets(name, "fit").values():
        if t["observe"]["statistic"] == "window_ratio":
            return t["observe"]
    raise ValueError(f"calibration/{name}: no fit target is a window_ratio")


def pause_date(name: str = "targets.toml") -> dt.date:
    return dt.date.fromisoformat(pause_target(name)["date"])


def pause_nationalities(name: str = "targets.toml") -> list[str]:
    return list(pause_target(name).get("nationalities", []))


ROLES = ("fit", "check")
TARGET_FIELDS = ("role", "value", "kind", "source", "note", "measure", "error", "error_why", "weight", "weight_why",
                 "conflict", "left_out", "role_why", "observe", "fits_push")


def load_targets(name: str = "targets.toml", role: str | None = None) -> dict:
    """The targets of calibration/NAME, checked (an InputError names the file and field); with `role`, only
    those of that role ("fit": what the fitting steps read; "check": what only the checks read)."""
    from abm.errors import InputError, reject_unknown
    from abm.model import METRICS
    from abm.pack import read_toml

    from .observe import check_spec

    path = TARGETS_DIR / name
    raw = read_toml(path)
    out = {}
    for k, t in raw.items():
        if not isinstance(t, dict):
            raise InputError(path, k, "must be a table")
        reject_unknown(path, f"{k}.", t, TARGET_FIELDS)
        for f in ("role", "value", "source", "error", "observe"):
            if f not in t:
                raise InputError(path, f"{k}.{f}", "missing")
        if t["role"] not in ROLES:
            raise InputError(path, f"{k}.role", f"must be one of {', '.join(ROLES)}, not {t['role']!r}")
        by = isinstance(t["observe"], dict) and t["observe"].get("by") == "nationality"
        if by != isinstance(t["value"], dict):
            raise InputError(path, f"{k}.value", "a table by nationality exactly when observe.by = \"nationality\"")
        t = dict(t, observe=check_spec(t["observe"], path, f"{k}.observe", METRICS))
        if t.get("fits_push", False) is not False:
            one = len(t["observe"].get("nationalities", [])) == 1
            if t["fits_push"] is not True or t["role"] != "fit" or t["observe"]["statistic"] != "total" or not (one or by):
                raise InputError(path, f"{k}.fits_push", "only true, on a fit target that is a total of one "
                                                         "nationality or a table by nationality")
        if role is None or t["role"] == role:
            out[k] = t
    if role is not None and role not in ROLES:
        raise ValueError(role)
    return out


def total(ts: pd.DataFrame, metric: str, start: str, end: str, **where) -> float:
    """People summed over weeks starting in [start, end)."""
    sel = (ts.metric == metric) & (ts.date >= start) & (ts.date < end)
    for k, v in where.items():
        sel &= ts[k].isin(v if isinstance(v, (list, tuple)) else [v])
    return float(ts.loc[sel, "value"].sum())


def window_ratio(ts: pd.DataFrame, metric: str, date: dt.date, weeks: int = 4, **where) -> float:
    """People in the `weeks` weeks from the week containing `date`, over the `weeks` weeks before it."""
    ws = pd.to_datetime(ts.date).dt.date
    starts = np.sort(ws.unique())
    d0 = max((s for s in starts if s <= date), default=starts[0])
    before = (ws >= d0 - dt.timedelta(days=7 * weeks)) & (ws < d0)
    after = (ws >= d0) & (ws < d0 + dt.timedelta(days=7 * weeks))
    sel = ts.metric == metric
    for k, v in where.items():
        sel &= ts[k].isin(v if isinstance(v, (list, tuple)) else [v])
    b = ts.loc[sel & before, "value"].sum()
    a = ts.loc[sel & after, "value"].sum()
    return float(a / b) if b > 0 else float("nan")


def headline(ts: pd.DataFrame, summary: dict | None = None, name: str = "targets.toml",
             role: str | None = None) -> dict:
    """Model values comparable with each target of calibration/NAME (of one role, or all): each measured
    as its `observe` table says (calibration/observe.py). `summary`: the run's summary figures, for
    targets the time series does not hold (without it they are NaN)."""
    from .observe import simulated

    return simulated(ts, load_targets(name, role), summary)


#: headline figures the agreement checks compare (scales, catch-up period): one per mechanism
AGREEMENT = ("darien_2023", "darien_venezuela_2023", "smo_registrations_may2024", "smo_approvals_may2024",
             "aware_smo_colombia_costa_rica")


def agreement_figures(ts: pd.DataFrame) -> dict:
    """The AGREEMENT figures of a run, and its FY2023 border encounters summed over nationalities."""
    h = headline(ts)
    out = {k: h[k] for k in AGREEMENT}
    out["border_fy2023"] = sum(h["border_encounters_fy2023"].values())
    return out


def welch(runs_a: list[dict], runs_b: list[dict]) -> dict:
    """Per figure: (values a, values b, Welch t-test p of equal means) over two sets of runs."""
    from scipy import stats

    out = {}
    for k in runs_a[0]:
        x, y = np.array([r[k] for r in runs_a]), np.array([r[k] for r in runs_b])
        out[k] = (x, y, float(stats.ttest_ind(x, y, equal_var=False).pvalue))
    return out


def comparison(model, ts: pd.DataFrame, summary: dict) -> dict:
    """summary.json's comparison with data, for a pack whose meta `calibration_targets` names a targets file:
    `headline` (the model's value of every target, as its observation model measures it) and `targets`
    (each beside its target value, role and source); {} for a pack without targets. `summary` is the run's
    model-only summary (abm/summary.py), which some observation models read. The code that writes
    summary.json adds this to it (abm/cli.py's run command: write_run(..., compare=comparison))."""
    targets_file = model.pack.raw.get("meta", {}).get("calibration_targets")
    if not targets_file:
        return {}
    head = headline(ts, summary=summary, name=targets_file)
    out = {"headline": head,
           "targets": {k: {"model": head.get(k), "target": t["value"], "role": t["role"], "source": t["source"],
                           **({"note": t["note"]} if "note" in t else {})}
                       for k, t in load_targets(targets_file).items()}}
    return finite(out)


def summary(model, ts: pd.DataFrame) -> dict:
    """summary.json as `smo-abm run` writes it: the model-only summary (abm/summary.py) and, for packs with
    calibration targets, their comparison."""
    out = model_summary(model, ts)
    return {**out, **comparison(model, ts, out)}
