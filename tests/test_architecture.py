"""The layering in docs/architecture.md, enforced: nothing under ``turnout.core`` does I/O."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "src" / "turnout" / "core"
SRC = CORE.parent

# Pure modules outside turnout.core (public SDK packages keep short import paths).
PURE_OUTSIDE_CORE = [
    "flags/model.py", "flags/ops.py", "flags/compile.py", "flags/evaluate.py", "flags/edit.py",
    "experiments/stats.py", "experiments/sequential.py", "experiments/bayes.py",
    "experiments/cuped.py", "experiments/corrections.py", "experiments/power.py",
    "experiments/assign.py", "experiments/model.py", "experiments/analysis.py",
]  # fmt: skip

# Modules whose import means I/O (or an edge of the system) inside the pure core.
FORBIDDEN = {
    "asyncio", "socket", "selectors", "subprocess", "threading", "multiprocessing",
    "ssl", "http", "urllib", "sqlite3", "sqlalchemy", "psycopg", "httpx", "uvloop",
    "httptools", "uvicorn", "alembic", "turnout.router", "turnout.cli", "turnout.harness",
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_io_module():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(CORE.parent)}: imports {name}")
    assert offenders == []


def test_pure_modules_outside_core_import_no_io_module():
    offenders = []
    for name in PURE_OUTSIDE_CORE:
        path = SRC / name
        assert path.is_file(), f"{name} is listed as pure but does not exist"
        for imported in imported_modules(path):
            if any(imported == f or imported.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{name}: imports {imported}")
    assert offenders == []


def test_the_check_sees_real_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import asyncio\nfrom socket import socket\nfrom turnout.router import x\n")
    assert imported_modules(probe) == {"asyncio", "socket", "turnout.router"}
