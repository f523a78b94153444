"""Near misses, the part every kind shares: when two names are close, the choice of one close
name, the edit that writes it, what a rule sees of the project, and the shape of a rule.

A rule (`NearMissRule`) is one entry of a language's table: the kind of reference it repairs
(`Reference.kind`), where the candidates come from (`choose`) and what to edit (`edit`).
`kinds/python/nearmiss.py` and `kinds/web/nearmiss.py` hold the tables;
`matrioska.checking.nearmiss` runs them and applies the edits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .references import Reference, ReferenceIndex

__all__ = ["Choice", "Edit", "Miss", "NearMissRule", "ProjectView", "choose", "close_candidates", "normal_name"]


# --------------------------------------------------------------------------- closeness


def normal_name(name: str) -> str:
    """A name up to case and separators: `add-book`, `addBook`, `add_book` -> `addbook`."""
    return re.sub(r"[-_.\s]", "", name).lower()


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment)."""
    if a == b:
        return 0
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _allowed(a: str, b: str) -> int:
    """The edit distance two names may be apart: none under 4 characters, 1 from 4, 2 from 9."""
    shortest = min(len(a), len(b))
    return 0 if shortest < 4 else 1 if shortest < 9 else 2


def close_candidates(name: str, candidates: Iterable[str]) -> list[str]:
    """The names among `candidates` close to `name`: those equal to it up to case and
    separators when there are any, else those a small edit away (sorted, `name` itself never)."""
    pool = sorted({c for c in candidates if c and c != name})
    wanted = normal_name(name)
    if not wanted:
        return []
    same = [c for c in pool if normal_name(c) == wanted]
    if same:
        return same
    return [c for c in pool if normal_name(c) and _distance(normal_name(c), wanted) <= _allowed(normal_name(c), wanted)]


@dataclass
class Choice:
    """A reference's candidates and, when exactly one is close, the chosen one and its rule."""

    candidates: list[str]
    chosen: str | None = None
    rule: str = ""


def choose(name: str, candidates: Iterable[str], *, rule: str = "") -> Choice:
    """The one close candidate of `name`, if there is exactly one (named by `rule`, else by how
    close it is)."""
    close = close_candidates(name, candidates)
    if len(close) != 1:
        return Choice(close)
    picked = close[0]
    how = rule or ("case/separators" if normal_name(picked) == normal_name(name) else "edit distance")
    return Choice(close, picked, how)


# --------------------------------------------------------------------------- edits and rules


@dataclass
class Edit:
    """One token of a file replaced: `content[start:end]` becomes `text` (`old` -> `new` is how
    the report shows it)."""

    path: str
    start: int
    end: int
    text: str
    old: str
    new: str
    reference: str
    rule: str


class ProjectView:
    """What exists for a near miss of the `holder` module: the other modules' interfaces, the
    holder's own (`own`, of the files its references were checked on) and the index of both."""

    def __init__(self, holder: str, own: dict[str, Any], interfaces: dict[str, dict[str, Any]]) -> None:
        self.holder = holder
        self.interfaces = {m: i for m, i in interfaces.items() if m != holder}
        self.own = own
        self.index = ReferenceIndex(self.interfaces)
        for entry in self.own["files"]:
            self.index.add(holder, entry)

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """The interfaces of the project's files of one kind."""
        return [e for _, e in self.index.paths.values() if e.get("kind") == kind]

    def entry(self, path: str | None) -> dict[str, Any]:
        """The interface of the file at `path` ({} when there is none)."""
        return self.index.paths.get(path or "", (None, {}))[1]

    def python_names(self) -> list[str]:
        return sorted(self.index.python)

    def module_files(self, module_id: str, kind: str) -> list[dict[str, Any]]:
        """The interfaces of one module's files of one kind."""
        face = self.own if module_id == self.holder else self.interfaces.get(module_id) or {}
        return [e for e in face.get("files") or [] if e.get("kind") == kind]


@dataclass
class Miss:
    """One broken reference a rule looks at: its record, the text of the file that makes it, the
    project, and the module's other broken references (a rule may need to see them together)."""

    reference: Reference
    content: str
    project: ProjectView
    others: list[Reference] = field(default_factory=list)

    def edits(self, choice: Choice, old: str, spans: Iterable[tuple[int, int]], text: str = "") -> list[Edit]:
        """Edits writing the chosen name (or `text`) over each span of `old`."""
        assert choice.chosen is not None
        new = choice.chosen
        path, reference = self.reference.path, self.reference.reference
        return [Edit(path, s, e, text or new, old, new, reference, choice.rule) for s, e in spans]


@dataclass(frozen=True)
class NearMissRule:
    """One entry of a language's near-miss table: the kind of reference it repairs, where its
    candidates come from (`choose`: the choice, with one chosen name or none), and what to edit
    for a chosen name (`edit`: the edits; none when the token cannot be found)."""

    kind: str
    choose: Callable[[Miss], Choice]
    edit: Callable[[Miss, Choice], list[Edit]]


def rule_table(*rules: NearMissRule) -> dict[str, NearMissRule]:
    """A language's rules by the kind of reference each repairs."""
    return {rule.kind: rule for rule in rules}
