"""Travellers in Mexico and CBP One (abm/mexico.py, issue 16): the geofence, appointments by date and their
allocation (half to the earliest registrants, half at random), CBP One's end, Mexico's returns to the
south, and packs without a [mexico] table. Rule tests on the invented test pack with a [mexico] table added
(its routes all end with `frontier`, the geofence here) and on the Americas baseline's timeline."""
import datetime as dt

import numpy as np
import pytest

from abm import mexico
from abm.errors import InputError
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run
from agents.population import NOT_REGISTERED
from agents.states import IS_RESIDENT, State
from tests.conftest import BASELINE, SMALL, TESTLAND

A = "assumption: test"
MEXICO = f"""
[pack.mexico]
geofence_segment = "frontier"
exception_share = 0.2
p_register_week = 0.5
settle_value = -3.0
south_value = -4.0
news_weight = 0.3
appointment_share = 1.0
sources = {{ exception_share = "{A}", p_register_week = "{A}", settle_value = "{A}", south_value = "{A}", news_weight = "{A}", appointment_share = "{A}" }}
"""


def _scenario(tmp_path, policies: str = "", mexico_table: str = MEXICO, name="mexico"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'extends = "{TESTLAND.as_posix()}"\n[run]\nname = "{name}"\n' + mexico_table + policies)
    return path


def _model(tmp_path, policies: str = "", scale=0.02, seed=5, **kw):
    return SafeMobilityModel(load_run(_scenario(tmp_path, policies, **kw), scale=scale, seed=seed))


def _policy(date, kind, **fields):
    body = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in fields.items())
    return f'\n[[policy]]\ndate = "{date}"\nkind = "{kind}"\n{body}source = "{A}"\n'


def _put_in_mexico(m, n, registered_weeks=None):
    """n people who have not left yet, placed in northern Mexico (registered in the given weeks)."""
    p = m.people
    idx = np.flatnonzero(p.state == State.INTEGRATING)[:n]
    assert len(idx) == n
    p.set_state(idx, State.WAITING_MEXICO, m.week)
    if registered_weeks is not None:
        p.cbp_week[idx] = registered_weeks
    m.refresh_active()
    return idx


# --- CBP One: capacity by date ---

def test_baseline_appointments_per_day_by_date():
    """The baseline's timeline: closed before 18 January 2023, exceptions only until 12 May 2023, then
    1,000, 1,250 and 1,450 a day for everyone, and nothing from 20 January 2025."""
    sc = load_run(BASELINE, overrides=["run.end=2025-03-01"], scale=SMALL, seed=1)
    m = SafeMobilityModel(sc)
    seen = {}
    for day in ("2022-12-01", "2023-02-01", "2023-05-20", "2023-06-10", "2023-07-10", "2024-06-01", "2025-02-01"):
        m.timeline.apply_due(m, dt.date.fromisoformat(day))
        seen[day] = (m.mexico.scope, m.mexico.per_day)
    m.release()
    assert seen == {"2022-12-01": (None, 0.0), "2023-02-01": ("exceptions", 780.0), "2023-05-20": ("all", 1000.0),
                    "2023-06-10": ("all", 1250.0), "2023-07-10": ("all", 1450.0), "2024-06-01": ("all", 1450.0),
                    "2025-02-01": (None, 0.0)}
    assert m.mexico.enforcement is not None  # from 20 December 2023


def test_weekly_appointments_match_the_daily_rate(tmp_path):
    """With more registrants than appointments, the appointments given over 10 weeks are 7 x the daily rate
    x scale x weeks (fractions carried over), none more."""
    m = _model(tmp_path, _policy("2029-01-01", "cbp_one_open", scope="all", appointments_per_day=30.0))
    m.timeline.apply_due(m, m.date)
    _put_in_mexico(m, 400, registered_weeks=0)
    given = 0
    for week in range(10):
        m.week = week
        there = m.act[m.people.state[m.act] == State.WAITING_MEXICO]
        got = mexico._appointments(m, there)
        mexico.to_border(m, got, port=True)
        given += len(got)
        m.refresh_active()
    m.release()
    assert given == int(30 * 7 * 0.02 * 10)  # 42 agents
    assert all(used == cap for _, cap, used in m.mexico.log)


# --- CBP One: allocation ---

def test_half_the_appointments_go_to_the_earliest_registrants_and_half_at_random(tmp_path):
    m = _model(tmp_path, _policy("2029-01-01", "cbp_one_open", scope="all", appointments_per_day=100.0), scale=0.1)
    m.timeline.apply_due(m, m.date)
    n = 2000
    weeks = np.arange(n, dtype=np.int16) % 1000 - 500  # distinct-ish registration weeks, earliest -500
    idx = _put_in_mexico(m, n, registered_weeks=weeks)
    m.week = 3
    there = m.act[m.people.state[m.act] == State.WAITING_MEXICO]
    got = mexico._appointments(m, there)
    assert len(got) == 70  # 100 a day x 7 x 0.1
    order = idx[np.lexsort((idx, m.people.cbp_week[idx]))]
    first, lucky = got[:35], got[35:]
    assert set(first) == set(order[:35])                  # the 35 earliest registrants
    assert not set(lucky) & set(order[:35])
    # the other half is a draw among the rest: spread over them, not the next earliest
    rank = np.searchsorted(np.sort(m.people.cbp_week[order[35:]]), m.people.cbp_week[lucky])
    assert rank.max() - rank.min() > 1000
    assert abs(np.mean(rank) - (n - 35) / 2) < 4 * (n - 35) / np.sqrt(12 * 35)
    # another week draws other people
    m.week = 4
    again = mexico._appointments(m, there)
    assert set(again[:35]) == set(first) and set(again[35:]) != set(lucky)
    m.release()


# --- the geofence ---

def test_nobody_outside_the_geofence_registers(tmp_path):
    """Weekly over a run with CBP One open to all: whoever registered this week is in northern Mexico (or
    has just left it, with an appointment or across the border); no resident ever holds a registration."""
    pol = _policy("2029-01-01", "cbp_one_open", scope="all", appointments_per_day=5.0)
    m = _model(tmp_path, pol)
    p = m.people
    new_regs = 0
    while m.running:
        w = m.week
        m.step()
        now = np.flatnonzero(p.cbp_week == w)
        new_regs += len(now)
        assert np.all(p.state[now] == State.WAITING_MEXICO)
        assert np.all(p.cbp_week[IS_RESIDENT[p.state]] == NOT_REGISTERED)
        assert np.all(p.cbp_week[p.state == State.NOT_ARRIVED] == NOT_REGISTERED)
    m.release()
    assert new_regs > 50
    assert sum(used for _, _, used in m.mexico.log) > 0


def test_without_internet_or_outside_the_scope_nobody_can_wait(tmp_path):
    m = _model(tmp_path, _policy("2029-01-01", "cbp_one_open", scope="exceptions", appointments_per_day=5.0))
    m.timeline.apply_due(m, m.date)
    idx = _put_in_mexico(m, 2000)
    p = m.people
    ok = mexico.can_wait(m, idx)
    assert not ok[~p.internet[idx]].any()
    exc = mexico.is_exception(m, idx)
    assert not ok[~exc].any() and ok[exc & p.internet[idx]].all()
    assert 0.15 < exc.mean() < 0.25  # exception_share 0.2
    mexico.on_cbp_one_set(m, type("P", (), {"fields": {"scope": "all"}})())
    assert (mexico.can_wait(m, idx) == p.internet[idx]).all()
    V = mexico.utilities(m, idx[~p.internet[idx]])
    assert np.isneginf(V[:, mexico.WAIT]).all()
    m.release()


# --- CBP One's end ---

def test_no_appointments_after_cbp_one_closes(tmp_path):
    pol = (_policy("2029-01-01", "cbp_one_open", scope="all", appointments_per_day=20.0)
           + _policy("2030-09-01", "cbp_one_close"))
    m = _model(tmp_path, pol)
    close = (dt.date(2030, 9, 1) - m.start).days // 7
    p = m.people
    at_port_after = 0
    while m.running:
        m.step()
        if m.week > close:
            at_port_after += int((p.at_port & (p.state == State.AT_BORDER)).sum())
            assert not np.any(p.cbp_week != NOT_REGISTERED)
    m.release()
    weeks_used = [w for w, _, used in m.mexico.log if used > 0]
    assert weeks_used and max(weeks_used) <= close < m.n_weeks - 10
    assert at_port_after == 0
    ts = timeseries(m)
    reg = ts[(ts.metric == "cbp_one_registered")].groupby("date").value.sum()
    assert reg[reg.index < "2030-08-25"].max() > 0 and reg[reg.index > "2030-09-08"].max() == 0


# --- Mexico's returns ---

def test_mexico_returns_take_people_back_south_at_a_cost(tmp_path):
    pol = _policy("2029-01-01", "mexico_enforcement", p_caught_week=1.0, weeks_lost=3, cost_usd=100.0)
    m = _model(tmp_path, pol)
    m.timeline.apply_due(m, m.date)
    idx = _put_in_mexico(m, 500)
    p = m.people
    p.resources[idx] = 150.0
    p.debt[idx] = 0.0
    before_cost = m.routes.cost[m.mexico.seg]
    m.week = 1
    mexico.returned_south_mexico(m, idx)
    assert len(np.concatenate(m.events["mexico_returns"])) == 500
    north = idx[p.state[idx] == State.IN_TRANSIT]
    south = idx[p.state[idx] == State.INTEGRATING]
    settled = idx[p.state[idx] == State.SETTLED_MEXICO]
    assert len(north) + len(south) + len(settled) == 500 and len(north) > len(south) > 0
    # back at the start of the geofence segment, weeks_lost longer, having paid 100 and the segment again
    seg = m.routes.path[p.route[north], p.seg[north]]
    assert np.all(seg == m.mexico.seg)
    assert np.all(p.seg_left[north] == m.routes.weeks[m.mexico.seg] + 3)
    paid = 150.0 - p.resources[north] + p.debt[north]
    assert np.all(paid >= 100.0 + before_cost - 1e-3)
    assert np.all(p.resources[south] == 50.0)
    assert len(np.concatenate(m.events["returned_south"])) == len(south)
    m.release()


def test_certain_capture_stops_every_arrival_at_the_border(tmp_path):
    """p_caught_week 1 from a date: everyone on the geofence segment or waiting is caught each week, so
    after it (and the week already under way) nobody reaches the border; some give up and go south."""
    pol = _policy("2030-06-01", "mexico_enforcement", p_caught_week=1.0, weeks_lost=1, cost_usd=50.0)
    m = _model(tmp_path, pol)
    m.run()
    m.release()
    ts = timeseries(m)
    arr = ts[ts.metric == "border_arrivals"].groupby("date").value.sum()
    assert arr[arr.index < "2030-06-01"].sum() > 0
    assert arr[arr.index >= "2030-06-08"].sum() == 0
    assert ts[ts.metric == "mexico_returns"].value.sum() > 0
    assert ts[(ts.metric == "returned_south") & (ts.date >= "2030-06-01")].value.sum() > 0


# --- packs without [mexico], and the strict inputs ---

def test_a_pack_without_mexico_goes_straight_to_the_border(tmp_path):
    m = _model(tmp_path, mexico_table="")
    assert m.mexico is None
    m.run()
    m.release()
    p = m.people
    assert not np.any(p.state == State.WAITING_MEXICO)
    ts = timeseries(m)
    assert ts[ts.metric == "border_arrivals"].value.sum() > 0
    assert ts[ts.metric.isin(["waiting_mexico", "cbp_one_registered", "mexico_returns"])].value.sum() == 0


def test_arrive_north_without_mexico_puts_people_back_on_the_last_segment(tmp_path):
    m = _model(tmp_path, mexico_table="")
    idx = np.flatnonzero(m.people.state == State.INTEGRATING)[:10]
    mexico.arrive_north(m, idx)
    assert np.all(m.people.state[idx] == State.IN_TRANSIT)
    assert np.all(m.people.seg[idx] == m.routes.length[m.people.route[idx]] - 1)
    m.release()


def test_with_mexico_arrivals_stop_in_the_north_first(tmp_path):
    m = _model(tmp_path)
    m.run()
    m.release()
    ts = timeseries(m)
    # CBP One never opens here: almost everyone crosses on arrival, a few settle or go back south
    assert ts[ts.metric == "border_arrivals"].value.sum() > 0
    assert ts[ts.metric == "returned_south"].value.sum() > 0
    assert ts[ts.metric == "cbp_one_registered"].value.sum() == 0
    assert np.any(m.people.state == State.SETTLED_MEXICO)


@pytest.mark.parametrize("table, field", [
    (MEXICO.replace('"frontier"', '"nowhere"'), "mexico.geofence_segment"),
    (MEXICO.replace("exception_share = 0.2", "exception_share = 1.5"), "mexico.exception_share"),
    (MEXICO.replace("news_weight = 0.3", "news_weight = 0.3\nqueue = 3"), "mexico.queue"),
    (MEXICO.replace("appointment_share = 1.0\n", ""), "mexico.appointment_share"),
])
def test_bad_mexico_tables_are_errors_naming_the_field(tmp_path, table, field):
    with pytest.raises(InputError) as e:
        load_run(_scenario(tmp_path, mexico_table=table))
    assert field in str(e.value)


def test_cbp_one_policies_need_the_mexico_table_and_a_known_scope(tmp_path):
    with pytest.raises(InputError, match=r"\[mexico\]"):
        load_run(_scenario(tmp_path, _policy("2030-01-01", "cbp_one_close"), mexico_table=""))
    with pytest.raises(InputError, match="scope"):
        load_run(_scenario(tmp_path, _policy("2030-01-01", "cbp_one_open", scope="some", appointments_per_day=1.0)))
    with pytest.raises(InputError, match="p_caught_week"):
        load_run(_scenario(tmp_path, _policy("2030-01-01", "mexico_enforcement", p_caught_week=2.0,
                                                  weeks_lost=1, cost_usd=1.0)))
