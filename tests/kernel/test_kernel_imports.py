"""The kernel package imports no later pipeline stage (docs/kernel.md, issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import skindose.kernel

FORBIDDEN = ("geometry", "physics", "compute", "dosemap", "report", "plotting", "cli")


def test_kernel_imports_no_later_stage():
    pkg = Path(skindose.kernel.__file__).parent
    bad = []
    for path in sorted(pkg.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "skindose" and len(parts) > 1 and parts[1] in FORBIDDEN:
                    bad.append(f"{path.name}: {name}")
    assert not bad, bad
