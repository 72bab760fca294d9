"""The vectorised weekly step agrees statistically with the per-agent Mesa reference step.

The reference step applies the same rules one Migrant at a time, in random order, on the live arrays
(asynchronous updating); the vectorised step applies them to everyone at once. They should give the
same distribution of outcomes' means. The per-agent step costs about 38 s a run here, so the comparison is
marked slow (`make test-slow`, which `.ci/run` runs after `make test`); a gross-error check of 3 per-agent
runs that stood in the default suite (101 s of a CI run) was dropped, as this test does its job with power:

- `test_reference_step_agrees_with_vectorised_powered`: 20 per-agent runs (seeds 4-23) against 40 vectorised
  runs (seeds 101-140), a Welch t-test per outcome at 0.01 (Bonferroni over the 5 outcomes: a family-wise
  false alarm of 5%). Power (issue 17), computed with tests.power.welch_power (noncentral t, Welch-
  Satterthwaite degrees of freedom) against a bias of one seed-to-seed sd (the larger of the two steps' sds),
  at the sd ratios (per-agent over vectorised) the test itself measured (seeds 4-23 against 101-140,
  2026-12-07, 600 s on two cores): Darien crossings 1.21 (power 0.86), border arrivals 0.90 (0.88), parole
  arrivals 0.94 (0.86), SMO registrations 0.84 (0.91), aware of the SMOs 1.03 (0.83). It prints them (pytest
  -s). Planned on the ratios of 6 per-agent runs (Darien 2.48, the others 0.62-1.12), the design keeps at
  least 0.83 at those.

Why Welch and the larger sd: the two steps need not spread an outcome equally (6 per-agent runs
suggested 2.5 times more for Darien crossings; 20 gave 1.21), so each side's sd is estimated from its own
runs, and a bias smaller than the noise of the noisier step is not one a seed-to-seed comparison is asked
to resolve. The per-agent step
cannot be switched on for a stretch of a common run instead (switching it on and off again moved border
arrivals by -3.3 sd over 10 seeds, because the per-agent step does not keep the vectorised step's clocks:
426 of 2,751 people had prompt clocks in the past after 4 weeks, so set_reference refuses to switch back).
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


def welch(vec, ref, alpha: float = 0.05):
    """A Welch t-test per outcome at alpha / outcomes; prints each outcome's sd ratio and the design's power
    at it (pytest -s)."""
    from scipy import stats

    from tests.power import welch_power

    for k in OUTCOMES:
        v = np.array([r[k] for r in vec], float)
        x = np.array([r[k] for r in ref], float)
        p = float(stats.ttest_ind(x, v, equal_var=False).pvalue)
        ratio = x.std(ddof=1) / v.std(ddof=1)
        print(f"{k:18s} per-agent {x.mean():11.0f} vectorised {v.mean():11.0f} sd ratio {ratio:.2f} "
              f"Welch p {p:.4f} power at this ratio {welch_power(ratio, len(x), len(v), alpha / len(OUTCOMES)):.2f}")
        assert p > alpha / len(OUTCOMES), (k, x.mean(), v.mean(), p)


@pytest.mark.slow
def test_reference_step_agrees_with_vectorised_powered(vectorised):
    welch(vectorised + runs(range(121, 141), False), runs(range(4, 24), True))


def test_the_reference_step_cannot_be_switched_off():
    """The per-agent step does not keep the vectorised step's clocks, so going back would leave people who are
    never prompted again: set_reference refuses."""
    m = SafeMobilityModel(load_run(BASELINE, scale=SCALE, seed=1, overrides=WINDOW))
    m.set_reference(True)
    m.step()
    with pytest.raises(RuntimeError, match="cannot be switched off"):
        m.set_reference(False)
    m.set_reference(True)   # staying on is fine
