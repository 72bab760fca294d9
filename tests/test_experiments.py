"""Every scenario shipped in experiments/ is valid, and a counterfactual changes what it says."""
from pathlib import Path

import pytest

from calibration.posterior import load_run
from tests.conftest import ROOT, run_model

# scenario files (experiment files, with an [experiment] table, are tested in test_experiment_runner.py)
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").glob("*.toml") if "[experiment]" not in p.read_text())


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_scenario_is_valid(path: Path):
    sc = load_run(path)
    assert sc.name == path.stem
    assert sc.policies


def test_open_access_changes_the_offices_rules():
    sc = load_run(ROOT / "experiments" / "open_access.toml")
    col = sc.pack.offices["Colombia"]
    assert not col["presence_cutoff"] and not col["regular_status_required"] and col["walk_in"]


def test_open_access_registers_more_people():
    """Same seed (common random numbers): with the rules relaxed, more people register."""
    base = run_model(scale=0.001, seed=8)
    wide = run_model(ROOT / "experiments" / "open_access.toml", scale=0.001, seed=8)
    reg = lambda m: int(sum(v.sum() for v in m.datacollector.get_model_vars_dataframe()["smo_registrations"]))
    assert reg(wide) > reg(base)
