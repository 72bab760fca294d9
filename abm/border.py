"""The US border regime by date: Title 42 expulsions to Mexico for listed nationalities (Venezuelans
from October 2022; Cubans, Haitians and Nicaraguans from January 2023), the end of Title 42 (May 2023),
and the June 2024 rule that shuts asylum while the 7-day average of daily encounters exceeds a threshold
and reopens it below another (002 s2.3, s3.1).
"""
from __future__ import annotations

import numpy as np

from agents.states import State

from .darien import reenter_last


class Border:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.title42 = True          # in force at the start of the baseline (2022)
        self.expellable: set[int] = set()
        self.rule: tuple[float, float] | None = None
        self.shutdown = False

    def p_out(self, m, idx) -> tuple[np.ndarray, np.ndarray]:
        """Chance of being expelled to Mexico, and of being removed, for each person at the border."""
        expel = np.zeros(len(idx))
        if self.title42 and self.expellable:
            expel[:] = np.isin(m.people.nat[idx], list(self.expellable)) * self.cfg["p_expel_title42"]
        remove = self.cfg["p_remove_shutdown"] if self.shutdown else self.cfg["p_remove"]
        return expel, np.where(expel > 0, 0.0, remove)


def step(m):
    """Outcomes for those who reached the border last week."""
    p, w, b = m.people, m.week, m.border
    at = m.act[p.state[m.act] == State.AT_BORDER]
    if len(at):
        p_expel, p_remove = b.p_out(m, at)
        u = m.streams.uniform("border", w, at)
        expelled = at[u < p_expel]
        removed = at[(u >= p_expel) & (u < p_expel + p_remove)]
        admitted = at[u >= p_expel + p_remove]
        p.set_state(admitted, State.IN_US, w)
        m.event("admitted", admitted)
        m.event("expelled", expelled)
        m.event("removed", removed)
        p.set_state(removed, State.RETURNED, w)
        again = m.streams.uniform("reattempt", w, expelled) < b.cfg["p_reattempt"] * m.beh["reattempt_choice"]
        reenter_last(m, expelled[again])
        p.set_state(expelled[~again], State.RETURNED, w)


def update_shutdown(m, arrivals_people: float):
    """The June 2024 rule: hysteresis on the 7-day average of daily encounters."""
    b = m.border
    daily = arrivals_people / 7 + b.cfg["other_encounters_daily"]
    if b.rule is None:
        return
    close, reopen = b.rule
    if not b.shutdown and daily > close:
        b.shutdown = True
    elif b.shutdown and daily < reopen:
        b.shutdown = False


# --- Policy handlers ---

def on_expel(m, pol):
    m.border.expellable |= {m.pack.nat_index(n) for n in pol.fields["nationalities"]}


def on_title42_end(m, pol):
    m.border.title42 = False


def on_asylum_rule(m, pol):
    m.border.rule = (pol.fields["threshold_daily"], pol.fields["reopen_daily"])


HANDLERS = {"border_expel": on_expel, "title42_end": on_title42_end, "asylum_rule": on_asylum_rule}
