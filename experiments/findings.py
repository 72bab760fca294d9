"""Findings in words: the effects table (experiments/effects.py) as one sentence per variant and headline outcome.

A sentence states the paired change of the variant against the baseline, in the direction it goes ("more",
"fewer"; "longer", "shorter" for waits; "higher", "lower" for shares), never as a negative number: crossings
and deaths, which the tables report as averted, are turned back into the change the variant makes. When the
90% interval of the paired differences contains zero the sentence says the change is not distinguishable from
no change. Where the runs show a limit of the model holding cases back (abm/smo.py, abm/parole.py LIMITS,
recorded per week by experiments/measures.py), the sentence gives it as the reason the outcome moved or did not.
Each outcome's caveat is stated once, at the head of its sentences.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .measures import LIMIT, describe, words

#: the outcomes the findings speak of, in this order (those the experiment compares)
HEADLINE = ("darien_crossings", "deaths", "smo_registrations", "smo_arrivals", "parole_arrivals", "wait_mean_days",
            "gave_up_share")
#: a limit is given as a reason when it held cases back in at least this share of the window's weeks (median over
#: runs): a quarter of the weeks is long enough to shape a total over the window, short of "always"
BINDS = 0.25

#: per output: what changes, its unit in words, and the words for up and down (in the pack's words: measures.words)
WORDS = {
    "darien_crossings": ("{crossings}", "people", "more", "fewer"),
    "deaths": ("Deaths on the route", "people", "more", "fewer"),
    "smo_registrations": ("{Office} registrations", "people", "more", "fewer"),
    "smo_arrivals": ("{Office} arrivals (relocations)", "people", "more", "fewer"),
    "parole_arrivals": ("{Pathway} arrivals", "people", "more", "fewer"),
    "border_arrivals": ("Arrivals at the destination's border", "people", "more", "fewer"),
    "intercepted": ("Interceptions on the route", "people", "more", "fewer"),
    "wait_mean_days": ("Mean wait from registration to approval", "days", "longer", "shorter"),
    "wait_p90_days": ("90th-percentile wait from registration to approval", "days", "longer", "shorter"),
    "gave_up_share": ("Share of {office} applicants who gave up and moved", "percentage points", "higher", "lower"),
}

#: each outcome's caveat ({people}: people per agent at the experiment's scale)
CAVEATS = {
    "darien_crossings": "Entries into the crossing over the window, in people.",
    "deaths": "Small counts: one agent stands for {people} people, so deaths move in steps of {people}.",
    "smo_registrations": "People who got through the portal of one of the {offices} within the window.",
    "smo_arrivals": "Relocations to the destination within the window; they cannot exceed the relocation capacity.",
    "parole_arrivals": "{Pathway} arrivals in the destination within the window.",
    "wait_mean_days": ("Counts cases approved within the window only: cases still open at its end are not counted, "
                       "so a variant that approves fewer people can show shorter waits."),
    "wait_p90_days": ("Counts cases approved within the window only: cases still open at its end are not counted, "
                      "so a variant that approves fewer people can show shorter waits."),
    "gave_up_share": ("Of the people who started waiting on one of the {offices}, the share who chose to leave irregularly "
                      "while waiting; changes in percentage points."),
}

#: limit: (outcomes it explains, how it reads)
REASONS = {
    "relocation_capacity": (("smo_arrivals",),
                            "approved cases were left waiting for relocation in {v} of the window's weeks ({b} in the "
                            "baseline): in those weeks the relocation capacity, not approvals, set how many arrived"),
    "resettlement_ceiling": (("smo_arrivals", "wait_mean_days", "wait_p90_days"),
                             "the fiscal year's resettlement ceiling held back decisions in {v} of the window's weeks "
                             "({b} in the baseline)"),
    "no_office_open": (("darien_crossings", "smo_registrations", "smo_arrivals", "gave_up_share"),
                       "none of the {offices} was open in {v} of the window's weeks ({b} in the baseline): the "
                       "pathway was closed"),
    "no_parole_open": (("darien_crossings", "parole_arrivals"),
                       "no {pathway} programme was open in {v} of the window's weeks ({b} in the baseline): the "
                       "pathway was closed"),
}
#: limits that explain an outcome only when the variant has more of them than the baseline (a closure), not when
#: both share them (the baseline's own closures)
ONLY_IF_MORE = {"no_office_open", "no_parole_open"}


@dataclass
class Block:
    """The findings of one outcome: its caveat and one sentence per variant."""
    output: str
    title: str
    caveat: str
    sentences: list[str] = field(default_factory=list)


def _amount(x: float, unit: str) -> str:
    if unit == "percentage points":
        return f"{abs(x):,.1f}"
    return f"{abs(x):,.0f}"


def _rounded(x: float, unit: str) -> float:
    """The change as it is printed (a share in points): a change that prints as 0 is no change."""
    return round(100 * x, 1) if unit == "percentage points" else round(x)


def span(lo: float, hi: float, unit: str, up: str, down: str) -> str:
    """The 90% interval of a change in words, from its lower to its upper end, without signs."""
    lo, hi = _rounded(lo, unit), _rounded(hi, unit)
    word = lambda x: "no change" if x == 0 else f"{_amount(x, unit)} {up if x > 0 else down}"
    if lo == hi:
        return word(lo)
    if lo > 0:
        return f"{_amount(lo, unit)} to {_amount(hi, unit)} {up}"
    if hi < 0:
        return f"{_amount(hi, unit)} to {_amount(lo, unit)} {down}"
    return f"{word(lo)} to {word(hi)}"


def change(median: float, unit: str, up: str, down: str) -> str:
    m = _rounded(median, unit)
    if m == 0:
        return "no change at the median"
    noun = " people" if unit == "people" else " days" if unit == "days" else " percentage points"
    return f"{_amount(m, unit)}{noun} {up if m > 0 else down} than the baseline"


def verdict(lo: float, hi: float, unit: str) -> str:
    lo, hi = _rounded(lo, unit), _rounded(hi, unit)
    if lo <= 0 <= hi:
        return "not distinguishable from no change"
    return ""


def sentence(row, labels: dict | None = None, reasons: list[str] = ()) -> str:
    """One variant's change in one outcome, in words: `row` is a row of the effects table."""
    _, unit, up, down = WORDS[row.output]
    sign = describe(row.output, labels)[3]  # the table's effect is sign x (variant - baseline): undo it
    med = sign * row.effect_median
    if np.isnan(med):
        return f"{row.variant}: no value (no case counted in the window)."
    lo, hi = sorted([sign * row.effect_lo, sign * row.effect_hi])
    if _rounded(lo, unit) == _rounded(hi, unit) == 0 and _rounded(med, unit) == 0:
        return f"{row.variant}: no change in any paired run" + "".join(f"; {r}" for r in reasons) + "."
    text = f"{row.variant}: {change(med, unit, up, down)} (90% interval: {span(lo, hi, unit, up, down)})"
    v = verdict(lo, hi, unit)
    text += f", {v}" if v else ""
    return text + "".join(f"; {r}" for r in reasons) + "."


def limit_shares(ser: pd.DataFrame, window) -> pd.DataFrame:
    """Median over runs of the share of the window's weeks in which each limit held cases back: variant x limit."""
    lim = ser[ser.metric.str.startswith(LIMIT)]
    if lim.empty:
        return pd.DataFrame()
    dates = pd.to_datetime(lim.date)
    lim = lim[(dates >= pd.Timestamp(window[0])) & (dates <= pd.Timestamp(window[1]))]
    per_run = lim.groupby(["variant", "replicate", "draw", "metric"]).value.mean()
    shares = per_run.groupby(["variant", "metric"]).median().unstack("metric")
    shares.columns = [c[len(LIMIT):] for c in shares.columns]
    return shares


def reasons_for(output: str, variant: str, shares: pd.DataFrame, labels: dict | None = None,
                baseline: str = "baseline") -> list[str]:
    """The limits that held cases back in this variant's runs and bear on `output`, in words (the pack's)."""
    out = []
    for limit, (outputs, text) in REASONS.items():
        if output not in outputs or limit not in shares.columns or variant not in shares.index:
            continue
        v = float(shares.at[variant, limit])
        b = float(shares.at[baseline, limit]) if baseline in shares.index else float("nan")
        binds = v >= BINDS and (limit not in ONLY_IF_MORE or not v <= b)
        if binds:
            out.append(text.format(v=f"{v:.0%}", b="n/a" if np.isnan(b) else f"{b:.0%}", **words(labels)))
    return out


def findings(eff: pd.DataFrame, shares: pd.DataFrame, labels: dict | None, scale: float,
             outputs=HEADLINE) -> list[Block]:
    """One block per headline outcome the effects table holds, one sentence per variant in it, in the pack's words
    (`labels`: Pack.labels)."""
    blocks = []
    w = words(labels)
    for o in [o for o in outputs if (eff.output == o).any()]:
        rows = eff[eff.output == o]
        b = Block(o, WORDS[o][0].format(**w), CAVEATS[o].format(people=f"{1 / scale:,.0f}", **w))
        b.sentences = [sentence(r, labels, reasons_for(o, r.variant, shares, labels)) for r in rows.itertuples()]
        blocks.append(b)
    return blocks


def to_html(blocks: list[Block]) -> str:
    e = html.escape
    return "".join(f"<h3>{e(b.title)}</h3><p class=\"note\">{e(b.caveat)}</p><ul>"
                   + "".join(f"<li>{e(s)}</li>" for s in b.sentences) + "</ul>" for b in blocks)


def to_text(blocks: list[Block]) -> str:
    return "\n\n".join(f"{b.title}. {b.caveat}\n" + "\n".join(f"- {s}" for s in b.sentences) for b in blocks) + "\n"
