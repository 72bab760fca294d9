"""Findings in words (experiments/findings.py): signs as directions, intervals that contain zero, the limits given
as reasons; and the report of a real small experiment opening with them."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration import posterior
from experiments import findings as F
from experiments.experiment import run_experiment
from experiments.measures import describe
from tests.conftest import ROOT

AMERICAS = {"crossings": "Darien crossings", "office": "SMO", "offices": "Safe Mobility Offices", "pathway": "parole"}


def row(output, median, lo, hi, variant="v"):
    """A row of the effects table (experiments/effects.py), its effect as the table reports it (crossings averted)."""
    _, unit, effect, _ = describe(output, AMERICAS)
    return pd.DataFrame([{"variant": variant, "output": output, "effect": effect, "unit": unit,
                          "effect_median": median, "effect_lo": lo, "effect_hi": hi}]).iloc[0]


def say(output, median, lo, hi, reasons=()):
    return F.sentence(row(output, median, lo, hi), AMERICAS, list(reasons))


def test_averted_crossings_are_stated_as_fewer_or_more():
    """The table's "averted" is baseline minus variant: +500 averted is 500 fewer crossings, -4,750 is 4,750 more."""
    s = say("darien_crossings", 500, 100, 900)
    assert s == "v: 500 people fewer than the baseline (90% interval: 100 to 900 fewer)."
    s = say("darien_crossings", -4750, -20700, 16900)
    assert s == ("v: 4,750 people more than the baseline (90% interval: 16,900 fewer to 20,700 more), "
                 "not distinguishable from no change.")


def test_waits_and_shares_have_their_own_words_and_units():
    assert say("wait_mean_days", -53, -69, -43) == "v: 53 days shorter than the baseline (90% interval: 43 to 69 shorter)."
    assert say("gave_up_share", 0.033, 0.019, 0.051) == ("v: 3.3 percentage points higher than the baseline "
                                                         "(90% interval: 1.9 to 5.1 higher).")
    assert say("smo_arrivals", 0, 0, 0) == "v: no change in any paired run."
    assert say("smo_arrivals", 0, -100, 100) == ("v: no change at the median (90% interval: 100 fewer to 100 more), "
                                                 "not distinguishable from no change.")


@pytest.mark.parametrize("output", ["darien_crossings", "smo_registrations", "wait_mean_days", "gave_up_share"])
def test_no_sentence_has_a_negative_number_and_zero_inside_is_always_said(output):
    rng = np.random.default_rng(5)
    scale = 0.1 if output == "gave_up_share" else 10_000
    for _ in range(300):
        lo, med, hi = np.sort(rng.normal(0, scale, 3))
        s = say(output, med, lo, hi)
        assert not re.search(r"-\s*\d", s), s
        _, unit, _, _ = F.WORDS[output]
        inside = F._rounded(lo, unit) <= 0 <= F._rounded(hi, unit)
        assert ("not distinguishable from no change" in s) == inside, s


def shares(**columns):
    """Median share of the window's weeks each limit held cases back, baseline then variant v."""
    return pd.DataFrame(columns, index=["baseline", "v"])


def test_a_binding_relocation_cap_is_the_reason_arrivals_give():
    sh = shares(relocation_capacity=[0.9, 0.95])
    reasons = F.reasons_for("smo_arrivals", "v", sh)
    assert len(reasons) == 1 and "relocation capacity" in reasons[0] and "95%" in reasons[0] and "90% in the baseline" in reasons[0]
    assert F.reasons_for("darien_crossings", "v", sh) == []  # the cap bears on arrivals, not crossings
    assert F.reasons_for("smo_arrivals", "v", shares(relocation_capacity=[0.9, F.BINDS / 2])) == []


def test_a_closed_pathway_is_a_reason_only_when_the_variant_closes_it_more():
    assert F.reasons_for("smo_registrations", "v", shares(no_office_open=[0.3, 0.3])) == []  # the baseline's own closure
    r = F.reasons_for("smo_registrations", "v", shares(no_office_open=[0.3, 0.6]), AMERICAS)
    assert len(r) == 1 and "none of the Safe Mobility Offices was open in 60%" in r[0] and "pathway was closed" in r[0]


def test_findings_group_sentences_under_each_outcome_with_its_caveat():
    eff = pd.DataFrame([row("wait_mean_days", 10, 5, 15, "a"), row("wait_mean_days", -3, -9, 2, "b"),
                        row("darien_crossings", 0, -10, 10, "a"), row("darien_crossings", 0, -10, 10, "b")])
    blocks = F.findings(eff, pd.DataFrame(), AMERICAS, scale=0.01)
    assert [b.output for b in blocks] == ["darien_crossings", "wait_mean_days"]  # the headline order
    assert "approved within the window only" in blocks[1].caveat
    assert [s.split(":")[0] for s in blocks[1].sentences] == ["a", "b"]


def test_the_report_of_a_small_experiment_opens_with_findings_and_the_decision_curve(tmp_path):
    """Two office-decision-time variants at a small scale: the report states the findings, the calibrated tolerance
    (read from the posterior now), the relocation cap that binds at this scale, and draws the curve."""
    f = tmp_path / "waits.toml"
    f.write_text(f"""
[experiment]
name = "waits"
replicates = 2
draws = 0
seed = 11
scale = 0.001
window = {{ start = "2023-06-12", end = "2024-06-30" }}
outputs = ["darien_crossings", "smo_arrivals", "wait_mean_days", "gave_up_share"]
[baseline]
scenario = "{(ROOT / 'experiments' / 'baseline.toml').as_posix()}"
run = {{ end = "2024-06-30" }}
[[variant]]
name = "decide_in_3mo"
office_decision_months = 3
[[variant]]
name = "decide_in_6mo"
office_decision_months = 6
""")
    res = run_experiment(f, out=tmp_path / "out", scheduler="single", progress=False)
    page = (res["out"] / "report.html").read_text()
    assert page.index("<h2>Findings</h2>") < page.index("<h2>Variants</h2>")
    findings = page[page.index("<h2>Findings</h2>"):page.index("<h2>Variants</h2>")]
    weeks = posterior.point()["behaviour.tolerated_wait_weeks"]
    assert f"{weeks:.1f} weeks ({7 * weeks:.0f} days" in findings
    for v in ("decide_in_3mo", "decide_in_6mo"):
        assert findings.count(f"<li>{v}: ") == 4  # one sentence per outcome
    assert "relocation capacity" in findings
    assert "If office decisions took N months" in findings and (res["out"] / "figures" / "decision_curve.png").is_file()
    # the lever moved the wait people lived: the 6-month variant's cases waited longer than the 3-month variant's
    eff = res["effects"].set_index(["variant", "output"])
    assert eff.at[("decide_in_6mo", "wait_mean_days"), "effect_lo"] > eff.at[("decide_in_3mo", "wait_mean_days"), "effect_hi"] > 0
    assert not re.search(r"<li>[^<]*-\d", findings)
