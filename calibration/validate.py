"""Checking a pack against published figures: `smo-abm validate SCENARIO`.

A checks file (TOML, in calibration/ or given with --checks; a pack names its own with meta
`validation_checks`) lists published figures and how to measure each in a run's tidy time series:

    [[check]]
    name = "frontex_central_med_2023"
    published = 158000
    source = "europe_facts frontex_route_2023 (central_med)"
    metric = "border_arrivals"              # a metric of timeseries.csv
    start = "2023-01-01"                    # weeks starting in [start, end] are summed
    end = "2023-12-31"
    hosts = { Libya = 1.0, Tunisia = 1.0 }  # weight of each host place (omit: all hosts, weight 1)
    nationalities = ["Sudan"]               # optional filter
    held_out = true                         # false if the pack was built from this figure

    [[ratio]]                               # a ratio of two checks, e.g. a shift between years
    name = "central_med_2024_over_2023"
    numerator = "frontex_central_med_2024"
    denominator = "frontex_central_med_2023"
    published = 0.4228
    source = "..."
    held_out = true                         # false if the pack was built from it

The scenario runs for several seeds; the table gives each figure's published value, the simulated
mean and range over seeds, their ratio, and whether the figure was held out when the pack was built.
Nothing here knows a region: the places, metrics and periods are the checks file's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from abm.errors import InputError, reject_unknown
from abm.pack import read_toml
from abm.policy import parse_date

DIR = Path(__file__).parent
CHECK_FIELDS = ["name", "published", "source", "metric", "start", "end", "hosts", "nationalities", "held_out"]
RATIO_FIELDS = ["name", "numerator", "denominator", "published", "source", "held_out"]


def load_checks(path: Path, pack) -> dict:
    """Read and check a checks file against the pack it is for (places, nationalities, metrics)."""
    from abm.model import METRICS

    raw = read_toml(path)
    reject_unknown(path, "", raw, ["check", "ratio"], "table")
    checks = raw.get("check", [])
    if not isinstance(checks, list) or not checks:
        raise InputError(path, "check", "at least one [[check]] table is needed")
    names = set()
    for i, c in enumerate(checks):
        w = f"check[{i}]"
        if not isinstance(c, dict):
            raise InputError(path, w, "must be a table")
        reject_unknown(path, f"{w}.", c, CHECK_FIELDS)
        for k in ("name", "published", "metric", "start", "end"):
            if k not in c:
                raise InputError(path, f"{w}.{k}", "missing")
        if c["name"] in names:
            raise InputError(path, f"{w}.name", f"two checks are called {c['name']!r}")
        names.add(c["name"])
        if c["metric"] not in METRICS:
            raise InputError(path, f"{w}.metric", f"unknown metric {c['metric']!r} (known: {', '.join(METRICS)})")
        if isinstance(c["published"], bool) or not isinstance(c["published"], (int, float)):
            raise InputError(path, f"{w}.published", "must be a number")
        c["start"], c["end"] = parse_date(c["start"], path, f"{w}.start"), parse_date(c["end"], path, f"{w}.end")
        for h in c.get("hosts", {}) or {}:
            if h not in pack.places:
                raise InputError(path, f"{w}.hosts", f"unknown place {h!r} (known: {', '.join(pack.places)})")
        for n in c.get("nationalities", []) or []:
            if n not in pack.nationalities:
                raise InputError(path, f"{w}.nationalities", f"unknown nationality {n!r}")
    ratios = raw.get("ratio", [])
    for i, r in enumerate(ratios):
        w = f"ratio[{i}]"
        reject_unknown(path, f"{w}.", r, RATIO_FIELDS)
        for k in ("name", "numerator", "denominator", "published"):
            if k not in r:
                raise InputError(path, f"{w}.{k}", "missing")
        for k in ("numerator", "denominator"):
            if r[k] not in names:
                raise InputError(path, f"{w}.{k}", f"{r[k]!r} is not the name of a check")
    return {"check": checks, "ratio": ratios}


def measure(ts: pd.DataFrame, c: dict) -> float:
    d = pd.to_datetime(ts.date).dt.date
    sel = (ts.metric == c["metric"]) & (d >= c["start"]) & (d <= c["end"])
    if c.get("nationalities"):
        sel &= ts.nationality.isin(c["nationalities"])
    part = ts[sel]
    hosts = c.get("hosts")
    if not hosts:
        return float(part.value.sum())
    return float(sum(w * part.loc[part.host == h, "value"].sum() for h, w in hosts.items()))


def validate(scenario_path, checks_path=None, seeds=(1, 2, 3), scale=None, progress=True) -> pd.DataFrame:
    from tqdm import tqdm

    from abm.model import SafeMobilityModel
    from abm.outputs import timeseries
    from calibration.posterior import load_run

    sc = load_run(scenario_path, scale=scale)
    if checks_path is None:
        name = sc.pack.raw.get("meta", {}).get("validation_checks")
        if not name:
            raise InputError(sc.pack.path / "pack.toml", "meta.validation_checks",
                             "this pack names no checks file: give one with --checks")
        checks_path = DIR / name
    checks_path = Path(checks_path)
    if not checks_path.exists():
        raise InputError(checks_path, "file", "no such checks file")
    spec = load_checks(checks_path, sc.pack)
    for c in spec["check"]:
        if c["end"] < sc.start or c["start"] > sc.end:
            raise InputError(checks_path, f"check {c['name']!r}", f"{c['start']} to {c['end']} is outside the run "
                                                                   f"({sc.start} to {sc.end})")
    sims = {c["name"]: [] for c in spec["check"]}
    for seed in tqdm(seeds, desc="validation runs", unit="run", disable=not progress):
        m = SafeMobilityModel(load_run(scenario_path, scale=scale, seed=seed))
        m.run()
        ts = timeseries(m)
        m.release()
        for c in spec["check"]:
            sims[c["name"]].append(measure(ts, c))
    rows = [_row(c["name"], c["published"], np.array(sims[c["name"]]), c.get("source", ""), c.get("held_out", True))
            for c in spec["check"]]
    for r in spec["ratio"]:
        num, den = np.array(sims[r["numerator"]]), np.array(sims[r["denominator"]])
        with np.errstate(divide="ignore", invalid="ignore"):
            x = num / den
        rows.append(_row(r["name"], r["published"], x, r.get("source", ""), r.get("held_out", True)))
    return pd.DataFrame(rows)


def _row(name, published, x, source, held_out) -> dict:
    mean = float(np.mean(x))
    return {"figure": name, "published": float(published), "simulated_mean": mean, "simulated_min": float(np.min(x)),
            "simulated_max": float(np.max(x)), "sim_over_published": mean / published if published else np.nan,
            "held_out": bool(held_out), "source": source}


def markdown(t: pd.DataFrame, header: str) -> str:
    fmt = lambda v: f"{v:,.4g}" if abs(v) < 10 else f"{v:,.0f}"
    out = [header, "", "| figure | published | simulated mean [min, max] | sim / published | held out |",
           "|---|---:|---|---:|---|"]
    for r in t.itertuples():
        out.append(f"| {r.figure} | {fmt(r.published)} | {fmt(r.simulated_mean)} [{fmt(r.simulated_min)}, "
                   f"{fmt(r.simulated_max)}] | {r.sim_over_published:.2f} | {'yes' if r.held_out else 'no (built from it)'} |")
    return "\n".join(out) + "\n"


def write(t: pd.DataFrame, folder, header: str, scenario: str = "") -> dict:
    """validation.csv, validation.md and a manifest into the claimed folder (abm.folders.Claim), together."""
    import datetime as dt

    from abm import __version__
    from abm.folders import write_file
    from abm.outputs import git_commit

    def files(tmp: Path) -> dict:
        write_file(tmp / "validation.csv", t.to_csv(index=False, float_format="%.6g"))
        write_file(tmp / "validation.md", markdown(t, header))
        return {"scenario": scenario, "header": header, "version": __version__, "git_commit": git_commit(),
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}

    return folder.publish(files)
