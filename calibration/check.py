"""The posterior-predictive check and the calibration report, from the shipped posterior.

    smo-abm calibrate --check [--draws 40] [--check-scale 0.01] [--out results/calibration]

Runs the baseline for `draws` draws from calibration/posterior.csv (resampled by weight; run seeds
1000 + k), two at a time, and writes to OUT:
  targets.csv      target,observed,sim_median,sim_lo90,sim_hi90,inside (one row per observed figure);
  parameters.csv   each parameter's prior and posterior 90% interval and how much the data narrowed it;
  report.md        both tables, the parole pause, what the calibration cost, the figures below;
  marginals.png, pairplot.png, predictive.png, pause.png (seaborn).
Each draw's figures are kept in OUT/predictive/ as it finishes, so an interrupted check resumes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from calibration import posterior
from calibration.abc import last_date, load_priors, prior_sample, run_baseline
from calibration.targets import load_targets, pause_target

PAUSE_WEEKS = (-8, 52)   # weeks around the announcement shown and summarised


def pause_of(cal) -> dict | None:
    """The pause the report draws: the observe table of the fit target measured as a window ratio (its date,
    metric and nationalities), or None for a pack whose targets have none."""
    try:
        return pause_target(cal.targets)
    except ValueError:
        return None


def _run_draw(args) -> dict:
    """One posterior-predictive run: flat figures, and the weekly series of the pause target's metric and
    nationalities by date (when the targets have a pause)."""
    params, scale, seed, end, scenario, targets, pause = args
    figures, ts = run_baseline(params, scale, seed, scenario, end, targets)
    out = {"figures": figures}
    if pause is not None:
        sel = ts.metric == pause["metric"]
        if pause.get("nationalities"):
            sel &= ts.nationality.isin(pause["nationalities"])
        out["pause_crossings"] = {str(k): float(v) for k, v in ts[sel].groupby("date").value.sum().items()}
    return out


def _atomic_json(path: Path, obj):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def predictive_runs(out: Path, draws: int, scale: float, progress: bool = True, cal=None) -> list[dict]:
    """Figures of `draws` draws from the posterior of calibration `cal` (default the Americas baseline's),
    reusing finished ones from OUT/predictive/."""
    from tqdm import tqdm

    from abm.kernels import one_thread

    from calibration.setting import of

    cal = cal or of()
    key = hashlib.sha256(cal.posterior_csv.read_bytes()).hexdigest()[:12]
    cache = out / "predictive"
    cache.mkdir(parents=True, exist_ok=True)
    params = posterior.draws(draws, name=cal.posterior)
    end = last_date(load_targets(cal.targets))   # as the calibration's runs end (every target's last day)
    files = [cache / f"{key}_s{scale:g}_e{end}_d{k}.json" for k in range(draws)]
    todo = [k for k in range(draws) if not files[k].exists()]
    if todo:
        with get_context("fork").Pool(2, initializer=one_thread) as pool, \
                tqdm(total=draws, initial=draws - len(todo), desc="posterior-predictive runs", disable=not progress) as bar:

            jobs = [(params[k], scale, 1000 + k, end, cal.scenario, cal.targets, pause_of(cal)) for k in todo]
            for k, res in zip(todo, pool.imap(_run_draw, jobs)):
                res["params"] = params[k]
                _atomic_json(files[k], res)
                bar.update()
    return [json.loads(f.read_text()) for f in files]


# --- tables ---

def targets_table(runs: list[dict], targets: dict) -> pd.DataFrame:
    sims = pd.DataFrame([r["figures"] for r in runs])
    rows = []
    for k, t in targets.items():
        items = t["value"].items() if isinstance(t["value"], dict) else [(None, t["value"])]
        for n, v in items:
            key = k if n is None else f"{k}:{n}"
            x = sims[key].to_numpy(dtype=float) if key in sims else np.full(len(sims), np.nan)
            x = x[np.isfinite(x)]
            med, lo, hi = (np.quantile(x, [0.5, 0.05, 0.95]) if len(x) else (np.nan,) * 3)
            bound = t["error"].get("bound")
            if isinstance(v, list):
                observed, inside = f"{v[0]:g}-{v[1]:g}", bool(lo <= v[1] and hi >= v[0])
            else:
                observed = float(v)
                inside = bool({"upper": lo <= v, "lower": hi >= v}.get(bound, lo <= v <= hi))
            rows.append({"target": key, "role": t["role"], "observed": observed, "sim_median": med, "sim_lo90": lo,
                         "sim_hi90": hi, "inside": inside})
    return pd.DataFrame(rows)


def parameters_table(priors: dict, post: pd.DataFrame) -> pd.DataFrame:
    """Prior and posterior 90% intervals; `width_ratio` = posterior width / prior width (on the log
    scale for log-uniform priors): near 1 the data say little about the parameter."""
    w = post["weight"].to_numpy()
    rows = []
    for key, s in priors.items():
        if key not in post.columns:
            continue  # a prior the posterior has not fitted yet (its runs use the abm/params.py value)
        lo, hi = float(s["lo"]), float(s["hi"])
        x = post[key].to_numpy()
        q = posterior.weighted_quantile(x, w, [0.05, 0.5, 0.95])
        if s["dist"] == "loguniform":
            plo, phi = np.exp(np.log(lo) + np.array([0.05, 0.95]) * np.log(hi / lo))
            ratio = np.log(q[2] / q[0]) / np.log(phi / plo)
        else:
            plo, phi = lo + np.array([0.05, 0.95]) * (hi - lo)
            ratio = (q[2] - q[0]) / (phi - plo)
        rows.append({"parameter": key, "prior": f"{s['dist']}({lo:g}, {hi:g})", "prior_lo90": plo, "prior_hi90": phi,
                     "post_median": q[1], "post_lo90": q[0], "post_hi90": q[2], "width_ratio": ratio,
                     "constrained": bool(ratio < 0.5)})
    return pd.DataFrame(rows)


def pause_summary(runs: list[dict], date: str) -> dict:
    """The pause in each run: the pause target's weekly series (e.g. Venezuelan crossings) over its mean in the
    4 weeks before the announcement of `date`; the trough's depth and week; weeks until back to half the level
    before."""
    out = {"depth": [], "trough_week": [], "half_recovery_week": [], "curves": []}
    for r in runs:
        s = pd.Series(r.get("pause_crossings", r.get("venezuela_darien", {})))
        s.index = pd.to_datetime(s.index)
        d0 = s.index[s.index <= pd.Timestamp(date)].max()   # the week holding the announcement: 0
        weeks = np.round((s.index - d0).days / 7).astype(int)
        s = pd.Series(s.to_numpy(), index=weeks).groupby(level=0).sum()
        before = s[(s.index >= -4) & (s.index < 0)].mean()
        if not before > 0:
            continue
        rel = s / before
        after = rel[(rel.index >= 0) & (rel.index <= 26)]
        out["depth"].append(1 - after.min())
        out["trough_week"].append(int(after.idxmin()))
        later = rel[(rel.index > after.idxmin()) & (rel >= 0.5)]
        out["half_recovery_week"].append(int(later.index.min()) if len(later) else np.nan)
        out["curves"].append(rel[(rel.index >= PAUSE_WEEKS[0]) & (rel.index <= PAUSE_WEEKS[1])])
    return out


# --- figures ---

def figures(out: Path, priors: dict, post: pd.DataFrame, runs: list[dict], table: pd.DataFrame, pause: dict,
            spec: dict | None = None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    keys = list(priors)
    rng = np.random.default_rng(0)
    prior = pd.DataFrame(prior_sample(priors, 4000, rng))
    resampled = post.iloc[rng.choice(len(post), 1000, p=post["weight"] / post["weight"].sum())][keys]
    # marginals: prior against posterior
    ncol = 4
    nrow = -(-len(keys) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow))
    for ax, k in zip(axes.flat, keys):
        log = priors[k]["dist"] == "loguniform"
        both = pd.concat([prior[[k]].assign(which="prior"), resampled[[k]].assign(which="posterior")], ignore_index=True)
        sns.histplot(both, x=k, hue="which", stat="density", common_norm=False, element="step", log_scale=log,
                     bins=30, ax=ax)
        ax.set_title(k, fontsize=8)
        ax.set_xlabel("")
    for ax in list(axes.flat)[len(keys):]:
        ax.remove()
    fig.tight_layout()
    fig.savefig(out / "marginals.png", dpi=120)
    plt.close(fig)
    # pair plot of the posterior
    g = sns.pairplot(resampled.rename(columns=lambda c: c.split(".", 1)[1]), kind="hist", corner=True, height=1.4)
    g.savefig(out / "pairplot.png", dpi=110)
    plt.close(g.figure)
    # posterior predictive per target, observed marked
    sims = pd.DataFrame([r["figures"] for r in runs])
    rows = table.target.tolist()
    ncol = 5
    nrow = -(-len(rows) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.2 * nrow))
    for ax, (_, row) in zip(axes.flat, table.iterrows()):
        x = sims[row.target].dropna() if row.target in sims else pd.Series(dtype=float)
        if len(x):
            sns.histplot(x, ax=ax, bins=15, color="C0")
        obs = row.observed
        if isinstance(obs, str):
            a, b = (float(v) for v in obs.split("-"))
            ax.axvspan(a, b, color="C3", alpha=0.25)
        else:
            ax.axvline(float(obs), color="C3", lw=2)
        ax.axvline(row.sim_lo90, color="0.4", ls=":")
        ax.axvline(row.sim_hi90, color="0.4", ls=":")
        ax.set_title(row.target.replace("border_encounters_fy2023:", "encounters FY23: "), fontsize=7)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(rows):]:
        ax.remove()
    fig.suptitle("Posterior predictive (runs of posterior draws); red: observed; dotted: 90% interval", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "predictive.png", dpi=120)
    plt.close(fig)
    # the parole pause
    if spec is not None and pause["curves"]:
        curves = pd.concat(pause["curves"], axis=1)
        q = curves.quantile([0.05, 0.5, 0.95], axis=1).T
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.fill_between(q.index, q[0.05], q[0.95], alpha=0.3, label="90% of posterior draws")
        ax.plot(q.index, q[0.5], label="median")
        ax.axvline(0, color="k", lw=0.8)
        ax.axhline(0.1, color="C3", ls="--", lw=1, label="a 90% fall (002 s6.2)")
        ax.set_xlabel(f"weeks from the week of the announcement ({spec['date']})")
        ax.set_ylabel(f"{', '.join(spec.get('nationalities', []))} {spec['metric']}\n/ mean of the 4 weeks before")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "pause.png", dpi=120)
        plt.close(fig)


# --- report ---

def _fmt(x) -> str:
    if isinstance(x, str):
        return x
    if not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3f}"


def how_fitted(meta: dict) -> list[str]:
    """The report's first section: how the shipped posterior was made (calibration/posterior.json)."""
    runs = meta.get("model_runs") or (meta.get("simulations", 0) * (meta.get("seeds_per_particle") or 1))
    lines = [f"Posterior: `calibration/{meta.get('posterior', 'posterior.csv')}`, {meta.get('method', '')}, at scale {meta.get('scale')} "
             f"(`{meta.get('scenario')}`), {runs:,} model runs ({meta.get('seeds_per_particle')} per parameter set, "
             f"averaged), {meta.get('wall_s', 0) / 60:.1f} min wall on this machine; commit {meta.get('git_commit')}.", ""]
    if meta.get("design_points"):
        d = meta["design_points"]
        lines += [f"Model runs: wave 1, {d['wave1']} points of a Latin hypercube over the priors; wave 2, {d['wave2']} "
                  f"points drawn from the posterior of ABC on the wave-1 emulator. The posterior is ABC-SMC on the "
                  f"emulator refitted on both waves, {meta.get('population_size')} particles per generation.", ""]
    rule = meta.get("stopping_rule") or {}
    if rule:
        lines += [f"Stopping rule: stop after a generation that lowered the tolerance by less than "
                  f"{rule['stop_eps_change']:.0%} or accepted fewer than {rule['min_acceptance']:.0%} of its "
                  f"proposals, once the effective sample size (ESS) is at least {rule['min_ess']}. "
                  f"Stopped: {meta.get('stopped_because')}. Final ESS: {meta.get('effective_sample_size', 0):.0f}.", ""]
    gens = meta.get("generations_table") or []
    if gens:
        lines += ["Tolerance schedule:", "", "| generation | tolerance | proposals | acceptance | ESS |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {g['t']} | {g['epsilon']:.3f} | {g['proposals']:,} | {g['acceptance']:.3f} | {g['ess']:.0f} |"
                  for g in gens]
        lines.append("")
    errs = meta.get("emulator_errors") or []
    if errs:
        lines += ["The emulator's stated error, per fit figure, in units of the target's error sd: (a) the wave-1 "
                  "emulator predicting the wave-2 runs, which it never saw, where the posterior lies; (b) the final "
                  "emulator, 5-fold cross-validated, over the wave-2 points (the sd of the error each emulated "
                  "particle carries; it holds the seed-to-seed noise of a mean of the runs too). Coverage: the share "
                  "of held-out runs inside the emulator's 90% predictive interval.", "",
                  "| figure | (a) RMS error / target sd | (a) coverage | (b) RMS error / target sd | (b) coverage |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {e['figure']} | {e['wave1_on_wave2_rmse_in_target_sd']:.2f} | {e['wave1_on_wave2_coverage90']:.2f} "
                  f"| {e['rmse_in_target_sd']:.2f} | {e['coverage90']:.2f} |" for e in errs]
        lines.append("")
    return lines


def report_md(table, params, pause, meta, draws, scale, targets, spec: dict | None = None,
              targets_file: str = "targets.toml") -> str:
    lines = [f"# Calibration report: {meta.get('pack', 'americas')} pack", ""]
    lines += how_fitted(meta)
    lines += [f"Posterior-predictive check: {draws} draws resampled by weight, each run once at scale {scale:g} "
              f"(seeds 1000+k). Inside: the observed value lies in the 5-95% range of the simulated one (for a "
              f"bound, the range reaches the allowed side; for a range, they overlap).", ""]
    lines += ["Fit targets are what the calibration was fitted to; check targets were read by no fitting step "
              f"(calibration/{targets_file}, `role`).", ""]
    lines += ["| target | role | observed | sim median | sim 90% | inside |", "|---|---|---:|---:|---:|:---:|"]
    for _, r in table.iterrows():
        kind = targets[r.target.split(":")[0]]["error"].get("bound")
        obs = _fmt(r.observed) + {"upper": " (upper bound)", "lower": " (lower bound)"}.get(kind, "")
        lines.append(f"| {r.target} | {r.role} | {obs} | {_fmt(r.sim_median)} | [{_fmt(r.sim_lo90)}, {_fmt(r.sim_hi90)}] | "
                     f"{'yes' if r.inside else '**no**'} |")
    inside = lambda role: f"{int(table.inside[table.role == role].sum())} of {int((table.role == role).sum())}"
    lines += ["", f"Fit targets: {inside('fit')} inside. Check targets: {inside('check')} inside.", ""]
    outside = table[~table.inside]
    if len(outside):
        lines += ["Outside, and what the sources say about them:", ""]
        ranges = meta.get("first_generation_ranges", {})
        for _, r in outside.iterrows():
            t = targets[r.target.split(":")[0]]
            why = t.get("conflict") or t.get("error_why", "")
            reach = ""
            if r.target in ranges:
                a, b = ranges[r.target]
                obs = r.observed if not isinstance(r.observed, str) else None
                where = ("outside it: no parameter values in the priors reach the observed value"
                         if obs is not None and not a <= obs <= b else "the priors reach the observed value")
                reach = (f" Over the first generation of the calibration (prior draws within the first, loose "
                         f"tolerance) it ranged over [{_fmt(a)}, {_fmt(b)}]: {where}.")
            trade = meta.get("tradeoffs", {}).get(r.target)
            if trade:
                costs = "; ".join(f"{n} by {v:.2f} sd more" for n, v in trade["costs"].items())
                trade = (f" Of the calibration's {trade['particles']} accepted particles (all generations), "
                         f"{trade['within_1sd']} came within one sd of it"
                         + (f"; those missed {costs} (median, against all particles)." if costs else "."))
            sd_miss = ""
            if not isinstance(r.observed, str) and "sd" in t["error"]:
                sd = t["error"]["sd"] * (abs(r.observed) if t["error"].get("relative") else 1)
                sd_miss = f" The simulated median is {(r.sim_median - r.observed) / sd:+.2f} sd from it (error model)."
            lines.append(f"- **{r.target}**: {why}.{reach}{trade or ''}{sd_miss}".replace("..", "."))
        lines.append("")
    if spec is not None:
        lines += ["## The parole pause", ""]
    if spec is not None and pause["depth"]:
        q = lambda xs: np.nanquantile(np.asarray(xs, float), [0.5, 0.05, 0.95])
        d, t, h = q(pause["depth"]), q(pause["trough_week"]), q(pause["half_recovery_week"])
        lines += [f"{', '.join(spec.get('nationalities', []))}: weekly {spec['metric']} over their mean in the 4 "
                  f"weeks before {spec['date']} "
                  f"(`pause.png`), median [90%] over the draws: deepest fall within 26 weeks {d[0]:.2f} "
                  f"[{d[1]:.2f}, {d[2]:.2f}], reached in week {t[0]:.0f} [{t[1]:.0f}, {t[2]:.0f}] (week 0 holds the "
                  f"announcement); back above half the level before in week {h[0]:.0f} [{h[1]:.0f}, {h[2]:.0f}]. "
                  f"The source: 'in the weeks after the announcement ... fell by 90%, then rose again' (002 s6.2).", ""]
    lines += ["## Parameters: what the data constrain", "",
              "width ratio = posterior 90% width / prior 90% width (log scale for log-uniform priors); "
              "below 0.5 the targets constrain the parameter.", "",
              "| parameter | prior | prior 90% | posterior median | posterior 90% | width ratio |",
              "|---|---|---|---:|---|---:|"]
    for _, r in params.iterrows():
        lines.append(f"| {r.parameter} | {r.prior} | [{r.prior_lo90:.4g}, {r.prior_hi90:.4g}] | {r.post_median:.4g} | "
                     f"[{r.post_lo90:.4g}, {r.post_hi90:.4g}] | {r.width_ratio:.2f} |")
    lines += ["", "Figures: `marginals.png` (prior and posterior), `pairplot.png` (posterior), `predictive.png` "
              "(per target, observed marked)" + (", `pause.png`." if spec is not None else "."), ""]
    return "\n".join(lines)


def check(out: Path, draws: int = 40, scale: float = 0.01, progress: bool = True, cal=None) -> pd.DataFrame:
    """The posterior-predictive check of calibration `cal` (default the Americas baseline's) into OUT."""
    from calibration.setting import of

    cal = cal or of()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    targets, priors = load_targets(cal.targets), load_priors(cal.priors)
    runs = predictive_runs(out, draws, scale, progress, cal)
    table = targets_table(runs, targets)
    post = posterior.load(cal.posterior)
    priors = {k: v for k, v in priors.items() if k in post.columns}  # the fitted ones (see parameters_table)
    params = parameters_table(priors, post)
    spec = pause_of(cal)
    pause = pause_summary(runs, spec["date"]) if spec is not None else {"depth": [], "curves": []}
    meta = json.loads(cal.posterior_meta.read_text()) if cal.posterior_meta.exists() else {}
    meta.setdefault("posterior", cal.posterior)
    for name, df in (("targets.csv", table), ("parameters.csv", params)):
        tmp = out / (name + ".tmp")
        df.to_csv(tmp, index=False, float_format="%.6g")
        os.replace(tmp, out / name)
    figures(out, priors, post, runs, table, pause, spec)
    md = report_md(table, params, pause, meta, draws, scale, targets, spec, cal.targets)
    md += (f"\nWritten {dt.date.today().isoformat()} by `smo-abm calibrate --check --scenario {cal.rel(cal.scenario)} "
           f"--draws {draws} --check-scale {scale:g}`.\n")
    tmp = out / "report.md.tmp"
    tmp.write_text(md)
    os.replace(tmp, out / "report.md")
    return table
