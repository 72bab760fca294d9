"""Each week's choice among integrating locally, an SMO case, parole, and moving irregularly.

People settled where they are reconsider only when something prompts them: a push to leave (a weekly
hazard, `push` in the pack) or, more often, hearing of a legal option they think is open to them
(`legal_pull`). Those preparing to move or waiting on a case reconsider every week, with inertia for
what they are doing. The choice is a multinomial logit over the options the person knows of, valued
as the person perceives them: a legal option by its believed chance of working, less fears (fees,
expulsion) and the cost of waiting, which grows with weeks without news relative to the tolerated wait.
Waiting has memory (abm.waiting): a resumed wait continues its clock, and a pathway given up is not
open to the person until new information about it.
"""
from __future__ import annotations

import numpy as np

from agents.states import Intent, Option, ParoleStage, SmoStage, State, Status

from agents.population import GAVE_UP

from . import darien, information, kernels, parole, smo, waiting
from .contacts import unique_ids

N_OPT = len(Option)


def _thinks_open(m, idx, waiting_on, maybe, rules, eligible) -> np.ndarray:
    """Those waiting on the option already; among the others, those for whom `maybe` holds and, if they
    know its `rules`, whom its eligibility rules admit (checked only for them)."""
    ok = m.people.state[idx] == waiting_on
    rest = np.flatnonzero(~ok)
    r = idx[rest]
    can = maybe(r)
    check = can & rules[r]
    if check.any():
        can[check] = eligible(m, r[check])
    ok[rest] = can
    return ok


def smo_open_to(m, idx) -> np.ndarray:
    """Whether each person thinks they can use an SMO: aware, an office open where they live, not given
    up (abm.waiting), and not known to be ruled out (by its rules, if they know them, or by a past
    referral or rejection)."""
    p = m.people
    maybe = lambda r: (p.aware_smo[r] & m.office_open_at[p.place[r]] & ~p.smo_no_route[r]
                       & ((p.gave_up[r] & GAVE_UP["smo"]) == 0))
    return _thinks_open(m, idx, State.WAITING_SMO, maybe, p.rules_smo, smo.eligible)


def parole_open_to(m, idx) -> np.ndarray:
    """Whether each person thinks parole could be for them: announced for their nationality, not denied
    before, not given up (abm.waiting), and not known to be ruled out by its requirements."""
    p = m.people
    maybe = lambda r: (p.aware_parole[r] & m.parole_nat_ok[p.nat[r]] & ~p.parole_denied[r]
                       & ((p.gave_up[r] & GAVE_UP["parole"]) == 0))
    return _thinks_open(m, idx, State.WAITING_PAROLE, maybe, p.rules_parole, parole.eligible)


def _table(enum, members) -> np.ndarray:
    """A lookup table over an enum's values: True for `members` (cheaper than np.isin every week)."""
    t = np.zeros(max(enum) + 1, dtype=bool)
    t[list(members)] = True
    return t


#: the stages of a case in which its holder keeps reconsidering every week
SMO_CASE_OPEN = _table(SmoStage, (SmoStage.PENDING, SmoStage.REGISTERED, SmoStage.UNHCR))
PAROLE_CASE_OPEN = _table(ParoleStage, (ParoleStage.CONSIDERING, ParoleStage.APPLIED))


def _busy(m, idx) -> np.ndarray:
    """Preparing to move or waiting on a case: these reconsider every week."""
    p = m.people
    st = p.state[idx]
    return ((st == State.PREPARING)
            | ((st == State.WAITING_SMO) & SMO_CASE_OPEN[p.smo_stage[idx]])
            | ((st == State.WAITING_PAROLE) & PAROLE_CASE_OPEN[p.parole_stage[idx]]))


def prompt_hazards(m, idx) -> tuple[np.ndarray, np.ndarray]:
    """Weekly chance that a settled person is prompted to leave (push), and the upper bound of their
    chance of being prompted at all (a legal option they know of multiplies it by exp(legal_pull))."""
    h = np.exp(m.people.push[idx].astype(np.float64))
    return h, np.minimum(1.0, h * np.exp(m.beh["legal_pull"]))


def deciders(m, idx) -> tuple[np.ndarray, np.ndarray]:
    """Who reconsiders this week among `idx`, and which of them only weigh legal options against staying
    (the rule for one person at a time: the per-agent reference step)."""
    p, w = m.people, m.week
    st = p.state[idx]
    busy = _busy(m, idx)
    settled = st == State.INTEGRATING
    u = m.streams.uniform("prompt", w, idx)
    hazard, bound = prompt_hazards(m, idx)
    pushed = settled & ((u < hazard) | p.redecide[idx])
    p.redecide[idx[pushed]] = False
    legal = np.zeros(len(idx), dtype=bool)
    cand = settled & ~pushed & (u < bound)
    if cand.any():
        ci = idx[cand]
        legal[cand] = smo_open_to(m, ci) | parole_open_to(m, ci)
    who = busy | pushed | legal
    return idx[who], legal[who]


def schedule_prompts(m, idx):
    m.clocks["prompt"].schedule(m.streams, idx, m.week, prompt_hazards(m, idx)[1])


def _sorted_member(a, b) -> np.ndarray:
    """Which of a are in b (b sorted and distinct): np.isin by binary search, without sorting a and b."""
    if len(b) == 0:
        return np.zeros(len(a), dtype=bool)
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return b[at] == a


def deciders_this_week(m) -> tuple[np.ndarray, np.ndarray]:
    """The same rule for everyone at once: the busy among the active, and settled people whose prompt
    clock (abm.clocks, at the upper bound, thinned) came due or who must decide afresh."""
    p, w = m.people, m.week
    busy = m.act[_busy(m, m.act)]
    due = m.clocks["prompt"].due(w)
    schedule_prompts(m, due)  # memoryless: the clock runs on whatever the person's state
    due = due[p.state[due] == State.INTEGRATING]
    hazard, bound = prompt_hazards(m, due)
    pushed = m.streams.uniform("prompt", w, due) < hazard / bound
    cand = due[~pushed]
    cand = cand[p.aware_smo[cand] | p.aware_parole[cand]]  # a legal option one knows of needs knowing of one
    legal = cand[smo_open_to(m, cand) | parole_open_to(m, cand)]
    flagged = unique_ids(np.concatenate(p.redecide_list)) if p.redecide_list else np.empty(0, dtype=np.int64)
    flagged = flagged[p.redecide[flagged]]
    now = flagged[p.state[flagged] == State.INTEGRATING]
    p.redecide[now] = False
    p.redecide_list = [flagged[p.state[flagged] != State.INTEGRATING]]
    pushed = unique_ids(np.concatenate([due[pushed], now]))
    legal = legal[~_sorted_member(legal, pushed)]
    who = np.concatenate([busy, pushed, legal])
    legal_only = np.zeros(len(who), dtype=bool)
    legal_only[len(busy) + len(pushed):] = True
    return who, legal_only


def utilities(m, idx, legal_only) -> np.ndarray:
    p, b, w = m.people, m.beh, m.week
    V = np.full((len(idx), N_OPT), -np.inf)
    st = p.state[idx]
    V[:, Option.INTEGRATE] = b["stay_value"] - b["irregular_stay_penalty"] * (p.status[idx] == Status.IRREGULAR)
    V[:, Option.MOVE] = np.where(legal_only, -np.inf,
                                 b["admit_weight"] * (p.b_admit[idx] - b["prior_admit"])
                                 - b["risk_weight"] * (p.b_risk[idx] - b["prior_risk"]))
    patience = np.maximum(p.patience[idx], 1e-3)
    s_ok = smo_open_to(m, idx)
    # waiting clocks (abm.waiting): weeks without news on a case (continued from a wait given up); not
    # waiting, the weeks banked plus the wait believed ahead
    wait_smo = np.where(st == State.WAITING_SMO, (w - p.smo_news[idx]) / patience,
                        (p.b_wait[idx] + p.waited_smo[idx]) / patience)
    v_smo = (b["legal_value"] + b["belief_weight"] * (p.b_smo[idx] - 0.5) - b["fee_penalty"] * p.fee_belief[idx]
             - b["expulsion_fear_penalty"] * p.expel_belief[idx] - b["wait_cost"] * wait_smo)
    V[:, Option.SMO] = np.where(s_ok, v_smo, -np.inf)
    p_ok = parole_open_to(m, idx)
    wait_par = waiting.parole_weeks(m, idx, st == State.WAITING_PAROLE) / patience
    v_par = b["legal_value"] + b["belief_weight"] * (p.b_parole[idx] - 0.5) - b["wait_cost"] * wait_par
    V[:, Option.PAROLE] = np.where(p_ok, v_par, -np.inf)
    # inertia: what one is already doing, and a plan to move that a legal option put on hold
    g = b["inertia"]
    V[st == State.PREPARING, Option.MOVE] += g
    V[st == State.WAITING_SMO, Option.SMO] += g
    V[st == State.WAITING_PAROLE, Option.PAROLE] += g
    on_case = (st == State.WAITING_SMO) | (st == State.WAITING_PAROLE)
    V[on_case & (p.intent[idx] == Intent.MOVE), Option.MOVE] += g
    return V


def choose(m, idx, V) -> np.ndarray:
    """Logit choice with one uniform draw per person (inverse CDF over the options)."""
    V = V - V.max(axis=1, keepdims=True)
    e = np.exp(V)
    cum = np.cumsum(e / e.sum(axis=1, keepdims=True), axis=1)
    u = m.streams.uniform("choice", m.week, idx)
    return np.minimum((cum < u[:, None]).sum(axis=1), N_OPT - 1)


PARAMS = ("stay_value", "irregular_stay_penalty", "admit_weight", "prior_admit", "risk_weight", "prior_risk",
          "legal_value", "belief_weight", "fee_penalty", "expulsion_fear_penalty", "wait_cost", "inertia")


def choose_all(m, idx, legal_only) -> np.ndarray:
    """utilities and choose for many people in one compiled pass (abm.kernels.logit_choice)."""
    p = m.people
    u = m.streams.uniform("choice", m.week, idx)
    prm = np.array([m.beh[k] for k in PARAMS], dtype=np.float64)
    return kernels.logit_choice(idx, p.voice, p.status, p.b_risk, p.patience, p.smo_news,
                                p.parole_week, p.intent, smo_open_to(m, idx), parole_open_to(m, idx),
                                legal_only, u, m.week, prm)


def step(m, idx=None):
    """Decide and carry the choices out: for everyone (idx None: the weekly step) or for the residents
    `idx` (the per-agent reference step, one person at a time through utilities and choose)."""
    if idx is None:
        with m.timed("decisions/who"):
            who, legal_only = deciders_this_week(m)
    else:
        who, legal_only = deciders(m, idx)
    if len(who) == 0:
        return
    # settled people prompted to decide take a fresh look: beliefs up to date before they are weighed
    with m.timed("decisions/catch_up"):
        information.catch_up(m, who[m.people.state[who] == State.INTEGRATING])
    if idx is None:
        with m.timed("decisions/choice"):
            choice = choose_all(m, who, legal_only)
    else:
        choice = choose(m, who, utilities(m, who, legal_only))
    # someone prompted to leave who takes a legal option decides afresh if it fails
    pushed = (m.people.state[who] == State.INTEGRATING) & ~legal_only
    m.people.intent[who[pushed & ((choice == Option.SMO) | (choice == Option.PAROLE))]] = Intent.UNDECIDED
    apply_choices(m, who, choice)


def apply_choices(m, idx, choice):
    p, w = m.people, m.week
    st = p.state[idx]
    # leaving a case one was waiting on: giving the pathway up (abm.waiting), its clock banked
    left_smo = idx[(choice != Option.SMO) & (st == State.WAITING_SMO)]
    left_parole = idx[(choice != Option.PAROLE) & (st == State.WAITING_PAROLE)]
    smo.withdraw(m, left_smo)
    parole.withdraw(m, left_parole)
    waiting.give_up(m, left_smo, "smo")
    waiting.give_up(m, left_parole, "parole")
    was_waiting = (st == State.WAITING_SMO) | (st == State.WAITING_PAROLE)
    waiting.count_give_ups(m, idx[((choice == Option.MOVE) | (choice == Option.INTEGRATE)) & was_waiting])
    gave_up = idx[(choice == Option.MOVE) & was_waiting]
    m.event("gave_up_waiting", gave_up)
    m.event("gave_up_smo", idx[(choice == Option.MOVE) & (st == State.WAITING_SMO)])

    stay = idx[choice == Option.INTEGRATE]
    p.intent[stay] = Intent.STAY
    p.prep_left[stay] = 0  # a later plan to move starts afresh from the savings then
    p.set_state(stay[p.state[stay] != State.INTEGRATING], State.INTEGRATING, w)

    move = choice == Option.MOVE
    going = idx[move & (st == State.PREPARING)]
    p.prep_left[going] -= 1
    start = idx[move & (st != State.PREPARING)]
    fresh = start[p.prep_left[start] <= 0]
    p.prep_left[fresh] = darien.prep_weeks(m, fresh)
    p.intent[idx[move]] = Intent.MOVE
    p.set_state(start, State.PREPARING, w)

    try_smo = idx[(choice == Option.SMO) & (st != State.WAITING_SMO)]
    smo.register_attempt(m, try_smo)

    par = idx[(choice == Option.PAROLE) & (st != State.WAITING_PAROLE)]
    parole.consider(m, par)
