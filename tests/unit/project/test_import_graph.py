"""No import cycle in ``dagster_project``, and no arrow from it to the demo.

The graph is built from the source with ``ast`` (module-level and function-level
imports alike, relative imports resolved, ``from pkg import submodule`` counted
as an import of the submodule), so a lazy import inside a function cannot hide a
cycle. A cycle is printed module by module.

The demo (``demo/`` at the repository root) drives the product; the product must
run without it (it is not installed), so no module of ``dagster_project`` may
import it, not even lazily or by a module name in a string.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "dagster_project"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imports_of(tree: ast.AST, package: str, modules: dict | set) -> set[str]:
    """Every module name ``tree`` imports, inside or outside the package, resolved."""
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
    return targets


def _parsed() -> dict[str, tuple[ast.AST, str]]:
    """Each module's syntax tree and the package its relative imports start from."""
    out = {}
    for name, path in _modules().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out[name] = ast.parse(path.read_text(), str(path)), package
    return out


def import_graph() -> dict[str, set[str]]:
    parsed = _parsed()
    return {
        name: {t for t in imports_of(tree, package, parsed) if t in parsed and t != name}
        for name, (tree, package) in parsed.items()
    }


def _is_demo(name: str) -> bool:
    return name == "demo" or name.startswith("demo.")


def demo_arrows(tree: ast.AST, package: str, modules: dict | set) -> set[str]:
    """The demo modules ``tree`` imports, or names in a string (``import_module("demo.x")``)."""
    found = {t for t in imports_of(tree, package, modules) if _is_demo(t)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _is_demo(text) and all(part.isidentifier() for part in text.split(".")):
                found.add(text)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_checker_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_holds_lazy_imports():
    graph = import_graph()
    # cli imports runs only inside a function; the graph must still hold the arrow.
    assert "dagster_project.pipeline.runs" in graph["dagster_project.pipeline.cli"]
    assert "dagster_project.contracts.eventlog" in graph["dagster_project.ingest.events"]


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph())
    if found:
        pytest.fail(
            "import cycles in dagster_project:\n"
            + "\n".join(" -> ".join(component) for component in found)
        )


def test_the_demo_checker_sees_lazy_and_dynamic_imports():
    source = (
        "import importlib\n"
        "def f():\n"
        "    from demo.recipients import Behaviour\n"
        "    return importlib.import_module('demo.replay')\n"
        "LAZY = {'generate': 'demo'}\n"
        "TEXT = 'the demo lives in demo/ (make demo)'\n"
    )
    assert demo_arrows(ast.parse(source), "dagster_project.x", set()) == {
        "demo.recipients",
        "demo.replay",
        "demo",
    }


def test_the_package_does_not_import_the_demo():
    arrows = {
        name: sorted(found)
        for name, (tree, package) in _parsed().items()
        if (found := demo_arrows(tree, package, set()))
    }
    assert arrows == {}, f"dagster_project imports the demo: {arrows}"
