"""Shared fixtures: small runs of the Americas baseline and of the test pack, built once per session."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm.kernels import one_thread
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"
TESTLAND = ROOT / "tests" / "data" / "testland.toml"

# A small baseline for unit tests: a tenth of the default scale (about 15,000 agents).
SMALL = 0.001


def run_model(path=BASELINE, **kw):
    overrides = kw.pop("overrides", None)
    sc = load_run(path, overrides=overrides, **kw)
    m = SafeMobilityModel(sc)
    m.run()
    m.release()
    return m


@pytest.fixture(scope="session")
def small_run():
    m = run_model(scale=SMALL, seed=3)
    return m, timeseries(m)


def _ensemble_member(args):
    path, scale, seed, overrides = args
    m = run_model(path, scale=scale, seed=seed, overrides=overrides)
    return timeseries(m)


def ensemble(scale: float, seeds, overrides=None, path=BASELINE) -> list:
    """Time series of several seeds, run two at a time (the machine has two cores)."""
    from multiprocessing import get_context

    with get_context("fork").Pool(2, initializer=one_thread) as pool:
        return pool.map(_ensemble_member, [(path, scale, s, overrides) for s in seeds])


DEFAULT_SCALE = 0.01  # the baseline's default (experiments/baseline.toml)
SEEDS = (1, 2, 3, 4, 5)


@pytest.fixture(scope="session")
def default_ensemble():
    return ensemble(DEFAULT_SCALE, SEEDS)


def _figures_member(args):
    from calibration.targets import agreement_figures

    return {k: float(v) for k, v in agreement_figures(_ensemble_member(args)).items()}


def figures(scale: float, seeds, overrides=None, path=BASELINE) -> list[dict]:
    """The agreement figures (calibration.targets.agreement_figures) of several seeds, two at a time."""
    from multiprocessing import get_context

    with get_context("fork").Pool(2, initializer=one_thread) as pool:
        return pool.map(_figures_member, [(path, scale, s, overrides) for s in seeds])


@pytest.fixture(scope="session")
def paired_default():
    """The agreement figures at a fifth of the default scale, seeds 1..N (tests/power.py): one side of
    the paired tests of test_scale and test_catch_up."""
    from tests.power import N_SEEDS, SCALE_A

    return figures(SCALE_A, range(1, N_SEEDS + 1))


def assert_paired_equivalent(runs_a, runs_b, label_a: str, label_b: str, margin: float = 1.0) -> dict:
    """tests.power.equivalence_test per figure: the mean paired difference is shown to lie within +-margin
    seed-to-seed sds of the figure (Bonferroni over the figures). Prints the differences (pytest -s)."""
    from tests.power import equivalence_test

    res = equivalence_test(runs_a, runs_b, margin)
    for k, (d, se, sigma, bound, ok) in res.items():
        print(f"{k:32s} {label_a} - {label_b}: {d:+11.4g} (se {se:9.3g}) = {d / sigma:+.2f} sd; "
              f"upper bound of |difference| {bound:.2f} sd")
    bad = {k: v for k, v in res.items() if not v[4]}
    assert not bad, (f"{label_a} vs {label_b}: not shown within {margin} sd", bad)
    return res


def assert_paired_agree(runs_a, runs_b, label_a: str, label_b: str, alpha: float | None = None) -> dict:
    """Paired t-test per agreement figure of two sets of runs with the same seeds (runs_a[i] and
    runs_b[i] share people, network and draws): each must have p > alpha / figures (Bonferroni: family-
    wise false alarm under no bias at most alpha, tests.power.ALPHA). Prints the differences (pytest -s)
    and returns tests.power.paired_test's results."""
    from tests.power import ALPHA, paired_test

    alpha = ALPHA if alpha is None else alpha
    res = paired_test(runs_a, runs_b, alpha)
    for k, (d, se, t, p, ok) in res.items():
        mean = np.mean([r[k] for r in runs_a])
        print(f"{k:32s} {label_a}: {mean:12.4g}  {label_a} - {label_b}: {d:+11.4g} (se {se:9.3g}, t {t:+6.2f}, "
              f"p = {p:.4f})")
    bad = {k: v for k, v in res.items() if not v[4]}
    assert not bad, (f"{label_a} vs {label_b}: p <= {alpha / len(res):.4f}", bad)
    return res
