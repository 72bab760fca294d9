"""The people: per-person state held as numpy arrays (as Starsim holds people), built from a region pack.

Each agent stands for 1/scale people. Future arrivals are created at the start, inactive
(State.NOT_ARRIVED) until their arrival week, so person ids never change during a run and each
person's random draws (abm.crn) stay theirs.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from .states import Intent, ParoleStage, SmoStage, State, Status

EPOCH = dt.date(1970, 1, 1)
ALWAYS_PRESENT = -10**6  # arrival day for people at home: present before any cut-off
NOT_REGISTERED = np.iinfo(np.int16).min  # cbp_week of someone not registered with CBP One


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def stochastic_round(x: float, u: float) -> int:
    """Round x up with probability equal to its fractional part (u is a uniform draw)."""
    base = int(np.floor(x))
    return base + int(u < (x - base))


#: What a person's contacts read from them (abm.contacts.view), kept together in one 32-byte record per
#: person so that reading a contact costs one memory access rather than one per field; the People
#: attributes of the same names are views into it. The last six bytes (once padding) hold the person's
#: memory of waiting (abm/waiting.py), read by the choice and outcome kernels: weeks waited on each
#: pathway before the current wait, the pathways given up (bits GAVE_UP), and how often they gave up.
VOICE = np.dtype([("b_smo", "f4"), ("b_parole", "f4"), ("b_wait", "f4"), ("b_admit", "f4"), ("smo_reg_week", "i2"),
                  ("state", "i1"), ("smo_stage", "i1"), ("aware_smo", "?"), ("aware_parole", "?"), ("rules_smo", "?"),
                  ("rules_parole", "?"), ("fee_belief", "?"), ("expel_belief", "?"), ("waited_smo", "i2"),
                  ("waited_parole", "i2"), ("gave_up", "u1"), ("gave_ups", "u1")])

#: bits of People.gave_up: the pathway the person gave up waiting on (cleared by new information about it)
GAVE_UP = {"smo": 1, "parole": 2}
#: columns of People.gave_up_week: the week each pathway was last given up
GAVE_UP_COLUMN = {"smo": 0, "parole": 1}


class People:
    """Per-person arrays. Field names follow the Migrant agent's attributes."""

    def __init__(self, n: int):
        self.n = n
        self.pid = np.arange(n, dtype=np.int32)
        z = lambda dtype: np.zeros(n, dtype=dtype)
        self.voice = np.zeros(n, dtype=VOICE)
        voice = lambda field: self.voice[field]
        # who and where
        self.group = z(np.int16)
        self.nat = z(np.int16)
        self.place = z(np.int16)          # host place (where they live, or left from)
        self.route = z(np.int16)          # index into the model's route options
        self.cell = z(np.int32)           # nationality x place, for reporting
        # situation
        self.status = z(np.int8)
        self.passport = z(bool)
        self.id_doc = z(bool)
        self.us_tie = z(bool)
        self.internet = z(bool)
        self.protection = z(bool)
        self.arrival_day = z(np.int32)
        self.arrival_week = z(np.int32)
        self.resources = z(np.float32)
        self.debt = z(np.float32)
        self.savings = z(np.float32)
        self.push = z(np.float32)
        self.patience = z(np.float32)
        # knowledge and beliefs
        self.aware_smo = voice("aware_smo")
        self.aware_parole = voice("aware_parole")
        self.rules_smo = voice("rules_smo")
        self.rules_parole = voice("rules_parole")
        self.b_smo = voice("b_smo")        # believed chance an SMO case leads to approval
        self.b_parole = voice("b_parole")     # believed chance parole works for them
        self.b_wait = voice("b_wait")       # expected SMO wait, weeks
        self.b_admit = voice("b_admit")      # believed chance of being let in at the US border
        self.b_risk = z(np.float32)       # believed chance of dying on the route
        self.belief_week = z(np.int16)    # beliefs are up to date up to (not including) this week
        self.fee_belief = voice("fee_belief")         # believes the SMO must be paid for
        self.expel_belief = voice("expel_belief")       # believes registering can get them expelled
        self.heard_expulsion = z(bool)    # took in the news that irregular arrivals are expelled (a channel's accurate version)
        # choices and cases
        self.state = voice("state")
        self.since = z(np.int16)
        self.intent = z(np.int8)
        self.prep_left = z(np.int16)
        self.redecide = z(bool)           # reconsiders next week (a legal option failed, plan undecided)
        self.smo_stage = voice("smo_stage")
        self.smo_stage_week = z(np.int16)
        self.smo_news = z(np.int16)       # last week with news of the case
        self.parole_stage = z(np.int8)
        self.parole_week = z(np.int16)
        self.parole_prog = np.full(n, -1, dtype=np.int8)  # the programme applied to (abm/parole.py), -1 none
        self.seg = z(np.int8)             # position on the route
        self.seg_left = z(np.int16)
        self.smuggler = z(bool)
        self.injured = z(bool)
        self.crossed_darien = z(bool)
        self.departed = z(bool)           # set out on the irregular route at some point
        self.at_port = z(bool)            # presents at a port of entry with a CBP One appointment (abm/mexico.py)
        self.cbp_week = np.full(n, NOT_REGISTERED, dtype=np.int16)  # week registered with CBP One (abm/mexico.py)
        self.smo_no_route = z(bool)       # learnt the SMO has nothing for them (IOM referral, rejection)
        self.ever_registered = z(bool)    # got through an SMO portal at some point
        self.smo_reg_week = voice("smo_reg_week")   # week of registration
        self.parole_denied = z(bool)      # a parole application was denied
        # memory of waiting (abm/waiting.py)
        self.waited_smo = voice("waited_smo")        # weeks without news on the SMO banked from a wait given up
        self.waited_parole = voice("waited_parole")  # weeks waited on parole before the current parole_week
        self.gave_up = voice("gave_up")              # pathways given up (GAVE_UP bits), until renewed
        self.gave_ups = voice("gave_ups")            # times the person gave up waiting (from week 0; saturates at 255)
        self.gave_up_week = np.full((n, len(GAVE_UP)), np.iinfo(np.int16).min, dtype=np.int16)  # when, per pathway

        self.watch = None                 # called as watch(idx, old_states, new_state) before a change
        self.redecide_list: list[np.ndarray] = []  # who was flagged to reconsider (checked each week)

    def set_state(self, idx, state: State, week: int):
        if self.watch is not None and len(idx):
            self.watch(idx, self.state[idx], state)
        self.state[idx] = state
        self.since[idx] = week

    def renew(self, idx, topic: str, announced: int | None = None):
        """New information about a pathway (an announcement, a contact's success): those who gave it up
        may consider it again (abm/waiting.py). An announcement (made in week `announced`) is news only to
        those who gave the pathway up before it was made: hearing it again later is not new information."""
        if announced is not None:
            idx = idx[self.gave_up_week[idx, GAVE_UP_COLUMN[topic]] < announced]
        self.gave_up[idx] &= np.uint8(~GAVE_UP[topic] & 0xFF)

    def resume_plan(self, idx, week: int):
        """After a legal option ends (turned away, referred, rejected, denied, closed): back to what the
        person meant to do: keep preparing to move, stay, or decide afresh next week."""
        intent = self.intent[idx]
        self.set_state(idx[intent == Intent.MOVE], State.PREPARING, week)
        self.set_state(idx[intent != Intent.MOVE], State.INTEGRATING, week)
        undecided = idx[intent == Intent.UNDECIDED]
        self.redecide[undecided] = True
        self.redecide_list.append(np.asarray(undecided, dtype=np.int64))


def year_windows(g: dict, scale: float, start: dt.date, n_weeks: int, streams, gi: int) -> list[tuple[int, int, int]]:
    """A group's arrivals sized by calendar year (pack `arrivals_by_year`, issue 16): for each year, the
    (first day, number of days, agents) of its part of the run, the year's people spread evenly over its
    days (a run covering half a year gets half its arrivals). Days are day_number()s."""
    table = g.get("arrivals_by_year") or {}
    if not table:
        return []
    s0, s1 = day_number(start), day_number(start) + 7 * n_weeks
    years = sorted(table)
    u = streams.uniform("init_count_year", gi, np.arange(len(years)))
    out = []
    for k, y in enumerate(years):
        y0, y1 = day_number(dt.date(y, 1, 1)), day_number(dt.date(y + 1, 1, 1))
        a, b = max(s0, y0), min(s1, y1)
        if b > a:
            out.append((a, b - a, stochastic_round(table[y] * (b - a) / (y1 - y0) * scale, u[k])))
    return out


def build_people(pack, scale: float, start: dt.date, n_weeks: int, streams, beh: dict, info: dict,
                 option_names: list[str]) -> People:
    """Create the population for a pack at a scale (agents per person)."""
    counts, by_year = [], []
    for gi, g in enumerate(pack.groups):
        u = streams.uniform("init_count", gi, np.array([0, 1]))
        n_stock = stochastic_round(g["stock"] * scale, u[0])
        n_arr = stochastic_round(g["arrivals_per_week"] * n_weeks * scale, u[1])
        years = year_windows(g, scale, start, n_weeks, streams, gi)  # issue 16: arrivals sized by year
        by_year.append(years)
        counts.append((n_stock, n_arr + sum(k for _, _, k in years)))
    n = sum(a + b for a, b in counts)
    p = People(n)
    start_day = day_number(start)
    n_places = len(pack.places)
    i = 0
    for gi, (g, (n_stock, n_arr)) in enumerate(zip(pack.groups, counts)):
        m = n_stock + n_arr
        sl = slice(i, i + m)
        ids = p.pid[sl]
        U = lambda purpose: streams.uniform(purpose, -1, ids)
        nat, place = pack.nat_index(g["nationality"]), pack.place_index(g["place"])
        p.group[sl], p.nat[sl], p.place[sl] = gi, nat, place
        p.cell[sl] = nat * n_places + place
        u = U("status")
        p.status[sl] = np.where(u < g["regular"], Status.REGULAR,
                                np.where(u < g["regular"] + g["regularising"], Status.REGULARISING, Status.IRREGULAR))
        p.passport[sl] = U("passport") < g["passport"]
        p.id_doc[sl] = U("id_doc") < g["id_doc"]
        p.us_tie[sl] = U("us_tie") < g["us_tie"]
        p.internet[sl] = U("internet") < g["internet"]
        p.protection[sl] = U("protection") < g["protection"]
        # arrival: the stock arrived before the start (exponential), new arrivals uniformly during the run
        arr = np.empty(m, dtype=np.int64)
        if g["at_home"] or g["arrived_mean_years"] <= 0:
            arr[:n_stock] = ALWAYS_PRESENT
        else:
            arr[:n_stock] = start_day - 1 - np.floor(-np.log1p(-U("arrival")[:n_stock]) * g["arrived_mean_years"] * 365.25)
        arr[n_stock:] = start_day + np.floor(U("arrival")[n_stock:] * n_weeks * 7)
        j = m - sum(k for _, _, k in by_year[gi])  # the arrivals sized by year come last, each in its year
        for first, days, k in by_year[gi]:
            arr[j:j + k] = first + np.floor(U("arrival")[j:j + k] * days)
            j += k
        p.arrival_day[sl] = arr
        p.arrival_week[sl] = np.where(arr >= start_day, (arr - start_day) // 7, -1)
        p.resources[sl] = g["resources_median_usd"] * np.exp(g["resources_sigma"] * streams.normal("resources", -1, ids))
        p.savings[sl] = g["savings_usd_week"]
        p.push[sl] = g["push"]
        p.patience[sl] = beh["tolerated_wait_weeks"] * np.exp(beh["patience_sigma"] * streams.normal("patience", -1, ids))
        # route option from the group's shares
        names = list(g["routes"].keys())
        cum = np.cumsum([g["routes"][r] for r in names])
        pick = np.minimum(np.searchsorted(cum, U("route"), side="right"), len(names) - 1)
        p.route[sl] = np.array([option_names.index(r) for r in names])[pick]
        i += m
    p.state[:] = np.where(p.arrival_week < 0, State.INTEGRATING, State.NOT_ARRIVED)
    p.intent[:] = Intent.STAY
    p.smo_stage[:] = SmoStage.NONE
    p.parole_stage[:] = ParoleStage.NONE
    p.b_admit[:] = beh["prior_admit"]
    p.b_risk[:] = beh["prior_risk"]
    p.b_smo[:] = info["prior_smo_chance"]
    p.b_parole[:] = info["prior_parole_chance"]
    p.b_wait[:] = info["prior_wait_weeks"]
    return p
