"""Safe Mobility Offices: who may register (eligibility rules), the portal's weekly quota, assessment
capacity, routing to UNHCR (protection, towards resettlement) or IOM (counselling only), resettlement
decisions within the fiscal-year ceiling, and relocation capacity (002 s3.1, s4.1, s5.1, s5.5).
"""
from __future__ import annotations

import numpy as np

from agents.population import day_number
from agents.states import SmoStage, State, Status

from . import information, waiting
from .queues import Capacity, fifo_ids

#: the pipeline's limits, recorded in each week they hold cases back (model.limit_weeks), so that an experiment can
#: say why an outcome did not move (experiments/findings.py): approved cases left waiting for relocation, cases due
#: a decision left undecided by the fiscal year's ceiling, no office open (a pathway closed)
LIMITS = ("relocation_capacity", "resettlement_ceiling", "no_office_open")


class Office:
    """One SMO: static rules from the pack, switched and changed by the policy timeline."""

    def __init__(self, place: int, name: str, cfg: dict):
        self.place = place
        self.name = name
        self.weekly_quota = cfg["weekly_quota"]
        self.assess_per_week = cfg["assess_per_week"]
        self.presence_cutoff = cfg["presence_cutoff"]
        self.regular_status_required = cfg["regular_status_required"]
        self.host_nationals_eligible = cfg["host_nationals_eligible"]
        self.walk_in = cfg.get("walk_in", False)
        self.documents_required = cfg.get("documents_required", False)
        self.transit_registration = cfg.get("transit_registration", False)  # issue 16: abm/flows.py
        self.open = False
        self.opened_day: int | None = None
        self.nationalities: set[int] = set()
        self.portal = Capacity()
        self.assessment = Capacity()


# --- Eligibility: one function per rule (002 s3.1, s6.2) ---

def rule_office_open(m, idx):
    """An office is open in the person's host place."""
    return m.office_open_at[m.people.place[idx]]


def rule_nationality_listed(m, idx):
    """The person's nationality is on the office's list at this date."""
    return m.office_nat_ok[m.people.place[idx], m.people.nat[idx]]


def rule_host_nationals(m, idx):
    """Nationals of the host country are eligible only where the office allows it (Guatemala)."""
    p = m.people
    at_home = m.home_place_of_nat[p.nat[idx]] == p.place[idx]
    return ~at_home | m.office_host_nationals[p.place[idx]]


def rule_presence_cutoff(m, idx):
    """Arrived before the office opened (Colombia, Costa Rica, Ecuador; no cut-off in Guatemala)."""
    p = m.people
    cutoff = m.office_cutoff_day[p.place[idx]]
    return p.arrival_day[idx] < cutoff


def rule_regular_status(m, idx):
    """Regular status or regularising, where required (Colombia, Ecuador)."""
    p = m.people
    ok = p.status[idx] != Status.IRREGULAR
    return ok | ~m.office_status_required[p.place[idx]]


def rule_documents(m, idx):
    """An identity document (national ID or passport), where required (Colombia, Ecuador; 002 s5.5, s6.2)."""
    p = m.people
    return p.id_doc[idx] | p.passport[idx] | ~m.office_documents_required[p.place[idx]]


def rule_online_access(m, idx):
    """Applications are online only (002 s3.1), unless walk-ins are allowed."""
    p = m.people
    return p.internet[idx] | m.office_walk_in[p.place[idx]]


RULES = (rule_office_open, rule_nationality_listed, rule_host_nationals, rule_presence_cutoff,
         rule_regular_status, rule_documents, rule_online_access)


def eligible(m, idx) -> np.ndarray:
    ok = np.ones(len(idx), dtype=bool)
    for rule in RULES:
        ok &= rule(m, idx)
    return ok


# --- Weekly pipeline ---

def close_case(m, idx, stage: SmoStage):
    """End an SMO case; the person goes back to what they meant to do before (stay, or move)."""
    m.people.smo_stage[idx] = stage
    m.people.resume_plan(idx, m.week)


def step(m):
    p, w, scale = m.people, m.week, m.scale
    waiting = m.act[p.state[m.act] == State.WAITING_SMO]  # the active list holds everyone waiting
    stage = lambda ids, s: ids[p.smo_stage[ids] == s]
    rs = m.resettlement
    if not any(off.open for off in m.offices.values()):
        m.limit_weeks["no_office_open"].add(w)
    for off in m.offices.values():
        here = waiting[p.place[waiting] == off.place]
        # 1. the portal: pending registrants get in up to the weekly quota, in random order (002 s5.1)
        pending = stage(here, SmoStage.PENDING)
        n = off.portal.take(off.weekly_quota, scale) if off.open else 0
        if len(pending) and n:
            order = np.argsort(m.streams.uniform("portal", w, pending), kind="stable")
            got = pending[order[:n]]
            p.smo_stage[got] = SmoStage.REGISTERED
            p.smo_stage_week[got] = w
            p.smo_reg_week[got] = w
            m.count_registered(got)
            p.smo_news[got] = w
            m.event("smo_registrations", got)
        # 2. assessment, first come first served: protection cases to UNHCR, others to IOM counselling
        n = off.assessment.take(off.assess_per_week, scale)
        queue = fifo_ids(stage(here, SmoStage.REGISTERED), p.smo_stage_week)[:n]
        if len(queue):
            prot = p.protection[queue]
            to_unhcr, to_iom = queue[prot], queue[~prot]
            p.smo_stage[to_unhcr] = SmoStage.UNHCR
            p.smo_stage_week[to_unhcr] = w
            p.smo_news[to_unhcr] = w
            # IOM only informs about other pathways (002 s3.1): they learn the SMO has nothing for them,
            # and learn about parole and its requirements
            information.become_aware(m, to_iom[~p.aware_parole[to_iom]], "parole")
            information.learn_rules(m, to_iom, "parole")
            information.learn_rules(m, to_iom, "smo")
            p.smo_no_route[to_iom] = True
            close_case(m, to_iom, SmoStage.REFERRED_IOM)
            m.event("smo_rejected", to_iom)
    waiting = waiting[p.state[waiting] == State.WAITING_SMO]
    # 3. resettlement decisions, within the fiscal year's ceiling; none while admissions are suspended
    suspended = rs.get("suspended", False)
    unhcr = stage(waiting, SmoStage.UNHCR)
    due = fifo_ids(unhcr[w - p.smo_stage_week[unhcr] >= rs["decision_weeks"]], p.smo_stage_week)
    if len(due) and not suspended:
        # one decision per person (not redrawn each week), so a binding ceiling makes a queue
        approve = m.streams.uniform("smo_approve", 0, due) < rs["p_approve"]
        rejected = due[~approve]
        cand = due[approve]
        room = m.resettlement_room()
        if len(cand) > room:
            m.limit_weeks["resettlement_ceiling"].add(w)
        cand = cand[:max(0, room)]
        p.smo_stage[cand] = SmoStage.APPROVED
        p.smo_stage_week[cand] = w
        p.smo_news[cand] = w
        m.resettlement_used[m.fiscal_year()] += len(cand)
        m.approval_waits.extend((w - p.smo_reg_week[cand]).tolist())
        m.approval_weeks.extend([w] * len(cand))
        m.event("smo_approvals", cand)
        information.learn_rules(m, rejected, "smo")
        p.smo_no_route[rejected] = True
        close_case(m, rejected, SmoStage.REJECTED)
        m.event("smo_rejected", rejected)
    # 4. relocation: housing in the US is the bottleneck (002 s5.1)
    waiting = waiting[p.state[waiting] == State.WAITING_SMO]
    n = 0 if suspended else m.relocation.take(rs["relocation_per_week"], scale)
    approved = stage(waiting, SmoStage.APPROVED)
    if len(approved) > n and not suspended:
        m.limit_weeks["relocation_capacity"].add(w)
    ready = fifo_ids(approved, p.smo_stage_week)[:n]
    if len(ready):
        p.smo_stage[ready] = SmoStage.RELOCATED
        p.set_state(ready, State.IN_US, w)
        m.event("smo_relocations", ready)
    # 5. news: a case in the queue hears something now and then (transparency)
    waiting = waiting[p.state[waiting] == State.WAITING_SMO]
    inq = waiting[np.isin(p.smo_stage[waiting], (SmoStage.REGISTERED, SmoStage.UNHCR))]
    heard = inq[m.streams.uniform("smo_news", w, inq) < rs["news_per_week"]]
    p.smo_news[heard] = w


def register_attempt(m, idx):
    """People who chose the SMO try to register: the eligible join the portal queue; the others are
    turned away and now know the rules."""
    p, w = m.people, m.week
    ok = eligible(m, idx)
    yes, no = idx[ok], idx[~ok]
    p.set_state(yes, State.WAITING_SMO, w)
    p.smo_stage[yes] = SmoStage.PENDING
    waiting.resume_smo(m, yes)  # the clock goes on from a wait given up (abm.waiting)
    m.event("smo_applications", yes)
    information.learn_rules(m, no, "smo")
    p.resume_plan(no, w)  # back to their plan; the undecided reconsider next week without the SMO
    m.event("smo_ineligible", no)
    return yes, no


def withdraw(m, idx):
    p = m.people
    idx = idx[p.state[idx] == State.WAITING_SMO]
    p.smo_stage[idx] = SmoStage.WITHDRAWN
    waiting.bank_smo(m, idx)
    m.event("smo_withdrawn", idx)


# --- Policy handlers ---

def _office(m, pol):
    return m.offices[pol.fields["office"]]


def on_open(m, pol):
    off = _office(m, pol)
    off.open = True
    off.opened_day = day_number(pol.date)
    off.nationalities = {m.pack.nat_index(n) for n in pol.fields["nationalities"]}
    m.refresh_offices()


def on_nationalities(m, pol):
    off = _office(m, pol)
    off.nationalities |= {m.pack.nat_index(n) for n in pol.fields.get("add", [])}
    off.nationalities -= {m.pack.nat_index(n) for n in pol.fields.get("remove", [])}
    m.refresh_offices()


def on_set(m, pol):
    off = _office(m, pol)
    for k, v in pol.fields.items():
        if k != "office":
            setattr(off, k, v)
    m.refresh_offices()


def on_close(m, pol):
    off = _office(m, pol)
    off.open = False
    m.refresh_offices()
    p = m.people
    stuck = np.flatnonzero((p.state == State.WAITING_SMO) & (p.place == off.place)
                           & np.isin(p.smo_stage, (SmoStage.PENDING, SmoStage.REGISTERED, SmoStage.UNHCR)))
    close_case(m, stuck, SmoStage.WITHDRAWN)


def on_resettlement_set(m, pol):
    m.resettlement.update(pol.fields)


HANDLERS = {"smo_open": on_open, "smo_nationalities": on_nationalities, "smo_set": on_set,
            "smo_close": on_close, "resettlement_set": on_resettlement_set}
