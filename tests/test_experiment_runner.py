"""Experiments (issue 5): files checked before any run, paired effects on common random numbers, Dask and
single-process runs identical, and a killed experiment resumed with no run missing or duplicated."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from experiments.design import load_experiment
from experiments.effects import effects
from experiments.experiment import run_experiment
from experiments.measures import OUTPUTS, measure
from tests.conftest import ROOT

BASELINE = (ROOT / "experiments" / "baseline.toml").as_posix()
SHIPPED = sorted(p for p in (ROOT / "experiments").glob("*.toml") if "[experiment]" in p.read_text())
TINY_SCALE = 0.001


def tiny(tmp_path: Path, variants: str, replicates: int = 3, extra: str = "", name: str = "tiny") -> Path:
    """An experiment file on the shipped baseline, shortened to the end of 2023."""
    f = tmp_path / f"{name}.toml"
    f.write_text(f"""
[experiment]
name = "{name}"
replicates = {replicates}
draws = 0
seed = 7
scale = {TINY_SCALE}
{extra}
[baseline]
scenario = "{BASELINE}"
run = {{ end = "2023-12-31" }}
{variants}
""")
    return f


CAPACITY = """
[[variant]]
name = "capacity_x3"
multiply = { "pack.offices.*.assess_per_week" = 3.0 }

[[variant]]
name = "closed_in_september"
[[variant.policy]]
date = "2023-09-04"
kind = "smo_close"
office = "Colombia"
"""


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_experiments_are_valid(path):
    exp = load_experiment(path)
    assert exp.replicates * len(exp.draw_ids) >= 20, "each variant runs at least 20 times"
    assert len(exp.variants) >= 3
    assert all(v.description for v in exp.variants)


def test_shipped_files_say_what_the_issue_asks():
    names = {p.stem: [v.name for v in load_experiment(p).variants] for p in SHIPPED}
    assert names["eligibility_expansion"] == ["all_nationalities", "no_presence_cutoff", "no_regular_status",
                                              "walk_in", "all_together", "pipeline_x0.5", "pipeline_x2",
                                              "pipeline_x10", "all_together_pipeline_x2"]
    assert {"office_decision_3mo", "office_decision_6mo", "office_decision_9mo", "office_decision_12mo",
            "assessment_capacity_x0.5", "assessment_capacity_x2", "assessment_capacity_x4", "willing_to_wait_30d",
            "willing_to_wait_60d", "willing_to_wait_90d", "willing_to_wait_120d", "willing_to_wait_180d", "updates_on",
            "updates_off", "pipeline_x0.5", "pipeline_x2", "pipeline_x10"} == set(names["waiting_thresholds"])
    waits = load_experiment(ROOT / "experiments" / "waiting_thresholds.toml")
    decision = {v: waits.scenario(v, -1).pack.resettlement["decision_weeks"] for v in
                ("office_decision_3mo", "office_decision_6mo", "office_decision_9mo", "office_decision_12mo")}
    assert decision == {"office_decision_3mo": 13, "office_decision_6mo": 26, "office_decision_9mo": 39,
                        "office_decision_12mo": 52}  # months of 365.25 / 12 days, in whole weeks
    assert waits.scenario("willing_to_wait_90d", -1).behaviour["tolerated_wait_weeks"] == pytest.approx(90 / 7)
    assert set(names["parole_counterfactuals"]) == {"no_parole", "parole_without_expulsions", "expulsions_without_parole"}
    closure = load_experiment(ROOT / "experiments" / "closure_2025.toml")
    assert closure.scenario("baseline", -1).end.isoformat() == "2025-12-31"


def test_variants_change_what_they_say(tmp_path):
    exp = load_experiment(tiny(tmp_path, CAPACITY + """
[[variant]]
name = "both"
combine = ["capacity_x3", "closed_in_september"]
drop_policy = [{ kind = "announce", topic = "smo" }]
"""))
    base = exp.scenario("baseline", -1)
    x3 = exp.scenario("capacity_x3", -1)
    for office, cfg in base.pack.offices.items():
        assert x3.pack.offices[office]["assess_per_week"] == pytest.approx(3 * cfg["assess_per_week"])
    both = exp.scenario("both", -1)
    kinds = [(p.kind, p.fields.get("topic")) for p in both.policies]
    assert ("announce", "smo") not in kinds and ("announce", "smo") in [(p.kind, p.fields.get("topic")) for p in base.policies]
    closes = lambda sc: sum(p.kind == "smo_close" for p in sc.policies)
    assert closes(both) == closes(base) + 1
    assert both.pack.offices["Ecuador"]["assess_per_week"] == x3.pack.offices["Ecuador"]["assess_per_week"]


BAD = {
    "unknown field": ("", '[[variant]]\nname = "a"\nbehavior = { wait_cost = 1 }', "variant[0].behavior"),
    "unknown output": ('outputs = ["darien_crossings", "happiness"]', CAPACITY, "experiment.outputs"),
    "drop matches nothing": ("", '[[variant]]\nname = "a"\ndrop_policy = [{ kind = "route_close" }]', "drop_policy[0]"),
    "unknown nationality": ("", '[[variant]]\nname = "a"\n[[variant.policy]]\ndate = "2023-07-01"\nkind = "smo_nationalities"\n'
                                'office = "Colombia"\nadd = ["Atlantis"]', "Atlantis"),
    "multiply a behaviour": ("", '[[variant]]\nname = "a"\nmultiply = { "behaviour.wait_cost" = 2 }', "multiply.behaviour.wait_cost"),
    "impossible parameter": ("", '[[variant]]\nname = "a"\nbehaviour = { tolerated_wait_weeks = -3 }', "behaviour.tolerated_wait_weeks"),
    "date out of range": ("", '[[variant]]\nname = "a"\n[[variant.policy]]\ndate = "2023-02-30"\nkind = "smo_close"\noffice = "Colombia"', "date"),
    "window outside the run": ('window = { start = "2023-01-01", end = "2026-01-01" }', CAPACITY, "experiment.window"),
    "variant sets the run": ("", '[[variant]]\nname = "a"\nrun = { seed = 3 }', "variant[0].run"),
    "combine unknown": ("", '[[variant]]\nname = "a"\ncombine = ["b"]', "variant[0].combine"),
    "draws without posterior": ("", CAPACITY, "experiment.draws"),
    "decision time beyond the schema": ("", '[[variant]]\nname = "a"\noffice_decision_months = 30', "office_decision_months"),
    "decision time not a number": ("", '[[variant]]\nname = "a"\noffice_decision_months = "six"', "office_decision_months"),
    "willing to wait no days": ("", '[[variant]]\nname = "a"\nwilling_to_wait_days = 0', "willing_to_wait_days"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_malformed_experiment_is_an_input_error_before_any_run(tmp_path, capsys, case):
    extra, variants, field = BAD[case]
    f = tiny(tmp_path, variants, extra=extra)
    if case == "draws without posterior":
        f.write_text(f.read_text().replace("draws = 0", "draws = 3").replace(
            'run = { end = "2023-12-31" }', 'run = { end = "2023-12-31", use_posterior = false }'))
    out = tmp_path / "out"
    code = main(["experiment", str(f), "--out", str(out), "--single-process", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and str(f) in err and field in err, err
    assert "Traceback" not in err
    assert not out.exists(), "nothing is written before the file is checked"


def test_effects_are_paired_differences():
    """Synthetic runs: a variant adding exactly 5 to every baseline run has effect 5 with zero width;
    unpaired, the baseline's spread comes back."""
    rng = np.random.default_rng(1)
    b = rng.normal(100, 10, size=40)
    rows = [("baseline", r, -1, r, "darien_crossings", v) for r, v in enumerate(b)]
    rows += [("more", r, -1, r, "darien_crossings", v + 5) for r, v in enumerate(b)]
    runs = pd.DataFrame(rows, columns=["variant", "replicate", "draw", "seed", "output", "value"])
    e = effects(runs, ["darien_crossings"]).iloc[0]
    assert e.effect_median == pytest.approx(-5) and e.effect_lo == pytest.approx(-5) and e.effect_hi == pytest.approx(-5)
    assert e.paired_width == pytest.approx(0)
    # unpaired: differences of independent normals with sd 10 have sd 14.1: a 90% width of 2 x 1.645 x 14.1
    assert 30 < e.unpaired_width < 60
    assert e.share_positive == 0  # crossings rose: none averted


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    d = tmp_path_factory.mktemp("single")
    f = tiny(d, CAPACITY, replicates=3)
    return f, run_experiment(f, out=d / "out", scheduler="single", progress=False)


def test_common_random_numbers(single):
    """Same seed: the runs are identical until the policy differs, and differ after it."""
    _, res = single
    out = res["out"]
    for rep in range(3):
        a = json.loads((out / "runs" / "baseline" / f"rep{rep:03d}-point.json").read_text())["series"]
        b = json.loads((out / "runs" / "closed_in_september" / f"rep{rep:03d}-point.json").read_text())["series"]
        before = [i for i, d in enumerate(a["date"]) if d < "2023-08-29"]  # weeks ending before the closure
        after = [i for i, d in enumerate(a["date"]) if d >= "2023-09-11"]
        for k in ("darien_crossings", "smo_registrations"):
            assert [a[k][i] for i in before] == [b[k][i] for i in before]
        assert [a["smo_registrations"][i] for i in after] != [b["smo_registrations"][i] for i in after]
    eff = res["effects"].set_index(["variant", "output"])
    assert eff.loc[("closed_in_september", "smo_registrations"), "effect_hi"] < 0


def test_measures_agree_with_the_time_series():
    """Window totals from the model's weekly arrays equal those of the tidy outputs (another code path)."""
    import datetime as dt

    from abm.outputs import timeseries
    from calibration.targets import total
    from tests.conftest import run_model

    m = run_model(scale=TINY_SCALE, seed=4)
    win = (dt.date(2023, 6, 12), dt.date(2024, 3, 31))
    out, series = measure(m, win)
    ts = timeseries(m)
    end = (win[1] + dt.timedelta(days=1)).isoformat()
    for o, metric in (("darien_crossings", "darien_crossings"), ("smo_arrivals", "smo_relocations"), ("deaths", "deaths")):
        assert out[o] == pytest.approx(total(ts, metric, win[0].isoformat(), end), rel=1e-9, abs=1e-6)
    share = total(ts, "gave_up_smo", win[0].isoformat(), end) / total(ts, "smo_applications", win[0].isoformat(), end)
    assert out["gave_up_share"] == pytest.approx(share) and 0 <= share <= 1
    assert set(out) == set(OUTPUTS)
    whole, _ = measure(m, (m.start, m.scenario.end))
    waits = 7.0 * np.array([w for w, k in zip(m.approval_waits, m.approval_weeks) if k >= 0])
    assert len(waits) > 10
    assert whole["wait_mean_days"] == pytest.approx(waits.mean())
    assert whole["wait_p90_days"] == pytest.approx(np.quantile(waits, 0.9))


def test_local_cluster_and_single_process_agree(single, tmp_path):
    """An explicit 2-worker LocalCluster, reached by its address as --scheduler reaches a cluster."""
    from distributed import LocalCluster

    f, res = single
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        dask = run_experiment(f, out=tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert dask["manifest"]["scheduler"].startswith("tcp://")
    pd.testing.assert_frame_equal(res["runs"], dask["runs"])
    for p in (res["out"] / "runs").rglob("*.json"):
        q = tmp_path / "dask" / p.relative_to(res["out"])
        assert json.loads(p.read_text())["series"] == json.loads(q.read_text())["series"]


def test_report_is_self_contained(single):
    _, res = single
    html = (res["out"] / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5
    assert 'src="http' not in html and "<script" not in html
    for v in ("capacity_x3", "closed_in_september"):
        assert v in html
    assert "times narrower" in html
    man = json.loads((res["out"] / "manifest.json").read_text())
    assert man["runs"] == 9 and man["git_commit"] and man["seeds"]


def test_killed_experiment_resumes_without_loss_or_duplicates(single, tmp_path):
    """kill -9 the whole process group half-way; the same command finishes the rest."""
    _, res = single
    f = tiny(tmp_path, CAPACITY, replicates=8)  # 24 runs; replicates 0-2 have the seeds of `single`'s
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "abm.cli", "experiment", str(f), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("runs/*/*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*.json")}
    assert 3 <= len(before) < 24, f"killed after {len(before)} of 24 runs"
    assert not (out / "runs.csv").exists()
    for p in before:  # every run file on disk is whole
        json.loads(p.read_text())
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    runs = pd.read_csv(out / "runs.csv")
    assert not runs.duplicated(["variant", "replicate", "draw", "output"]).any()
    assert len(runs) == 24 * len(OUTPUTS)
    assert set(map(tuple, runs[["variant", "replicate"]].drop_duplicates().to_numpy())) == {
        (v, r) for v in ("baseline", "capacity_x3", "closed_in_september") for r in range(8)}
    first = runs[runs.replicate < 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, pd.read_csv(res["out"] / "runs.csv"))
    assert all(p.stat().st_mtime_ns == t for p, t in before.items()), "finished runs are not run again"
    assert len(list(out.glob("runs/*/*.json"))) == 24 and not list(out.glob("runs/*/.*"))


def test_scale_policy_scales_dated_policies(tmp_path):
    """scale_policy multiplies a field of the baseline's matching dated policies, and only those."""
    f = tiny(tmp_path, """
[[variant]]
name = "quieter"
scale_policy = [{ kind = "parole_open", field = "monthly_cap", factor = 0.5, from = "2023-01-01" }]
""")
    exp = load_experiment(f)
    base = [(p.date, p.kind, p.fields.get("monthly_cap")) for p in exp.scenario("baseline", -1).policies]
    var = [(p.date, p.kind, p.fields.get("monthly_cap")) for p in exp.scenario("quieter", -1).policies]
    assert len(base) == len(var)
    assert sum(k == "parole_open" and d.year >= 2023 for d, k, _ in base) >= 1
    for (d, k, r), (_, _, r2) in zip(base, var):
        if k == "parole_open" and d.year >= 2023:
            assert r2 == pytest.approx(0.5 * r)
        else:
            assert r2 == r
    f.write_text(f.read_text().replace('kind = "parole_open"', 'kind = "smo_close"'))
    with pytest.raises(Exception, match="scale_policy"):
        load_experiment(f)


def test_draws_default_to_posterior_draws_when_the_baseline_has_a_posterior(tmp_path):
    """An experiment file that does not say how many draws runs DEFAULT_DRAWS posterior draws (parameter
    uncertainty in every interval) when its baseline has a posterior, and the point estimate otherwise."""
    from experiments.design import DEFAULT_DRAWS

    f = tiny(tmp_path, CAPACITY)
    f.write_text(f.read_text().replace("draws = 0\n", ""))
    exp = load_experiment(f)
    assert exp.draws == DEFAULT_DRAWS > 0 and exp.draw_ids == list(range(DEFAULT_DRAWS))
    f.write_text(f.read_text().replace("[baseline]\n", "[baseline]\nrun = { use_posterior = false, end = \"2023-12-31\" }\n")
                 .replace('run = { end = "2023-12-31" }\n', ""))
    exp = load_experiment(f)
    assert exp.draws == 0 and exp.draw_ids == [-1]
