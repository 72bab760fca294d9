"""The shipped posterior (calibration/posterior.csv: weighted draws from `smo-abm calibrate`) as runs use
it: by default its point estimate (each parameter's weighted median), or one draw from it.

A pack opts in with meta `calibration_posterior` (a file in calibration/); scenario values and --set
still override the posterior's, and `run.use_posterior = false` gives the hand-set values of
abm/params.py (as calibration itself does).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

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


def point(name: str = "posterior.csv") -> dict[str, float]:
    """Each parameter's posterior weighted median, {"section.name": value}."""
    df = load(name)
    return {k: float(weighted_quantile(df[k].to_numpy(), df["weight"].to_numpy(), 0.5)) for k in params_of(df)}


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
