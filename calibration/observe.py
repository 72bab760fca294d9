"""Observation models: how a published figure is measured in a run, read from the targets file as data.

Each target of a targets file (calibration/targets.toml) has an `observe` table saying which simulated
quantity the figure is compared with. One function, `observe`, computes it from the run's tidy time series
(timeseries.csv: date, metric, nationality, host, value in people) and, for figures the series does not
hold, from the run's summary. Nothing here names a place, a nationality or a date: they are the file's.

    statistic = "total"         people summed over the weeks starting in [start, end] (both inclusive)
    statistic = "stock"         a stock (or the sum of several) in the week containing `on`
    statistic = "share"         numerator / denominator, two observations (tables) of any statistic; each
                                inherits the fields it does not set from the table around it
    statistic = "window_ratio"  people in the `weeks` weeks from the week containing `date` over the
                                `weeks` weeks before it
    statistic = "summary"       a number in the run's summary.json, by a dotted `key`

    metric = "darien_crossings" | metrics = [...]   metrics of timeseries.csv (summed)
    nationalities = [...]       only these nationalities (default: all)
    hosts = [...]               only these host places (default: all); or a table {place = weight}: each
                                place's people times its weight (a route that is a share of a place's departures)
    foreign = true              only people living outside their own country (nationality != host)
    by = "nationality"          one figure per nationality: the target's value is a table by nationality
    complement = true           1 - the statistic (a drop, a share of those who did not)
    prorate = true              (a total) times the days from start to end over the days of the weeks
                                summed: a monthly figure from weekly counts (weeks starting in December
                                2023 are five, 35 days, for 31)
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from abm.errors import InputError, reject_unknown
from abm.policy import parse_date

STATISTICS = ("total", "stock", "share", "window_ratio", "summary")
FIELDS = ("statistic", "metric", "metrics", "start", "end", "on", "date", "weeks", "nationalities", "hosts",
          "foreign", "by", "complement", "prorate", "numerator", "denominator", "key")
INHERITED = ("statistic", "metric", "metrics", "start", "end", "on", "date", "weeks", "nationalities", "hosts",
             "foreign", "prorate")
NEEDS = {"total": ("start", "end"), "stock": ("on",), "share": ("numerator", "denominator"),
         "window_ratio": ("date",), "summary": ("key",)}


def check_spec(spec, file, where: str, metrics=None, top: bool = True) -> dict:
    """The observation table `spec` checked (unknown fields, missing ones, dates, metrics); dates as ISO
    strings. An InputError names the file and the field."""
    if not isinstance(spec, dict):
        raise InputError(file, where, "must be a table")
    reject_unknown(file, f"{where}.", spec, FIELDS)
    out = dict(spec)
    stat = out.get("statistic")
    if stat not in STATISTICS:
        raise InputError(file, f"{where}.statistic", f"must be one of {', '.join(STATISTICS)}, not {stat!r}")
    for k in NEEDS[stat]:
        if k not in out:
            raise InputError(file, f"{where}.{k}", f"missing (a {stat} needs {', '.join(NEEDS[stat])})")
    for k in ("start", "end", "on", "date"):
        if k in out:
            out[k] = parse_date(out[k], file, f"{where}.{k}").isoformat()
    if "start" in out and "end" in out and out["end"] < out["start"]:
        raise InputError(file, f"{where}.end", f"{out['end']} is before start {out['start']}")
    if stat not in ("share", "summary") and ("metric" in out) == ("metrics" in out):
        raise InputError(file, f"{where}.metric", "give one of metric or metrics")
    names = [out["metric"]] if "metric" in out else list(out.get("metrics", []))
    for n in names:
        if metrics is not None and n not in metrics:
            raise InputError(file, f"{where}.metric", f"unknown metric {n!r} (known: {', '.join(metrics)})")
    for k in ("nationalities", "hosts", "metrics"):
        if k == "hosts" and isinstance(out.get(k), dict):
            for h, w in out[k].items():
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w <= 1:
                    raise InputError(file, f"{where}.hosts.{h}", f"a weight must be a number in (0, 1], not {w!r}")
            continue
        if k in out and (not isinstance(out[k], list) or not all(isinstance(x, str) for x in out[k])):
            raise InputError(file, f"{where}.{k}", "must be a list of names (hosts: or a table of weights)")
    if "weeks" in out and (isinstance(out["weeks"], bool) or not isinstance(out["weeks"], int) or out["weeks"] < 1):
        raise InputError(file, f"{where}.weeks", "must be a whole number of weeks >= 1")
    if "by" in out and out["by"] != "nationality":
        raise InputError(file, f"{where}.by", "the only grouping is \"nationality\"")
    if "by" in out and not top:
        raise InputError(file, f"{where}.by", "only on the target's own observe table")
    if stat == "share":
        for part in ("numerator", "denominator"):
            inner = {k: v for k, v in spec.items() if k in INHERITED and k != "statistic"}
            if not isinstance(out[part], dict):
                raise InputError(file, f"{where}.{part}", "must be a table")
            inner.update(out[part])
            inner.setdefault("statistic", "total" if "start" in inner else "stock")
            out[part] = check_spec(inner, file, f"{where}.{part}", metrics, top=False)
    return out


class Series:
    """A run's tidy time series held for measuring: one set of numpy arrays per metric (selecting rows of a
    long table once per figure costs more than the run itself at calibration scales)."""

    def __init__(self, ts: pd.DataFrame):
        self.dates = np.sort(ts.date.astype(str).unique())
        self.by_metric = {}
        for metric, g in ts.groupby("metric", sort=False):
            self.by_metric[metric] = (g.date.to_numpy(dtype=str), g.nationality.to_numpy(dtype=str),
                                      g.host.to_numpy(dtype=str), g.value.to_numpy(dtype=float))

    def rows(self, spec: dict, nationality: str | None = None):
        """(dates, values) of the rows the spec selects."""
        metrics = [spec["metric"]] if "metric" in spec else list(spec["metrics"])
        dates, values = [], []
        for metric in metrics:
            if metric not in self.by_metric:
                continue
            d, n, h, v = self.by_metric[metric]
            sel = np.ones(len(d), dtype=bool)
            if "nationalities" in spec:
                sel &= np.isin(n, spec["nationalities"])
            if nationality is not None:
                sel &= n == nationality
            if "hosts" in spec:
                sel &= np.isin(h, list(spec["hosts"]))
            if spec.get("foreign"):
                sel &= n != h
            x = v[sel]
            if isinstance(spec.get("hosts"), dict):   # each place's people times its weight
                x = x * np.array([spec["hosts"][p] for p in h[sel]], dtype=float)
            dates.append(d[sel])
            values.append(x)
        if not dates:
            return np.empty(0, dtype=str), np.empty(0)
        return np.concatenate(dates), np.concatenate(values)

    def week_of(self, date: str) -> str:
        """The start of the week of the series that contains `date` (the first week if the date is before it)."""
        before = self.dates[self.dates <= date]
        return str(before.max()) if len(before) else str(self.dates[0])


def observe(ts, spec: dict, summary: dict | None = None, nationality: str | None = None) -> float:
    """The simulated value of one observation table (checked by check_spec) in a run's series (a tidy
    DataFrame or a Series of it); NaN if it cannot be computed (a share with no denominator, a summary
    figure the run does not have)."""
    if not isinstance(ts, Series):
        ts = Series(ts)
    stat = spec["statistic"]
    if stat == "summary":
        x = summary or {}
        for part in spec["key"].split("."):
            x = x.get(part) if isinstance(x, dict) else None
        value = float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan
    elif stat == "share":
        num = observe(ts, spec["numerator"], summary, nationality)
        den = observe(ts, spec["denominator"], summary, nationality)
        value = num / den if den > 0 else math.nan
    elif stat == "total":
        d, v = ts.rows(spec, nationality)
        value = float(v[(d >= spec["start"]) & (d <= spec["end"])].sum())
        if spec.get("prorate"):
            weeks = int(((ts.dates >= spec["start"]) & (ts.dates <= spec["end"])).sum())
            days = (dt.date.fromisoformat(spec["end"]) - dt.date.fromisoformat(spec["start"])).days + 1
            value = value * days / (7 * weeks) if weeks else math.nan
    elif stat == "stock":
        d, v = ts.rows(spec, nationality)
        value = float(v[d == ts.week_of(spec["on"])].sum()) if len(ts.dates) else 0.0
    else:  # window_ratio
        d, v = ts.rows(spec, nationality)
        weeks = int(spec.get("weeks", 4))
        d0 = dt.date.fromisoformat(ts.week_of(spec["date"]))
        lo, mid, hi = (d0 - dt.timedelta(days=7 * weeks)).isoformat(), d0.isoformat(), \
            (d0 + dt.timedelta(days=7 * weeks)).isoformat()
        before = v[(d >= lo) & (d < mid)].sum()
        after = v[(d >= mid) & (d < hi)].sum()
        value = float(after / before) if before > 0 else math.nan
    return 1.0 - value if spec.get("complement") else value


def simulated(ts: pd.DataFrame, targets: dict, summary: dict | None = None) -> dict:
    """Every target's simulated value: a number, or a table by nationality for `by = "nationality"` (over the
    nationalities of the target's value)."""
    ts = ts if isinstance(ts, Series) else Series(ts)
    out = {}
    for name, t in targets.items():
        spec = t["observe"]
        if spec.get("by") == "nationality":
            out[name] = {n: observe(ts, spec, summary, nationality=n) for n in t["value"]}
        else:
            out[name] = observe(ts, spec, summary)
    return out
