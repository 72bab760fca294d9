"""summary.json's model-only part: what a run did, in people, with nothing compared to data.

The comparison with a pack's calibration targets (the `headline` and `targets` blocks, for packs whose meta
names `calibration_targets`) is calibration's (calibration/targets.py `comparison`): the code that assembles
a run adds it (abm/cli.py's run command hands it to abm/outputs.py write_run).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .waiting import give_up_distribution

#: the whole-run totals of summary.json (metrics of abm/model.py METRICS)
TOTALS = ("darien_crossings", "smo_registrations", "smo_approvals", "smo_relocations", "parole_arrivals",
          "border_arrivals", "deaths", "expelled", "removed", "gave_up_waiting", "usbp_apprehensions", "port_arrivals",
          "removed_to_origin")


def summary(model, ts: pd.DataFrame) -> dict:
    """Headline totals (people) and what the run did, from the model and its tidy time series (finite: a
    ratio with no denominator is null)."""
    whole = lambda metric: float(ts.loc[ts.metric == metric, "value"].sum())
    out = {
        "scenario": model.scenario.name,
        "pack": model.pack.raw.get("meta", {}).get("name", model.pack.path.name),
        "period": {"start": model.start.isoformat(), "end": model.scenario.end.isoformat()},
        "units": "people",
        "totals": {m: whole(m) for m in TOTALS},
        "darien_crossings_by_nationality": ts[ts.metric == "darien_crossings"].groupby("nationality").value.sum().to_dict(),
        "smo_processing_months": processing_months(model),
        "route": route(model),
        # people by the times they gave up waiting on a legal pathway (abm/waiting.py)
        "gave_up_waiting_times": give_up_distribution(model),
        # the June 2024 rule (abm/border.py): each week it shut or lifted, with the 7-day average of daily
        # encounters between ports that decided it (people, the model's plus those it does not hold)
        "asylum_rule_changes": [{"week_of": d, "change": c, "daily_average": round(x, 1)} for d, c, x in model.border.log],
    }
    return finite(out)


def processing_months(model) -> dict:
    """Months from SMO registration to approval: median and quartiles (None before any approval)."""
    if not model.approval_waits:
        return {"median": None, "p25": None, "p75": None}
    waits = np.array(model.approval_waits, dtype=float) * 7 / 30.44
    return {"median": float(np.median(waits)), "p25": float(np.percentile(waits, 25)),
            "p75": float(np.percentile(waits, 75))}


def route(model) -> dict:
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


def finite(x):
    """JSON has no NaN: a ratio with no denominator is reported as null."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
