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

Python, JavaScript, HTML ids / handlers / links, CSS selectors. Nothing here calls a model.
"""

from __future__ import annotations

import ast
import functools
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from matrioska.checking.interfaces import ReferenceIndex, check_references, module_interface, resolve_path
from matrioska.generation.project import ProjectFile
from matrioska.kinds.python import import_name
from matrioska.kinds.web.css import CSS_COMMENT
from matrioska.kinds.web.javascript import id_lookups

__all__ = ["NearMisses", "apply_near_misses", "candidates_note", "close_candidates", "describe_edit"]


# --------------------------------------------------------------------------- closeness


def _normal(name: str) -> str:
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
    shortest = min(len(a), len(b))
    return 0 if shortest < 4 else 1 if shortest < 9 else 2


def close_candidates(name: str, candidates: Iterable[str]) -> list[str]:
    """The names among `candidates` close to `name`: those equal to it up to case and
    separators when there are any, else those a small edit away (sorted, `name` itself never)."""
    pool = sorted({c for c in candidates if c and c != name})
    wanted = _normal(name)
    if not wanted:
        return []
    same = [c for c in pool if _normal(c) == wanted]
    if same:
        return same
    return [c for c in pool if _normal(c) and _distance(_normal(c), wanted) <= _allowed(_normal(c), wanted)]


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
    """`app.js:12 'add-book' -> 'addBook'`."""
    return f"{edit['path']}:{edit['line']} {edit['old']!r} -> {edit['new']!r}"


@dataclass
class _Edit:
    path: str
    start: int
    end: int
    text: str  # what replaces content[start:end]
    old: str
    new: str
    reference: str
    rule: str


@dataclass
class _Choice:
    """A reference's candidates and, when exactly one is close, the chosen one and its rule."""

    candidates: list[str]
    chosen: str | None = None
    rule: str = ""


def _choose(name: str, candidates: Iterable[str], *, rule: str = "") -> _Choice:
    close = close_candidates(name, candidates)
    if len(close) != 1:
        return _Choice(close)
    picked = close[0]
    how = rule or ("case/separators" if _normal(picked) == _normal(name) else "edit distance")
    return _Choice(close, picked, how)


# --------------------------------------------------------------------------- the project seen


class _Project:
    """What exists: the other modules' interfaces and the holder's own files."""

    def __init__(
        self, holder: str, files: list[ProjectFile], interfaces: dict[str, dict[str, Any]], valid: set[str]
    ) -> None:
        self.holder = holder
        self.interfaces = {m: i for m, i in interfaces.items() if m != holder}
        self.own = module_interface(holder, [f for f in files if f.path in valid])
        self.index = ReferenceIndex(self.interfaces)
        for entry in self.own["files"]:
            self.index.add(holder, entry)

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.index.paths.values() if e.get("kind") == kind]

    def python_names(self) -> list[str]:
        return sorted(self.index.python)

    def module_files(self, module_id: str, kind: str) -> list[dict[str, Any]]:
        face = self.own if module_id == self.holder else self.interfaces.get(module_id) or {}
        return [e for e in face.get("files") or [] if e.get("kind") == kind]


def _public(entry: dict[str, Any]) -> list[str]:
    return [
        *(f["name"] for f in entry.get("functions") or []),
        *(c["name"] for c in entry.get("classes") or []),
        *(entry.get("constants") or []),
    ]


def _import_name(entry: dict[str, Any]) -> str:
    """A Python file's import name, from its interface entry (`kinds.python.import_name`)."""
    return import_name(entry["path"]) or entry["path"]


# --------------------------------------------------------------------------- positions


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


def _line_of(content: str, index: int) -> int:
    return content.count("\n", 0, index) + 1


# --------------------------------------------------------------------------- Python references


_PY_IMPORT = re.compile(r"^`import ([\w.]+)`$")
_PY_FROM_MODULE = re.compile(r"^`from ([\w.]+) import \.\.\.`$")
_PY_FROM_NAME = re.compile(r"^`from ([\w.]+) import (\w+)`$")
_PY_ATTRIBUTE = re.compile(r"^`(\w+)\.(\w+)`$")
_PY_MISPLACED = re.compile(r"^`(\w+)` from ('[\w.]+')$")
_PROBLEM_PATH = re.compile(r"^(.+?) \(module [^)]*\) has no ")
_RIGHT_IMPORT = re.compile(r"`from ([\w.]+) import \w+`")


def _python_module_choice(name: str, project: _Project) -> _Choice:
    """The module a wrong import name stands for."""
    names = project.python_names()
    if name.endswith(".py") and name[:-3] in names:
        return _Choice([name[:-3]], name[:-3], ".py suffix in an import")
    bare = name[:-3] if name.endswith(".py") else name
    owned = project.module_files(bare, "python")
    if bare != project.holder and len(owned) == 1:
        return _Choice([_import_name(owned[0])], _import_name(owned[0]), "module id used as an import")
    by_path = sorted(
        {
            _import_name(e)
            for e in project.entries("python")
            if _normal(str(PurePosixPath(e["path"]).with_suffix(""))) == _normal(bare)
            or PurePosixPath(e["path"]).stem == bare.split(".")[-1]
        }
    )
    if len(by_path) == 1:
        return _Choice(by_path, by_path[0], "planned file used as an import")
    return _choose(bare, names)


class _PythonFile:
    def __init__(self, content: str) -> None:
        self.content = content
        self.starts = _offsets(content)
        try:
            self.tree: ast.AST | None = ast.parse(content)
        except (SyntaxError, ValueError):
            self.tree = None

    def nodes(self, kind: type, line: int) -> list[Any]:
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


def _python_edits(
    path: str, content: str, row: dict[str, Any], line: int, project: _Project, rows: list[dict[str, Any]]
) -> tuple[_Choice, list[_Edit]]:
    reference = str(row.get("reference") or "")
    source = _PythonFile(content)
    if match := _PY_IMPORT.match(reference):
        name = match.group(1)
        choice = _python_module_choice(name, project)
        if choice.chosen is None:
            return choice, []
        for node in source.nodes(ast.Import, line):
            for alias in node.names:
                if alias.name != name or not hasattr(alias, "end_col_offset"):
                    continue
                start = source.at(alias)
                end = start + len(name)
                if content[start:end] != name:
                    continue
                new = choice.chosen
                if alias.asname is None and new.split(".")[0] != name.split(".")[0]:
                    if "." in name:
                        return choice, []  # `a.b` used in the code as `a.b`: not one token
                    new = f"{new} as {name}"
                return choice, [_Edit(path, start, end, new, name, choice.chosen, reference, choice.rule)]
        return choice, []
    if match := _PY_FROM_MODULE.match(reference):
        name = match.group(1)
        choice = _python_module_choice(name, project)
        if choice.chosen is None:
            return choice, []
        for node in source.nodes(ast.ImportFrom, line):
            span = source.module_span(node) if node.module == name and not node.level else None
            if span:
                return choice, [_Edit(path, *span, choice.chosen, name, choice.chosen, reference, choice.rule)]
        return choice, []
    if match := _PY_FROM_NAME.match(reference):
        module, name = match.groups()
        found = _PROBLEM_PATH.match(str(row.get("problem") or ""))
        entry = project.index.paths.get(found.group(1), (None, {}))[1] if found else {}
        choice = _choose(name, _public(entry))
        if choice.chosen is None:
            return choice, []
        for node in source.nodes(ast.ImportFrom, line):
            for alias in node.names:
                if alias.name != name or not hasattr(alias, "end_col_offset"):
                    continue
                start = source.at(alias)
                if content[start : start + len(name)] != name:
                    continue
                text = choice.chosen if alias.asname else f"{choice.chosen} as {name}"
                return choice, [
                    _Edit(path, start, start + len(name), text, name, choice.chosen, reference, choice.rule)
                ]
        return choice, []
    if match := _PY_MISPLACED.match(reference):
        name, module = match.group(1), ast.literal_eval(match.group(2))
        right = _RIGHT_IMPORT.search(str(row.get("problem") or ""))
        if right is None or module == name:
            return _Choice([]), []
        target = right.group(1)
        choice = _misplaced_choice(module, target, str(row.get("target") or ""), project)
        if choice.chosen is None:
            return choice, []
        for node in source.nodes(ast.ImportFrom, line):
            if node.module != module or node.level:
                continue
            # every name of the statement must come from that one module
            wanted = {a.name for a in node.names}
            rights = {
                m.group(1)
                for r in rows
                if str(r.get("where")) == str(row.get("where"))
                and (n := _PY_MISPLACED.match(str(r.get("reference") or "")))
                and ast.literal_eval(n.group(2)) == module
                and n.group(1) in wanted
                and (m := _RIGHT_IMPORT.search(str(r.get("problem") or "")))
            }
            named = {
                n.group(1)
                for r in rows
                if str(r.get("where")) == str(row.get("where"))
                and (n := _PY_MISPLACED.match(str(r.get("reference") or "")))
            }
            span = source.module_span(node)
            if rights == {target} and wanted <= named and span:
                return choice, [_Edit(path, *span, target, module, target, reference, choice.rule)]
        return choice, []
    if match := _PY_ATTRIBUTE.match(reference):
        local, name = match.groups()
        found = _PROBLEM_PATH.match(str(row.get("problem") or ""))
        entry = project.index.paths.get(found.group(1), (None, {}))[1] if found else {}
        choice = _choose(name, _public(entry))
        if choice.chosen is None or source.tree is None:
            return choice, []
        edits = []
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == local:
                if node.attr != name:
                    continue
                end = source.at(node, end=True)
                if content[end - len(name) : end] == name:
                    edits.append(
                        _Edit(path, end - len(name), end, choice.chosen, name, choice.chosen, reference, choice.rule)
                    )
        return choice, edits
    return _Choice([]), []


def _misplaced_choice(module: str, right: str, owner: str, project: _Project) -> _Choice:
    """`from X import name` where X does not exist and `right` defines the name: X must be the
    owner's module id, its file's path, or a near miss of `right`."""
    bare = module[:-3] if module.endswith(".py") else module
    if bare in (owner,) or _normal(bare) == _normal(owner):
        return _Choice([right], right, "module id used as an import")
    paths = [e["path"] for e in project.module_files(owner, "python") if _import_name(e) == right]
    if any(_normal(str(PurePosixPath(p).with_suffix(""))) == _normal(bare) for p in paths) or (
        bare.split(".")[-1] == right.split(".")[-1]
    ):
        return _Choice([right], right, "planned file used as an import")
    if module.endswith(".py") and bare == right:
        return _Choice([right], right, ".py suffix in an import")
    return _choose(bare, [right])


# --------------------------------------------------------------------------- JavaScript / HTML

_JS_IMPORT_SPEC = re.compile(r"^import of ('.*'|\".*\")$")
_JS_IMPORT_NAME = re.compile(r"^import of ([\w$]+) from ('.*'|\".*\")$")
_ELEMENT_ID = re.compile(r"^element id ('.*'|\".*\")$")
_LINK = re.compile(r"^(script|stylesheet) ('.*'|\".*\")$")
_HANDLER = re.compile(r"^handler calls ([\w$]+)\(\)$")
_EXPORTS_OF = re.compile(r"^(.+?) \(module [^)]*\) does not export ")


def _literal(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return ""
    return value if isinstance(value, str) else ""


def _relative(source: str, target: str, *, dot: bool) -> str:
    rel = posixpath.relpath(target, posixpath.dirname(source) or ".")
    return f"./{rel}" if dot and not rel.startswith(".") else rel


def _file_choice(source: str, spec: str, paths: list[str], *, dot: bool) -> _Choice:
    """The file a link or import that misses stands for: the one with its file name elsewhere,
    else the one with a close file name; as a path from `source`."""
    target = resolve_path(source, spec)
    name = PurePosixPath(target).name
    stem = PurePosixPath(target).stem if PurePosixPath(target).suffix else name
    same = [p for p in paths if PurePosixPath(p).name == name or PurePosixPath(p).stem == stem]
    if len(same) == 1:
        found, rule = same[0], "same file under another path"
    elif same:
        return _Choice(sorted(same))
    else:
        stems = {PurePosixPath(p).stem: p for p in paths}
        choice = _choose(stem, stems)
        if choice.chosen is None:
            return _Choice([stems[s] for s in choice.candidates])
        found, rule = stems[choice.chosen], "close file name"
    new = _relative(source, found, dot=dot)
    if not PurePosixPath(spec).suffix and new.endswith((".js", ".mjs")):
        new = new.rsplit(".", 1)[0]
    return _Choice([new], new, rule)


def _quoted(content: str, pattern: str, old: str) -> list[tuple[int, int]]:
    """The spans of `old` inside quotes after `pattern` (a regex ending where the quote starts)."""
    regex = re.compile(rf"({pattern})(['\"`]){re.escape(old)}\2")
    return [
        (m.start(0) + len(m.group(1)) + 1, m.start(0) + len(m.group(1)) + 1 + len(old)) for m in regex.finditer(content)
    ]


def _web_edits(path: str, content: str, row: dict[str, Any], project: _Project) -> tuple[_Choice, list[_Edit]]:
    reference = str(row.get("reference") or "")
    problem = str(row.get("problem") or "")

    def edits(choice: _Choice, old: str, spans: list[tuple[int, int]], text: str | None = None) -> list[_Edit]:
        assert choice.chosen is not None
        new = choice.chosen
        return [_Edit(path, s, e, text or new, old, new, reference, choice.rule) for s, e in spans]

    if match := _ELEMENT_ID.match(reference):
        name = str(row.get("identifier") or _literal(match.group(1)))
        ids = set(project.index.html_ids) | project.index.js_ids_set
        choice = _choose(name, ids)
        if choice.chosen is None:
            return choice, []
        spans = [(start, end) for found, start, end in id_lookups(content) if found == name]
        return choice, edits(choice, name, spans)
    if match := _LINK.match(reference):
        kind, spec = match.group(1), _literal(match.group(2))
        wanted = "javascript" if kind == "script" else "css"
        choice = _file_choice(path, spec, [e["path"] for e in project.entries(wanted)], dot=False)
        if choice.chosen is None:
            return choice, []
        attribute = r"\bsrc\s*=\s*" if kind == "script" else r"\bhref\s*=\s*"
        return choice, edits(choice, spec, _quoted(content, attribute, spec))
    if match := _HANDLER.match(reference):
        name = match.group(1)
        choice = _choose(name, project.index.js_globals)
        if choice.chosen is None:
            return choice, []
        spans = []
        for handler in re.finditer(r"""\bon\w+\s*=\s*(["'])(.*?)\1""", content, re.S):
            for call in re.finditer(rf"(?<![\w$.]){re.escape(name)}(?=\s*\()", handler.group(2)):
                spans.append((handler.start(2) + call.start(), handler.start(2) + call.end()))
        return choice, edits(choice, name, spans)
    if match := _JS_IMPORT_SPEC.match(reference):
        spec = _literal(match.group(1))
        if not problem.startswith("no file"):
            return _Choice([]), []
        choice = _file_choice(path, spec, [e["path"] for e in project.entries("javascript")], dot=True)
        if choice.chosen is None:
            return choice, []
        spans = _quoted(content, r"\bfrom\s*", spec) + _quoted(content, r"\brequire\(\s*", spec)
        spans += _quoted(content, r"\bimport\s*\(?\s*", spec)
        return choice, edits(choice, spec, sorted(set(spans)))
    if match := _JS_IMPORT_NAME.match(reference):
        name, spec = match.group(1), _literal(match.group(2))
        found = _EXPORTS_OF.match(problem)
        if name == "default" or found is None:
            return _Choice([]), []
        entry = project.index.paths.get(found.group(1), (None, {}))[1]
        choice = _choose(name, entry.get("exports") or [])
        if choice.chosen is None:
            return choice, []
        quoted = re.escape(spec)
        named: list[_Edit] = []
        clauses = (
            (re.compile(rf"\bimport\s*(?:[\w$]+\s*,\s*)?\{{([^}}]*)\}}\s*from\s*(['\"]){quoted}\2"), " as "),
            (re.compile(rf"\{{([^}}]*)\}}\s*=\s*require\(\s*(['\"]){quoted}\2\s*\)"), ": "),
        )
        for clause, joint in clauses:
            for m in clause.finditer(content):
                offset = m.start(1)
                for part in re.finditer(r"[^,]+", m.group(1)):
                    if part.group(0).strip() != name:
                        continue  # `a as b`, `a: b`: not the bare name
                    start = offset + part.start() + part.group(0).index(name)
                    text = f"{choice.chosen}{joint}{name}"
                    named.append(
                        _Edit(path, start, start + len(name), text, name, choice.chosen, reference, choice.rule)
                    )
        return choice, named
    return _Choice([]), []


# --------------------------------------------------------------------------- classes and CSS selectors

_CLASS_ATTRIBUTE = re.compile(r"""\bclass(?:Name)?\s*=\s*\\?["'`]([^"'`\\]*)""")
_CLASS_LIST = re.compile(r"""classList\.(?:add|toggle|replace)\(([^)]*)\)""")
_STRING = re.compile(r"""(["'`])((?:\\.|(?!\1).)*?)\1""", re.S)
_ID_ATTRIBUTE = re.compile(r"""\bid\s*=\s*\\?["']([^"'\\]+)""")
_SELECTOR_CALL = re.compile(r"""\b(?:querySelector(?:All)?|closest|matches)\(\s*(["'`])([^"'`$]+)\1\s*\)""")
_CLASS_CALL = re.compile(r"""\bgetElementsByClassName\(\s*(["'`])([\w-]+)\1\s*\)""")


def _external_scripts(files: list[ProjectFile]) -> bool:
    return any(
        re.search(r"""<script[^>]*\bsrc\s*=\s*["'](?:https?:)?//""", f.content, re.I)
        for f in files
        if f.path.endswith((".html", ".htm"))
    )


@functools.lru_cache(maxsize=4096)
def _markup_of(path: str, content: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """One page's or script's classes, ids, and the words its scripts quote (kept: a project's
    files are read again for each module)."""
    classes: set[str] = set()
    quoted: set[str] = set()
    for match in _CLASS_ATTRIBUTE.finditer(content):
        classes.update(match.group(1).split())
    ids = set(_ID_ATTRIBUTE.findall(content))
    for match in _CLASS_LIST.finditer(content):
        classes.update(s for _, s in _STRING.findall(match.group(1)) if re.fullmatch(r"[\w-]+", s))
    scripts = (
        re.findall(r"<script[^>]*>(.*?)</script>", content, re.S | re.I)
        if path.endswith((".html", ".htm"))
        else [content]
    )
    for script in scripts:
        script = _CLASS_CALL.sub(" ", _SELECTOR_CALL.sub(" ", script))  # what a lookup names is no definition
        for _, text in _STRING.findall(script):
            quoted.update(re.findall(r"[\w-]+", text))
    return frozenset(classes), frozenset(ids), frozenset(quoted)


class _Markup:
    """The classes and ids the pages and scripts define, and every word their scripts quote."""

    def __init__(self, files: list[ProjectFile]) -> None:
        self.classes: set[str] = set()
        self.ids: set[str] = set()
        self.quoted: set[str] = set()
        for f in files:
            if f.path.endswith((".html", ".htm", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")):
                classes, ids, quoted = _markup_of(f.path, f.content)
                self.classes |= classes
                self.ids |= ids
                self.quoted |= quoted

    def defined(self, sigil: str) -> set[str]:
        return self.classes if sigil == "." else self.ids

    def known(self, sigil: str, name: str) -> bool:
        return name in self.defined(sigil) or name in self.quoted


def _selector_tokens(selector: str, base: int) -> Iterable[tuple[str, str, int]]:
    """(sigil, name, index of the name) for each `.class` / `#id` of a selector text."""
    clean = re.sub(r"""\[[^\]]*\]|(["']).*?\1""", lambda m: " " * len(m.group(0)), selector)
    for match in re.finditer(r"(?<![\w-])([.#])(-?[A-Za-z_][\w-]*)", clean):
        yield match.group(1), match.group(2), base + match.start(2)


def _selector_edits(file: ProjectFile, markup: _Markup) -> tuple[list[_Edit], dict[str, list[str]]]:
    """Edits of the class / id selectors a stylesheet or script names that nothing defines, one
    close defined name away; and the several candidates of those left."""
    content = file.content
    found: list[tuple[str, str, int]] = []
    if file.path.endswith(".css"):
        text = CSS_COMMENT.sub(lambda m: " " * len(m.group(0)), content)
        for match in re.finditer(r"([^{};]+)\{", text):
            if match.group(1).strip().startswith("@"):
                continue
            found += list(_selector_tokens(match.group(1), match.start(1)))
    else:
        for match in _SELECTOR_CALL.finditer(content):
            found += [t for t in _selector_tokens(match.group(2), match.start(2)) if t[0] == "."]
        for match in _CLASS_CALL.finditer(content):
            found.append((".", match.group(2), match.start(2)))
    edits: list[_Edit] = []
    left: dict[str, list[str]] = {}
    for sigil, name, start in found:
        if not markup.defined(sigil) or markup.known(sigil, name):
            continue
        what = "class" if sigil == "." else "id"
        choice = _choose(name, markup.defined(sigil))
        reference = f"{what} selector {sigil}{name}"
        if choice.chosen is None:
            if len(choice.candidates) > 1:
                left[reference] = choice.candidates
            continue
        edits.append(
            _Edit(file.path, start, start + len(name), choice.chosen, name, choice.chosen, reference, choice.rule)
        )
    return edits, left


# --------------------------------------------------------------------------- the entry point


def _other_web_files(holder: str, interfaces: dict[str, dict[str, Any]], pending: list[str]) -> bool:
    web = (".html", ".htm", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")
    return any(p.endswith(web) for p in pending) or any(
        str(e.get("path", "")).endswith(web)
        for m, face in interfaces.items()
        if m != holder
        for e in face.get("files") or []
    )


def _apply(files: list[ProjectFile], edits: list[_Edit], holder: str) -> tuple[list[ProjectFile], list[dict[str, Any]]]:
    by_path: dict[str, list[_Edit]] = {}
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


def _row_edits(
    row: dict[str, Any], files: dict[str, ProjectFile], project: _Project, rows: list[dict[str, Any]]
) -> tuple[_Choice, list[_Edit]]:
    where = str(row.get("where") or "")
    path, line = where, 0
    if where not in files and ":" in where:
        head, _, tail = where.rpartition(":")
        if tail.isdigit():
            path, line = head, int(tail)
    source = files.get(path)
    if source is None:
        return _Choice([]), []
    if path.endswith(".py"):
        return _python_edits(path, source.content, row, line, project, rows)
    return _web_edits(path, source.content, row, project)


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
    pending, made = list(pending_paths), list(generated)
    kept = list(before) if before is not None else None
    valid_paths = {f.path for f in (files if valid is None else valid)}
    others = [f for f in project or () if f.path not in {g.path for g in files}]
    selectors = project is not None or not _other_web_files(holder, interfaces, pending)
    result = NearMisses(list(files), rows=list(rows))
    for _ in range(max(1, rounds)):
        current = {f.path: f for f in result.files}
        view = _Project(holder, result.files, interfaces, valid_paths)
        edits: list[_Edit] = []
        result.candidates = {}
        for row in result.rows:
            if row.get("status") != "broken" or row.get("module", holder) != holder:
                continue
            choice, found = _row_edits(row, current, view, result.rows)
            if found:
                edits += found
            elif choice.candidates:
                result.candidates[(str(row.get("where")), str(row.get("reference")))] = choice.candidates
        if selectors and not _external_scripts([*result.files, *others]):
            markup = _Markup([*result.files, *others])
            for f in result.files:
                if f.path in valid_paths:
                    found, left = _selector_edits(f, markup)
                    edits += found
                    result.candidates.update({(f.path, r): c for r, c in left.items()})
        if not edits:
            break
        result.files, records = _apply(result.files, edits, holder)
        if not records:
            break
        result.edits += records
        result.rows = check_references(
            holder,
            [f for f in result.files if f.path in valid_paths],
            interfaces,
            pending_paths=pending,
            generated=made,
            before=kept,
        )
    return result
