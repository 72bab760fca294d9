"""The benchmark suite behind `smo-abm bench`: scaling rows, the reference-step ratio, cost growth, profile.

Every measurement runs in a fresh child process (`python -m benchmarks.worker`), one after another, so
that each row's peak memory is its own and timings do not compete for the cores. The parent stays
light (numpy only) because on Linux a child's ru_maxrss starts from the parent's peak at exec time.

What is measured (experiments/baseline.toml: 2022-07-01 to 2024-12-31 weekly + 26 burn-in weeks):
  rows        agents ~10k, 30k, 100k, 300k, 1M, 3M and full scale (1 agent per person): wall seconds of
              construction + full run, weeks stepped, agent-weeks/s, peak RSS, phase timings;
  reference   at 100k agents (30k with --quick): vectorised vs per-agent Mesa reference step, same
              population, same 2 weeks starting 52 weeks into the run (the SMOs opened in week 49);
              see benchmarks.worker.measure_reference for the design;
  exponents   least-squares slopes on logs: wall, "information" and "decisions" phase time against
              agents (all rows); run-loop time (construction excluded) against weeks simulated, at a
              fixed size (~1M agents, 300k with --quick; capped by --max-agents), windows of 27 to 131
              weeks with no burn-in;
  profile     share of wall time per phase in the largest row (the full-scale row in a full run).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000)  # + the full-scale row
QUICK_MAX_AGENTS = 300_000
REFERENCE_AGENTS, QUICK_REFERENCE_AGENTS = 100_000, 30_000  # 100k costs ~50 s of reference step today
REFERENCE_WEEKS = 2
REFERENCE_AT_WEEK = 52  # run week 52 = 2023-06-30; the SMOs opened on 2023-06-12 (week 49)
WEEKS_AGENTS, QUICK_WEEKS_AGENTS = 1_000_000, 300_000
# run windows for the weeks exponent: no burn-in, run.end varied: 27, 53, 80 and 131 weeks (4.9x)
WEEKS_WINDOWS = (
    ("run.spinup_weeks=0", "run.end=2022-12-30"),
    ("run.spinup_weeks=0", "run.end=2023-06-30"),
    ("run.spinup_weeks=0", "run.end=2024-01-05"),
    ("run.spinup_weeks=0", "run.end=2024-12-31"),
)
QUICK_WEEKS_WINDOWS = (WEEKS_WINDOWS[0], WEEKS_WINDOWS[1], WEEKS_WINDOWS[3])
CALIBRATION_SCALE = 0.001

# targets of the performance work
FULL_WALL_MAX_S = 60.0
FULL_PEAK_MAX_MB = 6144.0
RATE_AT_1M_MIN = 20e6
REFERENCE_RATIO_MIN = 100.0
WALL_EXPONENT_MAX = 1.1


# --- helpers ---
def fit_exponent(x, y) -> float:
    """Exponent b of y = a x^b, by least squares on logs; nan with fewer than two usable points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) < 2:
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _clean(x):
    """JSON-safe: numpy scalars to Python, non-finite floats to null."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def run_in_child(task: dict, timeout: float | None = None, root: Path = ROOT) -> dict:
    """Run one task in a fresh Python process, with the code of `root` (this tree, or another checkout for
    benchmarks.versus); returns its result, or {"error": ...} if it failed."""
    with tempfile.TemporaryDirectory(prefix="smo-bench-") as d:
        tin, tout = Path(d) / "task.json", Path(d) / "result.json"
        tin.write_text(json.dumps(task))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in [env.get("PYTHONPATH")] if p])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        t0 = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, "-m", "benchmarks.worker", str(tin), str(tout)], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:g} s"}
        elapsed = time.perf_counter() - t0
        if r.returncode != 0 or not tout.exists():
            lines = [x for x in (r.stderr or "").strip().splitlines() if x.strip()]
            why = "killed by signal %d%s" % (-r.returncode, " (out of memory?)" if r.returncode == -9 else "") \
                if r.returncode < 0 else f"exit status {r.returncode}"
            return {"error": f"{why}: {lines[-1].strip() if lines else 'no message'}",
                    "stderr_tail": "\n".join(lines[-15:])}
        out = json.loads(tout.read_text())
        out["process_s"] = elapsed
        out["load_before"] = load  # 1-minute load average as the child started: other work on the machine
        return out


def machine_info() -> dict:
    from importlib import metadata

    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu_count": os.cpu_count(), "cpus_usable": usable, "cpu": platform.processor() or platform.machine(),
            "memory_gb": mem_gb, "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": version("scipy"), "mesa": version("mesa")}


def _git_commit() -> str:
    try:
        from abm.outputs import git_commit  # imported only at the end: keeps the parent light while children run
        return git_commit()
    except Exception:  # noqa: BLE001 - a benchmark must not fail on this
        return "unknown"


# --- the suite ---
def plan_sizes(people_full: float, quick: bool, max_agents: int | None, sizes=None) -> list[tuple[str, int, float]]:
    """(label, target agents, scale) per scaling row, smallest first."""
    cap = float("inf") if max_agents is None else max_agents
    if quick:
        cap = min(cap, QUICK_MAX_AGENTS)
    targets = [s for s in (SIZES if sizes is None else sizes) if s <= cap and s < people_full]
    rows = [(_label(s), s, s / people_full) for s in targets]
    if sizes is None and max_agents is not None and cap < people_full and cap not in targets \
            and (not targets or cap > targets[-1]) and not quick:
        rows.append((_label(cap), cap, cap / people_full))
    if sizes is None and not quick and cap >= people_full:
        rows.append(("full", int(round(people_full)), 1.0))
    return rows


def _label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def run_suite(out=Path("results/bench"), quick: bool = False, max_agents: int | None = None, **kwargs) -> dict:
    """Run the suite, print the table and write OUT/bench.json and OUT/report.md. Returns the results.

    The keyword arguments exist for tests (tiny sizes); the command line uses the defaults. The output
    folder is checked (and locked) before the first measurement (abm/folders.py).
    """
    from abm.folders import claim, out_path

    out, field = out_path(None if out is None else str(out), Path("results") / "bench")
    with claim(out, "bench", field, 1_000_000) as folder:
        folder.prepare()
        return _run_suite(folder, quick, max_agents, **kwargs)


def _run_suite(folder, quick: bool = False, max_agents: int | None = None, *,
               scenario=BASELINE, seed: int | None = None, sizes=None, reference_agents: int | None = None,
               reference_weeks: int = REFERENCE_WEEKS, reference_at_week: int = REFERENCE_AT_WEEK,
               weeks_agents: int | None = None, weeks_windows=None, timeout: float | None = None,
               log=print) -> dict:
    out = folder.out
    scenario = str(Path(scenario).resolve())
    started = time.perf_counter()
    base_task = {"scenario": scenario, "seed": seed, "overrides": []}
    if weeks_windows is None:
        weeks_windows = QUICK_WEEKS_WINDOWS if quick else WEEKS_WINDOWS
    weeks_windows = [list(w) for w in weeks_windows]

    # 1. people at scale 1 (for the baseline window and each weeks window)
    log(f"calibrating: people at scale 1 in {Path(scenario).name} ...", flush=True)
    cal = run_in_child({**base_task, "kind": "calibrate", "windows": [[]] + weeks_windows, "scale": CALIBRATION_SCALE},
                       timeout=timeout)
    if "error" in cal:
        raise RuntimeError(f"calibration failed: {cal['error']}")
    people_full = cal["windows"][0]["people_at_scale_1"]
    log(f"  {people_full:,.0f} people (incl. arrivals) at scale 1", flush=True)

    # 2. scaling rows, one fresh process each; the reference measurement rides in the row of its size
    if reference_agents is None:
        reference_agents = QUICK_REFERENCE_AGENTS if quick else REFERENCE_AGENTS
    if max_agents is not None:
        reference_agents = min(reference_agents, max_agents)
    ref_spec = {"weeks": reference_weeks, "at_week": reference_at_week}
    plan = plan_sizes(people_full, quick, max_agents, sizes)
    rows, reference = [], None
    for label, target, scale in plan:
        task = {**base_task, "kind": "row", "scale": min(1.0, scale)}
        with_ref = reference is None and target == reference_agents
        if with_ref:
            task["reference"] = ref_spec
        log(f"row {label}: scale {task['scale']:.6g}{' + reference step' if with_ref else ''} ...", flush=True)
        res = run_in_child(task, timeout=timeout)
        row = _row(label, target, res)
        if with_ref:
            reference = res.get("reference") or {"error": res.get("error", "not measured")}
            if "error" not in reference and "error" not in res:
                # context: a 2-week window of a fast model is short, so also compare with the whole run's rate
                reference["row_run_agent_weeks_per_s"] = res["run_agent_weeks_per_s"]
                reference["ratio_using_row_run_rate"] = res["run_agent_weeks_per_s"] / reference["reference_agent_weeks_per_s"]
        rows.append(row)
        log("  " + _row_line(row), flush=True)
    if reference is None:  # the reference size is not one of the rows
        scale = min(1.0, reference_agents / people_full)
        log(f"reference step at {_label(reference_agents)} agents (scale {scale:.6g}) ...", flush=True)
        res = run_in_child({**base_task, "kind": "reference", "scale": scale, "reference": ref_spec}, timeout=timeout)
        reference = res.get("reference") or {"error": res.get("error", "not measured")}
    if "error" not in reference:
        log(f"  reference: {reference['agents']:,} agents, {reference['weeks']} weeks from {reference['date']}: "
            f"vectorised {reference['vectorised_agent_weeks_per_s']:.3g} vs per-agent "
            f"{reference['reference_agent_weeks_per_s']:.3g} agent-weeks/s, ratio {reference['ratio']:.0f}", flush=True)
    else:
        log(f"  reference: FAILED {reference['error']}", flush=True)

    # 3. weeks rows at a fixed size
    if weeks_agents is None:
        weeks_agents = QUICK_WEEKS_AGENTS if quick else WEEKS_AGENTS
    if max_agents is not None:
        weeks_agents = min(weeks_agents, max_agents)
    weeks_rows = []
    for win, cw in zip(weeks_windows, cal["windows"][1:]):
        scale = min(1.0, weeks_agents / cw["people_at_scale_1"])
        log(f"weeks row {_label(weeks_agents)} agents, {cw['weeks']} weeks ({' '.join(win)}) ...", flush=True)
        res = run_in_child({**base_task, "kind": "row", "scale": scale, "overrides": win}, timeout=timeout)
        row = _row(_label(weeks_agents), weeks_agents, res)
        row["overrides"] = win
        weeks_rows.append(row)
        log("  " + _row_line(row), flush=True)

    result = summarise(rows, weeks_rows, reference, people_full, quick=quick, max_agents=max_agents,
                       reference_agents=reference_agents, weeks_agents=weeks_agents, scenario=scenario)
    result["suite_s"] = time.perf_counter() - started
    write_outputs(result, folder)
    log("")
    log(render_text(result))
    log(f"wrote {out / 'bench.json'} and {out / 'report.md'} ({result['suite_s']:.0f} s)")
    return result


ROW_KEYS = ("agents", "weeks", "wall_s", "agent_weeks_per_s", "peak_rss_mb", "phases")


def _row(label: str, target: int, res: dict) -> dict:
    row = {"label": label, "target_agents": target}
    if "error" in res:
        row.update({k: None for k in ROW_KEYS})
        row["phases"] = {}
        row["error"] = res["error"]
        row["stderr_tail"] = res.get("stderr_tail", "")
    else:
        row.update({k: v for k, v in res.items() if k != "reference"})
    return row


def _ok(rows):
    return [r for r in rows if "error" not in r]


def summarise(rows, weeks_rows, reference, people_full, **meta) -> dict:
    good = _ok(rows)
    agents = [r["agents"] for r in good]
    phase = lambda key: [r["phases"].get(key, float("nan")) for r in good]
    exponents = {
        "wall_vs_agents": fit_exponent(agents, [r["wall_s"] for r in good]),
        "information_vs_agents": fit_exponent(agents, phase("information")),
        "decisions_vs_agents": fit_exponent(agents, phase("decisions")),
        "wall_vs_weeks": fit_exponent([r["weeks"] for r in _ok(weeks_rows)], [r["run_s"] for r in _ok(weeks_rows)]),
    }
    big = [r for r in good if r["target_agents"] >= 100_000]
    detail = {
        "agents_range": [min(agents), max(agents)] if agents else None,
        "rows_fitted": len(good),
        "wall_vs_agents_from_100k": fit_exponent([r["agents"] for r in big], [r["wall_s"] for r in big]),
        "run_vs_agents": fit_exponent(agents, [r["run_s"] for r in good]),
        "weeks_range": [min(r["weeks"] for r in _ok(weeks_rows)), max(r["weeks"] for r in _ok(weeks_rows))]
        if _ok(weeks_rows) else None,
        "weeks_rows_agents": meta.get("weeks_agents"),
        "wall_vs_weeks_measure": "run-loop seconds (construction excluded) against weeks stepped",
    }
    prof_row = max(good, key=lambda r: r["agents"]) if good else None
    profile = profile_of(prof_row) if prof_row else {}
    ratio = reference.get("ratio") if reference and "error" not in reference else None
    result = {
        "rows": rows,
        "reference_ratio_100k": ratio,
        "reference": reference,
        "exponents": exponents,
        "exponents_detail": detail,
        "weeks_rows": weeks_rows,
        "profile_full": profile,
        "profile_row": {"label": prof_row["label"], "agents": prof_row["agents"],
                        "full_scale": prof_row["label"] == "full"} if prof_row else None,
        "people_at_scale_1": people_full,
        "settings": {"scenario": meta.get("scenario"), "quick": meta.get("quick"), "max_agents": meta.get("max_agents"),
                     "reference_agents": meta.get("reference_agents"), "weeks_agents": meta.get("weeks_agents")},
        "machine": machine_info(),
        "git_commit": _git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "notes": [
            "wall_s = model construction + full run (scenario loading excluded); agent_weeks_per_s = agents*weeks/wall_s",
            "peak_rss_mb = ru_maxrss of the row's own fresh process (hwm_mb: VmHWM of the process image)",
            "each row, weeks row and the calibration ran in its own fresh process, one after another",
            "load_before = 1-minute load average when a row started; cpu_s/wall_s well under 1 means the row "
            "shared the cores with other work and its timings are inflated",
        ],
    }
    result["targets"] = check_targets(result)
    return result


def profile_of(row) -> dict:
    """Share of the row's wall time per phase, largest first ("other" = wall time outside the timed phases).
    Keys "phase/part" break a phase down: they follow their phase, and are not added into "other"."""
    wall = row["wall_s"]
    shares = {k: v / wall for k, v in row["phases"].items()}
    top = {k: v for k, v in shares.items() if "/" not in k}
    rest = 1.0 - sum(top.values())
    if rest > 0.005:
        top["other"] = rest
    out = {}
    for k, v in sorted(top.items(), key=lambda kv: -kv[1]):
        out[k] = v
        parts = {p: s for p, s in shares.items() if p.startswith(k + "/")}
        out.update(sorted(parts.items(), key=lambda kv: -kv[1]))
    return out


def check_targets(res) -> list[dict]:
    rows = {r["label"]: r for r in _ok(res["rows"])}
    ref = res["reference"] or {}
    t = []

    def add(name, value, limit, op, note=""):
        status = "NOT MEASURED" if value is None or (isinstance(value, float) and not math.isfinite(value)) else \
            ("PASS" if (value <= limit if op == "<=" else value >= limit) else "FAIL")
        t.append({"target": name, "value": value, "limit": limit, "op": op, "status": status, "note": note})

    full = rows.get("full")
    add("full-scale wall_s", full and full["wall_s"], FULL_WALL_MAX_S, "<=")
    add("full-scale peak_rss_mb", full and full["peak_rss_mb"], FULL_PEAK_MAX_MB, "<=")
    m1 = rows.get("1M")
    add("agent_weeks_per_s at 1M agents", m1 and m1["agent_weeks_per_s"], RATE_AT_1M_MIN, ">=")
    ref_note = ""
    if ref.get("agents") and abs(ref["agents"] - REFERENCE_AGENTS) > 0.05 * REFERENCE_AGENTS:
        ref_note = f"measured at {ref['agents']:,} agents, not 100k"
    add("reference_ratio_100k", res["reference_ratio_100k"], REFERENCE_RATIO_MIN, ">=", ref_note)
    d = res["exponents_detail"]
    rng = d.get("agents_range")
    add("wall_vs_agents exponent", res["exponents"]["wall_vs_agents"], WALL_EXPONENT_MAX, "<=",
        f"fitted on {rng[0]:,} to {rng[1]:,} agents" if rng else "")
    return t


# --- output ---
def _fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _row_line(r) -> str:
    if "error" in r:
        return f"{r['label']:>6s}  FAILED: {r['error']}"
    ph = r["phases"]
    return (f"{r['label']:>6s} {r['agents']:>11,d} {r['weeks']:>5d} {r['wall_s']:>8.2f} {r['build_s']:>7.2f} "
            f"{r['run_s']:>8.2f} {r['agent_weeks_per_s'] / 1e6:>8.2f} {r['peak_rss_mb']:>8.0f} "
            f"{_fmt(ph.get('information'), '>7.2f')} {_fmt(ph.get('decisions'), '>7.2f')} "
            f"{_fmt(r.get('cpu_s', float('nan')) / r['wall_s'], '>5.2f')} {_fmt(r.get('load_before'), '>5.2f')}")


TABLE_HEAD = (f"{'row':>6s} {'agents':>11s} {'weeks':>5s} {'wall_s':>8s} {'build_s':>7s} {'run_s':>8s} "
              f"{'Maw/s':>8s} {'peak_MB':>8s} {'info_s':>7s} {'dec_s':>7s} {'cpu/w':>5s} {'load':>5s}")


def render_text(res) -> str:
    lines = ["Scaling rows (Maw/s = million agent-weeks per second of wall time; cpu/w = CPU seconds per wall "
             "second of the row, well under 1 when other work competed; load = load average as the row started)",
             TABLE_HEAD]
    lines += [_row_line(r) for r in res["rows"]]
    ref = res["reference"] or {}
    lines.append("")
    if "error" in ref:
        lines.append(f"Reference step: FAILED {ref['error']}")
    else:
        lines.append(f"Reference step ({ref['agents']:,} agents, {ref['weeks']} weeks from {ref['date']}, "
                     f"same population): vectorised {ref['vectorised_agent_weeks_per_s']:.3g} agent-weeks/s, "
                     f"per-agent {ref['reference_agent_weeks_per_s']:.3g} "
                     f"({ref['reference_ms_per_agent_week']:.3f} ms per agent-week); ratio {ref['ratio']:.1f}"
                     f"{'' if ref['same_state'] else '  [WARNING: models differed at the start week]'}")
        if ref.get("ratio_using_row_run_rate") is not None:
            lines.append(f"  (with the row's whole-run vectorised rate, {ref['row_run_agent_weeks_per_s']:.3g} agent-weeks/s, "
                         f"instead of the 2 timed weeks: ratio {ref['ratio_using_row_run_rate']:.1f})")
    e, d = res["exponents"], res["exponents_detail"]
    lines += ["", "Cost growth (exponent b of time ~ x^b, least squares on logs)",
              f"  wall vs agents         {_fmt(e['wall_vs_agents'], '.3f')}   (from 100k: "
              f"{_fmt(d['wall_vs_agents_from_100k'], '.3f')}; run loop only: {_fmt(d['run_vs_agents'], '.3f')})",
              f"  information vs agents  {_fmt(e['information_vs_agents'], '.3f')}",
              f"  decisions vs agents    {_fmt(e['decisions_vs_agents'], '.3f')}",
              f"  run loop vs weeks      {_fmt(e['wall_vs_weeks'], '.3f')}   (at {d['weeks_rows_agents']:,} agents, "
              f"weeks {d['weeks_range']})",
              "", "Weeks rows", TABLE_HEAD]
    lines += [_row_line(r) for r in res["weeks_rows"]]
    pr = res["profile_row"]
    if pr:
        lines += ["", f"Profile of the {'full-scale' if pr['full_scale'] else 'largest'} row ({pr['agents']:,} agents): "
                  "share of wall time"]
        lines += [f"  {k:<14s} {v * 100:6.1f}%" for k, v in res["profile_full"].items()]
    lines += ["", "Targets"]
    for t in res["targets"]:
        v = t["value"]
        vs = _fmt(v, ".4g")
        lines.append(f"  {t['status']:<12s} {t['target']:<32s} {vs:>10s} {t['op']} {t['limit']:g}"
                     f"{'  (' + t['note'] + ')' if t['note'] else ''}")
    return "\n".join(lines)


def render_markdown(res) -> str:
    m = res["machine"]
    s = res["settings"]
    out = [f"# Benchmark: {Path(s['scenario']).name}", "",
           f"{res['date']}, commit `{res['git_commit']}`; {m['cpus_usable']} CPUs ({m['cpu']}), {m['memory_gb']} GB, "
           f"Python {m['python']}, numpy {m['numpy']}, mesa {m['mesa']}, {m['platform']}.",
           f"Settings: quick={s['quick']}, max_agents={s['max_agents']}. Population at scale 1: "
           f"{res['people_at_scale_1']:,.0f} people (incl. arrivals). Each row ran in its own fresh process.", "",
           "## Scaling", "",
           "| row | agents | weeks | wall s | build s | run s | agent-weeks/s | peak RSS MB | information s | decisions s "
           "| CPU/wall | load |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def md_row(r):
        if "error" in r:
            return f"| {r['label']} | failed: {r['error'].splitlines()[0]} |||||||||||"
        ph = r["phases"]
        return (f"| {r['label']} | {r['agents']:,} | {r['weeks']} | {r['wall_s']:.2f} | {r['build_s']:.2f} | "
                f"{r['run_s']:.2f} | {r['agent_weeks_per_s']:.3g} | {r['peak_rss_mb']:.0f} | "
                f"{_fmt(ph.get('information'), '.2f')} | {_fmt(ph.get('decisions'), '.2f')} | "
                f"{_fmt(r.get('cpu_s', float('nan')) / r['wall_s'], '.2f')} | {_fmt(r.get('load_before'), '.2f')} |")
    out += [md_row(r) for r in res["rows"]]
    ref = res["reference"] or {}
    out += ["", "## Reference step", ""]
    if "error" in ref:
        out.append(f"Failed: {ref['error']}")
    else:
        out += [f"{ref['agents']:,} agents, {ref['weeks']} weeks from run week {ref['at_week']} ({ref['date']}): "
                f"vectorised {ref['vectorised_agent_weeks_per_s']:.3g} agent-weeks/s, per-agent Mesa step "
                f"{ref['reference_agent_weeks_per_s']:.3g} agent-weeks/s ({ref['reference_ms_per_agent_week']:.3f} ms "
                f"per agent-week). **Ratio {ref['ratio']:.1f}.**"
                + (f" With the row's whole-run vectorised rate ({ref['row_run_agent_weeks_per_s']:.3g} agent-weeks/s) "
                   f"instead of the timed weeks: {ref['ratio_using_row_run_rate']:.1f}."
                   if ref.get("ratio_using_row_run_rate") is not None else ""), "",
                f"Design: {ref['design']} (identical: {ref['same_state']}; switch: {ref['set_reference']}, "
                f"{ref['set_reference_s']:.2f} s, not counted)."]
    e, d = res["exponents"], res["exponents_detail"]
    out += ["", "## Cost growth", "", "Exponent b of time ~ x^b (least squares on logs).", "",
            "| measure | exponent |", "|---|---:|",
            f"| wall vs agents ({d['agents_range'][0]:,} to {d['agents_range'][1]:,}) | {_fmt(e['wall_vs_agents'], '.3f')} |"
            if d["agents_range"] else "| wall vs agents | - |",
            f"| wall vs agents, rows from 100k | {_fmt(d['wall_vs_agents_from_100k'], '.3f')} |",
            f"| information phase vs agents | {_fmt(e['information_vs_agents'], '.3f')} |",
            f"| decisions phase vs agents | {_fmt(e['decisions_vs_agents'], '.3f')} |",
            f"| run loop vs weeks ({d['weeks_rows_agents']:,} agents, weeks {d['weeks_range']}) | "
            f"{_fmt(e['wall_vs_weeks'], '.3f')} |", "",
            "| weeks row | agents | weeks | run s | overrides |", "|---|---:|---:|---:|---|"]
    for r in res["weeks_rows"]:
        out.append(f"| {r['label']} | failed: {r['error'].splitlines()[0]} |||" if "error" in r else
                   f"| {r['label']} | {r['agents']:,} | {r['weeks']} | {r['run_s']:.2f} | `{' '.join(r['overrides'])}` |")
    pr = res["profile_row"]
    if pr:
        out += ["", f"## Profile ({'full scale' if pr['full_scale'] else 'largest row'}, {pr['agents']:,} agents)", "",
                "| phase | share of wall time |", "|---|---:|"]
        out += [f"| {k} | {v * 100:.1f}% |" for k, v in res["profile_full"].items()]
    out += ["", "## Targets", "", "| target | value | limit | status |", "|---|---:|---:|---|"]
    for t in res["targets"]:
        v = t["value"]
        vs = _fmt(v, ".4g")
        out.append(f"| {t['target']}{' (' + t['note'] + ')' if t['note'] else ''} | {vs} | {t['op']} {t['limit']:g} | "
                   f"{t['status']} |")
    return "\n".join(out) + "\n"


def write_outputs(res: dict, folder):
    """bench.json, report.md and a manifest into the claimed folder (abm.folders.Claim), together."""
    from abm.folders import write_file  # imported here: keeps the parent light while children run
    from abm.outputs import git_commit

    def write(tmp: Path) -> dict:
        write_file(tmp / "bench.json", json.dumps(_clean(res), indent=2))
        write_file(tmp / "report.md", render_markdown(res))
        return {"settings": res.get("settings"), "git_commit": git_commit(), "suite_s": res.get("suite_s")}

    return folder.publish(write)
