"""What an experiment compares: each run's outputs in people, counted over the experiment's window.

One function runs one task (a variant's scenario with one seed) and returns its outputs and a few weekly
series; it runs wherever Dask sends it, so it needs nothing but the task.
"""
from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from abm.pack import label_words as words

#: name: (label, unit, effect label, effect sign). The effect of a variant is sign * (variant - baseline):
#: crossings and deaths are reported as averted (baseline minus variant), the rest as changes. The labels are
#: written in the pack's words (abm/pack.py LABELS, label_words): {crossings}, {office}, {pathway}, capitalised as {Office}.
OUTPUTS: dict[str, tuple[str, str, str, int]] = {
    "darien_crossings": ("{crossings}", "people", "{crossings} averted", -1),
    "deaths": ("Deaths on the route", "people", "deaths averted", -1),
    "smo_arrivals": ("{Office} arrivals (relocations)", "people", "extra {office} arrivals", 1),
    "smo_registrations": ("{Office} registrations", "people", "extra {office} registrations", 1),
    "parole_arrivals": ("{Pathway} arrivals", "people", "extra {pathway} arrivals", 1),
    "border_arrivals": ("Arrivals at the destination's border", "people", "extra border arrivals", 1),
    "intercepted": ("Intercepted on the route and returned", "people", "extra interceptions", 1),
    "wait_mean_days": ("Mean wait, registration to approval", "days", "change in mean wait", 1),
    "wait_p90_days": ("90th-percentile wait, registration to approval", "days", "change in 90th-percentile wait", 1),
    "gave_up_share": ("Share of {office} applicants who gave up and moved", "share", "change in share who gave up", 1),
}


def describe(output: str, labels: dict | None = None) -> tuple[str, str, str, int]:
    """(label, unit, effect label, sign) of an output, in the pack's words."""
    label, unit, effect, sign = OUTPUTS[output]
    w = words(labels)
    return label.format(**w), unit, effect.format(**w), sign


def labels_of(pack) -> dict[str, str]:
    return pack.labels


#: weekly series kept per run (people per week) for the report's figures
SERIES = ("darien_crossings", "smo_registrations", "smo_relocations", "deaths")
#: weekly 1/0 series kept per run: whether the limit held cases back that week (abm/smo.py, abm/parole.py LIMITS), the
#: reasons experiments/findings.py gives when an outcome does not move
LIMIT = "limit:"
MEASURES_VERSION = 2  # bump when an output's definition changes: finished runs are then run again


def task_key(task) -> str:
    from abm.outputs import inputs_hash

    blob = json.dumps({"inputs": inputs_hash(task.scenario), "window": [d.isoformat() for d in task.window],
                       "measures": MEASURES_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def weekly_totals(model) -> dict[str, np.ndarray]:
    """People per week for every metric, summed over nationalities and places."""
    df = model.datacollector.get_model_vars_dataframe()
    return {k: np.stack(df[k].to_numpy()).sum(axis=1) * model.weight for k in df.columns}


def measure(model, window) -> tuple[dict[str, float], dict[str, list]]:
    """The outputs over the window (weeks starting in [start, end]) and the weekly series of the whole run."""
    tot = weekly_totals(model)
    dates = np.array([model.date_of(w) for w in range(len(tot["darien_crossings"]))])
    inside = (dates >= window[0]) & (dates <= window[1])
    s = lambda k: float(tot[k][inside].sum())
    approved = np.asarray(model.approval_weeks, dtype=np.int64)
    counted = (approved >= 0) & (approved < len(inside))  # approvals in burn-in weeks are not recorded
    counted[counted] = inside[approved[counted]]
    waits = np.asarray(model.approval_waits, dtype=float)[counted] * 7.0
    applications = s("smo_applications")
    out = {
        "darien_crossings": s("darien_crossings"),
        "deaths": s("deaths"),
        "smo_arrivals": s("smo_relocations"),
        "smo_registrations": s("smo_registrations"),
        "parole_arrivals": s("parole_arrivals"),
        "border_arrivals": s("border_arrivals"),
        "intercepted": s("intercepted"),
        "wait_mean_days": float(waits.mean()) if len(waits) else float("nan"),
        "wait_p90_days": float(np.quantile(waits, 0.9)) if len(waits) else float("nan"),
        "gave_up_share": s("gave_up_smo") / applications if applications > 0 else float("nan"),
    }
    series = {"date": [d.isoformat() for d in dates]}
    series.update({k: np.round(tot[k], 3).tolist() for k in SERIES})
    series.update({LIMIT + k: [int(w in weeks) for w in range(len(dates))] for k, weeks in model.limit_weeks.items()})
    return out, series


def run_task(task) -> dict:
    """Run one task and return what its run file holds."""
    from abm.model import SafeMobilityModel

    _one_thread_in_workers()
    t0 = time.perf_counter()
    model = SafeMobilityModel(task.scenario)
    model.run()
    outputs, series = measure(model, task.window)
    agents = int(model.people.n)
    model.release()
    return {"variant": task.variant, "replicate": task.replicate, "draw": task.draw, "seed": task.seed,
            "key": task.key, "agents": agents, "wall_s": round(time.perf_counter() - t0, 3),
            "outputs": outputs, "series": series}


def _one_thread_in_workers():
    """A Dask worker process runs one task at a time on one core: compiled loops use one thread too,
    so that two workers do not fight over two cores."""
    try:
        from distributed import get_worker
        get_worker()
    except (ImportError, ValueError):
        return
    from abm.kernels import one_thread
    one_thread()
