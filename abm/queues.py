"""What the institutions share: weekly capacities counted in agents, and first-come-first-served queues."""
from __future__ import annotations

import numpy as np


class Capacity:
    """A capacity in people per week, taken in whole agents with the fraction carried to the next week,
    so that the long-run rate is exact at any scale."""

    def __init__(self):
        self._carry = 0.0

    def take(self, people_per_week: float, scale: float) -> int:
        acc = self._carry + people_per_week * scale
        n = int(acc)
        self._carry = acc - n
        return n




def fifo_ids(ids: np.ndarray, since: np.ndarray) -> np.ndarray:
    """Persons `ids`, oldest `since` first (ties by person id)."""
    return ids[np.lexsort((ids, since[ids]))]
