"""Who may import whom (.importlinter, docs/architecture.md "Who may import whom"): the contracts
hold, a violation breaks them, and no module imports itself through others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "channels", "actions")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def cycles(graph: grimp.ImportGraph) -> List[Set[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import cycles."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[Set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_imports_itself_through_others():
    # Imports under `if TYPE_CHECKING:` never run (annotations only), as in .importlinter.
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert cycles(graph) == []


def test_a_core_module_importing_a_channel_breaks_the_check(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "static", "*.yml", "*.json"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    store = tmp_path / "bot" / "core" / "store.py"
    store.write_text(store.read_text() + "\nfrom channels.web.channel import WebChannel  # the violation\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "bot.core is not allowed to import channels" in result.stdout
    assert "bot.core.store -> channels.web.channel" in result.stdout


def test_a_cycle_is_found():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    graph.add_import(importer="bot.core.models", imported="bot.core.store")  # store imports models already
    assert any({"bot.core.models", "bot.core.store"} <= cycle for cycle in cycles(graph))
