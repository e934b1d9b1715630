"""The habits that keep the code base one-way and clean, checked on every test run.

- The sidecar's import graph has no circle, module by module and room by room (a room is a
  top-level module or subpackage: ``sidecar/alarms/`` is one room, ``sidecar/pipeline.py`` another).
  Imports inside functions count: a lazy import is still a dependency.
- ``ruff check`` is clean over the CPython code, and ``mypy sidecar`` is clean.
"""
from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINTED = ["sidecar", "benchmarks", "tests", "installer"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, package: str) -> set[str]:
    """Every dotted name an import statement may refer to, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(package: str = "sidecar") -> dict[str, set[str]]:
    """Module -> the package's modules it imports (nearest existing module of each imported name)."""
    files = {module_name(path): path for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        own_package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8")), own_package):
            while name and name not in files:
                name = name.rpartition(".")[0]
            # a module importing its own package (or itself) is not an edge of the layout
            if name and name != module and not module.startswith(name + "."):
                targets.add(name)
        graph[module] = targets
    return graph


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    rooms: dict[str, set[str]] = {}
    for module, targets in graph.items():
        rooms.setdefault(room(module), set()).update(room(t) for t in targets if room(t) != room(module))
    return rooms


def circle_in(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_the_checker_finds_a_circle() -> None:
    assert circle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert circle_in({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    rooms = room_graph({"s.x.one": {"s.y"}, "s.y": {"s.x.two"}, "s.x.two": set()})
    assert circle_in(rooms) is not None


def test_relative_imports_resolve_to_the_package() -> None:
    tree = ast.parse("from . import a\nfrom ..b import c\n")
    assert {"s.p", "s.p.a", "s.b", "s.b.c"} <= imported_names(tree, "s.p")


def test_sidecar_modules_import_one_way() -> None:
    graph = import_graph()
    assert graph.get("sidecar.service"), "the import graph came out empty"
    circle = circle_in(graph)
    assert circle is None, "import circle between modules: " + " -> ".join(circle or [])


def test_sidecar_rooms_import_one_way() -> None:
    circle = circle_in(room_graph(import_graph()))
    assert circle is None, "import circle between rooms: " + " -> ".join(circle or [])


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_ruff_is_clean() -> None:
    result = run_tool("ruff", "check", "--no-cache", *LINTED)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.timeout(600)
def test_mypy_is_clean() -> None:
    result = run_tool("mypy", "sidecar")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
