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

from agents.states import State

from . import kernels

#: the columns of `view`
COLS = kernels.VIEW_COLS
C = {c: i for i, c in enumerate(COLS)}


def neighbours(adj, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contacts of persons `ids`, concatenated, and for each the position in `ids` it came from."""
    ids = np.asarray(ids, dtype=np.int64)
    ptr = adj.indptr
    start, deg = ptr[ids].astype(np.int64), (ptr[ids + 1] - ptr[ids]).astype(np.int64)
    total = int(deg.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    row = np.repeat(np.arange(len(ids)), deg)
    first = np.cumsum(deg) - deg
    pos = np.arange(total, dtype=np.int64) - first[row] + start[row]
    return adj.indices[pos].astype(np.int64), row


def unique_ids(ids: np.ndarray) -> np.ndarray:
    """Sorted distinct ids (a sort is faster here than numpy's hash-based np.unique)."""
    a = np.sort(np.asarray(ids, dtype=np.int64))
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


class Sources:
    """The people who talk about a topic, with the running total of their ties (grows by appending)."""

    def __init__(self, deg: np.ndarray):
        self.deg = deg
        self.ids = np.empty(0, dtype=np.int64)
        self.cum = np.empty(0, dtype=np.int64)

    def add(self, ids):
        if len(ids):
            new = np.asarray(ids, dtype=np.int64)
            base = self.cum[-1] if len(self.cum) else 0
            self.ids = np.concatenate([self.ids, new])
            self.cum = np.concatenate([self.cum, base + np.cumsum(self.deg[new])])

    def transmit(self, m, p: float) -> np.ndarray:
        """Contacts reached this week by at least one source (chance p per tie), whatever their own
        state (the caller keeps those who can learn). Sources who died no longer talk."""
        if p <= 0 or len(self.cum) == 0:
            return np.empty(0, dtype=np.int64)
        total = int(self.cum[-1])
        k = m.rng.poisson(total * -np.log1p(-min(p, 1 - 1e-12)))
        if k == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.sort(m.rng.integers(0, total, k))  # sorted: the search below walks memory in order
        s = np.searchsorted(self.cum, pos, side="right")
        who = self.ids[s]
        ok = m.people.state[who] != State.DEAD
        offset = pos[ok] - (self.cum[s[ok]] - self.deg[who[ok]])
        adj = m.adj
        return unique_ids(adj.indices[adj.indptr[who[ok]] + offset])
