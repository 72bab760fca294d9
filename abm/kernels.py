"""Compiled loops (numba) for the operations that walk the network tie by tie.

Reading what a listener's contacts say visits each of their ties once; in numpy this takes several
passes and temporary arrays the size of all the ties involved, here one pass and none, on both cores
(Starsim compiles its hot loops with numba for the same reason). tests/test_kernels.py checks each
against plain numpy.
"""
from __future__ import annotations

import numba
import numpy as np

# fork-safe threads (workqueue unless TBB is installed): ensembles fork worker processes after a run
numba.config.THREADING_LAYER = "forksafe"


def one_thread():
    """For worker processes of an ensemble (one run per core): compiled loops use one thread each."""
    numba.set_num_threads(1)

from agents.states import Intent, SmoStage, State, Status

#: columns of contacts_view: sums over a listener's contacts who can talk (arrived and alive)
VIEW_COLS = ("talk", "aware_smo", "aware_parole", "rules_smo", "rules_parole", "fee", "expel",
             "b_smo", "b_parole", "b_wait", "b_admit", "smo_waiting", "smo_reg")

_NOT_ARRIVED, _DEAD, _WAITING_SMO = int(State.NOT_ARRIVED), int(State.DEAD), int(State.WAITING_SMO)
_REGISTERED, _UNHCR = int(SmoStage.REGISTERED), int(SmoStage.UNHCR)


@numba.njit(cache=True, nogil=True, inline="always")
def _sum_contacts(indptr, indices, voice, i):
    """Sums over the talking contacts (arrived, alive) of person i, in the order of VIEW_COLS: 1,
    aware_smo, aware_parole, rules_smo, rules_parole, fee & aware_smo, expel & aware_smo, b_smo if
    aware_smo, b_parole if aware_parole, b_wait if aware_smo, b_admit, a queued SMO case (registered or
    with UNHCR), its registration week. The one loop over a person's ties (voice:
    agents.population.VOICE records)."""
    talk = a_smo = a_par = r_smo = r_par = fee = expel = 0.0
    b_smo = b_par = b_wait = b_admit = waiting = reg = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        v = voice[indices[k]]
        s = v.state
        if s == _NOT_ARRIVED or s == _DEAD:
            continue
        talk += 1.0
        b_admit += v.b_admit
        if v.aware_smo:
            a_smo += 1.0
            b_smo += v.b_smo
            b_wait += v.b_wait
            if v.fee_belief:
                fee += 1.0
            if v.expel_belief:
                expel += 1.0
        if v.aware_parole:
            a_par += 1.0
            b_par += v.b_parole
        if v.rules_smo:
            r_smo += 1.0
        if v.rules_parole:
            r_par += 1.0
        if s == _WAITING_SMO and (v.smo_stage == _REGISTERED or v.smo_stage == _UNHCR):
            waiting += 1.0
            reg += v.smo_reg_week
    return talk, a_smo, a_par, r_smo, r_par, fee, expel, b_smo, b_par, b_wait, b_admit, waiting, reg


def _contacts_view(indptr, indices, ids, voice):
    """out[r] = _sum_contacts of ids[r]."""
    out = np.empty((ids.shape[0], 13), dtype=np.float64)
    for r in numba.prange(ids.shape[0]):
        t = _sum_contacts(indptr, indices, voice, ids[r])
        for c in range(13):
            out[r, c] = t[c]
    return out


_view_parallel = numba.njit(parallel=True, cache=True, nogil=True)(_contacts_view)
_view_serial = numba.njit(cache=True, nogil=True)(_contacts_view)


def contacts_view(indptr, indices, ids, voice):
    # waking the second thread costs more than a few hundred listeners (the per-agent step asks for one)
    view = _view_parallel if len(ids) > 2000 else _view_serial
    return view(indptr, indices, ids, voice)


_RESIDENT_LO, _RESIDENT_HI = int(State.INTEGRATING), int(State.PREPARING)


def _catch_up(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw):
    """abm.information.catch_up for the residents among ids whose beliefs are behind `week`, in two
    phases so that every listener reads their contacts' beliefs as they were before anyone moved."""
    n = ids.shape[0]
    new = np.empty((n, 4), dtype=np.float64)
    go = np.zeros(n, dtype=np.bool_)
    for r in numba.prange(n):
        i = ids[r]
        me = voice[i]
        if me.state < _RESIDENT_LO or me.state > _RESIDENT_HI or belief_week[i] > week:
            continue
        go[r] = True
        sums = _sum_contacts(indptr, indices, voice, i)
        talk, a_smo, a_par, b_smo, b_par, b_admit, waiting, reg = (sums[0], sums[1], sums[2], sums[7], sums[8],
                                                                   sums[10], sums[11], sums[12])
        steps = week + 1 - belief_week[i]
        left = (1.0 - mix) ** steps  # share of the gap left after `steps` weekly steps
        x = me.b_smo
        if me.aware_smo and a_smo > 0:
            t = b_smo / a_smo
            x = t + left * (x - t)
        new[r, 0] = x
        x = me.b_parole
        if me.aware_parole and a_par > 0:
            t = b_par / a_par
            x = t + left * (x - t)
        new[r, 1] = x
        x = me.b_wait
        if me.aware_smo and waiting > 0:
            t = week - reg / waiting
            x = t + left * (x - t)
        new[r, 2] = x
        # the border: one week takes b to (1 - dw) [(1 - mix) b + mix T] + dw r, i.e. b -> a b + c
        rate = admit_rate[nat[i]]
        dia = us_tie[i] and not np.isnan(rate) and dw > 0
        keep = 1.0 - dw if dia else 1.0
        a = (1.0 - mix if talk > 0 else 1.0) * keep
        c = keep * (mix * b_admit / talk if talk > 0 else 0.0) + (dw * rate if dia else 0.0)
        x = me.b_admit
        if a < 1.0:
            fixed = c / (1.0 - a)
            x = fixed + a ** steps * (x - fixed)
        new[r, 3] = x
    for r in range(n):
        if go[r]:
            i = ids[r]
            voice[i].b_smo = new[r, 0]
            voice[i].b_parole = new[r, 1]
            voice[i].b_wait = new[r, 2]
            voice[i].b_admit = new[r, 3]
            belief_week[i] = week + 1


_catch_up_parallel = numba.njit(parallel=True, cache=True, nogil=True)(_catch_up)
_catch_up_serial = numba.njit(cache=True, nogil=True)(_catch_up)


def catch_up(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw):
    f = _catch_up_parallel if len(ids) > 2000 else _catch_up_serial
    f(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw)


@numba.njit(cache=True, nogil=True)
def tally_contacts(indptr, indices, ids, kinds, counts, mark):
    """For events (person ids[r], kind kinds[r]): counts[j, kind] += 1 for each contact j of the person
    (saturating at 255); returns the contacts reached, each once (mark: False on entry for all,
    left True for those returned; the caller resets it and counts)."""
    out = np.empty(64, dtype=np.int64)
    n = 0
    for r in range(ids.shape[0]):
        i, kind = ids[r], kinds[r]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if counts[j, kind] < 255:
                counts[j, kind] += 1
            if not mark[j]:
                mark[j] = True
                if n == out.shape[0]:
                    grown = np.empty(2 * n, dtype=np.int64)
                    grown[:n] = out
                    out = grown
                out[n] = j
                n += 1
    return out[:n]


@numba.njit(cache=True, nogil=True)
def hear_outcomes(indptr, indices, ids, kinds, counts, mark, voice, b_risk, eta, risk_after_death, reassurance,
                  prior_risk):
    """abm.information rule 4 for everyone at once: tally last week's outcome events (person ids[r], signal
    kind kinds[r] in the order of information.SIGNALS) on the events' contacts, then move the beliefs of
    the residents among them as information._outcomes does. Returns how many residents heard."""
    heard = tally_contacts(indptr, indices, ids, kinds, counts, mark)
    n = 0
    h = np.empty(8)
    for r in range(heard.shape[0]):
        j = heard[r]
        v = voice[j]
        if v.state >= _RESIDENT_LO and v.state <= _RESIDENT_HI:
            n += 1
            for s in range(8):
                h[s] = 1.0 - (1.0 - eta) ** counts[j, s]
            v.b_smo = min(1.0, max(0.0, v.b_smo + h[0] * (1 - v.b_smo) - h[1] * v.b_smo))
            v.b_parole = min(1.0, max(0.0, v.b_parole + h[2] * (1 - v.b_parole) - h[3] * v.b_parole))
            v.b_admit = min(1.0, max(0.0, v.b_admit + h[4] * (1 - v.b_admit) - h[5] * v.b_admit))
            x = b_risk[j]
            x = x + h[6] * (risk_after_death - x)
            b_risk[j] = x + h[7] * reassurance * (prior_risk - x)
        counts[j, :] = 0
        mark[j] = False
    return n


@numba.njit(cache=True, nogil=True)
def _can_learn(v, topic):
    """Whether a person may still learn `topic` (0 aware_smo, 1 aware_parole, 2 rules_smo, 3 rules_parole):
    they lack it, and live in their host place or have yet to arrive (nobody else ever returns)."""
    s = v.state
    if not (s == _NOT_ARRIVED or (s >= _RESIDENT_LO and s <= _RESIDENT_HI)):
        return False
    if topic == 0:
        return not v.aware_smo
    if topic == 1:
        return not v.aware_parole
    if topic == 2:
        return not v.rules_smo
    return not v.rules_parole


@numba.njit(cache=True, nogil=True)
def ties_at(cum, ids, pos, indptr, indices, deg, voice, topic, spent):
    """For sorted positions `pos` in the concatenated ties of people `ids` (cumulative tie counts `cum`),
    the contacts at the end of the ties who may still learn `topic`, and how many sources were newly
    found dead: they say nothing more and are marked spent (spent[s]; the caller drops them)."""
    out = np.empty(pos.shape[0], dtype=np.int64)
    n, s, last, died = 0, 0, cum.shape[0] - 1, 0
    for r in range(pos.shape[0]):
        # first s with cum[s] > pos[r]: gallop forward from the previous one, then bisect
        step = 1
        hi = s
        while hi < last and cum[hi] <= pos[r]:
            s = hi + 1
            hi = min(hi + step, last)
            step *= 2
        lo = s
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] <= pos[r]:
                lo = mid + 1
            else:
                hi = mid
        s = lo
        if spent[s]:
            continue
        who = ids[s]
        if voice[who].state == _DEAD:
            spent[s] = True
            died += 1
            continue
        j = indices[indptr[who] + pos[r] - (cum[s] - deg[who])]
        if _can_learn(voice[j], topic):
            out[n] = j
            n += 1
    return out[:n], died


@numba.njit(cache=True, nogil=True)
def take_due(idx, nxt, week, never):
    """Those of idx whose next event is `week`, each once (their next event is cleared as they are taken)."""
    out = np.empty(idx.shape[0], dtype=np.int64)
    n = 0
    for r in range(idx.shape[0]):
        i = idx[r]
        if nxt[i] == week:
            nxt[i] = never
            out[n] = i
            n += 1
    return out[:n]


_WAITING_PAROLE, _PREPARING = int(State.WAITING_PAROLE), int(State.PREPARING)
_IRREGULAR, _MOVE = int(Status.IRREGULAR), int(Intent.MOVE)


@numba.njit(parallel=True, cache=True, nogil=True)
def logit_choice(ids, voice, status, b_risk, patience, smo_news, parole_week, intent, s_ok, p_ok,
                 legal_only, u, week, prm):
    """abm.decisions.utilities and choose in one pass (the per-agent reference step uses those): the
    option (INTEGRATE 0, SMO 1, PAROLE 2, MOVE 3) each person picks with uniform draw u. prm holds
    stay_value, irregular_stay_penalty, admit_weight, prior_admit, risk_weight, prior_risk,
    legal_value, belief_weight, fee_penalty, expulsion_fear_penalty, wait_cost, inertia."""
    stay, irr_pen, w_admit, prior_admit, w_risk, prior_risk = prm[0], prm[1], prm[2], prm[3], prm[4], prm[5]
    legal, w_belief, fee_pen, expel_pen, w_wait, g = prm[6], prm[7], prm[8], prm[9], prm[10], prm[11]
    out = np.empty(ids.shape[0], dtype=np.int64)
    for r in numba.prange(ids.shape[0]):
        i = ids[r]
        v = voice[i]
        st = v.state
        pat = max(patience[i], 1e-3)
        # utilities, in option order (scalars: no allocation per person)
        v0 = stay - irr_pen * (status[i] == _IRREGULAR)
        v3 = -np.inf if legal_only[r] else w_admit * (v.b_admit - prior_admit) - w_risk * (b_risk[i] - prior_risk)
        wait = (week - smo_news[i]) / pat if st == _WAITING_SMO else v.b_wait / pat
        v1 = (legal + w_belief * (v.b_smo - 0.5) - fee_pen * v.fee_belief - expel_pen * v.expel_belief
              - w_wait * wait) if s_ok[r] else -np.inf
        wait = (week - parole_week[i]) / pat if st == _WAITING_PAROLE else 0.0
        v2 = (legal + w_belief * (v.b_parole - 0.5) - w_wait * wait) if p_ok[r] else -np.inf
        if st == _PREPARING:
            v3 += g
        elif st == _WAITING_SMO:
            v1 += g
        elif st == _WAITING_PAROLE:
            v2 += g
        if (st == _WAITING_SMO or st == _WAITING_PAROLE) and intent[i] == _MOVE:
            v3 += g
        # logit by inverse CDF over the options
        top = max(max(v0, v1), max(v2, v3))
        e0, e1, e2, e3 = np.exp(v0 - top), np.exp(v1 - top), np.exp(v2 - top), np.exp(v3 - top)
        total = e0 + e1 + e2 + e3
        c, acc = 0, e0 / total
        for e in (e1, e2, e3):
            if acc >= u[r]:
                break
            c += 1
            acc += e / total
        out[r] = c
    return out


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True)
def hash_uniform(ids, base):
    """splitmix64 of (id * golden + base) as a uniform [0, 1) with 53 bits (abm.crn): one pass."""
    out = np.empty(ids.shape[0], dtype=np.float64)
    for r in range(ids.shape[0]):
        z = np.uint64(ids[r]) * _GOLDEN + base
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
        out[r] = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return out
