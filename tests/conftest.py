"""Shared fixtures: small runs of the Americas baseline and of the test pack, built once per session."""
from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def half_scale_ensemble():
    return ensemble(DEFAULT_SCALE / 2, SEEDS)


def assert_figures_agree(runs_a, runs_b, label_a: str, label_b: str) -> dict:
    """Welch t-test per headline figure (calibration.targets.agreement_figures) of two ensembles' time
    series; each must have p > 0.001 (six figures: family-wise false alarm under agreement at most
    0.6%). Prints the means (pytest -s) and returns the welch results."""
    from calibration.targets import agreement_figures, welch

    res = welch([agreement_figures(ts) for ts in runs_a], [agreement_figures(ts) for ts in runs_b])
    for k, (x, y, p) in res.items():
        print(f"{k:32s} {label_a}: {x.mean():12.3f} sd {x.std(ddof=1):9.3f} | {label_b}: {y.mean():12.3f} "
              f"sd {y.std(ddof=1):9.3f} | p = {p:.3f}")
        assert p > 0.001, (k, x.mean(), y.mean(), p)
    return res
