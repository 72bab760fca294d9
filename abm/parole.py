"""Humanitarian parole (CHNV) and other legal pathways of the same kind: a programme has nationalities,
requirements (a sponsor in the destination, a passport) and a monthly cap on travel authorisations
(002 s3.1, s5.5). Opened, capped and closed by the policy timeline.

A pack's `[parole]` table is its first programme; `[parole.programmes.<name>]` tables add more (e.g.
a labour quota beside a humanitarian corridor), each with the same fields and its own cap. A person who
applies goes to the first programme (in pack order) that is open to their nationality and whose
requirements they meet.
"""
from __future__ import annotations

import numpy as np

from agents.states import ParoleStage, State

from . import waiting
from .queues import Capacity, fifo_ids

#: recorded in each week no programme is open to any nationality (model.limit_weeks; experiments/findings.py)
LIMITS = ("no_parole_open",)


class Programme:
    def __init__(self, name: str, cfg: dict, n_nat: int):
        self.name = name
        self.requires_sponsor = cfg["requires_sponsor"]
        self.requires_passport = cfg["requires_passport"]
        self.p_denied = cfg["p_denied"]
        self.travel_weeks = int(cfg["travel_weeks"])
        self.nat_ok = np.zeros(n_nat, dtype=bool)
        self.monthly_cap = 0.0
        self.authorisations = Capacity()


class Parole:
    def __init__(self, programmes: dict[str, dict], n_nat: int):
        self.programmes = [Programme(name, cfg, n_nat) for name, cfg in programmes.items()]
        self.index = {pr.name: i for i, pr in enumerate(self.programmes)}

    def open_to(self) -> np.ndarray:
        """Nationalities any programme is open to."""
        return np.logical_or.reduce([pr.nat_ok for pr in self.programmes])

    def named(self, pol) -> list[Programme]:
        """The programme a policy names, or (none named) the first for opening and capping, all for closing."""
        name = pol.fields.get("programme")
        if name is not None:
            return [self.programmes[self.index[name]]]
        return self.programmes if pol.kind == "parole_close" else self.programmes[:1]


# --- Eligibility: one function per rule, for one programme ---

def rule_nationality(m, idx, pr):
    return pr.nat_ok[m.people.nat[idx]]


def rule_sponsor(m, idx, pr):
    """A sponsor in the destination with legal status and means (002 s5.5)."""
    return m.people.us_tie[idx] | (not pr.requires_sponsor)


def rule_passport(m, idx, pr):
    return m.people.passport[idx] | (not pr.requires_passport)


RULES = (rule_nationality, rule_sponsor, rule_passport)


def programme_for(m, idx) -> np.ndarray:
    """The first programme each person qualifies for (its index), or -1."""
    out = np.full(len(idx), -1, dtype=np.int8)
    for k, pr in enumerate(m.parole.programmes):
        ok = out < 0
        for rule in RULES:
            ok &= rule(m, idx, pr)
        out[ok] = k
    return out


def eligible(m, idx) -> np.ndarray:
    return programme_for(m, idx) >= 0


def consider(m, idx):
    """People who chose parole: those who know the rules and qualify apply; the rest find out first.
    Their clock goes on from the weeks they waited on parole before (abm.waiting: waited_parole)."""
    p, w = m.people, m.week
    p.set_state(idx, State.WAITING_PAROLE, w)
    p.parole_stage[idx] = ParoleStage.CONSIDERING
    p.parole_week[idx] = w
    ready = idx[p.rules_parole[idx]]
    _apply_or_drop(m, ready)


def _apply_or_drop(m, idx):
    p, w = m.people, m.week
    waiting.bank_parole(m, idx)  # parole_week becomes the application's place in the queue
    prog = programme_for(m, idx)
    ok = prog >= 0
    yes, no = idx[ok], idx[~ok]
    p.parole_stage[yes] = ParoleStage.APPLIED
    p.parole_week[yes] = w
    p.parole_prog[yes] = prog[ok]
    p.parole_stage[no] = ParoleStage.NONE
    m.people.resume_plan(no, m.week)
    m.event("parole_ineligible", no)


def withdraw(m, idx):
    p = m.people
    idx = idx[p.state[idx] == State.WAITING_PAROLE]
    p.parole_stage[idx] = ParoleStage.WITHDRAWN
    waiting.bank_parole(m, idx)


def step(m):
    p, w = m.people, m.week
    if not m.parole_nat_ok.any():
        m.limit_weeks["no_parole_open"].add(w)
    waiting = m.act[p.state[m.act] == State.WAITING_PAROLE]
    stage = lambda ids, s: ids[(p.state[ids] == State.WAITING_PAROLE) & (p.parole_stage[ids] == s)]
    # those finding out who have now learnt the rules
    considering = stage(waiting, ParoleStage.CONSIDERING)
    _apply_or_drop(m, considering[p.rules_parole[considering]])
    # travel authorisations under each programme's monthly cap, first come first served
    applied = stage(waiting, ParoleStage.APPLIED)
    for k, pr in enumerate(m.parole.programmes):
        n = pr.authorisations.take(pr.monthly_cap * 12 / 52, m.scale)
        queue = fifo_ids(applied[p.parole_prog[applied] == k], p.parole_week)[:n]
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
    travel = np.array([pr.travel_weeks for pr in m.parole.programmes])[p.parole_prog[authorised]]
    flying = authorised[w - p.parole_week[authorised] >= travel]
    p.parole_stage[flying] = ParoleStage.ARRIVED
    p.set_state(flying, State.IN_US, w)
    m.event("parole_arrivals", flying)


# --- Policy handlers ---

def on_open(m, pol):
    for pr in m.parole.named(pol):
        pr.nat_ok[[m.pack.nat_index(n) for n in pol.fields["nationalities"]]] = True
        pr.monthly_cap = pol.fields["monthly_cap"]
    m.refresh_parole()


def on_set(m, pol):
    for pr in m.parole.named(pol):
        pr.monthly_cap = pol.fields["monthly_cap"]


def on_close(m, pol):
    nats = pol.fields.get("nationalities")
    closing = [m.pack.nat_index(n) for n in nats] if nats else list(range(len(m.pack.nationalities)))
    p = m.people
    for pr in m.parole.named(pol):
        k = m.parole.index[pr.name]
        pr.nat_ok[closing] = False
        applied = np.flatnonzero((p.state == State.WAITING_PAROLE) & np.isin(p.nat, closing) & (p.parole_prog == k)
                                 & (p.parole_stage == ParoleStage.APPLIED))
        p.parole_stage[applied] = ParoleStage.WITHDRAWN
        waiting.bank_parole(m, applied)
        m.people.resume_plan(applied, m.week)
    m.refresh_parole()
    # those still finding out give up if no programme is open to their nationality any more
    considering = np.flatnonzero((p.state == State.WAITING_PAROLE) & np.isin(p.nat, closing)
                                 & (p.parole_stage == ParoleStage.CONSIDERING) & ~m.parole_nat_ok[p.nat])
    p.parole_stage[considering] = ParoleStage.WITHDRAWN
    waiting.bank_parole(m, considering)
    m.people.resume_plan(considering, m.week)


HANDLERS = {"parole_open": on_open, "parole_set": on_set, "parole_close": on_close}
