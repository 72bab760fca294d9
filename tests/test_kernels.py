"""The compiled loops (abm.kernels) against plain numpy, and the event-driven mechanisms (clocks,
transmissions, catching up) against the weekly rules they replace."""
import numpy as np
import pytest
import scipy.sparse as sp

from abm import decisions, information
from abm.clocks import NEVER, Clock
from abm.contacts import C, Sources, silence, silenced, view
from abm.crn import _GOLDEN, Streams, _mix
from abm.model import SafeMobilityModel
from calibration.posterior import load_run
from agents.population import VOICE
from agents.states import SmoStage, State
from tests.conftest import BASELINE


@pytest.fixture(scope="module")
def model():
    """A small baseline run into the SMOs' first months, so that people are aware, waiting, deciding."""
    m = SafeMobilityModel(load_run(BASELINE, scale=0.002, seed=4))
    for _ in range(m.spinup + 60):
        m.step()
    yield m
    m.release()


def test_hash_kernel_gives_the_numpy_numbers():
    s = Streams(11)
    ids = np.arange(0, 10**6, 7)
    with np.errstate(over="ignore"):
        z = _mix(ids.astype(np.uint64) * _GOLDEN + s._base("x", 3))
    assert np.array_equal(s.uniform("x", 3, ids), (z >> np.uint64(11)).astype(np.float64) / 2.0**53)


def test_contacts_view_sums_what_the_contacts_say(model):
    p, a = model.people, model.adj
    idx = np.arange(0, p.n, 3)
    K = view(model, idx)
    talk = (p.state != State.NOT_ARRIVED) & (p.state != State.DEAD)
    a_s, a_p = p.aware_smo & talk, p.aware_parole & talk
    waiting = talk & (p.state == State.WAITING_SMO) & np.isin(p.smo_stage, (SmoStage.REGISTERED, SmoStage.UNHCR))
    cols = {"talk": talk, "aware_smo": a_s, "aware_parole": a_p, "rules_smo": p.rules_smo & talk,
            "rules_parole": p.rules_parole & talk, "fee": p.fee_belief & a_s, "expel": p.expel_belief & a_s,
            "b_smo": p.b_smo * a_s, "b_parole": p.b_parole * a_p, "b_wait": p.b_wait * a_s,
            "b_admit": p.b_admit * talk, "smo_waiting": waiting, "smo_reg": p.smo_reg_week * waiting}
    A = sp.csr_matrix(a, dtype=np.float64)
    for c, x in cols.items():
        want = (A @ x.astype(np.float64))[idx]
        assert np.allclose(K[:, C[c]], want, rtol=1e-6, atol=1e-4), c
    assert K[:, C["aware_smo"]].sum() > 0 and K[:, C["smo_waiting"]].sum() > 0  # the check is not vacuous


def test_compiled_choice_is_the_logit_of_utilities(model):
    """Same uniform draws: the compiled choice is the numpy one (bar float rounding at a boundary)."""
    m = model
    who, legal_only = decisions.deciders(m, np.flatnonzero(np.isin(m.people.state, (1, 2, 3, 4))))
    assert len(who) > 100
    a = decisions.choose(m, who, decisions.utilities(m, who, legal_only))
    b = decisions.choose_all(m, who, legal_only)
    assert (a == b).mean() > 0.999
    assert len(np.unique(a)) > 1


def test_outcome_kernel_moves_beliefs_as_the_rule_does(model):
    m = model
    p = m.people
    ev = {k: v for k, v in m.last_events.items()}
    assert sum(len(v) for v in ev.values()) > 0
    before = {f: getattr(p, f).copy() for f in ("b_smo", "b_parole", "b_admit", "b_risk")}
    information._hear_outcomes(m)
    after = {f: getattr(p, f).copy() for f in before}
    for f in before:
        getattr(p, f)[:] = before[f]
    heard = np.flatnonzero(np.isin(p.state, (1, 2, 3, 4)))
    k = np.array([m.signal_counts_of(i) for i in heard])
    has = k.sum(axis=1) > 0
    information._outcomes(m, heard[has], k[has])
    for f in before:
        assert np.allclose(getattr(p, f), after[f], atol=1e-6), f
        getattr(p, f)[:] = before[f]
    assert any(not np.allclose(after[f], before[f]) for f in before)


def test_catching_up_n_weeks_is_n_weekly_steps(model):
    """With contacts standing still, catching up after n weeks equals n weekly updates."""
    m = model
    p = m.people
    cand = np.flatnonzero(np.isin(p.state, (1, 2, 3, 4)) & p.aware_smo & p.us_tie)
    # no two of them in contact, so that each one's contacts stand still while it catches up
    taken = np.zeros(p.n, dtype=bool)
    ids = []
    for i in cand[:2000]:
        nb = m.adj.indices[m.adj.indptr[i]:m.adj.indptr[i + 1]]
        if not taken[nb].any() and not taken[i]:
            ids.append(i)
            taken[i] = True
            taken[nb] = True
    ids = np.array(ids[:300])
    assert len(ids) > 20
    saved = {f: getattr(p, f).copy() for f in ("b_smo", "b_parole", "b_wait", "b_admit")}
    saved_week = p.belief_week.copy()
    w0 = m.week
    p.belief_week[ids] = w0 - 5
    information.catch_up(m, ids)
    jump = {f: getattr(p, f)[ids].copy() for f in saved}
    for f in saved:
        getattr(p, f)[:] = saved[f]
    # the same, one week at a time, each person alone (so nobody else moves meanwhile)
    for i in ids:
        for k in range(5, -1, -1):
            m.week = w0 - k
            p.belief_week[i] = m.week
            information.catch_up(m, np.array([i]))
    m.week = w0
    for f in saved:
        # b_wait's target moves with the week (waited time grows): compare the others exactly
        if f != "b_wait":
            assert np.allclose(getattr(p, f)[ids], jump[f], atol=2e-5), f
        getattr(p, f)[:] = saved[f]
    p.belief_week[:] = saved_week


def test_clock_gives_weekly_bernoulli_events():
    """Geometric gaps, rescheduled after each event: the weekly event share is p, week after week."""
    n, p, weeks = 200_000, 0.03, 30
    c, s = Clock("t", n, 100), Streams(5)
    c.schedule(s, np.arange(n), 0, p)
    shares = []
    for w in range(1, weeks + 1):
        due = c.due(w)
        assert len(np.unique(due)) == len(due)
        shares.append(len(due) / n)
        c.schedule(s, due, w, p)
    se = np.sqrt(p * (1 - p) / n)
    assert all(abs(x - p) < 5 * se for x in shares)
    assert abs(np.mean(shares) - p) < 5 * se / np.sqrt(weeks)


def test_clock_cancel_and_horizon():
    c, s = Clock("t", 10, 5), Streams(1)
    c.schedule(s, np.arange(10), 0, 1.0)   # certain: all next week
    c.cancel(np.array([3]))
    assert sorted(c.due(1).tolist()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    c.schedule(s, np.arange(10), 0, 0.0)   # never
    assert (c.next == NEVER).all()


def test_transmissions_reach_a_listener_with_chance_one_minus_q_to_the_k():
    """Listener i has k_i talking contacts, each passing the news with chance p: the share of trials in
    which i hears is 1 - (1 - p)^k_i (binomial tolerance, 5 standard errors)."""
    ks = np.array([1, 2, 5, 10])
    n_src = ks.sum()
    n = len(ks) + n_src
    rows, cols, s = [], [], len(ks)
    for i, k in enumerate(ks):
        for _ in range(k):
            rows += [i, s]
            cols += [s, i]
            s += 1
    adj = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))

    class M:  # the little a transmission reads from a model
        pass
    m = M()
    m.adj, m.rng = adj, np.random.default_rng(0)
    m.people = M()
    m.people.voice = np.zeros(n, dtype=VOICE)
    m.people.voice["state"] = State.INTEGRATING
    m.silenced = silenced(n)
    src = Sources(adj.indptr, "aware_smo")
    src.add(np.arange(len(ks), n))
    p, trials = 0.1, 4000
    hits = np.zeros(len(ks))
    for _ in range(trials):
        heard = src.transmit(m, p)
        hits += np.isin(np.arange(len(ks)), heard)
    want = 1 - (1 - p) ** ks
    se = np.sqrt(want * (1 - want) / trials)
    assert np.all(np.abs(hits / trials - want) < 5 * se), (hits / trials, want)


@pytest.mark.parametrize("events", [300, 60_000])   # the serial path, and chunks on both threads
def test_transmission_kernel_finds_the_ties_plain_numpy_finds(events):
    """kernels.ties_at against numpy on a random network: each event's source (by position in the
    concatenated ties), the contact at the end of the tie, kept if they may still learn; sources found
    dead (their bit set by contacts.silence) are marked spent and counted once however many of their
    events there are."""
    from abm import kernels
    rng = np.random.default_rng(5)
    n = 3000
    a = sp.random(n, n, density=0.004, random_state=6, format="csr")
    adj = ((a + a.T) > 0).astype(np.float32).tocsr()
    voice = np.zeros(n, dtype=VOICE)
    voice["state"] = rng.choice([State.NOT_ARRIVED, State.INTEGRATING, State.PREPARING, State.DEAD, State.IN_US],
                                n, p=[0.1, 0.6, 0.1, 0.1, 0.1])
    voice["aware_smo"] = rng.random(n) < 0.5
    deg = np.diff(adj.indptr).astype(np.int64)
    ids = rng.permutation(n)[:1200]
    ids = ids[deg[ids] > 0]
    cum = np.cumsum(deg[ids])
    spent = rng.random(len(ids)) < 0.05
    pos = np.sort(rng.integers(0, cum[-1], events))
    # the sources at the quartiles of the events are dead: with many events, their events fall on both
    # sides of where the compiled loop splits the work between threads (they must count once)
    quartiles = np.searchsorted(cum, pos[[events // 4, events // 2, 3 * events // 4]], side="right")
    voice["state"][ids[quartiles]] = State.DEAD
    spent[quartiles] = False
    # numpy
    s = np.searchsorted(cum, pos, side="right")
    who = ids[s]
    dead = voice["state"][who] == State.DEAD
    live = ~spent[s] & ~dead
    j = adj.indices[adj.indptr[who] + pos - (cum[s] - deg[who])][live]
    st = voice["state"][j]
    may = ((st == State.NOT_ARRIVED) | information.IS_RESIDENT[st]) & ~voice["aware_smo"][j]
    want_spent = spent.copy()
    want_spent[s[~spent[s] & dead]] = True
    # compiled
    got_spent = spent.copy()
    dead_bits = silenced(n)
    silence(dead_bits, np.flatnonzero(voice["state"] == State.DEAD))
    got, died = kernels.ties_at(cum, ids.astype(np.int32), adj.indptr[ids], pos, adj.indices, voice, dead_bits, 0,
                                got_spent)
    np.testing.assert_array_equal(got, j[may])
    np.testing.assert_array_equal(got_spent, want_spent)
    assert died == (want_spent & ~spent).sum() > 0
