"""Migrant: a Mesa agent that is a handle onto one person's row in the model's arrays.

Handles are created on request (`model.agent(pid)`) for inspection, visualisation and the per-agent
reference step; the model itself steps people as arrays.
"""
from __future__ import annotations

import mesa

from .states import Intent, ParoleStage, SmoStage, State, Status

_FIELDS = ("resources", "debt", "patience", "aware_smo", "aware_parole", "rules_smo", "rules_parole",
           "b_smo", "b_parole", "b_wait", "b_admit", "b_risk", "fee_belief", "expel_belief",
           "passport", "id_doc", "us_tie", "internet", "protection", "arrival_day", "smuggler",
           "crossed_darien", "departed", "injured", "since", "waited_smo", "waited_parole", "gave_up", "gave_ups")


class Migrant(mesa.Agent):
    def __init__(self, model, pid: int):
        super().__init__(model)
        self.pid = pid

    @property
    def _p(self):
        return self.model.people

    @property
    def nationality(self) -> str:
        return self.model.pack.nationalities[self._p.nat[self.pid]]

    @property
    def host(self) -> str:
        return self.model.pack.places[self._p.place[self.pid]]

    @property
    def state(self) -> State:
        return State(self._p.state[self.pid])

    @property
    def legal_status(self) -> Status:
        return Status(self._p.status[self.pid])

    @property
    def intent(self) -> Intent:
        return Intent(self._p.intent[self.pid])

    @property
    def smo_case(self) -> SmoStage:
        return SmoStage(self._p.smo_stage[self.pid])

    @property
    def parole_case(self) -> ParoleStage:
        return ParoleStage(self._p.parole_stage[self.pid])

    @property
    def contacts(self) -> list[int]:
        a = self.model.adj
        return a.indices[a.indptr[self.pid]:a.indptr[self.pid + 1]].tolist()

    def __getattr__(self, name):
        if name in _FIELDS:
            return getattr(self.model.people, name)[self.pid].item()
        raise AttributeError(name)

    def step(self):
        self.model.person_step(self.pid)

    def __repr__(self):
        return f"Migrant({self.pid}: {self.nationality} in {self.host}, {self.state.name})"
