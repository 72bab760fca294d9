"""Travellers in Mexico: the road north stops short of the US border (the pack's optional `[mexico]` table).

A traveller who completes the pack's geofence segment (`geofence_segment`: the segment that ends in
central and northern Mexico) at the end of their route arrives in northern Mexico (State.WAITING_MEXICO)
instead of at the border, and decides there, that week and every week after, among:
  - crossing between ports (State.AT_BORDER, `at_port` False), valued by the believed chance of being let
    in (b_admit), as the decisions' MOVE option is (abm/decisions.py: admit_weight, prior_admit);
  - waiting for a CBP One appointment, if CBP One is open to them (a `cbp_one_open` policy: scope
    "exceptions", the pack's `exception_share` of people, or "all"), they have a phone with internet, and
    they are inside the geofence (only people in WAITING_MEXICO can register: that is the geofence).
    Valued by the chance of being let in at a port (the border's `p_port_admit`, abm/border.py), less the cost of waiting
    (the decisions' wait_cost) for the weeks waited so far and the weeks still expected (the registered
    queue over the weekly appointments, which everyone waiting can see), relative to one's patience;
    someone choosing to wait who is not registered registers with chance `p_register_week` a week;
  - settling in Mexico (State.SETTLED_MEXICO, out of the flows), utility `settle_value`;
  - going back south to their host place (State.INTEGRATING again, counted as `returned_south`),
    utility `south_value`.
Appointments: each week appointments_per_day * 7 * appointment_share people (the pack's people's share of the
appointments; the rest go to people the model does not simulate), scaled, fractions carried over (abm/queues.Capacity),
half to the earliest registrants (abm/queues.fifo_ids on the week registered) and half at random among
the other registrants; those given one present at a port (AT_BORDER with at_port True; the border decides
their outcome). CBP One ends with a `cbp_one_close` policy: no appointments after it, registrations void.
Mexico's enforcement (a `mexico_enforcement` policy): each week people waiting in northern Mexico or
travelling the geofence segment are caught with chance p_caught_week, lose cost_usd (borrowing if short),
are taken back to southern Mexico (the start of the geofence segment) and decide again: go north again
(the segment once more, weeks_lost weeks longer, paid again), settle, or go back south. Counted as
`mexico_returns`. People waiting in Mexico hear what happens at the border to their compatriots (the
model's admission rate by nationality) with weekly weight `news_weight`.
A pack without `[mexico]` behaves as before: travellers reach the border at the end of their route.
"""
from __future__ import annotations

import numpy as np

from agents.population import NOT_REGISTERED
from agents.states import Intent, State

from . import border, darien
from .queues import Capacity, fifo_ids

CROSS, WAIT, SETTLE, SOUTH = 0, 1, 2, 3
N_CHOICES = 4
SCOPES = ("exceptions", "all")
#: cap on the expected wait for an appointment (weeks): with no appointments at all the option is worthless
MAX_EXPECTED_WAIT = 104.0


class Mexico:
    """CBP One and Mexico's enforcement as they stand this week."""

    def __init__(self, cfg: dict, routes):
        self.cfg = cfg
        self.seg = routes.segment_names.index(cfg["geofence_segment"])
        #: per route option: whether its travellers end their route in the geofence (stop in northern Mexico)
        self.north = routes.last == self.seg
        self.scope: str | None = None   # None: CBP One closed (not yet launched, or ended)
        self.per_day = 0.0
        self.first = Capacity()          # the half of the appointments that goes to the earliest registrants
        self.lottery = Capacity()        # the half drawn at random
        self.enforcement: dict | None = None
        self.expected_wait = MAX_EXPECTED_WAIT
        #: (week, appointments available, appointments used), in agents, for reporting and tests
        self.log: list[tuple[int, int, int]] = []


def can_wait(m, idx) -> np.ndarray:
    """Whether CBP One is open to each person in northern Mexico: open, for their scope, with internet."""
    mx, p = m.mexico, m.people
    if mx.scope is None:
        return np.zeros(len(idx), dtype=bool)
    ok = p.internet[idx] | (p.cbp_week[idx] != NOT_REGISTERED)
    if mx.scope == "exceptions":
        ok &= is_exception(m, idx)
    return ok


def is_exception(m, idx) -> np.ndarray:
    """Who would qualify for a Title 42 exception: a fixed draw per person (the pack's exception_share)."""
    return m.streams.uniform("cbp_exception", -1, idx) < m.mexico.cfg["exception_share"]


def utilities(m, idx, returned: bool = False) -> np.ndarray:
    """The values of crossing (or, for those `returned` to southern Mexico, going north again), waiting
    for CBP One, settling and going back south, for persons idx."""
    p, b, cfg = m.people, m.beh, m.mexico.cfg
    V = np.empty((len(idx), N_CHOICES))
    V[:, CROSS] = b["admit_weight"] * (p.b_admit[idx] - b["prior_admit"])
    if returned:
        V[:, WAIT] = -np.inf
    else:
        waited = np.maximum(m.week - p.since[idx], 0)
        wait = (waited + m.mexico.expected_wait) / np.maximum(p.patience[idx], 1e-3)
        v = b["admit_weight"] * (m.border.cfg.get("p_port_admit", 1.0) - b["prior_admit"]) - b["wait_cost"] * wait
        V[:, WAIT] = np.where(can_wait(m, idx), v, -np.inf)
    V[:, SETTLE] = cfg["settle_value"]
    V[:, SOUTH] = cfg["south_value"]
    return V


def choose(m, idx, V, purpose: str) -> np.ndarray:
    """Logit choice with one uniform draw per person (inverse CDF), as abm.decisions.choose."""
    V = V - V.max(axis=1, keepdims=True)
    e = np.exp(V)
    cum = np.cumsum(e / e.sum(axis=1, keepdims=True), axis=1)
    u = m.streams.uniform(purpose, m.week, idx)
    return np.minimum((cum < u[:, None]).sum(axis=1), N_CHOICES - 1)


def to_border(m, idx, port: bool):
    """To the US border: at a port with an appointment (`port`), or between ports."""
    p, w = m.people, m.week
    if len(idx) == 0:
        return
    p.at_port[idx] = port
    if port:
        p.cbp_week[idx] = NOT_REGISTERED  # the appointment is used
        m.event("cbp_one_appointments", idx)
    border.arrive(m, idx)  # AT_BORDER; counted at a port of entry or between ports


def go_south(m, idx):
    """Back to their host place (or home), a resident again who may decide to move later."""
    p = m.people
    m.event("returned_south", idx)
    p.cbp_week[idx] = NOT_REGISTERED
    p.at_port[idx] = False
    p.intent[idx] = Intent.STAY
    p.prep_left[idx] = 0
    p.seg[idx] = 0
    p.set_state(idx, State.INTEGRATING, m.week)


def settle(m, idx):
    p = m.people
    m.event("settled_mexico", idx)
    p.cbp_week[idx] = NOT_REGISTERED
    p.set_state(idx, State.SETTLED_MEXICO, m.week)


def _carry_out(m, idx, choice):
    p, w = m.people, m.week
    to_border(m, idx[choice == CROSS], port=False)
    settle(m, idx[choice == SETTLE])
    go_south(m, idx[choice == SOUTH])
    wait = idx[choice == WAIT]
    trying = wait[p.cbp_week[wait] == NOT_REGISTERED]
    ok = trying[m.streams.uniform("cbp_register", w, trying) < m.mexico.cfg["p_register_week"]]
    p.cbp_week[ok] = w


def arrive_north(m, idx):
    """Reaching northern Mexico (at the end of the route, or expelled there from the border) and deciding
    there this week. Without a `[mexico]` table: back on the route's last segment, as before."""
    idx = np.asarray(idx, dtype=np.int64)
    if m.mexico is None:
        darien.reenter_last(m, idx)
        return
    if len(idx) == 0:
        return
    p, r = m.people, m.routes
    p.at_port[idx] = False
    p.seg[idx] = (r.length[p.route[idx]] - 1).astype(p.seg.dtype)
    p.seg_left[idx] = 0
    p.set_state(idx, State.WAITING_MEXICO, m.week)
    _carry_out(m, idx, choose(m, idx, utilities(m, idx), "mexico_choice"))


def returned_south_mexico(m, idx):
    """Caught by Mexico's enforcement: money lost, taken back to the start of the geofence segment (southern
    Mexico), deciding there whether to go north again (weeks_lost longer), settle, or go back south."""
    if len(idx) == 0:
        return
    p, r, enf = m.people, m.routes, m.mexico.enforcement
    m.event("mexico_returns", idx)
    left = p.resources[idx] - enf["cost_usd"]
    p.debt[idx] += np.maximum(0.0, -left)
    p.resources[idx] = np.maximum(0.0, left)
    p.at_port[idx] = False
    choice = choose(m, idx, utilities(m, idx, returned=True), "mexico_return_choice")
    settle(m, idx[choice == SETTLE])
    go_south(m, idx[choice == SOUTH])
    north = idx[choice == CROSS]
    p.set_state(north[p.state[north] != State.IN_TRANSIT], State.IN_TRANSIT, m.week)
    pos = np.argmax(r.path[p.route[north]] == m.mexico.seg, axis=1).astype(np.int16)  # the segment's place on the route
    darien._enter(m, north, pos)
    p.seg_left[north] += int(enf["weeks_lost"])


def _appointments(m, there) -> np.ndarray:
    """This week's appointments among the registered waiting in northern Mexico: half to the earliest
    registrants, half at random among the rest. Returns who got one."""
    mx, p, w = m.mexico, m.people, m.week
    half = mx.per_day * 7 * mx.cfg["appointment_share"] / 2
    n1, n2 = mx.first.take(half, m.scale), mx.lottery.take(half, m.scale)
    reg = there[p.cbp_week[there] != NOT_REGISTERED]
    order = fifo_ids(reg, p.cbp_week)
    first, rest = order[:n1], order[n1:]
    lucky = rest[np.argsort(m.streams.uniform("cbp_lottery", w, rest), kind="stable")[:n2]]
    got = np.concatenate([first, lucky])
    mx.log.append((w, n1 + n2, len(got)))
    cap = mx.per_day * 7 * mx.cfg["appointment_share"] * m.scale
    mx.expected_wait = min(MAX_EXPECTED_WAIT, (len(reg) - len(got)) / cap) if cap > 0 else MAX_EXPECTED_WAIT
    return got


def step(m):
    """The week in Mexico, before travellers advance (abm.darien.step brings this week's arrivals north)."""
    mx = m.mexico
    if mx is None:
        return
    p, w = m.people, m.week
    act = m.act
    st = p.state[act]
    there = act[st == State.WAITING_MEXICO]
    enf = mx.enforcement
    if enf is not None and enf["p_caught_week"] > 0:
        moving = act[st == State.IN_TRANSIT]
        moving = moving[m.routes.path[p.route[moving], p.seg[moving]] == mx.seg]
        pool = np.concatenate([there, moving])
        returned_south_mexico(m, pool[m.streams.uniform("mexico_caught", w, pool) < enf["p_caught_week"]])
        there = there[p.state[there] == State.WAITING_MEXICO]
    if mx.scope is not None:
        to_border(m, _appointments(m, there), port=True)
        there = there[p.state[there] == State.WAITING_MEXICO]
    # news from the border: what happened to compatriots who crossed
    rate = m.admit_rate[p.nat[there]]
    heard = ~np.isnan(rate)
    nw = mx.cfg["news_weight"]
    h = there[heard]
    p.b_admit[h] += nw * (rate[heard] - p.b_admit[h])
    old = there[p.since[there] < w]  # who arrived this week decided on arrival
    _carry_out(m, old, choose(m, old, utilities(m, old), "mexico_choice"))


def registered(m, count) -> np.ndarray:
    """Stock: people registered with CBP One and waiting in northern Mexico, by cell."""
    p = m.people
    if m.mexico is None:
        return count(np.empty(0, dtype=np.int64))
    there = m.act[p.state[m.act] == State.WAITING_MEXICO]
    return count(there[p.cbp_week[there] != NOT_REGISTERED])


# --- Policy handlers ---

def on_cbp_one_open(m, pol):
    m.mexico.scope = pol.fields["scope"]
    m.mexico.per_day = float(pol.fields["appointments_per_day"])


def on_cbp_one_set(m, pol):
    if "scope" in pol.fields:
        m.mexico.scope = pol.fields["scope"]
    if "appointments_per_day" in pol.fields:
        m.mexico.per_day = float(pol.fields["appointments_per_day"])


def on_cbp_one_close(m, pol):
    """CBP One ends: appointments cancelled, registrations void (one pass at the policy's date)."""
    m.mexico.scope = None
    m.mexico.per_day = 0.0
    m.mexico.expected_wait = MAX_EXPECTED_WAIT
    m.people.cbp_week[:] = NOT_REGISTERED


def on_mexico_enforcement(m, pol):
    m.mexico.enforcement = dict(pol.fields)


HANDLERS = {"cbp_one_open": on_cbp_one_open, "cbp_one_set": on_cbp_one_set, "cbp_one_close": on_cbp_one_close,
            "mexico_enforcement": on_mexico_enforcement}
