"""Set the prior of each nationality's `push` so that flows match the observed totals.

For each nationality the `push` of all its groups is shifted by damping * ln(target / model), where
the target is the fit target of targets.toml marked `fits_push` for that nationality (a one-nationality
total before a table by nationality: today FY2023 border encounters, 002 s3.2 Table 1, and for Venezuelans
and Haitians their 2023 Darien crossings), and the model value is the mean over a few seeds at the default
scale. Two or three passes converge to within a few percent. A fitting step: it reads only fit targets.
The ABC (calibration/abc.py) then fits behaviour with the push held where this step left it.

    python -m calibration.fit_push [--scenario experiments/baseline.toml] [--passes 2] [--seeds 2] [--write]

Without --write it only reports. With --write it edits the scenario's pack's populations.toml in place
(the Americas pack's by default).
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

import numpy as np

from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from calibration.posterior import load_run
from calibration.setting import BASELINE, of
from calibration.targets import headline, load_targets


def push_targets(targets: dict) -> dict[str, tuple[str, str | None]]:
    """{nationality: (target, key in its table or None)} for the fit targets marked fits_push: a
    one-nationality total takes precedence over a table by nationality."""
    out = {}
    for k, t in targets.items():
        if t.get("fits_push") and isinstance(t["value"], dict):
            for n in t["value"]:
                out.setdefault(n, (k, n))
    for k, t in targets.items():
        if t.get("fits_push") and not isinstance(t["value"], dict):
            out[t["observe"]["nationalities"][0]] = (k, None)
    return out


def observed(targets: str = "targets.toml") -> dict[str, float]:
    t = load_targets(targets, role="fit")  # a fitting step: it reads only fit targets
    return {n: float(t[k]["value"] if sub is None else t[k]["value"][sub]) for n, (k, sub) in push_targets(t).items()}


def simulated(seeds, scenario: Path = BASELINE, targets: str = "targets.toml") -> dict[str, float]:
    which = push_targets(load_targets(targets, role="fit"))
    res: dict[str, list] = {}
    for s in seeds:
        m = SafeMobilityModel(load_run(scenario, seed=s))
        m.run()
        m.release()
        head = headline(timeseries(m), name=targets, role="fit")  # each figure measured as the targets file says
        for n, (k, sub) in which.items():
            res.setdefault(n, []).append(head[k] if sub is None else head[k][sub])
    return {k: float(np.mean(v)) for k, v in res.items()}


def shift_push(text: str, nationality: str, delta: float) -> str:
    """Add delta to `push` in every [[group]] of this nationality (the file's own text is kept)."""
    pattern = r'\[\[group\]\]\nnationality = "%s"\n(?:(?!\[\[group\]\]).)*' % re.escape(nationality)
    bump = lambda block: re.sub(r"push = (-?[0-9.]+)", lambda q: f"push = {float(q.group(1)) + delta:.2f}", block.group(0))
    return re.sub(pattern, bump, text, flags=re.S)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(BASELINE), help="the scenario whose pack is fitted (default: the "
                                                               "Americas baseline)")
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--damping", type=float, default=0.9)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    cal = of(args.scenario)
    target = observed(cal.targets)
    for k in range(args.passes):
        sim = simulated(range(1, args.seeds + 1), cal.scenario, cal.targets)
        text = cal.populations.read_text()
        print(f"pass {k + 1} ({dt.datetime.now():%H:%M:%S})")
        for n, v in sim.items():
            if n not in target:
                continue
            delta = float(np.clip(args.damping * np.log(target[n] / max(v, 1.0)), -1.5, 1.5))
            print(f"  {n:12s} model {v:10.0f}  target {target[n]:10.0f}  shift {delta:+.2f}")
            text = shift_push(text, n, delta)
        if not args.write:
            break
        cal.populations.write_text(text)


if __name__ == "__main__":
    main()
