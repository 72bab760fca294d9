"""A region is data: no code names a place or nationality of a shipped pack (issue 6).

Every string literal in the model's code (abm/, agents/, experiments/*.py), docstrings aside, is checked
against the names in every pack's places and nationalities. Calibration (calibration/) is excluded: its
targets are the Americas pack's by design, named by that pack's meta `calibration_targets`."""
import ast
import re
from pathlib import Path

from abm.pack import PACKS_DIR, read_pack_dir
from tests.conftest import ROOT

CODE = [p for d in ("abm", "agents", "experiments") for p in (ROOT / d).rglob("*.py")]


def _names() -> set[str]:
    out = set()
    for pack in PACKS_DIR.iterdir():
        if pack.is_dir() and list(pack.glob("*.toml")):
            raw = read_pack_dir(pack)
            out |= set(raw.get("places", {})) | set(raw.get("nationalities", {}))
    return out


def _literals(path: Path):
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def test_the_packs_name_places():
    names = _names()
    assert {"Colombia", "Venezuela", "Aria"} <= names


def test_no_code_names_a_place_or_nationality():
    names = _names()
    found = [f"{p.relative_to(ROOT)}:{line}: {text!r}" for p in CODE for line, text in _literals(p)
             if any(re.search(rf"\b{re.escape(n)}\b", text) for n in names)]
    assert not found, "region names in code:\n" + "\n".join(found)
