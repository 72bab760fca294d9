"""Experiment files: a baseline scenario, named variants that change it, replicates and posterior draws.

An experiment file (TOML) has three parts; `eligibility_expansion.toml` is a worked example.

    [experiment]   name, description, replicates, draws (posterior draws; 0 = the point estimate; default
                   DEFAULT_DRAWS when the baseline has a posterior, else 0), seed, scale (default: the baseline scenario's), window = {start, end} (the dates
                   outputs are counted over; default the whole run), outputs (default: all of
                   experiments.measures.OUTPUTS)
    [baseline]     scenario = "baseline.toml" (a scenario file, relative to the experiment file), and
                   changes to it that every run shares (same keys as a variant; `run` may be set here only)
    [[variant]]    name, description, and the changes it makes to the baseline:
                   behaviour / information / network / pack   tables merged over the scenario's
                   policy = [ ... ]          policies added to the timeline (as in a scenario)
                   drop_policy = [ ... ]     baseline policies removed: each filter has `kind` and may
                                             name `topic`, `office`, `from` and `until` (dates, inclusive);
                                             a filter that matches nothing is an error
                   multiply = { "pack.offices.*.assess_per_week" = 2.0 }   pack figures scaled (`*` is
                                             every key at that level)
                   scale_policy = [{ kind, field, factor, segment, office, from, until }]   a field of
                                             the baseline's dated policies scaled (e.g. the interception
                                             of `segment_set` policies, with `segment = "cmr_*"`)
                   combine = ["a", "b"]      apply earlier variants' changes first (in that order)
                   office_decision_months = 6   the offices take 6 months to decide an assessed case: the
                                             actual wait (sets pack.resettlement.decision_weeks; experiments/waits.py)
                   willing_to_wait_days = 90    people are willing to wait 90 days (sets
                                             behaviour.tolerated_wait_weeks; experiments/waits.py)

Every variant is checked by building its scenario for every posterior draw before anything runs, so a
malformed file fails at once, naming the experiment file and the field.
"""
from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from abm.errors import InputError, reject_unknown, warn
from abm.folders import plain_name
from abm.memory import check_fits
from abm.pack import check_overrides, deep_merge, load_pack, read_pack_dir, read_toml, resolve_pack_dir
from abm.policy import parse_date
from abm.scenario import Scenario, read_scenario_data
from calibration import posterior
from calibration.posterior import run_from_data

from .measures import OUTPUTS, labels_of, words
from .waits import DECISION_LEVER, WILLING_LEVER, apply_levers

DEFAULT_DRAWS = 4   # posterior draws of an experiment whose file does not say (issue 17: parameter uncertainty by default)
EXPERIMENT_FIELDS = {"name", "description", "replicates", "draws", "seed", "scale", "window", "outputs"}
CHANGE_FIELDS = {"behaviour", "information", "network", "pack", "policy", "drop_policy", "multiply", "scale_policy",
                 "combine", DECISION_LEVER, WILLING_LEVER}
VARIANT_FIELDS = {"name", "description"} | CHANGE_FIELDS
BASELINE_FIELDS = {"scenario", "run"} | CHANGE_FIELDS - {"combine"}
DROP_FIELDS = {"kind", "topic", "office", "segment", "from", "until"}
SCALE_FIELDS = {"kind", "segment", "office", "from", "until", "field", "factor"}
BASELINE = "baseline"
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_RUNS = 100_000


@dataclass
class Variant:
    name: str
    description: str
    changes: dict            # the variant's own table (without name/description)


@dataclass
class Task:
    """One run: a variant's scenario for one replicate and one posterior draw."""
    variant: str
    replicate: int
    draw: int                # -1: the posterior's point estimate (or no posterior)
    seed: int
    scenario: Scenario
    window: tuple[dt.date, dt.date]
    key: str = ""            # identifies the inputs: a finished run file with this key is not run again
    outputs: tuple = ()      # the outputs a finished run file must hold

    @property
    def stem(self) -> str:
        return f"rep{self.replicate:03d}-draw{self.draw:03d}" if self.draw >= 0 else f"rep{self.replicate:03d}-point"


@dataclass
class Experiment:
    path: Path
    name: str
    description: str
    replicates: int
    draws: int
    seed: int
    scale: float
    window: tuple[dt.date, dt.date]
    outputs: list[str]
    baseline_data: dict      # scenario table of the experiment's baseline, changes applied
    variants: list[Variant]  # not counting the baseline
    raw: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)  # the pack's words for its crossing, office and pathway (Pack.labels)
    packs: dict = field(default_factory=dict, repr=False)  # the region packs' own tables, read once, by name

    @property
    def crossings(self) -> str:
        return words(self.labels)["crossings"]

    @property
    def names(self) -> list[str]:
        return [BASELINE] + [v.name for v in self.variants]

    @property
    def draw_ids(self) -> list[int]:
        return list(range(self.draws)) if self.draws > 0 else [-1]

    def seed_of(self, replicate: int, draw: int) -> int:
        """The seed of a (replicate, draw): the same for every variant (common random numbers)."""
        return int(np.random.SeedSequence([self.seed, replicate, draw + 1]).generate_state(1)[0])

    def scenario(self, variant: str, draw: int, seed: int | None = None) -> Scenario:
        data = self.variant_data(variant)
        data["run"]["name"] = f"{self.name}:{variant}"
        data["run"]["scale"] = self.scale
        if draw >= 0:
            data["run"]["posterior_draw"] = draw
        if seed is not None:
            data["run"]["seed"] = seed
        where = self.path if variant == BASELINE else f"{self.path} (variant {variant!r})"
        try:
            return run_from_data(data, self.baseline_path)
        except InputError as e:
            raise InputError(where, e.field, f"{e.message} (in the scenario built from {e.file})") from None

    @property
    def baseline_path(self) -> Path:
        return self.path.parent / self.raw["baseline"]["scenario"]

    def variant_data(self, name: str) -> dict:
        if name == BASELINE:
            return copy.deepcopy(self.baseline_data)
        by_name = {v.name: v for v in self.variants}
        return apply_changes(self, copy.deepcopy(self.baseline_data), by_name[name], by_name, ())

    def tasks(self) -> list[Task]:
        from .measures import task_key

        out = []
        for draw in self.draw_ids:
            scenarios = {v: self.scenario(v, draw) for v in self.names}  # validated once per draw
            for rep in range(self.replicates):
                seed = self.seed_of(rep, draw)
                for v in self.names:
                    sc = copy.copy(scenarios[v])
                    sc.seed = seed
                    t = Task(v, rep, draw, seed, sc, self.window, outputs=tuple(self.outputs))
                    t.key = task_key(t)
                    out.append(t)
        return out


# --- reading and checking ---

def _int(file, where, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int) or not (lo <= v <= hi):
        raise InputError(file, where, f"must be a whole number in [{lo}, {hi}], not {v!r}")
    return v


def load_experiment(path, replicates: int | None = None, draws: int | None = None,
                    scale: float | None = None, runs_at_once: int = 1) -> Experiment:
    """Read and check an experiment file, and build every variant's scenario once (so errors show now).
    `runs_at_once`: how many runs will share this machine's memory (a LocalCluster's workers)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file", "no such experiment file")
    raw = read_toml(path)
    reject_unknown(path, "", raw, ["experiment", "baseline", "variant"], "table")
    head = raw.get("experiment")
    if not isinstance(head, dict):
        raise InputError(path, "experiment", "missing [experiment] table")
    reject_unknown(path, "experiment.", head, sorted(EXPERIMENT_FIELDS))
    name = head.get("name", path.stem)
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(path, "experiment.name", f"must be letters, digits, '_', '-' or '.', not {name!r}")
    plain_name(path, "experiment.name", name)  # it names the folder results/experiments/<name>
    reps = _int(path, "experiment.replicates", head.get("replicates", 10), 1, 10_000)
    # draws: the file's, else DEFAULT_DRAWS when the baseline has a posterior (set below, once it is known), so
    # that an experiment's intervals carry parameter uncertainty unless the file says otherwise
    ndraws = _int(path, "experiment.draws", head["draws"], 0, 10_000) if "draws" in head else None
    seed = _int(path, "experiment.seed", head.get("seed", 1), 0, 2**32 - 1)
    if replicates is not None:
        reps = _int("command line", "--replicates", replicates, 1, 10_000)
    if draws is not None:
        ndraws = _int("command line", "--draws", draws, 0, 10_000)
    outputs = head.get("outputs", list(OUTPUTS))
    if not isinstance(outputs, list) or not outputs:
        raise InputError(path, "experiment.outputs", "must be a non-empty list of output names")
    for o in outputs:
        if o not in OUTPUTS:
            raise InputError(path, "experiment.outputs", f"unknown output {o!r} (known: {', '.join(OUTPUTS)})")
    base = raw.get("baseline")
    if not isinstance(base, dict) or "scenario" not in base:
        raise InputError(path, "baseline.scenario", "missing: the scenario file the variants change")
    if not isinstance(base["scenario"], str) or not (path.parent / base["scenario"]).exists():
        raise InputError(path, "baseline.scenario", f"no scenario file {base['scenario']!r} beside the experiment file")
    reject_unknown(path, "baseline.", base, sorted(BASELINE_FIELDS))
    exp = Experiment(path=path, name=name, description=str(head.get("description", "")), replicates=reps,
                     draws=ndraws or 0, seed=seed, scale=0.0, window=(dt.date.min, dt.date.max), outputs=outputs,
                     baseline_data={}, variants=[], raw=raw)
    try:
        data = read_scenario_data(exp.baseline_path)
    except InputError as e:
        raise InputError(path, "baseline.scenario", f"{e.file}: {e.field}: {e.message}") from None
    run = base.get("run", {})
    if not isinstance(run, dict):
        raise InputError(path, "baseline.run", "must be a table")
    data["run"] = {**data.get("run", {}), **run}
    exp.baseline_data = apply_changes(exp, data, Variant(BASELINE, "", base), {}, (), where="baseline")
    exp.scale = _scale(path, head, data, scale)
    exp.variants = _variants(exp, raw.get("variant", []))
    sc = exp.scenario(BASELINE, -1)
    if runs_at_once > 1:  # each scenario checked that one run fits; side by side they share the memory
        check_fits(path, sc.pack, exp.scale, sc.n_weeks, runs_at_once, field="experiment.scale")
    exp.labels = labels_of(sc.pack)
    exp.window = _window(path, head.get("window"), sc)
    if ndraws is None:
        ndraws = exp.draws = DEFAULT_DRAWS if sc.calibration.get("posterior") else 0
    if ndraws > 0 and not sc.calibration.get("posterior"):
        raise InputError(path, "experiment.draws", "the baseline uses no posterior (its pack has none, or "
                                                   "run.use_posterior is false): set draws = 0")
    if ndraws > 0 and ndraws > (size := posterior.size(sc.pack.raw["meta"]["calibration_posterior"])):
        where = ("command line", "--draws") if draws is not None else (path, "experiment.draws")
        raise InputError(*where, f"the posterior has {size} draws: at most {size}, not {ndraws}")
    n = len(exp.names) * reps * len(exp.draw_ids)
    if n > MAX_RUNS:
        raise InputError(path, "experiment.replicates", f"{n} runs is more than {MAX_RUNS}")
    notes = {}
    for v in exp.names:          # every variant builds, for every draw (its posterior values differ)
        for d in exp.draw_ids:
            for _, fld, msg in exp.scenario(v, d).notes:  # warned once each, naming the first variant with it
                notes.setdefault((fld, msg), path if v == BASELINE else f"{path} (variant {v!r})")
    for (fld, msg), where in notes.items():
        warn(where, fld, msg)
    return exp


def _scale(path, head, data, scale):
    s = scale if scale is not None else head.get("scale", data.get("run", {}).get("scale", 0.01))
    where = ("command line", "--scale") if scale is not None else (path, "experiment.scale")
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not (0 < s <= 1):
        raise InputError(*where, f"agents per person must be in (0, 1], not {s!r}")
    return float(s)


def _window(path, w, sc: Scenario) -> tuple[dt.date, dt.date]:
    if w is None:
        return sc.start, sc.end
    if not isinstance(w, dict) or set(w) - {"start", "end"}:
        raise InputError(path, "experiment.window", "must be a table {start = date, end = date}")
    a = parse_date(w.get("start", sc.start), path, "experiment.window.start")
    b = parse_date(w.get("end", sc.end), path, "experiment.window.end")
    if not (sc.start <= a < b <= sc.end):
        raise InputError(path, "experiment.window", f"{a} to {b} is not a period within the run ({sc.start} to {sc.end})")
    return a, b


def _variants(exp: Experiment, entries) -> list[Variant]:
    path = exp.path
    if not isinstance(entries, list) or not entries:
        raise InputError(path, "variant", "at least one [[variant]] table is needed")
    out: list[Variant] = []
    for i, e in enumerate(entries):
        where = f"variant[{i}]"
        if not isinstance(e, dict):
            raise InputError(path, where, "must be a table")
        name = e.get("name")
        if not isinstance(name, str) or not NAME.match(name) or name == BASELINE:
            raise InputError(path, f"{where}.name", f"a name of letters, digits, '_', '-', '.' (not 'baseline'), not {name!r}")
        if name in {v.name for v in out}:
            raise InputError(path, f"{where}.name", f"two variants are called {name!r}")
        reject_unknown(path, f"{where}.", e, sorted(VARIANT_FIELDS))
        if "run" in e:
            raise InputError(path, f"{where}.run", "variants share the baseline's run (dates, scale, seed): set it in [baseline.run]")
        for c in e.get("combine", []) if isinstance(e.get("combine", []), list) else [None]:
            if c not in {v.name for v in out}:
                raise InputError(path, f"{where}.combine", f"{c!r} is not a variant defined above this one")
        changes = {k: v for k, v in e.items() if k not in ("name", "description")}
        if not changes:
            raise InputError(path, where, f"variant {name!r} changes nothing")
        out.append(Variant(name, str(e.get("description", "")), changes))
    return out


def apply_changes(exp: Experiment, data: dict, v: Variant, by_name: dict, seen: tuple, where: str | None = None) -> dict:
    """The scenario table `data` with variant `v`'s changes applied (combined variants' first)."""
    path = exp.path
    where = where or f"variant {v.name!r}"
    ch = v.changes
    for c in ch.get("combine", []):
        data = apply_changes(exp, data, by_name[c], by_name, seen + (v.name,))
    for sec in ("behaviour", "information", "network", "pack"):
        if sec in ch:
            if not isinstance(ch[sec], dict):
                raise InputError(path, f"{where}.{sec}", "must be a table")
            if sec == "pack":
                _check_pack_changes(exp, data, ch[sec], f"{where}.pack")
            data[sec] = deep_merge(data.get(sec, {}) or {}, ch[sec])
    if "drop_policy" in ch:
        data["policy"] = _drop(path, f"{where}.drop_policy", data.get("policy", []), ch["drop_policy"])
    if "policy" in ch:
        if not isinstance(ch["policy"], list):
            raise InputError(path, f"{where}.policy", "must be an array of tables ([[...policy]])")
        data["policy"] = list(data.get("policy", [])) + copy.deepcopy(ch["policy"])
    if "multiply" in ch:
        _multiply(path, f"{where}.multiply", data, ch["multiply"])
    if "scale_policy" in ch:
        data["policy"] = _scale_policies(path, f"{where}.scale_policy", data.get("policy", []), ch["scale_policy"])
    return apply_levers(path, where, data, ch)


def _check_pack_changes(exp: Experiment, data: dict, changes: dict, where: str):
    """A variant's (or the baseline's) pack changes use only keys of the pack schema and names of the pack
    the scenario `data` runs on (with its own [pack] overrides): else every effect would silently be 0."""
    run = data.get("run")
    name = run.get("pack") if isinstance(run, dict) else None
    if not isinstance(name, str):
        return  # the scenario's own checks report a missing or malformed run.pack
    if name not in exp.packs:
        exp.packs[name] = read_pack_dir(resolve_pack_dir(name, exp.baseline_path))
    base = deep_merge(exp.packs[name], data.get("pack") or {}) if isinstance(data.get("pack"), dict) else exp.packs[name]
    try:
        check_overrides(exp.path, changes, base)
    except InputError as e:
        raise InputError(exp.path, f"{where}.{e.field}", e.message) from None


def _matcher(path, w: str, f: dict):
    """Whether a baseline policy matches filter `f`: its kind, the `topic`, `office` and `segment` named
    (`*` allowed), and its date within `from` and `until` (inclusive)."""
    lo = parse_date(f["from"], path, f"{w}.from") if "from" in f else dt.date.min
    hi = parse_date(f["until"], path, f"{w}.until") if "until" in f else dt.date.max

    def hit(p) -> bool:
        if not isinstance(p, dict) or p.get("kind") != f["kind"]:
            return False
        if any(k in f and not fnmatch.fnmatchcase(str(p.get(k, "")), str(f[k])) for k in ("topic", "office", "segment")):
            return False
        try:
            return lo <= parse_date(p.get("date"), path, w) <= hi
        except InputError:
            return False

    return hit


def _drop(path, where, policies: list, filters) -> list:
    if not isinstance(filters, list):
        raise InputError(path, where, "must be an array of tables, each with a `kind`")
    keep = list(policies)
    for i, f in enumerate(filters):
        w = f"{where}[{i}]"
        if not isinstance(f, dict) or "kind" not in f:
            raise InputError(path, w, "a filter is a table with at least `kind`")
        reject_unknown(path, f"{w}.", f, sorted(DROP_FIELDS), "filter field")
        hit = _matcher(path, w, f)
        if not any(hit(p) for p in keep):
            raise InputError(path, w, f"matches no policy of the baseline ({f})")
        keep = [p for p in keep if not hit(p)]
    return keep


def _scale_policies(path, where, policies: list, specs) -> list:
    """Scale `field` by `factor` in the dated policies matching each spec (as a drop_policy filter does);
    a spec that changes nothing is an error."""
    if not isinstance(specs, list):
        raise InputError(path, where, "must be an array of tables, each with kind, field and factor")
    out = copy.deepcopy(policies)
    for i, s in enumerate(specs):
        w = f"{where}[{i}]"
        if not isinstance(s, dict) or not {"kind", "field", "factor"} <= set(s):
            raise InputError(path, w, "a table with at least kind, field and factor")
        reject_unknown(path, f"{w}.", s, sorted(SCALE_FIELDS))
        f = s["factor"]
        if isinstance(f, bool) or not isinstance(f, (int, float)) or f < 0:
            raise InputError(path, f"{w}.factor", f"must be a non-negative number, not {f!r}")
        hit = _matcher(path, w, s)
        scaled = [p for p in out if hit(p) and isinstance(p.get(s["field"]), (int, float))]
        if not scaled:
            raise InputError(path, w, f"matches no baseline policy with a {s['field']!r} to scale ({s})")
        for p in scaled:
            p[s["field"]] = p[s["field"]] * f
    return out


def _multiply(path, where, data: dict, table):
    if not isinstance(table, dict) or not table:
        raise InputError(path, where, 'must be a table like {"pack.offices.*.assess_per_week" = 2.0}')
    run = data.get("run", {})
    pack = load_pack(resolve_pack_dir(run.get("pack", ""), path), data.get("pack", {}) or {}, origin=path)
    for key, factor in table.items():
        keys = key.split(".")
        if keys[0] != "pack" or len(keys) < 2:
            raise InputError(path, f"{where}.{key}", "only pack figures can be multiplied (keys start with 'pack.')")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
            raise InputError(path, f"{where}.{key}", f"the factor must be a non-negative number, not {factor!r}")
        hits = _find(pack.raw, keys[1:], [])
        if not hits:
            raise InputError(path, f"{where}.{key}", "matches no figure of the pack")
        for trail, value in hits:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(path, f"{where}.{key}", f"{'.'.join(trail)} is not a number")
            node = data.setdefault("pack", {})
            for k in trail[:-1]:
                node = node.setdefault(k, {})
            node[trail[-1]] = value * factor


def _find(node, keys: list[str], trail: list[str]):
    if not keys:
        return [(trail, node)]
    if not isinstance(node, dict):
        return []
    out = []
    for k in node:
        if fnmatch.fnmatchcase(str(k), keys[0]) and k != "sources":
            out += _find(node[k], keys[1:], trail + [str(k)])
    return out
