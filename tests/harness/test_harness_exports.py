"""The public surface is explicit, and the pure modules stay free of I/O."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

import turnout

SRC = Path(turnout.__file__).parent
PURE = [
    "harness/accounting.py",
    "harness/checks.py",
    "harness/requests.py",
    "demo/content.py",
    "demo/routes.py",
    "demo/release.py",
    "demo/replies.py",
    "demo/state.py",
]
IO_MODULES = {"asyncio", "socket", "subprocess", "threading", "selectors", "uvloop", "httptools"}


@pytest.mark.parametrize("name", ["turnout.harness", "turnout.demo"])
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, ModuleType)
    }
    assert set(module.__all__) == public


@pytest.mark.parametrize("path", PURE)
def test_pure_modules_import_no_io(path: str) -> None:
    tree = ast.parse((SRC / path).read_text())
    imported = {
        alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for alias in n.names
    }
    imported |= {
        (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    assert not imported & IO_MODULES
