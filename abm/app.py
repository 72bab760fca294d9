"""The dashboard: Mesa's SolaraViz page on the Americas baseline, with the policy levers as controls.

`smo-abm dashboard [--port N]`, or `solara run abm/app.py`. Each control is a scenario override (the same
as `--set`), so what the page shows is a run of the model as the command line would make it. Charts are
in people and redraw as the model steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

import os

import pandas as pd

from abm.figures import _policy_lines
from abm.model import SafeMobilityModel
from abm.scenario import read_scenario_data, scenario_from_data
from experiments.design import _drop

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"


CLOSURE_DATES = ["none", "2023-10-01", "2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]


def scenario(scale=0.002, seed=1, tolerated_wait_days=None, capacity_factor=1.0, presence_cutoff=True,
             regular_status_required=True, walk_in=False, news_per_week=None, parole=True, outreach=None,
             closure="none"):
    """The baseline with the levers applied (None: keep the baseline's value). `outreach` is the weekly
    reach of the baseline's outreach campaign; `closure` a date on which every office and parole close."""
    data = read_scenario_data(BASELINE)
    base = scenario_from_data(data, BASELINE, scale=scale, seed=seed)
    offices = {}
    for name, cfg in base.pack.offices.items():
        o = {"assess_per_week": cfg["assess_per_week"] * capacity_factor, "walk_in": bool(walk_in or cfg["walk_in"])}
        if cfg["presence_cutoff"]:
            o["presence_cutoff"] = bool(presence_cutoff)
        if cfg["regular_status_required"]:
            o["regular_status_required"] = bool(regular_status_required)
        offices[name] = o
    data.setdefault("pack", {})["offices"] = offices
    if news_per_week is not None:
        data["pack"]["resettlement"] = {"news_per_week": float(news_per_week)}
    if tolerated_wait_days is not None:
        data.setdefault("behaviour", {})["tolerated_wait_weeks"] = float(tolerated_wait_days) / 7
    if not parole:
        data["policy"] = _drop(BASELINE, "parole", data.get("policy", []),
                               [{"kind": "parole_open"}, {"kind": "announce", "topic": "parole"}])
    if outreach is not None:
        for p in data.get("policy", []):
            if p.get("kind") == "outreach":
                p["reach"] = float(outreach)
    if closure != "none":
        data["policy"] = list(data.get("policy", [])) + [
            {"date": closure, "kind": "smo_close", "office": name, "source": "dashboard: closure"} for name in base.pack.offices
        ] + [{"date": closure, "kind": "parole_close", "source": "dashboard: closure"}]
    data["run"]["name"] = "dashboard"
    return scenario_from_data(data, BASELINE, scale=scale, seed=seed)


def _baseline_defaults() -> dict:
    """The controls' starting values: the baseline's own (calibrated tolerated wait, rounded to a day;
    the pack's case news; the baseline's outreach reach)."""
    sc = scenario_from_data(read_scenario_data(BASELINE), BASELINE)
    return {"tolerated_wait_days": round(sc.behaviour["tolerated_wait_weeks"] * 7),
            "news_per_week": float(sc.pack.resettlement["news_per_week"]),
            "outreach": next((float(p.fields["reach"]) for p in sc.policies if p.kind == "outreach"), 0.0)}


DEFAULTS = _baseline_defaults()


class DashboardModel(SafeMobilityModel):
    """The baseline model, made from the page's controls (Mesa re-creates it when a control moves)."""

    def __init__(self, scale=0.002, seed=1, tolerated_wait_days=DEFAULTS["tolerated_wait_days"], capacity_factor=1.0,
                 presence_cutoff=True, regular_status_required=True, walk_in=False,
                 news_per_week=DEFAULTS["news_per_week"], parole=True, outreach=DEFAULTS["outreach"], closure="none"):
        super().__init__(scenario(scale=scale, seed=int(seed), tolerated_wait_days=tolerated_wait_days,
                                  capacity_factor=capacity_factor, presence_cutoff=presence_cutoff,
                                  regular_status_required=regular_status_required, walk_in=walk_in,
                                  news_per_week=news_per_week, parole=parole, outreach=outreach, closure=closure))
        while self.week < 0:  # the burn-in (unrecorded) runs at once: the page starts at the scenario's start
            self.step()


MODEL_PARAMS = {
    "scale": {"type": "SliderFloat", "value": 0.002, "label": "agents per person", "min": 0.001, "max": 0.01, "step": 0.001},
    "seed": {"type": "InputText", "value": 1, "label": "seed"},
    "tolerated_wait_days": {"type": "SliderInt", "value": DEFAULTS["tolerated_wait_days"], "label": "tolerated wait (days)", "min": 30, "max": 180, "step": 10},
    "capacity_factor": {"type": "SliderFloat", "value": 1.0, "label": "processing capacity (x)", "min": 0.5, "max": 4.0, "step": 0.5},
    "presence_cutoff": {"type": "Checkbox", "value": True, "label": "presence cut-off"},
    "regular_status_required": {"type": "Checkbox", "value": True, "label": "regular status required"},
    "walk_in": {"type": "Checkbox", "value": False, "label": "walk-in registration"},
    "news_per_week": {"type": "SliderFloat", "value": DEFAULTS["news_per_week"], "label": "case news per week", "min": 0.0, "max": 0.5, "step": 0.01},
    "parole": {"type": "Checkbox", "value": True, "label": "humanitarian parole"},
    "outreach": {"type": "SliderFloat", "value": DEFAULTS["outreach"], "label": "outreach from 2024 (weekly reach)", "min": 0.0,
                 "max": 0.05, "step": 0.002},
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


def _chart(model, lines, title: str, legend_size: int = 7):
    """One matplotlib chart of weekly series [(label, values)], policy dates marked (abm.figures)."""
    update_counter.get()
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    for label, y in lines:
        ax.plot([model.date_of(w) for w in range(len(y))], y, lw=1, label=label)
    _policy_lines(ax, model)
    ax.set_title(title, fontsize=9)
    if lines:
        ax.legend(fontsize=legend_size, ncol=3 if len(lines) > 4 else 1)
    fig.tight_layout()
    return solara.FigureMatplotlib(fig)


def CrossingsChart(model):
    x = weekly(model, "darien_crossings", by_nationality=True)
    lines = [(nat, x[:, j]) for j, nat in enumerate(model.pack.nationalities) if len(x) and x[:, j].sum() > 0]
    return _chart(model, lines, "Darien crossings by nationality (people per week)", legend_size=6)


def PipelineChart(model):
    lines = [(label, weekly(model, m)) for m, label in (
        ("smo_registrations", "registrations"), ("smo_approvals", "approvals"), ("smo_relocations", "relocations"),
        ("gave_up_smo", "gave up and moved"))]
    return _chart(model, lines, "SMO pipeline (people per week)")


def StocksChart(model):
    lines = [(m.replace("_", " "), weekly(model, m)) for m in ("aware_smo", "waiting_smo", "waiting_parole", "preparing")]
    return _chart(model, lines, "Awareness and waiting (people)")


def results_dir() -> Path:
    """Where finished experiments are (`smo-abm experiment` writes results/experiments/<name>/)."""
    return Path(os.environ.get("SMO_RESULTS", "results")) / "experiments"


def finished_experiments(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*") if (p / "effects.csv").exists())


@solara.component
def ExperimentView(root: Path | None = None):
    """A finished experiment's effect table and figures, chosen from those in the results folder."""
    root = root or results_dir()
    names = finished_experiments(root)
    chosen, set_chosen = solara.use_state(names[0] if names else None)
    if not names:
        solara.Markdown(f"No finished experiment in `{root}`: run `smo-abm experiment experiments/<file>.toml`.")
        return
    solara.Select(label="experiment", values=names, value=chosen, on_value=set_chosen)
    folder = root / chosen
    eff = pd.read_csv(folder / "effects.csv")
    cols = ["variant", "effect", "unit", "effect_median", "effect_lo", "effect_hi", "pairs"]
    solara.Markdown(f"**{chosen}**: median and 90% interval of paired effects against the baseline "
                    f"(`{folder / 'report.html'}` has the full report).")
    solara.DataFrame(eff[cols].round(3), items_per_page=20)
    for fig in ("effects.png", "darien_crossings_difference.png"):
        if (folder / "figures" / fig).exists():
            solara.Image(str(folder / "figures" / fig))


def ExperimentPage(model):
    return ExperimentView()


model = solara.Reactive(DashboardModel())
page = SolaraViz(model, components=[(CrossingsChart, 0), (PipelineChart, 0), (StocksChart, 0), (ExperimentPage, 1)],
                 model_params=MODEL_PARAMS, name="Safe Mobility ABM: the Americas baseline")
