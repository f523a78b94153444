"""What a small model's reply already says, read without the model (issue 26).

- `update_in_code`: a top-level `shared_state_update = {...}` (or `SHARED_STATE_UPDATE`) written
  inside a code file instead of after the marker: removed from the file (it is a NameError at
  import, or a stray global), its value used as the update where it is a literal (a name stands
  for itself: `{"api": is_palindrome}` publishes "is_palindrome").
- `derive_update`: a declared key the model left empty whose value the module's extracted
  interface answers (element ids, function names, CSS classes, commands), filled from it and
  reported as derived: never a reason to re-run the module.
- `json_as_code`: a code file whose whole content is JSON (the update written where the code
  belongs): a module problem naming it.
- `attempt_score` / `worse_reason`: an attempt's form and static state, so that a repair or
  fix-round reply that is worse than the module's current artifact is discarded.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from .project import ProjectFile, identifier_kind

__all__ = ["update_in_code", "derive_update", "json_as_code", "attempt_score", "worse_reason"]

_UPDATE_NAME = "shared_state_update"
_JS_UPDATE = re.compile(
    r"^[ \t]*(?:(?:const|let|var)\s+|window\.)?shared_state_update\s*=\s*", re.IGNORECASE | re.MULTILINE
)


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


def _python_update(content: str) -> tuple[str, dict[str, Any]] | None:
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError, RecursionError):
        return None
    lines = content.splitlines(keepends=True)
    found: dict[str, Any] = {}
    spans = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, assigned = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, assigned = node.target, node.value
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id.lower() == _UPDATE_NAME):
            continue
        value = _python_value(assigned)
        if isinstance(value, dict):
            found.update({str(k): v for k, v in value.items()})
        spans.append((node.lineno - 1, node.end_lineno or node.lineno))
    if not spans:
        return None
    for start, end in reversed(spans):
        del lines[start:end]
    return "".join(lines), found


def _javascript_update(content: str) -> tuple[str, dict[str, Any]] | None:
    from .parsing import _balanced_spans, _loads_object

    match = _JS_UPDATE.search(content)
    if not match or not content[match.end() :].lstrip().startswith("{"):
        return None
    spans = _balanced_spans(content[match.end() :])
    if not spans:
        return None
    literal = spans[0]
    end = match.end() + content[match.end() :].index(literal) + len(literal)
    tail = re.match(r"[ \t]*;?[ \t]*\n?", content[end:])
    end += tail.end() if tail else 0
    value, _ = _loads_object(literal)
    return content[: match.start()] + content[end:], dict(value or {})


def update_in_code(files: list[ProjectFile]) -> tuple[list[ProjectFile], dict[str, Any], list[str]]:
    """Files without a top-level update assignment, the update it held, and one note per file."""
    out: list[ProjectFile] = []
    update: dict[str, Any] = {}
    notes: list[str] = []
    for f in files:
        lower = f.path.lower()
        found = None
        if lower.endswith(".py"):
            found = _python_update(f.content)
        elif lower.endswith((".js", ".mjs", ".cjs")):
            found = _javascript_update(f.content)
        if found is None:
            out.append(f)
            continue
        content, values = found
        out.append(ProjectFile(f.path, content, f.module, [*f.notes]))
        update.update(values)
        keys = f" ({', '.join(sorted(values))})" if values else ""
        notes.append(f"{f.path}: the shared-state update assigned in the code{keys} was removed from the file")
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


# Lower is better, compared in this order; each position's reason when an attempt is worse.
_REASONS = (
    "had no file",
    "lacked a declared file",
    "had more files with problems",
    "had more references that do not resolve",
    "had more problems",
)


def attempt_score(files: int, missing: int, invalid: int, broken: int, problems: int) -> tuple[int, ...]:
    """An attempt's state, compared lexicographically (lower is better)."""
    return (0 if files else 1, missing, invalid, broken, problems)


def worse_reason(new: tuple[int, ...], kept: tuple[int, ...]) -> str | None:
    """Why `new` is worse than `kept` (None when it is not: ties go to the newer attempt)."""
    for reason, a, b in zip(_REASONS, new, kept, strict=True):
        if a != b:
            return reason if a > b else None
    return None
