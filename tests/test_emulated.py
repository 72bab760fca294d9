"""calibration/emulated.py: the emulated particle, the second wave's draw, and the two waves end to end on
the model at a tiny scale (wiring, files, resume; the fit itself is judged by `smo-abm calibrate --check`)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from calibration.abc import load_priors
from calibration.emulated import EmulatedSimulator, calibrate_emulated, emulated_keys, posterior_sample, target_sd
from calibration.emulator import Emulator, design_points, to_unit
from calibration.targets import load_targets


def test_fit_figures_with_a_relative_error_are_emulated_on_the_log_scale():
    fit = load_targets(role="fit")
    keys, log = emulated_keys(fit)
    assert "darien_venezuela_2023" in log and "smuggler_use_2023" in keys and "smuggler_use_2023" not in log
    assert all(k.split(":")[0] in fit for k in keys)
    sd = target_sd(fit, keys)
    assert sd["darien_venezuela_2023"] == fit["darien_venezuela_2023"]["error"]["sd"]


def test_an_emulated_particle_is_the_emulator_mean_plus_its_stated_error():
    priors = {"toy.a": {"dist": "uniform", "lo": 0.0, "hi": 1.0}}
    pts = design_points(priors, 30, seed=1)
    X = np.array([to_unit(priors, p) for p in pts])
    Y = np.column_stack([100 * np.exp(X[:, 0]), X[:, 0]])
    em = Emulator(["n", "s"], log={"n"}).fit(X, Y)
    sim = EmulatedSimulator(em, priors, noise=[0.1, 0.0])
    a = sim({"toy.a": 0.5})
    assert a == sim({"toy.a": 0.5})                              # the same particle, the same figures
    assert abs(a["s"] - 0.5) < 0.02                              # no error stated: the mean
    draws = [sim({"toy.a": 0.5 + 1e-9 * k})["n"] for k in range(400)]
    # log-normal around 100 e^0.5 with sd 0.1 on the log scale (400 draws: the sd's standard error is 0.0035)
    assert abs(np.std(np.log(draws)) - 0.1) < 0.015 and abs(np.mean(np.log(draws)) - 0.5 - np.log(100)) < 0.02


def test_the_second_wave_draws_distinct_particles_by_weight():
    df = pd.DataFrame({"x.u": np.arange(10.0)})
    w = np.array([0.0] * 5 + [1.0] * 5)
    out = posterior_sample(df, w, 8, seed=1)
    assert len(out) == 5 and sorted(p["x.u"] for p in out) == [5.0, 6.0, 7.0, 8.0, 9.0]


def test_the_two_waves_run_end_to_end_and_resume(tmp_path):
    """Tiny: 6 + 3 points, one run each at 0.001, 40 particles for 2 generations (so never converged:
    nothing is written to calibration/); a second call reruns no model."""
    kw = dict(scale=0.001, seeds=1, wave1=6, wave2=3, pop_size=40, max_minutes=5, generations=2,
              progress=False, workers=1, write=False)
    res = calibrate_emulated(tmp_path, **kw)
    assert not res["converged"] and res["model_runs"] == 9
    files = sorted((tmp_path / "design").rglob("p*.json"))
    assert len(files) == 9 and all(json.loads(f.read_text())["wall_s"] > 0 for f in files)
    errors = pd.read_csv(tmp_path / "emulator.csv")
    assert len(errors) == len(emulated_keys(load_targets(role="fit"))[0])
    stamps = [f.stat().st_mtime_ns for f in files]
    again = calibrate_emulated(tmp_path, **kw)
    assert [f.stat().st_mtime_ns for f in files] == stamps and again["model_runs"] == 9


def test_an_abc_database_resumes_only_on_the_same_emulator(tmp_path):
    from calibration.emulated import resume_or_fresh

    db = tmp_path / "e.db"
    recs = [{"params": {"x.u": 1.0}, "runs": [{"y": 2.0}]}]
    assert not resume_or_fresh(db, recs, [0.1], {"t": 1}, 10, fresh=False)   # nothing to resume yet
    db.write_text("generations")
    assert not resume_or_fresh(db, recs, [0.1], {"t": 1}, 10, fresh=False)   # the same emulator: resume
    assert resume_or_fresh(db, recs, [0.1], {"t": 1}, 10, fresh=True)        # asked to start over
    other = [{"params": {"x.u": 1.0}, "runs": [{"y": 2.5}]}]
    assert resume_or_fresh(db, other, [0.1], {"t": 1}, 10, fresh=False)      # another design: start over
    assert resume_or_fresh(db, recs, [0.2], {"t": 1}, 10, fresh=False)       # other errors
    (tmp_path / "e.db.key").unlink()
    assert resume_or_fresh(db, recs, [0.2], {"t": 1}, 10, fresh=False)       # no fingerprint: start over
