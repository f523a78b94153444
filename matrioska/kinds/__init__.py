"""Kinds of module output: one kind per language or file type, built-in or installed as a plugin.

A kind knows which files are its own (`matches`) and what is wrong with one of them
(`validate`); optionally the interface its files publish to the modules that use them
(`interface`), guidance for the modules of its kind (`guide`), what the assembler adds for it
(`generate`: an `index.html`, `requirements.txt`, `package.json`) and how its files are run
(`commands`: argv lists run in the sandbox on a copy of the project; or `check(paths, ctx)`, its
own checks, given a `CheckContext` (`base.py`) to run commands and record what they showed; a
kind that runs acceptance scenarios itself names their kinds in `scenario_kinds` and runs them in
`run_scenarios(ctx)`).

The built-in kinds (`python`, `tests`, `html`, `javascript`, `css`, `json`, `markdown`, `data`)
live one file each in this package and use the same interface as a plugin. A third-party kind is
an ordinary package with an entry point in the group `matrioska.kinds` naming a class (built with
no arguments) or an object with at least `name`, `description`, `matches(path)` and
`validate(path, text)`. A plugin that cannot be loaded is reported in one line and skipped; an
exception inside one of its methods becomes a problem of the module whose file it was checking.

Kinds load lazily, once per process (`installed()`); nothing here runs on `matrioska --help`.
"""

from __future__ import annotations

import copy
import importlib.metadata
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .base import Kind

__all__ = [
    "Kind",
    "Installed",
    "installed",
    "load_problems",
    "reload",
    "kinds_for",
    "kind_named",
    "validate",
    "interface",
    "generated",
    "describe",
    "names",
    "infer",
    "ENTRY_POINT_GROUP",
]

ENTRY_POINT_GROUP = "matrioska.kinds"
BUILT_IN = "matrioska (built-in)"


@dataclass(frozen=True)
class Installed:
    """A loaded kind and where it came from (a distribution's name, or built-in)."""

    kind: Any
    source: str

    @property
    def name(self) -> str:
        return str(self.kind.name)

    @property
    def description(self) -> str:
        return " ".join(str(getattr(self.kind, "description", "")).split())[:200]


_lock = threading.Lock()
_loaded: tuple[list[Installed], list[str]] | None = None


def _built_ins() -> list[Installed]:
    """The built-in kinds, in their order."""
    from .data import DataKind
    from .json import JsonKind
    from .markdown import MarkdownKind
    from .python import PythonKind
    from .tests import TestsKind
    from .web.css import CssKind
    from .web.html import HtmlKind
    from .web.javascript import JavaScriptKind

    kinds = (
        PythonKind,
        TestsKind,
        HtmlKind,
        JavaScriptKind,
        CssKind,
        JsonKind,
        MarkdownKind,
        DataKind,
    )
    return [Installed(cls(), BUILT_IN) for cls in kinds]


def _plugin(entry: Any) -> tuple[Installed | None, str | None]:
    """One entry point loaded and checked, or the one-line reason it is skipped."""
    source = getattr(getattr(entry, "dist", None), "name", None) or entry.value.split(":")[0].split(".")[0]
    label = f"kind plugin {entry.name!r} ({source})"
    try:
        target = entry.load()
        kind = target() if isinstance(target, type) else target
    except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported, not raised
        return None, f"{label} skipped: it failed to load: {type(exc).__name__}: {str(exc)[:160]}"
    missing = [
        a for a in ("name", "description") if not isinstance(getattr(kind, a, None), str) or not getattr(kind, a)
    ]
    missing += [a for a in ("matches", "validate") if not callable(getattr(kind, a, None))]
    if missing:
        return None, f"{label} skipped: it lacks {', '.join(missing)}"
    return Installed(kind, source), None


def installed() -> list[Installed]:
    """Every kind: the built-in ones, then the plugins in entry-point order (loaded once)."""
    return _load()[0]


def load_problems() -> list[str]:
    """One line per plugin that was skipped, and why."""
    return _load()[1]


def reload() -> None:
    """Forget the loaded kinds (the next call looks for plugins again)."""
    global _loaded
    with _lock:
        _loaded = None
        _INTERFACES.clear()


def _load() -> tuple[list[Installed], list[str]]:
    global _loaded
    with _lock:
        if _loaded is None:
            kinds = _built_ins()
            problems: list[str] = []
            try:
                entries = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
            except Exception as exc:  # noqa: BLE001 - a broken installation must not stop a run
                entries = []
                problems.append(f"kind plugins not loaded: {type(exc).__name__}: {exc}")
            taken = {k.name for k in kinds}
            for entry in entries:
                item, problem = _plugin(entry)
                if problem:
                    problems.append(problem)
                elif item is not None and item.name in taken:
                    problems.append(
                        f"kind plugin {entry.name!r} ({item.source}) skipped: the kind {item.name!r} exists already"
                    )
                elif item is not None:
                    kinds.append(item)
                    taken.add(item.name)
            _loaded = (kinds, problems)
        return _loaded


def _matches(item: Installed, path: str) -> bool:
    try:
        return bool(item.kind.matches(path))
    except Exception:  # noqa: BLE001 - a plugin's bug: its kind simply does not claim the file
        return False


def kinds_for(path: str) -> list[Installed]:
    """The kinds that claim a file, built-in first."""
    return [item for item in installed() if _matches(item, path)]


def kind_named(name: str) -> Installed | None:
    return next((item for item in installed() if item.name == name), None)


def names() -> list[str]:
    return [item.name for item in installed()]


def validate(path: str, text: str) -> list[str]:
    """The problems every kind that claims the file finds in it; a kind that raises says so as a
    problem (never a traceback)."""
    problems: list[str] = []
    for item in kinds_for(path):
        try:
            found = item.kind.validate(path, text) or []
        except Exception as exc:  # noqa: BLE001 - third-party code: its failure is a finding
            problems.append(
                f"the {item.name} kind ({item.source}) failed on this file: {type(exc).__name__}: {str(exc)[:200]}"
            )
            continue
        problems += [str(p) for p in found if str(p).strip()]
    return problems


_INTERFACES: OrderedDict[tuple[str, str], dict[str, Any] | None] = OrderedDict()
_INTERFACES_KEPT = 512


def interface(path: str, text: str) -> dict[str, Any] | None:
    """The interface of one file: from the first kind that claims it and extracts one (a dict,
    or a plugin's text); None when that kind finds the file unparsable; a bare file entry when
    no kind extracts interfaces for it.

    A run asks for the same file's interface several times (its module's repair loop, the
    dependents' prompts, the assembler's reference checks): the last few hundred answers are
    kept, and each caller gets its own copy."""
    key = (path, text)
    with _lock:
        if key in _INTERFACES:
            _INTERFACES.move_to_end(key)
            return copy.deepcopy(_INTERFACES[key])
    found = _interface(path, text)
    with _lock:
        _INTERFACES[key] = copy.deepcopy(found)
        while len(_INTERFACES) > _INTERFACES_KEPT:
            _INTERFACES.popitem(last=False)
    return found


def _interface(path: str, text: str) -> dict[str, Any] | None:
    for item in kinds_for(path):
        method = getattr(item.kind, "interface", None)
        if not callable(method):
            continue
        try:
            found = method(path, text)
        except Exception:  # noqa: BLE001 - a plugin's bug: the file has no interface, nothing else breaks
            return {"path": path, "kind": item.name, "text": f"(the {item.name} kind failed to extract an interface)"}
        if found is None:
            if item.source == BUILT_IN:
                return None  # a built-in kind found the file unparsable
            continue
        if isinstance(found, str):
            return {"path": path, "kind": item.name, "text": found[:2000]}
        return found
    return {"path": path, "kind": "file"}


def generated(project_name: str, files: list[Any], existing: set[str]) -> tuple[dict[str, str], list[str]]:
    """What the kinds add to a project (a path no module wrote), and one note per kind that failed."""
    out: dict[str, str] = {}
    notes: list[str] = []
    for item in installed():
        method = getattr(item.kind, "generate", None)
        if not callable(method):
            continue
        try:
            for path, text in (method(project_name, files) or {}).items():
                if path not in existing and path not in out and isinstance(text, str):
                    out[str(path)] = text
        except Exception as exc:  # noqa: BLE001
            notes.append(f"the {item.name} kind ({item.source}) failed to generate files: {type(exc).__name__}: {exc}")
    return out, notes


def describe() -> str:
    """One line per kind, for the architect: `- name: description`."""
    return "\n".join(f"- {item.name}: {item.description}" for item in installed())


def infer(paths: list[str]) -> str | None:
    """A module's kind from its files: the kind that claims most of them (tests before the
    language they are written in; on a tie, the kind of the earlier file, then built-in order)."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, path in enumerate(paths):
        for item in kinds_for(path):
            counts[item.name] = counts.get(item.name, 0) + 1
            first.setdefault(item.name, index)
    if not counts:
        return None
    if counts.get("tests") and counts["tests"] == max(counts.values()):
        return "tests"
    order = names()
    return max(counts, key=lambda n: (counts[n], -first[n], -order.index(n)))
