"""The US border regime by date, and removals from transit countries (002 s2.3, s3.1).

Who reaches the border is counted once, on arrival (`arrive`): those with an appointment at a port of
entry (`People.at_port`, a CBP One appointment, abm/mexico.py) as `port_arrivals`, all others as
`usbp_apprehensions` (crossed between ports); `border_arrivals` is the sum. The next week's `step`
decides what happens to them under the regime of the date:
  - Title 42 (until May 2023): listed nationalities are expelled to Mexico (`border_expel`) and may try
    again from there; the others face removal (`p_remove`).
  - the Circumvention of Lawful Pathways rule (`circumvention_rule`, 11 May 2023): people who crossed
    between ports face removal with `p_remove_circumvention` (a presumption of asylum ineligibility,
    expedited removal) and a re-entry bar: the removed go back to their origin (RETURNED) for good.
  - the June 2024 rule (`asylum_rule`): while shut, the removal chance is `p_remove_shutdown`. It shuts
    when the 7-day average of daily encounters between ports exceeds a threshold and lifts once the
    average has stayed below the reopen level for `reopen_days` consecutive days (`update_shutdown`).
Removal is to the origin country and needs removal flights to it (`removal_flights`, by nationality and
date): where none run, nobody can be removed and those who would have been are released into the US
to pursue asylum (admitted). Port arrivals are admitted (paroled in) with `p_port_admit`; the rest are
removed where flights run, released where not.
A transit country can remove travellers too (`removal_flights` with a `segment`): on completing the
segment, people of the listed nationalities are detained and flown to their origin, up to the flights'
weekly capacity (`per_week`), in random order.
"""
from __future__ import annotations

import math

import numpy as np

from agents.states import State

from . import darien, mexico
from .queues import Capacity


class Border:
    def __init__(self, cfg: dict, n_nat: int = 0, n_seg: int = 0):
        self.cfg = cfg
        self.title42 = True          # in force at the start of the baseline (2022)
        self.expellable: set[int] = set()
        self.circumvention = False   # the Circumvention of Lawful Pathways rule is in force
        #: (threshold_daily, reopen_daily, reopen_weeks) of the June 2024 rule, once in force
        self.rule: tuple[float, float, int] | None = None
        self.shutdown = False
        self.below_weeks = 0         # consecutive weeks with the 7-day average below the reopen level
        self.daily = float("nan")    # last week's 7-day average of daily encounters between ports
        self.log: list[tuple[str, str, float]] = []   # (date, "shut" | "lifted", 7-day average)
        #: removal flights from the US border to each nationality's origin (none stopped: all run)
        self.removable = np.ones(n_nat, dtype=bool)
        #: removal flights from transit countries, at the end of each segment: who, and people a week
        self.transit_flights = np.zeros((n_seg, n_nat), dtype=bool)
        self.transit_per_week = np.zeros(n_seg)
        self.transit_capacity = [Capacity() for _ in range(n_seg)]

    def p_out(self, m, idx) -> tuple[np.ndarray, np.ndarray]:
        """Chance of being expelled to Mexico, and of being removed to origin, for each person who crossed
        between ports."""
        nat = m.people.nat[idx]
        expel = np.zeros(len(idx))
        if self.title42 and self.expellable:
            expel[:] = np.isin(nat, list(self.expellable)) * self.cfg["p_expel_title42"]
        if self.shutdown:
            remove = self.cfg["p_remove_shutdown"]
        elif self.circumvention:
            remove = self.cfg.get("p_remove_circumvention", self.cfg["p_remove"])
        else:
            remove = self.cfg["p_remove"]
        remove = np.where(self.removable[nat], remove, 0.0)  # no flights: released to pursue asylum
        return expel, np.where(expel > 0, 0.0, remove)


def arrive(m, idx):
    """People reach the US border this week: counted between ports or at a port (with an appointment)."""
    p, w = m.people, m.week
    p.set_state(idx, State.AT_BORDER, w)
    m.event("border_arrivals", idx)
    m.event("border_arrivals_smuggled", idx[p.smuggler[idx]])
    port = p.at_port[idx]
    m.event("port_arrivals", idx[port])
    m.event("usbp_apprehensions", idx[~port])


def step(m):
    """Outcomes for those who reached the border last week."""
    p, w, b = m.people, m.week, m.border
    at = m.act[p.state[m.act] == State.AT_BORDER]
    if not len(at):
        return
    u = m.streams.uniform("border", w, at)
    port = p.at_port[at]
    p_expel, p_remove = b.p_out(m, at)
    # at a port with an appointment: paroled in, or else removed where flights run
    p_remove = np.where(port, (1 - b.cfg.get("p_port_admit", 1.0)) * b.removable[p.nat[at]], p_remove)
    p_expel = np.where(port, 0.0, p_expel)
    expelled = at[u < p_expel]
    removed = at[(u >= p_expel) & (u < p_expel + p_remove)]
    admitted = at[u >= p_expel + p_remove]
    p.at_port[at] = False
    p.set_state(admitted, State.IN_US, w)
    m.event("admitted", admitted)
    m.event("expelled", expelled)
    m.event("removed", removed)
    m.event("removed_to_origin", removed)
    p.set_state(removed, State.RETURNED, w)
    again = m.streams.uniform("reattempt", w, expelled) < b.cfg["p_reattempt"] * m.beh["reattempt_choice"]
    mexico.arrive_north(m, expelled[again])  # back in northern Mexico, deciding again (or the route's last segment)
    p.set_state(expelled[~again], State.RETURNED, w)


def transit_removals(m, idx, seg):
    """Travellers `idx` completing segments `seg`: those whose nationality a transit country flies home
    from there are detained and removed to origin, up to the flights' capacity, in random order.
    Returns the others (ids, segments)."""
    b, p, w = m.border, m.people, m.week
    keep = np.ones(len(idx), dtype=bool)
    for s in np.flatnonzero(b.transit_per_week > 0):
        n = b.transit_capacity[s].take(b.transit_per_week[s], m.scale)
        cand = np.flatnonzero((seg == s) & b.transit_flights[s, p.nat[idx]])
        if n == 0 or len(cand) == 0:
            continue
        order = np.argsort(m.streams.uniform("transit_removal", w, idx[cand]), kind="stable")
        out = cand[order[:n]]
        keep[out] = False
        p.set_state(idx[out], State.RETURNED, w)
        m.event("removed_to_origin", idx[out])
    return idx[keep], seg[keep]


def update_shutdown(m, usbp_people: float):
    """The June 2024 rule: hysteresis on the 7-day average of daily encounters between ports. A week's
    average is its between-ports encounters over 7, the modelled ones plus those of nationalities the
    model does not hold (`other_encounters_ratio` times the modelled, and `other_encounters_daily`)."""
    b = m.border
    cfg = b.cfg
    b.daily = usbp_people / 7 * (1 + cfg.get("other_encounters_ratio", 0.0)) + cfg.get("other_encounters_daily", 0.0)
    if b.rule is None:
        return
    close, reopen, weeks = b.rule
    if not b.shutdown:
        if b.daily > close:
            b.shutdown = True
            b.below_weeks = 0
            b.log.append((m.date.isoformat(), "shut", b.daily))
        return
    b.below_weeks = b.below_weeks + 1 if b.daily < reopen else 0
    if b.below_weeks >= weeks:
        b.shutdown = False
        b.below_weeks = 0
        b.log.append((m.date.isoformat(), "lifted", b.daily))


# --- Policy handlers ---

def on_expel(m, pol):
    m.border.expellable |= {m.pack.nat_index(n) for n in pol.fields["nationalities"]}


def on_title42_end(m, pol):
    m.border.title42 = False


def on_circumvention(m, pol):
    m.border.circumvention = True


def on_asylum_rule(m, pol):
    """Sets (or amends) the rule's thresholds; a rule already shut stays shut until it lifts by the new terms."""
    days = pol.fields.get("reopen_days", 7)
    m.border.rule = (pol.fields["threshold_daily"], pol.fields["reopen_daily"], max(1, math.ceil(days / 7)))


def on_removal_flights(m, pol):
    """Removal flights to the listed nationalities' origin start or stop: from the US border, or (with a
    `segment`) from the transit country at that segment's end, carrying up to `per_week` people."""
    b = m.border
    nats = [m.pack.nat_index(n) for n in pol.fields["nationalities"]]
    running = pol.fields["running"]
    seg = pol.fields.get("segment")
    if seg is None:
        b.removable[nats] = running
        return
    s = m.routes.segment_names.index(seg)
    b.transit_flights[s, nats] = running
    if "per_week" in pol.fields:
        b.transit_per_week[s] = pol.fields["per_week"]


HANDLERS = {"border_expel": on_expel, "title42_end": on_title42_end, "circumvention_rule": on_circumvention,
            "asylum_rule": on_asylum_rule, "removal_flights": on_removal_flights}
