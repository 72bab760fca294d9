"""An emulator of the fit figures: the route issue 17 allows ("a calibrated emulator with a stated error")
when ABC-SMC on the model itself cannot reach an effective sample size of 300 within the time budget
(docs/calibration.md: over 16 parameters its importance weights collapsed in a pilot, ESS 40 to 1.9).

Three steps, each usable on its own:

1. `design_points`: a Latin hypercube over the priors (scipy.stats.qmc), in the space ABC works in (log10
   for log-uniform priors), so the points fill the prior evenly.
2. `run_design`: each point simulated with `seeds` runs (calibration.abc.simulate, runs ending on the last
   day a fit target reads), one JSON file per point written atomically, so an interrupted design resumes
   where it stopped; the runs go two at a time (one per core).
3. `Emulator.fit`: one Gaussian process per fit figure (scikit-learn: a constant times an anisotropic RBF
   kernel plus white noise, inputs scaled to the unit cube), and `cross_validate`: k-fold predictions
   of held-out points, whose error is stated per figure against the target's own error sd, and the
   coverage of the emulator's 90% predictive intervals.

The ABC on the emulator and its check with real runs are the next step (docs/calibration.md).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.setting import BASELINE, ROOT

DEFAULT_SCENARIO = str(BASELINE.relative_to(ROOT))   # a design's scenario, relative to the repository

# --- 1. the design ---

def to_unit(priors: dict, params: dict[str, float]) -> np.ndarray:
    """A parameter set (natural units) as a point of the unit cube, in ABC's space (log10 for log-uniform)."""
    out = []
    for k, s in priors.items():
        lo, hi, x = float(s["lo"]), float(s["hi"]), float(params[k])
        if s["dist"] == "loguniform":
            lo, hi, x = math.log10(lo), math.log10(hi), math.log10(x)
        out.append((x - lo) / (hi - lo))
    return np.array(out)


def from_unit(priors: dict, u: np.ndarray) -> dict[str, float]:
    out = {}
    for j, (k, s) in enumerate(priors.items()):
        lo, hi = float(s["lo"]), float(s["hi"])
        if s["dist"] == "loguniform":
            out[k] = float(10 ** (math.log10(lo) + u[j] * (math.log10(hi) - math.log10(lo))))
        else:
            out[k] = float(lo + u[j] * (hi - lo))
    return out


def design_points(priors: dict, n: int, seed: int = 1) -> list[dict[str, float]]:
    """n parameter sets from a Latin hypercube over the priors (each prior's range cut in n equal slices, one
    point in each, in ABC's space), the same for the same n and seed."""
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(priors), seed=np.random.default_rng(seed)).random(n)
    return [from_unit(priors, row) for row in u]


# --- 2. running it ---

def _run_point(args) -> dict:
    from abm.kernels import one_thread

    from .abc import run_baseline

    import time

    one_thread()
    params, scale, seeds, end, first_seed, scenario, targets = args
    t0 = time.perf_counter()
    runs = [run_baseline(params, scale, first_seed + j, Path(scenario), end, targets)[0] for j in range(seeds)]
    return {"params": params, "runs": runs, "wall_s": time.perf_counter() - t0}


def _done(file: Path, params: dict, scale: float, seeds: int, end: str, scenario: str = DEFAULT_SCENARIO) -> bool:
    """Whether `file` holds this point already run as asked: the same parameter values, scale, runs, end and
    scenario (a file from another design, priors or settings under the same number is run again and replaced; a
    record written before the settings were kept is compared on its parameters alone, and on the Americas
    baseline, the only scenario calibrated then)."""
    if not file.exists():
        return False
    try:
        rec = json.loads(file.read_text())
    except (OSError, ValueError):
        return False
    same = rec.get("params") == params and len(rec.get("runs", [])) == seeds
    return same and rec.get("scenario", DEFAULT_SCENARIO) == scenario and \
        all(rec.get(k, v) == v for k, v in (("scale", scale), ("seeds", seeds), ("end", end)))


def run_design(folder: Path, points: list[dict], scale: float, seeds: int, end: str, progress: bool = True,
               runner=None, scenario: str = DEFAULT_SCENARIO, targets: str = "targets.toml") -> list[dict]:
    """Simulate every design point (`seeds` runs each of `scenario`, a path relative to the repository, seeds
    1000k + 1, ...; the figures of the targets file `targets`), keeping each finished point in
    folder/pNNNNN.json; points already there are not run again. Returns every point's record.

    `runner`: None runs two processes here; an object with a method `map(jobs)` yielding (job index, record)
    as they finish (calibration.emulated's Dask runner); or a function of one job (tests)."""
    from multiprocessing import get_context

    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"p{k:05d}.json" for k in range(len(points))]
    todo = [k for k in range(len(points)) if not _done(files[k], points[k], scale, seeds, end, scenario)]
    path = str(ROOT / scenario)
    jobs = [(points[k], scale, seeds, end, 1000 * (k + 1), path, targets) for k in todo]
    run = runner or _run_point

    def keep(k, res):
        res = {**res, "scale": scale, "seeds": seeds, "end": end, "scenario": scenario}   # what _done compares
        tmp = files[k].with_name(f".{files[k].name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(res))
        os.replace(tmp, files[k])

    with tqdm(total=len(points), initial=len(points) - len(todo), desc="design runs", disable=not progress) as bar:
        if hasattr(runner, "map"):
            for i, res in runner.map(jobs):
                keep(todo[i], res)
                bar.update()
        elif runner is not None:
            for k, job in zip(todo, jobs):
                keep(k, run(job))
                bar.update()
        elif todo:
            with get_context("fork").Pool(2) as pool:
                for k, res in zip(todo, pool.imap(run, jobs)):
                    keep(k, res)
                    bar.update()
    return [json.loads(f.read_text()) for f in files]


def table(records: list[dict], priors: dict, keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (points in the unit cube), Y (each figure's mean over the point's runs) and S2 (the variance of that
    mean estimated from the runs: the simulator's noise, seed to seed)."""
    X = np.array([to_unit(priors, r["params"]) for r in records])
    runs = [np.array([[run.get(k, np.nan) for k in keys] for run in r["runs"]], dtype=float) for r in records]
    Y = np.array([np.nanmean(x, axis=0) for x in runs])
    S2 = np.array([np.nanvar(x, axis=0, ddof=1) / len(x) if len(x) > 1 else np.full(len(keys), np.nan) for x in runs])
    return X, Y, S2


# --- 3. the emulator and its error ---

class Emulator:
    """One Gaussian process per figure over the unit cube; predicts a figure's mean and its sd.

    A figure whose target states a relative error is emulated as its logarithm (a relative error is an
    absolute one on the log scale, and counts that span orders of magnitude over the priors vary more evenly
    there); the others (shares, ratios) as they are. `predict` and `mean` answer on the figures' own scale
    of emulation (`to_emulated` / `from_emulated` convert).

    Fitting a GP's kernel costs the cube of its points for each step of the optimiser: the kernel is fitted
    on at most `hyper_points` of them (drawn at random), then the GP is conditioned on all points with that
    kernel held fixed."""

    def __init__(self, keys: list[str], log: set[str] | None = None):
        self.keys = keys
        self.log = set(log or ())
        self.models = {}

    def to_emulated(self, Y: np.ndarray) -> np.ndarray:
        Y = np.array(Y, dtype=float)
        for j, k in enumerate(self.keys):
            if k in self.log:
                Y[:, j] = np.log(np.maximum(Y[:, j], 1.0))   # a count of 0 is below every target's reach anyway
        return Y

    def from_emulated(self, Z: np.ndarray) -> np.ndarray:
        Z = np.array(Z, dtype=float)
        for j, k in enumerate(self.keys):
            if k in self.log:
                Z[..., j] = np.exp(Z[..., j])
        return Z

    def fit(self, X: np.ndarray, Y: np.ndarray, restarts: int = 1, seed: int = 1, hyper_points: int = 300,
            kernels: dict | None = None) -> "Emulator":
        """Fit on points X (unit cube) and figures Y (own scale). `kernels` (from another Emulator's
        `kernels()`) are used as they are instead of being fitted."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        d = X.shape[1]
        Z = self.to_emulated(Y)
        rng = np.random.default_rng(seed)
        for j, k in enumerate(self.keys):
            ok = np.flatnonzero(np.isfinite(Z[:, j]))
            if kernels is None:
                kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.5), (1e-2, 1e2))
                          + WhiteKernel(1e-2, (1e-6, 1.0)))
                sub = ok if len(ok) <= hyper_points else rng.choice(ok, hyper_points, replace=False)
                with warnings.catch_warnings():
                    # a length scale at its upper bound says the figure does not depend on that parameter:
                    # an answer, not a failure
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=restarts,
                                                  random_state=seed).fit(X[sub], Z[sub, j])
                kernel = gp.kernel_
            else:
                kernel = kernels[k]
            self.models[k] = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None).fit(X[ok], Z[ok, j])
        return self

    def kernels(self) -> dict:
        return {k: gp.kernel_ for k, gp in self.models.items()}

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(means, sds) on the scale of emulation, each points x figures; the sd includes the simulator's
        noise as the GP's white-noise term estimated it."""
        out = [self.models[k].predict(np.atleast_2d(X), return_std=True) for k in self.keys]
        return np.column_stack([m for m, _ in out]), np.column_stack([s for _, s in out])

    def mean(self, X: np.ndarray) -> np.ndarray:
        """The GPs' means at X (points x figures, scale of emulation), computed directly from each fitted
        kernel (constant x RBF; the white-noise term adds nothing off the training points): scikit-learn's
        `predict` costs about a millisecond per call, and ABC calls it once per particle and figure."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if not hasattr(self, "_fast"):
            self._fast = []
            for k in self.keys:
                gp = self.models[k]
                prod = gp.kernel_.k1          # ConstantKernel * RBF
                scale = np.atleast_1d(prod.k2.length_scale)
                self._fast.append((gp.X_train_ / scale, scale, prod.k1.constant_value, gp.alpha_.ravel(),
                                   float(np.ravel(gp._y_train_mean)[0]), float(np.ravel(gp._y_train_std)[0])))
        out = np.empty((len(X), len(self.keys)))
        for j, (Xs, scale, c, alpha, mu, sd) in enumerate(self._fast):
            Q = X / scale
            d2 = (Q ** 2).sum(1)[:, None] + (Xs ** 2).sum(1)[None, :] - 2.0 * Q @ Xs.T
            out[:, j] = mu + sd * (c * np.exp(-0.5 * np.maximum(d2, 0.0))) @ alpha
        return out


def cross_validate(em: Emulator, X: np.ndarray, Y: np.ndarray, folds: int = 5,
                   seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """k-fold: each point predicted by an emulator conditioned on the other folds (with `em`'s kernels).
    Returns the held-out errors (prediction - simulated) and the predictive sds, points x figures, on the
    scale of emulation (NaN where a run could not compute the figure)."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(X)) % folds
    Z = em.to_emulated(Y)
    err, psd = np.full(Y.shape, np.nan), np.full(Y.shape, np.nan)
    for f in range(folds):
        test = fold == f
        held = Emulator(em.keys, em.log).fit(X[~test], Y[~test], kernels=em.kernels())
        pred, psd[test] = held.predict(X[test])
        err[test] = pred - Z[test]
    return err, psd


def error_table(err: np.ndarray, psd: np.ndarray, keys: list[str], sd: dict[str, float],
                rows: np.ndarray | None = None) -> pd.DataFrame:
    """Per figure, over the held-out points `rows` (default all): the RMS error on the scale of emulation,
    the same in units of the target's error sd (`sd`: a relative sd is the sd of the log), and the share
    of held-out values inside the emulator's 90% predictive interval (about 0.9 if it states its error
    honestly)."""
    rows = np.arange(len(err)) if rows is None else rows
    out = []
    for j, k in enumerate(keys):
        e, s = err[rows, j], psd[rows, j]
        ok = np.isfinite(e)
        rmse = float(np.sqrt(np.mean(e[ok] ** 2))) if ok.any() else math.nan
        out.append({"figure": k, "rmse": rmse, "rmse_in_target_sd": rmse / sd[k],
                    "coverage90": float(np.mean(np.abs(e[ok]) <= 1.645 * s[ok])) if ok.any() else math.nan,
                    "points": int(ok.sum())})
    return pd.DataFrame(out)
