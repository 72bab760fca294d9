"""benchmarks.versus (`smo-abm bench --versus REF`): the order of the runs, the ratio, the checkout it makes and
removes, and its errors. The real measurement (two codes at one million agents) is run from the command line
(`make bench-versus`); here the child processes are replaced by a stand-in that reports given speeds."""
import json
import subprocess

import pytest

from abm.cli import main
from benchmarks import versus
from benchmarks.suite import ROOT


def test_runs_alternate_so_drift_weighs_on_both_sides():
    assert versus.order(3) == ["ref", "head", "head", "ref", "ref", "head"]
    o = versus.order(4)
    assert o.count("ref") == o.count("head") == 4
    # with a steady drift (run k takes k units), ABBA gives both sides the same total position
    assert sum(k for k, s in enumerate(o) if s == "ref") == sum(k for k, s in enumerate(o) if s == "head")


def test_ratio_of_medians_and_pairs():
    runs = [{"side": "ref", "agent_weeks_per_s": 10.0}, {"side": "head", "agent_weeks_per_s": 7.0},
            {"side": "head", "agent_weeks_per_s": 8.0}, {"side": "ref", "agent_weeks_per_s": 12.0},
            {"side": "ref", "agent_weeks_per_s": 11.0}, {"side": "head", "agent_weeks_per_s": 9.0}]
    s = versus.summarise(runs)
    assert (s["median_ref"], s["median_head"]) == (11.0, 8.0)
    assert s["ratio"] == pytest.approx(8 / 11)
    assert s["pair_ratios"] == pytest.approx([0.7, 8 / 12, 9 / 11])
    assert s["status"] == "FAIL"                         # 0.727 < 0.75
    assert versus.summarise(runs, ratio_min=0.7)["status"] == "PASS"
    failed = [dict(r, error="killed") if r["side"] == "head" else r for r in runs]
    assert versus.summarise(failed)["status"] == "NOT MEASURED"


def _worktrees() -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout


def test_measures_each_side_in_its_own_checkout_and_removes_it(tmp_path):
    seen = []

    def runner(side, root, task):
        seen.append((side, str(root), task["kind"], task.get("scale")))
        assert (root / "experiments" / "baseline.toml").is_file()   # a real checkout of the commit
        if task["kind"] == "calibrate":
            return {"people_at_scale_1": 2e7 if side == "ref" else 4e7}
        agents = int(task["scale"] * (2e7 if side == "ref" else 4e7))
        return {"agents": agents, "weeks": 10, "wall_s": 1.0,
                "agent_weeks_per_s": agents * 10.0 * (1.0 if side == "ref" else 0.9)}

    before = _worktrees()
    res = versus.run_versus(tmp_path / "v", "HEAD", reps=2, agents=1000, log=lambda *a, **k: None, runner=runner)
    assert _worktrees() == before                        # the temporary checkout is gone
    ref_root = {r for s, r, _, _ in seen if s == "ref"}
    assert len(ref_root) == 1 and ref_root != {str(ROOT)}
    timed = [(s, sc) for s, _, k, sc in seen if k == "row"][2:]   # after one warm-up run per side
    assert [s for s, _ in timed] == versus.order(2)
    assert {sc for s, sc in timed if s == "ref"} == {1000 / 2e7} and {sc for s, sc in timed if s == "head"} == {1000 / 4e7}
    assert res["ratio"] == pytest.approx(0.9) and res["status"] == "PASS"
    out = json.loads((tmp_path / "v" / "versus.json").read_text())
    assert out["ref_commit"] == subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                               text=True).stdout.strip()
    assert "| 4 | ref |" in (tmp_path / "v" / "versus.md").read_text()
    assert json.loads((tmp_path / "v" / "manifest.json").read_text())["kind"] == "versus"


@pytest.mark.parametrize("args, field", [(["--versus", "no-such-commit"], "--versus"),
                                         (["--versus", "HEAD", "--reps", "0"], "--reps"),
                                         (["--versus", "HEAD", "--quick"], "--quick"),
                                         (["--versus", "HEAD", "--max-agents", "0"], "--max-agents")])
def test_bad_arguments_are_refused_before_any_work(tmp_path, capsys, args, field):
    out = tmp_path / "v"
    assert main(["bench", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: command line: " + field) and "Traceback" not in err
    assert not out.exists()
