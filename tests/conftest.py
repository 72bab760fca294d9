"""Shared fixtures: small runs of the Americas baseline and of the test pack, built once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from abm.kernels import one_thread
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from abm.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"
TESTLAND = ROOT / "tests" / "data" / "testland.toml"

# A small baseline for unit tests: a tenth of the default scale (about 15,000 agents).
SMALL = 0.001


def run_model(path=BASELINE, **kw):
    overrides = kw.pop("overrides", None)
    sc = load_scenario(path, overrides=overrides, **kw)
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
