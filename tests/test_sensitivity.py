"""Global sensitivity analysis (SALib): ranges from the posterior, indices attached to the right parameters."""
import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from calibration.abc import load_priors
from experiments.sensitivity import HEADLINE, analyse, natural, problem, run_sensitivity, samples


def test_ranges_are_the_posterior_within_the_priors():
    from calibration import posterior

    prob, log = problem()
    # the priors the posterior has fitted: since issue 17, every prior
    priors = {k: v for k, v in load_priors().items() if k in posterior.load().columns}
    assert prob["names"] == list(priors) == list(load_priors())
    for k, (lo, hi) in zip(prob["names"], prob["bounds"]):
        plo, phi = (np.log10(priors[k]["lo"]), np.log10(priors[k]["hi"])) if log[k] else (priors[k]["lo"], priors[k]["hi"])
        assert plo <= lo < hi <= phi, k
    x = natural(np.array([b[0] for b in prob["bounds"]]), prob, log)
    assert x["information.wom_awareness"] == pytest.approx(10 ** prob["bounds"][0][0])


@pytest.mark.parametrize("method", ["morris", "sobol"])
def test_indices_name_the_parameter_that_matters(method):
    """A synthetic output that depends on one parameter only: that one gets the index, the others none."""
    prob, _ = problem()
    X = samples(method, prob, 20 if method == "morris" else 256, seed=3)
    j = 5
    lo, hi = prob["bounds"][j]
    y = (X[:, j] - lo) / (hi - lo)
    Y = pd.DataFrame({o: y for o in HEADLINE})
    t = analyse(method, prob, X, Y)
    t = t[t.output == HEADLINE[0]].set_index("parameter")
    key = prob["names"][j]
    if method == "morris":
        assert t.mu_star.idxmax() == key
        assert (t.drop(key).mu_star < 1e-9).all()
    else:
        # S1 of a purely additive single-parameter function is 1; the estimator's error is its bootstrap conf
        assert abs(t.loc[key, "S1"] - 1) < max(3 * t.loc[key, "S1_conf"], 0.05)
        assert (t.drop(key).ST.abs() < 0.05).all()


def test_morris_runs_the_model(tmp_path):
    res = run_sensitivity(tmp_path / "gsa", methods=("morris",), trajectories=2, scale=0.001, scheduler="single",
                          progress=False)
    t = res["morris"]
    k = len(load_priors())   # a Morris trajectory runs the model k + 1 times
    assert len(t) == k * len(HEADLINE) and np.isfinite(t.mu_star).all()
    assert res["manifest"]["runs"] == {"morris": 2 * (k + 1)}
    assert (tmp_path / "gsa" / "figures" / "morris.png").exists()
    assert len(pd.read_csv(tmp_path / "gsa" / "morris_samples.csv")) == 2 * (k + 1)


def test_bad_sobol_samples_is_an_input_error(tmp_path, capsys):
    assert main(["sensitivity", "--method", "sobol", "--samples", "48", "--out", str(tmp_path / "x")]) == 2
    assert "--samples" in capsys.readouterr().err
