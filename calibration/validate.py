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


def uses_targets(scenario_path, checks_path=None) -> bool:
    """Whether `validate` compares the pack's check targets (its meta calibration_targets, role "check")
    rather than a checks file: when no --checks is given and the pack names a targets file."""
    from calibration.posterior import load_run

    return checks_path is None and bool(load_run(scenario_path).pack.raw.get("meta", {}).get("calibration_targets"))


def _target_run(args) -> dict:
    """One validation run: every check target's simulated value (flat, as calibration.abc.flat_simulated)."""
    from abm.kernels import one_thread
    from abm.model import SafeMobilityModel
    from abm.outputs import timeseries
    from calibration.posterior import load_run
    from calibration.abc import flat_simulated
    from calibration.observe import simulated
    from abm.summary import processing_months
    from calibration.targets import load_targets

    one_thread()
    path, name, scale, seed, draw = args
    extra = [f"run.posterior_draw={draw}"] if draw is not None else []
    m = SafeMobilityModel(load_run(path, scale=scale, seed=seed, overrides=extra))
    m.run()
    ts = timeseries(m)
    out = flat_simulated(simulated(ts, load_targets(name, "check"), {"smo_processing_months": processing_months(m)}))
    m.release()
    return out


def validate_targets(scenario_path, seeds=(1, 2, 3), draws: int = 10, scale=None, progress=True) -> pd.DataFrame:
    """Every check target of the scenario's pack (targets file, role "check": read by no fitting step), simulated
    over posterior draws x seeds (seeds only for a pack without a posterior), against its published value: the
    median and the 90% interval of the runs, and whether the published value lies inside (for a bound, whether
    the interval reaches the allowed side)."""
    from multiprocessing import get_context

    from tqdm import tqdm

    from calibration.posterior import load_run
    from calibration.targets import load_targets

    sc = load_run(scenario_path, scale=scale)
    name = sc.pack.raw["meta"]["calibration_targets"]
    targets = load_targets(name, "check")
    if not targets:
        raise InputError(DIR / name, "role", "no target has role \"check\": nothing to validate against")
    posterior = sc.calibration.get("posterior")
    jobs = [(str(scenario_path), name, scale, s, d) for d in (range(draws) if posterior else [None]) for s in seeds]
    with get_context("fork").Pool(2) as pool:
        runs = list(tqdm(pool.imap(_target_run, jobs), total=len(jobs), desc="validation runs", unit="run",
                         disable=not progress))
    sims = pd.DataFrame(runs)
    rows = []
    for k, t in targets.items():
        items = t["value"].items() if isinstance(t["value"], dict) else [(None, t["value"])]
        for n, v in items:
            key = k if n is None else f"{k}:{n}"
            x = sims[key].to_numpy(float) if key in sims else np.full(len(sims), np.nan)
            x = x[np.isfinite(x)]
            lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95]) if len(x) else (np.nan,) * 3
            bound = t["error"].get("bound")
            inside = bool({"upper": lo <= v, "lower": hi >= v}.get(bound, lo <= v <= hi))
            rows.append({"figure": key, "published": float(v), "bound": bound or "", "sim_median": med, "sim_lo90": lo,
                         "sim_hi90": hi, "sim_over_published": med / v if v else np.nan, "inside": inside,
                         "runs": int(len(x)), "source": t["source"],
                         "why_independent": t.get("role_why", ""), "error_why": t.get("error_why", "")})
    table = pd.DataFrame(rows)
    table.attrs.update(draws=draws if posterior else 0, seeds=len(seeds), posterior=posterior or "")
    return table


def markdown_targets(t: pd.DataFrame, header: str) -> str:
    fmt = lambda v: "n/a" if not np.isfinite(v) else (f"{v:,.3g}" if abs(v) < 10 else f"{v:,.0f}")
    out = [header, "", f"{int(t.inside.sum())} of {len(t)} check targets inside the 90% interval of the runs.", "",
           "| figure | published | simulated median [90%] | sim / published | inside |", "|---|---:|---|---:|:---:|"]
    for r in t.itertuples():
        pub = fmt(r.published) + (f" ({r.bound} bound)" if r.bound else "")
        out.append(f"| {r.figure} | {pub} | {fmt(r.sim_median)} [{fmt(r.sim_lo90)}, {fmt(r.sim_hi90)}] | "
                   f"{r.sim_over_published:.2f} | {'yes' if r.inside else '**no**'} |")
    out += ["", "Sources, and why each figure is independent of the fit:", ""]
    for r in t.itertuples():
        why = r.why_independent[:1].upper() + r.why_independent[1:]
        out.append((f"- **{r.figure}**: {r.source}." + (f" {why}." if why else "")).replace("..", "."))
    return "\n".join(out) + "\n"


def figure_targets(t: pd.DataFrame, path: Path):
    """Each check figure's simulated median and 90% interval over its published value (1 = agreement)."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    d = t.assign(lo=t.sim_lo90 / t.published, hi=t.sim_hi90 / t.published, mid=t.sim_median / t.published)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(d) + 1.2))
    y = np.arange(len(d))
    ax.hlines(y, d.lo, d.hi, color="C0", lw=3, label="90% of runs")
    ax.plot(d.mid, y, "o", color="C0", label="median")
    ax.axvline(1.0, color="k", lw=1, label="published")
    ax.set_yticks(y, d.figure)
    ax.invert_yaxis()
    ax.set_xscale("log")
    lo, hi = np.nanmin(d.lo.to_numpy()), np.nanmax(d.hi.to_numpy())
    ticks = [x for x in (0.1, 0.25, 0.5, 1, 2, 4, 10) if min(lo, 1) / 1.5 <= x <= max(hi, 1) * 1.5]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter([f"{x:g}" for x in ticks]))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("simulated / published (log scale)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / len(d)), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    tmp.replace(path)


def write_targets(t: pd.DataFrame, folder, header: str, scenario: str = "") -> dict:
    """validation.csv, validation.md, figures/validation.png and a manifest into the claimed folder."""
    import datetime as dt

    from abm import __version__
    from abm.folders import write_file
    from abm.outputs import git_commit

    def files(tmp: Path) -> dict:
        write_file(tmp / "validation.csv", t.to_csv(index=False, float_format="%.6g"))
        write_file(tmp / "validation.md", markdown_targets(t, header))
        (tmp / "figures").mkdir(exist_ok=True)
        figure_targets(t, tmp / "figures" / "validation.png")
        return {"scenario": scenario, "header": header, "version": __version__, "git_commit": git_commit(),
                "posterior": t.attrs.get("posterior"), "draws": t.attrs.get("draws"), "seeds": t.attrs.get("seeds"),
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}

    return folder.publish(files)


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
