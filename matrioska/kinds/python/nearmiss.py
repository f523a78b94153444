"""The Python near-miss rules: a broken Python reference one close name away from one that
exists, edited in place (the table `RULES`, by the kind of reference):

- `import x.py` -> `import x`; a module id, or a planned file's path, used as an import -> that
  file's import name; else a close module name (`import x` / `from x import ...`);
- `from x import name` and `module.name` -> a close public name of the file looked in (an
  imported name becomes `right as wrong`, so the code that uses it stays as it is);
- `from wrong import name`, the name another module's -> that module, when every name of the
  statement is that module's.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath
from typing import Any

from ..nearmiss import Choice, Edit, Miss, NearMissRule, ProjectView, choose, normal_name, rule_table
from ..references import Reference
from .references import (
    ATTRIBUTE,
    FROM_MODULE,
    FROM_NAME,
    IMPORT,
    MISPLACED,
    entry_import_name,
)

__all__ = ["RULES"]

_DOTTED = re.compile(r"[\w.]+")
_WORD = re.compile(r"\w+")


def _dotted(text: str | None) -> bool:
    """Whether `text` is spelt as a (dotted) module name: the only ones the rules edit."""
    return bool(text) and _DOTTED.fullmatch(text or "") is not None


def _word(text: str | None) -> bool:
    return bool(text) and _WORD.fullmatch(text or "") is not None


def _public(entry: dict[str, Any]) -> list[str]:
    """A file's public functions, classes and constants: the names an import of it may mean."""
    return [
        *(f["name"] for f in entry.get("functions") or []),
        *(c["name"] for c in entry.get("classes") or []),
        *(entry.get("constants") or []),
    ]


# --------------------------------------------------------------------------- the file edited


def _offsets(content: str) -> list[int]:
    starts = [0]
    for match in re.finditer("\n", content):
        starts.append(match.end())
    return starts


def _char_offset(content: str, starts: list[int], lineno: int, col_bytes: int) -> int:
    """ast's (line, UTF-8 byte column) as an index into `content`."""
    start = starts[lineno - 1]
    line = content[start : starts[lineno] if lineno < len(starts) else len(content)]
    return start + len(line.encode("utf-8")[:col_bytes].decode("utf-8", "ignore"))


class _PythonFile:
    """A Python file's text and tree, and where its nodes are written."""

    def __init__(self, content: str) -> None:
        self.content = content
        self.starts = _offsets(content)
        try:
            self.tree: ast.AST | None = ast.parse(content)
        except (SyntaxError, ValueError):
            self.tree = None

    def nodes(self, kind: type, line: int) -> list[Any]:
        """The nodes of one type that start on `line`."""
        if self.tree is None:
            return []
        return [n for n in ast.walk(self.tree) if isinstance(n, kind) and getattr(n, "lineno", None) == line]

    def at(self, node: Any, end: bool = False) -> int:
        if end:
            return _char_offset(self.content, self.starts, node.end_lineno, node.end_col_offset)
        return _char_offset(self.content, self.starts, node.lineno, node.col_offset)

    def module_span(self, node: ast.ImportFrom) -> tuple[int, int] | None:
        """Where the module name of `from X import ...` is written."""
        start = self.at(node)
        match = re.compile(r"from\s+([\w.]+)\s+import\b").match(self.content, start)
        return match.span(1) if match and match.group(1) == node.module else None

    def alias_start(self, alias: ast.alias, name: str) -> int | None:
        """Where an imported name is written (None when the tree does not say, or it differs)."""
        if alias.name != name or not hasattr(alias, "end_col_offset"):
            return None
        start = self.at(alias)
        return start if self.content[start : start + len(name)] == name else None


# --------------------------------------------------------------------------- where candidates come from


def _module_choice(name: str, project: ProjectView) -> Choice:
    """The module a wrong import name stands for."""
    names = project.python_names()
    if name.endswith(".py") and name[:-3] in names:
        return Choice([name[:-3]], name[:-3], ".py suffix in an import")
    bare = name[:-3] if name.endswith(".py") else name
    owned = project.module_files(bare, "python")
    if bare != project.holder and len(owned) == 1:
        return Choice([entry_import_name(owned[0])], entry_import_name(owned[0]), "module id used as an import")
    by_path = sorted(
        {
            entry_import_name(e)
            for e in project.entries("python")
            if normal_name(str(PurePosixPath(e["path"]).with_suffix(""))) == normal_name(bare)
            or PurePosixPath(e["path"]).stem == bare.split(".")[-1]
        }
    )
    if len(by_path) == 1:
        return Choice(by_path, by_path[0], "planned file used as an import")
    return choose(bare, names)


def _module_name_choice(miss: Miss) -> Choice:
    """`import x` / `from x import ...` of a module the project lacks."""
    name = miss.reference.name
    return _module_choice(name, miss.project) if _dotted(name) else Choice([])


def _imported_name_choice(miss: Miss) -> Choice:
    """`from x import name` / `module.name`: a close public name of the file looked in."""
    ref = miss.reference
    if not (_dotted(ref.source) if ref.kind == FROM_NAME else _word(ref.source)) or not _word(ref.name):
        return Choice([])
    return choose(ref.name, _public(miss.project.entry(ref.found_in)))


def _misplaced(ref: Reference) -> bool:
    """A misplaced import the rule can edit (its names spelt as Python names)."""
    return ref.kind == MISPLACED and _word(ref.name) and _dotted(ref.source)


def _misplaced_choice(miss: Miss) -> Choice:
    """`from X import name` where X does not exist and `right` defines the name: X must be the
    owner's module id, its file's path, or a near miss of `right`."""
    ref = miss.reference
    module, right, owner = ref.source, ref.right, ref.target or ""
    if not _misplaced(ref) or not _dotted(right) or module == ref.name:
        return Choice([])
    assert right is not None
    bare = module[:-3] if module.endswith(".py") else module
    if bare in (owner,) or normal_name(bare) == normal_name(owner):
        return Choice([right], right, "module id used as an import")
    paths = [e["path"] for e in miss.project.module_files(owner, "python") if entry_import_name(e) == right]
    if any(normal_name(str(PurePosixPath(p).with_suffix(""))) == normal_name(bare) for p in paths) or (
        bare.split(".")[-1] == right.split(".")[-1]
    ):
        return Choice([right], right, "planned file used as an import")
    if module.endswith(".py") and bare == right:
        return Choice([right], right, ".py suffix in an import")
    return choose(bare, [right])


# --------------------------------------------------------------------------- what to edit


def _import_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """`import wrong` -> `import right` (`import right as wrong` where the code says `wrong.`)."""
    ref, chosen = miss.reference, str(choice.chosen)
    name = ref.name
    source = _PythonFile(miss.content)
    for node in source.nodes(ast.Import, ref.line or 0):
        for alias in node.names:
            start = source.alias_start(alias, name)
            if start is None:
                continue
            new = chosen
            if alias.asname is None and new.split(".")[0] != name.split(".")[0]:
                if "." in name:
                    return []  # `a.b` used in the code as `a.b`: not one token
                new = f"{new} as {name}"
            return miss.edits(choice, name, [(start, start + len(name))], new)
    return []


def _from_module_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """`from wrong import ...` -> `from right import ...`."""
    ref = miss.reference
    source = _PythonFile(miss.content)
    for node in source.nodes(ast.ImportFrom, ref.line or 0):
        span = source.module_span(node) if node.module == ref.name and not node.level else None
        if span:
            return miss.edits(choice, ref.name, [span])
    return []


def _from_name_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """`from x import wrong` -> `from x import right as wrong`."""
    ref, name = miss.reference, miss.reference.name
    source = _PythonFile(miss.content)
    for node in source.nodes(ast.ImportFrom, ref.line or 0):
        for alias in node.names:
            start = source.alias_start(alias, name)
            if start is not None:
                text = str(choice.chosen) if alias.asname else f"{choice.chosen} as {name}"
                return miss.edits(choice, name, [(start, start + len(name))], text)
    return []


def _misplaced_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """`from wrong import a, b` -> `from right import a, b`, when every name of the statement is
    one the module `right` defines."""
    ref = miss.reference
    module, target = ref.source, str(ref.right)
    here = [r for r in miss.others if r.where == ref.where and _misplaced(r)]
    named = {r.name for r in here}
    source = _PythonFile(miss.content)
    for node in source.nodes(ast.ImportFrom, ref.line or 0):
        if node.module != module or node.level:
            continue
        wanted = {a.name for a in node.names}
        rights = {r.right for r in here if r.source == module and r.name in wanted and _dotted(r.right)}
        span = source.module_span(node)
        if rights == {target} and wanted <= named and span:
            return [Edit(ref.path, *span, target, module, target, ref.reference, choice.rule)]
    return []


def _attribute_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """Every `module.wrong` -> `module.right` of the file."""
    ref, name = miss.reference, miss.reference.name
    source = _PythonFile(miss.content)
    if source.tree is None:
        return []
    spans = []
    for node in ast.walk(source.tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            continue
        if node.value.id == ref.source and node.attr == name:
            end = source.at(node, end=True)
            if miss.content[end - len(name) : end] == name:
                spans.append((end - len(name), end))
    return miss.edits(choice, name, spans)


RULES = rule_table(
    NearMissRule(IMPORT, _module_name_choice, _import_edit),
    NearMissRule(FROM_MODULE, _module_name_choice, _from_module_edit),
    NearMissRule(FROM_NAME, _imported_name_choice, _from_name_edit),
    NearMissRule(MISPLACED, _misplaced_choice, _misplaced_edit),
    NearMissRule(ATTRIBUTE, _imported_name_choice, _attribute_edit),
)
"""The Python near-miss rules, by the kind of reference each repairs."""
