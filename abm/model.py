"""The Safe Mobility model: a Mesa model whose people are numpy arrays and whose network is a CSR matrix.

Weekly step (vectorised, as Starsim steps people):
  0. (burn-in weeks before the start run the same step, unrecorded, so that the pipeline of people
     preparing and travelling is full at the start);
  1. policies dated in this week take effect (abm.policy);
  2. new arrivals join their host place;
  3. information spreads (abm.information) and residents decide (abm.decisions);
  4. institutions act: SMO pipeline (abm.smo), parole (abm.parole), the border (abm.border);
  5. travellers advance along the route (abm.darien) and those ready depart;
  6. metrics are collected (Mesa DataCollector), in agents; outputs convert them to people.
With `reference=True` step 3 runs one Migrant (a Mesa agent) at a time in random order, applying the same
rules to one person at a time (see agents.migrant); tests check both agree statistically.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import mesa
import numpy as np

from agents.network import build_network
from agents.population import build_people
from agents.states import RESIDENT, ParoleStage, State

from . import border, darien, decisions, information, parole, smo
from .crn import Streams
from .errors import InputError
from .policy import Timeline
from .queues import Capacity

FLOWS = ("darien_crossings", "smo_registrations", "smo_approvals", "smo_relocations", "parole_arrivals",
         "border_arrivals", "deaths", "smo_rejected", "gave_up_waiting", "expelled", "removed",
         "border_arrivals_smuggled")
STOCKS = {
    # parole: `considering_parole` are finding out whether it applies to them; `waiting_parole` have applied
    "aware_smo": None, "waiting_smo": State.WAITING_SMO, "considering_parole": None, "waiting_parole": None,
    "integrating": State.INTEGRATING, "preparing": State.PREPARING, "in_transit": State.IN_TRANSIT,
    "in_us": State.IN_US, "registered_smo": None,
}
METRICS = FLOWS + tuple(STOCKS)
NO_CUTOFF = np.iinfo(np.int32).max


class SafeMobilityModel(mesa.Model):
    def __init__(self, scenario, reference: bool = False):
        super().__init__(seed=scenario.seed)
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
        self.people = build_people(pack, self.scale, self.start, self.n_weeks, self.streams, self.beh, self.info,
                                   self.routes.option_names)
        if self.people.n == 0:
            raise InputError(scenario.path, "run.scale", f"{self.scale:g} agents per person gives no agents at all")
        self.adj = build_network(self.people, scenario.network, self.rng)
        self._init_institutions()
        self.timeline = Timeline(scenario.policies, {**smo.HANDLERS, **parole.HANDLERS, **border.HANDLERS,
                                                     **information.HANDLERS})
        self.events: dict[str, list] = defaultdict(list)
        self.admit_rate = np.full(len(pack.nationalities), np.nan)
        self.talkers = np.zeros(self.people.n, dtype=bool)
        self.signals = information.signal_matrix(self.people.n, {})
        self.n_cells = len(pack.nationalities) * len(pack.places)
        self._metrics: dict[str, np.ndarray] = {}
        self.approval_waits: list[int] = []  # weeks from SMO registration to approval
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m._metrics[k]) for k in METRICS})
        self.reference = reference
        self._handles: dict[int, object] = {}
        if reference:
            for pid in range(self.people.n):
                self.agent(pid)

    # --- set-up ---
    def _init_institutions(self):
        pack = self.pack
        n_pl, n_nat = len(pack.places), len(pack.nationalities)
        self.offices = {name: smo.Office(pack.place_index(name), name, cfg) for name, cfg in pack.offices.items()}
        self.parole = parole.Parole(pack.parole)
        self.border = border.Border(pack.border)
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
        self.parole_nat_ok[:] = False
        self.parole_nat_ok[list(self.parole.nationalities)] = True

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
        self.timeline.apply_due(self, self.date + dt.timedelta(days=6))
        arriving = np.flatnonzero((p.state == State.NOT_ARRIVED) & (p.arrival_week <= w))
        p.set_state(arriving, State.INTEGRATING, w)
        self.talkers = (p.state != State.NOT_ARRIVED) & (p.state != State.DEAD)
        if self.reference:
            # one agent at a time, in an order drawn from model.rng (Mesa's shuffle_do uses model.random)
            for pid in self.rng.permutation(p.n):
                self._handles[int(pid)].step()
        else:
            residents = np.flatnonzero(np.isin(p.state, RESIDENT))
            information.step(self, residents, full=True)
            decisions.step(self, residents)
        smo.step(self)
        parole.step(self)
        border.step(self)
        darien.step(self)
        ready = np.flatnonzero((p.state == State.PREPARING) & (p.prep_left <= 0))
        darien.depart(self, ready)
        saving = p.state == State.PREPARING  # people save towards the journey once they plan it
        p.resources[saving] += p.savings[saving]
        self._end_week()

    def person_step(self, pid: int):
        """The per-agent reference step: the same rules, for one person, on the live arrays."""
        if self.people.state[pid] in RESIDENT:
            idx = np.array([pid], dtype=np.int64)
            information.step(self, idx, full=False)
            if self.people.state[pid] in RESIDENT:
                decisions.step(self, idx)

    def _end_week(self):
        p = self.people
        ev = {k: np.concatenate(v) for k, v in self.events.items()}
        self.events = defaultdict(list)
        cell = p.cell
        count = lambda idx: np.bincount(cell[idx], minlength=self.n_cells)
        self._metrics = {k: count(ev.get(k, np.empty(0, dtype=np.int64))) for k in FLOWS}
        res = np.isin(p.state, RESIDENT)
        self._metrics["aware_smo"] = count(np.flatnonzero(res & p.aware_smo))
        self._metrics["registered_smo"] = count(np.flatnonzero(res & p.ever_registered))
        on_parole = p.state == State.WAITING_PAROLE
        considering = p.parole_stage == ParoleStage.CONSIDERING
        self._metrics["considering_parole"] = count(np.flatnonzero(on_parole & considering))
        self._metrics["waiting_parole"] = count(np.flatnonzero(on_parole & ~considering))
        for k, s in STOCKS.items():
            if s is not None:
                self._metrics[k] = count(np.flatnonzero(p.state == s))
        if self.week >= 0:
            self.datacollector.collect(self)
        self._update_admit_rate(ev)
        border.update_shutdown(self, len(ev.get("border_arrivals", ())) * self.weight)
        self.signals = information.signal_matrix(p.n, ev)
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
            if progress is not None:
                progress.update(1)
        return self

    def release(self):
        """Mesa's Agent._ids keeps every model alive; drop this one when a run ends."""
        mesa.Agent._ids.pop(self, None)
