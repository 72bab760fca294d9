"""Running an experiment's tasks on Dask distributed, each finished run written atomically, resumable.

By default an embedded LocalCluster (one single-threaded worker process per core) runs the tasks; with
`scheduler` an address (tcp://host:8786) the same tasks go to an existing cluster; with
`scheduler="single"` they run one after another in this process. The workers only compute: every result
comes back here and is written as DIR/runs/<variant>/<task>.json through a temporary file and a rename,
so a run file is either whole or absent. A rerun reads the run files back and runs only the tasks
whose file is missing or was made from other inputs (its key differs), so a killed experiment loses
only the runs that were in flight.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from abm.folders import write_error
from abm.outputs import write_text_atomic

from .cluster import CONNECT_TIMEOUT_S
from .measures import run_task

SINGLE = "single"


def run_file(out: Path, task) -> Path:
    return out / "runs" / task.variant / f"{task.stem}.json"


def finished(out: Path, task) -> dict | None:
    """The task's run file, if it holds a finished run of these very inputs."""
    f = run_file(out, task)
    try:
        res = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if res.get("key") != task.key or not all(o in res.get("outputs", {}) for o in task.outputs):
        return None  # other inputs, or made before an output this experiment compares existed
    return res


def execute(tasks: list, out: Path, scheduler: str | None = None, workers: int | None = None,
            progress: bool = True, label: str = "runs", field: str = "output folder") -> list[dict]:
    """Run the tasks not finished yet; return every task's result, in the order of `tasks`. A run file that
    cannot be written (a full disk) stops it with one line; the files already written are kept. The caller has
    claimed `out` (abm/folders.py), which removed the temporary run files a killed experiment left."""
    from tqdm import tqdm

    results = {i: finished(out, t) for i, t in enumerate(tasks)}
    todo = [i for i, r in results.items() if r is None]
    if progress and len(todo) < len(tasks):
        print(f"{len(tasks) - len(todo)} of {len(tasks)} {label} already finished in {out}/runs: not run again",
              file=sys.stderr)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=label, unit="run",
               disable=not progress, file=sys.stderr, smoothing=0.1)

    def done(i, res):
        try:
            write_text_atomic(run_file(out, tasks[i]), json.dumps(res, allow_nan=True))
        except OSError as e:  # write_text_atomic removed its temporary file
            raise write_error(out, field, e, f"the finished runs are kept in {out / 'runs'}; the same command "
                                             "resumes from them") from None
        results[i] = res
        bar.update(1)

    try:
        if not todo:
            pass
        elif scheduler == SINGLE:
            for i in todo:
                done(i, run_task(tasks[i]))
        else:
            _on_dask(tasks, todo, scheduler, workers, done)
    finally:
        bar.close()
    return [results[i] for i in range(len(tasks))]


def _on_dask(tasks, todo, scheduler, workers, done):
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        n = workers or os.cpu_count() or 1
        # the dashboard on any free port: two experiments may run at once
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
    try:
        # the address was checked before any work (experiments.cluster.check_scheduler); the timeout
        # bounds a scheduler that went away since
        with Client(cluster if cluster is not None else scheduler, timeout=CONNECT_TIMEOUT_S) as client:
            futures = {client.submit(run_task, tasks[i], pure=False, key=f"run-{tasks[i].variant}-{tasks[i].stem}-{tasks[i].key}"): i
                       for i in todo}
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
    finally:
        if cluster is not None:
            cluster.close()


def tidy(results: list[dict], outputs: list[str]) -> pd.DataFrame:
    """runs.csv: one row per run and output."""
    rows = [(r["variant"], r["replicate"], r["draw"], r["seed"], o, r["outputs"][o]) for r in results for o in outputs]
    return pd.DataFrame(rows, columns=["variant", "replicate", "draw", "seed", "output", "value"])


def series(results: list[dict]) -> pd.DataFrame:
    """The weekly series of every run, long: variant, replicate, draw, date, metric, value."""
    frames = []
    for r in results:
        df = pd.DataFrame(r["series"]).melt(id_vars="date", var_name="metric")
        df.insert(0, "draw", r["draw"])
        df.insert(0, "replicate", r["replicate"])
        df.insert(0, "variant", r["variant"])
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
