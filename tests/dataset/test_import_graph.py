"""The modules of ``datamint.dataset`` import each other without a cycle.

Every import counts: at module level, inside functions (lazy) and under
``if TYPE_CHECKING:``. A cycle means two modules share a concept that belongs in a third.
"""

from __future__ import annotations

import ast
from pathlib import Path

import datamint.dataset

PACKAGE = "datamint.dataset"
ROOT = Path(datamint.dataset.__file__).parent


def module_names() -> dict[str, Path]:
    return {f"{PACKAGE}.{p.stem}": p for p in ROOT.glob("*.py") if p.stem != "__init__"}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The ``datamint.dataset`` modules that ``path`` imports, anywhere in its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "datamint.dataset.item_builder" in graph["datamint.dataset.base"]  # module level
    assert "datamint.dataset.splitting" in graph["datamint.dataset.base"]  # inside a method
    assert "datamint.dataset.prefetch" in graph["datamint.dataset.base"]  # TYPE_CHECKING too
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_dataset_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])
