"""`smo-abm experiment FILE`: every variant x replicate x posterior draw, then runs.csv, effects.csv,
figures and report.html in the output folder, with a manifest."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path

from abm import __version__
from abm.errors import InputError
from abm.folders import claim, out_path, write_file
from abm.outputs import git_commit

from .design import BASELINE, load_experiment
from .effects import effects
from .measures import SERIES
from .report import write_report
from .runner import SINGLE, execute, series, tidy


def run_experiment(path, out=None, replicates=None, draws=None, scale=None, scheduler=None, workers=None,
                   progress=True) -> dict:
    t0 = time.perf_counter()
    # a LocalCluster runs one run per worker at once, all in this machine's memory
    at_once = (workers or os.cpu_count() or 1) if scheduler is None else 1
    exp = load_experiment(path, replicates=replicates, draws=draws, scale=scale,
                          runs_at_once=at_once)  # all checks before any run
    tasks = exp.tasks()
    out, field = out_path(out, Path("results") / "experiments" / exp.name)
    with claim(out, "experiment", field, output_bytes(exp, len(tasks))) as folder:
        _same_experiment(folder, exp, field)
        folder.prepare()
        label = f"{exp.name} ({len(exp.names)} variants x {exp.replicates} replicates x {len(exp.draw_ids)} draws)"
        results = execute(tasks, out, scheduler=scheduler, workers=workers, progress=progress, field=field, label=label)
        runs = tidy(results, exp.outputs)
        eff = effects(runs, exp.outputs, exp.labels)
        man = manifest(exp, tasks, results, out, time.perf_counter() - t0, scheduler, workers)

        def write(tmp: Path) -> dict:
            # runs.csv, effects.csv, figures and the report come in together, or not at all
            write_file(tmp / "runs.csv", runs.to_csv(index=False, float_format="%.6g"))
            write_file(tmp / "effects.csv", eff.to_csv(index=False, float_format="%.6g"))
            write_report(exp, runs, eff, series(results), man, tmp)
            return man

        man = folder.publish(write)
    return {"out": out, "runs": runs, "effects": eff, "manifest": man}


def _same_experiment(folder, exp, field):
    """A folder that holds another experiment's results is not resumed into (its runs would be mixed with
    this one's in the report, or overwritten): it is refused like a finished run of other inputs."""
    m = folder.existing_manifest()
    if m.get("kind") == "experiment" and m.get("name") not in (None, exp.name):
        raise InputError(folder.out, field, f"holds the results of experiment {m['name']!r} ({m.get('experiment')}), "
                                            f"not {exp.name!r}: choose another folder")


def output_bytes(exp, n_runs: int) -> int:
    """An upper estimate of what the experiment writes: each run's file (its weekly series as JSON, about
    12 bytes a number) and the report with its figures."""
    sc = exp.scenario(BASELINE, exp.draw_ids[0])
    from abm import parole, smo

    per_run = 4_000 + 16 * (sc.n_weeks + sc.spinup_weeks) * (len(SERIES) + 1 + len(smo.LIMITS + parole.LIMITS))
    return n_runs * per_run + 10_000_000


def manifest(exp, tasks, results, out, wall, scheduler, workers) -> dict:
    text = exp.path.read_bytes()
    base = exp.scenario("baseline", exp.draw_ids[0])
    return {
        "experiment": str(exp.path),
        "experiment_sha256": hashlib.sha256(text).hexdigest(),
        "name": exp.name,
        "description": exp.description,
        "variants": [{"name": "baseline", "description": "the baseline scenario " + exp.raw["baseline"]["scenario"]}]
                    + [{"name": v.name, "description": v.description, "changes": v.changes} for v in exp.variants],
        "replicates": exp.replicates,
        "draws": exp.draws,
        "posterior": base.calibration.get("posterior"),
        "seed": exp.seed,
        "seeds": sorted({t.seed for t in tasks}),
        "scale": exp.scale,
        "agents_per_run": sorted({r["agents"] for r in results}),
        "window": [d.isoformat() for d in exp.window],
        "outputs": exp.outputs,
        "runs": len(tasks),
        "run_seconds_total": round(sum(r["wall_s"] for r in results), 1),
        "wall_time_s": round(wall, 1),
        "scheduler": scheduler or f"LocalCluster ({workers or os.cpu_count()} workers)",
        "version": __version__,
        "git_commit": git_commit(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "baseline_parameters": base.resolved(),
        "files": ["runs.csv", "effects.csv", "report.html", "figures/", "runs/"],
        "single_process": scheduler == SINGLE,
    }
