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

from abm.waiting import give_up_distribution

#: packs whose outputs can be compared with targets here: pack meta `calibration_targets` names the file
TARGETS_DIR = Path(__file__).parent
SURVEY_DATE = "2024-03-01"          # assumption: MMC 4Mi interviews before the report's fieldwork (002 s1.1)
PAROLE_ANNOUNCED = dt.date(2022, 10, 12)
RESIDENT_STOCKS = ("integrating", "waiting_smo", "considering_parole", "waiting_parole", "preparing")


def load_targets(name: str = "targets.toml") -> dict:
    with open(TARGETS_DIR / name, "rb") as f:
        return tomllib.load(f)


def total(ts: pd.DataFrame, metric: str, start: str, end: str, **where) -> float:
    """People summed over weeks starting in [start, end)."""
    sel = (ts.metric == metric) & (ts.date >= start) & (ts.date < end)
    for k, v in where.items():
        sel &= ts[k].isin(v if isinstance(v, (list, tuple)) else [v])
    return float(ts.loc[sel, "value"].sum())


def stock_on(ts: pd.DataFrame, metrics, date: str, **where) -> float:
    """A stock in the week containing `date`."""
    dates = np.sort(ts.date.unique())
    if len(dates) == 0:
        return 0.0
    d = dates[dates <= date].max() if (dates <= date).any() else dates[0]
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    sel = ts.metric.isin(metrics) & (ts.date == d)
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


def _share(num, den):
    return float(num / den) if den > 0 else float("nan")


def headline(ts: pd.DataFrame) -> dict:
    """Model values comparable with each target in targets.toml."""
    nat_fy = {}
    for n in sorted(ts.nationality.unique()):
        nat_fy[n] = total(ts, "border_arrivals", "2022-10-01", "2023-10-01", nationality=n)
    # MMC 4Mi surveys migrants: people of another nationality living in Colombia or Costa Rica
    migrants = ts[ts.host.isin(["Colombia", "Costa Rica"]) & (ts.nationality != ts.host)]
    residents = stock_on(migrants, RESIDENT_STOCKS, SURVEY_DATE)
    aware = stock_on(migrants, "aware_smo", SURVEY_DATE)
    registered = stock_on(migrants, "registered_smo", SURVEY_DATE)
    reg_may = total(ts, "smo_registrations", "2000-01-01", "2024-06-01")
    reg_col = total(ts, "smo_registrations", "2000-01-01", "2024-05-01", host="Colombia")
    reg_apr = total(ts, "smo_registrations", "2000-01-01", "2024-05-01")
    arr23 = lambda **w: total(ts, "border_arrivals", "2023-01-01", "2024-01-01", **w)
    smug23 = lambda **w: total(ts, "border_arrivals_smuggled", "2023-01-01", "2024-01-01", **w)
    return {
        "darien_2023": total(ts, "darien_crossings", "2023-01-01", "2024-01-01"),
        "darien_venezuela_2023": total(ts, "darien_crossings", "2023-01-01", "2024-01-01", nationality="Venezuela"),
        "darien_haiti_2023": total(ts, "darien_crossings", "2023-01-01", "2024-01-01", nationality="Haiti"),
        "darien_venezuela_jan_may_2024": total(ts, "darien_crossings", "2024-01-01", "2024-06-01", nationality="Venezuela"),
        "venezuelan_darien_drop_after_parole": 1 - window_ratio(ts, "darien_crossings", PAROLE_ANNOUNCED, nationality="Venezuela"),
        "smo_registrations_may2024": reg_may,
        "smo_approvals_may2024": total(ts, "smo_approvals", "2000-01-01", "2024-06-01"),
        "smo_relocations_may2024": total(ts, "smo_relocations", "2000-01-01", "2024-06-01"),
        "smo_registrations_colombia_apr2024": reg_col,
        "smo_colombia_share": _share(reg_col, reg_apr),
        "aware_smo_colombia_costa_rica": _share(aware, residents),
        "not_registered_among_aware": 1 - _share(registered, aware) if aware > 0 else float("nan"),
        "smuggler_use_2023": _share(smug23(), arr23()),
        "smuggler_use_cuban": _share(smug23(nationality="Cuba"), arr23(nationality="Cuba")),
        "smuggler_use_venezuelan": _share(smug23(nationality="Venezuela"), arr23(nationality="Venezuela")),
        "border_encounters_fy2023": nat_fy,
    }


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


def summary(model, ts: pd.DataFrame) -> dict:
    """summary.json: headline totals (people); for packs with calibration targets (meta
    `calibration_targets`), the survey-comparable figures with the targets beside them."""
    whole = lambda metric: total(ts, metric, "0000", "9999")
    out = {
        "scenario": model.scenario.name,
        "pack": model.pack.raw.get("meta", {}).get("name", model.pack.path.name),
        "period": {"start": model.start.isoformat(), "end": model.scenario.end.isoformat()},
        "units": "people",
        "totals": {m: whole(m) for m in ("darien_crossings", "smo_registrations", "smo_approvals", "smo_relocations",
                                         "parole_arrivals", "border_arrivals", "deaths", "expelled", "removed",
                                         "gave_up_waiting", "usbp_apprehensions", "port_arrivals", "removed_to_origin")},
        "darien_crossings_by_nationality": ts[ts.metric == "darien_crossings"].groupby("nationality").value.sum().to_dict(),
        "smo_processing_months": _processing_months(model),
        "route": _route(model),
        # people by the times they gave up waiting on a legal pathway (abm/waiting.py)
        "gave_up_waiting_times": give_up_distribution(model),
        # the June 2024 rule (abm/border.py): each week it shut or lifted, with the 7-day average of daily
        # encounters between ports that decided it (people, the model's plus those it does not hold)
        "asylum_rule_changes": [{"week_of": d, "change": c, "daily_average": round(x, 1)} for d, c, x in model.border.log],
    }
    targets_file = model.pack.raw.get("meta", {}).get("calibration_targets")
    if targets_file:
        head = headline(ts)
        head["smo_processing_months"] = out["smo_processing_months"]
        out["headline"] = head
        out["targets"] = {k: {"model": head.get(k), "target": t["value"], "source": t["source"],
                              **({"note": t["note"]} if "note" in t else {})}
                          for k, t in load_targets(targets_file).items()}
    return _finite(out)


def _processing_months(model) -> dict:
    """Months from SMO registration to approval: median and quartiles (None before any approval)."""
    if not model.approval_waits:
        return {"median": None, "p25": None, "p75": None}
    waits = np.array(model.approval_waits, dtype=float) * 7 / 30.44
    return {"median": float(np.median(waits)), "p25": float(np.percentile(waits, 25)),
            "p75": float(np.percentile(waits, 75))}


def _route(model) -> dict:
    """What the irregular route did to those who took it (whole run, burn-in included)."""
    p = model.people
    went, crossed = p.departed, p.crossed_darien
    debt = p.debt[went]
    return {
        "travellers_smuggled_share": float(p.smuggler[went].mean()) if went.any() else None,
        "travellers_in_debt_share": float((debt > 0).mean()) if went.any() else None,
        "median_debt_usd_of_indebted": float(np.median(debt[debt > 0])) if (debt > 0).any() else None,
        "darien_crossers_injured_share": float(p.injured[crossed].mean()) if crossed.any() else None,
    }


def _finite(x):
    """JSON has no NaN: a ratio with no denominator is reported as null."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
