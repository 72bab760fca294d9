"""`smo-abm validate`: a pack against published figures, from a checks file (issue 6)."""
import pandas as pd
import pytest

from abm.cli import main
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from abm.scenario import load_scenario
from calibration.validate import measure, validate
from tests.conftest import TESTLAND

CHECKS = """
[[check]]
name = "arrivals_2030"
published = 1000
source = "invented"
metric = "border_arrivals"
start = "2030-01-01"
end = "2030-12-31"
hosts = { Aria = 1.0, Delta = 0.5 }
held_out = true

[[check]]
name = "arrivals_2031"
published = 500
metric = "border_arrivals"
start = "2031-01-01"
end = "2031-06-30"
hosts = { Aria = 1.0, Delta = 0.5 }

[[ratio]]
name = "later_over_earlier"
numerator = "arrivals_2031"
denominator = "arrivals_2030"
published = 0.5
"""


def test_measure_weights_hosts_and_sums_the_period():
    m = SafeMobilityModel(load_scenario(TESTLAND, scale=0.01, seed=2))
    m.run()
    ts = timeseries(m)
    m.release()
    c = {"metric": "border_arrivals", "start": pd.Timestamp("2030-01-01").date(), "end": pd.Timestamp("2030-12-31").date(),
         "hosts": {"Aria": 1.0, "Delta": 0.5}}
    d = ts[(ts.metric == "border_arrivals") & (ts.date >= "2030-01-01") & (ts.date <= "2030-12-31")]
    expected = d[d.host == "Aria"].value.sum() + 0.5 * d[d.host == "Delta"].value.sum()
    assert measure(ts, c) == pytest.approx(expected) and expected > 0


def test_validate_table(tmp_path):
    f = tmp_path / "checks.toml"
    f.write_text(CHECKS)
    t = validate(TESTLAND, f, seeds=(1, 2), scale=0.01, progress=False).set_index("figure")
    assert list(t.index) == ["arrivals_2030", "arrivals_2031", "later_over_earlier"]
    r = t.loc["later_over_earlier"]
    assert r.simulated_min <= r.simulated_mean <= r.simulated_max
    assert t.loc["arrivals_2030", "sim_over_published"] == pytest.approx(t.loc["arrivals_2030", "simulated_mean"] / 1000)


@pytest.mark.parametrize("bad,field", [
    (CHECKS.replace('metric = "border_arrivals"', 'metric = "arrivals"', 1), "check[0].metric"),
    (CHECKS.replace("Delta = 0.5", "Atlantis = 0.5", 1), "check[0].hosts"),
    (CHECKS.replace('numerator = "arrivals_2031"', 'numerator = "nope"'), "ratio[0].numerator"),
    (CHECKS.replace('end = "2030-12-31"', 'end = "2030-13-31"', 1), "check[0].end"),
])
def test_bad_checks_file_is_an_input_error(tmp_path, capsys, bad, field):
    f = tmp_path / "checks.toml"
    f.write_text(bad)
    assert main(["validate", str(TESTLAND), "--checks", str(f), "--seeds", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and field in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_americas_check_targets_over_posterior_draws_and_seeds(tmp_path, capsys):
    """Without --checks, a pack with a targets file is validated against its check targets (role "check",
    read by no fitting step) over posterior draws x seeds: one row per check figure with the runs' median
    and 90% interval, written with a figure and a manifest into results/validation/<pack> by default."""
    from calibration.targets import load_targets

    out = tmp_path / "val"
    assert main(["validate", "experiments/baseline.toml", "--seeds", "1", "--draws", "2", "--scale", "0.002",
                 "--out", str(out), "--quiet"]) == 0
    t = pd.read_csv(out / "validation.csv")
    checks = load_targets(role="check")
    assert set(t.figure) == set(checks) and (t.runs == 2).all()
    assert (t.sim_lo90 <= t.sim_median).all() and (t.sim_median <= t.sim_hi90).all()
    for r in t.itertuples():   # inside is what the interval says about the published value
        bound = checks[r.figure]["error"].get("bound")
        expect = r.sim_lo90 <= r.published if bound == "upper" else r.sim_lo90 <= r.published <= r.sim_hi90
        assert r.inside == expect, r.figure
    assert (out / "figures" / "validation.png").stat().st_size > 0
    assert "check targets inside" in (out / "validation.md").read_text()
    assert main(["validate", "experiments/baseline.toml", "--draws", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--draws" in capsys.readouterr().err
