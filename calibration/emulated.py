"""ABC-SMC on an emulator of the model, in two waves: the calibration `smo-abm calibrate` ships.

Why (docs/calibration.md): ABC-SMC on the model itself costs about a second per particle here; over 16
parameters its importance weights collapsed in a pilot (effective sample size 40 to 1.9 in three
generations), and a population large enough to keep 300 would need more runs than 2.5 hours allow. The
issue's other route is "a calibrated emulator with a stated error":

1. Wave 1: a Latin hypercube of `wave1` points over the priors, each run `seeds` times at the calibration
   scale (calibration.emulator.run_design: one file per point, so it resumes), the runs on Dask.
2. A Gaussian-process emulator of every fit figure (calibration.emulator.Emulator), and ABC-SMC (pyabc,
   the same distance, kernels and stopping rule as calibration/abc.py) on it: a particle's figures are the
   emulator's mean plus a normal error whose sd is the emulator's cross-validated error for that figure,
   which holds both the emulator's own error and the seed-to-seed noise of a mean of `seeds` runs, as a
   particle of ABC on the model would carry.
3. Wave 2: `wave2` points drawn from that posterior and run on the model. They measure the wave-1
   emulator's error where the posterior lies, on points it never saw (the stated error), and refine it.
4. The emulator refitted on both waves; ABC-SMC on it again to the stopping rule; its final population
   (weighted particles, effective sample size at least 300) is the posterior. Its error sd per figure is
   the refitted emulator's cross-validated error over the wave-2 points.

Each pyabc run keeps its generations in a database in OUT (emulated-wave1.db, emulated.db) and resumes from
it, as long as the emulator it ran on is the same (a fingerprint of the design, the errors, the targets and
the population in DB.key; otherwise it starts over); the emulators are refitted from the design files on
every call (deterministic, a few minutes). A design file is reused only for the same point and settings.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.abc import (MIN_ESS, SEEDS_PER_PARTICLE, flat_observed, last_date, load_priors, run_abc,
                             seed_of, write_posterior)
from calibration.emulator import Emulator, cross_validate, design_points, error_table, run_design, table, to_unit
from calibration.targets import load_targets

WAVE1 = 1200   # design points over the priors: about 75 per parameter
WAVE2 = 400    # points from the wave-1 posterior
POP_SIZE = 2000   # particles per generation of ABC on the emulator (a particle costs a millisecond)
DESIGN_SEED, WAVE2_SEED, ABC_SEED = 1, 2, 1


def emulated_keys(targets: dict) -> tuple[list[str], set[str]]:
    """The flat fit figures, and those emulated on the log scale (targets with a relative error)."""
    keys = list(flat_observed(targets))
    log = {k for k in keys if targets[k.split(":")[0]]["error"].get("relative")}
    return keys, log


def target_sd(targets: dict, keys: list[str]) -> dict[str, float]:
    """Each figure's error sd on the scale of emulation (a relative sd is the sd of the log)."""
    return {k: float(targets[k.split(":")[0]]["error"]["sd"]) for k in keys}


class EmulatedSimulator:
    """A particle's figures from the emulator: its mean at the parameters plus a normal error of sd `noise`
    (per figure, scale of emulation), drawn from a generator seeded by the parameter values, so the same
    particle gives the same figures."""

    def __init__(self, em: Emulator, priors: dict, noise: np.ndarray):
        self.em, self.priors, self.noise = em, priors, np.asarray(noise, dtype=float)

    def __call__(self, params: dict) -> dict:
        z = self.em.mean(to_unit(self.priors, params)[None, :])[0]
        z = z + self.noise * np.random.default_rng(seed_of(params)).standard_normal(len(z))
        y = self.em.from_emulated(z[None, :])[0]
        return dict(zip(self.em.keys, map(float, y)))


def _design(folder: Path, points: list[dict], scale: float, seeds: int, end: str, client, progress: bool, cal):
    return run_design(folder, points, scale, seeds, end, progress=progress, runner=_DaskRunner(client),
                      scenario=cal.rel(cal.scenario), targets=cal.targets)


class _DaskRunner:
    """run_design's runner on Dask: every job submitted at once, finished ones handed back as they come."""

    def __init__(self, client):
        self.client = client

    def map(self, jobs):
        from distributed import as_completed

        from calibration.emulator import _run_point

        futures = {self.client.submit(_run_point, job, pure=False): k for k, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def posterior_sample(draws: pd.DataFrame, w: np.ndarray, n: int, seed: int) -> list[dict]:
    """n distinct particles drawn by weight (without replacement: a point run twice teaches the emulator
    little)."""
    p = np.asarray(w, float) / np.sum(w)
    n = min(n, int((p > 0).sum()))
    idx = np.random.default_rng(seed).choice(len(draws), size=n, replace=False, p=p)
    return [{k: float(v) for k, v in draws.iloc[i].items()} for i in idx]


def resume_or_fresh(db: Path, records: list[dict], noise, targets: dict, pop_size: int, fresh: bool) -> bool:
    """Whether the ABC in `db` must start over: asked to (`fresh`), or the emulator it ran on is not the one
    these records, errors, targets and population make (a fingerprint kept beside it in DB.key; a database
    without one is from before fingerprints and starts over too). Keeps the new fingerprint."""
    import hashlib

    from abm.outputs import write_text_atomic

    text = json.dumps([[r["params"], r["runs"]] for r in records], sort_keys=True)
    text += json.dumps([list(map(float, noise)), targets, pop_size], sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()
    keyfile = db.with_name(db.name + ".key")
    stale = db.exists() and (not keyfile.exists() or keyfile.read_text() != key)
    write_text_atomic(keyfile, key)
    return fresh or stale


def fit_emulator(records: list[dict], priors: dict, keys: list[str], log: set[str], seed: int = 1):
    X, Y, _ = table(records, priors, keys)
    return Emulator(keys, log).fit(X, Y, restarts=0, seed=seed), X, Y


def calibrate_emulated(out: Path, scale: float, seeds: int = SEEDS_PER_PARTICLE, wave1: int = WAVE1,
                       wave2: int = WAVE2, pop_size: int = POP_SIZE, max_minutes: float = 150.0,
                       generations: int = 30, fresh: bool = False, progress: bool = True,
                       scheduler: str | None = None, workers: int | None = None, write: bool = True,
                       cal=None) -> dict:
    """The two waves (module docstring) for calibration `cal` (calibration/setting.py: a scenario and its pack's
    targets, priors and posterior; default the Americas baseline's). Writes OUT/design/, OUT/emulated-wave1.db,
    OUT/emulated.db, OUT/emulator.csv (the stated error) and, if the final ABC's stopping rule holds, the
    pack's posterior."""
    from calibration.setting import of

    import abm.model, abm.outputs, abm.scenario, calibration.targets  # noqa: F401  (before workers start)

    logging.getLogger("ABC").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    deadline = t0 + 60 * max_minutes
    out = Path(out)
    cal = cal or of()
    priors, fit = load_priors(cal.priors), load_targets(cal.targets, role="fit")
    end = last_date(fit)
    keys, log = emulated_keys(fit)
    sd = target_sd(fit, keys)
    client, close = _client(scheduler, workers)
    try:
        rec1 = _design(out / "design" / "wave1", design_points(priors, wave1, DESIGN_SEED), scale, seeds, end,
                       client, progress, cal)
        em1, X1, Y1 = fit_emulator(rec1, priors, keys, log)
        err1, psd1 = cross_validate(em1, X1, Y1)
        noise1 = error_table(err1, psd1, keys, sd).rmse.to_numpy()
        left = (deadline - time.perf_counter()) / 60
        # wave 1's posterior only chooses where to run the model next: half the particles serve, and it
        # stops on the tolerance alone (no effective sample size is asked of it)
        pop1 = max(pop_size // 2, wave2)
        db1 = out / "emulated-wave1.db"
        res1 = run_abc(db1, EmulatedSimulator(em1, priors, noise1), priors, fit, pop_size=pop1, max_sims=10 ** 9,
                       max_minutes=max(left, 0.1), generations=generations, n_procs=1, progress=False,
                       fresh=resume_or_fresh(db1, rec1, noise1, fit, pop1, fresh), seed=ABC_SEED, min_ess=0)
        pts2 = posterior_sample(res1["draws"], res1["weights"], wave2, WAVE2_SEED)
        rec2 = _design(out / "design" / "wave2", pts2, scale, seeds, end, client, progress, cal)
    finally:
        close()
    X2, Y2, _ = table(rec2, priors, keys)
    # the stated error: the wave-1 emulator on wave-2 points, which it never saw, where the posterior lies
    m2, s2 = em1.predict(X2)
    stated = error_table(m2 - em1.to_emulated(Y2), s2, keys, sd).add_prefix("wave1_on_wave2_")
    em, X, Y = fit_emulator(rec1 + rec2, priors, keys, log)
    err, psd = cross_validate(em, X, Y)
    final = error_table(err, psd, keys, sd, rows=np.arange(len(rec1), len(rec1) + len(rec2)))
    errors = pd.concat([final, stated.drop(columns="wave1_on_wave2_figure")], axis=1)
    tmp = out / "emulator.csv.tmp"
    errors.to_csv(tmp, index=False, float_format="%.5g")
    tmp.replace(out / "emulator.csv")
    left = (deadline - time.perf_counter()) / 60
    db = out / "emulated.db"
    noise = final.rmse.to_numpy()
    res = run_abc(db, EmulatedSimulator(em, priors, noise), priors, fit, pop_size=pop_size, max_sims=10 ** 9,
                  max_minutes=max(left, 0.1), generations=generations, n_procs=1, progress=False,
                  fresh=resume_or_fresh(db, rec1 + rec2, noise, fit, pop_size, fresh), seed=ABC_SEED)
    # the design's share of the wall time: its runs' own times over the workers (a point written before the
    # design recorded its time counts as none, and is counted in `design_points_untimed`)
    design_wall = sum(r.get("wall_s", 0.0) for r in rec1 + rec2) / max(1, _n_workers(scheduler, workers))
    untimed = sum("wall_s" not in r for r in rec1 + rec2)
    res.update(seeds_per_particle=seeds, run_end=end, wave1_generations=res1["generations_table"],
               emulator_errors=errors.to_dict("records"), design=(wave1, len(pts2)),
               model_runs=(len(rec1) + len(rec2)) * seeds, wall_s_this_call=time.perf_counter() - t0,
               design_wall_s=design_wall)
    if res["converged"] and write:
        write_posterior(res, scale, design_wall + res["wall_s_generations"] + res1["wall_s_generations"], cal,
                        extra={"method": "ABC-SMC (pyabc) on a Gaussian-process emulator, two waves "
                                         "(calibration/emulated.py)",
                               "design_points": {"wave1": wave1, "wave2": len(pts2)},
                               "model_runs": res["model_runs"], "wave1_generations_table": res1["generations_table"],
                               "emulator_errors": res["emulator_errors"], "min_ess": MIN_ESS,
                               "design_points_untimed": untimed, "wall_s_this_call": res["wall_s_this_call"]})
    return res


def _n_workers(scheduler, workers) -> int:
    import os

    return 1 if scheduler else (workers or os.cpu_count() or 1)


def _client(scheduler: str | None, workers: int | None):
    """A Dask client: on a running scheduler, or a LocalCluster of single-threaded worker processes (one per
    core by default); (client, close)."""
    import os

    from distributed import Client, LocalCluster

    cluster = None if scheduler else LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                                  processes=True, dashboard_address=":0",
                                                  silence_logs=logging.ERROR)
    client = Client(cluster if cluster is not None else scheduler)

    def close():
        client.close()
        if cluster is not None:
            cluster.close()
    return client, close
