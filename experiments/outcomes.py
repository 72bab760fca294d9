"""How an outcome is written wherever it is shown: the experiment's report (experiments/report.py) and the
dashboard's comparison (abm/app.py) both format their cells here, from rows of the same effects table
(experiments/effects.py) of the same outputs (experiments/measures.py), so one variant on the same seeds and
draws reads the same in both.

People and days are whole numbers; a share is a percentage as a level and a change in percentage points as
an effect.
"""
from __future__ import annotations

import numpy as np


def fmt(x: float, unit: str, effect: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    digits = 1 if unit == "share" else 0
    x = round(100 * x if unit == "share" else x, digits) + 0.0  # + 0.0: "+0", not "-0", for a tiny negative
    if unit == "share":
        return f"{x:+.1f} pp" if effect else f"{x:.1f}%"
    return f"{x:+,.0f}" if effect else f"{x:,.0f}"


def unit_label(unit: str, effect: bool = False) -> str:
    """The unit a column states: a share's effect is in percentage points, its level in percent."""
    if unit == "share":
        return "pp" if effect else "%"
    return unit


def effect_cell(row) -> str:
    """`median [lo, hi]` of a row of the effects table."""
    u = row.unit
    return f"{fmt(row.effect_median, u, True)} [{fmt(row.effect_lo, u, True)}, {fmt(row.effect_hi, u, True)}]"


def level_cell(row, side: str) -> str:
    """`median [lo, hi]` of the baseline's ("baseline") or the variant's ("variant") level in a row."""
    med, lo, hi = (getattr(row, f"{side}_{k}") for k in ("median", "lo", "hi"))
    return f"{fmt(med, row.unit)} [{fmt(lo, row.unit)}, {fmt(hi, row.unit)}]"
