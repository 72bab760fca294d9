"""Scenarios: TOML files in experiments/, with command-line overrides, validated before anything runs.

The calibrated values a run starts from are not looked up here: a pack whose meta names a
`calibration_posterior` needs a `posterior` resolver from the code that assembles the run
(calibration/posterior.py `load_run` and `run_from_data`, used by the command line, experiments, the
dashboard and benchmarks). Without one, such a scenario is refused (PosteriorNotResolved) unless it sets
`run.use_posterior = false`: a caller that forgot the resolver fails instead of silently running with the
hand-set values of abm/params.py."""
from __future__ import annotations

import copy
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import params as P
from .errors import InputError, reject_unknown, suggest, warn
from .folders import plain_name
from .memory import check_fits
from .pack import Pack, deep_merge, load_pack, read_toml, resolve_pack_dir
from .policy import Policy, check_policies, parse_date

SECTIONS = ("run", "behaviour", "information", "network", "pack", "policy", "extends", "replace_policies", "description")
RUN_FIELDS = {"name": str, "pack": str, "start": object, "end": object, "seed": int, "scale": float, "spinup_weeks": int,
              "use_posterior": bool, "posterior_draw": int}
DEFAULT_SPINUP_WEEKS = 26  # assumption: burn-in so the pipeline of people preparing and travelling is full at the start
CLI = "command line (--set)"

#: resolves a pack's posterior: (its file, named by the pack's meta `calibration_posterior`; the draw number,
#: None for the point estimate; the pack; the scenario file errors name) -> the manifest's calibration block
#: {"posterior": ..., "values": ..., "calibrated": {"section.name": value}}; an InputError if it cannot
Resolver = Callable[[str, "int | None", Pack, Path], dict]


class PosteriorNotResolved(RuntimeError):
    """A scenario of a pack with a posterior was loaded without a resolver (and without run.use_posterior =
    false): a programming error in the caller, which must assemble the run with calibration/posterior.py."""


@dataclass
class Scenario:
    path: Path
    name: str
    pack: Pack
    start: dt.date
    end: dt.date
    seed: int
    scale: float
    spinup_weeks: int
    behaviour: dict
    information: dict
    network: dict
    policies: list[Policy]
    raw: dict          # the merged scenario table after overrides (for the manifest)
    overrides: list[str]
    calibration: dict  # where the calibrated parameters' values came from (calibration/posterior.py)
    #: (file, field, message) of what is valid but probably not meant (a policy after the run ends):
    #: load_scenario prints them as warnings, experiments once per experiment
    notes: list = field(default_factory=list)

    @property
    def n_weeks(self) -> int:
        return (self.end - self.start).days // 7 + 1

    def resolved(self) -> dict:
        """Every parameter value the run uses, for the manifest."""
        return {
            "run": {"name": self.name, "pack": str(self.pack.path), "start": self.start.isoformat(),
                    "end": self.end.isoformat(), "seed": self.seed, "scale": self.scale, "weeks": self.n_weeks,
                    "spinup_weeks": self.spinup_weeks},
            "behaviour": self.behaviour, "information": self.information, "network": self.network,
            "calibration": self.calibration,
            "policy": [{"date": p.date.isoformat(), "kind": p.kind, **p.fields} for p in self.policies],
            "pack": _jsonable(self.pack.raw),
        }


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    return x


def _read_with_extends(path: Path, seen: tuple = ()) -> dict:
    if path.resolve() in seen:
        raise InputError(path, "extends", "scenarios extend each other in a loop")
    data = read_toml(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise InputError(path, "extends", "must be the path of another scenario file")
    ppath = (path.parent / parent)
    if not ppath.exists():
        raise InputError(path, "extends", f"no scenario file at {ppath}")
    base = _read_with_extends(ppath, seen + (path.resolve(),))
    child_policies = data.pop("policy", [])
    if not isinstance(child_policies, list) or not isinstance(base.get("policy", []), list):
        raise InputError(path, "policy", "must be an array of tables ([[policy]])")
    merged = deep_merge({k: v for k, v in base.items() if k != "policy"}, {k: v for k, v in data.items() if k != "extends"})
    merged["policy"] = child_policies if data.get("replace_policies") else base.get("policy", []) + child_policies
    return merged


def parse_set(item: str) -> tuple[list[str], object]:
    if "=" not in item:
        raise InputError(CLI, item, "expected key=value")
    key, value = item.split("=", 1)
    keys = [k for k in key.strip().split(".") if k]
    if not keys:
        raise InputError(CLI, item, "empty key")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return keys, parsed


def apply_set(data: dict, keys: list[str], value, item: str):
    if keys[0] not in SECTIONS or keys[0] in ("policy", "extends"):
        raise InputError(CLI, ".".join(keys), f"unknown section {keys[0]!r} (settable: run, behaviour, information, network, pack)")
    node = data
    for k in keys[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise InputError(CLI, ".".join(keys), f"{k} is not a table")
        node = nxt
    node[keys[-1]] = value


def _check_params(data: dict, file, base: dict[str, float] | None = None) -> dict[str, dict]:
    """Parameter values: abm/params.py defaults, then `base` ({"section.name": value}, the posterior's),
    then the scenario's."""
    out = P.defaults()
    for key, v in (base or {}).items():
        sec, name = key.split(".", 1)
        out[sec][name] = float(v)
    for sec, table in P.PARAMS.items():
        given = data.get(sec, {}) or {}
        if not isinstance(given, dict):
            raise InputError(file, sec, "must be a table")
        for k, v in given.items():
            if k not in table:
                raise InputError(file, f"{sec}.{k}", f"unknown parameter {k!r}{suggest(k, table)} (known: {', '.join(table)})")
            lo, hi = table[k][1], table[k][2]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InputError(file, f"{sec}.{k}", f"must be a number, not {v!r}")
            if not (lo <= v <= hi):
                raise InputError(file, f"{sec}.{k}", f"{v!r} is outside [{lo}, {hi}]")
            if k in P.WHOLE_NUMBERS and v != int(v):
                raise InputError(file, f"{sec}.{k}", f"must be a whole number, not {v!r}")
            out[sec][k] = float(v)
    return out


def load_scenario(path, overrides: list[str] | None = None, scale: float | None = None,
                  seed: int | None = None, posterior: Resolver | None = None) -> Scenario:
    """Read, override and validate a scenario; an error in a value set with --set names the command line.
    `posterior`: how the calibrated values are found, for a pack that has a posterior (see the module's doc)."""
    set_paths = [".".join(parse_set(o)[0]) for o in overrides or [] if "=" in o]
    flags = {"run.scale": "--scale"} if scale is not None else {}
    flags.update({"run.seed": "--seed"} if seed is not None else {})
    try:
        sc = _load(Path(path), overrides, scale, seed, posterior=posterior)
    except InputError as e:
        name = e.field
        if e.file != str(path):
            raise  # only errors blamed on the scenario can come from the command line (not a pack's own files)
        if name in flags:
            raise InputError("command line", flags[name], e.message) from None
        for k in set_paths:
            if name == k or name.startswith(k + ".") or k.startswith(name + "."):
                raise InputError(CLI, name, e.message) from None
        raise
    for note in sc.notes:
        warn(*note)
    return sc


def read_scenario_data(path) -> dict:
    """A scenario file as a table, with the files it `extends` merged in (nothing validated yet)."""
    return _read_with_extends(Path(path))


def scenario_from_data(data: dict, path, overrides: list[str] | None = None, scale: float | None = None,
                       seed: int | None = None, posterior: Resolver | None = None) -> Scenario:
    """Validate a scenario table built in code (experiments/ builds variants this way); `path` is the
    file errors name and relative paths start from; `posterior` as for load_scenario."""
    return _load(Path(path), overrides, scale, seed, data=data, posterior=posterior)


def _load(path: Path, overrides, scale, seed, data: dict | None = None, posterior: Resolver | None = None) -> Scenario:
    data = copy.deepcopy(_read_with_extends(path) if data is None else data)
    overrides = list(overrides or [])
    set_keys = []
    for item in overrides:
        keys, value = parse_set(item)
        apply_set(data, keys, value, item)
        set_keys.append(keys[0])
    if scale is not None:
        data.setdefault("run", {})["scale"] = scale
    if seed is not None:
        data.setdefault("run", {})["seed"] = seed
    # errors in values that came from --set still name the scenario file and the field
    file = path
    reject_unknown(file, "", {k: v for k, v in data.items() if k not in ("extends", "replace_policies", "description")},
                   [s for s in SECTIONS if s not in ("extends", "replace_policies", "description")], "section")
    run = data.get("run")
    if not isinstance(run, dict):
        raise InputError(file, "run", "missing [run] table")
    reject_unknown(file, "run.", run, list(RUN_FIELDS))
    for k in ("pack", "start", "end"):
        if k not in run:
            raise InputError(file, f"run.{k}", "missing")
    start = parse_date(run["start"], file, "run.start")
    end = parse_date(run["end"], file, "run.end")
    if end <= start:
        raise InputError(file, "run.end", f"{end} is not after run.start ({start})")
    if (end - start).days > 366 * 30:
        raise InputError(file, "run.end", "runs longer than 30 years are out of range")
    seed = run.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(file, "run.seed", f"must be a non-negative whole number, not {seed!r}")
    scale = run.get("scale", 0.01)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0 < scale <= 1):
        raise InputError(file, "run.scale", f"agents per person must be in (0, 1], not {scale!r}")
    spin = run.get("spinup_weeks", DEFAULT_SPINUP_WEEKS)
    if isinstance(spin, bool) or not isinstance(spin, int) or not (0 <= spin <= 520):
        raise InputError(file, "run.spinup_weeks", f"must be a whole number of weeks in [0, 520], not {spin!r}")
    if not isinstance(run["pack"], str):
        raise InputError(file, "run.pack", "must be a pack name or path")
    pack_over = data.get("pack", {}) or {}
    if not isinstance(pack_over, dict):
        raise InputError(file, "pack", "must be a table of overrides to the region pack")
    pack_dir = resolve_pack_dir(run["pack"], path)
    try:
        pack = load_pack(pack_dir, pack_over, origin=file)
    except InputError as e:
        if e.file != str(file) or e.field.startswith("pack"):
            raise
        # blamed on the scenario's [pack] overrides: name the key as the scenario (or --set) writes it
        raise InputError(e.file, f"pack.{e.field}", e.message) from None
    base, calibration = _posterior(run, pack, file, posterior)
    pars = _check_params(data, file, base)
    policies = data.get("policy", []) or []
    if not isinstance(policies, list):
        raise InputError(file, "policy", "must be an array of tables ([[policy]])")
    pols = check_policies(policies, pack, file)
    n_weeks = (end - start).days // 7 + 1
    check_fits(file, pack, float(scale), n_weeks)  # before anything is allocated
    return Scenario(path=path, name=plain_name(file, "run.name", run.get("name", path.stem)), pack=pack, start=start, end=end,
                    seed=int(seed), scale=float(scale), spinup_weeks=spin, behaviour=pars["behaviour"],
                    information=pars["information"], network=pars["network"], policies=pols,
                    raw=_jsonable(data), overrides=overrides, calibration=calibration,
                    notes=_late_policies(policies, end, file))


def _late_policies(entries: list, end: dt.date, file) -> list[tuple]:
    """A note for each policy dated after the run ends: it never applies (a shortened run keeps its
    scenario's timeline, so this is a warning, not an error). Policies dated before the first week
    apply in that week, as intended (abm/policy.py Timeline)."""
    out = []
    for i, e in enumerate(entries):
        date = parse_date(e["date"], file, f"policy[{i}].date")
        if date > end:
            out.append((file, f"policy[{i}].date", f"{date} is after the run ends ({end}); it is not applied"))
    return out


def _posterior(run: dict, pack: Pack, file, resolve: Resolver | None) -> tuple[dict, dict]:
    """The calibrated values a run starts from, found by `resolve` (the posterior's point estimate, or draw
    `run.posterior_draw` from it); none if the pack has no posterior or `run.use_posterior` is false."""
    use = run.get("use_posterior", True)
    if not isinstance(use, bool):
        raise InputError(file, "run.use_posterior", f"must be true or false, not {use!r}")
    k = run.get("posterior_draw")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
        raise InputError(file, "run.posterior_draw", f"must be a whole number >= 0, not {k!r}")
    name = pack.raw.get("meta", {}).get("calibration_posterior")
    if not use or not name:
        if k is not None:
            raise InputError(file, "run.posterior_draw", "this run uses no posterior (the pack has none, or run.use_posterior is false)")
        return {}, {"posterior": None, "values": "abm/params.py defaults"}
    if resolve is None:
        raise PosteriorNotResolved(
            f"{file}: pack {pack.path.name!r} takes its calibrated parameters from {name!r} (meta calibration_posterior), "
            "but the scenario was loaded without a posterior resolver: load it with calibration.posterior.load_run "
            "(or run_from_data), or set run.use_posterior = false for the hand-set values of abm/params.py")
    block = resolve(name, k, pack, file)
    values = block["calibrated"]
    for key in values:  # the resolver checks them against the posterior's file; this guards _check_params
        sec, _, pname = key.partition(".")
        if sec not in P.PARAMS or pname not in P.PARAMS[sec]:
            raise InputError(block["posterior"], key, "unknown parameter in the posterior")
    return values, block
