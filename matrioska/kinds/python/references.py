"""The Python reference rules: what one Python file uses of the other modules' Python files (a
sibling import, a name imported from it, an attribute of an imported module, a call's arguments,
a name imported from a module that does not exist but another module defines, a function written
again instead of imported), each a `Reference` record, held or broken with the names that exist;
and the Python modules two modules both are."""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..references import Reference, ReferenceIndex, Scope
from .source import bound_names, import_name, parsed, python_import_names

__all__ = [
    "IMPORT",
    "FROM_MODULE",
    "FROM_NAME",
    "ATTRIBUTE",
    "CALL",
    "MISPLACED",
    "DEFINED_AGAIN",
    "MODULE_COLLISION",
    "entry_import_name",
    "python_references",
    "module_collisions",
]

# The kinds of Python reference (`Reference.kind`).
IMPORT = "python-import"  # `import x`: name is x
FROM_MODULE = "python-from-module"  # `from x import ...` of a module the project lacks: name is x
FROM_NAME = "python-from-name"  # `from x import n`: name n, source x
ATTRIBUTE = "python-attribute"  # `m.n` of an imported module: name n, source m
CALL = "python-call"  # a call of an imported function or class: name is the callable's
MISPLACED = "python-misplaced"  # `from x import n`, x missing, n another module's: name n, source x, right
DEFINED_AGAIN = "python-defined-again"  # a function or class another module provides: name, right
MODULE_COLLISION = "python-module-collision"  # two modules' files are the same Python module: name

_OWN_NAMES = frozenset({"main", "run", "cli", "app", "setup", "parse_args", "build_parser"})
"""Top-level names a module defines for itself even when another module has one too."""


def entry_import_name(entry: dict[str, Any]) -> str:
    """A Python file's import name, from its interface entry (`kinds.python.source.import_name`)."""
    return import_name(entry["path"]) or entry["path"]


def python_modules(index: ReferenceIndex, holder: str) -> list[str]:
    """The other modules' Python modules, by their shortest import name."""
    return sorted(
        {entry_import_name(entry) for entries in index.python.values() for owner, entry in entries if owner != holder}
    )


def names_listed(entry: dict[str, Any]) -> str:
    """A Python file's public names as a short text, for a problem that says what does exist."""
    parts = [
        f"class {c['name']}({c.get('params', '')})"
        + (" with " + ", ".join(f".{m['name']}()" for m in c["methods"]) if c.get("methods") else "")
        for c in entry.get("classes") or []
    ]
    parts += [f"{f['name']}({f.get('params', '')})" for f in entry.get("functions") or []]
    parts += entry.get("constants") or []
    text = ", ".join(parts) or "no public names"
    return text if len(text) <= 400 else text[:397] + "..."


def _call_problem(name: str, signature: dict[str, Any], call: ast.Call) -> str | None:
    """Why a call cannot bind to a signature (None when it can, or when it cannot be told)."""
    if signature.get("params") == "...":
        return None
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    given = len(call.args)
    keywords = [k.arg for k in call.keywords if k.arg]
    shown = f"{name}({signature.get('params', '')})"
    if signature.get("max") is not None and given > signature["max"]:
        return f"passes {given} positional argument(s) to {shown}, which takes at most {signature['max']}"
    allowed = signature.get("keywords")
    if allowed is not None:
        unknown = [k for k in keywords if k not in allowed]
        if unknown:
            return f"passes keyword(s) {', '.join(unknown)} to {shown}, which has no such parameter"
    missing = [p for p in signature.get("required", [])[given:] if p not in keywords]
    missing += [p for p in signature.get("required_keywords", []) if p not in keywords]
    if missing:
        return f"calls {shown} without {', '.join(missing)}"
    return None


def _resolve_relative(path: str, level: int, module: str | None) -> str | None:
    """The dotted name a relative import (`from ..x import y`) in `path` stands for."""
    package = list(PurePosixPath(path).parent.parts)
    if level - 1 > len(package):
        return None
    base = package[: len(package) - (level - 1)]
    dotted = ".".join([*base, *(module.split(".") if module else [])])
    return dotted or None


def _installed(top: str) -> bool:
    """Whether a top-level module can be imported here (found, not imported)."""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _local_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names a file binds itself (definitions, assignments, parameters): an imported name it
    rebinds is no longer the other module's."""
    bound: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.For, ast.With)):
            for target in getattr(node, "targets", None) or [getattr(node, "target", None)]:
                if target is not None:
                    bound.update(bound_names(target))
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


def _callable_named(entry: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next(
        (x for x in [*(entry.get("functions") or []), *(entry.get("classes") or [])] if x["name"] == name), None
    )


def pending_names(pending: set[str]) -> set[str]:
    """The planned files and the import names (and their top packages) of the planned Python
    files: an import of one of them is not judged until its module has run."""
    names = {n for p in pending if p.endswith(".py") for n in python_import_names(p)}
    return pending | names | {n.split(".")[0] for n in names}


@dataclass
class _PythonReferences:
    """The references of one Python file into the other modules' Python files."""

    holder: str
    path: str
    index: ReferenceIndex
    pending: set[str]
    before: set[str] | None = None  # the modules built before the holder (None: every other module)
    records: list[Reference] = field(default_factory=list)
    modules: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # local name -> a file
    callables: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)  # local -> (owner, name, sig)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def run(self, tree: ast.AST, nodes: tuple[ast.AST, ...]) -> list[Reference]:
        """Imports first (they say what the local names stand for), then the uses of those
        names, then, when nothing of another module is used, the names written again."""
        local = _local_names(nodes)
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.import_(node, alias)
            elif isinstance(node, ast.ImportFrom):
                self.import_from(node)
        self.modules = {name: m for name, m in self.modules.items() if name not in local}
        self.callables = {name: c for name, c in self.callables.items() if name not in local}
        for node in nodes:
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.modules:
                self.attribute(node, node.value.id)
            elif isinstance(node, ast.Call):
                self.call(node)
        if not any(record.target not in (None, self.holder) for record in self.records):
            self.rewritten(tree)
        return self.records

    def rewritten(self, tree: ast.AST) -> None:
        """A module that imports nothing of the others but defines, at its top level, functions or
        classes another module already provides: the small-model habit of writing a stub of the
        core instead of importing it. Each is a problem naming the import to use."""
        for node in getattr(tree, "body", []):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith(("_", "test")) or node.name in _OWN_NAMES:
                continue
            provider = self.provider(node.name, earlier_only=True)
            if provider is None:
                continue
            owner, entry, right = provider
            problem = (
                f"{node.name!r} is already in {entry['path']} (module {owner}): import it "
                f"(`from {right} import {node.name}`) instead of writing it again"
            )
            self.add(node, owner, f"`{node.name}` defined again", problem, DEFINED_AGAIN, node.name, right=right)

    # lookups
    def provider(self, name: str, *, earlier_only: bool = False) -> tuple[str, dict[str, Any], str] | None:
        """The first other module whose file defines `name` (with `earlier_only`, among the modules
        built before the holder): its id, the file's interface and the name to import it by."""
        for owner, entry in self.index.python_defined.get(name, []):
            if owner != self.holder and not (earlier_only and self.before is not None and owner not in self.before):
                return owner, entry, entry_import_name(entry)
        return None

    def lookup(self, dotted: str) -> list[tuple[str, dict[str, Any]]]:
        return self.index.python.get(dotted, [])

    def known(self, dotted: str) -> bool:
        return bool(self.lookup(dotted)) or dotted in self.index.packages

    def in_project(self, dotted: str) -> bool:
        top = dotted.split(".")[0]
        return top in self.index.python or top in self.index.packages

    def foreign(self, entries: list[tuple[str, dict[str, Any]]]) -> bool:
        return bool(entries) and all(owner != self.holder for owner, _ in entries)

    def add(
        self, node: ast.AST, target: str | None, reference: str, problem: str | None, kind: str, name: str, **more: Any
    ) -> None:
        """One record at the node's line."""
        line = getattr(node, "lineno", None)
        self.records.append(Reference(self.holder, self.path, line, kind, name, reference, target, problem, **more))

    def missing_module(self, node: ast.AST, dotted: str, reference: str, kind: str) -> None:
        if dotted.split(".")[0] in self.pending:
            return  # planned for a module that has not run yet
        modules = ", ".join(python_modules(self.index, self.holder))
        problem = f"no module {dotted!r} in the project; its Python modules are: {modules}"
        self.add(node, None, reference, problem, kind, dotted)

    def misplaced(self, node: ast.AST, dotted: str, names: list[str]) -> None:
        """An import from a module the project does not have, of names another module defines
        (`from project_module import validate_isbn`): the module is wrong, and the right one is
        known. A module that is installed here, or planned and not written yet, is not judged."""
        top = dotted.split(".")[0]
        if top in self.pending or top in sys.stdlib_module_names or _installed(top):
            return
        for name in names:
            provider = self.provider(name)
            if provider is None:
                continue
            owner, entry, right = provider
            problem = (
                f"no module {dotted!r} in the project; {name!r} is in {entry['path']} (module {owner}): "
                f"`from {right} import {name}`"
            )
            self.add(node, owner, f"`{name}` from {dotted!r}", problem, MISPLACED, name, source=dotted, right=right)

    # the kinds of reference
    def import_(self, node: ast.Import, alias: ast.alias) -> None:
        name = alias.name
        if not self.in_project(name):
            self.misplaced(node, name, [name])  # `import validate_isbn`, a sibling's function
            return  # else the standard library or a package: the requirement checks judge it
        owners = {o for o, _ in self.lookup(name)} | self.index.packages.get(name, set())
        if owners == {self.holder}:
            return
        if not self.known(name):
            self.missing_module(node, name, f"`import {name}`", IMPORT)
            return
        entries = self.lookup(name)
        self.add(node, entries[0][0] if entries else sorted(owners)[0], f"`import {name}`", None, IMPORT, name)
        if entries and self.foreign(entries) and (alias.asname or "." not in name):
            self.modules[alias.asname or name] = entries[0]

    def import_from(self, node: ast.ImportFrom) -> None:
        dotted = _resolve_relative(self.path, node.level, node.module) if node.level else node.module
        if not dotted:
            return
        if not self.in_project(dotted):
            self.misplaced(node, dotted, [alias.name for alias in node.names if alias.name != "*"])
            return
        entries = self.lookup(dotted)
        owners = {o for o, _ in entries} | self.index.packages.get(dotted, set())
        if owners == {self.holder}:
            return
        if not entries and dotted not in self.index.packages:
            self.missing_module(node, dotted, f"`from {dotted} import ...`", FROM_MODULE)
            return
        for alias in node.names:
            if alias.name != "*":
                self.imported_name(node, dotted, entries, owners, alias)

    def imported_name(
        self,
        node: ast.ImportFrom,
        dotted: str,
        entries: list[tuple[str, dict[str, Any]]],
        owners: set[str],
        alias: ast.alias,
    ) -> None:
        local = alias.asname or alias.name
        reference = f"`from {dotted} import {alias.name}`"
        hit = next(((o, e) for o, e in entries if alias.name in e.get("names", []) or e.get("dynamic")), None)
        if hit is None and self.known(f"{dotted}.{alias.name}"):  # a submodule
            sub = self.lookup(f"{dotted}.{alias.name}")
            self.add(node, sub[0][0] if sub else None, reference, None, FROM_NAME, alias.name, source=dotted)
            if sub and self.foreign(sub):
                self.modules[local] = sub[0]
            return
        if hit is None:
            owner, entry = entries[0] if entries else (sorted(owners)[0], {"path": dotted})
            has = names_listed(entry) if entries else "its submodules only"
            problem = f"{entry['path']} (module {owner}) has no {alias.name!r}; it has: {has}"
            self.add(node, owner, reference, problem, FROM_NAME, alias.name, source=dotted, found_in=entry["path"])
            return
        owner, entry = hit
        self.add(node, owner, reference, None, FROM_NAME, alias.name, source=dotted, found_in=entry["path"])
        item = _callable_named(entry, alias.name)
        if owner != self.holder and item is not None:
            self.callables[local] = (owner, alias.name, item)

    def attribute(self, node: ast.Attribute, local: str) -> None:
        owner, entry = self.modules[local]
        reference = f"`{local}.{node.attr}`"
        if (reference, "attr") in self.seen:
            return
        self.seen.add((reference, "attr"))
        ok = (
            node.attr in entry.get("names", [])
            or entry.get("dynamic")
            or self.known(f"{entry['imports'][0]}.{node.attr}")
        )
        problem = (
            None if ok else f"{entry['path']} (module {owner}) has no {node.attr!r}; it has: {names_listed(entry)}"
        )
        self.add(node, owner, reference, problem, ATTRIBUTE, node.attr, source=local, found_in=entry["path"])

    def call(self, node: ast.Call) -> None:
        called: tuple[str, str, dict[str, Any]] | None = None
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.callables:
            called = self.callables[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.modules:
            owner, entry = self.modules[func.value.id]
            item = _callable_named(entry, func.attr)
            called = (owner, func.attr, item) if item else None
        if called is None:
            return
        owner, name, signature = called
        key = (f"call of {name}()", f"{getattr(node, 'lineno', '?')}:{node.col_offset}")
        if key in self.seen:
            return
        self.seen.add(key)
        self.add(node, owner, key[0], _call_problem(name, signature, node), CALL, name)


def python_references(entry: dict[str, Any], content: str, scope: Scope) -> list[Reference]:
    """Every reference one Python file (its interface `entry`, its text `content`) makes into the
    project's Python files; none when it does not parse."""
    read = parsed(content)
    if read is None:
        return []
    rules = _PythonReferences(scope.holder, entry["path"], scope.index, pending_names(scope.pending), scope.before)
    return rules.run(*read)


def module_collisions(entries: list[tuple[str, dict[str, Any]]]) -> list[Reference]:
    """Python files of two modules that are the same module (the same first import name), each
    a problem of the later module (`entries`: (module, file interface) in build order)."""
    records: list[Reference] = []
    seen: dict[str, tuple[str, str]] = {}
    for module_id, entry in entries:
        if entry.get("kind") != "python":
            continue
        name = (entry.get("imports") or [""])[0]
        first = seen.setdefault(name, (module_id, entry["path"]))
        if first[0] != module_id:
            problem = f"{entry['path']} and {first[1]} (module {first[0]}) are both the module {name!r}"
            reference = f"Python module {name!r}"
            records.append(
                Reference(module_id, entry["path"], None, MODULE_COLLISION, name, reference, first[0], problem)
            )
    return records
