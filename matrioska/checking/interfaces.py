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
import importlib.util
import posixpath
import re
import sys
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from matrioska.kinds.python import bound_names, import_name, python_import_names
from matrioska.kinds.web.javascript import strip_comments

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
    from matrioska import kinds

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

_JS_IMPORT = re.compile(
    r"""^\s*import\s+(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\})?\s*(?:\*\s*as\s+([\w$]+))?\s*from\s*['"]([^'"]+)['"]""", re.M
)
_JS_REQUIRE_NAMES = re.compile(r"""(?:const|let|var)\s*\{([^}]*)\}\s*=\s*require\(\s*['"]([^'"]+)['"]\s*\)""")
_HANDLER_CALL = re.compile(r"(?:^|[;{]\s*|\breturn\s+)([A-Za-z_$][\w$]*)\s*\(")
_BROWSER_NAMES = frozenset(
    "alert confirm prompt console setTimeout setInterval clearTimeout clearInterval fetch location history "
    "event this window document parseInt parseFloat Number String Boolean Array Object JSON Math Date "
    "if return void encodeURIComponent decodeURIComponent print open close scrollTo navigator".split()
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
        self.paths[entry["path"]] = (module_id, entry)
        kind = entry.get("kind")
        if kind == "python":
            for name in entry.get("imports") or []:
                self.python.setdefault(name, []).append((module_id, entry))
                parts = name.split(".")
                for i in range(1, len(parts)):
                    self.packages.setdefault(".".join(parts[:i]), set()).add(module_id)
            defined = [f["name"] for f in entry.get("functions") or []] + [
                c["name"] for c in entry.get("classes") or []
            ]
            for name in defined + list(entry.get("constants") or []):
                self.python_defined.setdefault(name, []).append((module_id, entry))
        elif kind == "html":
            for name in entry.get("ids") or []:
                self.html_ids.setdefault(name, entry["path"])
            for name in entry.get("inline_functions") or []:
                self.js_globals.setdefault(name, module_id)
        elif kind == "javascript":
            self.js_ids_set.update(entry.get("ids_set") or [])
            for name in (
                [f["name"] for f in entry.get("functions") or []]
                + (entry.get("classes") or [])
                + (entry.get("globals") or [])
                + (entry.get("window") or [])
            ):
                self.js_globals.setdefault(name, module_id)

    def python_modules(self, holder: str) -> list[str]:
        """The other modules' Python modules, by their shortest import name."""
        return sorted(
            {_import_name(entry) for entries in self.python.values() for owner, entry in entries if owner != holder}
        )


def _names_listed(entry: dict[str, Any]) -> str:
    parts = [
        f"class {c['name']}({c.get('params', '')})"
        + (" with " + ", ".join(f".{m['name']}()" for m in c["methods"]) if c.get("methods") else "")
        for c in entry.get("classes") or []
    ]
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


def _installed(top: str) -> bool:
    """Whether a top-level module can be imported here (found, not imported)."""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _import_name(entry: dict[str, Any]) -> str:
    """A Python file's import name, from its interface entry (`kinds.python.import_name`)."""
    return import_name(entry["path"]) or entry["path"]


def _local_names(tree: ast.AST) -> set[str]:
    """Names a file binds itself (definitions, assignments, parameters): an imported name it
    rebinds is no longer the other module's."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.For, ast.With)):
            for target in getattr(node, "targets", None) or [getattr(node, "target", None)]:
                if target is not None:
                    bound.update(bound_names(target))
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


def _callable_named(entry: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next(
        (x for x in [*(entry.get("functions") or []), *(entry.get("classes") or [])] if x["name"] == name), None
    )


class _PythonReferences:
    """The references of one Python file into the other modules' Python files."""

    def __init__(
        self, holder: str, path: str, index: ReferenceIndex, pending: set[str], before: set[str] | None = None
    ) -> None:
        self.holder, self.path, self.index, self.pending = holder, path, index, pending
        self.before = before  # the modules built before the holder (None: every other module)
        self.rows: list[dict[str, Any]] = []
        self.modules: dict[str, tuple[str, dict[str, Any]]] = {}  # local name -> another module's file
        self.callables: dict[str, tuple[str, str, dict[str, Any]]] = {}  # local name -> (owner, name, signature)
        self.seen: set[tuple[str, str]] = set()

    def run(self, tree: ast.AST) -> list[dict[str, Any]]:
        local = _local_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.import_(node, alias)
            elif isinstance(node, ast.ImportFrom):
                self.import_from(node)
        self.modules = {name: m for name, m in self.modules.items() if name not in local}
        self.callables = {name: c for name, c in self.callables.items() if name not in local}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.modules:
                self.attribute(node, node.value.id)
            elif isinstance(node, ast.Call):
                self.call(node)
        if not any(row["target"] not in (None, self.holder) for row in self.rows):
            self.rewritten(tree)
        return self.rows

    _OWN_NAMES = frozenset({"main", "run", "cli", "app", "setup", "parse_args", "build_parser"})

    def rewritten(self, tree: ast.AST) -> None:
        """A module that imports nothing of the others but defines, at its top level, functions or
        classes another module already provides: the small-model habit of writing a stub of the
        core instead of importing it. Each is a problem naming the import to use."""
        body = getattr(tree, "body", [])
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith(("_", "test")) or node.name in self._OWN_NAMES:
                continue
            provider = self.provider(node.name, earlier_only=True)
            if provider is None:
                continue
            owner, entry, right = provider
            self.add(
                node,
                owner,
                f"`{node.name}` defined again",
                f"{node.name!r} is already in {entry['path']} (module {owner}): import it "
                f"(`from {right} import {node.name}`) instead of writing it again",
            )

    # lookups
    def provider(self, name: str, *, earlier_only: bool = False) -> tuple[str, dict[str, Any], str] | None:
        """The first other module whose file defines `name` (with `earlier_only`, among the modules
        built before the holder): its id, the file's interface and the name to import it by."""
        for owner, entry in self.index.python_defined.get(name, []):
            if owner != self.holder and not (earlier_only and self.before is not None and owner not in self.before):
                return owner, entry, _import_name(entry)
        return None

    def lookup(self, dotted: str) -> list[tuple[str, dict[str, Any]]]:
        return self.index.python.get(dotted, [])

    def known(self, dotted: str) -> bool:
        return bool(self.lookup(dotted)) or dotted in self.index.packages

    def in_project(self, dotted: str) -> bool:
        top = dotted.split(".")[0]
        return top in self.index.python or top in self.index.packages

    def foreign(self, entries: list[tuple[str, dict[str, Any]]]) -> bool:
        return bool(entries) and all(owner != self.holder for owner, _ in entries)

    def add(self, node: ast.AST, target: str | None, reference: str, problem: str | None) -> None:
        self.rows.append(_row(self.holder, target, f"{self.path}:{getattr(node, 'lineno', '?')}", reference, problem))

    def missing_module(self, node: ast.AST, dotted: str, reference: str) -> None:
        if dotted.split(".")[0] in self.pending:
            return  # planned for a module that has not run yet
        modules = ", ".join(self.index.python_modules(self.holder))
        self.add(node, None, reference, f"no module {dotted!r} in the project; its Python modules are: {modules}")

    def misplaced(self, node: ast.AST, dotted: str, names: list[str]) -> None:
        """An import from a module the project does not have, of names another module defines
        (`from project_module import validate_isbn`): the module is wrong, and the right one is
        known. A module that is installed here, or planned and not written yet, is not judged."""
        top = dotted.split(".")[0]
        if top in self.pending or top in sys.stdlib_module_names or _installed(top):
            return
        for name in names:
            provider = self.provider(name)
            if provider is None:
                continue
            owner, entry, right = provider
            self.add(
                node,
                owner,
                f"`{name}` from {dotted!r}",
                f"no module {dotted!r} in the project; {name!r} is in {entry['path']} (module {owner}): "
                f"`from {right} import {name}`",
            )

    # the kinds of reference
    def import_(self, node: ast.Import, alias: ast.alias) -> None:
        name = alias.name
        if not self.in_project(name):
            self.misplaced(node, name, [name])  # `import validate_isbn`, a sibling's function
            return  # else the standard library or a package: the requirement checks judge it
        owners = {o for o, _ in self.lookup(name)} | self.index.packages.get(name, set())
        if owners == {self.holder}:
            return
        if not self.known(name):
            self.missing_module(node, name, f"`import {name}`")
            return
        entries = self.lookup(name)
        self.add(node, entries[0][0] if entries else sorted(owners)[0], f"`import {name}`", None)
        if entries and self.foreign(entries) and (alias.asname or "." not in name):
            self.modules[alias.asname or name] = entries[0]

    def import_from(self, node: ast.ImportFrom) -> None:
        dotted = _resolve_relative(self.path, node.level, node.module) if node.level else node.module
        if not dotted:
            return
        if not self.in_project(dotted):
            self.misplaced(node, dotted, [alias.name for alias in node.names if alias.name != "*"])
            return
        entries = self.lookup(dotted)
        owners = {o for o, _ in entries} | self.index.packages.get(dotted, set())
        if owners == {self.holder}:
            return
        if not entries and dotted not in self.index.packages:
            self.missing_module(node, dotted, f"`from {dotted} import ...`")
            return
        for alias in node.names:
            if alias.name != "*":
                self.imported_name(node, dotted, entries, owners, alias)

    def imported_name(
        self,
        node: ast.ImportFrom,
        dotted: str,
        entries: list[tuple[str, dict[str, Any]]],
        owners: set[str],
        alias: ast.alias,
    ) -> None:
        local = alias.asname or alias.name
        reference = f"`from {dotted} import {alias.name}`"
        hit = next(((o, e) for o, e in entries if alias.name in e.get("names", []) or e.get("dynamic")), None)
        if hit is None and self.known(f"{dotted}.{alias.name}"):  # a submodule
            sub = self.lookup(f"{dotted}.{alias.name}")
            self.add(node, sub[0][0] if sub else None, reference, None)
            if sub and self.foreign(sub):
                self.modules[local] = sub[0]
            return
        if hit is None:
            owner, entry = entries[0] if entries else (sorted(owners)[0], {"path": dotted})
            has = _names_listed(entry) if entries else "its submodules only"
            self.add(node, owner, reference, f"{entry['path']} (module {owner}) has no {alias.name!r}; it has: {has}")
            return
        owner, entry = hit
        self.add(node, owner, reference, None)
        item = _callable_named(entry, alias.name)
        if owner != self.holder and item is not None:
            self.callables[local] = (owner, alias.name, item)

    def attribute(self, node: ast.Attribute, local: str) -> None:
        owner, entry = self.modules[local]
        reference = f"`{local}.{node.attr}`"
        if (reference, "attr") in self.seen:
            return
        self.seen.add((reference, "attr"))
        ok = (
            node.attr in entry.get("names", [])
            or entry.get("dynamic")
            or self.known(f"{entry['imports'][0]}.{node.attr}")
        )
        problem = (
            None if ok else f"{entry['path']} (module {owner}) has no {node.attr!r}; it has: {_names_listed(entry)}"
        )
        self.add(node, owner, reference, problem)

    def call(self, node: ast.Call) -> None:
        called: tuple[str, str, dict[str, Any]] | None = None
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.callables:
            called = self.callables[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.modules:
            owner, entry = self.modules[func.value.id]
            item = _callable_named(entry, func.attr)
            called = (owner, func.attr, item) if item else None
        if called is None:
            return
        owner, name, signature = called
        key = (f"call of {name}()", f"{getattr(node, 'lineno', '?')}:{node.col_offset}")
        if key in self.seen:
            return
        self.seen.add(key)
        self.add(node, owner, key[0], _call_problem(name, signature, node))


def _python_references(
    holder: str, path: str, content: str, index: ReferenceIndex, pending: set[str], before: set[str] | None = None
) -> list[dict[str, Any]]:
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError):
        return []
    return _PythonReferences(holder, path, index, pending, before).run(tree)


def resolve_path(base: str, spec: str) -> str:
    spec = spec.split("?", 1)[0].split("#", 1)[0]
    if spec.startswith("/"):
        return posixpath.normpath(spec.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), spec))


def _external(spec: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:|//)", spec, re.I))


def _imported_names(clause: str) -> list[str]:
    """The names an import clause takes from the module: `a as b` takes `a` (an export list's
    `a as b` exports `b`: `_export_names`)."""
    return [words[0] for part in clause.split(",") if (words := part.split()) and re.fullmatch(r"[\w$]+", words[0])]


def _js_references(
    holder: str, entry: dict[str, Any], content: str, index: ReferenceIndex, pending: set[str], html_known: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    path = entry["path"]
    code = strip_comments(content)
    imports: list[tuple[str, list[str]]] = []
    for match in _JS_IMPORT.finditer(code):
        imports.append(
            (match.group(4), _imported_names(match.group(2) or "") + (["default"] if match.group(1) else []))
        )
    for match in _JS_REQUIRE_NAMES.finditer(code):
        imports.append((match.group(2), [n.split(":")[0].strip() for n in match.group(1).split(",") if n.strip()]))
    for spec, names in imports:
        if not spec.startswith((".", "/")):
            continue  # a package: the dependency manifest covers it
        target = resolve_path(path, spec)
        candidates = [target, f"{target}.js", f"{target}.mjs", f"{target}.cjs", f"{target}/index.js"]
        found = next((c for c in candidates if c in index.paths), None)
        if found is None:
            if any(c in pending for c in candidates):
                continue
            rows.append(
                _row(
                    holder,
                    None,
                    f"{path}",
                    f"import of {spec!r}",
                    f"no file {target!r} in the project; its scripts are: "
                    + ", ".join(p for p, (_, e) in index.paths.items() if e.get("kind") == "javascript"),
                )
            )
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
            problem = (
                None
                if ok
                else (
                    f"{found} (module {owner}) exports nothing; it defines: {', '.join(defined) or 'nothing'}"
                    if exports is None
                    else f"{found} (module {owner}) does not export {name!r}; it exports: {', '.join(exports)}"
                )
            )
            rows.append(_row(holder, owner, path, reference, problem))
    if html_known:
        own_set = set(entry.get("ids_set") or [])
        defined = list(index.html_ids)
        for name in entry.get("ids_used") or []:
            ok = name in index.html_ids or name in own_set or name in index.js_ids_set
            defined_by = index.paths.get(index.html_ids[name], (None,))[0] if name in index.html_ids else None
            rows.append(
                {
                    **_row(
                        holder,
                        defined_by,
                        path,
                        f"element id {name!r}",
                        None
                        if ok
                        else f"no HTML file defines id={name!r}; the ids that exist: {', '.join(defined) or 'none'}",
                    ),
                    "identifier": name,
                }
            )
    return rows


def _html_references(
    holder: str, entry: dict[str, Any], index: ReferenceIndex, pending: set[str], generated: set[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    path = entry["path"]
    external_scripts = False
    for kind, specs in (("script", entry.get("scripts") or []), ("stylesheet", entry.get("styles") or [])):
        for spec in specs:
            if _external(spec) or spec.startswith("data:"):
                external_scripts = external_scripts or kind == "script"
                continue
            target = resolve_path(path, spec)
            if target in pending:
                continue
            owner = index.paths.get(target, (None,))[0]
            ok = owner is not None or target in generated
            same_kind = [
                p for p, (_, e) in index.paths.items() if e.get("kind") == ("javascript" if kind == "script" else "css")
            ]
            rows.append(
                _row(
                    holder,
                    owner,
                    path,
                    f"{kind} {spec!r}",
                    None
                    if ok
                    else f"links {spec!r}, which no file of the project is; its {kind}s are: {', '.join(same_kind) or 'none'}",
                )
            )
    if external_scripts:
        return rows  # a library may define what the handlers call
    for handler in entry.get("handlers") or []:
        for name in _HANDLER_CALL.findall(handler.strip()):
            if name in _BROWSER_NAMES:
                continue
            if name in pending:
                continue
            ok = name in index.js_globals or name in (entry.get("inline_functions") or [])
            rows.append(
                _row(
                    holder,
                    index.js_globals.get(name),
                    path,
                    f"handler calls {name}()",
                    None
                    if ok
                    else f"the handler {handler[:60]!r} calls {name}(), which no script defines; the scripts define: "
                    + ", ".join(sorted(index.js_globals)[:30]),
                )
            )
    return rows


def check_references(
    holder: str,
    files: list[Any],
    interfaces: dict[str, dict[str, Any]],
    *,
    pending_paths: Iterable[str] = (),
    generated: Iterable[str] = (),
    before: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Every reference the `holder` module's files make into the project, resolved against the
    interfaces of the other modules (`interfaces`, the holder's own excluded or not) and the
    holder's own files: one row each, `held` or `broken` with the names that do exist.

    `pending_paths`: files planned by modules that have not run yet (a reference into them is
    not judged yet); `generated`: files the assembler adds (an `index.html`, say); `before`: the
    modules built before the holder (a function written again counts only against those).
    """
    own = module_interface(holder, files)
    index = ReferenceIndex({m: i for m, i in interfaces.items() if m != holder})
    for entry in own["files"]:
        index.add(holder, entry)
    pending = set(pending_paths)
    pending_names = (
        pending
        | {n for p in pending if p.endswith(".py") for n in python_import_names(p)}
        | {n.split(".")[0] for p in pending if p.endswith(".py") for n in python_import_names(p)}
    )
    html_known = any(e.get("kind") == "html" for _, e in index.paths.values()) and not any(
        p.endswith((".html", ".htm")) for p in pending
    )
    rows: list[dict[str, Any]] = []
    by_path = {f.path: f for f in files}
    for entry in own["files"]:
        content = by_path[entry["path"]].content
        if entry["kind"] == "python":
            rows += _python_references(
                holder, entry["path"], content, index, pending_names, None if before is None else set(before)
            )
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
                rows.append(
                    _row(
                        module_id,
                        first[0],
                        entry["path"],
                        f"Python module {name!r}",
                        f"{entry['path']} and {first[1]} (module {first[0]}) are both the module {name!r}",
                    )
                )
    scripts = {e["path"]: (m, e) for m, e in entries if e.get("kind") == "javascript" and not e.get("module")}
    for _, page in ((m, e) for m, e in entries if e.get("kind") == "html"):
        seen_js: dict[str, tuple[str, str]] = {}
        for spec in page.get("scripts") or []:
            loaded = scripts.get(resolve_path(page["path"], spec))
            if loaded is None:
                continue
            module_id, entry = loaded
            for name in (
                [f["name"] for f in entry.get("functions") or []]
                + (entry.get("classes") or [])
                + (entry.get("globals") or [])
            ):
                first = seen_js.setdefault(name, (module_id, entry["path"]))
                if first[0] != module_id:
                    rows.append(
                        _row(
                            module_id,
                            first[0],
                            entry["path"],
                            f"global {name!r} on {page['path']}",
                            f"{entry['path']} and {first[1]} (module {first[0]}) both define the global {name!r} "
                            f"on {page['path']}: the second replaces the first (let/const/class: fails to load)",
                        )
                    )
    return _dedupe(rows)
