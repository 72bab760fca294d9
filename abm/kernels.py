"""Compiled loops (numba) for the operations that walk the network tie by tie.

Reading what a listener's contacts say visits each of their ties once; in numpy this takes several
passes and temporary arrays the size of all the ties involved, here one pass and none, on both cores
(Starsim compiles its hot loops with numba for the same reason). tests/test_kernels.py checks each
against plain numpy.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

# fork-safe threads (workqueue unless TBB is installed): ensembles fork worker processes after a run
numba.config.THREADING_LAYER = "forksafe"


def one_thread():
    """For worker processes of an ensemble (one run per core): compiled loops use one thread each."""
    numba.set_num_threads(1)

from agents.population import GAVE_UP
from agents.states import Intent, SmoStage, State, Status


@intrinsic
def prefetch(typingctx, arr, idx):
    """Ask the processor to start loading arr[idx] into cache (LLVM's prefetch: read, keep). Reading
    people's records at random costs a cache miss each; issued a few items ahead, the misses overlap
    instead of following one another."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return sig, codegen


_AHEAD = 16  # items ahead at which loops over lists of people prefetch the records they will read

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
        # 0/1 factors rather than branches on what each contact knows (see _sum_for_catch_up)
        aware = np.float64(v.aware_smo)
        a_smo += aware
        b_smo += aware * v.b_smo
        b_wait += aware * v.b_wait
        fee += aware * v.fee_belief
        expel += aware * v.expel_belief
        aware = np.float64(v.aware_parole)
        a_par += aware
        b_par += aware * v.b_parole
        r_smo += np.float64(v.rules_smo)
        r_par += np.float64(v.rules_parole)
        if s == _WAITING_SMO and (v.smo_stage == _REGISTERED or v.smo_stage == _UNHCR):
            waiting += 1.0
            reg += v.smo_reg_week
    return talk, a_smo, a_par, r_smo, r_par, fee, expel, b_smo, b_par, b_wait, b_admit, waiting, reg


@numba.njit(cache=True, nogil=True, inline="always")
def _prefetch_contacts(indptr, indices, voice, ids, r, hi):
    """Prefetch in three stages for the listeners after ids[r - 1], so that each stage's addresses are
    in cache when the next needs them: where listener r + 2's ties start (indptr), those ties (indices),
    then the records of listener r's contacts and their own (voice). Listeners at random (people
    deciding, new listeners) miss on all three; in id order (the weekly cohort) only on the last.
    (One-off measurement at full scale: the cohort took 20% less time a tie one listener ahead than
    without; two or four ahead did worse.)"""
    if r + 2 < hi:
        prefetch(indptr, ids[r + 2])
    if r + 1 < hi:
        i = ids[r + 1]
        prefetch(indices, indptr[i])
    if r < hi:
        i = ids[r]
        prefetch(voice, i)
        for k in range(indptr[i], indptr[i + 1]):
            prefetch(voice, indices[k])


def _chunks(n: int, parallel: bool) -> np.ndarray:
    """Bounds of the contiguous blocks of 0..n-1 that the threads take, one each."""
    t = numba.get_num_threads() if parallel else 1
    return np.array([n * c // t for c in range(t + 1)], dtype=np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _sum_for_catch_up(indptr, indices, voice, i):
    """The sums of _sum_contacts that the catch-up needs (talk, aware_smo, aware_parole, b_smo, b_parole,
    b_admit, smo_waiting, smo_reg), the same numbers. Awareness enters as a 0/1 factor rather than a
    branch: who among one's contacts is aware is unpredictable, and a mispredicted branch on a record
    still on its way from memory discards the loads issued after it. A copy of part of _sum_contacts,
    because summing only these takes less time a tie (in one-off measurements on states from a run, a
    sixth less at one million agents and a quarter less at full scale)."""
    talk = a_smo = a_par = b_smo = b_par = b_admit = waiting = reg = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        v = voice[indices[k]]
        s = v.state
        if s == _NOT_ARRIVED or s == _DEAD:
            continue
        talk += 1.0
        b_admit += v.b_admit
        aware = np.float64(v.aware_smo)
        a_smo += aware
        b_smo += aware * v.b_smo
        aware = np.float64(v.aware_parole)
        a_par += aware
        b_par += aware * v.b_parole
        if s == _WAITING_SMO and (v.smo_stage == _REGISTERED or v.smo_stage == _UNHCR):
            waiting += 1.0
            reg += v.smo_reg_week
    return talk, a_smo, a_par, b_smo, b_par, b_admit, waiting, reg


def _contacts_view(indptr, indices, ids, voice, cuts):
    """out[r] = _sum_contacts of ids[r] (cuts: the threads' blocks of rows)."""
    out = np.empty((ids.shape[0], 13), dtype=np.float64)
    for c in numba.prange(cuts.shape[0] - 1):
        for r in range(cuts[c], cuts[c + 1]):
            _prefetch_contacts(indptr, indices, voice, ids, r + 1, cuts[c + 1])
            t = _sum_contacts(indptr, indices, voice, ids[r])
            for j in range(13):
                out[r, j] = t[j]
    return out


_view_parallel = numba.njit(parallel=True, cache=True, nogil=True)(_contacts_view)
_view_serial = numba.njit(cache=True, nogil=True)(_contacts_view)


def contacts_view(indptr, indices, ids, voice):
    # waking the second thread costs more than a few hundred listeners (the per-agent step asks for one)
    parallel = len(ids) > 2000
    view = _view_parallel if parallel else _view_serial
    return view(indptr, indices, ids, voice, _chunks(len(ids), parallel))


_RESIDENT_LO, _RESIDENT_HI = int(State.INTEGRATING), int(State.PREPARING)


def _catch_up(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw, cuts, new, go):
    """abm.information.catch_up for the residents among ids whose beliefs are behind `week`, in two
    phases so that every listener reads their contacts' beliefs as they were before anyone moved
    (cuts: the threads' blocks of listeners; new, go: buffers of a row per listener, for the beliefs
    found in the first phase and whether there are any)."""
    n = ids.shape[0]
    for q in numba.prange(cuts.shape[0] - 1):
        for r in range(cuts[q], cuts[q + 1]):
            nxt = r + 1   # the next listener's contacts, if they are to catch up (a resident, behind)
            if nxt < cuts[q + 1] and _RESIDENT_LO <= voice[ids[nxt]].state <= _RESIDENT_HI \
                    and belief_week[ids[nxt]] <= week:
                _prefetch_contacts(indptr, indices, voice, ids, nxt, cuts[q + 1])
            _catch_up_one(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw, new, go, r)
    for r in numba.prange(n):   # ids are distinct: no two rows write the same person
        if go[r]:
            i = ids[r]
            voice[i].b_smo = new[r, 0]
            voice[i].b_parole = new[r, 1]
            voice[i].b_wait = new[r, 2]
            voice[i].b_admit = new[r, 3]
            belief_week[i] = week + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _catch_up_one(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw, new, go, r):
    """Listener ids[r]'s caught-up beliefs, in new[r] (go[r]: they had some to catch up)."""
    i = ids[r]
    me = voice[i]
    go[r] = False
    if me.state < _RESIDENT_LO or me.state > _RESIDENT_HI or belief_week[i] > week:
        return
    go[r] = True
    talk, a_smo, a_par, b_smo, b_par, b_admit, waiting, reg = _sum_for_catch_up(indptr, indices, voice, i)
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


_catch_up_parallel = numba.njit(parallel=True, cache=True, nogil=True)(_catch_up)
_catch_up_serial = numba.njit(cache=True, nogil=True)(_catch_up)


def catch_up(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw, new=None, go=None):
    n = len(ids)
    new = np.empty((n, 4), dtype=np.float64) if new is None else new
    go = np.empty(n, dtype=np.bool_) if go is None else go
    parallel = n > 2000
    f = _catch_up_parallel if parallel else _catch_up_serial
    f(indptr, indices, ids, voice, belief_week, us_tie, nat, admit_rate, week, mix, dw, _chunks(n, parallel), new, go)


@numba.njit(cache=True, nogil=True)
def tally_contacts(indptr, indices, ids, kinds, counts, mark):
    """For events (person ids[r], kind kinds[r]): counts[j, kind] += 1 for each contact j of the person
    (saturating at 255); returns the contacts reached, each once (mark: False on entry for all,
    left True for those returned; the caller resets it and counts)."""
    out = np.empty(64, dtype=np.int64)
    n = 0
    flat = counts.reshape(counts.size)
    for r in range(ids.shape[0]):
        if r + 1 < ids.shape[0]:   # the next event's contacts, while this one's are counted
            nxt = ids[r + 1]
            for k in range(indptr[nxt], indptr[nxt + 1]):
                prefetch(flat, indices[k] * counts.shape[1])
                prefetch(mark, indices[k])
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


#: the outcome signals that renew a pathway given up (abm.waiting), by their column in
#: information.SIGNALS (smo_pos 0, parole_pos 2), and the gave-up bits they clear
_SMO_POS, _PAROLE_POS = 0, 2
_KEEP_SMO, _KEEP_PAROLE = np.uint8(~GAVE_UP["smo"] & 0xFF), np.uint8(~GAVE_UP["parole"] & 0xFF)


@numba.njit(cache=True, nogil=True)
def hear_outcomes(indptr, indices, ids, kinds, counts, mark, voice, b_risk, eta, risk_after_death, reassurance,
                  prior_risk):
    """abm.information rule 4 for everyone at once: tally last week's outcome events (person ids[r], signal
    kind kinds[r] in the order of information.SIGNALS) on the events' contacts, then move the beliefs of
    the residents among them as information._outcomes does, and renew (abm.waiting) the pathway a
    contact succeeded on. Returns how many residents heard."""
    heard = tally_contacts(indptr, indices, ids, kinds, counts, mark)
    n = 0
    h = np.empty(8)
    flat = counts.reshape(counts.size)
    for r in range(heard.shape[0]):
        if r + _AHEAD < heard.shape[0]:
            ahead = heard[r + _AHEAD]
            prefetch(voice, ahead)
            prefetch(b_risk, ahead)
            prefetch(flat, ahead * counts.shape[1])
        j = heard[r]
        v = voice[j]
        if v.state >= _RESIDENT_LO and v.state <= _RESIDENT_HI:
            n += 1
            for s in range(8):
                c = counts[j, s]
                h[s] = 1.0 - (1.0 - eta) ** c if c else 0.0
            v.b_smo = min(1.0, max(0.0, v.b_smo + h[0] * (1 - v.b_smo) - h[1] * v.b_smo))
            v.b_parole = min(1.0, max(0.0, v.b_parole + h[2] * (1 - v.b_parole) - h[3] * v.b_parole))
            v.b_admit = min(1.0, max(0.0, v.b_admit + h[4] * (1 - v.b_admit) - h[5] * v.b_admit))
            x = b_risk[j]
            x = x + h[6] * (risk_after_death - x)
            b_risk[j] = x + h[7] * reassurance * (prior_risk - x)
            if counts[j, _SMO_POS]:
                v.gave_up = v.gave_up & _KEEP_SMO
            if counts[j, _PAROLE_POS]:
                v.gave_up = v.gave_up & _KEEP_PAROLE
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


def _ties_at(cum, ids, start, pos, indices, voice, silenced, topic, spent, cuts):
    """ties_at, on chunks of events cut between sources (cuts), one chunk per task. Each chunk takes
    four passes, so that each pass has at most one cache miss per event and the misses overlap: the
    events' sources (a forward gallop through cum), their ties (sources silenced by death skipped and
    marked spent), the contacts at the ends of the ties, and whether those may still learn. Returns the
    contacts, packed at the front of each chunk, and counts per chunk."""
    m, nchunk = pos.shape[0], cuts.shape[0] - 1
    at = np.empty(m, dtype=np.int64)   # per event: its source, then its tie, then the contact; -1 if none
    kept = np.zeros(nchunk, dtype=np.int64)
    died = np.zeros(nchunk, dtype=np.int64)
    last = cum.shape[0] - 1
    for c in numba.prange(nchunk):
        lo, hi = cuts[c], cuts[c + 1]
        if lo >= hi:
            continue
        s = np.searchsorted(cum, pos[lo], side="right")
        for r in range(lo, hi):
            # first s with cum[s] > pos[r]: gallop forward from the previous one, then bisect
            step = 1
            top = s
            while top < last and cum[top] <= pos[r]:
                s = top + 1
                top = min(top + step, last)
                step *= 2
            b = s
            while b < top:
                mid = (b + top) // 2
                if cum[mid] <= pos[r]:
                    b = mid + 1
                else:
                    top = mid
            s = b
            at[r] = s
        for r in range(lo, hi):
            s = at[r]
            if spent[s]:
                at[r] = -1
                continue
            who = ids[s]
            if (silenced[who >> 6] >> (who & 63)) & 1:   # the dead say nothing more: drop the source
                spent[s] = True
                died[c] += 1
                at[r] = -1
                continue
            at[r] = start[s] + pos[r] - (cum[s - 1] if s > 0 else 0)
        for r in range(lo, hi):
            if r + _AHEAD < hi and at[r + _AHEAD] >= 0:
                prefetch(indices, at[r + _AHEAD])
            if at[r] >= 0:
                at[r] = indices[at[r]]
        n = lo
        for r in range(lo, hi):
            if r + _AHEAD < hi and at[r + _AHEAD] >= 0:
                prefetch(voice, at[r + _AHEAD])
            j = at[r]
            if j >= 0 and _can_learn(voice[j], topic):
                at[n] = j
                n += 1
        kept[c] = n - lo
    return at, kept, died


_ties_at_parallel = numba.njit(parallel=True, cache=True, nogil=True)(_ties_at)
_ties_at_serial = numba.njit(cache=True, nogil=True)(_ties_at)


def ties_at(cum, ids, start, pos, indices, voice, silenced, topic, spent):
    """For sorted positions `pos` in the concatenated ties of people `ids` (their ties start at `start` in
    `indices`; cumulative tie counts `cum`), the contacts at the end of the ties who may still learn
    `topic`, and how many sources were newly found dead (bit set in `silenced`): they say nothing more
    and are marked spent (spent[s]; the caller drops them)."""
    m = pos.shape[0]
    if m <= 4096:   # waking the second thread costs more than a few thousand events
        cuts = np.array([0, m], dtype=np.int64)
        at, kept, died = _ties_at_serial(cum, ids, start, pos, indices, voice, silenced, topic, spent, cuts)
        return at[:kept[0]], int(died[0])
    # four chunks (two per core, for balance), each cut at the start of a source's ties, so that no
    # source's events fall in two chunks (a dead source is then counted once)
    cuts = np.linspace(0, m, 5).astype(np.int64)
    src = np.searchsorted(cum, pos[cuts[1:-1]], side="right")
    first = np.where(src > 0, cum[np.maximum(src - 1, 0)], 0)
    cuts[1:-1] = np.searchsorted(pos, first, side="left")
    at, kept, died = _ties_at_parallel(cum, ids, start, pos, indices, voice, silenced, topic, spent, cuts)
    out = np.concatenate([at[a:a + k] for a, k in zip(cuts[:-1], kept)])
    return out, int(died.sum())


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
        if r + _AHEAD < ids.shape[0]:   # the people deciding are scattered: one miss per array each
            ahead = ids[r + _AHEAD]
            prefetch(voice, ahead)
            prefetch(status, ahead)
            prefetch(b_risk, ahead)
            prefetch(patience, ahead)
            prefetch(smo_news, ahead)
            prefetch(parole_week, ahead)
            prefetch(intent, ahead)
        i = ids[r]
        v = voice[i]
        st = v.state
        pat = max(patience[i], 1e-3)
        # utilities, in option order (scalars: no allocation per person)
        v0 = stay - irr_pen * (status[i] == _IRREGULAR)
        v3 = -np.inf if legal_only[r] else w_admit * (v.b_admit - prior_admit) - w_risk * (b_risk[i] - prior_risk)
        # waiting clocks with memory (abm.waiting)
        wait = (week - smo_news[i]) / pat if st == _WAITING_SMO else (v.b_wait + v.waited_smo) / pat
        v1 = (legal + w_belief * (v.b_smo - 0.5) - fee_pen * v.fee_belief - expel_pen * v.expel_belief
              - w_wait * wait) if s_ok[r] else -np.inf
        wait = (v.waited_parole + (week - parole_week[i] if st == _WAITING_PAROLE else 0)) / pat
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
