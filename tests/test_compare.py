"""Two settings side by side (experiments/compare.py, the dashboard's comparison view)."""
from pathlib import Path

import numpy as np
import pytest

from abm.errors import InputError
from experiments.compare import HEADLINE, Setting, compare, settings_for
from tests.conftest import BASELINE

SCALE = 0.002


@pytest.fixture(scope="module")
def settings():
    return {s.label: s for s in settings_for(Path(BASELINE))}


def test_settings_are_the_packs_scenarios_and_experiment_variants(settings):
    labels = list(settings)
    assert labels[0] == "baseline"
    assert "scenario: open_access" in labels and "parole_counterfactuals: no_parole" in labels
    assert "waiting_thresholds: baseline" in labels
    assert not [lab for lab in labels if "europe" in lab]  # another pack: not comparable with the Americas


def test_a_setting_against_itself_differs_by_nothing(settings):
    """Same scenario, same seeds: common random numbers make every pair identical, so every effect is exactly 0."""
    c = compare(settings["baseline"], settings["baseline"], seeds=[1, 2], scale=SCALE)
    assert list(c.table.output) == HEADLINE
    finite = c.table.dropna(subset=["effect_median"])
    assert len(finite) >= len(HEADLINE) - 1  # interceptions are 0 in both, still a number
    assert (finite[["effect_median", "effect_lo", "effect_hi"]].to_numpy() == 0).all()
    assert (finite.pairs == 2).all()
    for k in c.series["a"]:
        assert np.array_equal(c.series["a"][k], c.series["b"][k]) and c.series["a"][k].shape == (2, len(c.dates))


def test_removing_parole_removes_parole_arrivals(settings):
    c = compare(settings["baseline"], settings["parole_counterfactuals: no_parole"], seeds=[1, 2, 3], scale=SCALE)
    row = c.table.set_index("output").loc["parole_arrivals"]
    assert row.variant_hi == 0 and row.baseline_lo > 0  # B has none; A has some on every seed
    assert row.effect_hi < 0 and row.share_positive == 0
    assert c.window[0].isoformat() == c.dates[0]


def test_settings_with_no_common_weeks_are_an_input_error(settings):
    base = settings["baseline"]

    def later(seed, scale):
        sc = base.make(seed, scale)
        return sc.__class__(**{**sc.__dict__, "start": sc.end.replace(year=sc.end.year + 1),
                               "end": sc.end.replace(year=sc.end.year + 2)})

    with pytest.raises(InputError, match="share no weeks"):
        compare(base, Setting("later", later), seeds=[1], scale=SCALE)
    with pytest.raises(InputError, match="seed"):
        compare(base, base, seeds=[], scale=SCALE)
