"""A lower bound on the full-scale run time: construction, plus the least the belief rule's reading of
contacts can cost on this machine.

`python -m benchmarks.floor [--count-scale 0.1] [--scale 1] [--reps 3]`

Rule 3 (information.catch_up) has every resident read all their contacts once every `catch_up_weeks`
weeks (4; benchmarks.catch_up shows that 13 already changes the headline figures). Whatever else a
faster step does, those reads remain. This measures:

1. ties read per agent-week by the weekly catch-up cohort, counted over a whole baseline run at
   `--count-scale` (the cohort's residents' ties, summed every week; people prompted to decide read
   theirs again, not counted: this is a lower bound);
2. at `--scale`, the construction time, and the cheapest possible read of those ties: one 4-byte
   field of each contact's record, summed (no branches, no writes; the next listener's contacts
   prefetched, as the catch-up does), over a cohort of residents, on all threads, best of `--reps`;
   and the compiled catch-up itself over the same cohort.

floor = construction + ns per tie (cheapest read) x ties per agent-week x agents x weeks. Writes
results/bench/floor.json and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numba
import numpy as np

from abm import information, kernels
from abm.model import SafeMobilityModel
from calibration.posterior import load_run

from abm.outputs import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"


@numba.njit(parallel=True, cache=True, nogil=True)
def read_one_field(indptr, indices, ids, voice, out, cuts):
    """out[r] = sum of b_admit over the contacts of ids[r]: the least work that reads every contact, with
    the next listener's contacts prefetched as the catch-up does (cuts: the threads' blocks)."""
    for c in numba.prange(cuts.shape[0] - 1):
        for r in range(cuts[c], cuts[c + 1]):
            kernels._prefetch_contacts(indptr, indices, voice, ids, r + 1, cuts[c + 1])
            i = ids[r]
            x = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                x += voice[indices[k]].b_admit
            out[r] = x


def cohort_ties_per_agent_week(scale: float, seed: int = 1) -> dict:
    """Run the baseline at `scale`, summing the ties of each week's catch-up cohort (its residents)."""
    m = SafeMobilityModel(load_run(BASELINE, scale=scale, seed=seed))
    deg = np.diff(m.adj.indptr).astype(np.int64)
    counted = {"ties": 0, "weeks": 0}
    real = information.cohort

    def counting_cohort(model):
        ids = real(model)
        counted["ties"] += int(deg[ids[information.resident(model, ids)]].sum())
        counted["weeks"] += 1
        return ids

    information.cohort = counting_cohort
    try:
        m.run()
    finally:
        information.cohort = real
    out = {"scale": scale, "agents": int(m.people.n), "weeks": counted["weeks"], "ties": counted["ties"],
           "ties_per_agent_week": counted["ties"] / (m.people.n * counted["weeks"]),
           "mean_degree": float(deg.mean())}
    m.release()
    return out


def _best(f, reps: int) -> float:
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def read_costs(scale: float, reps: int, seed: int = 1) -> dict:
    t = time.perf_counter()
    m = SafeMobilityModel(load_run(BASELINE, scale=scale, seed=seed))
    build = time.perf_counter() - t
    p, a = m.people, m.adj
    ids = np.flatnonzero(information.resident(m, np.arange(0, p.n, int(m.info["catch_up_weeks"]))))
    ids = (ids * int(m.info["catch_up_weeks"])).astype(np.int64)
    ties = int((a.indptr[ids + 1] - a.indptr[ids]).sum())
    out = np.empty(len(ids))
    read_one_field(a.indptr, a.indices, ids[:10], p.voice, out, kernels._chunks(10, True))  # compile first
    cuts = kernels._chunks(len(ids), True)
    cheapest = _best(lambda: read_one_field(a.indptr, a.indices, ids, p.voice, out, cuts), reps)
    weeks_before = p.belief_week.copy()

    def real():   # the same listeners due each time (beliefs moving between repetitions do not matter)
        p.belief_week[:] = weeks_before
        kernels.catch_up(a.indptr, a.indices, ids, p.voice, p.belief_week, p.us_tie, p.nat, m.admit_rate, m.week,
                         m.info["belief_mixing"], m.info["diaspora_weight"])
    catch = _best(real, reps)
    res = {"scale": scale, "agents": int(p.n), "weeks": int(m.spinup + m.n_weeks), "build_s": build,
           "cohort_ties": ties, "threads": numba.get_num_threads(),
           "cheapest_ns_per_tie": cheapest / ties * 1e9, "catch_up_ns_per_tie": catch / ties * 1e9}
    m.release()
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count-scale", type=float, default=0.1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0, help="the target wall time, s")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "floor.json"))
    args = ap.parse_args(argv)
    counted = cohort_ties_per_agent_week(args.count_scale)
    costs = read_costs(args.scale, args.reps)
    agent_weeks = costs["agents"] * costs["weeks"]
    reads = counted["ties_per_agent_week"] * agent_weeks
    floor_read = costs["cheapest_ns_per_tie"] * 1e-9 * reads
    res = {"counted": counted, "costs": costs, "ties_read": reads, "catch_up_read_floor_s": floor_read,
           "catch_up_at_measured_speed_s": costs["catch_up_ns_per_tie"] * 1e-9 * reads,
           "floor_s": costs["build_s"] + floor_read, "budget_s": args.budget}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(res, indent=2) + "\n")
    print(f"catch-up cohort: {counted['ties_per_agent_week']:.3f} ties read per agent-week "
          f"(baseline at scale {counted['scale']}, {counted['agents']:,} agents, mean degree {counted['mean_degree']:.2f})")
    print(f"at scale {costs['scale']}: {costs['agents']:,} agents x {costs['weeks']} weeks; construction {costs['build_s']:.1f} s")
    print(f"reading a contact, {costs['threads']} threads: cheapest {costs['cheapest_ns_per_tie']:.1f} ns/tie, "
          f"the catch-up kernel {costs['catch_up_ns_per_tie']:.1f} ns/tie")
    print(f"{reads:.3g} ties read by the cohort: at least {floor_read:.1f} s "
          f"({res['catch_up_at_measured_speed_s']:.1f} s at the catch-up kernel's speed)")
    print(f"floor = construction + cheapest reads = {res['floor_s']:.1f} s (budget {args.budget:.0f} s)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
