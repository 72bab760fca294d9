"""The same calibration for any pack (issue 17, item 6): a pack's meta names its targets, priors and posterior;
observation tables may weight host places; the Europe pack's targets split 2022-2023 (fit) from 2024 (check)."""
import json

import numpy as np
import pandas as pd
import pytest

from abm.errors import InputError
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from abm.scenario import load_scenario
from calibration import setting
from calibration.observe import check_spec, observe
from calibration.targets import load_targets
from tests.conftest import ROOT, TESTLAND

EUROPE = ROOT / "experiments" / "europe_baseline.toml"


@pytest.fixture(scope="module")
def testland_series():
    m = SafeMobilityModel(load_scenario(TESTLAND, scale=0.01, seed=2))
    m.run()
    ts = timeseries(m)
    m.release()
    return ts


def test_a_host_table_weights_each_place(testland_series):
    ts = testland_series
    spec = check_spec({"statistic": "total", "metric": "border_arrivals", "start": "2030-01-01",
                       "end": "2030-12-31", "hosts": {"Aria": 1.0, "Delta": 0.5}}, "t.toml", "x.observe")
    d = ts[(ts.metric == "border_arrivals") & (ts.date >= "2030-01-01") & (ts.date <= "2030-12-31")]
    expected = d[d.host == "Aria"].value.sum() + 0.5 * d[d.host == "Delta"].value.sum()
    assert expected > 0 and observe(ts, spec) == pytest.approx(expected)
    as_list = dict(spec, hosts=["Aria", "Delta"])   # a list: every listed place's people, weight 1
    assert observe(ts, as_list) == pytest.approx(d[d.host.isin(["Aria", "Delta"])].value.sum())


@pytest.mark.parametrize("hosts,field", [({"Aria": 1.5}, "x.observe.hosts.Aria"), ({"Aria": "half"}, "x.observe.hosts.Aria"),
                                         ("Aria", "x.observe.hosts")])
def test_a_bad_host_weight_names_the_field(hosts, field):
    with pytest.raises(InputError) as e:
        check_spec({"statistic": "total", "metric": "border_arrivals", "start": "2030-01-01", "end": "2030-12-31",
                    "hosts": hosts}, "t.toml", "x.observe")
    assert e.value.field == field


def test_each_pack_names_its_own_calibration():
    am, eu = setting.of(), setting.of(EUROPE)
    assert (am.pack, am.targets, am.posterior) == ("americas", "targets.toml", "posterior.csv")
    assert (eu.pack, eu.targets) == ("europe", "europe_targets.toml")
    assert eu.populations == ROOT / "abm" / "packs" / "europe" / "populations.toml"
    with pytest.raises(InputError) as e:   # testland has no targets: nothing to fit, said before any work
        setting.of(TESTLAND)
    assert e.value.field == "meta.calibration_targets"


def test_a_target_naming_a_place_the_pack_lacks_is_refused(tmp_path):
    text = (ROOT / "calibration" / "europe_targets.toml").read_text().replace('"Mauritania"]', '"Mauritius"]', 1)
    bad = tmp_path / "bad_targets.toml"
    bad.write_text(text)
    eu = setting.of(EUROPE)
    cal = setting.Calibration(eu.scenario, eu.pack, str(bad), eu.priors, eu.posterior, eu.populations)
    with pytest.raises(InputError) as e:
        setting.check_against_pack(cal, load_scenario(EUROPE, overrides=["run.use_posterior=false"]).pack)
    assert str(bad) in str(e.value.file) and e.value.field.endswith(".observe.hosts") and "Mauritius" in e.value.message


def _years(spec) -> set[int]:
    out = {int(spec[k][:4]) for k in ("start", "end", "on", "date") if k in spec}
    for part in ("numerator", "denominator"):
        if part in spec:
            out |= _years(spec[part])
    return out


def test_europe_fits_2022_2023_and_checks_2024():
    """The issue's split: what is fitted reads 2022-2023 only, what checks reads 2024 only, and there are at
    least eight check figures."""
    eu = setting.of(EUROPE)
    fit, chk = load_targets(eu.targets, "fit"), load_targets(eu.targets, "check")
    assert fit and all(_years(t["observe"]) <= {2022, 2023} for t in fit.values())
    assert all(_years(t["observe"]) == {2024} for t in chk.values())
    figures = sum(len(t["value"]) if isinstance(t["value"], dict) else 1 for t in chk.values())
    assert figures >= 8


def test_every_europe_target_is_measured_in_a_run():
    """A run of the Europe baseline gives every target (fit and check) a finite, positive value: no target
    selects nothing (a misspelt nationality, a window outside the run)."""
    from calibration.abc import run_baseline

    eu = setting.of(EUROPE)
    figures, _ = run_baseline({}, 0.002, 3, eu.scenario, None, eu.targets)
    assert figures and all(np.isfinite(v) and v > 0 for v in figures.values()), figures


def test_the_europe_design_runs_its_own_scenario_and_targets(tmp_path):
    """The emulator's design for Europe runs the Europe scenario and records it, so that a design folder of
    one pack is never reused for another."""
    from calibration.emulated import calibrate_emulated, emulated_keys

    eu = setting.of(EUROPE)
    kw = dict(scale=0.001, seeds=1, wave1=5, wave2=2, pop_size=30, max_minutes=5, generations=2,
              progress=False, workers=1, write=False, cal=eu)
    res = calibrate_emulated(tmp_path, **kw)
    files = sorted((tmp_path / "design").rglob("p*.json"))
    recs = [json.loads(f.read_text()) for f in files]
    assert res["model_runs"] == len(files) and all(r["scenario"] == "experiments/europe_baseline.toml" for r in recs)
    keys = emulated_keys(load_targets(eu.targets, "fit"))[0]
    assert set(keys) <= set(recs[0]["runs"][0])
    assert len(pd.read_csv(tmp_path / "emulator.csv")) == len(keys)


@pytest.mark.parametrize("edit,field", [
    (lambda s: s.replace('wom_awareness]\ndist = "loguniform"', 'wom_awareness]\ndist = "lognormal"', 1),
     "information.wom_awareness.dist"),
    (lambda s: s.replace("lo = 0.002", "lo = 0.05", 1), "information.wom_awareness.hi"),
    (lambda s: s.replace("[information.wom_awareness]", "[information.wom_awarenes]", 1), "information.wom_awarenes"),
    (lambda s: s.replace("lo = 0.002", "lo = 0.002\nmean = 0.01", 1), "information.wom_awareness.mean"),
])
def test_a_bad_priors_file_names_the_file_and_field(tmp_path, edit, field):
    bad = tmp_path / "priors.toml"
    bad.write_text(edit((ROOT / "calibration" / "priors.toml").read_text()))
    with pytest.raises(InputError) as e:
        setting.check_priors(bad)
    assert e.value.file == str(bad) and e.value.field == field
    setting.check_priors(ROOT / "calibration" / "priors.toml")   # the shipped one passes


def test_calibrate_refuses_a_pack_without_targets_before_any_work(tmp_path, capsys):
    from abm.cli import main

    out = tmp_path / "cal"
    assert main(["calibrate", "--scenario", str(TESTLAND), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "meta.calibration_targets" in err and "Traceback" not in err and not out.exists()
