"""One benchmark measurement, run in a fresh child process: `python -m benchmarks.worker TASK.json RESULT.json`.

Tasks (JSON objects, see benchmarks.suite):
  {"kind": "calibrate", "scenario": path, "windows": [[override, ...], ...], "scale": 0.001}
      people per agent-at-scale-1 of each run window (build only; people.n depends on the window,
      because future arrivals within the window are created at the start);
  {"kind": "row", "scenario": path, "overrides": [...], "scale": f, "seed": n|null, "reference": {...}|null}
      construct + full vectorised run, timed; then, optionally, the reference-step measurement.
  {"kind": "reference", ...same fields...}
      only the reference-step measurement.

The model API relied on: SafeMobilityModel(scenario), .people.n, .spinup, .n_weeks, .step(), .run(),
.running, .release(), .timings (seconds per phase) and .set_reference(bool).
"""
from __future__ import annotations

import gc
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def hwm_mb() -> float | None:
    """VmHWM: the peak of this process image only (not inherited across fork/exec); None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _load(task, overrides=None, scale=None):
    from calibration.posterior import load_run

    return load_run(task["scenario"], overrides=list(overrides if overrides is not None else task.get("overrides", [])),
                    scale=scale if scale is not None else task.get("scale"), seed=task.get("seed"))


def fingerprint(m) -> str:
    """A hash of the week and every per-person array, to check two models are in the same state."""
    h = hashlib.sha256(str(getattr(m, "week", None)).encode())
    p = m.people
    fields = vars(p) if hasattr(p, "__dict__") else {k: getattr(p, k) for k in getattr(p, "__slots__", ())}
    for k in sorted(fields):
        v = fields[k]
        if isinstance(v, np.ndarray):
            h.update(k.encode())
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()[:16]


def _time_steps(m, weeks: int) -> float:
    """Wall seconds for `weeks` steps of model m."""
    t0 = time.perf_counter()
    for _ in range(weeks):
        m.step()
    return time.perf_counter() - t0


# --- tasks ---
def calibrate(task) -> dict:
    """People in the run at scale 1, per run window, measured by building the model at a small scale."""
    from abm.model import SafeMobilityModel

    scale = float(task.get("scale", 0.001))
    out = []
    for overrides in task["windows"]:
        m = SafeMobilityModel(_load(task, overrides=overrides, scale=scale))
        out.append({"overrides": list(overrides), "agents": int(m.people.n), "scale": scale,
                    "people_at_scale_1": m.people.n / scale, "weeks": int(m.spinup + m.n_weeks)})
        m.release()
        del m
        gc.collect()
    return {"windows": out}


def run_row(task) -> dict:
    """Construct and run the model vectorised, timing construction and the run (phases from model.timings)."""
    from abm.model import SafeMobilityModel

    t0 = time.perf_counter()
    sc = _load(task)
    load_s = time.perf_counter() - t0
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    m = SafeMobilityModel(sc)
    t1 = time.perf_counter()
    m.run()
    t2 = time.perf_counter()
    cpu_s = _cpu_s() - cpu0
    build_s, run_s = (t1 - t0), (t2 - t1)
    wall_s = build_s + run_s
    agents, weeks = int(m.people.n), int(m.spinup + m.n_weeks)
    row = {
        "agents": agents, "weeks": weeks, "wall_s": wall_s, "build_s": build_s, "run_s": run_s, "load_s": load_s,
        "agent_weeks_per_s": agents * weeks / wall_s if wall_s > 0 else float("nan"),
        "run_agent_weeks_per_s": agents * weeks / run_s if run_s > 0 else float("nan"),
        "cpu_s": cpu_s, "peak_rss_mb": peak_rss_mb(), "hwm_mb": hwm_mb(),
        "phases": dict(m.timings),
        "scale": sc.scale, "seed": sc.seed, "overrides": list(task.get("overrides", [])),
    }
    m.release()
    del m
    gc.collect()
    return row


def measure_reference(task) -> dict:
    """Vectorised vs per-agent reference step on the same population, in the same weeks.

    Design (no copy of a model is needed): model A is built and stepped vectorised to run week
    `at_week` (week 0 = run.start; the burn-in weeks come first), then `weeks` more vectorised weeks are
    timed on A. A is released; model B is built from the same scenario and seed and stepped vectorised to
    the same week (the state fingerprints of A and B at that week are compared: the runs are
    deterministic, so B is in exactly A's state), switched to the reference step, and the same number of
    weeks is timed. Both timings are of whole weeks (institutions, route and metrics included; only the
    information+decision phase differs). The per-agent handle creation of set_reference is timed apart.
    """
    from abm.model import SafeMobilityModel

    ref = task["reference"]
    weeks = int(ref.get("weeks", 2))
    at_week = int(ref.get("at_week", 52))

    def advanced():
        m = SafeMobilityModel(_load(task))
        last = m.n_weeks - weeks  # the timed weeks must fit in the run
        wk = max(0, min(at_week, last))
        for _ in range(m.spinup + wk):
            m.step()
        return m, wk

    a, wk = advanced()
    agents = int(a.people.n)
    fp_a = fingerprint(a)
    date = str(a.date)
    vec_s = _time_steps(a, weeks)
    a.release()
    del a
    gc.collect()

    b, _ = advanced()
    fp_b = fingerprint(b)
    t0 = time.perf_counter()
    b.set_reference(True)
    set_s = time.perf_counter() - t0
    ref_s = _time_steps(b, weeks)
    b.release()
    del b
    gc.collect()

    vec_rate = agents * weeks / vec_s
    ref_rate = agents * weeks / ref_s
    return {
        "agents": agents, "weeks": weeks, "at_week": wk, "date": date, "scale": task.get("scale"),
        "vectorised_s": vec_s, "reference_s": ref_s, "set_reference_s": set_s,
        "vectorised_agent_weeks_per_s": vec_rate, "reference_agent_weeks_per_s": ref_rate,
        "reference_ms_per_agent_week": 1e3 / ref_rate,
        "ratio": vec_rate / ref_rate, "same_state": fp_a == fp_b, "set_reference": "model.set_reference",
        "peak_rss_mb": peak_rss_mb(),
        "design": "A stepped vectorised to the week, then timed for the weeks vectorised; B (same scenario and "
                  "seed) stepped vectorised to the same week, checked identical to A there, then timed for the "
                  "same weeks with the per-agent reference step",
    }


def run_task(task) -> dict:
    kind = task["kind"]
    if kind == "calibrate":
        return calibrate(task)
    if kind == "row":
        row = run_row(task)
        if task.get("reference"):
            # after the row's own peak memory has been read, so it stays the row's own
            row["reference"] = measure_reference(task)
        return row
    if kind == "reference":
        return {"reference": measure_reference(task)}
    raise ValueError(f"unknown task kind {kind!r}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    task = json.loads(Path(argv[0]).read_text())
    result = run_task(task)
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
