"""Per-person weekly hazards as clocks: instead of drawing a number for every person every week to see
whether an event with a small weekly chance p happens, each person's next event week is drawn once
(a geometric gap) and people are kept in buckets by that week. A week then touches only the people
whose event is due, which is what makes hazards over millions of people cheap.

The gap draw is a common random number: a hash of (person, purpose, the week it was drawn), so a
person's clock does not depend on anyone else's. Weekly Bernoulli(p) events and geometric gaps give the
same process (memorylessness); a clock can run at an upper bound of the hazard and accept each event
with the ratio of the hazard in force to that bound (thinning), so the hazard may depend on the state
when the event comes due.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from . import kernels

NEVER = np.iinfo(np.int32).max


class Clock:
    def __init__(self, name: str, n: int, last_week: int, small: bool = False):
        """`small`: next events held as int16 (2 bytes a person; weeks fit in int16) rather than int32."""
        self.name = name
        self.last_week = last_week           # events after this week are not scheduled
        dtype = np.int16 if small else np.int32
        self.never = int(np.iinfo(dtype).max)
        self.next = np.full(n, self.never, dtype=dtype)
        self._due: dict[int, list[np.ndarray]] = defaultdict(list)

    def schedule(self, streams, idx: np.ndarray, week: int, p, until: int | None = None) -> None:
        """Draw, for persons `idx`, the next event after `week` for a weekly chance `p` (scalar or per
        person); none is kept after `until` (or the run's last week). Replaces any event already
        scheduled for them."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        p = np.broadcast_to(np.asarray(p, dtype=np.float64), idx.shape)
        u = streams.uniform(f"clock_{self.name}", week, idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            # weeks until the next event: 1 + Geometric(p) - 1 by inversion; p >= 1 means next week
            gap = np.where(p >= 1, 1.0, np.floor(np.log1p(-u) / np.log1p(-np.minimum(p, 1 - 1e-12))) + 1)
        gap = np.where(p <= 0, np.inf, gap)
        at = week + gap
        ok = at <= (self.last_week if until is None else min(until, self.last_week))
        self.next[idx] = np.where(ok, at, self.never).astype(self.next.dtype)
        idx, at = idx[ok], at[ok].astype(np.int16)  # weeks fit in int16: a radix sort, linear in n
        if len(idx) == 0:
            return
        order = np.argsort(at, kind="stable")
        idx, at = idx[order], at[order]
        first, last = int(at[0]), int(at[-1])
        bounds = np.searchsorted(at, np.arange(first, last + 2))
        for wk in range(first, last + 1):
            if bounds[wk - first + 1] > bounds[wk - first]:
                self._due[wk].append(idx[bounds[wk - first]:bounds[wk - first + 1]])

    def cancel(self, idx: np.ndarray) -> None:
        self.next[idx] = self.never

    def due(self, week: int) -> np.ndarray:
        """Persons whose event falls in `week` (each once; stale entries of rescheduled people dropped)."""
        parts = self._due.pop(week, None)
        if not parts:
            return np.empty(0, dtype=np.int64)
        # people rescheduled since are stale here (their next event is another week); sorted for locality
        return np.sort(kernels.take_due(np.concatenate(parts), self.next, week, self.never))
