"""Dates are data: the simulation compares no calendar date outside the policy timeline (issue 16).

What happens when is a dated policy in the scenario (abm/policy.py applies it in the week containing its
date, through a handler named `on_*` in the module it changes). Every other module of the simulation
(abm/ and agents/, except the modules that read input or write output) must therefore hold no date
literal, build no date, and compare no date or part of a date. A rule that needs a date (an office's
presence cut-off) gets it from its policy's handler, as a number."""
import ast
import re
from pathlib import Path

from tests.conftest import ROOT

#: modules that read input or write output: they convert dates, the simulation does not
NOT_SIMULATION = {"abm/policy.py", "abm/scenario.py", "abm/pack.py", "abm/outputs.py", "abm/figures.py", "abm/app.py",
                  "abm/dashboard.py", "abm/cli.py", "abm/folders.py", "abm/errors.py", "abm/memory.py",
                  "abm/interrupts.py", "abm/params.py"}
#: (module, function) allowed a calendar computation, and why
ALLOWED = {
    ("agents/population.py", "<module>"): "EPOCH: the origin of day numbers, not a date anything happens on",
    ("agents/population.py", "year_windows"): "a group's arrivals_by_year (pack data by calendar year) become day numbers",
    ("abm/model.py", "fiscal_year"): "resettlement ceilings are per fiscal year; its first month is pack data",
}
DATE_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}")
DATE_CALLS = {"date", "datetime", "fromisoformat", "today", "now", "strptime"}
DATE_NAMES = {"date", "today", "year", "month", "day", "date_of"}

SIMULATION = sorted(str(p.relative_to(ROOT)) for d in ("abm", "agents") for p in (ROOT / d).rglob("*.py")
                    if str(p.relative_to(ROOT)) not in NOT_SIMULATION)


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _datey(node) -> bool:
    """Whether an expression mentions a date: a date-shaped literal, a date built or read, or a part of one."""
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and DATE_LITERAL.match(n.value):
            return True
        if isinstance(n, ast.Call) and _name(n.func) in DATE_CALLS:
            return True
        if isinstance(n, (ast.Name, ast.Attribute)) and _name(n) in DATE_NAMES:
            return True
    return False


def offences(path: Path) -> list[str]:
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text())
    out = []

    def visit(node, func: str):
        for child in ast.iter_child_nodes(node):
            f = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            handler = f.startswith("on_")
            if not handler and (rel, f) not in ALLOWED:
                if isinstance(child, ast.Compare) and _datey(child):
                    out.append(f"{rel}:{child.lineno} ({f}): compares a date")
                if isinstance(child, ast.Constant) and isinstance(child.value, str) and DATE_LITERAL.match(child.value):
                    out.append(f"{rel}:{child.lineno} ({f}): date literal {child.value!r}")
                if isinstance(child, ast.Call) and _name(child.func) in DATE_CALLS - {"date"}:
                    out.append(f"{rel}:{child.lineno} ({f}): builds a date")
                if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr == "date" \
                        and _name(child.func.value) in ("dt", "datetime"):
                    out.append(f"{rel}:{child.lineno} ({f}): builds a date")
            visit(child, f)

    visit(tree, "<module>")
    return out


def test_simulation_compares_no_date():
    found = [o for p in SIMULATION for o in offences(ROOT / p)]
    assert not found, "dates belong in the scenario's policies (handlers on_*):\n" + "\n".join(found)


def test_the_check_finds_a_date_branch(tmp_path):
    """The check is not vacuous: a date branch in a rule is found, in a handler it is not."""
    bad = ROOT / "abm" / "_date_probe.py"
    try:
        bad.write_text("import datetime as dt\n\n"
                       "def rule(m):\n    return m.date >= dt.date(2023, 5, 11)\n\n"
                       "def other(m):\n    return m.week if m.date.year > 2023 else 0\n\n"
                       "def on_thing(m, pol):\n    return m.date >= pol.date\n")
        found = offences(bad)
    finally:
        bad.unlink()
    assert any("(rule): compares a date" in f for f in found)
    assert any("(rule): builds a date" in f for f in found)
    assert any("(other): compares a date" in f for f in found)
    assert not any("on_thing" in f for f in found)
