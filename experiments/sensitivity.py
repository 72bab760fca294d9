"""Global sensitivity analysis (SALib) of the headline outputs to the calibrated parameters.

The parameters are those of calibration/priors.toml that the posterior holds (16 since issue 17). Each
varies over its calibrated range, the 5% to 95% weighted quantiles of calibration/posterior.csv, sampled
uniformly in the space calibration used (log10 for log-uniform priors). Morris elementary effects screen
them (mu*: how much an output moves; sigma: non-linearity or interaction); Sobol indices (Saltelli
sampling) apportion each output's variance: S1 alone, ST with interactions. Every sample runs the
baseline with the same seed, so differences between samples come from the parameters, not from
different random draws.

The runs go through experiments.runner (Dask, atomic run files, resumable) like an experiment's.
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from abm import __version__
from abm.errors import InputError
from abm.folders import claim, out_path, write_file
from abm.outputs import git_commit
from abm.scenario import load_scenario
from calibration.abc import BASELINE

from .design import Task
from .measures import task_key
from .runner import execute

HEADLINE = ("darien_crossings", "deaths", "smo_registrations", "smo_arrivals", "wait_mean_days", "gave_up_share")
LEVELS = 4  # Morris grid levels (SALib's default)
RUN_FILE_BYTES = 40_000  # a run file with its weekly series (about 12 kB measured), with room


def problem(posterior: str = "posterior.csv", lo: float = 0.05, hi: float = 0.95) -> tuple[dict, dict]:
    """SALib problem over the calibrated ranges, and which parameters are sampled in log10."""
    from calibration import posterior as post
    from calibration.abc import load_priors

    df = post.load(posterior)
    # the priors the posterior has: a parameter with a prior not yet fitted keeps its abm/params.py value
    priors = {k: v for k, v in load_priors().items() if k in df.columns}
    w = df["weight"].to_numpy()
    log = {k: priors[k]["dist"] == "loguniform" for k in priors}
    bounds = []
    for k in priors:
        x = np.log10(df[k].to_numpy()) if log[k] else df[k].to_numpy()
        bounds.append([float(v) for v in post.weighted_quantile(x, w, [lo, hi])])
    return {"num_vars": len(priors), "names": list(priors), "bounds": bounds}, log


def natural(row: np.ndarray, prob: dict, log: dict) -> dict[str, float]:
    return {k: float(10.0 ** v if log[k] else v) for k, v in zip(prob["names"], row)}


def samples(method: str, prob: dict, n: int, seed: int) -> np.ndarray:
    if method == "morris":
        from SALib.sample import morris
        return morris.sample(prob, N=n, num_levels=LEVELS, seed=seed)
    from SALib.sample import sobol
    return sobol.sample(prob, N=n, calc_second_order=False, seed=seed)


def tasks_of(method: str, X: np.ndarray, prob: dict, log: dict, scale: float, seed: int) -> list[Task]:
    from calibration.abc import overrides_of

    out = []
    for i, row in enumerate(X):
        sc = load_scenario(BASELINE, overrides=overrides_of(natural(row, prob, log)) + ["run.use_posterior=false"],
                           scale=scale, seed=seed)
        t = Task(method, i, -1, seed, sc, (sc.start, sc.end))
        t.key = task_key(t)
        out.append(t)
    return out


def analyse(method: str, prob: dict, X: np.ndarray, Y: pd.DataFrame) -> pd.DataFrame:
    from SALib.analyze import morris, sobol

    rows = []
    for o in HEADLINE:
        y = Y[o].to_numpy(float)
        if not np.isfinite(y).all():
            continue  # e.g. no approval in some run: no wait to compare
        if method == "morris":
            r = morris.analyze(prob, X, y, num_levels=LEVELS, seed=1)
            for j, k in enumerate(prob["names"]):
                rows.append({"output": o, "parameter": k, "mu_star": r["mu_star"][j],
                             "mu_star_conf": r["mu_star_conf"][j], "sigma": r["sigma"][j], "mu": r["mu"][j]})
        else:
            r = sobol.analyze(prob, y, calc_second_order=False, seed=1)
            for j, k in enumerate(prob["names"]):
                rows.append({"output": o, "parameter": k, "S1": r["S1"][j], "S1_conf": r["S1_conf"][j],
                             "ST": r["ST"][j], "ST_conf": r["ST_conf"][j]})
    return pd.DataFrame(rows)


def run_sensitivity(out: Path, methods=("morris", "sobol"), trajectories: int = 10, samples_n: int = 64,
                    scale: float = 0.01, seed: int = 1, scheduler=None, workers=None, progress=True) -> dict:
    if trajectories < 2:
        raise InputError("command line", "--trajectories", "Morris needs at least 2 trajectories")
    if samples_n < 2 or samples_n & (samples_n - 1):
        raise InputError("command line", "--samples", f"Sobol (Saltelli) samples must be a power of 2, not {samples_n}")
    if not (0 < scale <= 1):
        raise InputError("command line", "--scale", f"agents per person must be in (0, 1], not {scale}")
    t0 = time.perf_counter()
    prob, log = problem()
    plan = {m: samples(m, prob, trajectories if m == "morris" else samples_n, seed) for m in methods}
    out, field = out_path(out, Path("results") / "sensitivity")
    need = sum(len(X) for X in plan.values()) * RUN_FILE_BYTES + 10_000_000  # a task per sample row
    with claim(out, "sensitivity", field, need) as folder:
        folder.prepare()
        result, tables = {}, {}
        for m, X in plan.items():
            tasks = tasks_of(m, X, prob, log, scale, seed)
            res = execute(tasks, out, scheduler=scheduler, workers=workers, progress=progress, field=field,
                          label=f"{m} ({len(tasks)} runs)")
            Y = pd.DataFrame([r["outputs"] for r in res])
            tables[m] = pd.DataFrame(X, columns=prob["names"]).join(Y[list(HEADLINE)])
            idx = analyse(m, prob, X, Y)
            result[m] = {"indices": idx, "runs": len(tasks), "run_seconds": sum(r["wall_s"] for r in res)}
        man = {"methods": list(methods), "trajectories": trajectories, "samples": samples_n, "scale": scale,
               "seed": seed,
               "parameters": {k: {"bounds": b, "sampled_in": "log10" if log[k] else "natural units"}
                              for k, b in zip(prob["names"], prob["bounds"])},
               "ranges": "5%-95% weighted quantiles of calibration/posterior.csv", "outputs": list(HEADLINE),
               "runs": {m: r["runs"] for m, r in result.items()},
               "run_seconds": {m: round(r["run_seconds"], 1) for m, r in result.items()},
               "wall_time_s": round(time.perf_counter() - t0, 1), "version": __version__, "git_commit": git_commit(),
               "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}

        def write(tmp: Path) -> dict:
            # the tables, figures and manifest come in together, or not at all
            for m, r in result.items():
                write_file(tmp / f"{m}_samples.csv", tables[m].to_csv(index=False, float_format="%.6g"))
                write_file(tmp / f"{m}.csv", r["indices"].to_csv(index=False, float_format="%.6g"))
            figures(result, tmp)
            return man

        man = folder.publish(write)
    return {"out": out, "manifest": man, **{m: r["indices"] for m, r in result.items()}}


def figures(result: dict, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    (out / "figures").mkdir(exist_ok=True)
    short = lambda k: k.split(".", 1)[1]
    if "morris" in result and len(result["morris"]["indices"]):
        d = result["morris"]["indices"].assign(parameter=lambda x: x.parameter.map(short))
        # mu* relative to the output's largest, so that outputs in different units share an axis
        d["mu_star_rel"] = d.mu_star / d.groupby("output").mu_star.transform("max")
        g = sns.catplot(data=d, x="mu_star_rel", y="parameter", col="output", col_wrap=3, kind="bar", height=2.6,
                        aspect=1.3, color="tab:blue")
        g.set_titles("{col_name}", size=9)
        g.set_axis_labels("Morris mu* (share of the largest)", "")
        g.figure.suptitle("Morris screening: how much each calibrated parameter moves each output", fontsize=10)
        g.figure.tight_layout()
        g.figure.savefig(out / "figures" / "morris.png", dpi=110)
        plt.close(g.figure)
    if "sobol" in result and len(result["sobol"]["indices"]):
        d = result["sobol"]["indices"].assign(parameter=lambda x: x.parameter.map(short))
        long = pd.concat([d.assign(index="S1 (alone)", value=d.S1, conf=d.S1_conf),
                          d.assign(index="ST (with interactions)", value=d.ST, conf=d.ST_conf)])
        outs = list(dict.fromkeys(long.output))
        fig, axes = plt.subplots(int(np.ceil(len(outs) / 3)), min(3, len(outs)), figsize=(13, 3.2 * np.ceil(len(outs) / 3)),
                                 squeeze=False)
        names = list(dict.fromkeys(long.parameter))
        for ax, o in zip(axes.flat, outs):
            s = long[long.output == o]
            for j, (ix, colour) in enumerate((("S1 (alone)", "tab:blue"), ("ST (with interactions)", "tab:orange"))):
                t = s[s["index"] == ix].set_index("parameter").reindex(names)
                y = np.arange(len(names)) + (j - 0.5) * 0.38
                ax.barh(y, t.value, height=0.38, xerr=t.conf, color=colour, label=ix, capsize=2)
            ax.set_yticks(np.arange(len(names)), names)
            ax.set_title(o, fontsize=9)
            ax.axvline(0, color="grey", lw=0.8)
        for ax in list(axes.flat)[len(outs):]:
            ax.remove()
        axes.flat[0].legend(fontsize=8)
        fig.suptitle("Sobol indices with 95% bootstrap intervals (SALib)", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "figures" / "sobol.png", dpi=110)
        plt.close(fig)
