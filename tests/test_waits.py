"""The waiting levers (experiments/waits.py): office_decision_months sets the wait the office pipeline enforces,
willing_to_wait_days how long people are willing to wait; impossible values name the lever."""
from __future__ import annotations

import numpy as np
import pytest

from abm.errors import InputError
from abm.model import SafeMobilityModel
from experiments import waits
from experiments.design import load_experiment
from tests.conftest import ROOT


def test_months_are_whole_weeks_and_bounded_by_the_field_they_set():
    assert [waits.weeks_of_months(m) for m in (3, 6, 9, 12)] == [13, 26, 39, 52]
    assert waits.months_of_weeks(waits.weeks_of_months(12)) == pytest.approx(12, abs=0.1)
    with pytest.raises(InputError, match="office_decision_months"):
        waits.decision_weeks("f.toml", "variant 'a'.office_decision_months", 30)  # beyond decision_weeks' 104
    with pytest.raises(InputError, match="not True"):
        waits.decision_weeks("f.toml", "x", True)
    with pytest.raises(InputError, match="days"):
        waits.tolerated_weeks("f.toml", "x", 3)  # under a week: below tolerated_wait_weeks' lower bound


def test_the_office_pipeline_enforces_the_decision_time(tmp_path):
    """Same seed: with decisions taking 6 months, no case is approved sooner than 26 weeks after registering
    (in the baseline most are), and the mean wait of approved cases is longer by more than half the 23 weeks added
    (not all of them: cases still waiting when the run ends are not counted, which keeps the longest waits out;
    measured on seeds 5 and 6: 20.5 and 18.9 weeks longer)."""
    f = tmp_path / "x.toml"
    f.write_text(f"""
[experiment]
replicates = 1
draws = 0
scale = 0.002
[baseline]
scenario = "{(ROOT / 'experiments' / 'baseline.toml').as_posix()}"
run = {{ end = "2024-12-31" }}
[[variant]]
name = "six_months"
office_decision_months = 6
""")
    exp = load_experiment(f)
    waited = {}
    for v in ("baseline", "six_months"):
        m = SafeMobilityModel(exp.scenario(v, -1, seed=5))
        m.run()
        waited[v] = np.array(m.approval_waits)
        m.release()
    assert len(waited["baseline"]) > 20 and len(waited["six_months"]) > 5
    assert waited["six_months"].min() >= 26
    assert np.mean(waited["baseline"] < 26) > 0.5
    assert waited["six_months"].mean() > waited["baseline"].mean() + (26 - 3) / 2  # 3: the baseline's decision weeks
