"""summary.md: summary.json in words, for a reader without a JSON viewer. It holds the same figures (headline
totals, the offices' processing time, the route, the border's rule changes, and the calibration targets beside the
model's values where the pack has them), written as sentences and one table, in the pack's own words for its
crossing, offices and pathway (abm/pack.py LABELS). It adds nothing summary.json lacks: it is written from it.
"""
from __future__ import annotations

from .pack import label_words

#: the totals in words ({...}: the pack's labels, abm/pack.py label_words), in summary.json's order
TOTALS = {
    "darien_crossings": "{Crossings}",
    "smo_registrations": "{Office} registrations",
    "smo_approvals": "{Office} approvals",
    "smo_relocations": "{Office} relocations to the destination",
    "parole_arrivals": "{Pathway} arrivals",
    "border_arrivals": "Arrivals at the destination's border",
    "deaths": "Deaths on the route",
    "expelled": "Expelled at the border",
    "removed": "Removed at the border",
    "gave_up_waiting": "Gave up waiting (left a {office} case or a {pathway} application to move irregularly)",
    "usbp_apprehensions": "Border arrivals between ports of entry",
    "port_arrivals": "Border arrivals at ports of entry, with an appointment",
    "removed_to_origin": "Removed to their country of origin",
}


def number(x) -> str:
    """A figure as a reader reads it: whole people with thousands separators, a share as a percentage."""
    if x is None:
        return "n/a"
    if isinstance(x, (list, tuple)):
        return " to ".join(number(v) for v in x)
    if abs(x) <= 1 and x != int(x):
        return f"{100 * x:.1f}%"
    return f"{x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{x:.2f}"


def _totals(s: dict, w: dict) -> list[str]:
    out = [f"- {TOTALS[k].format(**w)}: {number(v)}" for k, v in s["totals"].items() if k in TOTALS]
    nat = sorted(s.get("darien_crossings_by_nationality", {}).items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{n} {number(v)}" for n, v in nat if v > 0)
    if shown:
        out.append(f"- {w['crossings']} by nationality: {shown}")
    return out


def _process(s: dict, w: dict) -> list[str]:
    out = []
    months = s.get("smo_processing_months", {})
    if months.get("median") is not None:
        out.append(f"- Months from {w['office']} registration to approval: median {months['median']:.1f} "
                   f"(quartiles {months['p25']:.1f} and {months['p75']:.1f})")
    route = s.get("route", {})
    words = {"travellers_smuggled_share": "of those who set out used a smuggler",
             "travellers_in_debt_share": "of those who set out took on debt",
             "darien_crossers_injured_share": f"of those who made the crossing ({w['crossings']}) were injured"}
    out += [f"- {number(route[k])} {text}" for k, text in words.items() if route.get(k) is not None]
    if route.get("median_debt_usd_of_indebted") is not None:
        out.append(f"- Median debt of those in debt: {number(route['median_debt_usd_of_indebted'])} USD")
    times = s.get("gave_up_waiting_times", {})
    if times:
        # abm/waiting.py: leaving a wait to move irregularly or to stay (the total above counts those who moved only)
        out.append("- Times people gave up waiting on a legal pathway, to move or to stay: "
                   f"{number(times.get('give_ups'))} in all; "
                   f"{number(times.get('1'))} people once, {number(times.get('2'))} twice, "
                   f"{number(times.get('3+'))} three times or more")
    out += [f"- The border's asylum rule {c['change']} the week of {c['week_of']} (daily average "
            f"{c['daily_average']:,.1f} encounters between ports)" for c in s.get("asylum_rule_changes", [])]
    return out


def _target_rows(targets: dict) -> list[str]:
    rows = ["| target | role | model | target value | source |", "| --- | --- | --- | --- | --- |"]
    for name, t in targets.items():
        model, target = t["model"], t["target"]
        if isinstance(target, dict):  # by nationality, say: one row each
            rows += [f"| {name}: {k} | {t['role']} | {number((model or {}).get(k))} | {number(v)} | "
                     f"{_cell(t['source'])} |" for k, v in target.items()]
        else:
            rows.append(f"| {name} | {t['role']} | {number(model)} | {number(target)} | {_cell(t['source'])} |")
    return rows


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def summary_markdown(s: dict, labels: dict, people_per_agent: float) -> str:
    """summary.json (`s`) as Markdown, in the pack's words (`labels`: Pack.labels)."""
    w = label_words(labels)
    lines = [f"# Run {s['scenario']} ({s['pack']} pack), {s['period']['start']} to {s['period']['end']}", "",
             f"Every figure is in {s['units']} (one agent stands for {people_per_agent:,.0f} people), over the whole "
             "run; summary.json holds the same figures.", "", "## What the run did", ""]
    lines += _totals(s, w) + _process(s, w)
    if s.get("targets"):
        lines += ["", "## Calibration targets", "",
                  f"The model's value of each target of the pack's targets file beside the published value (`fit`: "
                  f"used to calibrate; `check`: held out). A range is the published interval.", ""]
        lines += _target_rows(s["targets"])
    return "\n".join(lines) + "\n"
