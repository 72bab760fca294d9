"""Fit and check targets (calibration/targets.toml `role`) and their observation models as data
(calibration/observe.py): the fitting steps read only fit targets; every figure is measured the way its
table says, by code that names no place, nationality or date."""
import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd
import pytest

import calibration.targets as targets_mod
from abm.errors import InputError
from calibration import abc, fit_push
from calibration.observe import check_spec, observe
from calibration.targets import load_targets

ROOT = Path(__file__).resolve().parents[1]


def test_every_target_has_a_role_and_at_least_eight_are_checks():
    t = load_targets()
    assert {v["role"] for v in t.values()} == {"fit", "check"}
    checks = [k for k, v in t.items() if v["role"] == "check"]
    assert len(checks) >= 8, checks
    for k in ("usbp_venezuela_dec2023", "cuba_encounters_fy2024_oct_may", "chnv_parole_admitted_nov2023"):
        assert t[k]["role"] == "check" and t[k]["value"] in (46916, 121103, 270000)
    assert set(load_targets(role="fit")) | set(load_targets(role="check")) == set(t)
    # the seed and Panama's year-end count disagree on Venezuelans in 2023: both are recorded
    v = t["darien_venezuela_2023"]
    assert v["value"] == 328667 and "201,281" in v["conflict"]


def test_the_fitting_steps_read_only_fit_targets(monkeypatch, tmp_path):
    """A spy on load_targets: every call made by the ABC's calibrate and by fit_push asks for role "fit",
    and the ABC is handed exactly the fit targets."""
    calls, handed = [], {}
    real = targets_mod.load_targets

    def spy(name="targets.toml", role=None):
        calls.append(role)
        return real(name, role)

    class Stop(Exception):
        pass

    def fake_run_abc(db, simulator, priors, targets, **kw):
        handed.update(targets)
        raise Stop

    monkeypatch.setattr(abc, "load_targets", spy)
    monkeypatch.setattr(fit_push, "load_targets", spy)
    monkeypatch.setattr(abc, "run_abc", fake_run_abc)
    with pytest.raises(Stop):
        abc.calibrate(tmp_path, 0.001, 10, 10, 1.0, 1, fresh=True, progress=False)
    assert set(handed) == set(real(role="fit")) and all(t["role"] == "fit" for t in handed.values())
    obs = fit_push.observed()
    assert calls and set(calls) == {"fit"}
    fit = real(role="fit")
    assert obs["Venezuela"] == fit["darien_venezuela_2023"]["value"]


def test_the_distance_ignores_check_figures():
    fit = load_targets(role="fit")
    sim = {k: v for k, v in abc.flat_observed(fit).items()}
    sim = {k: v * 1.1 for k, v in sim.items()}
    d = abc.make_distance(fit)
    wild = dict(sim, **{k: 1e12 for k in abc.flat_observed(load_targets(role="check"))})
    assert d(sim, {}) == d(wild, {}) > 0


def _code_strings(source: str) -> list[str]:
    """The string constants of a module's code: docstrings (which may cite dates and places) left out."""
    import ast

    tree = ast.parse(source)
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_calibration_code_names_no_date_place_or_nationality_in_its_measurements():
    """The measurements live in targets.toml: the calibration modules that measure runs and fit and report
    them hold no date (as a string or a datetime.date) and no name of a place or nationality of the
    Americas pack in their code (their docstrings may cite them)."""
    from calibration.posterior import load_run

    pack = load_run(ROOT / "experiments" / "baseline.toml").pack
    names = set(pack.places) | set(pack.nationalities)
    for f in ("targets.py", "observe.py", "fit_push.py", "abc.py", "report.py", "check.py", "channels.py"):
        source = (ROOT / "calibration" / f).read_text()
        strings = _code_strings(source)
        assert not [x for x in strings if re.search(r"\b(19|20)\d\d-\d\d-\d\d\b", x)], f
        assert not re.search(r"dt\.date\(\d|datetime\.date\(\d", source), f
        assert not names & set(strings), (f, names & set(strings))
    # the check finds what it looks for
    assert _code_strings('"""Venezuela, 2022-10-12"""\nx = "Venezuela"\ny = "2022-10-12"\n') == ["Venezuela", "2022-10-12"]


# --- the observation model on a constructed series ---

def _ts():
    weeks = [dt.date(2023, 1, 6) + dt.timedelta(days=7 * k) for k in range(10)]   # Fridays
    rows = []
    for k, d in enumerate(weeks):
        for nat, host, v in (("A", "X", 10.0), ("A", "A", 1.0), ("B", "X", 100.0)):
            rows.append({"date": d.isoformat(), "metric": "flow", "nationality": nat, "host": host, "value": v * (k + 1)})
            rows.append({"date": d.isoformat(), "metric": "stock", "nationality": nat, "host": host, "value": v})
            rows.append({"date": d.isoformat(), "metric": "aware", "nationality": nat, "host": host, "value": v / 2})
    return pd.DataFrame(rows)


def _spec(**kw):
    return check_spec(kw, "t.toml", "x.observe", ("flow", "stock", "aware"))


def test_totals_stocks_shares_and_windows():
    ts = _ts()
    # weeks starting 2023-01-06 and 2023-01-13 (both ends inclusive), nationality A in any host
    assert observe(ts, _spec(statistic="total", metric="flow", nationalities=["A"], start="2023-01-06",
                             end="2023-01-13")) == 11 * 1 + 11 * 2
    # prorated to the 31 days of January: the four weeks starting in it cover 28 days
    jan = _spec(statistic="total", metric="flow", hosts=["X"], nationalities=["A"], start="2023-01-01",
                end="2023-01-31", prorate=True)
    assert observe(ts, jan) == pytest.approx((10 + 20 + 30 + 40) * 31 / 28)
    # a share whose parts inherit the dates and filters around them; living abroad only
    s = _spec(statistic="share", on="2023-01-20", foreign=True, numerator={"metric": "aware"},
              denominator={"metric": "stock"})
    assert observe(ts, s) == pytest.approx(0.5)
    assert observe(ts, dict(s, complement=True)) == pytest.approx(0.5)
    # window ratio: 4 weeks from the week containing the date over the 4 weeks before
    w = _spec(statistic="window_ratio", metric="flow", nationalities=["B"], date="2023-02-05", weeks=4)
    assert observe(ts, w) == pytest.approx((5 + 6 + 7 + 8) / (1 + 2 + 3 + 4))
    # by nationality: each nationality of the value on its own
    by = _spec(statistic="total", metric="stock", start="2023-01-06", end="2023-01-06", by="nationality")
    assert observe(ts, by, nationality="B") == 100.0
    assert math.isnan(observe(ts, _spec(statistic="summary", key="a.b"), {"a": {}}))
    assert observe(ts, _spec(statistic="summary", key="a.b"), {"a": {"b": 3}}) == 3.0


@pytest.mark.parametrize("spec, field", [
    ({"statistic": "total", "metric": "flow", "start": "2023-01-01", "end": "2023-02-01", "colour": 1}, "x.observe.colour"),
    ({"statistic": "mean", "metric": "flow"}, "x.observe.statistic"),
    ({"statistic": "total", "metric": "flow", "start": "2023-01-01"}, "x.observe.end"),
    ({"statistic": "total", "metric": "nope", "start": "2023-01-01", "end": "2023-02-01"}, "x.observe.metric"),
    ({"statistic": "total", "metric": "flow", "start": "2023-13-01", "end": "2023-02-01"}, "x.observe.start"),
    ({"statistic": "total", "metric": "flow", "start": "2023-03-01", "end": "2023-02-01"}, "x.observe.end"),
    ({"statistic": "share", "start": "2023-01-01", "end": "2023-02-01", "numerator": {"metric": "flow"},
      "denominator": {"metric": "flow", "by": "nationality"}}, "x.observe.denominator.by"),
    ({"statistic": "window_ratio", "metric": "flow", "date": "2023-01-01", "weeks": 0}, "x.observe.weeks"),
])
def test_bad_observation_tables_name_the_field(spec, field):
    with pytest.raises(InputError) as e:
        _spec(**spec)
    assert e.value.field == field and str(e.value.file) == "t.toml"
