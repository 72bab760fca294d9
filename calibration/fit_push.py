"""Set the prior of each nationality's `push` so that flows match the observed totals.

For each nationality the `push` of all its groups is shifted by damping * ln(target / model), where
the target is its FY2023 border encounters (002 s3.2 Table 1), or for Venezuelans and Haitians their 2023
Darien crossings (002 s6.2; americas_context.toml for Haitians, whose Border Patrol encounters miss them), and the model value is the mean over a few seeds at the default scale. Two or
three passes converge to within a few percent. This sets a starting point (a prior centre) for
issue 4's Bayesian calibration; it is not that calibration.

    python -m calibration.fit_push [--passes 2] [--seeds 2] [--write]

Without --write it only reports. With --write it edits abm/packs/americas/populations.toml in place.
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
from calibration.targets import headline, load_targets

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"
POPULATIONS = ROOT / "abm" / "packs" / "americas" / "populations.toml"
#: nationalities matched to Darien crossings rather than border encounters, and their target in targets.toml
DARIEN_TARGETS = {"Venezuela": "darien_venezuela_2023", "Haiti": "darien_haiti_2023"}


def observed() -> dict[str, float]:
    t = load_targets(role="fit")  # a fitting step: it reads only fit targets
    out = {k: float(v) for k, v in t["border_encounters_fy2023"]["value"].items()}
    for n, key in DARIEN_TARGETS.items():
        out[n] = float(t[key]["value"])
    return out


def simulated(seeds) -> dict[str, float]:
    res: dict[str, list] = {}
    for s in seeds:
        m = SafeMobilityModel(load_run(BASELINE, seed=s))
        m.run()
        m.release()
        head = headline(timeseries(m), role="fit")  # each figure measured as targets.toml says
        for n in m.pack.nationalities:
            if n in DARIEN_TARGETS:
                v = head[DARIEN_TARGETS[n]]
            elif n in head["border_encounters_fy2023"]:
                v = head["border_encounters_fy2023"][n]
            else:
                continue
            res.setdefault(n, []).append(v)
    return {k: float(np.mean(v)) for k, v in res.items()}


def shift_push(text: str, nationality: str, delta: float) -> str:
    """Add delta to `push` in every [[group]] of this nationality (the file's own text is kept)."""
    pattern = r'\[\[group\]\]\nnationality = "%s"\n(?:(?!\[\[group\]\]).)*' % re.escape(nationality)
    bump = lambda block: re.sub(r"push = (-?[0-9.]+)", lambda q: f"push = {float(q.group(1)) + delta:.2f}", block.group(0))
    return re.sub(pattern, bump, text, flags=re.S)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--damping", type=float, default=0.9)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    target = observed()
    for k in range(args.passes):
        sim = simulated(range(1, args.seeds + 1))
        text = POPULATIONS.read_text()
        print(f"pass {k + 1} ({dt.datetime.now():%H:%M:%S})")
        for n, v in sim.items():
            if n not in target:
                continue
            delta = float(np.clip(args.damping * np.log(target[n] / max(v, 1.0)), -1.5, 1.5))
            print(f"  {n:12s} model {v:10.0f}  target {target[n]:10.0f}  shift {delta:+.2f}")
            text = shift_push(text, n, delta)
        if not args.write:
            break
        POPULATIONS.write_text(text)


if __name__ == "__main__":
    main()
