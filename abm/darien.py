"""The irregular route: preparing (saving, finding a smuggler, the approach to the first segment),
then segments in turn (the Darien, Central America, Mexico) with their costs and hazards, to the US
border (002 s2.2), or, with the pack's `[mexico]` table, to northern Mexico (abm/mexico.py). Route
options and segments are pack data (routes.toml). A segment may intercept travellers and return them
to where they set out (`p_intercept`, e.g. a sea crossing), and a `route_close` policy shuts a route
option, its people switching to the other options of their place; a `segment_set` policy changes a
segment's hazards or prices from its date.
"""
from __future__ import annotations

import numpy as np

from agents.states import Intent, State

from . import border, flows

#: states in which a person's route no longer changes (on the way, or the journey is over)
MOVING_OR_DONE = (State.IN_TRANSIT, State.AT_BORDER, State.IN_US, State.RETURNED, State.DEAD, State.WAITING_MEXICO,
                  State.SETTLED_MEXICO)
MAX_SAVING_WEEKS = 26  # beyond this a traveller borrows the rest (debts take 11-19 months to repay, 002 s2.2)


class Routes:
    """Route options as arrays: segment ids per option, and per-segment parameters."""

    def __init__(self, pack):
        self.segment_names = list(pack.segments)
        self.option_names = list(pack.options)
        seg = pack.segments
        self.weeks = np.array([seg[s]["weeks"] for s in self.segment_names], dtype=np.int16)
        self.cost = np.array([seg[s]["cost_usd"] for s in self.segment_names], dtype=np.float32)
        self.fee = np.array([seg[s]["smuggler_fee_usd"] for s in self.segment_names], dtype=np.float32)
        self.p_death = np.array([seg[s]["p_death"] for s in self.segment_names])
        self.p_injury = np.array([seg[s]["p_injury"] for s in self.segment_names])
        self.p_robbery = np.array([seg[s]["p_robbery"] for s in self.segment_names])
        self.is_darien = np.array([bool(seg[s].get("darien", False)) for s in self.segment_names])
        #: chance of being intercepted on a segment (at sea) and returned to where one set out
        self.p_intercept = np.array([seg[s].get("p_intercept", 0.0) for s in self.segment_names])
        #: options open to new assignments (a `route_close` policy shuts one: its people switch, see on_close)
        self.open = np.ones(len(self.option_names), dtype=bool)
        n_max = max(len(o["segments"]) for o in pack.options.values())
        self.path = np.full((len(self.option_names), n_max), -1, dtype=np.int16)
        for i, name in enumerate(self.option_names):
            ids = [self.segment_names.index(s) for s in pack.options[name]["segments"]]
            self.path[i, :len(ids)] = ids
        self.length = (self.path >= 0).sum(axis=1)
        self.approach = np.array([pack.options[o]["approach_weeks"] for o in self.option_names], dtype=np.int16)
        self.costs_changed()
        #: the segment an expelled person re-attempts from (the last one, e.g. Mexico)
        self.last = self.path[np.arange(len(self.option_names)), self.length - 1]

    def costs_changed(self):
        """Route totals that follow from segment costs (again after a `segment_set` policy)."""
        n = len(self.option_names)
        self.min_cost = np.array([self.cost[self.path[i, :self.length[i]]].sum() for i in range(n)], dtype=np.float32)
        #: own-travel cost of the segments after each position on each route
        self.cost_after = np.zeros(self.path.shape, dtype=np.float32)
        for i in range(n):
            c = self.cost[self.path[i, :self.length[i]]]
            self.cost_after[i, :self.length[i]] = np.concatenate([np.cumsum(c[::-1])[::-1][1:], [0.0]])


def prep_weeks(m, idx) -> np.ndarray:
    """Weeks to get going: the approach to the route, plus saving towards its cost."""
    p, r = m.people, m.routes
    opt = p.route[idx]
    short = np.maximum(0.0, r.min_cost[opt] - p.resources[idx])
    saving = np.ceil(short / np.maximum(p.savings[idx], 1.0))
    return (r.approach[opt] + np.minimum(saving, MAX_SAVING_WEEKS)).astype(np.int16)


def _pay(m, idx, seg, pos):
    """Hire a smuggler for the segment if one can pay the fee and still cover the rest of the route on
    one's own; otherwise travel alone, borrowing if short."""
    p, r = m.people, m.routes
    fee, cost = r.fee[seg], r.cost[seg]
    rest = r.cost_after[p.route[idx], pos]
    hire = (p.resources[idx] >= fee + rest) & (fee > cost)
    p.smuggler[idx[hire]] = True
    price = np.where(hire, fee, cost)
    left = p.resources[idx] - price
    p.debt[idx] += np.maximum(0.0, -left)
    p.resources[idx] = np.maximum(0.0, left)


def _enter(m, idx, pos):
    """Start segment number `pos` of each person's route."""
    p, r = m.people, m.routes
    if len(idx) == 0:
        return
    seg = r.path[p.route[idx], pos]
    p.seg[idx] = pos
    p.seg_left[idx] = r.weeks[seg]
    _pay(m, idx, seg, pos)
    dar = idx[r.is_darien[seg]]
    p.crossed_darien[dar] = True
    m.event("darien_crossings", dar)


def depart(m, idx):
    m.people.set_state(idx, State.IN_TRANSIT, m.week)
    m.people.departed[idx] = True
    _enter(m, idx, np.zeros(len(idx), dtype=np.int16))


def reenter_last(m, idx):
    """Expelled to Mexico and trying again: back on the last segment of the route."""
    p, r = m.people, m.routes
    p.set_state(idx, State.IN_TRANSIT, m.week)
    pos = (r.length[p.route[idx]] - 1).astype(np.int16)
    seg = r.path[p.route[idx], pos]
    p.seg[idx] = pos
    p.seg_left[idx] = r.weeks[seg]


def step(m):
    """Advance everyone in transit by a week; hazards apply when a segment is completed."""
    p, r, w = m.people, m.routes, m.week
    flows.transit_registration(m)  # travellers passing an office that registers people in transit may stop there
    moving = m.act[p.state[m.act] == State.IN_TRANSIT]
    p.seg_left[moving] -= 1
    done = moving[p.seg_left[moving] <= 0]
    if len(done) == 0:
        return
    seg = r.path[p.route[done], p.seg[done]]
    S = m.streams
    died = S.uniform("route_death", w, done) < r.p_death[seg]
    dead = done[died]
    p.set_state(dead, State.DEAD, w)
    m.event("deaths", dead)
    alive, seg = done[~died], seg[~died]
    if r.p_intercept.any():
        caught = S.uniform("route_intercept", w, alive) < r.p_intercept[seg]
        intercepted(m, alive[caught])
        alive, seg = alive[~caught], seg[~caught]
    if m.border.transit_per_week.any():  # removal flights from a transit country (abm/border.py)
        alive, seg = border.transit_removals(m, alive, seg)
    p.injured[alive[S.uniform("route_injury", w, alive) < r.p_injury[seg]]] = True
    robbed = alive[S.uniform("route_robbery", w, alive) < r.p_robbery[seg]]
    p.resources[robbed] = 0.0
    nxt = p.seg[alive] + 1
    last = nxt >= r.length[p.route[alive]]
    arrive = alive[last]
    if m.mexico is not None:
        # the route ends in the geofence (northern Mexico): they stop there and decide (abm/mexico.py)
        north = m.mexico.north[p.route[arrive]]
        from .mexico import arrive_north
        arrive_north(m, arrive[north])
        arrive = arrive[~north]
    border.arrive(m, arrive)  # AT_BORDER; counted between ports or at a port of entry
    on = alive[~last]
    _enter(m, on, nxt[~last])


def intercepted(m, idx):
    """Stopped at sea and returned to the place they set out from (their host place): some prepare to try
    again (the border's p_reattempt, as after an expulsion), the rest settle there."""
    p, w = m.people, m.week
    m.event("intercepted", idx)
    again = m.streams.uniform("intercept_again", w, idx) < m.border.cfg["p_reattempt"] * m.beh["reattempt_choice"]
    retry, stay = idx[again], idx[~again]
    p.prep_left[retry] = prep_weeks(m, retry)
    p.set_state(retry, State.PREPARING, w)
    p.intent[stay] = Intent.STAY
    p.prep_left[stay] = 0
    p.set_state(stay, State.INTEGRATING, w)


# --- Policy handlers ---

def on_route_close(m, pol):
    """A route option shuts (e.g. a sea route sealed): people assigned to it who have not set out switch to
    the other open options of their place, in the place's shares; where none is open they keep it."""
    r, p = m.routes, m.people
    r.open[r.option_names.index(pol.fields["option"])] = False
    closed = np.flatnonzero(~r.open)
    waiting = np.flatnonzero(np.isin(p.route, closed) & ~np.isin(p.state, MOVING_OR_DONE))
    for place in np.unique(p.place[waiting]):
        ids = waiting[p.place[waiting] == place]
        shares = m.pack.place_routes[m.pack.places[place]]
        names = [o for o in shares if r.open[r.option_names.index(o)] and shares[o] > 0]
        if not names:
            continue
        cum = np.cumsum([shares[o] for o in names]) / sum(shares[o] for o in names)
        pick = np.minimum(np.searchsorted(cum, m.streams.uniform("route_switch", m.week, ids), side="right"), len(names) - 1)
        p.route[ids] = np.array([r.option_names.index(o) for o in names], dtype=p.route.dtype)[pick]
        m.event("route_switched", ids)


#: segment fields a `segment_set` policy may change, and the Routes array each one lives in
SETTABLE = {"p_death": "p_death", "p_intercept": "p_intercept", "p_injury": "p_injury", "p_robbery": "p_robbery",
            "cost_usd": "cost", "smuggler_fee_usd": "fee"}


def on_segment_set(m, pol):
    """A segment's hazards or prices change from a date (e.g. interception stepped up, a route made deadlier)."""
    r = m.routes
    i = r.segment_names.index(pol.fields["segment"])
    for k, attr in SETTABLE.items():
        if k in pol.fields:
            getattr(r, attr)[i] = pol.fields[k]
    r.costs_changed()


HANDLERS = {"route_close": on_route_close, "segment_set": on_segment_set}
