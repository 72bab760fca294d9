"""What a person's contacts say, read from the network when it is needed.

Word of mouth needs, for a listener, sums over their contacts who can talk (arrived, alive): how many
are aware of the SMO or of parole, know their rules, believe the SMO costs money or gets people
expelled, have a case in the SMO queue (and since when); the sum of their beliefs. `view` computes
these for a set of listeners in one compiled pass over their ties (abm.kernels). Nothing is kept up to
date for everyone every week: the weekly step asks only for the listeners who need it.

Transmissions: awareness and rules also spread as events along ties. With each of k contacts passing
the news on independently with weekly chance p, a listener hears with chance 1 - (1 - p)^k. The same
process is drawn as a Poisson number of events, rate -ln(1 - p) per tie, spread uniformly over the
ties of the people who talk about a topic, each landing on the contact at the end of the tie: a
listener with k such ties gets none with chance exp(k ln(1 - p)) = (1 - p)^k. This costs the events,
not the listeners.
"""
from __future__ import annotations

import numpy as np

from . import kernels

#: the columns of `view`
COLS = kernels.VIEW_COLS
C = {c: i for i, c in enumerate(COLS)}


def unique_ids(ids: np.ndarray, presorted: bool = False) -> np.ndarray:
    """Sorted distinct ids (a sort is faster here than numpy's hash-based np.unique). `presorted`: ids
    are a few sorted runs, which timsort merges in linear time."""
    a = np.sort(np.asarray(ids, dtype=np.int64), kind="stable" if presorted else None)
    if len(a) < 2:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def view(m, idx) -> np.ndarray:
    """For each listener in `idx`, sums over their contacts who can talk of the columns COLS."""
    p, a = m.people, m.adj
    return kernels.contacts_view(a.indptr, a.indices, np.asarray(idx, dtype=np.int64), p.voice)


TOPIC_CODE = {"aware_smo": 0, "aware_parole": 1, "rules_smo": 2, "rules_parole": 3}


def silenced(n: int) -> np.ndarray:
    """A bit per person, set when they die (`silence`): transmissions test it for each event's source. At
    full scale it takes 1.8 MB and stays in cache, where the source's own record would be a miss."""
    return np.zeros((n + 63) // 64, dtype=np.uint64)


def silence(bits: np.ndarray, idx: np.ndarray):
    idx = np.asarray(idx, dtype=np.int64)
    np.bitwise_or.at(bits, idx >> 6, np.left_shift(np.uint64(1), (idx & 63).astype(np.uint64)))


class Sources:
    """The people who talk about a topic, with where their ties start in the network (indptr) and the
    running total of their ties (grows by appending, into buffers that double when full). Sources found
    dead by a transmission are dropped."""

    def __init__(self, indptr: np.ndarray, topic: str):
        self.indptr = indptr
        self.topic = TOPIC_CODE[topic]
        self._ids = np.empty(1024, dtype=np.int32)
        self._start = np.empty(1024, dtype=indptr.dtype)
        self._cum = np.empty(1024, dtype=np.int64)
        self._spent = np.zeros(1024, dtype=bool)
        self.n = 0
        self.n_spent = 0

    @property
    def ids(self):
        return self._ids[:self.n]

    @property
    def cum(self):
        return self._cum[:self.n]

    def add(self, ids):
        k = len(ids)
        if k == 0:
            return
        if self.n + k > len(self._ids):
            size = max(2 * len(self._ids), self.n + k)
            self._ids = np.resize(self._ids, size)
            self._start = np.resize(self._start, size)
            self._cum = np.resize(self._cum, size)
            self._spent = np.resize(self._spent, size)
        base = self._cum[self.n - 1] if self.n else 0
        self._ids[self.n:self.n + k] = ids
        start = self._start[self.n:self.n + k]
        start[:] = self.indptr[ids]
        self._cum[self.n:self.n + k] = base + np.cumsum(self.indptr[np.asarray(ids) + 1] - start)
        self._spent[self.n:self.n + k] = False
        self.n += k

    def _compact(self):
        keep = np.flatnonzero(~self._spent[:self.n])
        ids = self._ids[keep]
        self.n = len(ids)
        self._ids[:self.n] = ids
        self._start[:self.n] = self._start[keep]
        self._cum[:self.n] = np.cumsum(self.indptr[ids + 1] - self._start[:self.n])
        self._spent[:self.n] = False
        self.n_spent = 0

    def transmit(self, m, p: float) -> np.ndarray:
        """The contacts reached this week (chance p per tie) who may still learn, each once (the caller
        keeps those who can learn now)."""
        if p <= 0 or self.n == 0:
            return np.empty(0, dtype=np.int64)
        total = int(self._cum[self.n - 1])
        k = m.rng.poisson(total * -np.log1p(-min(p, 1 - 1e-12)))
        if k == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.sort(m.rng.integers(0, total, k))  # sorted: the walk below moves forward through the ties
        heard, died = kernels.ties_at(self.cum, self.ids, self._start[:self.n], pos, m.adj.indices, m.people.voice,
                                      m.silenced, self.topic, self._spent[:self.n])
        self.n_spent += died
        if self.n_spent > self.n // 4:
            self._compact()
        return unique_ids(heard)
