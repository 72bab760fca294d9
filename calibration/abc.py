"""Likelihood-free Bayesian calibration: ABC-SMC (pyabc) over the priors of priors.toml, against the
targets of targets.toml with their error models. docs/calibration.md says why ABC-SMC.

    smo-abm calibrate [--pop-size N] [--max-sims N] [--max-minutes M] [--scale F] [--fresh]   (defaults: abm/cli.py)

The run is kept in a SQLite database (results/calibration/abc.db) one generation at a time, so a run
that is interrupted resumes from its last finished generation when the same command is given again
(--fresh starts over). At the end the last generation's weighted draws are written to
calibration/posterior.csv (with calibration/posterior.json: how it was made and what it cost), which
every run of the Americas pack then uses (calibration/posterior.py).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.setting import BASELINE
from calibration.targets import TARGETS_DIR, load_targets

PRIORS = TARGETS_DIR / "priors.toml"
KERNEL_SCALING = 2.0   # transition kernel width relative to pyabc's default (see run_abc)
MISSING_Z = 10.0   # standardised miss of a figure the run could not compute (no denominator)
#: each particle is the mean of this many runs with different seeds, so that one lucky seed cannot carry a
#: particle into the posterior (issue 17)
SEEDS_PER_PARTICLE = 2
#: the stopping rule (docs/calibration.md): stop after a generation that lowered the tolerance by less than
#: this fraction (further generations would mostly shrink the posterior around the simulator's noise, at a
#: growing cost per accepted particle), or whose acceptance rate fell below MIN_ACCEPTANCE
STOP_EPS_CHANGE = 0.05
MIN_ACCEPTANCE = 0.02
MIN_ESS = 300   # the final population's effective sample size must reach this (issue 17)


# --- priors ---

def load_priors(path: Path = PRIORS) -> dict[str, dict]:
    """{"section.name": {"dist", "lo", "hi", "reason"}} in file order."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    out = {}
    for sec, table in raw.items():
        for name, spec in table.items():
            out[f"{sec}.{name}"] = spec
    return out


def pyabc_prior(priors: dict):
    """pyabc's prior. ABC runs in a space where every prior is uniform: a log-uniform parameter is
    sampled as its log10 (`to_natural` maps back). Its transition kernels are then normal in the
    log of rates spanning a decade, not in the rates themselves, where a kernel fitted to the bulk
    would rarely propose the low end that the prior favours (and those few draws would carry huge
    importance weights)."""
    from calibration.pyabc_fast import UniformBox

    box = {}
    for key, s in priors.items():
        lo, hi = float(s["lo"]), float(s["hi"])
        if s["dist"] == "loguniform":
            lo, hi = math.log10(lo), math.log10(hi)
        elif s["dist"] != "uniform":
            raise ValueError(f"priors: {key}.dist: unknown distribution {s['dist']!r}")
        box[key] = (lo, hi)
    return UniformBox.of(box)


def to_natural(params: dict, priors: dict) -> dict[str, float]:
    """Parameter values from ABC's space (log10 for log-uniform priors) to the model's."""
    return {k: (10.0 ** float(v) if priors[k]["dist"] == "loguniform" else float(v)) for k, v in params.items()}


def prior_sample(priors: dict, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for key, s in priors.items():
        lo, hi = float(s["lo"]), float(s["hi"])
        u = rng.random(n)
        out[key] = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))) if s["dist"] == "loguniform" else lo + u * (hi - lo)
    return out


# --- observed figures and the distance ---

def flat_observed(targets: dict) -> dict[str, float]:
    """One number per figure: nested targets (encounters by nationality) as `name:key`, ranges by
    their midpoint."""
    out = {}
    for k, t in targets.items():
        v = t["value"]
        if isinstance(v, dict):
            out.update({f"{k}:{n}": float(x) for n, x in v.items()})
        elif isinstance(v, list):
            out[k] = (float(v[0]) + float(v[1])) / 2
        else:
            out[k] = float(v)
    return out


def flat_simulated(head: dict) -> dict[str, float]:
    out = {}
    for k, v in head.items():
        if isinstance(v, dict):
            out.update({f"{k}:{n}": (float(x) if x is not None else math.nan) for n, x in v.items()})
        else:
            out[k] = float(v) if v is not None else math.nan
    return out


def z_scores(sim: dict, targets: dict) -> dict[str, float]:
    """Standardised miss of each figure: (simulated - observed) / sd, 0 on the allowed side of a bound
    or inside a range; MISSING_Z when the run could not compute the figure."""
    out = {}
    for k, t in targets.items():
        err = t["error"]
        items = t["value"].items() if isinstance(t["value"], dict) else [(None, t["value"])]
        for n, v in items:
            key = k if n is None else f"{k}:{n}"
            x = sim.get(key, math.nan)
            if x is None or not np.isfinite(x):
                out[key] = MISSING_Z
                continue
            if isinstance(v, list):
                lo, hi = float(v[0]), float(v[1])
                miss = lo - x if x < lo else (x - hi if x > hi else 0.0)
                out[key] = miss / err["sd"]
                continue
            v = float(v)
            sd = err["sd"] * (abs(v) if err.get("relative") else 1.0)
            miss = x - v
            if (err.get("bound") == "upper" and miss < 0) or (err.get("bound") == "lower" and miss > 0):
                miss = 0.0
            out[key] = miss / sd
    return out


def weights(targets: dict) -> dict[str, float]:
    out = {}
    for k, t in targets.items():
        w = float(t.get("weight", 1.0))
        if isinstance(t["value"], dict):
            out.update({f"{k}:{n}": w for n in t["value"]})
        else:
            out[k] = w
    return out


def make_distance(targets: dict):
    w = weights(targets)

    def distance(sim: dict, _observed: dict) -> float:
        z = z_scores(sim, targets)
        return float(math.sqrt(sum(w[k] * z[k] ** 2 for k in z)))
    return distance


# --- the simulator ---

def seed_of(params: dict) -> int:
    """The run's seed from its parameter values: the same draw always gives the same run."""
    text = json.dumps({k: round(float(v), 12) for k, v in sorted(params.items())})
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def overrides_of(params: dict) -> list[str]:
    return [f"{k}={float(v)!r}" for k, v in params.items()]


def last_date(targets: dict) -> str:
    """The last day any target reads: calibration runs stop there (the weeks after it cost time and
    inform nothing)."""
    import datetime as dt

    out = []

    def walk(spec):
        out.extend(spec[k] for k in ("end", "on") if k in spec)
        if "date" in spec:
            d = dt.date.fromisoformat(spec["date"]) + dt.timedelta(days=7 * (int(spec.get("weeks", 4)) + 1))
            out.append(d.isoformat())
        for part in ("numerator", "denominator"):
            if part in spec:
                walk(spec[part])

    for t in targets.values():
        walk(t["observe"])
    return max(out)


def run_baseline(params: dict, scale: float, seed: int | None = None, scenario: Path = BASELINE,
                 end: str | None = None, targets: str = "targets.toml"):
    """One run of `scenario` with these parameter values (hand-set values elsewhere: calibration starts from
    them, not from a previous posterior), ending on `end` if given: its flat headline figures (every
    target of the targets file, fit and check) and its time series."""
    from abm.model import SafeMobilityModel
    from abm.outputs import timeseries
    from abm.scenario import load_scenario
    from abm.summary import processing_months
    from calibration.targets import headline

    extra = [f"run.end={end}"] if end else []
    sc = load_scenario(scenario, overrides=overrides_of(params) + ["run.use_posterior=false"] + extra, scale=scale,
                       seed=seed_of(params) if seed is None else seed)
    m = SafeMobilityModel(sc)
    m.run()
    ts = timeseries(m)
    # every target, fit and check (the distance reads only the fit ones: make_distance(load_targets(role="fit")))
    head = headline(ts, summary={"smo_processing_months": processing_months(m)}, name=targets)
    m.release()
    return flat_simulated(head), ts


def simulate(params: dict, scale: float, seed: int | None = None, scenario: Path = BASELINE,
             seeds: int = 1, end: str | None = None, targets: str = "targets.toml") -> dict[str, float]:
    """The flat headline figures of run_baseline; with `seeds` > 1, each figure's mean over that many runs
    with consecutive seeds (a figure no run could compute stays NaN)."""
    first = seed_of(params) if seed is None else seed
    runs = [run_baseline(params, scale, first + j, scenario, end, targets)[0] for j in range(seeds)]
    if seeds == 1:
        return runs[0]
    out = {}
    for k in runs[0]:
        x = np.array([r.get(k, math.nan) for r in runs], dtype=float)
        out[k] = float(np.nanmean(x)) if np.isfinite(x).any() else math.nan
    return out


class Simulator:
    """The model for pyabc: parameters -> figures (the mean of `seeds` runs of `scenario`, ending on `end`), one
    thread per worker process (the sampler runs one per core)."""

    def __init__(self, scale: float, seeds: int = SEEDS_PER_PARTICLE, end: str | None = None,
                 scenario: Path = BASELINE, targets: str = "targets.toml"):
        self.scale, self.seeds, self.end, self.scenario, self.targets = scale, seeds, end, scenario, targets

    def __call__(self, params: dict) -> dict:
        from abm.kernels import one_thread

        one_thread()
        return simulate(params, self.scale, scenario=self.scenario, seeds=self.seeds, end=self.end,
                        targets=self.targets)


class _InNaturalUnits:
    """Calls a simulator with parameters mapped from ABC's space to the model's (to_natural)."""

    def __init__(self, simulator, priors: dict):
        self.simulator, self.priors = simulator, priors

    def __call__(self, params) -> dict:
        return self.simulator(to_natural(dict(params), self.priors))


# --- the run ---

def _sampler(n_procs: int, scheduler: str | None):
    """pyabc's sampler: on Dask (a LocalCluster of n_procs single-threaded worker processes by default, or a
    running scheduler), or in this process for n_procs = 1 (tests). Returns (sampler, a function that
    closes what was opened)."""
    from pyabc.sampler import DaskDistributedSampler, SingleCoreSampler

    if n_procs <= 1 and scheduler is None:
        return SingleCoreSampler(), lambda: None
    from distributed import Client, LocalCluster

    cluster = None if scheduler else LocalCluster(n_workers=n_procs, threads_per_worker=1, processes=True,
                                                  dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster if cluster is not None else scheduler)

    def close():
        client.close()
        if cluster is not None:
            cluster.close()
    return DaskDistributedSampler(dask_client=client), close


def generations_table(hist) -> pd.DataFrame:
    """Per finished generation: tolerance, particles, proposals, acceptance rate, effective sample size."""
    pops = hist.get_all_populations()
    pops = pops[pops.t >= 0].sort_values("t")
    rows = []
    for _, r in pops.iterrows():
        _, w = hist.get_distribution(m=0, t=int(r.t))
        w = np.asarray(w, dtype=float)
        rows.append({"t": int(r.t), "epsilon": float(r.epsilon), "particles": int(r.particles),
                     "proposals": int(r.samples), "acceptance": float(r.particles / r.samples) if r.samples else math.nan,
                     "ess": float(w.sum() ** 2 / (w ** 2).sum())})
    return pd.DataFrame(rows)


def stop_reason(gens: pd.DataFrame, stop_eps_change: float = STOP_EPS_CHANGE, min_acceptance: float = MIN_ACCEPTANCE,
                min_ess: float = MIN_ESS) -> str | None:
    """Why the calibration has converged after these generations, or None: the last generation lowered the
    tolerance by less than stop_eps_change (relative) or accepted fewer than min_acceptance of its proposals,
    and its effective sample size is at least min_ess (below it, one more generation is needed whatever
    the tolerance did)."""
    if len(gens) < 2:
        return None
    last, prev = gens.iloc[-1], gens.iloc[-2]
    if last.ess < min_ess:
        return None
    change = (prev.epsilon - last.epsilon) / prev.epsilon if prev.epsilon > 0 else 0.0
    if change < stop_eps_change:
        return f"tolerance fell by {change:.1%} in generation {int(last.t)} (< {stop_eps_change:.0%}); ESS {last.ess:.0f}"
    if last.acceptance < min_acceptance:
        return (f"acceptance rate {last.acceptance:.2%} in generation {int(last.t)} (< {min_acceptance:.0%}); "
                f"ESS {last.ess:.0f}")
    return None


def run_abc(db: Path, simulator, priors: dict, targets: dict, *, pop_size: int = 100, max_sims: int = 3000,
            max_minutes: float = 60.0, generations: int = 20, min_eps: float = 0.0, n_procs: int = 2,
            fresh: bool = False, progress: bool = True, seed: int = 1, pop_size_later: int | None = None,
            later_from: int = 4, scheduler: str | None = None, stop_eps_change: float = STOP_EPS_CHANGE,
            min_acceptance: float = MIN_ACCEPTANCE, min_ess: float = MIN_ESS) -> dict:
    """ABC-SMC with pyabc (adaptive median epsilon, multivariate normal kernels), resuming the run in
    `db` unless `fresh`, one generation at a time until the stopping rule (stop_reason) holds or a budget
    (simulations, minutes of this call, generations) is spent. `pop_size` particles per generation,
    `pop_size_later` from generation `later_from` on (early generations, with loose tolerances, need fewer;
    the importance weights of later ones spread more, and more particles keep the effective sample size
    up). Returns the last generation's draws and the run's bookkeeping."""
    import pyabc
    from pyabc.populationstrategy import ListPopulationSize

    np.random.seed(seed)   # pyabc draws from numpy's global generator
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    if fresh and db.exists():
        db.unlink()
    sampler, close = _sampler(n_procs, scheduler)
    sampler.show_progress = progress
    later = pop_size_later or pop_size
    sizes = ListPopulationSize({t: (pop_size if t < later_from else later) for t in range(-1, generations + 1)},
                               nr_calibration_particles=pop_size)
    # kernels twice as wide as pyabc's default (Silverman's rule on the weighted covariance): a
    # proposal narrower than the accepted region gives its few draws in the tails huge importance
    # weights; with the default, the effective sample size fell to a tenth of the particles within
    # five generations (docs/calibration.md)
    from calibration.pyabc_fast import FastNormalTransition

    kernel = FastNormalTransition(scaling=KERNEL_SCALING)
    try:
        abc = pyabc.ABCSMC(_InNaturalUnits(simulator, priors), pyabc_prior(priors), make_distance(targets),
                           population_size=sizes, sampler=sampler, transitions=kernel)
        url = f"sqlite:///{db}"
        resumed = False
        if db.exists():
            hist = pyabc.History(url)
            if hist.n_populations > 0 and hist.max_t >= 0:
                abc.load(url, hist.id)
                resumed = True
        if not resumed:
            abc.new(url, flat_observed(targets))
        t0 = time.perf_counter()
        hist = abc.history
        reason = stop_reason(generations_table(hist), stop_eps_change, min_acceptance, min_ess) if resumed else None
        budget = None
        if reason is None and hist.max_t + 1 < generations:
            # pyabc's own loop (ABCSMC.run) one generation at a time, so that the stopping rule is ours
            t = abc.initialize_components_before_run(
                minimum_epsilon=min_eps, max_nr_populations=generations - (hist.max_t + 1), min_acceptance_rate=0.0,
                max_total_nr_simulations=max_sims, max_walltime=dt.timedelta(minutes=max_minutes), min_eps_diff=0.0)
            while True:
                ret = abc.run_generation(t=t)
                if not ret["successful"]:
                    budget = "a budget ran out inside a generation"
                    break
                reason = stop_reason(generations_table(hist), stop_eps_change, min_acceptance, min_ess)
                if reason is not None:
                    break
                if abc.check_terminate(t=t, acceptance_rate=ret["acceptance_rate"]):
                    budget = (f"simulation budget ({max_sims}) spent" if hist.total_nr_simulations >= max_sims else
                              f"generation budget ({generations}) spent" if t >= abc.max_t else
                              f"time budget ({max_minutes:g} min) spent")
                    break
                t += 1
        elif reason is None:
            budget = f"generation budget ({generations}) spent"
    finally:
        close()
    wall = time.perf_counter() - t0
    gens = generations_table(hist)
    df, w = hist.get_distribution(m=0, t=hist.max_t)
    pops = hist.get_all_populations()
    draws = pd.DataFrame([to_natural(r, priors) for r in df[list(priors)].to_dict("records")])
    return {"draws": draws, "weights": np.asarray(w, dtype=float),
            "generations": int(hist.max_t + 1), "epsilons": [float(e) for e in pops.epsilon if np.isfinite(e)],
            "simulations": int(hist.total_nr_simulations), "wall_s_this_call": wall, "resumed": resumed,
            "wall_s_generations": float(np.nansum(pops.wall_time.to_numpy(dtype=float))),
            "pop_size": pop_size, "pop_size_later": later, "later_from": later_from,
            "ess": float(w.sum() ** 2 / (np.asarray(w) ** 2).sum()),
            "converged": reason is not None, "stopped_because": reason or budget,
            "stopping_rule": {"stop_eps_change": stop_eps_change, "min_acceptance": min_acceptance, "min_ess": min_ess},
            "generations_table": gens.to_dict("records")}


def first_generation_ranges(db: Path) -> dict[str, list[float]]:
    """Each figure's range (min, max) over the first generation's particles: draws from the prior that
    passed only the first, loose tolerance. A target outside it is out of reach of the priors."""
    import pyabc

    hist = pyabc.History(f"sqlite:///{db}")
    _, stats = hist.get_weighted_sum_stats(t=0)
    out = {}
    for k in stats[0]:
        x = np.array([s.get(k, np.nan) for s in stats], dtype=float)
        x = x[np.isfinite(x)]
        if len(x):
            out[k] = [float(x.min()), float(x.max())]
    return out


def tradeoffs(db: Path, targets: dict) -> dict[str, dict]:
    """Evidence of conflicts between targets: over the accepted particles of every generation, for each
    figure, how many came within one sd of it, and which other figures those particles missed by most
    more than all particles did (median |z|; the two largest increases)."""
    import pyabc

    hist = pyabc.History(f"sqlite:///{db}")
    rows = []
    for t in range(hist.max_t + 1):
        rows += [z_scores(s, targets) for s in hist.get_weighted_sum_stats(t=t)[1]]
    z = pd.DataFrame(rows).abs()
    base = z.median()
    out = {}
    for k in z.columns:
        near = z[z[k] <= 1.0]
        worse = (near.median() - base).drop(k).sort_values(ascending=False) if len(near) else pd.Series(dtype=float)
        out[k] = {"particles": int(len(z)), "within_1sd": int(len(near)),
                  "costs": {n: round(float(v), 2) for n, v in worse.head(2).items() if v >= 0.01}}
    return out


def write_posterior(res: dict, scale: float, wall_total_s: float, cal=None, extra: dict | None = None):
    """The shipped posterior of calibration `cal` (calibration/setting.py; default the Americas baseline's):
    weighted draws (csv) and how they were made (json), written atomically."""
    from abm.outputs import git_commit

    from calibration.setting import of

    cal = cal or of()
    csv, meta = cal.posterior_csv, cal.posterior_meta
    df = res["draws"].copy()
    df["weight"] = res["weights"] / res["weights"].sum()
    tmp = csv.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False, float_format="%.8g")
    os.replace(tmp, csv)
    info = {"method": "ABC-SMC (pyabc), adaptive median epsilon", "scale": scale,
            "seeds_per_particle": res.get("seeds_per_particle"), "run_end": res.get("run_end"),
            "stopping_rule": res.get("stopping_rule"), "stopped_because": res.get("stopped_because"),
            "generations_table": res.get("generations_table"),
            "scenario": cal.rel(cal.scenario), "pack": cal.pack, "posterior": cal.posterior,
            "population_size": res["pop_size"],
            "population_size_later": res["pop_size_later"], "later_from_generation": res["later_from"],
            "effective_sample_size": res["ess"], "draws": int(len(res["draws"])),
            "generations": res["generations"], "epsilons": res["epsilons"], "simulations": res["simulations"],
            "wall_s": wall_total_s, "git_commit": git_commit(), "date": dt.date.today().isoformat(),
            "priors": cal.rel(cal.priors), "targets": f"calibration/{cal.targets}", **(extra or {})}
    tmp = meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, meta)


def calibrate(out: Path, scale: float, pop_size: int, max_sims: int, max_minutes: float, generations: int,
              fresh: bool, progress: bool = True, pop_size_later: int | None = None, later_from: int = 4,
              scheduler: str | None = None, workers: int | None = None, seeds: int = SEEDS_PER_PARTICLE,
              cal=None) -> dict:
    """Fit the priors to the fit targets of calibration `cal` (calibration/setting.py; default the Americas
    baseline's), resuming OUT/abc.db. The shipped posterior (e.g. calibration/posterior.csv, .json) is replaced
    only when the stopping rule holds: a calibration that ran out of budget first is kept in its database, and
    the same command resumes it."""
    from calibration.setting import of

    import abm.model, abm.outputs, abm.scenario, calibration.targets  # noqa: F401  (imported once, before the workers fork)

    logging.getLogger("ABC").setLevel(logging.INFO)
    cal = cal or of()
    db = out / "abc.db"
    priors = load_priors(cal.priors)
    fit = load_targets(cal.targets, role="fit")
    end = last_date(fit)
    res = run_abc(db, Simulator(scale, seeds, end, cal.scenario, cal.targets), priors, fit, pop_size=pop_size, max_sims=max_sims,
                  max_minutes=max_minutes, generations=generations, fresh=fresh, progress=progress,
                  pop_size_later=pop_size_later, later_from=later_from, scheduler=scheduler,
                  n_procs=workers or os.cpu_count() or 1)
    res.update(seeds_per_particle=seeds, run_end=end)
    if not res["converged"]:
        return res
    # the cost of the posterior: the wall time of the generations it rests on, as pyabc recorded them
    # (an interrupted call's unfinished generation is not kept, and not counted)
    spent = res["wall_s_generations"]
    write_posterior(res, scale, spent, cal, extra={"first_generation_ranges": first_generation_ranges(db),
                                              "tradeoffs": tradeoffs(db, fit)})
    return res
