"""The web near-miss rules: a broken script, page or stylesheet reference one close name away
from one that exists, edited in place (the table `RULES`, by the kind of reference):

- an element id a script looks up -> a close id a page defines or a script sets;
- a script `src`, a stylesheet `href` or a script's import of a file the project has under
  another path (the same file name), or a close file name -> its path from the referencing file;
- a function an inline handler calls -> a close global the scripts define;
- a name imported from a project script -> a close name it exports (`right as wrong`).

Also without a failing reference (the reference checks do not judge them, `selector_edits`): a
CSS selector and a script's `querySelector('.x')` naming a class or id no page, no script
defines, with exactly one close one that is defined.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any, Protocol

from ..nearmiss import Choice, Edit, Miss, NearMissRule, choose, rule_table
from ..references import resolve_path
from .css import CSS_COMMENT
from .references import (
    ELEMENT_ID,
    HANDLER,
    SCRIPT,
    SCRIPT_IMPORT,
    SCRIPT_IMPORT_NAME,
    STYLESHEET,
)
from .source import id_lookups

__all__ = ["RULES", "selector_edits", "judges_selectors", "names_selectors"]

_WEB = (".html", ".htm", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")


def names_selectors(path: str) -> bool:
    """Whether a file can name class or id selectors (a style sheet, a page, a script)."""
    return path.lower().endswith((".css", *_WEB))


class _File(Protocol):
    """A project file as the selector repairs read it."""

    path: str
    content: str


# --------------------------------------------------------------------------- files that miss


def _relative(source: str, target: str, *, dot: bool) -> str:
    rel = posixpath.relpath(target, posixpath.dirname(source) or ".")
    return f"./{rel}" if dot and not rel.startswith(".") else rel


def _file_choice(source: str, spec: str, paths: list[str], *, dot: bool) -> Choice:
    """The file a link or import that misses stands for: the one with its file name elsewhere,
    else the one with a close file name; as a path from `source`."""
    target = resolve_path(source, spec)
    name = PurePosixPath(target).name
    stem = PurePosixPath(target).stem if PurePosixPath(target).suffix else name
    same = [p for p in paths if PurePosixPath(p).name == name or PurePosixPath(p).stem == stem]
    if len(same) == 1:
        found, rule = same[0], "same file under another path"
    elif same:
        return Choice(sorted(same))
    else:
        stems = {PurePosixPath(p).stem: p for p in paths}
        choice = choose(stem, stems)
        if choice.chosen is None:
            return Choice([stems[s] for s in choice.candidates])
        found, rule = stems[choice.chosen], "close file name"
    new = _relative(source, found, dot=dot)
    if not PurePosixPath(spec).suffix and new.endswith((".js", ".mjs")):
        new = new.rsplit(".", 1)[0]
    return Choice([new], new, rule)


def _quoted(content: str, pattern: str, old: str) -> list[tuple[int, int]]:
    """The spans of `old` inside quotes after `pattern` (a regex ending where the quote starts)."""
    regex = re.compile(rf"({pattern})(['\"`]){re.escape(old)}\2")
    return [
        (m.start(0) + len(m.group(1)) + 1, m.start(0) + len(m.group(1)) + 1 + len(old)) for m in regex.finditer(content)
    ]


def _link_choice(miss: Miss) -> Choice:
    """A page's script or stylesheet: a project file of that kind."""
    ref = miss.reference
    wanted = "javascript" if ref.kind == SCRIPT else "css"
    return _file_choice(ref.path, ref.name, [e["path"] for e in miss.project.entries(wanted)], dot=False)


def _link_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """The quoted `src` / `href` value."""
    ref = miss.reference
    attribute = r"\bsrc\s*=\s*" if ref.kind == SCRIPT else r"\bhref\s*=\s*"
    return miss.edits(choice, ref.name, _quoted(miss.content, attribute, ref.name))


def _import_choice(miss: Miss) -> Choice:
    """A script's import of a file that is not there: a project script."""
    ref = miss.reference
    return _file_choice(ref.path, ref.name, [e["path"] for e in miss.project.entries("javascript")], dot=True)


def _import_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """The quoted specifier of `from '...'`, `require('...')`, `import('...')`."""
    spec, content = miss.reference.name, miss.content
    spans = _quoted(content, r"\bfrom\s*", spec) + _quoted(content, r"\brequire\(\s*", spec)
    spans += _quoted(content, r"\bimport\s*\(?\s*", spec)
    return miss.edits(choice, spec, sorted(set(spans)))


# --------------------------------------------------------------------------- names that miss


def _id_choice(miss: Miss) -> Choice:
    """An element id: one a page defines or a script sets."""
    index = miss.project.index
    return choose(miss.reference.name, set(index.html_ids) | index.js_ids_set)


def _id_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """Each lookup of the id (`getElementById('x')`, `querySelector('#x')`, `$('#x')`)."""
    name = miss.reference.name
    return miss.edits(choice, name, [(start, end) for found, start, end in id_lookups(miss.content) if found == name])


def _handler_choice(miss: Miss) -> Choice:
    """A function a handler calls: a global the scripts define."""
    return choose(miss.reference.name, miss.project.index.js_globals)


def _handler_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """Each call of the name inside an inline handler attribute."""
    name, spans = miss.reference.name, []
    for handler in re.finditer(r"""\bon\w+\s*=\s*(["'])(.*?)\1""", miss.content, re.S):
        for call in re.finditer(rf"(?<![\w$.]){re.escape(name)}(?=\s*\()", handler.group(2)):
            spans.append((handler.start(2) + call.start(), handler.start(2) + call.end()))
    return miss.edits(choice, name, spans)


def _imported_name_choice(miss: Miss) -> Choice:
    """A name imported from a project script: one the script exports (`default` is left)."""
    ref = miss.reference
    if ref.name == "default" or not re.fullmatch(r"[\w$]+", ref.name) or ref.found_in is None:
        return Choice([])
    return choose(ref.name, miss.project.entry(ref.found_in).get("exports") or [])


def _imported_name_edit(miss: Miss, choice: Choice) -> list[Edit]:
    """The bare name in `import { wrong } from '...'` -> `right as wrong`, in
    `const { wrong } = require('...')` -> `right: wrong`."""
    name, quoted = miss.reference.name, re.escape(miss.reference.source)
    clauses = (
        (re.compile(rf"\bimport\s*(?:[\w$]+\s*,\s*)?\{{([^}}]*)\}}\s*from\s*(['\"]){quoted}\2"), " as "),
        (re.compile(rf"\{{([^}}]*)\}}\s*=\s*require\(\s*(['\"]){quoted}\2\s*\)"), ": "),
    )
    edits: list[Edit] = []
    for clause, joint in clauses:
        spans = []
        for m in clause.finditer(miss.content):
            for part in re.finditer(r"[^,]+", m.group(1)):
                if part.group(0).strip() == name:  # not `a as b`, `a: b`
                    start = m.start(1) + part.start() + part.group(0).index(name)
                    spans.append((start, start + len(name)))
        edits += miss.edits(choice, name, spans, f"{choice.chosen}{joint}{name}")
    return edits


RULES = rule_table(
    NearMissRule(ELEMENT_ID, _id_choice, _id_edit),
    NearMissRule(SCRIPT, _link_choice, _link_edit),
    NearMissRule(STYLESHEET, _link_choice, _link_edit),
    NearMissRule(HANDLER, _handler_choice, _handler_edit),
    NearMissRule(SCRIPT_IMPORT, _import_choice, _import_edit),
    NearMissRule(SCRIPT_IMPORT_NAME, _imported_name_choice, _imported_name_edit),
)
"""The web near-miss rules, by the kind of reference each repairs."""


# --------------------------------------------------------------------------- classes and CSS selectors

_CLASS_ATTRIBUTE = re.compile(r"""\bclass(?:Name)?\s*=\s*\\?["'`]([^"'`\\]*)""")
_CLASS_LIST = re.compile(r"""classList\.(?:add|toggle|replace)\(([^)]*)\)""")
_STRING = re.compile(r"""(["'`])((?:\\.|(?!\1).)*?)\1""", re.S)
_ID_ATTRIBUTE = re.compile(r"""\bid\s*=\s*\\?["']([^"'\\]+)""")
_SELECTOR_CALL = re.compile(r"""\b(?:querySelector(?:All)?|closest|matches)\(\s*(["'`])([^"'`$]+)\1\s*\)""")
_CLASS_CALL = re.compile(r"""\bgetElementsByClassName\(\s*(["'`])([\w-]+)\1\s*\)""")


def _external_scripts(files: Iterable[_File]) -> bool:
    return any(
        re.search(r"""<script[^>]*\bsrc\s*=\s*["'](?:https?:)?//""", f.content, re.I)
        for f in files
        if f.path.endswith((".html", ".htm"))
    )


def judges_selectors(holder: str, interfaces: dict[str, dict[str, Any]], pending: list[str]) -> bool:
    """Whether the holder's files are all the pages and scripts there are (no other module has,
    or plans, one): only then may its selectors be judged without the others' files."""
    return not (
        any(p.endswith(_WEB) for p in pending)
        or any(
            str(e.get("path", "")).endswith(_WEB)
            for m, face in interfaces.items()
            if m != holder
            for e in face.get("files") or []
        )
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

    def __init__(self, files: Iterable[_File]) -> None:
        self.classes: set[str] = set()
        self.ids: set[str] = set()
        self.quoted: set[str] = set()
        for f in files:
            if f.path.endswith(_WEB):
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


def _selectors(file: _File) -> list[tuple[str, str, int]]:
    """The class and id selectors a stylesheet names (outside at-rules), or the class selectors
    a script looks up."""
    found: list[tuple[str, str, int]] = []
    if file.path.endswith(".css"):
        text = CSS_COMMENT.sub(lambda m: " " * len(m.group(0)), file.content)
        for match in re.finditer(r"([^{};]+)\{", text):
            if not match.group(1).strip().startswith("@"):
                found += list(_selector_tokens(match.group(1), match.start(1)))
        return found
    for match in _SELECTOR_CALL.finditer(file.content):
        found += [t for t in _selector_tokens(match.group(2), match.start(2)) if t[0] == "."]
    for match in _CLASS_CALL.finditer(file.content):
        found.append((".", match.group(2), match.start(2)))
    return found


def _file_selector_edits(file: _File, markup: _Markup) -> tuple[list[Edit], dict[str, list[str]]]:
    """Edits of the class / id selectors one file names that nothing defines, one close defined
    name away; and the several candidates of those left."""
    edits: list[Edit] = []
    left: dict[str, list[str]] = {}
    for sigil, name, start in _selectors(file):
        if not markup.defined(sigil) or markup.known(sigil, name):
            continue
        what = "class" if sigil == "." else "id"
        choice = choose(name, markup.defined(sigil))
        reference = f"{what} selector {sigil}{name}"
        if choice.chosen is None:
            if len(choice.candidates) > 1:
                left[reference] = choice.candidates
            continue
        edits.append(
            Edit(file.path, start, start + len(name), choice.chosen, name, choice.chosen, reference, choice.rule)
        )
    return edits, left


def selector_edits(
    files: Sequence[_File], others: Sequence[_File], valid: set[str]
) -> tuple[list[Edit], dict[tuple[str, str], list[str]]]:
    """The selector repairs of the holder's `files` (those in `valid`), the classes and ids
    looked up in them and the `others` (none when a page loads a script from elsewhere: it may
    define any); and the candidates of those left, by (path, reference)."""
    every = [*files, *others]
    if _external_scripts(every):
        return [], {}
    markup = _Markup(every)
    edits: list[Edit] = []
    candidates: dict[tuple[str, str], list[str]] = {}
    for f in files:
        if f.path in valid and names_selectors(f.path):
            found, left = _file_selector_edits(f, markup)
            edits += found
            candidates.update({(f.path, r): c for r, c in left.items()})
    return edits, candidates
