"""The US border regimes of 2023-2025, Panama's 2024 measures and the 2025 closures (abm/border.py, issue 16).

Rule tests build a small model, place constructed people at the border or on the route, and apply one
step of the rule; series tests read runs of the baseline.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from abm import border, darien
from abm.model import SafeMobilityModel
from abm.policy import Policy, Timeline
from calibration.posterior import load_run
from agents.states import State

from conftest import BASELINE, DEFAULT_SCALE

N = 200  # constructed people per group


@pytest.fixture
def m():
    model = SafeMobilityModel(load_run(BASELINE, scale=0.001, seed=7))
    yield model
    model.release()


def pol(kind, date="2024-01-01", **fields):
    return Policy(date=dt.date.fromisoformat(date), kind=kind, fields=fields)


def people_of(m, nat, n=N, exclude=()):
    """n residents of nationality `nat` (by name)."""
    p = m.people
    ids = np.flatnonzero((p.nat == m.pack.nat_index(nat)) & (p.state == State.INTEGRATING))
    ids = np.setdiff1d(ids, np.asarray(exclude, dtype=np.int64))
    assert len(ids) >= n, nat
    return ids[:n]


def at_border(m, idx, port=False):
    """Put people at the border as if they had arrived last week, and return this week's events."""
    m.people.at_port[idx] = port
    border.arrive(m, idx)
    m.refresh_active()
    m.events.clear()
    border.step(m)
    ev = {k: np.concatenate(v) for k, v in m.events.items()}
    m.events.clear()
    return ev


def border_cfg(m, **kw):
    m.border.cfg = {**m.border.cfg, "p_expel_title42": 0.0, "p_remove": 0.0, "p_remove_shutdown": 0.0,
                    "p_remove_circumvention": 0.0, "p_reattempt": 0.0, **kw}


# --- The Circumvention of Lawful Pathways rule and removal flights ---

def test_circumvention_rule_removes_between_ports_crossers_where_flights_run(m):
    border_cfg(m, p_remove=0.0, p_remove_circumvention=1.0)
    m.border.title42 = False
    border.on_removal_flights(m, pol("removal_flights", nationalities=["Venezuela"], running=False))
    col, ven = people_of(m, "Colombia"), people_of(m, "Venezuela")
    # before the rule: nobody removed (p_remove 0)
    ev = at_border(m, col[:50])
    assert (m.people.state[col[:50]] == State.IN_US).all() and "removed_to_origin" not in ev
    border.on_circumvention(m, pol("circumvention_rule", "2023-05-11"))
    ev = at_border(m, np.concatenate([col[50:], ven]))
    # crossed between ports, flights to Colombia: removed to origin, and barred (RETURNED, not back on the route)
    assert (m.people.state[col[50:]] == State.RETURNED).all()
    assert set(ev["removed_to_origin"]) == set(col[50:])
    # no flights to Venezuela: nobody can be removed, so all are released into the US
    assert (m.people.state[ven] == State.IN_US).all()
    assert set(ev["admitted"]) == set(ven)
    m.refresh_active()
    assert not np.isin(col[50:], m.act).any()


def test_expelled_under_title42_may_try_again_removed_may_not(m):
    border_cfg(m, p_expel_title42=1.0, p_reattempt=1.0)
    m.beh["reattempt_choice"] = 1.0
    m.border.expellable = {m.pack.nat_index("Venezuela")}
    ven = people_of(m, "Venezuela")
    ev = at_border(m, ven)
    assert set(ev["expelled"]) == set(ven) and "removed_to_origin" not in ev
    # back in northern Mexico, deciding again there (abm/mexico.py): crossing again, waiting for CBP One,
    # settling, or going back south; none is removed or let in
    assert not np.isin(m.people.state[ven], (State.RETURNED, State.IN_US, State.DEAD)).any()
    assert (m.people.state[ven] == State.AT_BORDER).any()  # some cross again at once (Title 42 has no bar)
    # once Title 42 has ended, the same people cannot be expelled: removal needs flights
    m.border.title42 = False
    border_cfg(m, p_remove_circumvention=1.0)
    m.border.circumvention = True
    border.on_removal_flights(m, pol("removal_flights", nationalities=["Venezuela"], running=True))
    ven2 = people_of(m, "Venezuela", exclude=ven)
    at_border(m, ven2)
    assert (m.people.state[ven2] == State.RETURNED).all()


def test_removal_flights_follow_the_baseline_dates(m):
    """Venezuelans can be removed to origin only while the flights run (5 October 2023 to February 2024)."""
    t = Timeline(m.scenario.policies, {"removal_flights": border.on_removal_flights})
    t.policies = [p for p in t.policies if p.kind == "removal_flights"]
    ven = m.pack.nat_index("Venezuela")
    seen = {}
    for d in ("2023-01-01", "2023-10-04", "2023-10-05", "2024-01-31", "2024-03-01", "2025-06-30"):
        t.apply_due(m, dt.date.fromisoformat(d))
        seen[d] = bool(m.border.removable[ven])
    assert seen == {"2023-01-01": False, "2023-10-04": False, "2023-10-05": True, "2024-01-31": True,
                    "2024-03-01": False, "2025-06-30": False}
    assert m.border.removable[m.pack.nat_index("Colombia")]


def test_port_arrivals_are_admitted_and_counted_apart(m):
    border_cfg(m, p_port_admit=1.0, p_remove=1.0)
    m.border.title42 = False
    col = people_of(m, "Colombia")
    m.people.at_port[col[:120]] = True  # came with an appointment (set by abm/mexico.py)
    m.events.clear()
    border.arrive(m, col)
    ev = {k: np.concatenate(v) for k, v in m.events.items()}
    assert len(ev["port_arrivals"]) == 120 and len(ev["usbp_apprehensions"]) == N - 120
    m.refresh_active()
    m.events.clear()
    border.step(m)
    assert (m.people.state[col[:120]] == State.IN_US).all()      # appointment: paroled in
    assert (m.people.state[col[120:]] == State.RETURNED).all()   # between ports, p_remove 1
    assert not m.people.at_port.any()                            # reset once handled


def test_arrivals_split_between_ports_and_at_ports(m):
    col = people_of(m, "Colombia")
    m.people.at_port[col[:30]] = True
    m.events.clear()
    border.arrive(m, col)
    ev = {k: np.concatenate(v) for k, v in m.events.items()}
    assert set(ev["port_arrivals"]) == set(col[:30])
    assert set(ev["usbp_apprehensions"]) == set(col[30:])
    assert len(ev["border_arrivals"]) == N


# --- The June 2024 rule ---

def feed(m, daily_series):
    """Weeks of between-ports encounters (people a day, all nationalities) through the rule; the states."""
    ratio = m.border.cfg.get("other_encounters_ratio", 0.0)
    out = []
    for d in daily_series:
        border.update_shutdown(m, d * 7 / (1 + ratio))
        out.append(m.border.shutdown)
    return out


@pytest.mark.parametrize("days,weeks", [(7, 1), (14, 2), (28, 4)])
def test_june_2024_rule_shuts_above_threshold_and_lifts_after_staying_below(m, days, weeks):
    m.border.cfg = {**m.border.cfg, "other_encounters_daily": 0.0}
    assert feed(m, [4000, 3000]) == [False, False]  # no rule yet
    border.on_asylum_rule(m, pol("asylum_rule", threshold_daily=2500, reopen_daily=1500, reopen_days=days))
    assert feed(m, [2400, 2600, 2000]) == [False, True, True]  # shuts above 2,500; not lifted between the levels
    # below the reopen level for fewer weeks than required, then one week above it: the count restarts
    below = [1400] * (weeks - 1)
    assert feed(m, below + [1600] + below) == [True] * (2 * weeks - 1)
    assert feed(m, [1499]) == [False]  # lifted after `days` (in weeks) consecutively below
    assert [c for _, c, _ in m.border.log] == ["shut", "lifted"]
    # and it shuts again above the threshold
    assert feed(m, [2501]) == [True]


def test_rule_counts_between_ports_encounters_and_the_others_in_proportion(m):
    """Port arrivals (CBP One) do not count; encounters of other nationalities are ratio x the modelled."""
    border.on_asylum_rule(m, pol("asylum_rule", threshold_daily=2500, reopen_daily=1500, reopen_days=14))
    ratio = m.border.cfg["other_encounters_ratio"]
    assert ratio == pytest.approx(1.12)
    col = people_of(m, "Colombia", n=20)
    m.people.at_port[col] = True
    border.arrive(m, col)                      # 20 agents x 1,000 people at a port of entry
    m._end_week()
    assert m.border.daily == 0.0 and not m.border.shutdown
    border.arrive(m, people_of(m, "Ecuador", n=20))  # 20,000 people between ports in a week
    m._end_week()
    assert m.border.daily == pytest.approx(20 * m.weight / 7 * (1 + ratio))
    assert m.border.shutdown


# --- Panama, 2024 ---

def on_darien(m, idx):
    """Constructed travellers about to complete the Darien segment."""
    p = m.people
    p.route[idx] = m.routes.option_names.index("darien")
    p.set_state(idx, State.IN_TRANSIT, m.week)
    p.seg[idx] = 0
    p.seg_left[idx] = 1
    m.routes.p_death[:] = 0.0
    m.refresh_active()


def test_panama_removal_flights_take_listed_nationalities_up_to_capacity(m):
    col, ven = people_of(m, "Colombia"), people_of(m, "Venezuela")
    on_darien(m, np.concatenate([col, ven]))
    m.events.clear()
    darien.step(m)  # no flights yet: nobody removed
    assert "removed_to_origin" not in m.events
    assert (m.people.seg[col] == 1).all()
    col2, ven2 = people_of(m, "Colombia", exclude=col), people_of(m, "Venezuela", exclude=ven)
    border.on_removal_flights(m, pol("removal_flights", "2024-08-20", segment="darien", nationalities=["Colombia"],
                                     running=True, per_week=50 / m.scale))  # 50 agents a week
    on_darien(m, np.concatenate([col2, ven2]))
    m.events.clear()
    darien.step(m)
    removed = np.concatenate(m.events["removed_to_origin"])
    assert len(removed) == 50 and np.isin(removed, col2).all()
    assert (m.people.state[removed] == State.RETURNED).all()
    assert (m.people.seg[ven2] == 1).all()  # no flights to Venezuela: they go on north


def test_panama_measures_are_dated_in_the_baseline(m):
    kinds = {(p.kind, p.date.isoformat()) for p in m.scenario.policies}
    assert ("removal_flights", "2024-08-20") in kinds and ("segment_set", "2024-07-05") in kinds
    assert any(p.kind == "announce" and p.fields["topic"] == "expulsion" and p.date.isoformat() == "2024-08-20"
               for p in m.scenario.policies)


# --- The 2025 closures, rule by rule ---

def test_resettlement_suspended_stops_approvals_and_relocations(small_run):
    m, ts = small_run
    after = lambda metric, d: ts[(ts.metric == metric) & (ts.date >= d)].value.sum()
    before = lambda metric, d: ts[(ts.metric == metric) & (ts.date < d)].value.sum()
    # the week containing 20 January 2025 starts on 17 January
    for metric in ("smo_approvals", "smo_relocations"):
        assert before(metric, "2025-01-17") > 0 and after(metric, "2025-01-17") == 0, metric
    # offices take no cases after January 2025
    for metric in ("smo_registrations", "smo_applications"):
        assert before(metric, "2025-01-24") > 0 and after(metric, "2025-01-24") == 0, metric
    assert not m.office_open_at.any()


def test_chnv_parole_closed_on_25_march_2025(small_run):
    m, ts = small_run
    chnv = [m.pack.nat_index(n) for n in ("Cuba", "Haiti", "Nicaragua", "Venezuela")]
    assert not m.parole_nat_ok[chnv].any()
    arr = ts[ts.metric == "parole_arrivals"].groupby("date").value.sum()
    travel = m.pack.parole["travel_weeks"]
    last_flight = (dt.date(2025, 3, 21) + dt.timedelta(weeks=travel)).isoformat()  # week of 25 March + travel
    assert arr[arr.index < "2025-03-21"].sum() > 0 and arr[arr.index > last_flight].sum() == 0


def test_baseline_runs_to_june_2025(small_run):
    m, ts = small_run
    assert m.scenario.end == dt.date(2025, 6, 30)
    assert ts.date.max() >= "2025-06-20"
    # the counts add up: border_arrivals = usbp_apprehensions + port_arrivals, every week
    g = ts[ts.metric.isin(["border_arrivals", "usbp_apprehensions", "port_arrivals"])].pivot_table(
        index="date", columns="metric", values="value", aggfunc="sum")
    assert np.allclose(g.border_arrivals, g.usbp_apprehensions + g.port_arrivals)


# --- The series: Cuban encounters (002 s2.1) ---

def _cuban_rates(ensemble):
    """Cuban border arrivals, agents a week pooled over the ensemble's seeds, with the standard error from count
    noise, in late 2022, February-April 2023 and late 2023."""
    def rate(a, b):
        n = sum(ts[(ts.metric == "border_arrivals") & (ts.nationality == "Cuba") & (ts.date >= a) & (ts.date < b)]
                .value.sum() for ts in ensemble) * DEFAULT_SCALE
        weeks = (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days / 7
        return n / weeks, np.sqrt(n) / weeks

    out = rate("2022-10-01", "2023-01-01"), rate("2023-02-01", "2023-05-01"), rate("2023-10-01", "2024-01-01")
    print("Cuban border arrivals, agents a week pooled: late 2022 %.1f, Feb-Apr 2023 %.1f, late 2023 %.1f"
          % tuple(r[0] for r in out))
    return out


def _z(x, y):
    return (x[0] - y[0]) / np.hypot(x[1], y[1])


def test_cuban_border_arrivals_fall_after_january_2023(default_ensemble):
    """Seed 002 s2.1: Cuban encounters fell after January 2023 (parole, expulsions to Mexico). Pooled over
    seeds 1-5 at the default scale, in agents; the fall must stand out from count noise (z > 3)."""
    late_2022, spring_2023, _ = _cuban_rates(default_ensemble)
    assert _z(late_2022, spring_2023) > 3


@pytest.mark.xfail(strict=True, reason="the refitted model (issue 17) has no late-2023 Cuban rise: the spring "
                                       "trough's depth rests on p_reattempt, an assumption without a source "
                                       "(docs/ODD.md 4.2, 'What the two unmet acceptance points rest on')")
def test_cuban_border_arrivals_rise_by_late_2023(default_ensemble):
    """Seed 002 s2.1: Cuban encounters rose again by late 2023 (after Title 42, Cubans cannot be removed: no
    flights). Same design as the fall (z > 3). Met before the refit of issue 17; at the refitted posterior
    the late-2023 level is at or below February-April 2023's (seeds 1-5 at the joint point), and a one-off
    check over posterior draws 0-3 (2 seeds each, docs/calibration.md) found a clear rise in one draw of four.
    A strict expected failure: if the model recovers the rise, this test says so."""
    _, spring_2023, late_2023 = _cuban_rates(default_ensemble)
    assert _z(late_2023, spring_2023) > 3
