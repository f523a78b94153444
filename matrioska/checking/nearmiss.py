"""Near misses: a reference that does not resolve, one close name away from a name that exists,
repaired in place without the model.

A small model writes `getElementById('add-book')` for a page that defines `addBook`,
`import isbn_validator.py`, a script `src` one folder off, a module id as an import; told so,
it often keeps the same name through every repair. Before a module is re-run for such a
reference (and before a fix round for one), `apply_near_misses` looks among the names that exist
for exactly one close candidate:

- the same name up to case and `-` / `_` / camelCase (`add-book` = `addBook` = `add_book`);
- else a small edit distance (Damerau-Levenshtein on that normal form: 1 from 4 characters,
  2 from 9);
- Python imports: `import x.py` -> `import x`; a module id, or a planned file's path, used as an
  import -> that file's import name;
- a script `src`, a stylesheet `href` or a JavaScript import of a file the project has under
  another path (the same file name) -> its path from the referencing file.

One candidate: the referencing file is edited in place, the reference's token only (an imported
name becomes `right as wrong`, so the code that uses it stays as it is), and the edit is
returned {module, path, line, old, new, reference, rule}; the caller re-checks. Zero or several
candidates: no edit; the several are named (`note`) for the evidence the model gets.

Also without a failing reference row (the reference checks do not judge them): a CSS selector
and a script's `querySelector('.x')` naming a class or id no page, no script defines, with
exactly one close one that is defined.

The rules are each kind's, one table entry per kind of reference (`kinds/python/nearmiss.py`,
`kinds/web/nearmiss.py`); they read the reference records (`reference_records`), never the
rows' prose. This module runs them, applies the edits and checks again. Nothing here calls a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..generation.project import ProjectFile
from ..kinds.nearmiss import Choice, Edit, Miss, NearMissRule, ProjectView
from ..kinds.python.nearmiss import RULES as PYTHON_RULES
from ..kinds.references import Reference
from ..kinds.web.nearmiss import RULES as WEB_RULES
from ..kinds.web.nearmiss import judges_selectors, names_selectors, selector_edits
from .interfaces import module_interface, reference_records

__all__ = ["NearMisses", "apply_near_misses", "candidates_note", "describe_edit"]


# --------------------------------------------------------------------------- the result


@dataclass
class NearMisses:
    """What `apply_near_misses` did: the files after its edits, the edits, the reference rows
    checked again after them, and the close candidates of the rows it left (several each)."""

    files: list[ProjectFile]
    edits: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    candidates: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def note(self, row: dict[str, Any]) -> str:
        """` (close candidates: a, b)` for a row left with close names (several, or one the
        reference could not be edited to), else ""."""
        return candidates_note(self.candidates.get((str(row.get("where")), str(row.get("reference")))))


def candidates_note(names: list[str] | None) -> str:
    """The close names of a reference left to the model, as a note for its evidence."""
    if not names:
        return ""
    return f" (close candidate{'s' if len(names) > 1 else ''}: {', '.join(names)})"


def describe_edit(edit: dict[str, Any]) -> str:
    """`app.js:12 'add-book' -> 'addBook'`; a fix an analyzer's finding made, `path:line what`."""
    if "description" in edit and "old" not in edit:
        return f"{edit['path']}:{edit['line']} {edit['description']}"
    return f"{edit['path']}:{edit['line']} {edit['old']!r} -> {edit['new']!r}"


# --------------------------------------------------------------------------- the rules run


def _rule(reference: Reference) -> NearMissRule | None:
    """The table entry for a reference: a `.py` file's by the Python rules, any other's by the
    web rules."""
    rules = PYTHON_RULES if reference.path.endswith(".py") else WEB_RULES
    return rules.get(reference.kind)


def _reference_edits(
    reference: Reference, files: dict[str, ProjectFile], project: ProjectView, others: list[Reference]
) -> tuple[Choice, list[Edit]]:
    """The choice a broken reference's rule makes, and its edits when it chose one name."""
    source = files.get(reference.path)
    rule = _rule(reference)
    if source is None or rule is None:
        return Choice([]), []
    miss = Miss(reference, source.content, project, others)
    choice = rule.choose(miss)
    return choice, (rule.edit(miss, choice) if choice.chosen is not None else [])


def _given(rows: list[dict[str, Any]], records: list[Reference], holder: str) -> list[Reference]:
    """The records of the holder's broken rows the caller gave, in the rows' order (a row is its
    record rendered: the same place, reference and problem; else the same place and reference)."""
    exact = {(r.where, r.reference, r.problem): r for r in records}
    by_place: dict[tuple[str, str], Reference] = {}
    for r in records:
        by_place.setdefault((r.where, r.reference), r)
    given = []
    for row in rows:
        if row.get("status") != "broken" or row.get("module", holder) != holder:
            continue
        place = (str(row.get("where")), str(row.get("reference")))
        record: Reference | None = exact.get((*place, row.get("problem"))) or by_place.get(place)
        if record is not None:
            given.append(record)
    return given


def _line_of(content: str, index: int) -> int:
    return content.count("\n", 0, index) + 1


def _apply(files: list[ProjectFile], edits: list[Edit], holder: str) -> tuple[list[ProjectFile], list[dict[str, Any]]]:
    """The files with the edits made (a file whose edits overlap is left as it is), and one
    record {module, path, line, old, new, reference, rule} per edit made."""
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    out, records = [], []
    for f in files:
        mine = sorted({(e.start, e.end): e for e in by_path.get(f.path, [])}.values(), key=lambda e: e.start)
        if not mine or any(a.end > b.start for a, b in zip(mine, mine[1:], strict=False)):
            out.append(f)
            continue
        content = f.content
        for edit in reversed(mine):
            content = content[: edit.start] + edit.text + content[edit.end :]
        for edit in mine:
            records.append(
                {
                    "module": holder,
                    "path": f.path,
                    "line": _line_of(f.content, edit.start),
                    "old": edit.old,
                    "new": edit.new,
                    "reference": edit.reference,
                    "rule": edit.rule,
                }
            )
        out.append(ProjectFile(f.path, content, f.module, [*f.notes]))
    return out, records


@dataclass
class _Repair:
    """One module's near-miss repair: what its references are checked against, and whether its
    selectors are judged (with the `others`' files)."""

    holder: str
    interfaces: dict[str, dict[str, Any]]
    valid: set[str]
    pending: list[str]
    generated: list[str]
    before: list[str] | None
    others: list[ProjectFile]
    selectors: bool

    def checked(self, files: list[ProjectFile]) -> list[ProjectFile]:
        return [f for f in files if f.path in self.valid]

    def records(self, files: list[ProjectFile]) -> list[Reference]:
        """The holder's references as its files are now."""
        return reference_records(
            self.holder,
            self.checked(files),
            self.interfaces,
            pending_paths=self.pending,
            generated=self.generated,
            before=self.before,
        )

    def round(self, result: NearMisses, misses: list[Reference]) -> list[Edit]:
        """One round's edits; the references left with close names go into `result.candidates`."""
        current = {f.path: f for f in result.files}
        edits: list[Edit] = []
        result.candidates = {}
        project = (  # the others' names, indexed only when a reference misses
            ProjectView(self.holder, module_interface(self.holder, self.checked(result.files)), self.interfaces)
            if misses
            else None
        )
        for reference in misses:
            assert project is not None
            choice, found = _reference_edits(reference, current, project, misses)
            if found:
                edits += found
            elif choice.candidates:
                result.candidates[(reference.where, reference.reference)] = choice.candidates
        if self.selectors:
            found, left = selector_edits(result.files, self.others, self.valid)
            edits += found
            result.candidates.update(left)
        return edits


def apply_near_misses(
    holder: str,
    files: list[ProjectFile],
    rows: list[dict[str, Any]],
    interfaces: dict[str, dict[str, Any]],
    *,
    valid: Iterable[ProjectFile] | None = None,
    pending_paths: Iterable[str] = (),
    generated: Iterable[str] = (),
    before: Iterable[str] | None = None,
    project: Iterable[ProjectFile] | None = None,
    rounds: int = 3,
) -> NearMisses:
    """Repair the `holder` module's references that miss by one close name (see the module's
    docstring), without the model.

    `files`: the holder's files; `rows`: its reference rows (`check_references`; the broken ones
    are looked at); `interfaces`: the modules' interfaces; `valid`: the files the rows were
    checked on (all by default); `pending_paths` / `generated` / `before`: as for
    `check_references`, which runs again after edits (up to `rounds` times, an edit may uncover
    the next near miss); `project`: the other modules' files, where the classes and ids a
    stylesheet or a script names are looked up. Without it they are looked up only when no
    other module has (or plans) a page or a script: the holder's files are then all there is.
    """
    pending = list(pending_paths)
    own_paths = {g.path for g in files}
    repair = _Repair(
        holder,
        interfaces,
        {f.path for f in (files if valid is None else valid)},
        pending,
        list(generated),
        list(before) if before is not None else None,
        [f for f in project or () if f.path not in own_paths],
        any(names_selectors(f.path) for f in files)
        and (project is not None or judges_selectors(holder, interfaces, pending)),
    )
    result = NearMisses(list(files), rows=list(rows))
    broken = any(r.get("status") == "broken" and r.get("module", holder) == holder for r in rows)
    misses = _given(rows, repair.records(result.files), holder) if broken else []
    for _ in range(max(1, rounds)):
        edits = repair.round(result, misses)
        if not edits:
            break
        result.files, made = _apply(result.files, edits, holder)
        if not made:
            break
        result.edits += made
        records = repair.records(result.files)
        result.rows = [record.to_dict() for record in records]
        misses = [record for record in records if record.broken]
    return result
