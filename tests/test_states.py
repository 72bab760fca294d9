"""Every person is in exactly one state every week, and the case records agree with the state."""
import numpy as np
import pytest

from abm.model import SafeMobilityModel
from calibration.posterior import load_run
from agents.states import ParoleStage, SmoStage, State
from tests.conftest import BASELINE

ACTIVE_SMO = (SmoStage.PENDING, SmoStage.REGISTERED, SmoStage.UNHCR, SmoStage.APPROVED)
ACTIVE_PAROLE = (ParoleStage.CONSIDERING, ParoleStage.APPLIED, ParoleStage.AUTHORISED)


@pytest.fixture(scope="module")
def weekly_states():
    """States of every person at the end of every week of a small baseline run."""
    m = SafeMobilityModel(load_run(BASELINE, scale=0.0005, seed=11))
    snaps = []
    while m.running:
        m.step()
        p = m.people
        snaps.append({k: getattr(p, k).copy() for k in ("state", "smo_stage", "parole_stage", "seg_left", "prep_left")})
    m.release()
    return m, snaps


def test_one_valid_state_per_person_per_week(weekly_states):
    m, snaps = weekly_states
    valid = np.array([s.value for s in State])
    for s in snaps:
        assert s["state"].shape == (m.people.n,)
        assert np.isin(s["state"], valid).all()
        # the state counts partition the population
        counts = np.bincount(s["state"], minlength=len(State))
        assert counts.sum() == m.people.n


def test_terminal_states_are_final(weekly_states):
    _, snaps = weekly_states
    terminal = np.array([State.IN_US, State.RETURNED, State.DEAD])
    for a, b in zip(snaps, snaps[1:]):
        was = np.isin(a["state"], terminal)
        assert (b["state"][was] == a["state"][was]).all()


def test_cases_match_states(weekly_states):
    _, snaps = weekly_states
    for s in snaps:
        st = s["state"]
        waiting_smo = st == State.WAITING_SMO
        assert np.isin(s["smo_stage"][waiting_smo], ACTIVE_SMO).all()
        waiting_par = st == State.WAITING_PAROLE
        assert np.isin(s["parole_stage"][waiting_par], ACTIVE_PAROLE).all()
        # nobody outside the waiting states holds an open case
        assert not np.isin(s["smo_stage"][~waiting_smo], ACTIVE_SMO).any()
        assert not np.isin(s["parole_stage"][~waiting_par], ACTIVE_PAROLE).any()
        assert (s["seg_left"][st == State.IN_TRANSIT] > 0).all()


def test_stocks_in_timeseries_add_up(small_run):
    """The stocks reported in people add up to the people who have arrived, every week."""
    m, ts = small_run
    stocks = ts[ts.metric.isin(["integrating", "waiting_smo", "considering_parole", "waiting_parole", "preparing",
                                "in_transit", "in_us"])]
    per_week = stocks.groupby("date").value.sum()
    assert per_week.min() > 0
    # never more people than the model holds
    assert per_week.max() <= m.people.n * m.weight + 1e-6
