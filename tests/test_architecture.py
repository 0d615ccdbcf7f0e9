"""The import graph of src/skindose: no cycles, and the early stages import no later stage.

Issue 10 acceptance: ``rdsr``, ``kernel`` and ``phantoms`` import nothing from geometry,
physics, compute, dosemap, report, plotting or cli; module-level imports have no cycle.
Imports inside functions count for the layering rule too (a late import is still a back-edge).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "skindose"
LATER = ("skindose.geometry", "skindose.physics", "skindose.compute", "skindose.dosemap",
         "skindose.report", "skindose.plotting", "skindose.cli", "skindose.summary",
         "skindose.node", "skindose.batch", "skindose.dicom_out", "skindose.uncertainty")
EARLY = ("skindose.rdsr", "skindose.kernel", "skindose.phantoms")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("skindose"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("skindose"):
                out.add(name)
                out.update(f"{name}.{a.name}" for a in node.names)
    return out


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("early", EARLY)
def test_early_stages_import_no_later_stage(early):
    mods = _modules()
    bad = []
    for name, path in mods.items():
        if name != early and not name.startswith(early + "."):
            continue
        for imp in _imports(path, top_level_only=False):
            if imp.startswith(LATER):
                bad.append(f"{name} imports {imp}")
    assert not bad, bad


def test_no_import_cycles_at_module_level():
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = set()
        for imp in _imports(path, top_level_only=True):
            target = _resolve(imp, mods)
            if target and target != name and not name.startswith(target + "."):
                deps.add(target)
        graph[name] = deps
    # a cycle through package __init__ re-exports is still a cycle; find one by DFS
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                return [*stack[stack.index(d):], d]
            if d not in state:
                cyc = visit(d)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            cyc = visit(n)
            assert cyc is None, " -> ".join(cyc)


def test_dosemap_and_report_do_not_import_each_other():
    # SkinDoseMap.save() hands over to report.save (one direction, inside the method); the
    # report must then not import dosemap, and the summary lives in its own module.
    mods = _modules()
    assert not any(i.startswith("skindose.report") for i in _imports(mods["skindose.dosemap"],
                                                                       top_level_only=True))
    assert not any(i.startswith("skindose.dosemap") for i in _imports(mods["skindose.report"],
                                                                       top_level_only=False))
    assert not any(i.startswith(("skindose.dosemap", "skindose.report"))
                   for i in _imports(mods["skindose.summary"], top_level_only=False))


def test_compute_does_not_call_up_into_uncertainty():
    # the interval runs the computation several times: it sits above compute, never below
    mods = _modules()
    assert not any(i.startswith("skindose.uncertainty")
                   for i in _imports(mods["skindose.compute"], top_level_only=False))
