"""Effects of each variant against the baseline, paired on common random numbers.

A variant's run and the baseline's run with the same replicate and posterior draw share their seed, so
they share every person, tie and random draw (abm/crn.py) and differ only where the policy makes them
differ. The paired effect of one (replicate, draw) is the difference of the two runs; its distribution
over replicates and draws gives the median and the 90% interval. The unpaired interval is what the
same runs would give if they were independent: the differences over all pairs of a variant run and a
baseline run of another (replicate, draw). Their width ratio says how much pairing narrows the interval.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .design import BASELINE
from .measures import describe

LO, HI = 0.05, 0.95  # the 90% interval


def _q(x: np.ndarray) -> tuple[float, float, float]:
    if len(x) == 0:
        return (np.nan,) * 3
    lo, med, hi = np.quantile(x, [LO, 0.5, HI])
    return float(med), float(lo), float(hi)


def paired(runs: pd.DataFrame, variant: str, output: str) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and variant values of one output, aligned on (replicate, draw); pairs with a missing value dropped."""
    sel = runs[runs.output == output]
    wide = sel.pivot_table(index=["replicate", "draw"], columns="variant", values="value", aggfunc="first")
    if BASELINE not in wide or variant not in wide:
        return np.empty(0), np.empty(0)
    both = wide[[BASELINE, variant]].dropna()
    return both[BASELINE].to_numpy(float), both[variant].to_numpy(float)


def unpaired_differences(base: np.ndarray, var: np.ndarray) -> np.ndarray:
    """variant_i - baseline_j over all i != j (runs of different replicates or draws)."""
    d = var[:, None] - base[None, :]
    return d[~np.eye(len(base), dtype=bool)]


def effects(runs: pd.DataFrame, outputs: list[str], labels: dict | None = None) -> pd.DataFrame:
    """One row per variant and output: paired effects and levels, labelled in the pack's words (`labels`)."""
    rows = []
    variants = [v for v in dict.fromkeys(runs.variant) if v != BASELINE]
    for v in variants:
        for o in outputs:
            label, unit, effect, sign = describe(o, labels)
            b, x = paired(runs, v, o)
            d = sign * (x - b) + 0.0  # + 0.0: no negative zeros in the tables
            med, lo, hi = _q(d)
            u = sign * unpaired_differences(b, x) + 0.0 if len(b) > 1 else np.empty(0)
            _, ulo, uhi = _q(u)
            bm, blo, bhi = _q(b)
            vm, vlo, vhi = _q(x)
            pw, uw = hi - lo, uhi - ulo
            rows.append({
                "variant": v, "output": o, "effect": effect, "unit": unit, "pairs": len(d),
                "effect_median": med, "effect_lo": lo, "effect_hi": hi,
                "share_positive": float(np.mean(d > 0)) if len(d) else np.nan,
                "baseline_median": bm, "baseline_lo": blo, "baseline_hi": bhi,
                "variant_median": vm, "variant_lo": vlo, "variant_hi": vhi,
                "paired_width": pw, "unpaired_width": uw,
                "unpaired_over_paired": uw / pw if pw > 0 else np.nan,
            })
    return pd.DataFrame(rows)
