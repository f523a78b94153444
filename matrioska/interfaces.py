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

Everything here is plain JSON data (the interfaces are checkpointed in the run's state).
"""

from __future__ import annotations

import ast
import posixpath
import re
import sys
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from .kinds.javascript import _JS_COMMENT, _export_names
from .kinds.python import _bound_names, python_import_names

__all__ = [
    "INTERFACE_CHARS",
    "file_interface",
    "module_interface",
    "render_interface",
    "check_references",
    "python_import_names",
    "collisions",
]

INTERFACE_CHARS = 2400
"""A module's interface in a dependent's prompt, at most (about 600 tokens)."""


# --------------------------------------------------------------------------- extraction


def file_interface(path: str, content: str) -> dict[str, Any] | None:
    """The interface of one file by its kind (see `matrioska.kinds`), or None when it does not
    parse (it has none until repaired)."""
    from . import kinds

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
    "javascript": (("globals", "globals: ", ", "), ("window", "window.", ", window."), ("exports", "exports: ", ", "),
                   ("ids_used", "looks up element ids: ", ", ")),
    "html": (("ids", "element ids: ", ", "), ("fields", "form fields: ", ", "), ("scripts", "scripts: ", ", "),
             ("styles", "styles: ", ", ")),
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
        for lines, gone in zip(sections, dropped):
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

_JS_IMPORT = re.compile(
    r"""^\s*import\s+(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\})?\s*(?:\*\s*as\s+([\w$]+))?\s*from\s*['"]([^'"]+)['"]""", re.M)
_JS_REQUIRE_NAMES = re.compile(r"""(?:const|let|var)\s*\{([^}]*)\}\s*=\s*require\(\s*['"]([^'"]+)['"]\s*\)""")
_HANDLER_CALL = re.compile(r"(?:^|[;{]\s*|\breturn\s+)([A-Za-z_$][\w$]*)\s*\(")
_BROWSER_NAMES = frozenset(
    "alert confirm prompt console setTimeout setInterval clearTimeout clearInterval fetch location history "
    "event this window document parseInt parseFloat Number String Boolean Array Object JSON Math Date "
    "if return void encodeURIComponent decodeURIComponent print open close scrollTo navigator".split()
)


class _Index:
    """What the other modules publish, looked up by import name, path and global name."""

    def __init__(self, interfaces: dict[str, dict[str, Any]]) -> None:
        self.python: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.packages: dict[str, set[str]] = {}
        self.paths: dict[str, tuple[str, dict[str, Any]]] = {}
        self.html_ids: dict[str, str] = {}
        self.js_ids_set: set[str] = set()
        self.js_globals: dict[str, str] = {}
        for module_id, interface in interfaces.items():
            for entry in interface.get("files") or []:
                self.add(module_id, entry)

    def add(self, module_id: str, entry: dict[str, Any]) -> None:
        self.paths[entry["path"]] = (module_id, entry)
        kind = entry.get("kind")
        if kind == "python":
            for name in entry.get("imports") or []:
                self.python.setdefault(name, []).append((module_id, entry))
                parts = name.split(".")
                for i in range(1, len(parts)):
                    self.packages.setdefault(".".join(parts[:i]), set()).add(module_id)
        elif kind == "html":
            for name in entry.get("ids") or []:
                self.html_ids.setdefault(name, entry["path"])
            for name in entry.get("inline_functions") or []:
                self.js_globals.setdefault(name, module_id)
        elif kind == "javascript":
            self.js_ids_set.update(entry.get("ids_set") or [])
            for name in [f["name"] for f in entry.get("functions") or []] + (entry.get("classes") or []) + \
                    (entry.get("globals") or []) + (entry.get("window") or []):
                self.js_globals.setdefault(name, module_id)

    def python_modules(self, holder: str) -> list[str]:
        """The other modules' Python modules, by their shortest import name."""
        return sorted({entry["imports"][-1] if entry["imports"][0].startswith("src.") else entry["imports"][0]
                       for entries in self.python.values() for owner, entry in entries if owner != holder})


def _names_listed(entry: dict[str, Any]) -> str:
    parts = [f"class {c['name']}({c.get('params', '')})"
             + (" with " + ", ".join(f".{m['name']}()" for m in c["methods"]) if c.get("methods") else "")
             for c in entry.get("classes") or []]
    parts += [f"{f['name']}({f.get('params', '')})" for f in entry.get("functions") or []]
    parts += entry.get("constants") or []
    text = ", ".join(parts) or "no public names"
    return text if len(text) <= 400 else text[:397] + "..."


def _row(holder: str, target: str | None, where: str, reference: str, problem: str | None) -> dict[str, Any]:
    return {
        "contract": f"reference {reference} ({where})",
        "kind": "reference",
        "reference": reference,
        "module": holder,
        "target": target,
        "status": "broken" if problem else "held",
        "where": where,
        **({"problem": problem} if problem else {}),
    }


def _call_problem(name: str, signature: dict[str, Any], call: ast.Call) -> str | None:
    """Why a call cannot bind to a signature (None when it can, or when it cannot be told)."""
    if signature.get("params") == "...":
        return None
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    given = len(call.args)
    keywords = [k.arg for k in call.keywords if k.arg]
    shown = f"{name}({signature.get('params', '')})"
    if signature.get("max") is not None and given > signature["max"]:
        return f"passes {given} positional argument(s) to {shown}, which takes at most {signature['max']}"
    allowed = signature.get("keywords")
    if allowed is not None:
        unknown = [k for k in keywords if k not in allowed]
        if unknown:
            return f"passes keyword(s) {', '.join(unknown)} to {shown}, which has no such parameter"
    missing = [p for p in signature.get("required", [])[given:] if p not in keywords]
    missing += [p for p in signature.get("required_keywords", []) if p not in keywords]
    if missing:
        return f"calls {shown} without {', '.join(missing)}"
    return None


def _resolve_relative(path: str, level: int, module: str | None) -> str | None:
    package = list(PurePosixPath(path).parent.parts)
    if level - 1 > len(package):
        return None
    base = package[: len(package) - (level - 1)]
    dotted = ".".join([*base, *(module.split(".") if module else [])])
    return dotted or None


def _python_references(holder: str, path: str, content: str, index: _Index, pending: set[str]) -> list[dict[str, Any]]:
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError):
        return []
    rows: list[dict[str, Any]] = []
    bound_locally: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound_locally.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.For, ast.With)):
            for target in getattr(node, "targets", None) or [getattr(node, "target", None)]:
                if target is not None:
                    bound_locally.update(_bound_names(target))
        elif isinstance(node, ast.arg):
            bound_locally.add(node.arg)
    modules: dict[str, tuple[str, dict[str, Any]]] = {}  # local name -> module entry of another module
    callables: dict[str, tuple[str, str, dict[str, Any]]] = {}  # local name -> (owner, shown name, signature)

    def lookup(dotted: str) -> list[tuple[str, dict[str, Any]]]:
        return index.python.get(dotted, [])

    def foreign(entries: list[tuple[str, dict[str, Any]]]) -> bool:
        return bool(entries) and all(owner != holder for owner, _ in entries)

    def project_top(dotted: str) -> bool:
        top = dotted.split(".")[0]
        return top in index.python or top in index.packages

    def known(dotted: str) -> bool:
        return bool(lookup(dotted)) or dotted in index.packages

    def where(node: ast.AST) -> str:
        return f"{path}:{getattr(node, 'lineno', '?')}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                if not project_top(name):
                    top = name.split(".")[0]
                    if top in pending or top in sys.stdlib_module_names:
                        continue
                    continue  # a third-party or missing package: the requirement checks judge it
                owners = {o for o, _ in lookup(name)} | index.packages.get(name, set())
                if holder in owners and len(owners) == 1:
                    continue
                if not known(name):
                    if name.split(".")[0] in pending:
                        continue
                    rows.append(_row(holder, None, where(node), f"`import {name}`",
                                     f"no module {name!r} in the project; its Python modules are: {', '.join(index.python_modules(holder))}"))
                    continue
                entries = lookup(name)
                rows.append(_row(holder, entries[0][0] if entries else sorted(owners)[0], where(node), f"`import {name}`", None))
                if entries and foreign(entries) and (alias.asname or "." not in name):
                    modules[alias.asname or name] = entries[0]
        elif isinstance(node, ast.ImportFrom):
            dotted = _resolve_relative(path, node.level, node.module) if node.level else node.module
            if not dotted:
                continue
            if not project_top(dotted):
                continue
            entries = lookup(dotted)
            owners = {o for o, _ in entries} | index.packages.get(dotted, set())
            if owners == {holder}:
                continue
            if not entries and dotted not in index.packages:
                if dotted.split(".")[0] in pending:
                    continue
                rows.append(_row(holder, None, where(node), f"`from {dotted} import ...`",
                                 f"no module {dotted!r} in the project; its Python modules are: {', '.join(index.python_modules(holder))}"))
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                reference = f"`from {dotted} import {alias.name}`"
                submodule = lookup(f"{dotted}.{alias.name}") or (f"{dotted}.{alias.name}" in index.packages)
                hit = next(((o, e) for o, e in entries if alias.name in e.get("names", []) or e.get("dynamic")), None)
                if hit is None and submodule:
                    sub = lookup(f"{dotted}.{alias.name}")
                    rows.append(_row(holder, sub[0][0] if sub else None, where(node), reference, None))
                    if sub and foreign(sub):
                        modules[alias.asname or alias.name] = sub[0]
                    continue
                if hit is None:
                    owner, entry = entries[0] if entries else (sorted(owners)[0], {"path": dotted})
                    has = _names_listed(entry) if entries else "its submodules only"
                    rows.append(_row(holder, owner, where(node), reference,
                                     f"{entry['path']} (module {owner}) has no {alias.name!r}; it has: {has}"))
                    continue
                owner, entry = hit
                rows.append(_row(holder, owner, where(node), reference, None))
                if owner == holder:
                    continue
                item = next((x for x in [*(entry.get("functions") or []), *(entry.get("classes") or [])]
                             if x["name"] == alias.name), None)
                if item is not None and (alias.asname or alias.name) not in bound_locally:
                    callables[alias.asname or alias.name] = (owner, alias.name, item)
    for local in list(modules):
        if local in bound_locally:
            modules.pop(local)
    seen: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            owner, entry = modules[node.value.id]
            module_name = entry["imports"][0]
            reference = f"`{node.value.id}.{node.attr}`"
            if (reference, "attr") in seen:
                continue
            seen.add((reference, "attr"))
            ok = node.attr in entry.get("names", []) or entry.get("dynamic") or known(f"{module_name}.{node.attr}")
            rows.append(_row(holder, owner, where(node), reference, None if ok else
                             f"{entry['path']} (module {owner}) has no {node.attr!r}; it has: {_names_listed(entry)}"))
        elif isinstance(node, ast.Call):
            target: tuple[str, str, dict[str, Any]] | None = None
            if isinstance(node.func, ast.Name) and node.func.id in callables:
                target = callables[node.func.id]
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id in modules:
                owner, entry = modules[node.func.value.id]
                item = next((x for x in [*(entry.get("functions") or []), *(entry.get("classes") or [])]
                             if x["name"] == node.func.attr), None)
                target = (owner, node.func.attr, item) if item else None
            if target is None:
                continue
            owner, name, signature = target
            problem = _call_problem(name, signature, node)
            reference = f"call of {name}()"
            if (reference, f"{where(node)}:{node.col_offset}") in seen:
                continue
            seen.add((reference, f"{where(node)}:{node.col_offset}"))
            rows.append(_row(holder, owner, where(node), reference, problem))
    return rows


def _resolve_path(base: str, spec: str) -> str:
    spec = spec.split("?", 1)[0].split("#", 1)[0]
    if spec.startswith("/"):
        return posixpath.normpath(spec.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), spec))


def _external(spec: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:|//)", spec, re.I))


def _js_references(holder: str, entry: dict[str, Any], content: str, index: _Index, pending: set[str],
                   html_known: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    path = entry["path"]
    code = _JS_COMMENT.sub("", content)
    imports: list[tuple[str, list[str]]] = []
    for match in _JS_IMPORT.finditer(code):
        imports.append((match.group(4), _export_names(match.group(2) or "") + (["default"] if match.group(1) else [])))
    for match in _JS_REQUIRE_NAMES.finditer(code):
        imports.append((match.group(2), [n.split(":")[0].strip() for n in match.group(1).split(",") if n.strip()]))
    for spec, names in imports:
        if not spec.startswith((".", "/")):
            continue  # a package: the dependency manifest covers it
        target = _resolve_path(path, spec)
        candidates = [target, f"{target}.js", f"{target}.mjs", f"{target}.cjs", f"{target}/index.js"]
        found = next((c for c in candidates if c in index.paths), None)
        if found is None:
            if any(c in pending for c in candidates):
                continue
            rows.append(_row(holder, None, f"{path}", f"import of {spec!r}",
                             f"no file {target!r} in the project; its scripts are: "
                             + ", ".join(p for p, (_, e) in index.paths.items() if e.get("kind") == "javascript")))
            continue
        owner, target_entry = index.paths[found]
        if owner == holder:
            continue
        exports = target_entry.get("exports")
        for name in names or [""]:
            reference = f"import of {name or '*'} from {spec!r}"
            if not name:
                rows.append(_row(holder, owner, path, reference, None))
                continue
            ok = exports is not None and name in exports
            defined = [f["name"] for f in target_entry.get("functions") or []] + (target_entry.get("classes") or [])
            problem = None if ok else (
                f"{found} (module {owner}) exports nothing; it defines: {', '.join(defined) or 'nothing'}"
                if exports is None else f"{found} (module {owner}) does not export {name!r}; it exports: {', '.join(exports)}")
            rows.append(_row(holder, owner, path, reference, problem))
    if html_known:
        own_set = set(entry.get("ids_set") or [])
        defined = list(index.html_ids)
        for name in entry.get("ids_used") or []:
            ok = name in index.html_ids or name in own_set or name in index.js_ids_set
            owner = None
            if name in index.html_ids:
                owner = index.paths.get(index.html_ids[name], (None,))[0]
            rows.append({**_row(holder, owner, path, f"element id {name!r}", None if ok else
                                f"no HTML file defines id={name!r}; the ids that exist: {', '.join(defined) or 'none'}"),
                         "identifier": name})
    return rows


def _html_references(holder: str, entry: dict[str, Any], index: _Index, pending: set[str], generated: set[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    path = entry["path"]
    external_scripts = False
    for kind, specs in (("script", entry.get("scripts") or []), ("stylesheet", entry.get("styles") or [])):
        for spec in specs:
            if _external(spec) or spec.startswith("data:"):
                external_scripts = external_scripts or kind == "script"
                continue
            target = _resolve_path(path, spec)
            if target in pending:
                continue
            owner = index.paths.get(target, (None,))[0]
            ok = owner is not None or target in generated
            same_kind = [p for p, (_, e) in index.paths.items() if e.get("kind") == ("javascript" if kind == "script" else "css")]
            rows.append(_row(holder, owner, path, f"{kind} {spec!r}", None if ok else
                             f"links {spec!r}, which no file of the project is; its {kind}s are: {', '.join(same_kind) or 'none'}"))
    if external_scripts:
        return rows  # a library may define what the handlers call
    for handler in entry.get("handlers") or []:
        for name in _HANDLER_CALL.findall(handler.strip()):
            if name in _BROWSER_NAMES:
                continue
            if name in pending:
                continue
            ok = name in index.js_globals or name in (entry.get("inline_functions") or [])
            rows.append(_row(holder, index.js_globals.get(name), path, f"handler calls {name}()", None if ok else
                             f"the handler {handler[:60]!r} calls {name}(), which no script defines; the scripts define: "
                             + ", ".join(sorted(index.js_globals)[:30])))
    return rows


def check_references(
    holder: str,
    files: list[Any],
    interfaces: dict[str, dict[str, Any]],
    *,
    pending_paths: Iterable[str] = (),
    generated: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Every reference the `holder` module's files make into the project, resolved against the
    interfaces of the other modules (`interfaces`, the holder's own excluded or not) and the
    holder's own files: one row each, `held` or `broken` with the names that do exist.

    `pending_paths`: files planned by modules that have not run yet (a reference into them is
    not judged yet); `generated`: files the assembler adds (an `index.html`, say).
    """
    own = module_interface(holder, files)
    index = _Index({m: i for m, i in interfaces.items() if m != holder})
    for entry in own["files"]:
        index.add(holder, entry)
    pending = set(pending_paths)
    pending_names = pending | {n for p in pending if p.endswith(".py") for n in python_import_names(p)} | {
        n.split(".")[0] for p in pending if p.endswith(".py") for n in python_import_names(p)}
    html_known = any(e.get("kind") == "html" for _, e in index.paths.values()) and not any(
        p.endswith((".html", ".htm")) for p in pending)
    rows: list[dict[str, Any]] = []
    by_path = {f.path: f for f in files}
    for entry in own["files"]:
        content = by_path[entry["path"]].content
        if entry["kind"] == "python":
            rows += _python_references(holder, entry["path"], content, index, pending_names)
        elif entry["kind"] == "javascript":
            rows += _js_references(holder, entry, content, index, pending, html_known)
        elif entry["kind"] == "html":
            rows += _html_references(holder, entry, index, pending, set(generated))
            if entry.get("inline_ids_used") and html_known:
                inline = {"path": entry["path"], "ids_used": entry["inline_ids_used"], "ids_set": []}
                rows += _js_references(holder, inline, "", index, pending, html_known)
    return _dedupe(rows)


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for row in rows:
        key = (row["contract"], row.get("problem"))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def collisions(interfaces: dict[str, dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """Names two modules both define where they share one namespace: the same Python import
    name, or the same top-level name in two classic (non-module) scripts one page loads. Each is
    sent to the later module."""
    rows: list[dict[str, Any]] = []
    entries = [(m, e) for m in order for e in (interfaces.get(m) or {}).get("files") or []]
    seen_python: dict[str, tuple[str, str]] = {}
    for module_id, entry in entries:
        if entry.get("kind") == "python":
            name = (entry.get("imports") or [""])[0]
            first = seen_python.setdefault(name, (module_id, entry["path"]))
            if first[0] != module_id:
                rows.append(_row(module_id, first[0], entry["path"], f"Python module {name!r}",
                                 f"{entry['path']} and {first[1]} (module {first[0]}) are both the module {name!r}"))
    scripts = {e["path"]: (m, e) for m, e in entries if e.get("kind") == "javascript" and not e.get("module")}
    for _, page in ((m, e) for m, e in entries if e.get("kind") == "html"):
        seen_js: dict[str, tuple[str, str]] = {}
        for spec in page.get("scripts") or []:
            loaded = scripts.get(_resolve_path(page["path"], spec))
            if loaded is None:
                continue
            module_id, entry = loaded
            for name in [f["name"] for f in entry.get("functions") or []] + (entry.get("classes") or []) + (entry.get("globals") or []):
                first = seen_js.setdefault(name, (module_id, entry["path"]))
                if first[0] != module_id:
                    rows.append(_row(module_id, first[0], entry["path"], f"global {name!r} on {page['path']}",
                                     f"{entry['path']} and {first[1]} (module {first[0]}) both define the global {name!r} "
                                     f"on {page['path']}: the second replaces the first (let/const/class: fails to load)"))
    return _dedupe(rows)
