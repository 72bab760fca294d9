"""Flows the SMO populations alone leave out (issue 16): people arriving already on the move (extra-continental
migrants at the Darien's southern end), registration with an office by people passing through its country,
and moving a person from one place to another with the model's bookkeeping kept right.

All of it is pack data: a group's `arrive_travelling` and `arrivals_by_year` (populations.toml), an office's
`transit_registration` and a segment's `passes` (institutions.toml, routes.toml).
"""
from __future__ import annotations

import numpy as np

from agents.population import day_number
from agents.states import IS_RESIDENT, Intent, Option, State

from . import darien, decisions, information, smo


def _lookups(m):
    """Per-group and per-segment tables read every week, built once per model."""
    t = getattr(m, "_flows_tables", None)
    if t is None:
        pack = m.pack
        travels = np.array([bool(g.get("arrive_travelling", False)) for g in pack.groups], dtype=bool)
        passes = np.array([pack.places.index(pack.segments[s]["passes"]) if "passes" in pack.segments[s] else -1
                           for s in m.routes.segment_names], dtype=np.int64)
        t = m._flows_tables = {"travels": travels, "passes": passes}
    return t


def _transit_offices(m) -> np.ndarray:
    """By place: an open office there registers people in transit (an `smo_set` policy may change the flag)."""
    out = np.zeros(len(m.pack.places), dtype=bool)
    for off in m.offices.values():
        out[off.place] = off.open and off.transit_registration
    return out


def on_arrival(m, arriving):
    """Arrivals of groups flagged `arrive_travelling` set out on their route at once: they arrive at its start
    (the Darien's southern end) already on the move, so their crossings are the input flow, not a choice."""
    if len(arriving) == 0:
        return
    p = m.people
    go = arriving[_lookups(m)["travels"][p.group[arriving]]]
    if len(go):
        p.intent[go] = Intent.MOVE
        darien.depart(m, go)


def move_place(m, idx, place: int):
    """Move people `idx` to `place`: their place, reporting cell (nationality x place) and route (drawn from
    the new place's route options that are open) change, and the stocks by state and cell, the aware and
    registered resident counts move with them. Their arrival day there is today."""
    p = m.people
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) == 0:
        return
    n_pl, nc = len(m.pack.places), m.n_cells
    old = p.cell[idx].astype(np.int64)
    new = p.nat[idx].astype(np.int64) * n_pl + place
    st = p.state[idx].astype(np.int64)
    np.subtract.at(m.stocks, (st, old), 1)
    np.add.at(m.stocks, (st, new), 1)
    res = IS_RESIDENT[st]
    for flag, counts in ((p.aware_smo, m.aware_res), (p.ever_registered, m.registered_res),
                         (p.aware_parole, m.heard_res["parole"]), (p.heard_expulsion, m.heard_res["expulsion"])):
        k = res & flag[idx]
        counts -= np.bincount(old[k], minlength=nc)
        counts += np.bincount(new[k], minlength=nc)
    p.place[idx] = place
    p.cell[idx] = new
    p.arrival_day[idx] = day_number(m.date)
    r = m.routes
    shares = m.pack.place_routes[m.pack.places[place]]
    names = [o for o in shares if shares[o] > 0 and r.open[r.option_names.index(o)]] or list(shares)
    cum = np.cumsum([shares[o] for o in names]) / sum(shares[o] for o in names)
    pick = np.minimum(np.searchsorted(cum, m.streams.uniform("move_route", m.week, idx), side="right"), len(names) - 1)
    p.route[idx] = np.array([r.option_names.index(o) for o in names], dtype=p.route.dtype)[pick]
    p.seg[idx] = 0
    p.seg_left[idx] = 0


def transit_registration(m):
    """Travellers in their first week on a segment that passes a place whose open office registers people in
    transit (`passes`, `transit_registration`) weigh registering there against going on, as a resident weighs
    the SMO against moving (decisions.utilities, evaluated at the office's place; going on carries the inertia
    of a plan under way). Only those who know of the SMO, think it open to them (its rules, if they know them)
    and have not learnt it has nothing for them consider it. Those who choose it and are eligible stop there
    (move_place) and register (smo.register_attempt); the ineligible learn the rules and go on."""
    t = _lookups(m)
    transit = _transit_offices(m)
    if not transit.any():
        return
    p, r = m.people, m.routes
    moving = m.act[p.state[m.act] == State.IN_TRANSIT]
    seg = r.path[p.route[moving], p.seg[moving]]
    place = t["passes"][seg]
    first = (place >= 0) & (p.seg_left[moving] == r.weeks[seg])
    cand, place = moving[first], place[first]
    keep = transit[place] & p.aware_smo[cand] & ~p.smo_no_route[cand]
    cand, place = cand[keep], place[keep]
    if len(cand) == 0:
        return
    looked, home = cand, p.place[cand].copy()
    p.place[looked] = place  # the rules and the option's value as seen from the office's place
    try:
        thinks = decisions.smo_open_to(m, cand)
        cand, place = cand[thinks], place[thinks]
        V = decisions.utilities(m, cand, np.zeros(len(cand), dtype=bool))
        ok = smo.eligible(m, cand)
    finally:
        p.place[looked] = home  # everyone who looked, whether or not they thought it open
    go_on = V[:, Option.MOVE] + m.beh["inertia"]
    p_smo = 1.0 / (1.0 + np.exp(np.clip(go_on - V[:, Option.SMO], -50, 50)))
    stop = m.streams.uniform("transit_choice", m.week, cand) < p_smo
    information.learn_rules(m, cand[stop & ~ok], "smo")
    yes, where = cand[stop & ok], place[stop & ok]
    for pl in np.unique(where):
        ids = yes[where == pl]
        move_place(m, ids, int(pl))
        p.intent[ids] = Intent.MOVE  # if the case fails, they go on from there
        p.prep_left[ids] = darien.prep_weeks(m, ids)
        smo.register_attempt(m, ids)
        m.event("transit_registrations", ids)
