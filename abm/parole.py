"""Humanitarian parole (CHNV): a US sponsor and a passport are required; travel authorisations are
capped per month across the nationalities (002 s3.1, s5.5). Opened, capped and closed by the policy
timeline.
"""
from __future__ import annotations

import numpy as np

from agents.states import ParoleStage, State

from .queues import Capacity, fifo_ids


class Parole:
    def __init__(self, cfg: dict):
        self.requires_sponsor = cfg["requires_sponsor"]
        self.requires_passport = cfg["requires_passport"]
        self.p_denied = cfg["p_denied"]
        self.travel_weeks = int(cfg["travel_weeks"])
        self.nationalities: set[int] = set()
        self.monthly_cap = 0.0
        self.authorisations = Capacity()


# --- Eligibility: one function per rule ---

def rule_nationality(m, idx):
    return m.parole_nat_ok[m.people.nat[idx]]


def rule_sponsor(m, idx):
    """A US-based sponsor with legal status and means (002 s5.5)."""
    return m.people.us_tie[idx] | (not m.parole.requires_sponsor)


def rule_passport(m, idx):
    return m.people.passport[idx] | (not m.parole.requires_passport)


RULES = (rule_nationality, rule_sponsor, rule_passport)


def eligible(m, idx) -> np.ndarray:
    ok = np.ones(len(idx), dtype=bool)
    for rule in RULES:
        ok &= rule(m, idx)
    return ok


def consider(m, idx):
    """People who chose parole: those who know the rules and qualify apply; the rest find out first."""
    p, w = m.people, m.week
    p.set_state(idx, State.WAITING_PAROLE, w)
    p.parole_stage[idx] = ParoleStage.CONSIDERING
    p.parole_week[idx] = w
    ready = idx[p.rules_parole[idx]]
    _apply_or_drop(m, ready)


def _apply_or_drop(m, idx):
    p, w = m.people, m.week
    ok = eligible(m, idx)
    yes, no = idx[ok], idx[~ok]
    p.parole_stage[yes] = ParoleStage.APPLIED
    p.parole_week[yes] = w
    p.parole_stage[no] = ParoleStage.NONE
    m.people.resume_plan(no, m.week)
    m.event("parole_ineligible", no)


def withdraw(m, idx):
    p = m.people
    idx = idx[p.state[idx] == State.WAITING_PAROLE]
    p.parole_stage[idx] = ParoleStage.WITHDRAWN


def step(m):
    p, w = m.people, m.week
    waiting = m.act[p.state[m.act] == State.WAITING_PAROLE]
    stage = lambda ids, s: ids[(p.state[ids] == State.WAITING_PAROLE) & (p.parole_stage[ids] == s)]
    # those finding out who have now learnt the rules
    considering = stage(waiting, ParoleStage.CONSIDERING)
    _apply_or_drop(m, considering[p.rules_parole[considering]])
    # travel authorisations under the monthly cap, first come first served
    pr = m.parole
    n = pr.authorisations.take(pr.monthly_cap * 12 / 52, m.scale)
    queue = fifo_ids(stage(waiting, ParoleStage.APPLIED), p.parole_week)[:n]
    if len(queue):
        denied = m.streams.uniform("parole_denied", w, queue) < pr.p_denied
        p.parole_stage[queue[denied]] = ParoleStage.DENIED
        p.parole_denied[queue[denied]] = True
        m.people.resume_plan(queue[denied], m.week)
        m.event("parole_ineligible", queue[denied])
        ok = queue[~denied]
        p.parole_stage[ok] = ParoleStage.AUTHORISED
        p.parole_week[ok] = w
    # arrivals by air after travel
    authorised = stage(waiting, ParoleStage.AUTHORISED)
    flying = authorised[w - p.parole_week[authorised] >= pr.travel_weeks]
    p.parole_stage[flying] = ParoleStage.ARRIVED
    p.set_state(flying, State.IN_US, w)
    m.event("parole_arrivals", flying)


# --- Policy handlers ---

def on_open(m, pol):
    m.parole.nationalities |= {m.pack.nat_index(n) for n in pol.fields["nationalities"]}
    m.parole.monthly_cap = pol.fields["monthly_cap"]
    m.refresh_parole()


def on_set(m, pol):
    m.parole.monthly_cap = pol.fields["monthly_cap"]


def on_close(m, pol):
    nats = pol.fields.get("nationalities")
    closing = {m.pack.nat_index(n) for n in nats} if nats else set(m.parole.nationalities)
    m.parole.nationalities -= closing
    m.refresh_parole()
    p = m.people
    stuck = np.flatnonzero((p.state == State.WAITING_PAROLE) & np.isin(p.nat, list(closing))
                           & np.isin(p.parole_stage, (ParoleStage.CONSIDERING, ParoleStage.APPLIED)))
    p.parole_stage[stuck] = ParoleStage.WITHDRAWN
    m.people.resume_plan(stuck, m.week)


HANDLERS = {"parole_open": on_open, "parole_set": on_set, "parole_close": on_close}
