"""Reading Python source: a file's interface (import path, public functions and classes with
signatures and docstrings' first lines, constants, the entry point), the names a file is imported
by, and the `requirements.txt` lines its third-party imports call for. Nothing here runs code."""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .installs import UNLISTED_PREFIX, distribution_for_import, is_known, normalize, own_names

_SIGNATURE_CHARS = 140
_DOC_CHARS = 90
_LIST_ITEMS = 40


def _first_line(doc: str | None) -> str:
    line = (doc or "").strip().splitlines()[0].strip() if (doc or "").strip() else ""
    return line[:_DOC_CHARS]


def _signature(args: ast.arguments, *, drop_first: bool = False) -> dict[str, Any]:
    """A callable's parameters: text, and what a call must / may pass."""
    positional = [*args.posonlyargs, *args.args]
    defaults = len(args.defaults)
    if drop_first and positional:
        positional = positional[1:]
        trimmed = ast.arguments(
            posonlyargs=args.posonlyargs[1:] if args.posonlyargs else [],
            args=args.args if args.posonlyargs else args.args[1:],
            vararg=args.vararg,
            kwonlyargs=args.kwonlyargs,
            kw_defaults=args.kw_defaults,
            kwarg=args.kwarg,
            defaults=args.defaults,
        )
    else:
        trimmed = args
    try:
        text = ast.unparse(trimmed)
    except Exception:  # pragma: no cover - unparse of a parsed tree does not fail
        text = ", ".join(a.arg for a in positional)
    names = [a.arg for a in positional]
    required = names[: max(0, len(names) - defaults)]
    keyword_names = [a.arg for a in args.args[(1 if drop_first and not args.posonlyargs else 0) :]]
    keyword_names += [a.arg for a in args.kwonlyargs]
    return {
        "params": text if len(text) <= _SIGNATURE_CHARS else text[: _SIGNATURE_CHARS - 3] + "...",
        "positional": names,
        "required": required,
        "max": None if args.vararg else len(names),
        "keywords": None if args.kwarg else keyword_names,
        "required_keywords": [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None],
    }


def _returns(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    if node.returns is None:
        return ""
    text = ast.unparse(node.returns)
    return f" -> {text}" if len(text) <= 40 else ""


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool = False) -> dict[str, Any]:
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    return {
        "name": node.name,
        **_signature(node.args, drop_first=method and not static),
        "returns": _returns(node),
        "async": isinstance(node, ast.AsyncFunctionDef),
        "doc": _first_line(ast.get_docstring(node)),
    }


def _dataclass_fields(node: ast.ClassDef) -> dict[str, Any] | None:
    decorated = any(
        (isinstance(d, ast.Name) and d.id == "dataclass")
        or (isinstance(d, ast.Attribute) and d.attr == "dataclass")
        or (isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "dataclass")
        for d in node.decorator_list
    )
    if not decorated:
        return None
    names, required, seen_default = [], [], False
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            annotation = ast.unparse(stmt.annotation)
            if "ClassVar" in annotation:
                continue
            names.append(stmt.target.id)
            if stmt.value is None and not seen_default:
                required.append(stmt.target.id)
            else:
                seen_default = True
    return {
        "params": ", ".join(names),
        "positional": names,
        "required": required,
        "max": len(names),
        "keywords": names,
        "required_keywords": [],
    }


def _class(node: ast.ClassDef) -> dict[str, Any]:
    methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    init = next((m for m in methods if m.name == "__init__"), None)
    custom_new = any(m.name == "__new__" for m in methods)
    signature: dict[str, Any]
    if init is not None and not custom_new:
        signature = _signature(init.args, drop_first=True)
    elif (fields := _dataclass_fields(node)) is not None:
        signature = fields
    elif not node.bases and not node.keywords and not custom_new:
        signature = {"params": "", "positional": [], "required": [], "max": 0, "keywords": [], "required_keywords": []}
    else:  # inherited constructor: unknown here
        signature = {
            "params": "...",
            "positional": [],
            "required": [],
            "max": None,
            "keywords": None,
            "required_keywords": [],
        }
    return {
        "name": node.name,
        **signature,
        "bases": [ast.unparse(b) for b in node.bases][:4],
        "doc": _first_line(ast.get_docstring(node)),
        "methods": [_function(m, method=True) for m in methods if not m.name.startswith("_")],
        "attributes": sorted(
            {
                t.id
                for s in node.body
                if isinstance(s, (ast.Assign, ast.AnnAssign))
                for t in (s.targets if isinstance(s, ast.Assign) else [s.target])
                if isinstance(t, ast.Name)
            }
        ),
    }


def _top_level(body: list[ast.stmt]) -> Iterable[ast.stmt]:
    """Module-level statements, also inside top-level if / try / with blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If) and not _is_main_guard(stmt):
            yield from _top_level(stmt.body)
            yield from _top_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody, *[h.body for h in stmt.handlers]):
                yield from _top_level(block)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from _top_level(stmt.body)


def _is_main_guard(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.If)
        and isinstance(stmt.test, ast.Compare)
        and "__name__" in ast.unparse(stmt.test)
        and "__main__" in ast.unparse(stmt.test)
    )


def bound_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in bound_names(elt)]
    if isinstance(target, ast.Starred):
        return bound_names(target.value)
    return []


def import_name(path: str) -> str | None:
    """The name a Python file is imported by, the one rule for it: `isbn.py` -> `isbn`,
    `pkg/mod.py` -> `pkg.mod`, `pkg/__init__.py` -> `pkg`, `src/pkg/mod.py` -> `pkg.mod` (the src
    layout's root is not part of the name); None for a file that is not Python or whose parts are
    not identifiers (`my-lib.py`)."""
    pure = PurePosixPath(path)
    if pure.suffix != ".py":
        return None
    parts = list(pure.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def python_import_names(path: str) -> list[str]:
    """The dotted names a Python file may be imported as: `src/pkg/mod.py` -> `src.pkg.mod`,
    `pkg.mod`, `mod`; a package's `__init__.py` -> its folder's names."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return [".".join(parts[i:]) for i in range(len(parts)) if all(p.isidentifier() for p in parts[i:])]


@dataclass
class _Definitions:
    """What a file's top level defines: public functions and classes (their interface entries),
    constants (UPPER_CASE names), every name bound, and whether names may appear at run time
    (`from x import *`, a module `__getattr__`)."""

    functions: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    dynamic: bool = False

    def add(self, stmt: ast.stmt) -> None:
        """One top-level statement's definitions, in the file's order."""
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.names.add(stmt.name)
            self.dynamic = self.dynamic or stmt.name == "__getattr__"
            if not stmt.name.startswith("_"):
                self.functions.append(_function(stmt))
        elif isinstance(stmt, ast.ClassDef):
            self.names.add(stmt.name)
            if not stmt.name.startswith("_"):
                self.classes.append(_class(stmt))
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self._assign(stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt.names)

    def _assign(self, targets: list[ast.expr]) -> None:
        """The names an assignment binds; an UPPER_CASE one is a constant too."""
        for name in (n for t in targets for n in bound_names(t)):
            self.names.add(name)
            if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) and name not in self.constants:
                self.constants.append(name)

    def _import(self, aliases: list[ast.alias]) -> None:
        """The names an import binds; `import *` makes the file's names dynamic."""
        for alias in aliases:
            if alias.name == "*":
                self.dynamic = True
            else:
                self.names.add(alias.asname or alias.name.split(".")[0])


@functools.lru_cache(maxsize=512)
def parsed(content: str) -> tuple[ast.Module, tuple[ast.AST, ...]] | None:
    """A Python file's tree and every node in it (in `ast.walk`'s order), or None when it does not
    parse; kept by content (issue 42: a module's files are read by its interface, its references
    and its checks several times an attempt). Callers read the tree, never change it."""
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError):
        return None
    return tree, tuple(ast.walk(tree))


def _parser_words(nodes: Iterable[ast.AST]) -> tuple[list[str], list[str]]:
    """The subcommands (`add_parser("x")`) and options (`add_argument("--y")`) a command-line
    parser in the file declares, each once, in the file's order."""
    commands: list[str] = []
    options: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if node.func.attr == "add_parser" and first.value not in commands:
                commands.append(first.value)
            elif node.func.attr == "add_argument" and first.value not in options:
                options.append(first.value)
    return commands, options


def python_interface(path: str, content: str) -> dict[str, Any] | None:
    """The interface of a Python file (what the modules using it are told), or None when it
    does not parse."""
    read = parsed(content)
    if read is None:
        return None
    tree, nodes = read
    found = _Definitions()
    for stmt in _top_level(tree.body):
        found.add(stmt)
    commands, options = _parser_words(nodes)
    return {
        "path": path,
        "kind": "python",
        "imports": python_import_names(path),
        "doc": _first_line(ast.get_docstring(tree)),
        "functions": found.functions,
        "classes": found.classes,
        "constants": found.constants[:_LIST_ITEMS],
        "names": sorted(found.names),
        "dynamic": found.dynamic,
        "main": any(_is_main_guard(stmt) for stmt in tree.body),
        "commands": commands[:_LIST_ITEMS],
        "options": options[:_LIST_ITEMS],
    }


def python_requirements(files: list[Any]) -> list[str]:
    """The lines of a generated `requirements.txt`: the distributions of the third-party imports
    (`yaml` -> `pyyaml`), only well-known ones (`installs.py`), never the project's own modules,
    files or module ids; an import of anything else is a `# not listed:` line saying why (the
    verification judges it like a declared requirement: installed only when the user allows it)."""
    paths = [f.path for f in files]
    own = own_names(paths, [str(getattr(f, "module", "") or "") for f in files])
    local = {Path(f.path).stem for f in files if f.path.endswith(".py")}
    found: dict[str, str] = {}  # distribution -> the file importing it first
    for f in files:
        if not f.path.endswith(".py"):
            continue
        try:
            tree = ast.parse(f.content)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local or normalize(top) in own:
                    continue
                found.setdefault(distribution_for_import(name), f.path)
    listed = sorted(name for name in found if is_known(name) and normalize(name) not in own)
    unlisted = [
        f"{UNLISTED_PREFIX}{name} (imported by {path}; not a well-known distribution, so not installed: "
        f"allow it with --allow-install {normalize(name)})"
        for name, path in sorted(found.items())
        if not is_known(name) and normalize(name) not in own
    ]
    return listed + unlisted
