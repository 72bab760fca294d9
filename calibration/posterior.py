"""The shipped posterior (calibration/posterior.csv: weighted draws from `smo-abm calibrate`) as runs use
it: by default its joint point (the particle nearest the posterior's spatial median), or one draw from it.

A pack opts in with meta `calibration_posterior` (a file in calibration/); scenario values and --set
still override the posterior's, and `run.use_posterior = false` gives the hand-set values of
abm/params.py (as calibration itself does).

abm/ does not read the posterior: the code that assembles a run (the command line, experiments, the
dashboard, benchmarks, calibration's own checks, tests) loads scenarios with `load_run` or
`run_from_data`, which hand abm/scenario.py the resolver `resolve` below. abm refuses a scenario of a pack
with a posterior loaded without one (abm.scenario.PosteriorNotResolved), unless it sets
`run.use_posterior = false`.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from abm import params as P
from abm.errors import InputError
from abm.scenario import Scenario, load_scenario, scenario_from_data

DIR = Path(__file__).parent
DRAW_SEED = 20221012   # fixed: draw K is the same draw for everyone


@lru_cache(maxsize=8)
def load(name: str = "posterior.csv") -> pd.DataFrame:
    df = pd.read_csv(DIR / name)
    df["weight"] = df["weight"] / df["weight"].sum()
    return df


def size(name: str = "posterior.csv") -> int:
    """How many weighted draws the posterior holds: draw numbers run from 0 to size - 1."""
    return len(load(name))


def params_of(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c != "weight"]


def weighted_quantile(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    """Quantiles of weighted draws: the inverse of the weighted empirical CDF, at its midpoints."""
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, x)


def spatial_median(Z: np.ndarray, w: np.ndarray, iterations: int = 200, tol: float = 1e-9) -> np.ndarray:
    """The weighted spatial (geometric) median of the rows of Z, the point minimising the weighted sum of
    Euclidean distances to them (Weiszfeld's iteration): the multivariate median, which, unlike the vector of
    marginal medians, does not mix coordinates of different parts of the cloud."""
    m = np.average(Z, axis=0, weights=w)
    for _ in range(iterations):
        d = np.maximum(np.linalg.norm(Z - m, axis=1), 1e-12)
        new = np.average(Z, axis=0, weights=w / d)
        if np.linalg.norm(new - m) < tol:
            return new
        m = new
    return m


def priors_of(name: str = "posterior.csv") -> dict:
    """The priors a posterior was fitted with: the file its sidecar (NAME.json) names, else priors.toml."""
    import json

    from calibration.abc import load_priors

    meta = (DIR / name).with_suffix(".json")
    file = json.loads(meta.read_text()).get("priors") if meta.exists() else None
    return load_priors(DIR.parent / file if file else DIR / "priors.toml")


def joint_point_index(df: pd.DataFrame, priors: dict | None = None) -> int:
    """The row of the posterior nearest its weighted spatial median, each parameter taken in the space the
    calibration worked in (log10 for a log-uniform prior: `priors`, default priors.toml's) and divided by its
    weighted sd: a particle the posterior holds, not a combination of marginals (issue 17)."""
    from calibration.abc import load_priors

    priors = priors if priors is not None else load_priors()
    w = df["weight"].to_numpy(dtype=float)
    cols = []
    for k in params_of(df):
        x = df[k].to_numpy(dtype=float)
        if priors.get(k, {}).get("dist") == "loguniform":
            x = np.log10(x)
        sd = math.sqrt(np.average((x - np.average(x, weights=w)) ** 2, weights=w))
        cols.append(x / sd if sd > 0 else x * 0.0)
    Z = np.column_stack(cols)
    return int(np.argmin(np.linalg.norm(Z - spatial_median(Z, w), axis=1)))


def point(name: str = "posterior.csv") -> dict[str, float]:
    """The posterior's joint point (joint_point_index), {"section.name": value}: what a run uses by
    default."""
    df = load(name)
    row = df.iloc[joint_point_index(df, priors_of(name))]
    return {k: float(row[k]) for k in params_of(df)}


def draws(n: int, name: str = "posterior.csv", seed: int = DRAW_SEED) -> list[dict[str, float]]:
    """n draws from the posterior (resampled by weight), the same for the same n and seed."""
    df = load(name)
    idx = np.random.default_rng(seed).choice(len(df), size=n, p=df["weight"].to_numpy())
    return [{k: float(df[k].iloc[i]) for k in params_of(df)} for i in idx]


def draw(k: int, name: str = "posterior.csv") -> dict[str, float]:
    """Draw number k (0 .. size - 1): the k-th of a fixed sequence of weighted resamples. A posterior of
    N draws has N numbered draws: beyond that, resampling would only repeat it (and a huge k would allocate
    k draws)."""
    n = size(name)
    if not 0 <= k < n:
        raise IndexError(f"posterior has {n} draws (0..{n - 1}), not {k}")
    return draws(k + 1, name)[k]


def resolve(name: str, k: int | None, pack, file) -> dict:
    """The calibration block of a run of `pack` (whose meta `calibration_posterior` is `name`): the point
    estimate, or draw k; an InputError naming the pack, the scenario's run.posterior_draw or the posterior's
    file if it cannot be had. abm/scenario.py calls it (a Resolver) while it validates the scenario."""
    if not (DIR / name).exists():
        raise InputError(pack.path / "pack.toml", "meta.calibration_posterior", f"no file calibration/{name}")
    if k is not None and k >= (n := size(name)):
        raise InputError(file, "run.posterior_draw", f"posterior has {n} draws (0..{n - 1}), not {k}")
    values = point(name) if k is None else draw(k, name)
    for key in values:
        sec, _, pname = key.partition(".")
        if sec not in P.PARAMS or pname not in P.PARAMS[sec]:
            raise InputError(DIR / name, key, "unknown parameter in the posterior")
    how = "point estimate (the particle nearest the joint median)" if k is None else f"draw {k}"
    return {"posterior": f"calibration/{name}", "values": how, "calibrated": values}


def load_run(path, overrides: list[str] | None = None, scale: float | None = None,
             seed: int | None = None) -> Scenario:
    """abm.scenario.load_scenario with the calibrated values of the pack's posterior (if it has one)."""
    return load_scenario(path, overrides=overrides, scale=scale, seed=seed, posterior=resolve)


def run_from_data(data: dict, path, overrides: list[str] | None = None, scale: float | None = None,
                  seed: int | None = None) -> Scenario:
    """abm.scenario.scenario_from_data with the calibrated values of the pack's posterior (if it has one)."""
    return scenario_from_data(data, path, overrides=overrides, scale=scale, seed=seed, posterior=resolve)
