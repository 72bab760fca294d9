"""The Safe Mobility model: a Mesa model whose people are numpy arrays and whose network is a CSR matrix.

Weekly step (vectorised, as Starsim steps people), touching only the people something happens to: an
active list of people waiting, preparing or travelling, arrivals bucketed by week, per-person clocks
for small weekly hazards (abm.clocks), word of mouth as transmissions along ties (abm.contacts), and
compiled loops over ties (abm.kernels). docs/performance.md has the measurements.
  0. (burn-in weeks before the start run the same step, unrecorded, so that the pipeline of people
     preparing and travelling is full at the start);
  1. policies dated in this week take effect (abm.policy);
  2. new arrivals join their host place;
  3. information spreads (abm.information) and residents decide (abm.decisions);
  4. institutions act: SMO pipeline (abm.smo), parole (abm.parole), the border (abm.border);
  5. travellers in Mexico decide (abm.mexico), travellers advance along the route (abm.darien) and those
     ready depart;
  6. metrics are collected (Mesa DataCollector), in agents; outputs convert them to people.
With `reference=True` step 3 runs one Migrant (a Mesa agent) at a time in random order, applying the same
rules to one person at a time (see agents.migrant); tests check both agree statistically.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from contextlib import contextmanager

import mesa
import numpy as np

from agents.network import build_network
from agents.population import build_people
from agents.states import IS_RESIDENT, RESIDENT, ParoleStage, State

from . import border, darien, decisions, flows, information, interrupts, mexico, parole, smo
from .clocks import Clock
from .contacts import Sources, silence, silenced, unique_ids
from .crn import Streams
from .errors import InputError
from .policy import Timeline
from .queues import Capacity

FLOWS = ("darien_crossings", "smo_registrations", "smo_approvals", "smo_relocations", "parole_arrivals",
         "border_arrivals", "deaths", "smo_rejected", "gave_up_waiting", "expelled", "removed",
         "border_arrivals_smuggled", "smo_applications", "gave_up_smo", "intercepted", "route_switched",
         "returned_south", "mexico_returns", "usbp_apprehensions", "port_arrivals", "removed_to_origin",
         "transit_registrations")
STOCKS = {
    # parole: `considering_parole` are finding out whether it applies to them; `waiting_parole` have applied
    "aware_smo": None, "waiting_smo": State.WAITING_SMO, "considering_parole": None, "waiting_parole": None,
    "integrating": State.INTEGRATING, "preparing": State.PREPARING, "in_transit": State.IN_TRANSIT,
    "in_us": State.IN_US, "registered_smo": None,
    # Mexico (abm/mexico.py): in central or northern Mexico; of them, registered with CBP One
    "waiting_mexico": State.WAITING_MEXICO, "cbp_one_registered": None,
    # residents who have heard of the SMO (the same as aware_smo), of parole, and (its accurate version) of
    # expulsion: outputs of the information channels (abm/information.py), by nationality x host
    "heard_smo": None, "heard_parole": None, "heard_expulsion": None,
}
METRICS = FLOWS + tuple(STOCKS)
#: the stocks that together are the residents of a place (people living there, whatever they plan)
RESIDENT_STOCKS = ("integrating", "waiting_smo", "considering_parole", "waiting_parole", "preparing")
NO_CUTOFF = np.iinfo(np.int32).max
#: states in which something happens to a person every week (cases, plans, journeys)
IS_ACTIVE = np.zeros(len(State), dtype=bool)
IS_ACTIVE[[State.WAITING_SMO, State.WAITING_PAROLE, State.PREPARING, State.IN_TRANSIT, State.AT_BORDER,
           State.WAITING_MEXICO]] = True
PHASES = ("build_people", "build_network", "policies", "arrivals", "information", "decisions", "institutions",
          "route", "metrics")


class SafeMobilityModel(mesa.Model):
    def __init__(self, scenario, reference: bool = False):
        super().__init__(seed=scenario.seed)
        # seconds per phase (benchmarks/ reports them); "phase/part" keys break a phase down
        self.timings = dict.fromkeys(PHASES, 0.0)
        self.scenario = scenario
        self.pack = pack = scenario.pack
        self.scale = scenario.scale
        self.weight = 1.0 / scenario.scale  # people per agent
        self.beh = dict(scenario.behaviour)
        self.info = dict(scenario.information)
        self.start = scenario.start
        self.n_weeks = scenario.n_weeks
        self.spinup = scenario.spinup_weeks
        self.week = -self.spinup  # weeks before 0 are burn-in, not recorded
        # all randomness flows from model.rng: first the key of the per-purpose streams, then the network
        self.streams = Streams(int(self.rng.integers(2**63)))
        self.routes = darien.Routes(pack)
        with self.timed("build_people"):
            self.people = build_people(pack, self.scale, self.start, self.n_weeks, self.streams, self.beh, self.info,
                                       self.routes.option_names)
        if self.people.n == 0:
            raise InputError(scenario.path, "run.scale", f"{self.scale:g} agents per person gives no agents at all")
        with self.timed("build_network"):
            self.adj = build_network(self.people, scenario.network, self.rng)
        self._init_institutions()
        self.timeline = Timeline(scenario.policies, {**smo.HANDLERS, **parole.HANDLERS, **border.HANDLERS,
                                                     **information.HANDLERS, **darien.HANDLERS, **mexico.HANDLERS})
        self.events: dict[str, list] = defaultdict(list)
        self.last_events: dict[str, np.ndarray] = {}
        self.admit_rate = np.full(len(pack.nationalities), np.nan)
        self.n_cells = len(pack.nationalities) * len(pack.places)
        self._metrics: dict[str, np.ndarray] = {}
        self.approval_waits: list[int] = []  # weeks from SMO registration to approval
        self.approval_weeks: list[int] = []  # the week of each of those approvals
        self.limit_weeks: dict[str, set[int]] = {k: set() for k in smo.LIMITS + parole.LIMITS}  # weeks each limit held cases back
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m._metrics[k]) for k in METRICS})
        with self.timed("build_people"):
            self._init_bookkeeping()
        self.reference = False
        self._handles: dict[int, object] = {}
        if reference:
            self.set_reference(True)

    @contextmanager
    def timed(self, phase: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - t0

    def set_reference(self, on: bool = True):
        """Step people one Mesa agent at a time (the per-agent reference step) from now on. There is no way
        back: the per-agent step draws each weekly hazard afresh and does not keep the vectorised step's
        clocks (abm/clocks.py), so after a stretch of it the clocks of many people point at weeks already
        past and they would never be prompted again (measured: 426 of 2,751 people after 4 weeks)."""
        if not on and self.reference:
            raise RuntimeError("the per-agent reference step cannot be switched off: the vectorised step's clocks "
                               "were not kept while it ran")
        if on and not self.reference:
            for pid in range(self.people.n):
                self.agent(pid)
        self.reference = on

    def _init_bookkeeping(self):
        """What lets a week touch only the people something happens to: arrivals by week, the active
        people, clocks for weekly hazards, who talks about what, and stocks counted as states change."""
        p, last = self.people, self.n_weeks
        weeks = p.arrival_week
        future = np.flatnonzero(weeks >= 0)
        order = future[np.argsort(weeks[future], kind="stable")]
        wk, first = np.unique(weeks[order], return_index=True)
        self.arrivals = dict(zip(wk.tolist(), np.split(order, first[1:])))
        self.act = np.flatnonzero(IS_ACTIVE[p.state])
        self.activated: list[np.ndarray] = []
        p.belief_week[:] = self.week
        self.clocks = {name: Clock(name, p.n, last) for name in ("prompt", "rules_smo", "rules_parole")}
        information.init_channels(self)
        decisions.schedule_prompts(self, np.arange(p.n))
        self.stocks = np.bincount(p.state.astype(np.int64) * self.n_cells + p.cell,
                                  minlength=len(State) * self.n_cells).reshape(len(State), self.n_cells)
        res = IS_RESIDENT[p.state]
        self.aware_res = np.bincount(p.cell[res & p.aware_smo], minlength=self.n_cells)
        self.registered_res = np.bincount(p.cell[res & p.ever_registered], minlength=self.n_cells)
        self.heard_res = {t: np.bincount(p.cell[res & flag], minlength=self.n_cells)
                          for t, flag in (("parole", p.aware_parole), ("expulsion", p.heard_expulsion))}
        tie = np.flatnonzero(p.us_tie)
        self.us_tie_by_nat = {k: tie[p.nat[tie] == k] for k in range(len(self.pack.nationalities))}
        p.watch = self._state_changed
        self.silenced = silenced(p.n)
        silence(self.silenced, np.flatnonzero(p.state == State.DEAD))
        self.sources = {k: Sources(self.adj.indptr, k) for k in ("aware_smo", "aware_parole", "rules_smo", "rules_parole")}
        for k, src in self.sources.items():
            src.add(np.flatnonzero(getattr(p, k)))
        # per-person counters of last week's outcome signals, zero between weeks (abm.information)
        self.signal_counts = np.zeros((p.n, len(information.SIGNALS)), dtype=np.uint8)
        self.signal_mark = np.zeros(p.n, dtype=bool)
        # buffers kept from week to week (abm.information): at full scale a fresh 100 MB array a week
        # costs seconds of page faults over a run
        self.scratch: dict[str, np.ndarray] = {}

    def _state_changed(self, idx, old, new):
        """Keep the stocks and the active list up to date (People.set_state)."""
        p = self.people
        cell = p.cell[idx]
        nc = self.n_cells
        self.stocks -= np.bincount(old.astype(np.int64) * nc + cell, minlength=nc * len(State)).reshape(len(State), nc)
        self.stocks[new] += np.bincount(cell, minlength=nc)
        moved = IS_RESIDENT[new].astype(np.int64) - IS_RESIDENT[old]
        if moved.any():
            self.aware_res += np.bincount(cell, weights=moved * p.aware_smo[idx], minlength=nc).astype(np.int64)
            self.registered_res += np.bincount(cell, weights=moved * p.ever_registered[idx], minlength=nc).astype(np.int64)
            self.heard_res["parole"] += np.bincount(cell, weights=moved * p.aware_parole[idx], minlength=nc).astype(np.int64)
            self.heard_res["expulsion"] += np.bincount(cell, weights=moved * p.heard_expulsion[idx], minlength=nc).astype(np.int64)
        if IS_ACTIVE[new]:
            self.activated.append(np.asarray(idx, dtype=np.int64))
        if new == State.DEAD:
            silence(self.silenced, idx)

    def count_aware_smo(self, idx):
        """Newly aware of the SMO: counted in the aware stock if resident."""
        idx = idx[IS_RESIDENT[self.people.state[idx]]]
        np.add.at(self.aware_res, self.people.cell[idx], 1)

    def count_heard(self, topic: str, idx):
        """Newly heard of parole or of expulsion: counted in the heard stock if resident."""
        idx = idx[IS_RESIDENT[self.people.state[idx]]]
        np.add.at(self.heard_res[topic], self.people.cell[idx], 1)

    def count_registered(self, idx):
        p = self.people
        new = idx[~p.ever_registered[idx]]
        p.ever_registered[idx] = True
        np.add.at(self.registered_res, p.cell[new], 1)

    def refresh_active(self):
        """The active list: those still active, then the newly activated not already on it."""
        act = self.act[IS_ACTIVE[self.people.state[self.act]]]
        if self.activated:
            new = unique_ids(np.concatenate(self.activated))
            self.activated = []
            new = new[IS_ACTIVE[self.people.state[new]]]
            self.act = unique_ids(np.concatenate([act, new]), presorted=True) if len(new) else act
        else:
            self.act = act

    def signal_counts_of(self, i: int) -> np.ndarray:
        """Last week's outcome signals among person i's contacts (for the per-agent reference step)."""
        a = self.adj
        nb = a.indices[a.indptr[i]:a.indptr[i + 1]]
        k = np.zeros(len(information.SIGNALS))
        for j, names in enumerate(information.SIGNALS.values()):
            for n in names:
                ev = self.last_events.get(n)
                if ev is not None and len(ev):
                    k[j] += np.isin(ev, nb).sum()
        return k

    # --- set-up ---
    def _init_institutions(self):
        pack = self.pack
        n_pl, n_nat = len(pack.places), len(pack.nationalities)
        self.offices = {name: smo.Office(pack.place_index(name), name, cfg) for name, cfg in pack.offices.items()}
        self.parole = parole.Parole(pack.parole_programmes, n_nat)
        self.border = border.Border(pack.border, n_nat, len(pack.segments))
        self.mexico = mexico.Mexico(pack.mexico, self.routes) if pack.mexico else None
        self.resettlement = dict(pack.resettlement)
        self.resettlement_used: dict[int, int] = defaultdict(int)
        self.relocation = Capacity()  # US housing for approved refugees (002 s5.1)
        self.topic_public = {"smo": False, "parole": False}
        self.home_place_of_nat = np.array(
            [pack.place_index(pack.raw["nationalities"][n].get("home")) if pack.raw["nationalities"][n].get("home") in pack.places
             else -1 for n in pack.nationalities])
        self.office_open_at = np.zeros(n_pl, dtype=bool)
        self.office_nat_ok = np.zeros((n_pl, n_nat), dtype=bool)
        self.office_host_nationals = np.zeros(n_pl, dtype=bool)
        self.office_cutoff_day = np.full(n_pl, NO_CUTOFF, dtype=np.int64)
        self.office_status_required = np.zeros(n_pl, dtype=bool)
        self.office_walk_in = np.zeros(n_pl, dtype=bool)
        self.office_documents_required = np.zeros(n_pl, dtype=bool)
        self.parole_nat_ok = np.zeros(n_nat, dtype=bool)
        self.refresh_offices()

    def refresh_offices(self):
        """Rebuild the per-place lookup tables the eligibility rules read (after a policy change)."""
        self.office_open_at[:] = False
        self.office_nat_ok[:] = False
        for off in self.offices.values():
            pl = off.place
            self.office_open_at[pl] = off.open
            for n in off.nationalities:
                self.office_nat_ok[pl, n] = off.open
            self.office_host_nationals[pl] = off.host_nationals_eligible
            self.office_cutoff_day[pl] = off.opened_day if (off.presence_cutoff and off.opened_day is not None) else NO_CUTOFF
            self.office_status_required[pl] = off.regular_status_required
            self.office_walk_in[pl] = off.walk_in
            self.office_documents_required[pl] = off.documents_required

    def refresh_parole(self):
        self.parole_nat_ok[:] = self.parole.open_to()

    # --- helpers used by the institutions ---
    def date_of(self, week: int) -> dt.date:
        return self.start + dt.timedelta(days=7 * week)

    @property
    def date(self) -> dt.date:
        return self.date_of(self.week)

    def fiscal_year(self) -> int:
        """Resettlement ceilings are per fiscal year, named by the calendar year it ends in."""
        d, start = self.date, int(self.resettlement["fiscal_year_start_month"])
        return d.year + 1 if (start > 1 and d.month >= start) else d.year

    def resettlement_room(self) -> int:
        ceilings = {int(k): v for k, v in self.resettlement["fiscal_year_ceilings"].items()}
        fy = self.fiscal_year()
        ceiling = ceilings.get(fy, ceilings[max(ceilings)])
        return int(ceiling * self.scale) - self.resettlement_used[fy]

    def event(self, name: str, idx: np.ndarray):
        if len(idx):
            self.events[name].append(np.asarray(idx, dtype=np.int64))

    def agent(self, pid: int):
        """A Mesa agent handle onto person `pid` (created on request)."""
        h = self._handles.get(pid)
        if h is None:
            from agents.migrant import Migrant
            h = self._handles[pid] = Migrant(self, pid)
        return h

    # --- the week ---
    def step(self):
        p, w = self.people, self.week
        with self.timed("policies"):
            self.timeline.apply_due(self, self.date + dt.timedelta(days=6))
        with self.timed("arrivals"):
            arriving = self.arrivals.pop(w, np.empty(0, dtype=np.int64))
            arriving = arriving[p.state[arriving] == State.NOT_ARRIVED]
            p.set_state(arriving, State.INTEGRATING, w)
            p.belief_week[arriving] = w
            flows.on_arrival(self, arriving)  # issue 16: groups arriving already on the move set out at once
            self.refresh_active()
        if self.reference:
            # one agent at a time, in an order drawn from model.rng (Mesa's shuffle_do uses model.random)
            with self.timed("decisions"):
                for pid in self.rng.permutation(p.n):
                    self._handles[int(pid)].step()
        else:
            with self.timed("information"):
                information.step(self)
            with self.timed("decisions"):
                decisions.step(self)
        with self.timed("institutions"):
            self.refresh_active()
            smo.step(self)
            parole.step(self)
            border.step(self)
        with self.timed("route"):
            mexico.step(self)
            darien.step(self)
            act = self.act
            ready = act[(p.state[act] == State.PREPARING) & (p.prep_left[act] <= 0)]
            darien.depart(self, ready)
            saving = act[p.state[act] == State.PREPARING]  # people save towards the journey once they plan it
            p.resources[saving] += p.savings[saving]
        with self.timed("metrics"):
            self._end_week()

    def person_step(self, pid: int):
        """The per-agent reference step: the same rules, for one person, on the live arrays."""
        if self.people.state[pid] in RESIDENT:
            information.listen(self, pid)
            if self.people.state[pid] in RESIDENT:
                decisions.step(self, np.array([pid], dtype=np.int64))

    def _end_week(self):
        p = self.people
        ev = {k: np.concatenate(v) for k, v in self.events.items()}
        self.events = defaultdict(list)
        cell = p.cell
        count = lambda idx: np.bincount(cell[idx], minlength=self.n_cells)
        self._metrics = {k: count(ev.get(k, np.empty(0, dtype=np.int64))) for k in FLOWS}
        self._metrics["aware_smo"] = self.aware_res.copy()
        self._metrics["registered_smo"] = self.registered_res.copy()
        self._metrics["heard_smo"] = self._metrics["aware_smo"]
        self._metrics["heard_parole"] = self.heard_res["parole"].copy()
        self._metrics["heard_expulsion"] = self.heard_res["expulsion"].copy()
        self.refresh_active()
        on_parole = self.act[p.state[self.act] == State.WAITING_PAROLE]
        considering = p.parole_stage[on_parole] == ParoleStage.CONSIDERING
        self._metrics["considering_parole"] = count(on_parole[considering])
        self._metrics["waiting_parole"] = count(on_parole[~considering])
        self._metrics["cbp_one_registered"] = mexico.registered(self, count)
        for k, s in STOCKS.items():
            if s is not None:
                self._metrics[k] = self.stocks[s].copy()
        if self.week >= 0:
            self.datacollector.collect(self)
        self._update_admit_rate(ev)
        border.update_shutdown(self, len(ev.get("usbp_apprehensions", ())) * self.weight)
        self.last_events = ev
        self.week += 1
        if self.week >= self.n_weeks:
            self.running = False

    def _update_admit_rate(self, ev):
        n = len(self.pack.nationalities)
        nat = self.people.nat
        a = np.bincount(nat[ev.get("admitted", np.empty(0, dtype=np.int64))], minlength=n)
        turned_back = np.concatenate([ev.get("expelled", np.empty(0, dtype=np.int64)), ev.get("removed", np.empty(0, dtype=np.int64))])
        x = np.bincount(nat[turned_back], minlength=n)
        seen = (a + x) > 0
        new = np.where(seen, a / np.maximum(a + x, 1), np.nan)
        old = self.admit_rate
        self.admit_rate = np.where(seen, np.where(np.isnan(old), new, 0.5 * old + 0.5 * new), old)

    def run(self, progress=None):
        while self.running:
            self.step()
            interrupts.checkpoint()  # a deferred Ctrl-C stops the run here, between weeks
            if progress is not None:
                progress.update(1)
        return self

    def release(self):
        """Mesa's Agent._ids keeps every model alive; drop this one when a run ends."""
        mesa.Agent._ids.pop(self, None)
