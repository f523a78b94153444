"""The package's layout: wings stacked in one order, no import running back up that order, no
import circle between Matrioska's own modules, no room reaching into another's private names
(lazy imports inside functions count too: they are arrows a reader has to keep in mind)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "matrioska"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the Matrioska modules it imports (anywhere in the file)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, seen = [], set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycle = path[path.index(nxt) :]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append([*cycle, nxt])
            elif len(path) < 12:
                walk(nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def test_no_import_circle() -> None:
    graph = import_graph()
    assert "matrioska.context" in graph and "matrioska.defaults" in graph["matrioska.context"]
    assert cycles(graph) == []


def private_imports() -> list[str]:
    """`from X import _name` where X is another Matrioska module (anywhere in a file): a room
    reaching into another's private names, which the other may change without telling."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith("matrioska")):
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and base != name:
                    found.append(f"{name} imports {base}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_name() -> None:
    assert private_imports() == []


WINGS = [
    # bottom to top: a module imports only from its own wing or the ones below it
    ["matrioska.errors", "matrioska.defaults", "matrioska.state", "matrioska.prompts"],
    ["matrioska.kinds"],  # a language's rules and checks: imports, interfaces, references, browser
    ["matrioska.model"],  # everything that talks to a model
    ["matrioska.plan"],  # the plan, its shapes, its acceptance scenarios
    ["matrioska.generation"],  # one module's work, no graph types
    ["matrioska.checking"],  # running the project: sandbox, checks, verdict, references
    ["matrioska.functions"],  # a code module written function by function (issue 35)
    ["matrioska.context"],  # a run's configuration (the graph's runtime context)
    ["matrioska.nodes"],  # the graph's nodes and routing
    ["matrioska.graph"],
    ["matrioska.runs"],  # persisted runs: orchestrator, checkpointers, files
    ["matrioska.monitor"],
    ["matrioska.cli"],
    ["matrioska", "matrioska.__main__"],
]


def wing_of(module: str) -> int:
    """The floor of `module`'s wing (the longest listed name that is it or holds it)."""
    best, length = -1, -1
    for floor, names in enumerate(WINGS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > length:
                best, length = floor, len(name)
    return best


def arrows_up(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} -> {target}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if wing_of(target) > wing_of(module)
    ]


def test_every_module_has_a_wing_and_no_import_runs_back_up() -> None:
    graph = import_graph()
    assert [m for m in graph if wing_of(m) < 0] == []
    assert arrows_up(graph) == []


def test_rooms_stay_small() -> None:
    """At most 10 modules at the package's root, no file over 700 lines, a node at most 300."""
    root = [p.name for p in PACKAGE.glob("*.py")]
    assert len(root) <= 10, sorted(root)
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > 700} == {}
    assert {path: n for path, n in sizes.items() if path.startswith("nodes/") and n > 300} == {}
