"""Two settings side by side (experiments/compare.py, the dashboard's comparison view)."""
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
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
    # the window of the experiment the variant comes from, as its report counts: weeks starting within it
    from experiments.design import load_experiment
    assert c.window == load_experiment(Path(BASELINE).parent / "parole_counterfactuals.toml").window
    first = dt.date.fromisoformat(c.dates[0])
    assert c.window[0] <= first < c.window[0] + dt.timedelta(days=7)


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


def test_the_dashboards_comparison_and_the_report_give_the_same_effects(tmp_path):
    """One definition everywhere: an experiment's variant against its baseline on the experiment's seeds, compared as
    the dashboard compares (its window, units and cells), reads exactly as the experiment's effects and report."""
    from abm import app
    from experiments.compare import variant_setting
    from experiments.design import load_experiment
    from experiments.experiment import run_experiment
    from experiments.report import effects_table

    f = tmp_path / "one.toml"
    f.write_text(f"""
[experiment]
name = "one"
replicates = 3
draws = 0
seed = 3
scale = {SCALE}
window = {{ start = "2023-06-12", end = "2024-06-30" }}
[baseline]
scenario = "{Path(BASELINE).as_posix()}"
run = {{ end = "2024-06-30" }}
[[variant]]
name = "decide_in_3mo"
office_decision_months = 3
""")
    res = run_experiment(f, out=tmp_path / "out", scheduler="single", progress=False)
    exp = load_experiment(f)
    seeds = [exp.seed_of(r, -1) for r in range(exp.replicates)]
    c = compare(variant_setting(exp, "baseline"), variant_setting(exp, "decide_in_3mo"), seeds, exp.scale)
    assert c.window == exp.window  # the experiment's window, not the whole run
    cols = ["output", "effect", "unit", "pairs", "effect_median", "effect_lo", "effect_hi", "baseline_median",
            "variant_median", "share_positive"]
    report = res["effects"][cols].reset_index(drop=True)
    dashboard = c.table[c.table.output.isin(report.output)][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(dashboard, report)
    assert report.effect_median.abs().sum() > 0  # the variant changed something: equal, not trivially zero
    written = effects_table(res["effects"]).set_index("variant").loc["decide_in_3mo"]
    shown = app.difference_table(c)
    assert len(shown) >= 5
    for r in shown.itertuples():
        assert written[f"{r[1]} ({r.unit})"] == r[3]  # "effect of B (unit)" -> "median [90% interval]", as written
    share = shown[shown.unit == "pp"]
    assert len(share) == 1 and share.iloc[0, 2].endswith("pp]")  # the share who gave up: percentage points in both
