"""Will a run fit in this machine's memory? An estimate of its peak from the number of agents, made from
the pack's stocks and arrivals and the scale before anything is allocated.

The fit is least squares on the peak resident memory measured by `smo-abm bench` (docs/performance.md,
"Scaling", runs of 2026-11-24 at commit 32b6c9e; "MB" there are MiB: the 6 GiB target is "6,144 MB"):
10k agents 241 MB, 1M 582 MB, 14,631,350 (the full-scale baseline) 5,419 MB, and the rows between. Peak
memory is then about 233 MiB (the interpreter, numpy, numba's compiled code) plus 0.000354 MiB (372
bytes) per agent (people's records, the contact network, the bookkeeping); the seven rows lie within 3%
of the line.
"""
from __future__ import annotations

import os

from .errors import InputError

FIXED_BYTES = 233 * 2**20
BYTES_PER_AGENT = 372
#: a run may use at most this share of the memory available when it starts: the estimate is a fit, the
#: peak varies from run to run, and the rest of the machine (other processes, the page cache, writing the
#: outputs) needs room too. On this 24 GiB machine it refuses a run that needs 22 GiB, and allows the
#: full-scale baseline (5.4 GB).
USABLE_SHARE = 0.8


def expected_agents(pack, scale: float, n_weeks: int) -> float:
    """Agents a run creates: each group's stock, and its arrivals over the run's weeks, times the scale
    (as agents/population.py build_people counts them)."""
    return sum((g["stock"] + g["arrivals_per_week"] * n_weeks) * scale for g in pack.groups)


def peak_bytes(agents: float) -> float:
    """Estimated peak resident memory of a run with this many agents."""
    return FIXED_BYTES + BYTES_PER_AGENT * agents


def available_bytes() -> int | None:
    """Memory available to a new process now: /proc/meminfo's MemAvailable (Linux), else the free
    physical pages; None if the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_fits(file, pack, scale: float, n_weeks: int, runs_at_once: int = 1, field: str = "run.scale"):
    """Refuse (naming `file` and `field`) a run, or `runs_at_once` runs side by side, whose estimated
    peak memory exceeds the usable share of what this machine has available."""
    agents = expected_agents(pack, scale, n_weeks)
    need = peak_bytes(agents) * runs_at_once
    avail = available_bytes()
    if avail is None or need <= USABLE_SHARE * avail:
        return
    runs = f"{runs_at_once} runs at once of " if runs_at_once > 1 else "a run of "
    fit = (USABLE_SHARE * avail / runs_at_once - FIXED_BYTES) / BYTES_PER_AGENT
    hint = f"; a scale of at most {scale * fit / agents:.3g} would fit" if fit > 0 and agents > 0 else ""
    raise InputError(file, field, f"{runs}{agents:,.0f} agents needs about {_gb(need)} of memory (estimated "
                     f"from the pack's stocks and arrivals at scale {scale:g}); this machine has {_gb(avail)} "
                     f"available, of which a run may use {USABLE_SHARE:.0%}{hint}")
