"""What a calibration fits: a scenario, and its pack's targets, priors and posterior files.

A pack opts in to calibration with meta `calibration_targets` (a targets file in calibration/, the format of
calibration/targets.toml); `calibration_priors` names its priors file (default priors.toml) and
`calibration_posterior` the posterior its runs use (default `<pack>_posterior.csv` until it exists: a pack
names it in its meta once `smo-abm calibrate --scenario ...` has written it). Everything in calibration/
that fits, checks or reports takes one of these, so the same commands fit any pack.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIR = Path(__file__).parent
BASELINE = ROOT / "experiments" / "baseline.toml"


@dataclass(frozen=True)
class Calibration:
    scenario: Path      # the scenario whose runs are fitted (its pack, dates and policies)
    pack: str           # the pack's name
    targets: str        # targets file, in calibration/
    priors: Path        # priors file
    posterior: str      # posterior file (csv), in calibration/, written by `smo-abm calibrate`
    populations: Path   # the pack's populations.toml (calibration/fit_push.py edits its push values)

    @property
    def posterior_csv(self) -> Path:
        return DIR / self.posterior

    @property
    def posterior_meta(self) -> Path:
        return self.posterior_csv.with_suffix(".json")

    def rel(self, path: Path) -> str:
        """A path as the project's manifests give it: relative to the repository when inside it."""
        path = Path(path).resolve()
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def of(scenario=BASELINE) -> Calibration:
    """The calibration of `scenario`'s pack; an InputError naming the pack's file if it has no targets, and
    naming the targets file and field if a target names a place or nationality the pack does not hold."""
    from abm.errors import InputError
    from abm.scenario import load_scenario

    sc = load_scenario(scenario, overrides=["run.use_posterior=false"])
    meta = sc.pack.raw.get("meta", {})
    pack_file = sc.pack.path / "pack.toml"
    if not meta.get("calibration_targets"):
        raise InputError(pack_file, "meta.calibration_targets",
                         f"pack {meta.get('name', sc.pack.path.name)!r} names no calibration targets file: nothing to fit")
    name = meta.get("name", sc.pack.path.name)
    cal = Calibration(scenario=Path(scenario).resolve(), pack=name, targets=meta["calibration_targets"],
                      priors=DIR / meta.get("calibration_priors", "priors.toml"),
                      posterior=meta.get("calibration_posterior", f"{name}_posterior.csv"),
                      populations=sc.pack.path / "populations.toml")
    check_priors(cal.priors)
    check_against_pack(cal, sc.pack)
    return cal


def check_priors(path: Path) -> None:
    """A priors file as calibration reads it: each `[section.name]` a parameter of abm/params.py with a known
    distribution, lo < hi (lo > 0 for a log-uniform), and a reason; an InputError names the file and field."""
    from abm import params as P
    from abm.errors import InputError, reject_unknown
    from abm.pack import read_toml

    raw = read_toml(path)
    for sec, table in raw.items():
        if sec not in P.PARAMS or not isinstance(table, dict):
            raise InputError(path, sec, f"not a section of abm/params.py ({', '.join(P.PARAMS)})")
        for name, spec in table.items():
            where = f"{sec}.{name}"
            if name not in P.PARAMS[sec]:
                raise InputError(path, where, f"not a parameter of section {sec!r} in abm/params.py")
            if not isinstance(spec, dict):
                raise InputError(path, where, "must be a table (dist, lo, hi, reason)")
            reject_unknown(path, f"{where}.", spec, ["dist", "lo", "hi", "reason"])
            for k in ("dist", "lo", "hi", "reason"):
                if k not in spec:
                    raise InputError(path, f"{where}.{k}", "missing")
            if spec["dist"] not in ("uniform", "loguniform"):
                raise InputError(path, f"{where}.dist", f"must be uniform or loguniform, not {spec['dist']!r}")
            lo, hi = spec["lo"], spec["hi"]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) or not lo < hi:
                raise InputError(path, f"{where}.hi", f"the range must be numbers with lo < hi, not [{lo!r}, {hi!r}]")
            if spec["dist"] == "loguniform" and lo <= 0:
                raise InputError(path, f"{where}.lo", "a log-uniform prior needs lo > 0")


def check_against_pack(cal: Calibration, pack) -> None:
    """Every place and nationality a target's observation names is one of the pack's (a misspelt host would
    silently measure nothing)."""
    from abm.errors import InputError

    from .targets import load_targets

    path = DIR / cal.targets

    def walk(spec, where):
        for n in spec.get("nationalities", []):
            if n not in pack.nationalities:
                raise InputError(path, f"{where}.nationalities", f"unknown nationality {n!r} in pack {cal.pack!r}")
        for h in spec.get("hosts", []):
            if h not in pack.places:
                raise InputError(path, f"{where}.hosts", f"unknown place {h!r} in pack {cal.pack!r}")
        for part in ("numerator", "denominator"):
            if part in spec:
                walk(spec[part], f"{where}.{part}")

    for k, t in load_targets(cal.targets).items():
        walk(t["observe"], f"{k}.observe")
        if t["observe"].get("by") == "nationality":
            for n in t["value"]:
                if n not in pack.nationalities:
                    raise InputError(path, f"{k}.value", f"unknown nationality {n!r} in pack {cal.pack!r}")
