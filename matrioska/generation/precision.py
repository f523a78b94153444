"""What a small model's reply already says, read without the model (issue 26).

- `update_in_code`: the update written inside a code file instead of after the marker, under
  any name (issue 32): a top-level assignment to a `shared_state*` name (any case:
  `shared_state_update`, `SHARED_STATE_ITEMS`) or to one of the module's declared keys
  (`api_functions = [...]`), holding a dict or list literal (JavaScript: `const/let/var NAME =`).
  It is removed from the file (a NameError at import, or a stray global) unless the code uses
  the name elsewhere (then the line stays); its value is used where it is a literal (a name
  stands for itself: `{"api": is_palindrome}` publishes "is_palindrome"): a dict under a
  `shared_state*` name is the update, a value under a declared key's name is that key's value.
- `prose_files`: a `.py` / `.js` / `.html` file that does not parse as its language and reads as
  sentences ("I am sorry, I cannot help with that.") is no file: taken out, a problem naming it.
- `derive_update`: a declared key the model left empty whose value the module's extracted
  interface answers (element ids, function names, CSS classes, commands), filled from it and
  reported as derived: never a reason to re-run the module.
- `json_as_code`: a code file whose whole content is JSON (the update written where the code
  belongs): a module problem naming it.
- `attempt_score` / `worse_reason`: an attempt's form and static state, so that a repair or
  fix-round reply that is worse than the module's current artifact is discarded. An attempt
  whose files parse beats one with a file that does not, whatever else they count; a tie goes
  to the newer attempt only when its files parse (`unparsed`).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import PurePosixPath
from typing import Any

from ..kinds.web.source import strip_comments
from ..plan.parsing import literal_end, loads_object
from .project import ProjectFile, identifier_kind

__all__ = [
    "update_in_code",
    "derive_update",
    "json_as_code",
    "parses",
    "reads_as_prose",
    "prose_files",
    "unparsed",
    "attempt_score",
    "worse_reason",
]

_UPDATE_NAME = "shared_state_update"
# `const/let/var NAME = {` or `[` (or `window.NAME =`); a declared key's only at the top level
_JS_ASSIGN = re.compile(
    r"^([ \t]*)(?:(?:export\s+)?(?:const|let|var)\s+|(?:window|globalThis)\.)?([A-Za-z_$][\w$]*)\s*=\s*(?=[{\[])",
    re.MULTILINE,
)


def _target(name: str, writes: list[str]) -> tuple[str, str] | None:
    """("update", name) for a `shared_state*` name (any case, `sharedState*` too), ("key", the
    declared key) for a declared key's name (any case), None for any other name."""
    if name.lower().replace("_", "").startswith("sharedstate"):
        return "update", name
    key = next((k for k in writes if k.lower() == name.lower()), None)
    return ("key", key) if key is not None else None


def _python_value(node: ast.expr) -> Any:
    """A literal's value; a name (or dotted name, or a call's callee) stands for itself."""
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, RecursionError):
        pass
    if isinstance(node, ast.Dict):
        return {
            _python_value(k): _python_value(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None
        }
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_python_value(e) for e in node.elts]
    if isinstance(node, ast.Call):
        return _python_value(node.func)
    try:
        return ast.unparse(node)
    except Exception:  # an odd node: nothing usable
        return None


def _used(name: str, texts: list[str]) -> bool:
    pattern = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
    return any(pattern.search(text) for text in texts)


class _Found:
    """What one file's update assignments gave: the file without those taken out, the values,
    the names taken out and those left in (the code uses them)."""

    def __init__(self, content: str) -> None:
        self.content = content
        self.values: dict[str, Any] = {}
        self.removed: dict[str, list[str]] = {}  # name -> the keys its value gave
        self.kept: dict[str, list[str]] = {}

    def add(self, role: tuple[str, str], value: Any, used: bool) -> None:
        kind, name = role
        if kind == "update":
            given = {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}
        else:
            given = {name: value}
        self.values.update(given)
        (self.kept if used else self.removed).setdefault(name, []).extend(given)


def _python_names(nodes: list[ast.AST]) -> set[str]:
    """The names some code uses (read, written, declared global, as an attribute or a string
    such as `__all__`'s)."""
    names: set[str] = set()
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)
    return names


def _kept(names: list[str], used: Any, uses_of: list[Any]) -> set[int]:
    """Which assignments stay (by index): those whose name the rest of the code uses, and those
    whose name an assignment that stays uses (`used(name, extra)`: whether `name` is used, by the
    rest of the code or by the values in `extra`)."""
    kept: set[int] = set()
    while True:
        extra = [uses_of[i] for i in kept]
        more = {i for i, name in enumerate(names) if i not in kept and used(name, extra)}
        if not more:
            return kept
        kept |= more


def _python_update(content: str, writes: list[str], others: list[str]) -> _Found | None:
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError, RecursionError):
        return None
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, assigned = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, assigned = node.target, node.value
        else:
            continue
        role = _target(target.id, writes) if isinstance(target, ast.Name) else None
        if role is None or not isinstance(target, ast.Name):
            continue
        if target.id.lower() != _UPDATE_NAME and not isinstance(assigned, (ast.Dict, ast.List)):
            continue  # under any other name only a dict or list literal is an update
        found.append((node, target.id, assigned, role))
    if not found:
        return None
    rest = _python_names([node for node in tree.body if all(node is not f[0] for f in found)])
    values = [_python_names([assigned]) for _, _, assigned, _ in found]

    def used(name: str, extra: list[set[str]]) -> bool:
        return name in rest or any(name in names for names in extra) or _used(name, others)

    kept = _kept([name for _, name, _, _ in found], used, values)
    result = _Found(content)
    lines = content.splitlines(keepends=True)
    for i, (_, _, assigned, role) in enumerate(found):
        result.add(role, _python_value(assigned), i in kept)
    for i, (node, *_) in reversed(list(enumerate(found))):
        if i not in kept:
            del lines[node.lineno - 1 : node.end_lineno or node.lineno]
    result.content = "".join(lines)
    return result


def _javascript_value(literal: str) -> Any:
    if literal.startswith("{"):
        return loads_object(literal)[0] or {}
    try:
        return json.loads(literal)
    except (ValueError, RecursionError):
        pass
    try:
        from json_repair import repair_json

        value = repair_json(literal, return_objects=True)
    except Exception:  # best effort: nothing usable
        return []
    return value if isinstance(value, list) else []


def _javascript_update(content: str, writes: list[str], others: list[str]) -> _Found | None:
    found: list[tuple[int, int, str, str, tuple[str, str]]] = []  # start, end, name, literal, role
    for match in _JS_ASSIGN.finditer(content):
        role = _target(match.group(2), writes)
        if role is None or (role[0] == "key" and match.group(1)):
            continue  # a declared key's name only at the top level
        if found and match.start() < found[-1][1]:
            continue  # inside the literal of the one before
        end = literal_end(content, match.end(), "{[", "}]", "\"'`")  # a string-aware walk of the literal
        if end < 0 and role[0] == "key":
            continue  # a declared key's literal never closed: not taken for one
        end = len(content) if end < 0 else end  # an update cut off at the token budget: to the end
        literal = content[match.end() : end]
        tail = re.match(r"[ \t]*;?[ \t]*\n?", content[end:])
        found.append((match.start(), end + (tail.end() if tail else 0), match.group(2), literal, role))
    if not found:
        return None
    rest, at = [], 0
    for start, end, *_ in found:
        rest.append(content[at:start])
        at = end
    rest.append(content[at:])

    def used(name: str, extra: list[str]) -> bool:
        return _used(name, [*rest, *extra, *others])

    kept = _kept([f[2] for f in found], used, [f[3] for f in found])
    result = _Found(content)
    for i, (_, _, _, literal, role) in enumerate(found):
        result.add(role, _javascript_value(literal), i in kept)
    for i, (start, end, *_) in reversed(list(enumerate(found))):
        if i not in kept:
            result.content = result.content[:start] + result.content[end:]
    return result


def update_in_code(
    files: list[ProjectFile], writes: list[str] | None = None
) -> tuple[list[ProjectFile], dict[str, Any], list[str]]:
    """Files without their top-level update assignments (see the module docstring), the update
    they held (`writes`: the module's declared keys), and one note per file."""
    out: list[ProjectFile] = []
    update: dict[str, Any] = {}
    notes: list[str] = []
    for f in files:
        lower = f.path.lower()
        others = [g.content for g in files if g is not f]
        found = None
        if lower.endswith(".py"):
            found = _python_update(f.content, writes or [], others)
        elif lower.endswith((".js", ".mjs", ".cjs")):
            found = _javascript_update(f.content, writes or [], others)
        if found is None:
            out.append(f)
            continue
        out.append(ProjectFile(f.path, found.content, f.module, [*f.notes]) if found.removed else f)
        update.update(found.values)
        if found.removed:
            given = sorted({key for keys in found.removed.values() for key in keys})
            keys = f" ({', '.join(given)})" if given else ""
            notes.append(f"{f.path}: the shared-state update assigned in the code{keys} was removed from the file")
        for name, given in found.kept.items():
            keys = f" ({', '.join(sorted(given))})" if given else ""
            notes.append(
                f"{f.path}: the shared-state value assigned to {name} in the code{keys} was used; the line stays (the code uses {name})"
            )
    return out, update, notes


def _names(items: Any) -> list[str]:
    names = []
    for item in items or []:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def _interface_values(interface: dict[str, Any], kind: str, key: str) -> list[str]:
    values: list[str] = []
    for entry in interface.get("files") or []:
        if kind == "element id":
            values += _names(entry.get("ids"))
        elif kind == "function name":
            values += _names(entry.get("functions")) + _names(entry.get("inline_functions"))
        elif kind == "CSS class":
            values += _names(entry.get("classes")) if entry.get("kind") == "css" else []
        elif kind == "command":
            values += _names(entry.get("commands"))
    return list(dict.fromkeys(values))[:24]


def derive_update(
    writes: list[str], update: dict[str, Any], interface: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The update with each declared key the model left empty filled from the module's
    interface where the key names what the interface lists; and the keys derived."""
    filled = dict(update)
    derived = []
    for key in writes:
        if filled.get(key) not in (None, "", [], {}):
            continue
        kind = "command" if re.search(r"command|cli", key, re.I) else identifier_kind(key)
        values = _interface_values(interface, kind or "", key)
        if values:
            filled[key] = values
            derived.append(key)
    return filled, derived


_CODE = {".py": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript"}


def json_as_code(files: list[ProjectFile]) -> list[str]:
    """Problems for code files whose whole content is a JSON object or array."""
    problems = []
    for f in files:
        language = next((name for suffix, name in _CODE.items() if f.path.lower().endswith(suffix)), None)
        text = f.content.strip()
        if language is None or not text.startswith(("{", "[")):
            continue
        try:
            json.loads(text)
        except ValueError:
            continue
        problems.append(
            f"{f.path}: the file holds JSON, not {language} code (the shared-state update goes after "
            "SHARED_STATE_UPDATE:, the code in the file)"
        )
    return problems


_LANGUAGES = {".py": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript"}
_LANGUAGES.update({".html": "HTML", ".htm": "HTML"})


def parses(path: str, content: str) -> bool | None:
    """Whether a file parses as its language: Python (`ast.parse`), JavaScript (Node's syntax
    check, as the JavaScript kind makes it; None without Node), HTML (at least one element: a
    page without one is no page), JSON; None for any other file."""
    suffix = PurePosixPath(path.lower()).suffix
    if suffix == ".py":
        try:
            ast.parse(content)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return True
    if suffix in (".js", ".mjs", ".cjs"):
        if shutil.which("node") is None:
            return None
        from ..kinds.web.javascript import JavaScriptKind

        return not JavaScriptKind().validate(path, content)
    if suffix in (".html", ".htm"):
        from ..kinds.web.html import HTMLChecker

        checker = HTMLChecker()
        checker.feed(content)
        checker.close()
        return checker.elements > 0
    if suffix == ".json":
        try:
            json.loads(content)
        except (ValueError, RecursionError):
            return False
        return True
    return None


# What makes a line code rather than a sentence: its first word a keyword, or these symbols.
_KEYWORDS = frozenset(
    "import from def class return if elif else for while try except finally with pass raise print "
    "lambda yield async await global nonlocal assert del const let var function new export switch "
    "case break continue throw typeof".split()
)
_SYMBOLS = frozenset("{}[]()=;<>#$*/\\|&^~+%@`")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_MARKUP = re.compile(r"^(?:#{1,6}\s+|[-*+\u2022]\s+|\d+[.)]\s+|>\s*)")


def _sentence_line(line: str) -> bool | None:
    """Whether a line reads as a sentence; None for one word alone (a heading: "Fix")."""
    line = _MARKUP.sub("", line.strip())  # a heading, a list item, a quote: still a sentence
    line = re.sub(r"`[^`\n]*`", "x", line.replace("**", "").replace("__", ""))  # `names` quoted
    words = _WORD.findall(line)
    if not words or line.split()[0] in _KEYWORDS:
        return False
    chars = [c for c in line if not c.isspace()]
    symbols = sum(c in _SYMBOLS for c in chars)
    letters = sum(c.isalpha() for c in chars)
    if symbols > 0.05 * len(chars) or letters < 0.7 * len(chars):
        return False
    if len(words) >= 2 or line[-1] in ".!?":
        return True
    return None if line.isalpha() else False


def reads_as_prose(text: str) -> bool:
    """Whether a text reads as sentences: nearly all its lines mostly words, sentence
    punctuation and next to no code symbols ("I am sorry, I cannot help with that.")."""
    lines = [line for line in text.splitlines() if line.strip()]
    said = [found for found in map(_sentence_line, lines) if found is not None]
    words = sum(len(_WORD.findall(line)) for line in lines)
    if words < 2 or not any(said) or sum(said) < 0.8 * len(said):
        return False
    return words >= 4 or bool(re.search(r"[.!?,;:](?:\s|$)", text))


def prose_files(files: list[ProjectFile], prompt: str = "") -> tuple[list[ProjectFile], list[str]]:
    """The files without those that are prose (a `.py`, `.js` or `.html` file that does not parse
    as its language and reads as sentences: no file), and a problem naming each (saying so when
    the prose only gives back `prompt`, the module's task and instructions)."""
    from .project import is_echo

    kept: list[ProjectFile] = []
    problems: list[str] = []
    for f in files:
        language = _LANGUAGES.get(PurePosixPath(f.path.lower()).suffix)
        text = f.content
        if language == "JavaScript":  # comments are no sentences of the reply's
            text = strip_comments(text)
        if language is None or parses(f.path, f.content) is True or not reads_as_prose(text):
            kept.append(f)
            continue
        what = f"{language} {'markup' if language == 'HTML' else 'code'}"
        if prompt and is_echo(f.content, prompt):
            said = "it only repeats the task and instructions you were given"
        else:
            said = " ".join(f.content.split())
            said = repr(said if len(said) <= 80 else said[:77] + "...")
        problems.append(
            f"{f.path}: the reply for it is prose, not {what} ({said}); no file was written: write the file's code"
        )
    return kept, problems


def unparsed(files: list[ProjectFile]) -> int:
    """How many files do not parse as their language (`parses`)."""
    return sum(1 for f in files if parses(f.path, f.content) is False)


# Lower is better, compared in this order; each position's reason when an attempt is worse.
_REASONS = (
    "had no file",
    "had more files that do not parse",  # or lacked a declared file: see worse_reason
    "lacked a declared file",
    "had more undefined names",  # the analyzers' (issue 34)
    "had more analyzer errors",
    "had more files with problems",
    "had more references that do not resolve",
    "had more problems",
)


def attempt_score(
    files: int,
    missing: int,
    invalid: int,
    broken: int,
    problems: int,
    unparsed: int = 0,
    *,
    undefined: int = 0,
    analyzer_errors: int = 0,
) -> tuple[int, ...]:
    """An attempt's state, compared lexicographically (lower is better). A file that parses
    beats one that does not, whatever the other counts say: the second position counts the
    declared files that are not there as files that parse (missing ones, prose, or files that do
    not parse); between a file that does not parse and none, the file is kept. Right after
    them come the analyzers' errors (issue 34): the undefined names (`return a + c`, `c` defined
    nowhere, imports fine and fails when called), then the others."""
    return (0 if files else 1, unparsed + missing, missing, undefined, analyzer_errors, invalid, broken, problems)


def worse_reason(new: tuple[int, ...], kept: tuple[int, ...]) -> str | None:
    """Why `new` is worse than `kept` (None when it is not). A tie goes to the newer attempt
    only when its files parse: one with no file, or with a file that does not parse, is no
    better than the attempt it ties with."""
    for position, (reason, a, b) in enumerate(zip(_REASONS, new, kept, strict=True)):
        if a != b:
            if a < b:
                return None
            if position == 1 and new[1] - new[2] <= kept[1] - kept[2]:
                return "lacked a declared file"  # not more files that do not parse: more missing
            return reason
    if new[0]:
        return "had no file either"
    if new[1] > new[2]:
        return "had files that do not parse, as the kept one"
    return None
