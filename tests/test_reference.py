"""The vectorised weekly step agrees statistically with the per-agent Mesa reference step.

The reference step applies the same rules one Migrant at a time, in random order, on the live arrays
(asynchronous updating); the vectorised step applies them to everyone at once. They should give the
same distribution of outcomes. Design: the spread of each outcome is estimated from 20 cheap
vectorised runs; the mean of k reference runs (other seeds) must lie within 3.5 standard errors
(sd * sqrt(1/k + 1/20)) of the vectorised mean, for each of the outcomes below. Under agreement a
single outcome fails with probability about 0.05%, so the five together about 0.25%.

Power (issue 17, not met): the tolerance is 3.5 * sqrt(1/3 + 1/20) = 2.17 sd, so with equal spreads a
bias of one sd fails an outcome with probability about 3% (normal approximation). Measured on seeds
101-160 (vectorised) and 1-6 (per-agent), the per-agent sds over the vectorised are 2.48 (darien
crossings), 1.12, 1.03, 0.81, 0.62: the per-agent step spreads Darien crossings more, which this test of
means does not examine and which makes its false alarm for that outcome about 13%, not 0.05%. A design
with 80% power needs about 12 per-agent runs (38 s each at this scale) if the spreads are equal; the
per-agent step cannot be switched on for a stretch of a common run instead (switching it on and off again
moved border arrivals by -3.3 sd over 10 seeds, because the per-agent step does not keep the vectorised
step's clocks: 426 of 2,751 people had prompt clocks in the past after 4 weeks, so set_reference now
refuses to switch back), so none fits the default suite.
"""
import numpy as np
import pytest

from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run
from tests.conftest import BASELINE

# a year around the parole pause and the SMOs' first months, at a scale the per-agent step can afford
WINDOW = ["run.start=2022-09-01", "run.end=2023-08-31", "run.spinup_weeks=4"]
SCALE = 0.0002
OUTCOMES = ("darien_crossings", "border_arrivals", "parole_arrivals", "smo_registrations", "aware_smo_end")


def outcomes(seed: int, reference: bool) -> dict:
    m = SafeMobilityModel(load_run(BASELINE, scale=SCALE, seed=seed, overrides=WINDOW), reference=reference)
    m.run()
    m.release()
    ts = timeseries(m)
    tot = ts.groupby("metric").value.sum()
    last = ts[(ts.metric == "aware_smo") & (ts.date == ts.date.max())].value.sum()
    return {**{k: tot[k] for k in OUTCOMES[:-1]}, "aware_smo_end": last}


def _run(args):
    return outcomes(*args)


def runs(seeds, reference):
    from multiprocessing import get_context

    from tests.conftest import one_thread

    with get_context("fork").Pool(2, initializer=one_thread) as pool:
        return pool.map(_run, [(s, reference) for s in seeds])


@pytest.fixture(scope="module")
def vectorised():
    return runs(range(101, 121), False)


def check(vec, ref):
    for k in OUTCOMES:
        v = np.array([r[k] for r in vec])
        x = np.array([r[k] for r in ref])
        se = v.std(ddof=1) * np.sqrt(1 / len(x) + 1 / len(v))
        print(f"{k:18s} vectorised {v.mean():11.0f} (sd {v.std(ddof=1):8.0f}, n={len(v)}) | "
              f"per-agent {x.mean():11.0f} (n={len(x)}) | z = {(x.mean() - v.mean()) / se:+.2f}")  # pytest -s
        assert abs(x.mean() - v.mean()) <= 3.5 * se + 1e-9, (k, x.mean(), v.mean(), se)


def test_reference_step_agrees_with_vectorised(vectorised):
    check(vectorised, runs((1, 2, 3), True))


@pytest.mark.slow
def test_reference_step_agrees_with_vectorised_more_seeds(vectorised):
    check(vectorised, runs(range(4, 12), True))


def test_the_reference_step_cannot_be_switched_off():
    """The per-agent step does not keep the vectorised step's clocks, so going back would leave people who are
    never prompted again: set_reference refuses."""
    m = SafeMobilityModel(load_run(BASELINE, scale=SCALE, seed=1, overrides=WINDOW))
    m.set_reference(True)
    m.step()
    with pytest.raises(RuntimeError, match="cannot be switched off"):
        m.set_reference(False)
    m.set_reference(True)   # staying on is fine
