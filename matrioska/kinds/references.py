"""References between modules, the part every kind shares: the record one reference check
produces, the index of what the modules publish, and the scope a module's references are judged
in. Each language's rules (`kinds/python/references.py`, `kinds/web/references.py`) make the
records; `matrioska.checking.interfaces` runs them and renders each record as the report's row.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

__all__ = ["Reference", "ReferenceIndex", "Scope", "dedupe", "public_names", "resolve_path", "script_names"]


@dataclass
class Reference:
    """One reference a module's file makes into the project (or a name two modules both define),
    held or broken. `kind` says what sort of reference it is (each language's rules name theirs)
    and `name` what it refers to; the near-miss repairs read these, never the prose."""

    module: str
    """The module whose file makes the reference."""
    path: str
    """That file."""
    line: int | None
    """The line of the reference (Python), None where the check tells none."""
    kind: str
    name: str
    reference: str
    """The reference as the report shows it: "`from isbn import check`", "element id 'x'"."""
    target: str | None = None
    """The module it resolves into (or the one that has what it should have used)."""
    problem: str | None = None
    """Why it is broken, saying which names exist; None when it holds."""
    source: str = ""
    """Where the name is taken from: the module of `from X import name`, a script import's
    specifier, the local name of `module.name`, the page two scripts share."""
    found_in: str | None = None
    """The file the name was looked up in (the names that do exist are its)."""
    right: str | None = None
    """The module to import the name from instead (a misplaced or rewritten name)."""
    identifier: str | None = None
    """An element id row's `identifier`."""

    @property
    def where(self) -> str:
        """The file, and the line where there is one: `cli.py:3`."""
        return self.path if self.line is None else f"{self.path}:{self.line}"

    @property
    def contract(self) -> str:
        return f"reference {self.reference} ({self.where})"

    @property
    def broken(self) -> bool:
        """Whether it is broken (its row's `status`)."""
        return bool(self.problem)

    def to_dict(self) -> dict[str, Any]:
        """The report's row: `contract`, `kind`, `reference`, `module`, `target`, `status`,
        `where`, then `problem` and `identifier` where there are."""
        row: dict[str, Any] = {
            "contract": self.contract,
            "kind": "reference",
            "reference": self.reference,
            "module": self.module,
            "target": self.target,
            "status": "broken" if self.problem else "held",
            "where": self.where,
        }
        if self.problem:
            row["problem"] = self.problem
        if self.identifier is not None:
            row["identifier"] = self.identifier
        return row


def dedupe(records: list[Reference]) -> list[Reference]:
    """The records without repeats (the same contract with the same problem), first kept."""
    out, seen = [], set()
    for record in records:
        key = (record.contract, record.problem)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def resolve_path(base: str, spec: str) -> str:
    """The project path a link or import `spec` written in the file `base` points to."""
    spec = spec.split("?", 1)[0].split("#", 1)[0]
    if spec.startswith("/"):
        return posixpath.normpath(spec.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), spec))


def public_names(entry: dict[str, Any]) -> list[str]:
    """A Python file's public functions and classes (by name)."""
    return [f["name"] for f in entry.get("functions") or []] + [c["name"] for c in entry.get("classes") or []]


def script_names(entry: dict[str, Any]) -> list[str]:
    """A script's top-level functions, classes and globals (by name)."""
    return (
        [f["name"] for f in entry.get("functions") or []] + (entry.get("classes") or []) + (entry.get("globals") or [])
    )


class ReferenceIndex:
    """What the other modules publish, looked up by import name, path and global name."""

    def __init__(self, interfaces: dict[str, dict[str, Any]]) -> None:
        self.python: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.packages: dict[str, set[str]] = {}
        self.paths: dict[str, tuple[str, dict[str, Any]]] = {}
        self.html_ids: dict[str, str] = {}
        self.js_ids_set: set[str] = set()
        self.js_globals: dict[str, str] = {}
        self.python_defined: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # name -> files defining it
        for module_id, interface in interfaces.items():
            for entry in interface.get("files") or []:
                self.add(module_id, entry)

    def add(self, module_id: str, entry: dict[str, Any]) -> None:
        """One file of `module_id` into the index, by its kind."""
        self.paths[entry["path"]] = (module_id, entry)
        kind = entry.get("kind")
        if kind == "python":
            self._add_python(module_id, entry)
        elif kind == "html":
            for name in entry.get("ids") or []:
                self.html_ids.setdefault(name, entry["path"])
            for name in entry.get("inline_functions") or []:
                self.js_globals.setdefault(name, module_id)
        elif kind == "javascript":
            self.js_ids_set.update(entry.get("ids_set") or [])
            for name in script_names(entry) + (entry.get("window") or []):
                self.js_globals.setdefault(name, module_id)

    def _add_python(self, module_id: str, entry: dict[str, Any]) -> None:
        """A Python file: by each of its import names (and the packages above them), and by each
        name it defines."""
        for name in entry.get("imports") or []:
            self.python.setdefault(name, []).append((module_id, entry))
            parts = name.split(".")
            for i in range(1, len(parts)):
                self.packages.setdefault(".".join(parts[:i]), set()).add(module_id)
        for name in public_names(entry) + list(entry.get("constants") or []):
            self.python_defined.setdefault(name, []).append((module_id, entry))

    def of_kind(self, kind: str) -> list[str]:
        """The paths of the indexed files of one kind."""
        return [p for p, (_, e) in self.paths.items() if e.get("kind") == kind]


@dataclass
class Scope:
    """What one module's references are judged against: the index (the other modules and the
    holder's own files), the files planned by modules that have not run yet (a reference into
    them is not judged yet), the files the assembler adds, and the modules built before the
    holder (None: every other module)."""

    holder: str
    index: ReferenceIndex
    pending: set[str]
    generated: set[str]
    before: set[str] | None = None
