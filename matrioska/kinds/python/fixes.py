"""Python's fixes without the model (issue 34): the one-line slips the analyzers find that have
exactly one right answer, made in place, each reported as a `Fix`.

- an undefined name (F821) that exactly one project module defines: `from module import name`;
  a project module's import name used as `module.attr` without its import: `import module`;
- a standard-library module used as `module.attr` without its import: `import module`; a
  well-known standard-library name (`Counter`, `Path`, `dataclass`, ...): `from module import name`;
- an undefined name in a function that also assigns exactly one close, unused local (F821 and
  F841 in the same function, `totl = ...; print(total)`, `groups_info = ...; return groups_items`):
  the use renamed to that local, when the local is assigned before the first use. A local is close
  when Python's own NameError names it ("Did you mean: 'groups_info'?", `python_suggestion`), when
  difflib scores the two names at least 0.7 (`difflib.get_close_matches`, cutoff 0.7), or when the
  near-miss rule does (`kinds.nearmiss.choose`); locals equal to the name up to case and separators
  come first (only they are candidates when there are any). Two or more close unused locals, or
  one assigned after the use: left alone, and said in `fix_python`'s `notes`
  ("main.py:4 groups_items left undefined: two close unused locals (groups_info, groups_infos)").

Imports go after the module's docstring, its `from __future__` imports and its top-level imports
(before the first function or class), and before any top-level use of the name. Only files that
parse are changed.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import keyword
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..analyzers import Finding, Fix
from ..nearmiss import choose, normal_name
from .source import import_name

__all__ = ["WELL_KNOWN", "fix_python", "python_suggestion"]

WELL_KNOWN: dict[str, str] = {
    **dict.fromkeys(("Counter", "defaultdict", "OrderedDict", "namedtuple", "deque", "ChainMap"), "collections"),
    **dict.fromkeys(("Path", "PurePath", "PurePosixPath"), "pathlib"),
    **dict.fromkeys(("dataclass", "field", "asdict", "astuple"), "dataclasses"),
    **dict.fromkeys(("datetime", "date", "timedelta", "timezone"), "datetime"),
    **dict.fromkeys(("Enum", "IntEnum", "auto"), "enum"),
    **dict.fromkeys(("partial", "reduce", "lru_cache", "wraps", "cached_property", "total_ordering"), "functools"),
    **dict.fromkeys(
        (
            "Any",
            "Optional",
            "List",
            "Dict",
            "Tuple",
            "Set",
            "FrozenSet",
            "Union",
            "Callable",
            "Iterable",
            "Iterator",
            "Sequence",
            "Mapping",
            "Generator",
            "TypedDict",
            "Literal",
            "NamedTuple",
            "TypeVar",
            "Type",
        ),
        "typing",
    ),
    **dict.fromkeys(("ABC", "abstractmethod"), "abc"),
    **dict.fromkeys(("StringIO", "BytesIO"), "io"),
    "deepcopy": "copy",
    "Decimal": "decimal",
    "Fraction": "fractions",
    "contextmanager": "contextlib",
    "pprint": "pprint",
    "dedent": "textwrap",
    "uuid4": "uuid",
}
"""Well-known standard-library names, by the module they come from."""

_MODULE_ATTRIBUTES = {
    "datetime": {"datetime", "date", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR"},
    "pprint": {"pprint", "pformat", "pp", "PrettyPrinter", "saferepr", "isreadable", "isrecursive"},
}
"""Names that are both a module and a name in it: `datetime.timedelta(...)` wants `import
datetime`, `datetime.now()` wants `from datetime import datetime`."""

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_UNDEFINED = ("F821", "unresolved-reference")
_DIFFLIB_CUTOFF = 0.7
_DID_YOU_MEAN = re.compile(r"Did you mean: '([^']+)'\?")
_STDERR_LOCK = threading.Lock()
_COUNTS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# --------------------------------------------------------------------------- reading a file


@dataclass
class _Use:
    """One load of a name: where, and the innermost function it is in (None: module level)."""

    node: ast.Name
    function: ast.AST | None
    attribute: str | None
    """The attribute read from it (`name.attr`), if any."""


@dataclass
class _Reading:
    tree: ast.Module
    uses: dict[str, list[_Use]] = field(default_factory=dict)
    stores: dict[tuple[str, int], ast.AST | None] = field(default_factory=dict)
    """(name, line) of each assignment -> the function it is in."""


def _read(tree: ast.Module) -> _Reading:
    reading = _Reading(tree)
    attributes = {
        id(node.value): node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }

    def walk(node: ast.AST, function: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(node, _FUNCTIONS) and child in _body(node):
                inner = node
            if isinstance(child, ast.Name):
                if isinstance(child.ctx, ast.Load):
                    use = _Use(child, inner, attributes.get(id(child)))
                    reading.uses.setdefault(child.id, []).append(use)
                else:
                    reading.stores.setdefault((child.id, child.lineno), inner)
            walk(child, inner)

    walk(tree, None)
    return reading


def _body(function: ast.AST) -> list[ast.AST]:
    """The nodes that run inside a function's own scope (not its decorators or defaults)."""
    if isinstance(function, ast.Lambda):
        return [function.body]
    return list(getattr(function, "body", []))


# --------------------------------------------------------------------------- deciding


@dataclass
class _Plan:
    imports: list[tuple[str, str]] = field(default_factory=list)
    """(statement, rule) in the order they were found: `import os`, `from core import add`."""
    renames: list[tuple[ast.AST, str, str]] = field(default_factory=list)
    """(function, undefined name, the local it becomes)."""
    notes: list[tuple[int, str]] = field(default_factory=list)
    """(line, why) of each undefined name left alone beside close unused locals."""


def _import_for(name: str, uses: list[_Use], defined: Mapping[str, list[str]], modules: set[str]) -> str | None:
    """The import that defines `name` where its uses want it, or None."""
    attributes = {u.attribute for u in uses if u.attribute}
    if name in modules and attributes:
        return f"import {name}"
    owners = sorted(set(defined.get(name) or []))
    if len(owners) == 1:
        return f"from {owners[0]} import {name}"
    if owners:
        return None  # several project modules define it: the model chooses
    if name in _MODULE_ATTRIBUTES:
        return f"import {name}" if attributes & _MODULE_ATTRIBUTES[name] else f"from {WELL_KNOWN[name]} import {name}"
    if name in sys.stdlib_module_names and not name.startswith("_") and attributes:
        return f"import {name}"
    return None


def _plan(reading: _Reading, findings: list[Finding], defined: Mapping[str, list[str]], own: str | None) -> _Plan:
    plan = _Plan()
    modules = {m for owners in defined.values() for m in owners} - {own}
    defined = {n: [m for m in owners if m != own] for n, owners in defined.items()}
    unused: dict[int, list[tuple[str, int]]] = {}  # id(function) -> its unused locals and their lines
    for f in findings:
        if f.code == "F841" and f.name:
            function = reading.stores.get((f.name, f.line))
            if function is not None:
                unused.setdefault(id(function), []).append((f.name, f.line))
    seen: set[str] = set()
    for f in findings:
        name = f.name
        if f.code not in _UNDEFINED or not name or name in seen:
            continue
        seen.add(name)
        uses = reading.uses.get(name) or []
        statement = _import_for(name, uses, defined, modules)
        if statement:
            plan.imports.append((statement, name))
            continue
        renamed, notes = _renames(name, uses, unused)
        plan.renames += renamed
        if not renamed and name in WELL_KNOWN and not defined.get(name):
            plan.imports.append((f"from {WELL_KNOWN[name]} import {name}", name))
        else:
            plan.notes += notes
    return plan


def _renames(
    name: str, uses: list[_Use], unused: Mapping[int, list[tuple[str, int]]]
) -> tuple[list[tuple[ast.AST, str, str]], list[tuple[int, str]]]:
    """Each function using `name` undefined that assigns exactly one close unused local, before
    the first use (renamed after it, the use would read it unbound); and (line, why) for each
    function where close unused locals leave it alone."""
    out: list[tuple[ast.AST, str, str]] = []
    notes: list[tuple[int, str]] = []
    functions = {id(u.function): u.function for u in uses if u.function is not None}
    for key, function in functions.items():
        locals_ = unused.get(key) or []
        close = _close_locals(name, [local for local, _ in locals_])
        first_use = min(u.node.lineno for u in uses if u.function is function)
        if len(close) > 1:
            count = _COUNTS[len(close)] if len(close) < len(_COUNTS) else str(len(close))
            notes.append((first_use, f"{name} left undefined: {count} close unused locals ({', '.join(close)})"))
            continue
        if not close:
            continue
        assigned = min(line for local, line in locals_ if local == close[0])
        if assigned < first_use:
            out.append((function, name, close[0]))
        else:
            notes.append((first_use, f"{name} left undefined: its close unused local {close[0]} is assigned after it"))
    return out, notes


def _close_locals(name: str, locals_: Iterable[str]) -> list[str]:
    """The unused locals close to the undefined `name` (sorted): those equal to it up to case and
    separators when there are any, else each that Python suggests for it, that difflib scores at
    least 0.7 against it, or that the near-miss rule finds close."""
    pool = sorted({local for local in locals_ if local and local != name})
    same = [local for local in pool if normal_name(local) == normal_name(name)]
    if same:
        return same
    return [
        local
        for local in pool
        if python_suggestion(name, [local]) == local
        or difflib.get_close_matches(name, [local], n=1, cutoff=_DIFFLIB_CUTOFF)
        or choose(name, [local]).chosen == local
    ]


def python_suggestion(name: str, names: Iterable[str]) -> str | None:
    """The name Python's own NameError suggests for the undefined `name` when only `names` are
    defined ("name 'groups_items' is not defined. Did you mean: 'groups_info'?"), or None.

    Python is asked, not imitated: `name` is evaluated (a bare name lookup, nothing else runs) in
    a namespace holding `names` and no builtins, and the message of the NameError it raises is
    read. From Python 3.12 that message is built in Python by `traceback.TracebackException`,
    whose public output is used (not its private `_compute_suggestion_error`). On 3.10 and 3.11
    the suggestion is only made by the interpreter's C exception printer, which Python code
    reaches only through `sys.__excepthook__` writing to `sys.stderr`; so stderr is redirected for
    that one call, as IDLE does on those versions (`idlelib.run.get_message_lines`, bpo-44026),
    under a lock so two of these calls never share the redirection. The suggestion thus follows
    the running interpreter's rule (which varies a little between versions); anything unexpected
    (no suggestion printed, a name that is not an identifier) gives None."""
    names = [n for n in names if n.isidentifier() and not keyword.iskeyword(n)]
    if not names or not name.isidentifier() or keyword.iskeyword(name):
        return None
    namespace: dict[str, object] = {"__builtins__": {}, **dict.fromkeys(names)}
    try:
        eval(compile(name, "<suggestion>", "eval"), namespace)
    except NameError as error:
        message = _name_error_message(error)
    except Exception:  # a lookup that fails another way suggests nothing
        return None
    else:
        return None
    found = _DID_YOU_MEAN.search(message)
    return found.group(1) if found and found.group(1) in names else None


def _name_error_message(error: NameError) -> str:
    """The NameError's message as Python prints it, its "Did you mean" included."""
    if sys.version_info >= (3, 12):
        return "".join(traceback.TracebackException.from_exception(error).format_exception_only())
    hook = sys.__excepthook__
    if not callable(hook):
        return ""
    out = io.StringIO()
    with _STDERR_LOCK, contextlib.redirect_stderr(out):
        hook(type(error), error, error.__traceback__)
    return out.getvalue()


# --------------------------------------------------------------------------- editing


def _insert_line(text: str, reading: _Reading, names: Iterable[str]) -> int:
    """The line (0-based index into the file's lines) the imports go before: after the docstring,
    the `from __future__` imports and the top-level imports, before any top-level use of `names`."""
    body = reading.tree.body
    header = 0
    rest = body
    if body and ast.get_docstring(reading.tree, clean=False) is not None:
        header, rest = body[0].end_lineno or 0, body[1:]
    for stmt in rest:
        if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
            break
        header = stmt.end_lineno or header
    after = header
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            break
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            after = max(after, stmt.end_lineno or 0)
    first_use = min(
        (u.node.lineno for n in names for u in reading.uses.get(n) or [] if u.function is None),
        default=None,
    )
    if first_use is not None and first_use <= after:
        after = header
    lines = text.splitlines()
    while after < len(lines) and lines[after].startswith("#") and (after == 0 or "coding" in lines[after]):
        after += 1  # a shebang or an encoding line stays first
    return after


def _apply_renames(text: str, renames: list[tuple[ast.AST, str, str]], reading: _Reading) -> tuple[str, list[int]]:
    """The text with each function's uses of the undefined name renamed; the first line of each."""
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    first: list[int] = []
    for function, old, new in renames:
        spots = [u.node for u in reading.uses.get(old) or [] if u.function is function]
        if spots:
            first.append(min(n.lineno for n in spots))
        edits += [(n.lineno, n.col_offset, n.end_col_offset or n.col_offset, new) for n in spots]
    for line, start, end, new in sorted(edits, reverse=True):
        raw = lines[line - 1].encode("utf-8")
        lines[line - 1] = (raw[:start] + new.encode("utf-8") + raw[end:]).decode("utf-8")
    return "".join(lines), first


def _insert(text: str, at: int, statements: list[str]) -> tuple[str, int, int]:
    """The text with the import statements inserted before line index `at` (a blank line kept
    between them and the code around them), the first one's line and the lines added."""
    rows = text.splitlines(keepends=True)
    if at and at <= len(rows) and not rows[at - 1].endswith("\n"):
        rows[at - 1] += "\n"
    block = [s + "\n" for s in statements]
    before = rows[at - 1].strip() if 0 < at <= len(rows) else ""
    lead = int(bool(before) and not before.startswith("#") and not _is_import(before))  # after a docstring
    if at < len(rows) and rows[at].strip() and not _is_import(rows[at]):
        block.append("\n")
    rows[at:at] = ["\n"] * lead + block
    return "".join(rows), at + lead + 1, lead + len(block)


def _is_import(line: str) -> bool:
    return line.lstrip().startswith(("import ", "from "))


def _fix_file(
    path: str, text: str, findings: list[Finding], defined: Mapping[str, list[str]], notes: list[str]
) -> tuple[str, list[Fix]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text, []
    reading = _read(tree)
    plan = _plan(reading, findings, defined, import_name(path))
    notes += [f"{path}:{line} {why}" for line, why in sorted(plan.notes)]
    fixes: list[Fix] = []
    new, lines = _apply_renames(text, plan.renames, reading)
    for (_, old, local), line in zip(plan.renames, lines, strict=True):
        fixes.append(Fix(path, line, f"renamed `{old}` to the local `{local}`", f"F821 {old}"))
    statements = list(dict.fromkeys(s for s, _ in plan.imports))
    if statements:
        at = _insert_line(text, reading, [n for _, n in plan.imports])
        new, first, shift = _insert(new, at, statements)
        fixes = [Fix(f.path, f.line + shift if f.line > at else f.line, f.description, f.rule) for f in fixes]
        names = dict(plan.imports)
        fixes += [Fix(path, first + i, f"added `{s}`", f"F821 {names[s]}") for i, s in enumerate(statements)]
    return new, sorted(fixes, key=lambda f: (f.line, f.description))


def fix_python(
    files: Mapping[str, str],
    findings: list[Finding],
    defined: Mapping[str, list[str]],
    *,
    notes: list[str] | None = None,
) -> tuple[dict[str, str], list[Fix]]:
    """The files with the slips above fixed, and what was fixed. `files`: the module's own files
    (path -> text; only its Python files are read); `findings`: the analyzers' over them;
    `defined`: a top-level name -> the import names of the project modules that define it
    (`{"digest": ["helper"]}`); `notes`, when given, gets a line per undefined name left alone
    beside close unused locals ("main.py:4 groups_items left undefined: two close unused locals
    (groups_info, groups_infos)"), as the fixes are not the place for what was not fixed."""
    notes = [] if notes is None else notes
    out = dict(files)
    fixes: list[Fix] = []
    for path, text in files.items():
        if not path.endswith(".py"):
            continue
        mine = [f for f in findings if f.path == path]
        if not any(f.code in _UNDEFINED and f.name for f in mine):
            continue
        new, made = _fix_file(path, text, mine, defined, notes)
        if made:
            out[path], fixes = new, [*fixes, *made]
    return out, fixes
