"""Waiting with memory (issue 16): each person keeps the time they have waited on each legal pathway
and the pathways they gave up (fields of agents.population.VOICE, in what was padding).

The clocks. The cost of waiting (abm.decisions.utilities, abm.kernels.logit_choice) counts weeks against
the person's tolerated wait:
  - SMO: weeks without news of one's case, as before; news (getting through the portal, assessment,
    approval, the office's occasional word) resets it. Someone who gives up an SMO wait banks the weeks
    since their last news (`waited_smo`); a wait they resume starts from them, not from zero; while not
    waiting, the SMO costs the banked weeks plus the wait they believe lies ahead (b_wait).
  - parole: weeks spent on parole (finding out, applied): the model has no news of a parole
    application before its travel authorisation, and filing one is not news (resetting the clock there
    would undo the memory: whoever knows the rules files the week they resume). A wait that ends without arrival banks its weeks
    (`waited_parole`); resumed, the clock goes on from them; while not waiting, parole costs them.
  A banked clock is not reset by new information: news that a pathway works (an announcement, a
  contact's success) does not give back the weeks already spent (assumption; the tolerated wait is
  the person's, 002 s6.2 "how long are they willing to wait?").

Giving up. A person gives up a pathway when they withdraw, by their own choice, from a wait on it
(abm.decisions.apply_choices: any other option chosen while their case is open: move irregularly, stay
and integrate, or the other legal pathway). It then carries a gave-up mark and is not open to them
(abm.decisions.smo_open_to, parole_open_to) until new information about it renews it: an announcement
on its topic that reaches them (People.renew, from abm.information.on_announce) or a contact's success
(the smo_pos and parole_pos outcome signals: abm.information._outcomes, abm.kernels.hear_outcomes).
Without the mark a person who left a wait returned to it the next week on the same beliefs.
Ends not of the person's choosing are not giving up: a closed office or programme, an IOM referral or a
rejection (these already rule the SMO out: smo_no_route), a denied or ineligible parole application.
A person "gave up waiting" (`gave_ups`, the summary's distribution) when they leave a wait for the
irregular route or to stay, not when they switch to the other legal pathway (they are still waiting).
The flow `gave_up_waiting` keeps its meaning: those who left a wait for the irregular route.
"""
from __future__ import annotations

import numpy as np

from agents.population import GAVE_UP, GAVE_UP_COLUMN

I2_MAX = np.iinfo(np.int16).max


def resume_smo(m, idx):
    """A person starting an SMO wait: their clock continues from the weeks they banked."""
    p = m.people
    p.smo_news[idx] = m.week - p.waited_smo[idx]
    p.waited_smo[idx] = 0


def bank_smo(m, idx):
    """An SMO wait given up: keep the weeks since the case's last news."""
    p = m.people
    p.waited_smo[idx] = np.clip(m.week - p.smo_news[idx].astype(np.int64), 0, I2_MAX)


def bank_parole(m, idx):
    """Fold the weeks since parole_week into waited_parole and restart parole_week now (before parole_week
    is set anew, or when a parole wait ends without arrival)."""
    p, w = m.people, m.week
    p.waited_parole[idx] = np.clip(p.waited_parole[idx] + (w - p.parole_week[idx].astype(np.int64)), 0, I2_MAX)
    p.parole_week[idx] = w


def parole_weeks(m, idx, waiting) -> np.ndarray:
    """Weeks on the parole clock: banked, plus the current wait's for those waiting on parole."""
    p = m.people
    return p.waited_parole[idx] + np.where(waiting, m.week - p.parole_week[idx].astype(np.int64), 0)


def give_up(m, idx, topic: str):
    """Persons idx withdrew from a wait on `topic` ("smo" or "parole") by their own choice."""
    m.people.gave_up[idx] |= np.uint8(GAVE_UP[topic])
    m.people.gave_up_week[idx, GAVE_UP_COLUMN[topic]] = m.week


def count_give_ups(m, idx):
    """Persons idx gave up waiting (for the irregular route or to stay): counted from week 0 on (the
    burn-in is not recorded), saturating at 255."""
    if m.week < 0 or len(idx) == 0:
        return
    g = m.people.gave_ups
    g[idx] = np.minimum(g[idx].astype(np.int64) + 1, 255)


def give_up_distribution(model) -> dict:
    """summary.json: people (not agents) by the times they gave up waiting during the run, 0, 1, 2, 3+,
    among everyone the run modelled; and the give-ups in all."""
    c = model.people.gave_ups
    n = np.bincount(np.minimum(c, 3), minlength=4) * model.weight
    return {"0": float(n[0]), "1": float(n[1]), "2": float(n[2]), "3+": float(n[3]),
            "give_ups": float(c.sum(dtype=np.int64) * model.weight)}
