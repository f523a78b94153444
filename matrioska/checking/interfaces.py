"""Module interfaces: what a module's files offer the modules that use them, and the references
between modules checked against it.

An interface is *extracted* from the files a module wrote, never declared by the model, so two
modules agree on names whether or not the plan carried a shared_state key for them:

- Python: each file's import path, its public functions and classes with their signatures and
  the first line of their docstrings, constants in capitals, the entry point (`__main__`,
  argparse sub-commands and options);
- JavaScript: top-level functions with their parameters, classes, globals, exports, the DOM ids
  it looks up;
- HTML: element ids, form fields, the scripts and styles it links; CSS: ids and classes;
- JSON: the top-level shape; CSV: the header; anything else: the file name.

Never bodies. `render_interface` turns one into a short text for a dependent's prompt, trimmed
to a character budget longest section first. `check_references` resolves what one module's files
use of the other modules (a sibling import, a name imported from it, a call's argument count, a
DOM id looked up, a script or style a page links, a function an inline handler calls) against
their interfaces: one row per reference, held or broken, a broken one saying which names exist.
The rules are each kind's (`kinds/python/references.py`, `kinds/web/references.py`): they make
`Reference` records (`reference_records`), and the rows are those records rendered.

Everything here is plain JSON data (the interfaces are checkpointed in the run's state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..kinds.python.references import module_collisions, python_references
from ..kinds.references import Reference, ReferenceIndex, Scope, dedupe
from ..kinds.web.references import global_collisions, page_references, script_references

__all__ = [
    "INTERFACE_CHARS",
    "file_interface",
    "module_interface",
    "render_interface",
    "reference_records",
    "check_references",
    "collisions",
]

INTERFACE_CHARS = 2400
"""A module's interface in a dependent's prompt, at most (about 600 tokens)."""


# --------------------------------------------------------------------------- extraction


def file_interface(path: str, content: str) -> dict[str, Any] | None:
    """The interface of one file by its kind (see `matrioska.kinds`), or None when it does not
    parse (it has none until repaired)."""
    from .. import kinds

    try:
        return kinds.interface(path, content)
    except RecursionError:  # a pathological file: no interface rather than a crash
        return None


def module_interface(module_id: str, files: Iterable[Any]) -> dict[str, Any]:
    """One module's interface: its files' interfaces, and why some file has none."""
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    paths = []
    for f in files:
        paths.append(f.path)
        entry = file_interface(f.path, f.content)
        if entry is None:
            problems.append(f"{f.path} does not parse: it has no interface until it is repaired")
        else:
            entries.append(entry)
    if not paths:
        problems.append(f"module {module_id!r} produced no files: there is nothing of it to use")
    return {"module": module_id, "files": entries, "problems": problems}


# --------------------------------------------------------------------------- rendering


def _callable_line(item: dict[str, Any], prefix: str = "def ") -> str:
    doc = f"  # {item['doc']}" if item.get("doc") else ""
    return f"{prefix}{item['name']}({item.get('params', '')}){item.get('returns', '')}{doc}"


# The list fields of an interface shown as one line each: (field, label, separator).
_LISTED = {
    "javascript": (
        ("globals", "globals: ", ", "),
        ("window", "window.", ", window."),
        ("exports", "exports: ", ", "),
        ("ids_used", "looks up element ids: ", ", "),
    ),
    "html": (
        ("ids", "element ids: ", ", "),
        ("fields", "form fields: ", ", "),
        ("scripts", "scripts: ", ", "),
        ("styles", "styles: ", ", "),
    ),
    "css": (("ids", "ids: #", ", #"), ("classes", "classes: .", ", .")),
}


def _listed(entry: dict[str, Any], kind: str) -> list[str]:
    return [f"  {label}{separator.join(entry[field])}" for field, label, separator in _LISTED[kind] if entry.get(field)]


def _file_lines(entry: dict[str, Any]) -> list[str]:
    kind = entry.get("kind")
    path = entry["path"]
    if kind == "python":
        importable = entry.get("imports") or []
        head = f"{path} (Python; import as `{importable[-1] if len(importable) > 1 and importable[0].startswith('src.') else (importable or [path])[0]}`)"
        lines = [head]
        for cls in entry.get("classes") or []:
            lines.append("  " + _callable_line(cls, "class "))
            lines += ["    " + _callable_line(m, ".") for m in cls.get("methods") or []]
        lines += ["  " + _callable_line(f) for f in entry.get("functions") or []]
        if entry.get("constants"):
            lines.append("  constants: " + ", ".join(entry["constants"]))
        if entry.get("main"):
            run = f"  entry point: python {path}"
            if entry.get("commands"):
                run += " {" + ",".join(entry["commands"]) + "}"
            if entry.get("options"):
                run += " options: " + " ".join(entry["options"][:12])
            lines.append(run)
        return lines
    if kind == "javascript":
        lines = [f"{path} (JavaScript{', ES module' if entry.get('module') else ''})"]
        lines += [f"  function {f['name']}({f['params']})" for f in entry.get("functions") or []]
        return lines + [f"  class {c}" for c in entry.get("classes") or []] + _listed(entry, kind)
    if kind == "html":
        return [f"{path} (HTML page)", *_listed(entry, kind)]
    if kind == "css":
        return [f"{path} (CSS)", *_listed(entry, kind)]
    if kind in ("json", "data"):
        return [f"{path} ({entry['shape']})"]
    if entry.get("text"):  # a plugin kind's interface: its own short text
        return [f"{path} ({kind})", *("  " + line for line in str(entry["text"]).splitlines() if line.strip())]
    return [path]


def render_interface(interface: dict[str, Any], limit: int = INTERFACE_CHARS) -> str:
    """The interface as a short text for a prompt: at most `limit` characters, the longest
    file's section trimmed first (each trim says how many lines it left out)."""
    sections = [_file_lines(entry) for entry in interface.get("files") or []]
    notes = [f"({p})" for p in interface.get("problems") or []]
    if not sections and not notes:
        return "(no files)"
    dropped = [0] * len(sections)

    def text() -> str:
        out = []
        for lines, gone in zip(sections, dropped, strict=True):
            out += lines
            if gone:
                out.append(f"  ... {gone} more line(s) left out")
        return "\n".join(out + notes)

    rendered = text()
    while len(rendered) > limit:
        longest = max(range(len(sections)), key=lambda i: sum(len(line) for line in sections[i]), default=None)
        if longest is None or len(sections[longest]) <= 1:
            return rendered[: max(0, limit - 20)] + "\n... (trimmed)"
        sections[longest] = sections[longest][:-1]
        dropped[longest] += 1
        rendered = text()
    return rendered


# --------------------------------------------------------------------------- references

_RULES: dict[str, Callable[[dict[str, Any], str, Scope], list[Reference]]] = {
    "python": python_references,
    "javascript": script_references,
    "html": page_references,
}
"""Each kind's reference rules, by the kind of the file that makes the references."""


def reference_records(
    holder: str,
    files: list[Any],
    interfaces: dict[str, dict[str, Any]],
    *,
    pending_paths: Iterable[str] = (),
    generated: Iterable[str] = (),
    before: Iterable[str] | None = None,
) -> list[Reference]:
    """Every reference the `holder` module's files make into the project, resolved against the
    interfaces of the other modules (`interfaces`, the holder's own excluded or not) and the
    holder's own files: one record each, held or broken with the names that do exist (a
    reference with the same problem at the same place once).

    `pending_paths`: files planned by modules that have not run yet (a reference into them is
    not judged yet); `generated`: files the assembler adds (an `index.html`, say); `before`: the
    modules built before the holder (a function written again counts only against those).
    """
    own = module_interface(holder, files)
    if not any(entry["kind"] in _RULES for entry in own["files"]):
        return []  # no file of a kind that makes references (text, a style sheet)
    index = ReferenceIndex({m: i for m, i in interfaces.items() if m != holder})
    for entry in own["files"]:
        index.add(holder, entry)
    scope = Scope(holder, index, set(pending_paths), set(generated), None if before is None else set(before))
    records: list[Reference] = []
    by_path = {f.path: f for f in files}
    for entry in own["files"]:
        rules = _RULES.get(entry["kind"])
        if rules is not None:
            records += rules(entry, by_path[entry["path"]].content, scope)
    return dedupe(records)


def check_references(
    holder: str,
    files: list[Any],
    interfaces: dict[str, dict[str, Any]],
    *,
    pending_paths: Iterable[str] = (),
    generated: Iterable[str] = (),
    before: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """`reference_records` as the report's rows: `held` or `broken` with the names that do
    exist (the integration report, the prompts and the run's files carry these)."""
    records = reference_records(
        holder, files, interfaces, pending_paths=pending_paths, generated=generated, before=before
    )
    return [record.to_dict() for record in records]


def collisions(interfaces: dict[str, dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """Names two modules both define where they share one namespace: the same Python import
    name, or the same top-level name in two classic (non-module) scripts one page loads. Each is
    sent to the later module."""
    entries = [(m, e) for m in order for e in (interfaces.get(m) or {}).get("files") or []]
    records = module_collisions(entries) + global_collisions(entries)
    return [record.to_dict() for record in dedupe(records)]
