"""Calibration (issue 4): the ABC machinery recovers a known parameter; distances, posterior use and
the check's tables behave as documented."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from abm.errors import InputError
from calibration.posterior import load_run
from calibration import posterior
from calibration.abc import flat_observed, load_priors, make_distance, run_abc, z_scores
from calibration.check import parameters_table, targets_table
from calibration.targets import load_targets

BASELINE = "experiments/baseline.toml"


class Toy:
    """A stochastic toy model: y = theta + N(0, 0.2), z = theta * phi + N(0, 0.2)."""

    def __call__(self, p):
        # numpy's global generator, which run_abc seeds (pyabc draws from it too): the test is repeatable
        return {"y": p["toy.theta"] + np.random.normal(0, 0.2), "z": p["toy.theta"] * p["toy.phi"] + np.random.normal(0, 0.2)}


def test_toy_calibration_recovers_known_parameters(tmp_path):
    """theta = 4, phi = 1.5 generate y = 4, z = 6. With observation sd 0.2, the exact posterior has sd
    about 0.2 in theta; ABC's tolerance widens it somewhat. The posterior median must be within 0.5 of
    the truth (over twice the posterior sd) and the 90% interval must hold the truth and be less than a
    quarter of the prior's width: a broken distance, prior or export fails at least one of these."""
    np.random.seed(7)
    priors = {"toy.theta": {"dist": "uniform", "lo": 0.0, "hi": 10.0},
              "toy.phi": {"dist": "loguniform", "lo": 0.1, "hi": 10.0}}
    targets = {"y": {"value": 4.0, "error": {"sd": 0.2}}, "z": {"value": 6.0, "error": {"sd": 0.2}}}
    res = run_abc(tmp_path / "toy.db", Toy(), priors, targets, pop_size=100, max_sims=5000, max_minutes=5,
                  generations=12, n_procs=1, progress=False)
    df, w = res["draws"], res["weights"]
    assert res["epsilons"][-1] < res["epsilons"][0] / 5
    theta = posterior.weighted_quantile(df["toy.theta"].to_numpy(), w, [0.05, 0.5, 0.95])
    assert abs(theta[1] - 4.0) < 0.5 and theta[0] <= 4.0 <= theta[2] and theta[2] - theta[0] < 0.9 * 10 / 4, theta
    # phi: prior log-uniform over two decades; z = 6 +- 0.2 with theta near 4 pins it near 1.5
    phi = posterior.weighted_quantile(df["toy.phi"].to_numpy(), w, [0.05, 0.5, 0.95])
    assert abs(phi[1] - 1.5) < 0.3 and phi[0] <= 1.5 <= phi[2] and np.log(phi[2] / phi[0]) < 0.9 * np.log(100) / 4, phi
    # resuming adds generations to the same run
    more = run_abc(tmp_path / "toy.db", Toy(), priors, targets, pop_size=100, max_sims=5000, max_minutes=5,
                   generations=13, n_procs=1, progress=False)
    assert more["resumed"] and more["generations"] == res["generations"] + 1


def test_z_scores_bounds_and_ranges():
    targets = {"up": {"value": 10.0, "error": {"sd": 0.1, "relative": True, "bound": "upper"}},
               "low": {"value": 0.5, "error": {"sd": 0.05, "bound": "lower"}},
               "rng": {"value": [3, 4], "error": {"sd": 0.5}},
               "nat": {"value": {"A": 100.0}, "error": {"sd": 0.1, "relative": True}}}
    z = z_scores({"up": 8.0, "low": 0.6, "rng": 3.5, "nat:A": 110.0}, targets)
    assert z == {"up": 0.0, "low": 0.0, "rng": 0.0, "nat:A": pytest.approx(1.0)}
    z = z_scores({"up": 12.0, "low": 0.4, "rng": 5.0, "nat:A": math.nan}, targets)
    assert z["up"] == pytest.approx(2.0) and z["low"] == pytest.approx(-2.0) and z["rng"] == pytest.approx(2.0)
    assert z["nat:A"] == 10.0
    d = make_distance(targets)
    assert d({"up": 8.0, "low": 0.6, "rng": 3.5, "nat:A": 100.0}, {}) == 0.0


def test_every_target_has_an_error_model_and_a_source():
    targets = load_targets()
    for k, t in targets.items():
        assert "source" in t and "measure" in t and "error" in t, k
        assert t["error"]["sd"] > 0, k
    assert set(flat_observed(targets)) >= {"venezuelan_darien_drop_after_parole", "border_encounters_fy2023:Cuba"}


def test_priors_are_known_parameters_with_reasons():
    from abm.params import PARAMS

    for key, s in load_priors().items():
        sec, name = key.split(".")
        lo, hi = PARAMS[sec][name][1:3]
        assert lo <= s["lo"] < s["hi"] <= hi and s["reason"], key


def test_weighted_quantile():
    x = np.arange(1.0, 101.0)
    assert posterior.weighted_quantile(x, np.ones(100), 0.5) == pytest.approx(np.median(x), abs=0.51)
    w = np.where(x > 50, 1.0, 0.0)   # only the upper half counts
    assert 74 <= posterior.weighted_quantile(x, w, 0.5) <= 77


def test_check_tables():
    targets = {"a": {"role": "fit", "value": 10.0, "error": {"sd": 1}},
               "b": {"role": "fit", "value": 0.5, "error": {"sd": 0.1, "bound": "lower"}},
               "r": {"role": "check", "value": [3, 4], "error": {"sd": 0.5}}}
    runs = [{"figures": {"a": 8.0 + i / 10, "b": 0.6, "r": 4.5 + i / 100}} for i in range(41)]   # a in [8, 12]
    t = targets_table(runs, targets).set_index("target")
    assert list(t.role) == ["fit", "fit", "check"]
    assert t.loc["a", "inside"] and t.loc["b", "inside"] and not t.loc["r", "inside"]
    assert t.loc["a", "sim_lo90"] == pytest.approx(8.2) and t.loc["a", "sim_hi90"] == pytest.approx(11.8)
    priors = {"x.u": {"dist": "uniform", "lo": 0.0, "hi": 10.0}}
    post = pd.DataFrame({"x.u": np.linspace(4, 6, 101), "weight": 1.0})
    p = parameters_table(priors, post).iloc[0]
    assert p.width_ratio == pytest.approx(1.8 / 9.0, rel=0.05) and p.constrained


def test_runs_use_the_posterior_point_by_default():
    point = posterior.point()
    sc = load_run(BASELINE)
    for key, v in point.items():
        sec, name = key.split(".")
        assert getattr(sc, sec)[name] == pytest.approx(v)
    assert sc.resolved()["calibration"]["values"].startswith("point")
    # scenario values and --set still win; use_posterior=false gives the hand-set defaults
    key = next(iter(point))
    sec, name = key.split(".")
    sc = load_run(BASELINE, overrides=[f"{key}=0.3"])
    assert getattr(sc, sec)[name] == 0.3
    from abm.params import defaults

    sc = load_run(BASELINE, overrides=["run.use_posterior=false"])
    assert getattr(sc, sec)[name] == defaults()[sec][name]
    d1 = load_run(BASELINE, overrides=["run.posterior_draw=3"]).resolved()["calibration"]
    d2 = load_run(BASELINE, overrides=["run.posterior_draw=3"]).resolved()["calibration"]
    assert d1 == d2 and d1["values"] == "draw 3"


def test_bad_posterior_settings_are_input_errors(capsys):
    with pytest.raises(InputError, match="posterior_draw"):
        load_run(BASELINE, overrides=["run.posterior_draw=-1"])
    with pytest.raises(InputError, match="use_posterior"):
        load_run(BASELINE, overrides=["run.use_posterior=3"])
    assert main(["calibrate", "--check", "--check-scale", "2"]) == 2
    assert "--check-scale" in capsys.readouterr().err


def test_every_parameter_said_to_be_fitted_has_a_prior():
    """A parameter whose value is chosen to match data (its source says "calibrated" or "prior") is in
    calibration/priors.toml, with a range inside its bounds that holds its hand-set value; and a
    parameter with a prior is not said to be an assumption or a source's figure."""
    from abm.params import PARAMS

    priors = load_priors()
    fitted = {f"{sec}.{k}" for sec, table in PARAMS.items() for k, v in table.items()
              if v[3].startswith(("calibrated", "prior"))}
    assert fitted - set(priors) == set()
    assert set(priors) - fitted == set()
    for key in priors:
        sec, name = key.split(".")
        assert priors[key]["lo"] <= PARAMS[sec][name][0] <= priors[key]["hi"], key


def test_the_stopping_rule():
    """calibration.abc.stop_reason: stop after a generation that lowered the tolerance by less than 5% or
    accepted fewer than 2% of its proposals, but only once the effective sample size is at least 300."""
    from calibration.abc import stop_reason

    def gens(*rows):
        return pd.DataFrame([{"t": t, "epsilon": e, "acceptance": a, "ess": s} for t, (e, a, s) in enumerate(rows)])

    assert stop_reason(gens((10.0, 0.5, 400))) is None                              # one generation: no trend
    assert stop_reason(gens((10.0, 0.5, 400), (8.0, 0.3, 400))) is None             # fell by 20%, accepting
    assert "tolerance fell by 4.0%" in stop_reason(gens((10.0, 0.5, 400), (9.6, 0.3, 400)))
    assert "acceptance rate 1.00%" in stop_reason(gens((10.0, 0.5, 400), (8.0, 0.01, 400)))
    assert stop_reason(gens((10.0, 0.5, 400), (9.6, 0.01, 299))) is None            # too few effective draws
    assert stop_reason(gens((10.0, 0.5, 400), (9.6, 0.3, 100)), min_ess=50) is not None


@pytest.mark.parametrize("args, field", [(["--seeds", "0"], "--seeds"), (["--workers", "0"], "--workers"),
                                         (["--workers", "1", "--scheduler", "tcp://127.0.0.1:1"], "--workers"),
                                         (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler")])
def test_bad_calibration_settings_are_refused_before_any_work(tmp_path, capsys, args, field):
    from abm.cli import main

    out = tmp_path / "cal"
    assert main(["calibrate", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: command line: " + field) and "Traceback" not in err
    assert not out.exists()


def test_the_default_point_is_a_particle_of_the_posterior_near_its_joint_median():
    """Two clusters of particles, at (0, 1) and (1, 0), the second holding 60% of the weight: each marginal
    median falls in the heavier cluster here, but with the weight split 50/50 the vector of marginal medians
    could pair coordinates of different clusters. The joint point is always a particle, and with 60% of the
    weight in one cluster it is in that cluster."""
    rng = np.random.default_rng(3)
    a = rng.normal([0.0, 1.0], 0.05, (40, 2))
    b = rng.normal([1.0, 0.0], 0.05, (60, 2))
    df = pd.DataFrame(np.vstack([a, b]), columns=["x.u", "x.v"]).assign(weight=1.0)
    i = posterior.joint_point_index(df)
    assert i >= 40                                           # in the heavier cluster
    z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])
    m = posterior.spatial_median(z, np.ones(4))
    # the geometric median of these four lies inside their hull, and is not pulled to (10, 10) as the mean is
    assert np.linalg.norm(m) < 1.0 and np.linalg.norm(m - z.mean(axis=0)) > 2.0
