"""calibration/emulator.py on a toy simulator with known figures: the design fills the priors, an
interrupted design resumes without rerunning points, and the emulator's cross-validated error is small and
honestly stated (its 90% intervals hold about 90% of held-out points)."""
import numpy as np

from calibration.emulator import (Emulator, cross_validate, design_points, error_table, from_unit, run_design, table,
                                  to_unit)

PRIORS = {"toy.a": {"dist": "uniform", "lo": 0.0, "hi": 10.0},
          "toy.b": {"dist": "loguniform", "lo": 0.01, "hi": 1.0}}


def toy(job):
    """Two seeds of a smooth figure of the parameters with seed noise of sd 0.1."""
    params, _scale, seeds, _end, first, *_where = job
    a, b = params["toy.a"], np.log10(params["toy.b"])
    runs = [{"y": float(np.sin(a / 3) + b + np.random.default_rng(first + j).normal(0, 0.1)),
             "z": float(a * (b + 2))} for j in range(seeds)]
    return {"params": params, "runs": runs}


def test_the_design_fills_the_prior_in_abc_space():
    pts = design_points(PRIORS, 50, seed=3)
    u = np.array([to_unit(PRIORS, p) for p in pts])
    assert u.shape == (50, 2) and (u >= 0).all() and (u <= 1).all()
    # a Latin hypercube: one point in each of the 50 slices of each axis
    assert all(sorted(np.floor(u[:, j] * 50).astype(int)) == list(range(50)) for j in range(2))
    assert design_points(PRIORS, 50, seed=3) == pts
    p = from_unit(PRIORS, np.array([0.5, 0.5]))
    assert p["toy.a"] == 5.0 and abs(p["toy.b"] - 0.1) < 1e-12     # the log-uniform midpoint is the geometric one


def test_an_interrupted_design_resumes_and_the_emulator_states_its_error(tmp_path):
    pts = design_points(PRIORS, 80, seed=1)
    calls = []

    def counting(job):
        calls.append(job)
        return toy(job)

    run_design(tmp_path, pts[:30], 0.001, 2, "2024-05-31", progress=False, runner=counting)
    records = run_design(tmp_path, pts, 0.001, 2, "2024-05-31", progress=False, runner=counting)
    assert len(calls) == 80 and len(records) == 80            # the first 30 were not run again
    # a folder from another design (other points, or another scale) is not taken for this one
    other = design_points(PRIORS, 80, seed=9)
    run_design(tmp_path, other[:3] + pts[3:], 0.001, 2, "2024-05-31", progress=False, runner=counting)
    assert len(calls) == 83
    run_design(tmp_path, other[:3] + pts[3:], 0.002, 2, "2024-05-31", progress=False, runner=counting)
    assert len(calls) == 163
    records = run_design(tmp_path, pts, 0.001, 2, "2024-05-31", progress=False, runner=counting)
    assert len(calls) == 243 and [r["params"] for r in records] == pts
    X, Y, S2 = table(records, PRIORS, ["y", "z"])
    assert X.shape == (80, 2) and Y.shape == (80, 2)
    assert 0.001 < np.median(S2[:, 0]) < 0.02                 # seed noise of a 2-run mean: 0.01 / 2
    em = Emulator(["y", "z"]).fit(X, Y)
    err, psd = cross_validate(em, X, Y, folds=5)
    cv = error_table(err, psd, ["y", "z"], {"y": 0.2, "z": 1.0}).set_index("figure")
    # the held-out error of y is its seed noise (sd 0.1 / sqrt 2 = 0.07) plus a small emulator error
    assert 0.05 < cv.loc["y", "rmse"] < 0.15 and cv.loc["z", "rmse_in_target_sd"] < 0.2
    assert 0.75 <= cv.loc["y", "coverage90"] <= 1.0
    m, s = em.predict(to_unit(PRIORS, {"toy.a": 6.0, "toy.b": 0.1}))
    assert abs(m[0, 1] - 6.0) < 0.3 and abs(m[0, 0] - (np.sin(2) - 1)) < 0.15 and (s > 0).all()
    # the fast mean (ABC calls it per particle) is scikit-learn's own prediction
    u = np.random.default_rng(5).random((7, 2))
    assert np.allclose(em.mean(u), em.predict(u)[0], atol=1e-8)


def test_a_figure_with_a_relative_error_is_emulated_on_the_log_scale():
    """A count spanning three orders of magnitude over the prior: on the log scale it is a line in log10 b,
    which the GP learns from few points; its held-out error is then small in relative terms everywhere."""
    pts = design_points(PRIORS, 60, seed=2)
    X = np.array([to_unit(PRIORS, p) for p in pts])
    Y = np.array([[1e5 * p["toy.b"] ** 1.5] for p in pts])
    em = Emulator(["n"], log={"n"}).fit(X, Y)
    err, psd = cross_validate(em, X, Y)
    assert np.sqrt(np.mean(err ** 2)) < 0.05                    # a relative error below 5%
    assert np.allclose(em.from_emulated(em.mean(X)), Y, rtol=0.05)
