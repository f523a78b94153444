"""A module's fix round: which of its files a fix rewrites, the rewrite merged with the files it
kept, the fix queue after it, and the record of its fixes in the module report; and the
analyzers' findings as a fix is told them (issue 34): each `path:line code message` line with,
for an undefined name, the module that defines it or the close names it may have meant.

`state` here is the run's state as a plain mapping (only read)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..kinds.analyzers import PYTHON_SUFFIXES, Finding
from ..kinds.nearmiss import close_candidates
from ..kinds.web.fixes import declared_globals
from ..model.grammar import render_files
from ..state import Architecture, ModuleSpec
from .project import ProjectFile

__all__ = [
    "files_to_fix",
    "merge_files",
    "next_fixes",
    "runtime_fixes",
    "Definitions",
    "definitions",
    "import_names",
    "finding_hint",
    "finding_lines",
    "interface_entries",
    "page_globals",
]

Definitions = dict[str, list[tuple[str, str, str]]]
"""A top-level name -> (module id, where: a Python file's import name or a script's path, its
kind: "python" or "javascript") of each project file that defines it."""
FINDING_LINES = 12
"""Findings a fix is told, at most (errors first): a prompt stays small."""
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


def files_to_fix(spec: ModuleSpec, evidence: str | None) -> list[str] | None:
    """In a fix round, the module's files its evidence names, when that is some but not all of
    them (the reply then rewrites only those); None: it rewrites every file."""
    if not evidence or len(spec.files) < 2:
        return None
    named = [f for f in spec.files if re.search(rf"(?<![\w/.]){re.escape(f)}(?![\w])", evidence)]
    return named if named and len(named) < len(spec.files) else None


def merge_files(spec: ModuleSpec, own: list[ProjectFile], rewritten: list[ProjectFile]) -> str:
    """The module's artifact after a partial rewrite: each declared file from the rewrite when
    it holds it, else as it was; in the plan's order."""
    new = {f.path: f for f in rewritten}
    old = {f.path: f for f in own}
    files = [new.get(path) or old.get(path) for path in spec.files]
    extra = [f for f in own if f.path not in spec.files]
    return render_files([f for f in files if f is not None] + extra)


def next_fixes(
    state: Mapping[str, Any],
    architecture: Architecture,
    spec: ModuleSpec,
    update: dict[str, Any],
    rest: list[str],
    face: dict[str, Any],
) -> dict[str, Any]:
    """The fix queue after this module: readers of the keys it re-published with new values, and
    the modules built against its interface when that changed, are re-run after it (once a
    round), in execution order."""
    shared_state = state.get("shared_state") or {}
    changed = {key for key, value in update.items() if shared_state.get(key) != value}
    seen = list(state.get("fix_seen") or [])
    readers = [m.id for m in architecture.modules if m.id not in seen and changed & set(m.shared_state_reads)]
    old = (state.get("interfaces") or {}).get(spec.id)
    if old is not None and old.get("files") != face.get("files"):
        rows = (state.get("integration_report") or {}).get("consistency") or []
        users = {row["module"] for row in rows if row.get("kind") == "reference" and row.get("target") == spec.id}
        readers += [
            m.id
            for m in architecture.modules
            if m.id not in seen and m.id not in readers and (spec.id in m.dependencies or m.id in users)
        ]
    order = state.get("execution_order") or []
    queue = sorted(dict.fromkeys([*rest, *readers]), key=lambda m: order.index(m) if m in order else len(order))
    return {"fix_queue": queue, "fix_seen": [*seen, *readers]}


def runtime_fixes(state: Mapping[str, Any], module_id: str, fixing: bool, evidence: str | None) -> list[dict[str, Any]]:
    """The module's fix rounds so far, as its report keeps them: those of its previous report,
    and this one when it is a fix round (its evidence, or a module it reads from changed)."""
    previous = (state.get("module_reports") or {}).get(module_id) or {}
    fixes = list(previous.get("runtime_fixes") or [])
    if fixing:
        fixes.append(
            {
                "round": state.get("fix_round") or 0,
                "evidence": (evidence or "")[:2000],
                "reason": "runtime failure" if evidence else "a module it reads from changed",
            }
        )
    return fixes


# -- the analyzers' findings, as a fix is told them ---------------------------------------------


def definitions(entries: Iterable[tuple[str, Mapping[str, Any]]]) -> Definitions:
    """What the project's files define at their top level (functions, classes, constants of a
    Python file; functions, classes, globals of a script), from their interfaces: `entries` are
    (module id, a file's interface entry)."""
    out: Definitions = {}
    for module_id, entry in entries:
        kind = entry.get("kind")
        if kind == "python":
            where = (entry.get("imports") or [entry.get("path", "")])[0]
            names = [
                *(f["name"] for f in entry.get("functions") or []),
                *(c["name"] for c in entry.get("classes") or []),
            ]
            names += list(entry.get("constants") or [])
        elif kind == "javascript":
            where = entry.get("path", "")
            names = [f["name"] for f in entry.get("functions") or []] + list(entry.get("classes") or [])
            names += list(entry.get("globals") or [])
        else:
            continue
        for name in names:
            if (module_id, where, kind) not in out.setdefault(name, []):
                out[name].append((module_id, where, kind))
    return out


def import_names(defined: Definitions) -> dict[str, list[str]]:
    """A Python name -> the import names of the project modules defining it (what
    `kinds.python.fixes.fix_python` is given)."""
    out = {name: sorted({w for _, w, kind in where if kind == "python"}) for name, where in defined.items()}
    return {name: names for name, names in out.items() if names}


@functools.lru_cache(maxsize=64)
def _identifiers(text: str) -> frozenset[str]:
    """The identifiers a file's text holds (kept by content: one file's findings ask it many times)."""
    return frozenset(_IDENTIFIER.findall(text))


def finding_hint(finding: Finding, defined: Definitions, module_id: str | None, text: str) -> str:
    """For an undefined name: ` (defined in module X: ...)`, else ` (close candidates: ...)`."""
    name = finding.name
    if not finding.undefined or not name:
        return ""
    kind = "python" if finding.path.endswith(PYTHON_SUFFIXES) else "javascript"
    where = [(m, w) for m, w, k in defined.get(name, []) if k == kind]
    others = [(m, w) for m, w in where if m != module_id] or where
    if others:
        said = [f"`from {w} import {name}`" if kind == "python" else w for _, w in others[:2]]
        modules = ", ".join(dict.fromkeys("your module" if m == module_id else f"module {m}" for m, _ in others[:2]))
        return f" (defined in {modules}: {', '.join(said)})"
    pool = {*_identifiers(text), *(n for n, where in defined.items() if any(k == kind for _, _, k in where))}
    close = close_candidates(name, pool)[:3]
    return f" (close candidates: {', '.join(close)})" if close else ""


def finding_lines(
    findings: Iterable[Finding],
    texts: Mapping[str, str],
    defined: Definitions,
    module_id: str | None = None,
    *,
    shown: str = "",
    limit: int = FINDING_LINES,
) -> list[str]:
    """The findings as a fix is told them, errors first: `path:line code message`, an undefined
    name with where it is defined or the close names it may have meant; a warning only in a file
    with an error (an unused local beside an undefined name); those already in `shown` (the
    evidence a fix prompt holds) left out; at most `limit`, the rest counted."""
    findings = list(findings)
    failing = {f.path for f in findings if f.error}
    ordered = sorted((f for f in findings if f.path in failing), key=lambda f: (not f.error, f.path, f.line, f.column))
    lines: list[str] = []
    left = 0
    hints: dict[tuple[str, str | None], str] = {}  # one hint per name and file, however often it is used
    for finding in ordered:
        rendered = finding.render()
        if rendered in shown:
            continue
        if len(lines) >= limit:
            left += 1
            continue
        key = (finding.path, finding.name if finding.undefined else None)
        if key not in hints or key[1] is None:
            hints[key] = finding_hint(finding, defined, module_id, texts.get(finding.path, ""))
        lines.append(rendered[:240] + hints[key])
    return lines + ([f"[... {left} more finding(s) left out ...]"] if left else [])


def interface_entries(interfaces: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """(module id, a file's interface entry) of every module's interface (the state's)."""
    return [(module_id, entry) for module_id, face in interfaces.items() for entry in face.get("files") or []]


def page_globals(interfaces: Mapping[str, Mapping[str, Any]], texts: Mapping[str, str]) -> set[str]:
    """The names a page's scripts share, as oxlint is told them: those the scripts in `texts`
    declare, and those the classic scripts and inline page scripts of the modules in
    `interfaces` declare (a module script's top-level names are no globals; `window.x` always is)."""
    names = declared_globals(dict(texts))
    for _, entry in interface_entries(interfaces):
        names |= set(entry.get("window") or []) | set(entry.get("inline_functions") or [])
        if entry.get("kind") != "javascript" or entry.get("module"):
            continue
        names |= {str(f["name"]) for f in entry.get("functions") or [] if isinstance(f, Mapping)}
        names |= set(entry.get("classes") or []) | set(entry.get("globals") or [])
    return {n for n in names if isinstance(n, str)}
