"""The layer contract (DESIGN.md, Layers): a package imports only packages below it, modules
import each other without a circle, and nothing of rollbook imports the steps or the tests. Read
from the source's import statements (every one, inside functions and TYPE_CHECKING blocks too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rollbook"

# bottom first: each layer may import the layers before it, never one after it
LAYERS = [
    "core",  # run, config, executor, host, journal: knows no Paso's work
    "services",  # service managers (supervisord, systemd)
    "actions",  # the procedure's work, by Etapa
    "checks",  # the procedure's checks (prerequisites, smoke, validation)
    "governance",  # people, keys, approvals, sign-offs, provenance, notices
    "record",  # renders the journal: markdown, report.html, plan, timeline, procedure
    "lifecycle",  # around the Pasos: lock, outcome, §9, closing actions, the probe
    "plugin",  # pytest's hooks
    "sandbox",  # the demo staging server
    "cli",  # the rollbook command
]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {_module(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, only for type checking) for every import statement of the file."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = typing_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.ImportFrom) and child.module and not child.level:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.append((full if full in MODULES else child.module, inner))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "core"  # rollbook/__init__ holds only the version


def upward(modules: dict[str, list[tuple[str, bool]]]) -> list[str]:
    """Every import of a layer above the importer's, as 'importer -> imported'."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    return [
        f"{module} -> {imported}"
        for module, imports in sorted(modules.items())
        for imported, _ in imports
        if imported.startswith("rollbook.") and rank[layer_of(imported)] > rank[layer_of(module)]
    ]


def circles(modules: dict[str, list[tuple[str, bool]]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's strongly
    connected components), counting imports made when the code runs."""
    graph = {
        m: {i for i, typing in imports if i in modules and i != m and not typing}
        for m, imports in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = [stack.pop()]
            while group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, list[tuple[str, bool]]]:
    return {module: _imports(path) for module, path in MODULES.items()}


def test_every_package_has_its_layer() -> None:
    packages = {layer_of(m) for m in MODULES}
    assert packages <= set(LAYERS), f"place {sorted(packages - set(LAYERS))} in LAYERS"


def test_no_layer_imports_one_above_it(modules: dict[str, list[tuple[str, bool]]]) -> None:
    assert upward(modules) == []


def test_no_circle_between_modules(modules: dict[str, list[tuple[str, bool]]]) -> None:
    assert circles(modules) == []


def test_rollbook_never_imports_the_steps_or_the_tests(
    modules: dict[str, list[tuple[str, bool]]],
) -> None:
    wrong = [
        f"{m} -> {i}"
        for m, imports in modules.items()
        for i, _ in imports
        if i.split(".")[0] in ("steps", "tests")
    ]
    assert wrong == []


def test_the_contract_sees_an_upward_import_and_a_circle() -> None:
    """The checks above can fail: an action importing the record, two modules importing each
    other."""
    made_up = {
        "rollbook.actions.a": [("rollbook.record.report", False), ("rollbook.core.b", False)],
        "rollbook.core.b": [("rollbook.core.c", False)],
        "rollbook.core.c": [("rollbook.core.b", False)],
    }
    assert upward(made_up) == ["rollbook.actions.a -> rollbook.record.report"]
    assert circles(made_up) == [["rollbook.core.b", "rollbook.core.c"]]
