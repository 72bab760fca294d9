"""Compiled loops (numba) for the operations that walk the network tie by tie.

Reading what a listener's contacts say visits each of their ties once; in numpy this takes several
passes and temporary arrays the size of all the ties involved, here one pass and none, on both cores
(Starsim compiles its hot loops with numba for the same reason). tests/test_kernels.py checks each
against plain numpy.
"""
from __future__ import annotations

import numba
import numpy as np

# fork-safe threads (workqueue unless TBB is installed): ensembles fork worker processes after a run
numba.config.THREADING_LAYER = "forksafe"

from agents.states import SmoStage, State

#: columns of contacts_view: sums over a listener's contacts who can talk (arrived and alive)
VIEW_COLS = ("talk", "aware_smo", "aware_parole", "rules_smo", "rules_parole", "fee", "expel",
             "b_smo", "b_parole", "b_wait", "b_admit", "smo_waiting", "smo_reg")

_NOT_ARRIVED, _DEAD, _WAITING_SMO = int(State.NOT_ARRIVED), int(State.DEAD), int(State.WAITING_SMO)
_REGISTERED, _UNHCR = int(SmoStage.REGISTERED), int(SmoStage.UNHCR)


def _contacts_view(indptr, indices, ids, voice):
    """out[r] = sums over the talking contacts j of ids[r] (voice: agents.population.VOICE records) of:
    1, aware_smo, aware_parole, rules_smo, rules_parole, fee & aware_smo, expel & aware_smo, b_smo if
    aware_smo, b_parole if aware_parole, b_wait if aware_smo, b_admit, a queued SMO case (registered or
    with UNHCR), its registration week."""
    out = np.zeros((ids.shape[0], 13), dtype=np.float64)
    for r in numba.prange(ids.shape[0]):
        i = ids[r]
        for k in range(indptr[i], indptr[i + 1]):
            v = voice[indices[k]]
            s = v.state
            if s == _NOT_ARRIVED or s == _DEAD:
                continue
            out[r, 0] += 1.0
            out[r, 10] += v.b_admit
            if v.aware_smo:
                out[r, 1] += 1.0
                out[r, 7] += v.b_smo
                out[r, 9] += v.b_wait
                if v.fee_belief:
                    out[r, 5] += 1.0
                if v.expel_belief:
                    out[r, 6] += 1.0
            if v.aware_parole:
                out[r, 2] += 1.0
                out[r, 8] += v.b_parole
            if v.rules_smo:
                out[r, 3] += 1.0
            if v.rules_parole:
                out[r, 4] += 1.0
            if s == _WAITING_SMO and (v.smo_stage == _REGISTERED or v.smo_stage == _UNHCR):
                out[r, 11] += 1.0
                out[r, 12] += v.smo_reg_week
    return out


_view_parallel = numba.njit(parallel=True, cache=True, nogil=True)(_contacts_view)
_view_serial = numba.njit(cache=True, nogil=True)(_contacts_view)


def contacts_view(indptr, indices, ids, voice):
    # waking the second thread costs more than a few hundred listeners (the per-agent step asks for one)
    view = _view_parallel if len(ids) > 2000 else _view_serial
    return view(indptr, indices, ids, voice)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True)
def hash_uniform(ids, base):
    """splitmix64 of (id * golden + base) as a uniform [0, 1) with 53 bits (abm.crn): one pass."""
    out = np.empty(ids.shape[0], dtype=np.float64)
    for r in range(ids.shape[0]):
        z = np.uint64(ids[r]) * _GOLDEN + base
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
        out[r] = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return out
