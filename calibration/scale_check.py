"""Does the calibration scale give the same figures as the default scale? The method of tests/test_scale.py
(independent seeds at two scales, a Welch t-test per figure), applied to every fit target at the scale the
ABC runs at, with the run ending where the calibration's runs end (calibration.abc.last_date).

    python -m calibration.scale_check [--scenario experiments/baseline.toml] [--scales 0.003 0.01] [--seeds 8]
                                      [--out results/calibration-scale]

Writes OUT/scale_check.csv and OUT/scale_check.md: per fit figure, the mean and sd over seeds at each scale,
the Welch p-value, and the difference of the means in units of the target's error sd (what the ABC's distance
sees: a difference of 0.3 sd moves a particle's distance little against the misses it is judged by).
Parameters are the hand-set values of abm/params.py, the centre of the priors, as calibration starts there.
"""
from __future__ import annotations

import argparse
import math
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd


def _one(args):
    from abm.kernels import one_thread
    from calibration.abc import run_baseline

    one_thread()
    scale, seed, end, scenario, targets = args
    return run_baseline({}, scale, seed, scenario, end, targets)[0]


def figures(scale: float, seeds, end: str, cal=None) -> pd.DataFrame:
    from calibration.setting import of

    cal = cal or of()
    with get_context("fork").Pool(2) as pool:
        return pd.DataFrame(pool.map(_one, [(scale, s, end, cal.scenario, cal.targets) for s in seeds]))


def compare(a: pd.DataFrame, b: pd.DataFrame, targets: dict) -> pd.DataFrame:
    from scipy import stats

    from calibration.abc import flat_observed

    observed = flat_observed(targets)
    rows = []
    for key, obs in observed.items():
        t = targets[key.split(":")[0]]
        x, y = a[key].to_numpy(float), b[key].to_numpy(float)
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        sd = t["error"]["sd"] * (abs(obs) if t["error"].get("relative") else 1.0)
        p = float(stats.ttest_ind(x, y, equal_var=False).pvalue) if len(x) > 1 and len(y) > 1 else math.nan
        rows.append({"figure": key, "mean_a": x.mean(), "sd_a": x.std(ddof=1), "mean_b": y.mean(), "sd_b": y.std(ddof=1),
                     "welch_p": p, "diff_in_target_sd": (x.mean() - y.mean()) / sd})
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame, sa: float, sb: float, n: int, end: str) -> str:
    k = len(df)
    lines = [f"# Fit figures at scale {sa:g} against {sb:g}", "",
             f"{n} seeds at each scale (independent), hand-set parameters, runs ending {end}. Welch t-test per "
             f"figure; with {k} figures, Bonferroni at a family-wise 5% asks p > {0.05 / k:.4f}.", "",
             f"| figure | mean at {sa:g} (sd) | mean at {sb:g} (sd) | Welch p | difference / target sd |",
             "|---|---:|---:|---:|---:|"]
    f = lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}"
    for _, r in df.iterrows():
        lines.append(f"| {r.figure} | {f(r.mean_a)} ({f(r.sd_a)}) | {f(r.mean_b)} ({f(r.sd_b)}) | {r.welch_p:.4f} | "
                     f"{r.diff_in_target_sd:+.2f} |")
    bad = df[df.welch_p <= 0.05 / k]
    lines += ["", f"{len(bad)} of {k} figures differ at the Bonferroni level"
              + (": " + ", ".join(bad.figure) if len(bad) else "") + "; the largest difference is "
              f"{df.diff_in_target_sd.abs().max():.2f} target sd ({df.loc[df.diff_in_target_sd.abs().idxmax(), 'figure']}).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    from abm.folders import claim, out_path, write_file
    from calibration.abc import last_date
    from calibration.setting import BASELINE, of
    from calibration.targets import load_targets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(BASELINE), help="the scenario whose fit figures are compared "
                                                               "(default: the project's experiments/baseline.toml)")
    ap.add_argument("--scales", type=float, nargs=2, default=[0.003, 0.01])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--out", default="results/calibration-scale")
    args = ap.parse_args(argv)
    cal = of(args.scenario)
    targets = load_targets(cal.targets, role="fit")
    end = last_date(targets)
    seeds = range(1, args.seeds + 1)
    out, field = out_path(args.out, Path("results") / "calibration-scale")
    t0 = time.perf_counter()
    with claim(out, "scale_check", field, 1_000_000) as folder:
        folder.prepare()
        a, b = (figures(s, seeds, end, cal) for s in args.scales)
        df = compare(a, b, targets)
        md = markdown(df, args.scales[0], args.scales[1], args.seeds, end)

        def write(tmp: Path) -> dict:
            write_file(tmp / "scale_check.csv", df.to_csv(index=False, float_format="%.6g"))
            write_file(tmp / "scale_check.md", md)
            from abm.outputs import git_commit

            return {"scenario": cal.rel(cal.scenario), "parameters": "abm/params.py (hand-set)",
                    "scales": args.scales, "seeds": list(seeds), "run_end": end, "git_commit": git_commit(),
                    "wall_s": round(time.perf_counter() - t0, 1)}

        folder.publish(write)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
