"""Common random numbers: one stream per purpose and week, one value per person.

A person's draw for a purpose in a week is a hash of (run key, purpose, week, person id), so it does
not depend on how many draws other code made, nor on who else is drawing. A policy variant run with
the same seed therefore changes only what the policy changes (as Starsim does with its per-purpose
streams). The run key itself is the first draw of the model's numpy Generator (`model.rng`).
"""
from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtri

from .kernels import hash_uniform

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MASK = (1 << 64) - 1


def _mix_int(z: int) -> int:
    """splitmix64 finaliser on a Python int (same function as _mix)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (Steele, Lea & Flood 2014), vectorised; wraps modulo 2**64 by design."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class Streams:
    """Counter-based random streams keyed by purpose and week."""

    def __init__(self, key: int):
        self.key = int(key) & _MASK
        self._bases: dict[tuple[str, int], np.uint64] = {}

    def _base(self, purpose: str, week: int) -> np.uint64:
        """The stream's offset: a hash of (key, purpose, week), cached (computed with Python ints)."""
        b = self._bases.get((purpose, week))
        if b is None:
            z = self.key ^ (zlib.crc32(purpose.encode()) << 32) ^ (week & 0xFFFFFFFF)
            b = self._bases[(purpose, week)] = np.uint64(_mix_int(_mix_int(z)))
        return b

    def uniform(self, purpose: str, week: int, ids: np.ndarray) -> np.ndarray:
        """Uniform [0, 1) draws for persons `ids` (int array) for this purpose and week."""
        # compiled (abm.kernels.hash_uniform): the same numbers as _mix below in one pass
        return hash_uniform(np.ascontiguousarray(ids, dtype=np.int64), self._base(purpose, week))

    def normal(self, purpose: str, week: int, ids: np.ndarray) -> np.ndarray:
        u = self.uniform(purpose, week, ids)
        return ndtri(np.clip(u, 1e-12, 1 - 1e-12))

    def bernoulli(self, purpose: str, week: int, ids: np.ndarray, p) -> np.ndarray:
        return self.uniform(purpose, week, ids) < p
