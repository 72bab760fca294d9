"""`smo-abm experiment FILE`: every variant x replicate x posterior draw, then runs.csv, effects.csv,
figures and report.html in the output folder, with a manifest."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

from abm import __version__
from abm.outputs import git_commit, write_text_atomic

from .design import load_experiment
from .effects import effects
from .report import write_report
from .runner import SINGLE, execute, series, tidy


def run_experiment(path, out=None, replicates=None, draws=None, scale=None, scheduler=None, workers=None,
                   progress=True) -> dict:
    t0 = time.perf_counter()
    exp = load_experiment(path, replicates=replicates, draws=draws, scale=scale)  # all checks before any run
    tasks = exp.tasks()
    out = Path(out) if out else Path("results") / "experiments" / exp.name
    out.mkdir(parents=True, exist_ok=True)
    results = execute(tasks, out, scheduler=scheduler, workers=workers, progress=progress,
                      label=f"{exp.name} ({len(exp.names)} variants x {exp.replicates} replicates x {len(exp.draw_ids)} draws)")
    runs = tidy(results, exp.outputs)
    eff = effects(runs, exp.outputs, exp.crossings)
    write_text_atomic(out / "runs.csv", runs.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(out / "effects.csv", eff.to_csv(index=False, float_format="%.6g"))
    wall = time.perf_counter() - t0
    man = manifest(exp, tasks, results, out, wall, scheduler, workers)
    write_report(exp, runs, eff, series(results), man, out)
    write_text_atomic(out / "manifest.json", json.dumps(man, indent=2, default=str))
    return {"out": out, "runs": runs, "effects": eff, "manifest": man}


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
