"""The core does not reach up (issue 17): abm/ and agents/ import nothing from calibration/, experiments/ or
benchmarks/. The posterior's values are resolved where a run is assembled (calibration/posterior.py
load_run / run_from_data, called by the command line, experiments, the dashboard, benchmarks and tests) and
handed to abm/scenario.py; the comparison of a run with the targets is calibration/targets.py `comparison`,
added to summary.json by the command line."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import BASELINE, ROOT, TESTLAND

CORE = ("abm", "agents")
UPPER = ("calibration", "experiments", "benchmarks")

#: front ends that live in abm/ but assemble runs, so may import from above, each only what it names
FRONT_ENDS = {
    "abm/cli.py": ({"calibration", "experiments", "benchmarks"},
                   "the command line is where a run is assembled: `run` resolves the posterior and compares "
                   "with the targets (calibration), `calibrate` and `validate` are calibration's, `experiment` "
                   "and `sensitivity` experiments', `bench` benchmarks'; each imported inside its command"),
    "abm/app.py": ({"calibration", "experiments"},
                   "the dashboard page assembles its runs (the posterior's values via "
                   "calibration.posterior.run_from_data) and compares experiments' variants (experiments.compare)"),
    "abm/dashboard.py": ({"experiments"},
                         "the dashboard's launcher checks --host as the scheduler address is checked "
                         "(experiments.cluster.is_host_name)"),
}


def upward_imports(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """(line, package) of every import of a package in UPPER in the source: import statements anywhere
    (inside functions too), and importlib.import_module / __import__ of a constant name."""
    found = []

    def top(name: str | None):
        return (name or "").split(".")[0]

    for node in ast.walk(ast.parse(source, filename)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module]
            elif node.level >= 2 and node.module is None:  # `from .. import calibration` (above the package)
                names = [a.name for a in node.names]
            elif node.level >= 2:
                names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            f = node.func
            callee = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if callee in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [(node.lineno, top(n)) for n in names if top(n) in UPPER]
    return sorted(found)


def core_modules():
    return sorted(p for pkg in CORE for p in (ROOT / pkg).rglob("*.py"))


def test_the_checker_finds_a_planted_import():
    planted = ("import numpy as np\n"
               "from . import params\n"                      # within the package: fine
               "import calibrationx\n"                        # another package whose name starts alike: fine
               "from calibration.posterior import load_run\n"
               "def f():\n"
               "    import experiments.design as d\n"         # inside a function
               "    from benchmarks import suite\n"
               "    return importlib.import_module('calibration.targets')\n"
               "from .. import experiments\n")
    assert upward_imports(planted) == [(4, "calibration"), (6, "experiments"), (7, "benchmarks"), (8, "calibration"),
                                       (9, "experiments")]
    assert upward_imports("from abm.scenario import load_scenario\nimport agents.states\n") == []


def test_abm_and_agents_import_nothing_from_above():
    assert len(core_modules()) > 20
    bad = []
    for path in core_modules():
        rel = path.relative_to(ROOT).as_posix()
        allowed = FRONT_ENDS.get(rel, (set(), ""))[0]
        bad += [f"{rel}:{line}: imports {pkg}" for line, pkg in upward_imports(path.read_text(), rel)
                if pkg not in allowed]
    assert not bad, "the core reaches up (issue 17):\n" + "\n".join(bad)


def test_the_front_ends_exempted_are_front_ends_that_need_it():
    for rel, (allowed, reason) in FRONT_ENDS.items():
        used = {pkg for _, pkg in upward_imports((ROOT / rel).read_text(), rel)}
        assert used == allowed, (rel, used, reason)  # an exemption no longer needed is removed


def test_the_core_runs_without_the_packages_above():
    """abm's scenarios, model and outputs import, and a pack without a posterior loads, with calibration,
    experiments and benchmarks unimportable (so no import hides in a code path the AST check misses)."""
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {UPPER!r}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import abm.scenario, abm.model, abm.outputs, abm.summary, abm.folders, abm.figures
sc = abm.scenario.load_scenario({str(TESTLAND)!r}, scale=0.002)
assert sc.calibration == {{"posterior": None, "values": "abm/params.py defaults"}}
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_a_pack_with_a_posterior_is_refused_without_its_values():
    """A caller that forgot to assemble the run with calibration.posterior fails loudly, instead of running
    with the hand-set values; run.use_posterior = false asks for those on purpose."""
    from abm.scenario import PosteriorNotResolved, load_scenario, read_scenario_data, scenario_from_data
    from calibration import posterior
    from calibration.posterior import load_run, run_from_data

    with pytest.raises(PosteriorNotResolved, match="calibration.posterior.load_run"):
        load_scenario(BASELINE)
    with pytest.raises(PosteriorNotResolved):
        scenario_from_data(read_scenario_data(BASELINE), BASELINE)
    assert load_scenario(BASELINE, overrides=["run.use_posterior=false"]).calibration["posterior"] is None
    for sc in (load_run(BASELINE), run_from_data(read_scenario_data(BASELINE), BASELINE)):
        assert sc.calibration == {"posterior": "calibration/posterior.csv", "values": "point estimate (the particle nearest the joint median)",
                                  "calibrated": posterior.point()}
    assert load_run(BASELINE, overrides=["run.posterior_draw=2"]).calibration["calibrated"] == posterior.draw(2)


def test_summary_is_the_models_and_the_comparison_calibrations(small_run):
    """summary.json: abm/summary.py writes what the run did; calibration.targets.comparison adds the
    targets beside the model's values (for a pack that names targets)."""
    from abm.summary import summary
    from calibration import targets

    m, ts = small_run
    own = summary(m, ts)
    assert "headline" not in own and "targets" not in own and own["totals"]["darien_crossings"] > 0
    extra = targets.comparison(m, ts, own)
    assert set(extra) == {"headline", "targets"}
    assert set(extra["targets"]) == set(targets.load_targets())
    assert targets.summary(m, ts) == {**own, **extra}
