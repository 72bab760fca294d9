"""The dashboard: Mesa's SolaraViz page on the Americas baseline, with the policy levers as controls.

`smo-abm dashboard [--port N]`, or `solara run abm/app.py`. Each control is a scenario override (the same
as `--set`), so what the page shows is a run of the model as the command line would make it. Charts are
in people and redraw as the model steps.
"""
from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import markdown
import matplotlib.dates as mdates
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

with warnings.catch_warnings():
    # solara checks Mesa's ComponentsView on import and warns of a hook after an early return: the page replaces that
    # component (TabbedPages below), so the warning is about code the page never runs
    warnings.filterwarnings("ignore", message=r".*ComponentsView: `use_state` found despite early return")
    import mesa.visualization.solara_viz as mesa_viz
    from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from abm.figures import policy_lines
from abm.folders import finished_manifest, read_json
from abm.model import SafeMobilityModel
from abm.scenario import read_scenario_data
from agents.network import neighbourhood
from agents.states import SmoStage, State
# the dashboard assembles its runs (as the command line does): with the posterior's values (tests/test_layers.py)
from calibration.posterior import run_from_data
from experiments.compare import Comparison, Setting, compare, settings_for
from experiments.design import _drop
from experiments.measures import describe, words
from experiments.outcomes import effect_cell, fmt, unit_label
from experiments.report import effects_table
from experiments.waits import months_of_weeks

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"


CLOSURE_DATES = ["none", "2023-10-01", "2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]

# --- what the browser sends is checked here: the page's widgets are drawn from these tables, and the functions
# that use a value (scenario, compare_settings, run_comparison) check it against the same table, because a
# websocket client can send any value for any widget, whatever the slider's ends ---

#: (min, max) of each numeric control: the Model tab's sliders and the Compare tab's number of seeds
RANGES = {"scale": (0.001, 0.01), "tolerated_wait_days": (30, 180), "decision_weeks": (0, 52), "capacity_factor": (0.5, 4.0),
          "news_per_week": (0.0, 0.5), "outreach": (1, 104), "seeds": (2, 20),
          # Mesa's own Play and Render interval sliders: SolaraViz draws them with these ends (mesa/visualization/
          # solara_viz.py), and its Step runs the model `render_interval` times: 10**9 would never end
          "play_interval": (1, 500), "render_interval": (1, 100)}
SEED_RANGE = (0, 2**31 - 1)  # the seed box: a whole number numpy takes as a seed (not clamped: a seed is a choice)
FLAGS = ("presence_cutoff", "regular_status_required", "walk_in", "all_nationalities", "parole")


def clamp(name: str, value):
    """`value` within RANGES[name], the nearest end if outside (a whole number for a whole-number range).
    Not a number, or NaN: ValueError."""
    lo, hi = RANGES[name]
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: not a number: {value!r}") from None
    if x != x:
        raise ValueError(f"{name}: not a number: {value!r}")
    x = min(max(x, lo), hi)
    return round(x) if isinstance(lo, int) and isinstance(hi, int) else x


def whole_seed(value) -> int:
    """The seed box's text as a seed: a whole number in SEED_RANGE, else ValueError."""
    try:
        seed = int(str(value).strip())
    except ValueError:
        raise ValueError(f"seed: not a whole number: {value!r}") from None
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise ValueError(f"seed: must be between {SEED_RANGE[0]} and {SEED_RANGE[1]}, not {seed}")
    return seed


def one_of(name: str, value, options):
    """`value` if it is one of the options shown, else ValueError."""
    if not any(value == o and type(value) is type(o) for o in options):
        raise ValueError(f"{name}: {value!r} is not one of the options")
    return value


def flag(name: str, value) -> bool:
    """A checkbox's value: True or False only (a string such as "false" would otherwise count as true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: not true or false: {value!r}")
    return bool(value)


class Bounded(solara.Reactive):
    """A number kept within RANGES[name] whatever is set: given to SolaraViz for the sliders it draws itself, whose
    values would otherwise go from the browser to Mesa unchecked."""

    def __init__(self, name: str, value):
        super().__init__(value)
        self.name = name

    def set(self, value):
        super().set(clamp(self.name, value))


def checked_levers(tolerated_wait_days=None, capacity_factor=1.0, presence_cutoff=True, regular_status_required=True,
                   walk_in=False, all_nationalities=False, news_per_week=None, parole=True, outreach=None,
                   closure="none", decision_weeks=None) -> dict:
    """The levers as scenario() applies them: numbers clamped to RANGES (None: the baseline's value), checkboxes
    true or false, the closure one of CLOSURE_DATES."""
    baseline_or = dict(tolerated_wait_days=tolerated_wait_days, news_per_week=news_per_week, outreach=outreach,
                       decision_weeks=decision_weeks)
    levers = {k: None if v is None else clamp(k, v) for k, v in baseline_or.items()}
    levers["capacity_factor"] = clamp("capacity_factor", capacity_factor)
    flags = dict(presence_cutoff=presence_cutoff, regular_status_required=regular_status_required, walk_in=walk_in,
                 all_nationalities=all_nationalities, parole=parole)
    levers.update({k: flag(k, v) for k, v in flags.items()})
    levers["closure"] = one_of("closure", closure, CLOSURE_DATES)
    return levers


def scenario(scale=0.002, seed=1, **levers):
    """The baseline with the levers applied (see checked_levers; None: keep the baseline's value). `outreach` is
    how many weeks the baseline's outreach campaign (the SMO's FAQ on the official channel) runs; `closure` a date on which every office and parole close;
    `all_nationalities`: every office takes every nationality from its opening, host nationals included,
    and no nationality is withdrawn later (experiments/eligibility_expansion.toml's all_nationalities).
    Every value is checked first (it may come from the browser): out of range is clamped, invalid is a ValueError."""
    lv = checked_levers(**levers)
    scale, seed = clamp("scale", scale), whole_seed(seed)
    tolerated_wait_days, capacity_factor, news_per_week, outreach, closure = (
        lv["tolerated_wait_days"], lv["capacity_factor"], lv["news_per_week"], lv["outreach"], lv["closure"])
    presence_cutoff, regular_status_required, walk_in, all_nationalities, parole = (lv[k] for k in FLAGS)
    data = read_scenario_data(BASELINE)
    base = run_from_data(data, BASELINE, scale=scale, seed=seed)
    offices = {}
    for name, cfg in base.pack.offices.items():
        o = {"assess_per_week": cfg["assess_per_week"] * capacity_factor, "walk_in": bool(walk_in or cfg["walk_in"])}
        if cfg["presence_cutoff"]:
            o["presence_cutoff"] = bool(presence_cutoff)
        if cfg["regular_status_required"]:
            o["regular_status_required"] = bool(regular_status_required)
        if all_nationalities:
            o["host_nationals_eligible"] = True
        offices[name] = o
    data.setdefault("pack", {})["offices"] = offices
    if news_per_week is not None:
        data["pack"].setdefault("resettlement", {})["news_per_week"] = float(news_per_week)
    if lv["decision_weeks"] is not None:  # the actual wait: as an experiment's office_decision_months sets it
        data["pack"].setdefault("resettlement", {})["decision_weeks"] = int(lv["decision_weeks"])
    if tolerated_wait_days is not None:
        data.setdefault("behaviour", {})["tolerated_wait_weeks"] = float(tolerated_wait_days) / 7
    if not parole:
        data["policy"] = _drop(BASELINE, "parole", data.get("policy", []),
                               [{"kind": "parole_open"}, {"kind": "announce", "topic": "parole"}])
    if all_nationalities:
        data["policy"] = [p for p in data.get("policy", []) if not (p.get("kind") == "smo_nationalities" and "remove" in p)]
        for p in data["policy"]:
            if p.get("kind") == "smo_open":
                p["nationalities"] = list(base.pack.nationalities)
    if outreach is not None:
        for p in data.get("policy", []):
            if p.get("kind") == "outreach":
                p["weeks"] = int(round(outreach))
    if closure != "none":
        data["policy"] = list(data.get("policy", [])) + [
            {"date": closure, "kind": "smo_close", "office": name, "source": "dashboard: closure"} for name in base.pack.offices
        ] + [{"date": closure, "kind": "parole_close", "source": "dashboard: closure"}]
    data["run"]["name"] = "dashboard"
    return run_from_data(data, BASELINE, scale=scale, seed=seed)


def _baseline_defaults() -> dict:
    """The controls' starting values: the baseline's own (calibrated tolerated wait, rounded to a day;
    the pack's case news; the baseline's outreach campaign's weeks)."""
    sc = run_from_data(read_scenario_data(BASELINE), BASELINE)
    return {"tolerated_wait_days": round(sc.behaviour["tolerated_wait_weeks"] * 7),
            "decision_weeks": int(sc.pack.resettlement["decision_weeks"]),
            "news_per_week": float(sc.pack.resettlement["news_per_week"]),
            "outreach": next((int(p.fields.get("weeks", sc.pack.channels["official"]["live_weeks"])) for p in sc.policies
                              if p.kind == "outreach"), 1)}


DEFAULTS = _baseline_defaults()


class DashboardModel(SafeMobilityModel):
    """The baseline model, made from the page's controls (Mesa makes it again, with the controls' values, on Reset)."""

    def __init__(self, scale=0.002, seed=1, tolerated_wait_days=DEFAULTS["tolerated_wait_days"], capacity_factor=1.0,
                 presence_cutoff=True, regular_status_required=True, walk_in=False, all_nationalities=False,
                 news_per_week=DEFAULTS["news_per_week"], parole=True, outreach=DEFAULTS["outreach"], closure="none",
                 decision_weeks=DEFAULTS["decision_weeks"]):
        self.levers = checked_levers(tolerated_wait_days=tolerated_wait_days, capacity_factor=capacity_factor,
                                     presence_cutoff=presence_cutoff, regular_status_required=regular_status_required,
                                     walk_in=walk_in, all_nationalities=all_nationalities, news_per_week=news_per_week,
                                     parole=parole, outreach=outreach, closure=closure,
                                     decision_weeks=decision_weeks)  # as applied: shown on the page
        super().__init__(scenario(scale=scale, seed=seed, **self.levers))
        while self.week < 0:  # the burn-in (unrecorded) runs at once: the page starts at the scenario's start
            self.step()
        self.steps = 0  # Mesa's step count (the page's "Step:") counts weeks from the scenario's start


def _span(name: str) -> dict:
    lo, hi = RANGES[name]
    return {"min": lo, "max": hi}


MODEL_PARAMS = {
    "scale": {"type": "SliderFloat", "value": 0.002, "label": "agents per person", **_span("scale"), "step": 0.001},
    "seed": {"type": "InputText", "value": 1, "label": "seed"},
    # the two waiting levers, named for what they change (experiments/waits.py): how long the offices take to decide
    # (the actual wait) and how long people are willing to wait
    "decision_weeks": {"type": "SliderInt", "value": DEFAULTS["decision_weeks"], "label": "office decision time (weeks)",
                       **_span("decision_weeks"), "step": 1},
    "tolerated_wait_days": {"type": "SliderInt", "value": DEFAULTS["tolerated_wait_days"], "label": "willing to wait (days)",
                            **_span("tolerated_wait_days"), "step": 10},
    "capacity_factor": {"type": "SliderFloat", "value": 1.0, "label": "processing capacity (x)", **_span("capacity_factor"),
                        "step": 0.5},
    "presence_cutoff": {"type": "Checkbox", "value": True, "label": "presence cut-off"},
    "regular_status_required": {"type": "Checkbox", "value": True, "label": "regular status required"},
    "walk_in": {"type": "Checkbox", "value": False, "label": "walk-in registration"},
    "all_nationalities": {"type": "Checkbox", "value": False, "label": "every nationality eligible"},
    "news_per_week": {"type": "SliderFloat", "value": DEFAULTS["news_per_week"], "label": "case news per week",
                      **_span("news_per_week"), "step": 0.01},
    "parole": {"type": "Checkbox", "value": True, "label": "humanitarian parole"},
    "outreach": {"type": "SliderInt", "value": DEFAULTS["outreach"], "label": "outreach from 2024 (weeks on the official channel)",
                 **_span("outreach"), "step": 1},
    "closure": {"type": "Select", "value": "none", "values": CLOSURE_DATES, "label": "offices and parole close on"},
}


def weekly(model, metric: str, by_nationality: bool = False):
    """People per week of one metric: a vector, or weeks x nationalities."""
    df = model.datacollector.get_model_vars_dataframe()
    if len(df) == 0:
        return np.zeros((0, len(model.pack.nationalities))) if by_nationality else np.zeros(0)
    x = np.stack(df[metric].to_numpy()) * model.weight
    if not by_nationality:
        return x.sum(axis=1)
    n_pl = len(model.pack.places)
    return x.reshape(len(x), len(model.pack.nationalities), n_pl).sum(axis=2)


#: the tables' style: the report's (experiments/report.py), each table as wide as its words, none clipped
TABLE_STYLE = ("<style>table.smo {border-collapse: collapse; margin: 0.5em 0; font-size: 13px} "
               "table.smo td, table.smo th {border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; "
               "white-space: nowrap} table.smo td:first-child, table.smo th:first-child {text-align: left}</style>")


def _table(t: pd.DataFrame):
    """A table written as the report writes its tables: every row, cells as formatted (no NaN), scrolled sideways
    if wider than its card rather than cut."""
    body = t.to_html(escape=True, index=False, border=0, classes="smo", na_rep="n/a")
    return solara.HTML(tag="div", unsafe_innerHTML=TABLE_STYLE + body, style="overflow-x: auto; max-width: 100%")


def _md(text: str):
    """Markdown as plain HTML: solara.Markdown would fetch KaTeX from a CDN on every page, which an offline
    machine cannot reach (the page's own scripts come from solara-assets, installed with the project)."""
    return solara.HTML(tag="div", unsafe_innerHTML=markdown.markdown(text, extensions=["extra"]), style="font-size: 14px")


def _dates(ax):
    """Short date labels that do not run into each other in a half-width chart."""
    loc = mdates.AutoDateLocator(maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _chart(model, lines, title: str, legend_size: int = 7):
    """One matplotlib chart of weekly series [(label, values)], policy dates marked (abm.figures)."""
    update_counter.get()
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    for label, y in lines:
        ax.plot([model.date_of(w) for w in range(len(y))], y, lw=1, label=label)
    pad = policy_lines(ax, model)
    if lines and len(lines[0][1]) > 1:
        _dates(ax)
    ax.set_title(title, fontsize=9, pad=pad)
    if lines:
        ax.legend(fontsize=legend_size, ncol=3 if len(lines) > 4 else 1)
    fig.tight_layout()
    return solara.FigureMatplotlib(fig)


def describe_levers(levers: dict) -> list[str]:
    """The controls' values in words (the sliders show theirs only while dragged)."""
    weeks = levers.get("decision_weeks")
    decision = ("office decisions as in the baseline" if weeks is None else
                f"office decisions take {weeks} weeks ({months_of_weeks(weeks):.1f} months)")
    return [decision,
            f"willing to wait {levers['tolerated_wait_days']} days",
            f"processing capacity x{levers['capacity_factor']:g}",
            "presence cut-off " + ("on" if levers["presence_cutoff"] else "off"),
            "regular status " + ("required" if levers["regular_status_required"] else "not required"),
            "walk-in registration " + ("on" if levers["walk_in"] else "off"),
            "every nationality eligible" if levers["all_nationalities"] else "eligible nationalities as in the baseline",
            f"case news {levers['news_per_week']:g} a week",
            "parole " + ("on" if levers["parole"] else "off"),
            f"outreach for {levers['outreach']:g} weeks",
            "no closure" if levers["closure"] == "none" else f"offices and parole close on {levers['closure']}"]


def SettingsCard(model):
    """Where the run is and what it runs: the week, its date, and every control's value."""
    update_counter.get()
    return _md(f"**Week {model.week}: {model.date_of(model.week)}** ({model.people.n:,} agents, "
               f"{model.weight:g} people each). The run's settings (a moved control takes effect on "
               "Reset):\n\n" + "\n".join(f"- {s}" for s in describe_levers(model.levers)))


def CrossingsChart(model):
    x = weekly(model, "darien_crossings", by_nationality=True)
    lines = [(nat, x[:, j]) for j, nat in enumerate(model.pack.nationalities) if len(x) and x[:, j].sum() > 0]
    return _chart(model, lines, f"{model.pack.labels['crossings']} by nationality (people per week)", legend_size=6)


def PipelineChart(model):
    lines = [(label, weekly(model, m)) for m, label in (
        ("smo_registrations", "registrations"), ("smo_approvals", "approvals"), ("smo_relocations", "relocations"),
        ("gave_up_smo", "gave up and moved"))]
    return _chart(model, lines, "{Office} pipeline (people per week)".format(**words(model.pack.labels)))


def BorderChart(model):
    lines = [(label, weekly(model, m)) for m, label in (
        ("usbp_apprehensions", "between ports"), ("port_arrivals", "at ports (CBP One)"),
        ("waiting_mexico", "in northern Mexico (stock)"))]
    return _chart(model, lines, "US border arrivals (people per week) and Mexico")


def StocksChart(model):
    w = words(model.pack.labels)
    lines = [(label.format(**w), weekly(model, m)) for m, label in (
        ("aware_smo", "aware of the {offices}"), ("waiting_smo", "waiting on {office} cases"),
        ("waiting_parole", "waiting on {pathway} applications"), ("preparing", "preparing to move"))]
    return _chart(model, lines, "Awareness and waiting (people)")



# --- the network view: a sampled neighbourhood, coloured by what each person knows and does ---

#: (label, colour) of each category in the network view, in order of precedence (abm/app.py `category`).
CATEGORIES = [("not here", "#e6e6e6"), ("unaware of the SMO", "#9e9e9e"), ("aware of the SMO", "#9ecae1"),
              ("knows its rules", "#3182bd"), ("registered with the SMO", "#74c476"), ("parole", "#756bb1"),
              ("preparing or on the route", "#fd8d3c"), ("in the US", "#006d2c"), ("returned or dead", "#252525")]
NEIGHBOURHOOD_SIZE = 60  # readable as a drawing: ego, their contacts and some of theirs


def category(model, idx: np.ndarray) -> np.ndarray:
    """Index into CATEGORIES of each person: what they do, else what they know of the office."""
    p = model.people
    st = p.state[idx]
    cat = np.where(p.rules_smo[idx], 3, np.where(p.aware_smo[idx], 2, 1))
    cat[p.smo_stage[idx] >= SmoStage.REGISTERED] = 4
    cat[st == State.WAITING_SMO] = 4
    cat[st == State.WAITING_PAROLE] = 5
    cat[np.isin(st, (State.PREPARING, State.IN_TRANSIT, State.AT_BORDER, State.WAITING_MEXICO))] = 6
    cat[st == State.IN_US] = 7
    cat[np.isin(st, (State.RETURNED, State.DEAD, State.SETTLED_MEXICO))] = 8
    cat[st == State.NOT_ARRIVED] = 0
    return cat


def sample_neighbourhood(model, size: int = NEIGHBOURHOOD_SIZE) -> np.ndarray:
    """A neighbourhood in the largest community living where an office works: around the present member whose
    number of contacts is nearest that community's median (the first such, by index: no randomness drawn)."""
    p = model.people
    office_places = [model.pack.places.index(name) for name in model.pack.offices]
    there = np.isin(p.place, office_places) & (p.state != State.NOT_ARRIVED)
    if not there.any():
        there = p.state != State.NOT_ARRIVED
    cells, counts = np.unique(p.cell[there], return_counts=True)
    members = np.flatnonzero(there & (p.cell == cells[np.argmax(counts)]))
    deg = np.diff(model.adj.indptr)[members]
    ego = members[np.argmin(np.abs(deg - np.median(deg)))]
    return neighbourhood(model.adj, int(ego), size)


def _layout(model):
    """The sampled people, their ties and a spring layout; made once per model (the network does not change)."""
    if getattr(model, "_neighbourhood", None) is None:
        nodes = sample_neighbourhood(model)
        g = nx.from_scipy_sparse_array(model.adj[nodes][:, nodes])
        model._neighbourhood = (nodes, g, nx.spring_layout(g, seed=1))  # layout seed: drawing only, not the model's
    return model._neighbourhood


def NetworkView(model):
    """Awareness spreading through one neighbourhood: nodes coloured by category, counted in the legend."""
    update_counter.get()
    return solara.FigureMatplotlib(network_figure(model))


def network_figure(model) -> Figure:
    nodes, g, pos = _layout(model)
    cat = category(model, nodes)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    nx.draw_networkx_edges(g, pos, ax=ax, width=0.4, alpha=0.4)
    colours = [CATEGORIES[c][1] for c in cat]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=[120 if i == 0 else 45 for i in range(len(nodes))],
                           edgecolors="black", linewidths=[1.5 if i == 0 else 0.3 for i in range(len(nodes))])
    counts = np.bincount(cat, minlength=len(CATEGORIES))
    handles = [Line2D([], [], marker="o", ls="", color=c, markeredgecolor="black", label=f"{lab} ({counts[k]})")
               for k, (lab, c) in enumerate(CATEGORIES) if counts[k]]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    nat = model.pack.nationalities[model.people.nat[nodes[0]]]
    place = model.pack.places[model.people.place[nodes[0]]]
    fig.suptitle(f"Word of mouth near a person from {nat} living in {place} (circled): {len(nodes)} people,\n"
                 f"week of {model.date_of(max(model.week, 0))}", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    return fig



# --- the comparison view: two settings side by side (experiments/compare.py) ---

CONTROLS = "the Model tab's controls"
COMPARE_SEEDS = 5  # default pairs: a few seconds at the page's scale, enough for a rough 90% interval


def compare_settings(levers: dict) -> dict:
    """label -> Setting: the Model tab's controls (checked as scenario() checks them), then the baseline, scenario
    files and experiment variants."""
    levers = checked_levers(**levers)
    own = Setting(CONTROLS, lambda seed, scale: scenario(**{**levers, "seed": seed, "scale": scale}))
    return {s.label: s for s in [own] + settings_for(BASELINE)}


def group_of(label: str) -> str:
    """The list a setting is chosen from: an experiment's variants under its name, the scenario files under
    "scenario", the controls and the baseline on their own."""
    return label.split(": ", 1)[0] if ": " in label else label


def setting_groups(labels) -> dict[str, list[str]]:
    """group -> its settings' labels, in order. Two short lists instead of one long one: Vuetify 2's select draws a
    long list's first 20 items and the rest only as its menu is scrolled, so variants seemed missing."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(group_of(label), []).append(label)
    return groups


def chosen_setting(options: dict, label) -> Setting:
    """The setting the browser chose: one of the options the server listed, else ValueError."""
    return options[one_of("setting", label, list(options))]


def run_comparison(a: Setting, b: Setting, seeds, scale, progress=None) -> Comparison:
    """A against B on seeds 1..`seeds` at `scale`, both clamped to RANGES (the slider's value comes from the
    browser, which can send 100000)."""
    n, scale = clamp("seeds", seeds), clamp("scale", scale)
    return compare(a, b, range(1, n + 1), scale, progress=progress)


@solara.lab.task
def comparison_task(a, b, seeds, scale):
    return run_comparison(a, b, seeds, scale, progress=lambda f: setattr(comparison_task, "progress", 100 * f))


def _shown(c: Comparison) -> pd.DataFrame:
    """Outcomes that are not zero under both settings (interceptions at sea are, in the Americas)."""
    t = c.table
    return t[~((t.baseline_hi == 0) & (t.baseline_lo == 0) & (t.variant_hi == 0) & (t.variant_lo == 0))]


def difference_table(c: Comparison) -> pd.DataFrame:
    """B's effect against A for each outcome: median and 90% interval of the paired differences over seeds, written
    as an experiment's report writes them (experiments/outcomes.py: a share's change in percentage points)."""
    t = _shown(c)
    return pd.DataFrame({"effect of B": t.effect, "unit": [unit_label(u, effect=True) for u in t.unit],
                         "median [90% interval]": [effect_cell(r) for r in t.itertuples()],
                         "pairs": t.pairs}).reset_index(drop=True)


def levels_table(c: Comparison) -> pd.DataFrame:
    """Each outcome under A and under B: medians over seeds (a share in percent, as the report's levels)."""
    t = _shown(c)
    return pd.DataFrame({"outcome": [describe(o, c.labels)[0] for o in t.output], "unit": [unit_label(u) for u in t.unit],
                         "A": [fmt(r.baseline_median, r.unit) for r in t.itertuples()],
                         "B": [fmt(r.variant_median, r.unit) for r in t.itertuples()]}).reset_index(drop=True)


def comparison_figure(c: Comparison, side: str) -> Figure:
    """One setting's weekly series, median and 90% band over seeds, on the same axes limits as the other's."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    dates = [dt.date.fromisoformat(d) for d in c.dates]
    top = max(float(np.quantile(c.series[s][k], 0.95, axis=0).max()) for s in ("a", "b") for k in c.series[s])
    for k, label in (("darien_crossings", c.crossings), ("smo_registrations", "{Office} registrations".format(**words(c.labels)))):
        x = c.series[side][k]
        lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95], axis=0)
        ax.plot(dates, med, lw=1, label=label)
        ax.fill_between(dates, lo, hi, alpha=0.25)
    ax.set_ylim(0, top * 1.05 if top > 0 else 1)
    ax.set_title(f"{side.upper()}: {c.a if side == 'a' else c.b} (people per week)", fontsize=9)
    ax.legend(fontsize=7)
    _dates(ax)
    fig.tight_layout()
    return fig


@solara.component
def SettingPicker(side: str, options: dict, value: str, on_value):
    """A setting in two short lists: where it comes from (an experiment, the scenario files, the controls, the
    baseline), then which of its variants. Only the options listed can be chosen (chosen_setting checks again)."""
    groups = setting_groups(options)
    group = group_of(value)
    solara.Select(label=side, values=list(groups), value=group,
                  on_value=lambda g: on_value(groups[g][0]) if g in groups else None)
    if len(groups.get(group, [])) > 1:
        items = {label.split(": ", 1)[1]: label for label in groups[group]}
        solara.Select(label=f"{side}: variant", values=list(items), value=value.split(": ", 1)[1],
                      on_value=lambda item: on_value(items[item]) if item in items else None)


@solara.component
def CompareView(levers: dict, scale: float):
    """Pick two settings, run them on the same seeds, and read the difference in headline outcomes."""
    options = solara.use_memo(lambda: compare_settings(levers), [tuple(sorted(levers.items()))])
    a, set_a = solara.use_state("baseline")
    b, set_b = solara.use_state(CONTROLS)
    seeds, set_seeds = solara.use_state(COMPARE_SEEDS)
    _md(f"### Compare two settings\n\nTwo settings run on the same {seeds} seeds at {scale:g} agents per person. The table gives "
        "each outcome over the window of the experiment a setting comes from (else the weeks both runs cover), as an "
        "experiment's report does: median and 90% interval over seeds, and the paired difference of B from A. "
        "Experiment variants run at the posterior's point estimate; `smo-abm experiment` adds posterior draws.")
    with solara.Columns([1, 1]):
        with solara.Column():
            SettingPicker("A", options, a, set_a)
        with solara.Column():
            SettingPicker("B", options, b, set_b)
    solara.SliderInt(f"seeds: {seeds}", value=seeds, **_span("seeds"), on_value=lambda n: set_seeds(clamp("seeds", n)))
    solara.Button("Compare", color="primary", disabled=comparison_task.pending,
                  on_click=lambda: comparison_task(chosen_setting(options, a), chosen_setting(options, b), seeds, scale))
    if comparison_task.pending:
        solara.ProgressLinear(comparison_task.progress or True)
    elif comparison_task.error:
        solara.Error(f"{comparison_task.exception}")
    c = comparison_task.latest
    if c is not None:
        _md(f"**A: {c.a}** against **B: {c.b}**, {c.window[0]} to {c.window[1]}, "
            f"{len(c.seeds)} paired seeds.")
        _table(difference_table(c))


@solara.component
def CompareResults():
    """The two settings side by side: their outcomes, and their weekly series on the same axes."""
    c = comparison_task.latest
    if c is None:
        _md("Choose two settings and press Compare: their outcomes and weekly series show here.")
        return
    _table(levels_table(c))
    solara.FigureMatplotlib(comparison_figure(c, "a"))
    solara.FigureMatplotlib(comparison_figure(c, "b"))


def ComparePage(model):
    return CompareView(model.levers, model.scale)


def CompareResultsPage(model):
    return CompareResults()


def results_dir() -> Path:
    """Where finished experiments are (`smo-abm experiment` writes results/experiments/<name>/)."""
    return Path(os.environ.get("SMO_RESULTS", "results")) / "experiments"


def _inside(root: Path, path: Path) -> Path | None:
    """`path` with every symlink followed, if that lies inside `root` (resolved too); else None."""
    real = path.resolve()
    return real if real.is_relative_to(root.resolve()) else None


def _is_finished(root: Path, folder: Path) -> bool:
    """An experiment `smo-abm experiment` finished in `folder`: a folder inside `root` holding effects.csv and a
    manifest.json naming an experiment, none of them leading outside `root` through a symlink."""
    real = _inside(root, folder)
    files = [_inside(root, folder / f) for f in ("manifest.json", "effects.csv")]
    if real is None or not real.is_dir() or None in files or not all(f.is_file() for f in files):
        return False
    m = read_json(files[0])
    if not m:
        return False
    if "checksums" in m:  # written by abm/folders.py: finished only if every file is whole
        return finished_manifest(real, "experiment") is not None
    return m["kind"] == "experiment" if "kind" in m else "experiment" in m  # an earlier version's manifest


def finished_experiments(root: Path) -> list[str]:
    """The names of the finished experiments in `root`: the only folders the page offers, or opens."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and _is_finished(root, p))


def experiment_folder(root: Path, name) -> Path:
    """The folder of the experiment the browser chose: one of finished_experiments(root), resolved inside `root`.
    Anything else (`../../outside`, an absolute path, a symlink out of the folder) is a ValueError, and nothing is
    read from it."""
    one_of("experiment", name, finished_experiments(root))
    folder = _inside(root, root / name)
    if folder is None:  # listed a moment ago: replaced by a symlink out since
        raise ValueError(f"experiment: {name!r} is not inside {root}")
    return folder


@solara.component
def ExperimentView(root: Path | None = None):
    """A finished experiment's effect table and figures, chosen from those in the results folder."""
    root = root or results_dir()
    names = finished_experiments(root)
    chosen, set_chosen = solara.use_state(names[0] if names else None)
    _md("### Finished experiments")
    if not names:
        _md(f"No finished experiment in `{root}`: run `smo-abm experiment experiments/<file>.toml`.")
        return
    solara.Select(label="experiment", values=names, value=chosen, on_value=set_chosen)
    try:
        folder = experiment_folder(root, chosen)
    except ValueError as e:
        solara.Error(f"{e}: choose one of the list")
        return
    eff = pd.read_csv(folder / "effects.csv")
    _md(f"**{chosen}**: median [90% interval] of the paired effects against the baseline, as its report gives them "
        f"(`{root / chosen / 'report.html'}` has the full report, its findings in words first).")
    _table(experiment_table(eff))
    for fig in ("effects.png", "darien_crossings_difference.png"):
        image = _inside(root, folder / "figures" / fig)
        if image is not None and image.is_file():
            solara.Image(str(image))


def experiment_table(eff: pd.DataFrame) -> pd.DataFrame:
    """A finished experiment's effects.csv as its report's effect table: a row per variant, a column per effect,
    each cell median [90% interval] (experiments/outcomes.py)."""
    return effects_table(eff)


def ExperimentPage(model):
    return ExperimentView()


#: the page's tabs, in order, named for what they hold (Mesa 3.3.1 names them "Page 0", "Page 1", ... and has no
#: option to name them: TabbedPages takes the place of its ComponentsView)
TABS = ("Model", "Compare", "Experiments")


@solara.component
def TabbedPages(components: list, model):
    """Mesa's ComponentsView (mesa/visualization/solara_viz.py) with the tabs named from TABS: each tab's components
    in Mesa's draggable grid, only the open tab drawn."""
    pages: dict[int, list] = {i: [] for i in range(len(TABS))}
    for component, index in components:
        pages[index].append(mesa_viz._wrap_component(component))
    tab, set_tab = solara.use_state(0)
    layouts, set_layouts = solara.use_state({})  # a tab's grid as the user dragged it
    with solara.v.Tabs(v_model=tab, on_v_model=set_tab):
        for name in TABS:
            solara.v.Tab(children=[name])
    with solara.v.TabsItems(v_model=tab):
        for index in pages:
            with solara.v.TabItem():
                if index == tab:
                    solara.GridDraggable(items=[c(model) for c in pages[index]], resizable=True, draggable=True,
                                         grid_layout=layouts.get(index) or mesa_viz.make_initial_grid_layout(len(pages[index])),
                                         on_grid_layout=lambda new, i=index: set_layouts(lambda old: {**old, i: new}))


mesa_viz.ComponentsView = TabbedPages  # SolaraViz looks it up in its module each time it draws
model = solara.Reactive(DashboardModel())
page = SolaraViz(model, components=[(SettingsCard, 0), (CrossingsChart, 0), (PipelineChart, 0), (StocksChart, 0), (BorderChart, 0), (NetworkView, 0),
                             (ComparePage, 1), (CompareResultsPage, 1),
                             (ExperimentPage, 2)],
                 model_params=MODEL_PARAMS, name="Safe Mobility ABM: the Americas baseline",
                 play_interval=Bounded("play_interval", 100), render_interval=Bounded("render_interval", 1))
