"""Every shipped region pack validates, and a scenario of it runs a short simulation (issue 6)."""
import datetime as dt

import pytest

from abm.model import SafeMobilityModel
from abm.pack import PACKS_DIR, load_pack, read_toml
from calibration.posterior import load_run
from tests.conftest import ROOT

PACKS = sorted(p.name for p in PACKS_DIR.iterdir() if p.is_dir() and list(p.glob("*.toml")))
SCENARIOS = [p for p in sorted((ROOT / "experiments").glob("*.toml")) + sorted((ROOT / "tests" / "data").glob("*.toml"))
             if "[experiment]" not in p.read_text()]


def _scenarios_of(pack: str):
    out = []
    for p in SCENARIOS:
        try:
            sc = load_run(p)
        except Exception:  # noqa: BLE001 - scenario files are tested elsewhere
            continue
        if sc.pack.path.name == pack:
            out.append(p)
    return out


@pytest.mark.parametrize("pack", PACKS)
def test_pack_validates_and_every_figure_has_a_source(pack):
    pk = load_pack(PACKS_DIR / pack)
    assert pk.places and pk.nationalities and pk.groups and pk.options
    meta = read_toml(PACKS_DIR / pack / "pack.toml").get("meta", {})
    assert meta.get("name") == pack and meta.get("description")


@pytest.mark.parametrize("pack", PACKS)
def test_pack_runs_a_short_simulation(pack):
    scenarios = _scenarios_of(pack)
    assert scenarios, f"no scenario in experiments/ or tests/data/ uses the pack {pack!r}"
    sc = load_run(scenarios[0], scale=0.002, seed=3)
    end = min(sc.end, sc.start + dt.timedelta(weeks=26))
    sc = load_run(scenarios[0], scale=0.002, seed=3, overrides=[f"run.end={end.isoformat()}"])
    m = SafeMobilityModel(sc)
    m.run()
    m.release()
    assert m.people.n > 0
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == sc.n_weeks
