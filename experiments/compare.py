"""Two settings side by side: paired runs of two scenarios on common seeds, and the differences in headline
outcomes, in people, with their spread over seeds.

The dashboard's comparison view runs this. Its outcomes and differences are an experiment's, by the same functions
(measures.measure over the same window, effects.effects, outcomes.effect_cell to write them): setting A plays the
baseline, so "crossings averted" is A's crossings minus B's, and the interval is the 90% interval of the paired
differences over the seeds. The window is the experiment's when a setting is an experiment's variant (both: the
weeks their windows share), else the weeks both runs cover (an experiment file without a window counts its whole
run too), so a variant compared with its experiment's baseline on the experiment's seeds reads as in its report.
Both settings run with the same seeds, so every pair shares its people, ties and random draws (abm/crn.py) and
differs only where the settings do. A setting is a scenario file of the same pack (a file that `extends` the baseline), a variant of an experiment
file (at the posterior's point estimate; an experiment runs posterior draws too), or anything else that makes
a scenario from (seed, scale), such as the dashboard's controls.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from abm.errors import InputError
from abm.scenario import Scenario
from calibration.posterior import load_run

from .design import BASELINE, load_experiment
from .effects import effects
from .measures import OUTPUTS, labels_of, measure, words

#: the outcomes the comparison reports, in this order (every experiment output)
HEADLINE = list(OUTPUTS)
#: weekly series kept for the charts
SERIES = ("darien_crossings", "smo_registrations")


@dataclass
class Setting:
    label: str
    make: Callable[[int, float], Scenario]  # (seed, scale) -> scenario
    window: tuple | None = None             # the weeks its outcomes count (an experiment's window); None: the run


@dataclass
class Comparison:
    a: str
    b: str
    seeds: list[int]
    window: tuple
    table: pd.DataFrame         # one row per outcome: levels of A and B, and B's paired effect (effects.effects)
    dates: list                 # weeks of the window
    series: dict                # {"a"/"b": {metric: seeds x weeks array}}, people per week
    labels: dict = dataclasses.field(default_factory=dict)  # the pack's words (Pack.labels)

    @property
    def crossings(self) -> str:
        return words(self.labels)["crossings"]


def scenario_setting(path: Path) -> Setting:
    return Setting(f"scenario: {path.stem}", lambda seed, scale: load_run(path, seed=seed, scale=scale))


def variant_setting(exp, variant: str) -> Setting:
    def make(seed, scale):
        return dataclasses.replace(exp, scale=scale).scenario(variant, draw=-1, seed=seed)
    return Setting(f"{exp.name}: {variant}", make, exp.window)


def settings_for(baseline: Path, folder: Path | None = None) -> list[Setting]:
    """The baseline, the other scenario files in `folder` with the same pack, and every variant (baseline
    included) of the experiment files there whose baseline is a scenario of that pack. Files that do not
    load are left out (`smo-abm experiment FILE` says what is wrong with them)."""
    folder = folder or baseline.parent
    pack = load_run(baseline).pack.path
    scenarios, variants = [], []
    for f in sorted(folder.glob("*.toml")):
        if f.resolve() == baseline.resolve():
            continue
        try:
            exp = load_experiment(f)
        except InputError:
            try:
                if load_run(f).pack.path == pack:
                    scenarios.append(scenario_setting(f))
            except InputError:
                pass
            continue
        if load_run(exp.baseline_path).pack.path == pack:
            variants.extend(variant_setting(exp, v) for v in exp.names)
    return [Setting("baseline", scenario_setting(baseline).make)] + scenarios + variants


def shared_window(a: Setting, b: Setting, scenarios) -> tuple:
    """The weeks both runs cover, within the window of each setting that has one (an experiment's)."""
    spans = [(sc.start, sc.end) for sc in scenarios] + [s.window for s in (a, b) if s.window is not None]
    window = (max(w[0] for w in spans), min(w[1] for w in spans))
    if window[0] > window[1]:
        raise InputError("comparison", "settings", f"{a.label!r} and {b.label!r} share no weeks")
    return window


def compare(a: Setting, b: Setting, seeds, scale: float, progress: Callable[[float], None] | None = None) -> Comparison:
    """Run A and B on each seed; outcomes over the weeks both runs record."""
    from abm.model import SafeMobilityModel

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("comparison", "seeds", "at least one seed is needed")
    rows, series, labels, window, done = [], {"a": {}, "b": {}}, None, None, 0
    for r, seed in enumerate(seeds):
        pair = {"a": a.make(seed, scale), "b": b.make(seed, scale)}
        if window is None:
            window = shared_window(a, b, pair.values())
        for side, sc in pair.items():
            model = SafeMobilityModel(sc)
            model.run()
            labels = labels_of(model.pack)
            out, weekly = measure(model, window)
            model.release()
            rows += [{"variant": BASELINE if side == "a" else "B", "replicate": r, "draw": -1, "seed": seed,
                      "output": o, "value": v} for o, v in out.items()]
            inside = [i for i, d in enumerate(weekly["date"]) if window[0].isoformat() <= d <= window[1].isoformat()]
            dates = [weekly["date"][i] for i in inside]
            for k in SERIES:
                series[side].setdefault(k, []).append(np.asarray(weekly[k])[inside])
            done += 1
            if progress:
                progress(done / (2 * len(seeds)))
    series = {side: {k: np.vstack(v) for k, v in d.items()} for side, d in series.items()}
    table = effects(pd.DataFrame(rows), HEADLINE, labels)
    return Comparison(a.label, b.label, seeds, window, table, dates, series, labels)
