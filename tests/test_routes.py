"""Route mechanics that other corridors need (issue 6), on the invented test pack: interception at sea
with return to the place of departure, and route substitution when a route option closes."""
import numpy as np
import pytest

from abm.cli import main
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from abm.scenario import load_scenario
from agents.states import State
from tests.conftest import TESTLAND

SOURCE = "pack.segments.jungle.sources.p_intercept='assumption: test'"


def _run(overrides, tmp_path=None, policies: str = ""):
    path = TESTLAND
    if policies:
        path = tmp_path / "scenario.toml"
        path.write_text(f'extends = "{TESTLAND.as_posix()}"\n[run]\nname = "routes"\n' + policies)
    m = SafeMobilityModel(load_scenario(path, overrides=overrides, scale=0.02, seed=5))
    m.run()
    m.release()
    return m, timeseries(m)


def _sum(ts, metric, **where):
    sel = ts.metric == metric
    for k, v in where.items():
        sel &= ts[k].isin(v)
    return float(ts.loc[sel, "value"].sum())


def test_full_interception_stops_every_arrival_through_the_segment():
    """`jungle` is on the routes of Aria (trail) and Centra (river): with p_intercept 1 nobody from there
    reaches the frontier, and the intercepted are back where they set out."""
    m, ts = _run(["pack.segments.jungle.p_intercept=1.0", SOURCE])
    assert _sum(ts, "intercepted") > 0
    assert _sum(ts, "border_arrivals", host=["Aria", "Centra"]) == 0
    assert _sum(ts, "border_arrivals", host=["Delta"]) > 0   # highway: no jungle
    p = m.people
    back = p.departed & np.isin(p.state, [State.PREPARING, State.INTEGRATING])
    assert back.sum() > 0
    names = np.array(m.pack.places)[p.place[back]]
    assert set(names) <= {"Aria", "Centra"}


def test_interception_share_matches_its_probability():
    """Intercepted / completed jungle crossings is binomial with p = 0.3 (deaths, 0.2%, come first)."""
    p = 0.3
    m, ts = _run([f"pack.segments.jungle.p_intercept={p}", SOURCE])
    entries = ts[ts.metric == "darien_crossings"].groupby("date").value.sum().to_numpy() / m.weight
    completed = entries[:-1].sum()  # one-week segment: the last week's entries finish after the run
    caught = _sum(ts, "intercepted") / m.weight
    sd = np.sqrt(completed * p * (1 - p))
    assert completed > 500
    assert abs(caught - p * completed * (1 - 0.002)) < 4 * sd + 0.002 * completed


def test_closing_a_route_moves_its_people_to_the_others(tmp_path):
    """Centra's people take the river (through the jungle) or the highway; once the river closes no one
    from Centra enters the jungle, and its people switch to the highway."""
    shares = ["pack.places.Centra.routes={ river = 0.5, highway = 0.5 }"]
    close = '[[policy]]\ndate = "2030-09-02"\nkind = "route_close"\noption = "river"\nsource = "test"\n'
    m, ts = _run(shares, tmp_path, close)
    _, open_ts = _run(shares)
    late = ts.date >= "2030-11-01"  # the river's plains segment takes a few weeks before the jungle
    sel = (ts.metric == "darien_crossings") & (ts.host == "Centra")
    assert ts.loc[sel & (ts.date < "2030-09-01"), "value"].sum() > 0
    assert ts.loc[sel & late, "value"].sum() == 0
    assert open_ts.loc[(open_ts.metric == "darien_crossings") & (open_ts.host == "Centra") & (open_ts.date >= "2030-11-01"),
                       "value"].sum() > 0
    assert _sum(ts, "route_switched", host=["Centra"]) > 0
    river = m.routes.option_names.index("river")
    p = m.people
    waiting = (p.place == m.pack.place_index("Centra")) & ~np.isin(p.state, [State.IN_TRANSIT, State.AT_BORDER,
                                                                            State.IN_US, State.RETURNED, State.DEAD])
    assert not (p.route[waiting] == river).any()


@pytest.mark.parametrize("setting,field", [
    ("pack.segments.jungle.p_intercept=1.5", "segments.jungle.p_intercept"),
    ("pack.segments.jungle.darien='yes'", "segments.jungle.darien"),
])
def test_bad_route_fields_are_input_errors(tmp_path, capsys, setting, field):
    code = main(["run", str(TESTLAND), "--set", setting, "--set", SOURCE, "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and field in err and "Traceback" not in err


def test_closing_an_unknown_route_is_an_input_error(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(f'extends = "{TESTLAND.as_posix()}"\n[[policy]]\ndate = "2030-09-02"\nkind = "route_close"\n'
                    'option = "tunnel"\n')
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "option" in err and "'tunnel'" in err and str(path) in err


def test_segment_set_changes_hazards_from_its_date(tmp_path):
    """Interception switched on in September 2030 on the jungle: none before, all of it after."""
    pol = '[[policy]]\ndate = "2030-09-02"\nkind = "segment_set"\nsegment = "jungle"\np_intercept = 1.0\nsource = "test"\n'
    _, ts = _run([], tmp_path, pol)
    caught = ts[ts.metric == "intercepted"]
    assert caught.loc[caught.date < "2030-08-27", "value"].sum() == 0
    assert caught.loc[caught.date >= "2030-09-02", "value"].sum() > 0
    late = (ts.metric == "border_arrivals") & ts.host.isin(["Aria"]) & (ts.date >= "2030-11-15")  # past plains and frontier
    assert ts.loc[late, "value"].sum() == 0
    assert ts.loc[(ts.metric == "border_arrivals") & ts.host.isin(["Aria"]) & (ts.date < "2030-08-01"), "value"].sum() > 0
