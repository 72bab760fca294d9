"""The benchmark harness (benchmarks.suite, `smo-abm bench`) on tiny sizes: it runs, and writes what it promises.

The real suite (10k agents to full scale) is run from the command line only (`make bench`).
"""
import json
import math

import numpy as np
import pytest

from abm.cli import _parser
from benchmarks.suite import fit_exponent, plan_sizes, run_suite

TINY_WINDOWS = [("run.spinup_weeks=0", "run.end=2022-09-30"),   # 14 weeks
                ("run.spinup_weeks=0", "run.end=2023-03-31"),   # 40
                ("run.spinup_weeks=0", "run.end=2023-12-29")]   # 79


def test_fit_exponent_recovers_a_known_exponent():
    x = np.array([1e4, 3e4, 1e5, 3e5, 1e6])
    assert fit_exponent(x, 3 * x**1.5) == pytest.approx(1.5, abs=1e-9)
    rng = np.random.default_rng(0)
    noisy = 0.2 * x**0.9 * np.exp(rng.normal(0, 0.02, len(x)))
    assert fit_exponent(x, noisy) == pytest.approx(0.9, abs=0.05)
    assert math.isnan(fit_exponent([1e4], [2.0]))                     # one point: no slope
    assert fit_exponent([1e4, 2e4, 4e4], [1.0, float("nan"), 4.0]) == pytest.approx(1.0)  # unusable points dropped


def test_plan_sizes():
    full = 14.6e6
    labels = lambda plan: [p[0] for p in plan]
    assert labels(plan_sizes(full, False, None)) == ["10k", "30k", "100k", "300k", "1M", "3M", "full"]
    assert labels(plan_sizes(full, True, None)) == ["10k", "30k", "100k", "300k"]
    assert labels(plan_sizes(full, False, 300_000)) == ["10k", "30k", "100k", "300k"]
    assert labels(plan_sizes(full, False, 500_000)) == ["10k", "30k", "100k", "300k", "500k"]
    plan = plan_sizes(full, False, None)
    assert plan[-1][2] == 1.0 and all(0 < s < 1 for _, _, s in plan[:-1])


def test_cli_accepts_bench():
    a = _parser().parse_args(["bench", "--quick", "--max-agents", "300000", "--out", "x"])
    assert (a.command, a.quick, a.max_agents, a.out) == ("bench", True, 300_000, "x")
    assert _parser().parse_args(["bench"]).out is None  # results/bench, or results/bench-versus with --versus


def test_tiny_suite_writes_its_results(tmp_path):
    out = tmp_path / "bench"
    run_suite(out, sizes=[2000, 5000], reference_agents=2000, reference_weeks=1, weeks_agents=2000,
              weeks_windows=TINY_WINDOWS, log=lambda *a, **k: None)
    res = json.loads((out / "bench.json").read_text())
    assert (out / "report.md").read_text().startswith("# Benchmark")
    for key in ("rows", "reference_ratio_100k", "reference", "exponents", "weeks_rows", "profile_full", "machine",
                "git_commit", "date", "targets"):
        assert key in res, key

    rows = res["rows"]
    assert len(rows) == 2
    for r in rows:
        assert "error" not in r, r.get("stderr_tail")
        assert isinstance(r["agents"], int) and isinstance(r["weeks"], int) and r["weeks"] == 26 + 157  # 2022-07-01 to 2025-06-30, weekly, after 26 burn-in weeks
        for k in ("wall_s", "agent_weeks_per_s", "peak_rss_mb"):
            assert isinstance(r[k], float) and r[k] > 0, k
        assert isinstance(r["phases"], dict) and r["phases"]
        assert {"information", "decisions"} <= set(r["phases"])
        assert r["agent_weeks_per_s"] == pytest.approx(r["agents"] * r["weeks"] / r["wall_s"])
    assert rows[0]["agents"] < rows[1]["agents"]
    assert rows[0]["agents"] == pytest.approx(2000, rel=0.05) and rows[1]["agents"] == pytest.approx(5000, rel=0.05)

    ref = res["reference"]
    assert "error" not in ref, ref
    assert ref["agents"] == rows[0]["agents"] and ref["weeks"] == 1 and ref["same_state"] is True
    assert isinstance(res["reference_ratio_100k"], float) and res["reference_ratio_100k"] > 0

    ex = res["exponents"]
    assert set(ex) == {"wall_vs_agents", "information_vs_agents", "decisions_vs_agents", "wall_vs_weeks"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in ex.values()), ex

    weeks = [r["weeks"] for r in res["weeks_rows"]]
    assert weeks == sorted(weeks) and weeks[-1] >= 4 * weeks[0]
    assert all(r["agents"] == pytest.approx(2000, rel=0.05) for r in res["weeks_rows"])

    prof = res["profile_full"]
    top = {k: v for k, v in prof.items() if "/" not in k}  # "phase/part" keys break a phase down
    assert top and sum(top.values()) == pytest.approx(1.0, abs=0.02)
    for k, v in prof.items():
        if "/" in k:
            assert v <= prof[k.split("/")[0]] + 1e-9, k
    assert list(top.values()) == sorted(top.values(), reverse=True)
    assert {"cpu_count", "python", "numpy", "platform"} <= set(res["machine"])
    assert {t["status"] for t in res["targets"]} <= {"PASS", "FAIL", "NOT MEASURED"}


def test_floor_reads_every_contact_and_counts_the_cohort():
    """benchmarks.floor: the cheapest read sums b_admit over each listener's contacts (as the sparse
    product does), and the cohort reads between 0 and mean degree / period ties per agent-week."""
    import scipy.sparse as sp

    from benchmarks.floor import cohort_ties_per_agent_week, read_one_field

    rng = np.random.default_rng(3)
    adj = sp.random(300, 300, density=0.05, random_state=4, format="csr")
    adj = ((adj + adj.T) > 0).astype(np.float32).tocsr()
    from agents.population import VOICE

    voice = np.zeros(300, dtype=VOICE)
    voice["b_admit"] = rng.random(300)
    ids = np.arange(0, 300, 3, dtype=np.int64)
    out = np.empty(len(ids))
    from abm.kernels import _chunks

    read_one_field(adj.indptr, adj.indices, ids, voice, out, _chunks(len(ids), True))
    np.testing.assert_allclose(out, (adj @ voice["b_admit"].astype(np.float64))[ids], rtol=1e-6)
    c = cohort_ties_per_agent_week(0.001)
    assert c["weeks"] > 100
    assert 0 < c["ties_per_agent_week"] <= c["mean_degree"] / 4 * 1.05   # default catch_up_weeks = 4
