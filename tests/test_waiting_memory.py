"""Waiting with memory (issue 16, abm/waiting.py): a resumed wait continues its clock; a pathway given up
stays closed to the person until new information about it (an announcement, a contact's success); the
summary reports people by the times they gave up waiting."""
import datetime as dt

import numpy as np
import pytest

from abm import decisions, information, kernels, parole, smo, waiting
from abm.contacts import unique_ids
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run
from agents.population import GAVE_UP, GAVE_UP_COLUMN, VOICE
from agents.states import Intent, Option, ParoleStage, SmoStage, State
from calibration.targets import summary
from tests.conftest import BASELINE

RESIDENTS = (State.INTEGRATING, State.WAITING_SMO, State.WAITING_PAROLE, State.PREPARING)


def _model(seed=4, weeks=60, scale=0.002):
    m = SafeMobilityModel(load_run(BASELINE, scale=scale, seed=seed))
    for _ in range(m.spinup + weeks):
        m.step()
    return m


@pytest.fixture
def model():
    """A small baseline run into the SMOs' first months (parole open for Venezuelans since week 15)."""
    m = _model()
    yield m
    m.release()


def _settled(m, open_to, n=200):
    """Up to n settled people to whom the pathway (open_to: decisions.smo_open_to, parole_open_to) is open."""
    p = m.people
    cand = np.flatnonzero(p.state == State.INTEGRATING)
    cand = cand[open_to(m, cand)]
    assert len(cand) >= 20
    return cand[:n]


def test_memory_fields_cost_no_memory():
    assert VOICE.itemsize == 32
    assert {"waited_smo", "waited_parole", "gave_up", "gave_ups"} <= set(VOICE.names)
    assert not any(n.startswith("pad") for n in VOICE.names)
    # the kernel renews the pathways of the signals it names (information.SIGNALS order)
    assert kernels._SMO_POS == information.SIG["smo_pos"] and kernels._PAROLE_POS == information.SIG["parole_pos"]


def test_parole_clock_survives_reentry(model):
    m, p = model, model.people
    ids = _settled(m, decisions.parole_open_to)
    ids = ids[p.rules_parole[ids] & parole.eligible(m, ids)]  # these apply at once
    assert len(ids) >= 10
    p.waited_parole[ids] = 0            # no earlier wait
    w0 = m.week
    parole.consider(m, ids)
    assert (p.parole_stage[ids] == ParoleStage.APPLIED).all() and (p.waited_parole[ids] == 0).all()
    m.week = w0 + 5
    assert (waiting.parole_weeks(m, ids, np.ones(len(ids), bool)) == 5).all()
    parole.withdraw(m, ids)
    p.set_state(ids, State.INTEGRATING, m.week)
    assert (p.waited_parole[ids] == 5).all()
    # not waiting: parole costs the weeks already waited (it cost nothing before the memory)
    m.week = w0 + 8
    V = decisions.utilities(m, ids, np.zeros(len(ids), bool))
    b = m.beh
    pat = np.maximum(p.patience[ids], 1e-3)
    want = b["legal_value"] + b["belief_weight"] * (p.b_parole[ids] - 0.5) - b["wait_cost"] * 5 / pat
    assert np.allclose(V[:, Option.PAROLE], want, rtol=1e-5)
    # resumed (a new application, at the back of the queue): the clock goes on from 5
    parole.consider(m, ids)
    assert (p.parole_week[ids] == w0 + 8).all()     # queue position: the new application's week
    m.week = w0 + 10
    assert (waiting.parole_weeks(m, ids, p.state[ids] == State.WAITING_PAROLE) == 7).all()
    V = decisions.utilities(m, ids, np.zeros(len(ids), bool))
    want = b["legal_value"] + b["belief_weight"] * (p.b_parole[ids] - 0.5) - b["wait_cost"] * 7 / pat + b["inertia"]
    assert np.allclose(V[:, Option.PAROLE], want, rtol=1e-5)


def test_smo_clock_survives_reentry(model):
    m, p = model, model.people
    ids = _settled(m, decisions.smo_open_to)
    p.waited_smo[ids] = 0               # no earlier wait
    w0 = m.week
    yes, _ = smo.register_attempt(m, ids)
    assert len(yes) >= 10 and (p.smo_news[yes] == w0).all()
    m.week = w0 + 4                     # four weeks without news (smo.step not run)
    smo.withdraw(m, yes)
    assert (p.waited_smo[yes] == 4).all()
    p.set_state(yes, State.INTEGRATING, m.week)
    m.week = w0 + 10
    V = decisions.utilities(m, yes, np.zeros(len(yes), bool))
    b, pat = m.beh, np.maximum(p.patience[yes], 1e-3)
    want = (b["legal_value"] + b["belief_weight"] * (p.b_smo[yes] - 0.5) - b["fee_penalty"] * p.fee_belief[yes]
            - b["expulsion_fear_penalty"] * p.expel_belief[yes] - b["wait_cost"] * (p.b_wait[yes] + 4) / pat)
    assert np.allclose(V[:, Option.SMO], want, rtol=1e-5)
    again, _ = smo.register_attempt(m, yes)
    assert len(again) == len(yes)
    assert (m.week - p.smo_news[again] == 4).all() and (p.waited_smo[again] == 0).all()
    m.week = w0 + 12
    V = decisions.utilities(m, again, np.zeros(len(again), bool))
    want = (b["legal_value"] + b["belief_weight"] * (p.b_smo[again] - 0.5) - b["fee_penalty"] * p.fee_belief[again]
            - b["expulsion_fear_penalty"] * p.expel_belief[again] - b["wait_cost"] * 6 / pat + b["inertia"])
    assert np.allclose(V[:, Option.SMO], want, rtol=1e-5)


def test_giving_up_closes_the_pathway_until_renewed(model):
    m, p = model, model.people
    ids = _settled(m, decisions.parole_open_to)
    parole.consider(m, ids)
    ids = ids[p.state[ids] == State.WAITING_PAROLE]
    half = len(ids) // 2
    move, stay = ids[:half], ids[half:]
    before = p.gave_ups[ids].copy()
    decisions.apply_choices(m, move, np.full(len(move), Option.MOVE))
    decisions.apply_choices(m, stay, np.full(len(stay), Option.INTEGRATE))
    assert (p.state[move] == State.PREPARING).all() and (p.state[stay] == State.INTEGRATING).all()
    assert (p.parole_stage[ids] == ParoleStage.WITHDRAWN).all()
    assert ((p.gave_up[ids] & GAVE_UP["parole"]) > 0).all()
    assert (p.gave_ups[ids] == before + 1).all()           # week >= 0: counted
    assert not decisions.parole_open_to(m, ids).any()
    p.renew(ids, "smo")                                     # news of the other pathway: no change
    assert not decisions.parole_open_to(m, ids).any()
    p.renew(ids, "parole")
    assert decisions.parole_open_to(m, ids).all()


def test_switching_pathway_gives_up_the_first_without_counting(model):
    m, p = model, model.people
    ids = _settled(m, decisions.smo_open_to)
    yes, _ = smo.register_attempt(m, ids)
    assert len(yes) >= 10
    before = p.gave_ups[yes].copy()
    decisions.apply_choices(m, yes, np.full(len(yes), Option.PAROLE))
    assert ((p.gave_up[yes] & GAVE_UP["smo"]) > 0).all()
    assert (p.gave_ups[yes] == before).all()               # still waiting (on parole): not giving up waiting
    assert (p.smo_stage[yes] == SmoStage.WITHDRAWN).all()
    assert not decisions.smo_open_to(m, yes).any()


def test_burn_in_give_ups_are_not_counted(model):
    m, p = model, model.people
    ids = _settled(m, decisions.smo_open_to)
    yes, _ = smo.register_attempt(m, ids)
    before = p.gave_ups[yes].copy()
    w = m.week
    m.week = -3
    decisions.apply_choices(m, yes, np.full(len(yes), Option.MOVE))
    m.week = w
    assert (p.gave_ups[yes] == before).all()
    assert ((p.gave_up[yes] & GAVE_UP["smo"]) > 0).all()   # the mark, a behaviour, is kept


def test_rejection_stays_final_when_renewed(model):
    """An SMO rejection or IOM referral rules the SMO out (smo_no_route); news of it does not change that."""
    m, p = model, model.people
    ids = _settled(m, decisions.smo_open_to)
    yes, _ = smo.register_attempt(m, ids)
    p.smo_no_route[yes] = True
    smo.close_case(m, yes, SmoStage.REJECTED)
    p.renew(yes, "smo")
    assert not decisions.smo_open_to(m, yes).any()
    assert ((p.gave_up[yes] & GAVE_UP["smo"]) == 0).all()  # a rejection is not giving up


def test_an_announcement_renews_those_who_gave_up_before_it(model):
    """Hearing an announcement on a channel renews the pathway it is about for those who gave it up before
    it was made; for those who gave up since, hearing it (again) is not news."""
    m, p = model, model.people
    res = np.flatnonzero(np.isin(p.state, RESIDENTS))
    p.gave_up[res] = GAVE_UP["smo"] | GAVE_UP["parole"]
    before, after = res[::2], res[1::2]
    p.gave_up_week[before, GAVE_UP_COLUMN["parole"]] = m.week - 1
    p.gave_up_week[after, GAVE_UP_COLUMN["parole"]] = m.week
    information.put_on_channels(m, "parole", None, ["official"])
    information.hear(m, res, m.channels["official"], m.week)
    cleared = lambda ids: (p.gave_up[ids] & GAVE_UP["parole"]) == 0
    assert cleared(before).all() and not cleared(after).any()
    assert ((p.gave_up[res] & GAVE_UP["smo"]) > 0).all()   # the other pathway stays given up


def test_outcome_kernel_renews_as_the_rule_does(model):
    """A contact's success renews the pathway (kernels.hear_outcomes = information._outcomes), for those
    who heard of one and nobody else."""
    m, p = model, model.people
    assert sum(len(m.last_events.get(k, ())) for k in ("parole_arrivals", "smo_approvals", "smo_relocations")) > 0
    res = np.isin(p.state, RESIDENTS)
    p.gave_up[res] = GAVE_UP["smo"] | GAVE_UP["parole"]
    saved = {f: getattr(p, f).copy() for f in ("b_smo", "b_parole", "b_admit", "b_risk", "gave_up")}
    information._hear_outcomes(m)
    kernel = p.gave_up.copy()
    for f, x in saved.items():
        getattr(p, f)[:] = x
    heard = np.flatnonzero(res)
    k = np.array([m.signal_counts_of(i) for i in heard])
    has = k.sum(axis=1) > 0
    information._outcomes(m, heard[has], k[has])
    assert np.array_equal(p.gave_up, kernel)
    smo_renewed = res & ((kernel & GAVE_UP["smo"]) == 0)
    par_renewed = res & ((kernel & GAVE_UP["parole"]) == 0)
    assert smo_renewed.any() or par_renewed.any()
    assert np.array_equal(np.flatnonzero(par_renewed), heard[k[:, information.SIG["parole_pos"]] > 0])
    for f, x in saved.items():
        getattr(p, f)[:] = x


def test_compiled_choice_applies_the_memory(model):
    """With clocks banked and pathways given up, the compiled choice is the numpy one, and the memory
    changes choices (non-vacuous)."""
    m, p = model, model.people
    res = np.flatnonzero(np.isin(p.state, RESIDENTS))
    u = m.streams.uniform("test_memory", 0, res)
    p.waited_smo[res] = (u * 40).astype(np.int16)
    p.waited_parole[res] = (u[::-1] * 40).astype(np.int16)
    p.gave_up[res] = (u < 0.3) * GAVE_UP["smo"] + ((u > 0.6) & (u < 0.9)) * GAVE_UP["parole"]
    who, legal_only = decisions.deciders(m, res)
    assert len(who) > 100
    a = decisions.choose(m, who, decisions.utilities(m, who, legal_only))
    b = decisions.choose_all(m, who, legal_only)
    assert (a == b).mean() > 0.999
    # nobody chooses a pathway they gave up unless they are waiting on it
    gave_smo = (p.gave_up[who] & GAVE_UP["smo"]) > 0
    assert not ((b == Option.SMO) & gave_smo & (p.state[who] != State.WAITING_SMO)).any()
    p.waited_smo[res] = 0
    p.waited_parole[res] = 0
    p.gave_up[res] = 0
    c = decisions.choose_all(m, who, legal_only)
    assert (c != b).any()


def test_no_return_without_new_information():
    """Week by week in a run: whoever enters a wait on a pathway they had given up was renewed that week
    (a contact's success last week, or an announcement this week)."""
    m = SafeMobilityModel(load_run(BASELINE, scale=0.002, seed=2))
    p, a = m.people, m.adj
    returns = 0
    for _ in range(m.spinup + 70):
        w = m.week
        marks, state = p.gave_up.copy(), p.state.copy()
        pos = {t: unique_ids(np.concatenate([np.empty(0, np.int64)] + [m.last_events[e] for e in names
                                                                        if e in m.last_events]))
               for t, names in (("smo", information.SIGNALS["smo_pos"]), ("parole", information.SIGNALS["parole_pos"]))}
        n_applied = len(m.timeline.applied)
        m.step()
        announced = {pol.fields.get("topic") for wk, pol in m.timeline.applied[n_applied:] if pol.kind == "announce"}
        for topic, st in (("smo", State.WAITING_SMO), ("parole", State.WAITING_PAROLE)):
            entered = np.flatnonzero((p.state == st) & (state != st) & (p.since == w))
            back = entered[(marks[entered] & GAVE_UP[topic]) > 0]
            if len(back) == 0 or topic in announced:
                returns += len(back)
                continue
            src = pos[topic]
            heard = unique_ids(np.concatenate([a.indices[a.indptr[i]:a.indptr[i + 1]] for i in src])) if len(src) \
                else np.empty(0, np.int64)
            assert np.isin(back, heard).all(), (w, topic)
            returns += len(back)
    assert (p.gave_up > 0).sum() > 0 and returns > 0   # people did give up, and some came back
    m.release()


def test_summary_reports_the_distribution_in_people():
    """Over three seeds: the buckets cover everyone (in people); every give-up for the irregular route
    (the gave_up_waiting flow) is one of the give-ups counted; and people rarely give up twice (a second
    give-up needs news renewing the pathway, a return, and a second wait) where, with the mark disabled,
    they do so far more often."""
    shares = {}
    for marks in (True, False):
        once = twice = 0
        for seed in (1, 2, 3):
            sc = load_run(BASELINE, scale=0.002, seed=seed)
            m = SafeMobilityModel(sc)
            if not marks:
                m.people.renew = lambda idx, topic, announced=None: None
                orig = waiting.give_up
                waiting.give_up = lambda m_, idx, topic: None
            try:
                m.run()
            finally:
                if not marks:
                    waiting.give_up = orig
            ts = timeseries(m)
            s = summary(m, ts)["gave_up_waiting_times"]
            assert sum(s[k] for k in ("0", "1", "2", "3+")) == pytest.approx(m.people.n * m.weight)
            flow = ts[ts.metric == "gave_up_waiting"].value.sum()
            assert s["give_ups"] >= flow - 1e-6 and flow > 0
            once += s["1"]
            twice += s["2"] + s["3+"]
            m.release()
        shares[marks] = twice / (once + twice)
    assert shares[True] < 0.5 * shares[False]
