"""The web reference rules: what a script imports from the project's other scripts, the element
ids it looks up, the scripts and stylesheets a page links, the functions its inline handlers
call; each a `Reference` record, held or broken with the names that exist. And the globals two
classic scripts one page loads both define."""

from __future__ import annotations

import re
from typing import Any

from ..references import Reference, ReferenceIndex, Scope, resolve_path, script_names
from .source import strip_comments

__all__ = [
    "SCRIPT_IMPORT",
    "SCRIPT_IMPORT_NAME",
    "ELEMENT_ID",
    "SCRIPT",
    "STYLESHEET",
    "HANDLER",
    "GLOBAL_COLLISION",
    "script_references",
    "page_references",
    "global_collisions",
]

# The kinds of web reference (`Reference.kind`).
SCRIPT_IMPORT = "js-import"  # an import of a project file that is not there: name is the specifier
SCRIPT_IMPORT_NAME = "js-import-name"  # a name imported from a project script: name, source the specifier
ELEMENT_ID = "element-id"  # an element id a script looks up: name is the id
SCRIPT = "script"  # a script a page links: name is its src
STYLESHEET = "stylesheet"  # a stylesheet a page links: name is its href
HANDLER = "handler"  # a function an inline handler calls: name is the function
GLOBAL_COLLISION = "js-global-collision"  # a global two scripts of one page define: name, source the page

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


def _external(spec: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:|//)", spec, re.I))


def _imported_names(clause: str) -> list[str]:
    """The names an import clause takes from the module: `a as b` takes `a` (an export list's
    `a as b` exports `b`: `_export_names`)."""
    return [words[0] for part in clause.split(",") if (words := part.split()) and re.fullmatch(r"[\w$]+", words[0])]


def _script_imports(code: str) -> list[tuple[str, list[str]]]:
    """(specifier, the names taken) of each `import ... from` and `const {...} = require()`."""
    imports: list[tuple[str, list[str]]] = []
    for match in _JS_IMPORT.finditer(code):
        names = _imported_names(match.group(2) or "") + (["default"] if match.group(1) else [])
        imports.append((match.group(4), names))
    for match in _JS_REQUIRE_NAMES.finditer(code):
        imports.append((match.group(2), [n.split(":")[0].strip() for n in match.group(1).split(",") if n.strip()]))
    return imports


def _import_references(holder: str, path: str, spec: str, names: list[str], scope: Scope) -> list[Reference]:
    """One import of a project file (a relative or absolute specifier): the file, then each name."""
    index = scope.index
    target = resolve_path(path, spec)
    candidates = [target, f"{target}.js", f"{target}.mjs", f"{target}.cjs", f"{target}/index.js"]
    found = next((c for c in candidates if c in index.paths), None)
    if found is None:
        if any(c in scope.pending for c in candidates):
            return []
        missing = f"no file {target!r} in the project; its scripts are: " + ", ".join(index.of_kind("javascript"))
        return [Reference(holder, path, None, SCRIPT_IMPORT, spec, f"import of {spec!r}", None, missing)]
    owner, target_entry = index.paths[found]
    if owner == holder:
        return []
    exports = target_entry.get("exports")
    records = []
    for name in names or [""]:
        reference = f"import of {name or '*'} from {spec!r}"
        if not name:
            records.append(Reference(holder, path, None, SCRIPT_IMPORT_NAME, "*", reference, owner, source=spec))
            continue
        problem: str | None = None
        if exports is None:
            defined = [f["name"] for f in target_entry.get("functions") or []] + (target_entry.get("classes") or [])
            problem = f"{found} (module {owner}) exports nothing; it defines: {', '.join(defined) or 'nothing'}"
        elif name not in exports:
            problem = f"{found} (module {owner}) does not export {name!r}; it exports: {', '.join(exports)}"
        records.append(
            Reference(holder, path, None, SCRIPT_IMPORT_NAME, name, reference, owner, problem, spec, found_in=found)
        )
    return records


def _id_references(holder: str, entry: dict[str, Any], index: ReferenceIndex) -> list[Reference]:
    """The element ids a script (or a page's inline scripts) looks up: defined by a page, by the
    script itself, or by a script that sets it."""
    path = entry["path"]
    own_set = set(entry.get("ids_set") or [])
    defined = list(index.html_ids)
    records = []
    for name in entry.get("ids_used") or []:
        ok = name in index.html_ids or name in own_set or name in index.js_ids_set
        defined_by = index.paths.get(index.html_ids[name], (None,))[0] if name in index.html_ids else None
        problem = (
            None if ok else f"no HTML file defines id={name!r}; the ids that exist: {', '.join(defined) or 'none'}"
        )
        reference = f"element id {name!r}"
        records.append(Reference(holder, path, None, ELEMENT_ID, name, reference, defined_by, problem, identifier=name))
    return records


def _html_known(scope: Scope) -> bool:
    """Whether the project's pages are all there (one is written, none is still planned): only
    then is an element id no page defines a problem."""
    index = scope.index
    return any(e.get("kind") == "html" for _, e in index.paths.values()) and not any(
        p.endswith((".html", ".htm")) for p in scope.pending
    )


def script_references(entry: dict[str, Any], content: str, scope: Scope) -> list[Reference]:
    """Every reference one script makes into the project: its imports of project files (a
    package is the dependency manifest's), and the element ids it looks up."""
    records: list[Reference] = []
    for spec, names in _script_imports(strip_comments(content)):
        if spec.startswith((".", "/")):
            records += _import_references(scope.holder, entry["path"], spec, names, scope)
    if _html_known(scope):
        records += _id_references(scope.holder, entry, scope.index)
    return records


def _link_references(holder: str, entry: dict[str, Any], scope: Scope) -> tuple[list[Reference], bool]:
    """The scripts and stylesheets a page links, and whether it loads a script from elsewhere."""
    records: list[Reference] = []
    path = entry["path"]
    external_scripts = False
    for kind, specs in ((SCRIPT, entry.get("scripts") or []), (STYLESHEET, entry.get("styles") or [])):
        for spec in specs:
            if _external(spec) or spec.startswith("data:"):
                external_scripts = external_scripts or kind == SCRIPT
                continue
            target = resolve_path(path, spec)
            if target in scope.pending:
                continue
            owner = scope.index.paths.get(target, (None,))[0]
            ok = owner is not None or target in scope.generated
            same_kind = scope.index.of_kind("javascript" if kind == SCRIPT else "css")
            problem = (
                None
                if ok
                else f"links {spec!r}, which no file of the project is; its {kind}s are: {', '.join(same_kind) or 'none'}"
            )
            records.append(Reference(holder, path, None, kind, spec, f"{kind} {spec!r}", owner, problem))
    return records, external_scripts


def _handler_references(holder: str, entry: dict[str, Any], scope: Scope) -> list[Reference]:
    """The functions a page's inline handlers (`onclick="save()"`) call: a script's, or the
    page's own inline script's."""
    records: list[Reference] = []
    globals_ = scope.index.js_globals
    for handler in entry.get("handlers") or []:
        for name in _HANDLER_CALL.findall(handler.strip()):
            if name in _BROWSER_NAMES or name in scope.pending:
                continue
            ok = name in globals_ or name in (entry.get("inline_functions") or [])
            problem = (
                None
                if ok
                else f"the handler {handler[:60]!r} calls {name}(), which no script defines; the scripts define: "
                + ", ".join(sorted(globals_)[:30])
            )
            reference = f"handler calls {name}()"
            records.append(
                Reference(holder, entry["path"], None, HANDLER, name, reference, globals_.get(name), problem)
            )
    return records


def page_references(entry: dict[str, Any], content: str, scope: Scope) -> list[Reference]:
    """Every reference one page makes: the files it links, the functions its handlers call (not
    judged when it loads a script from elsewhere: a library may define them), and the element ids
    its inline scripts look up."""
    records, external_scripts = _link_references(scope.holder, entry, scope)
    if not external_scripts:
        records += _handler_references(scope.holder, entry, scope)
    if entry.get("inline_ids_used") and _html_known(scope):
        inline = {"path": entry["path"], "ids_used": entry["inline_ids_used"], "ids_set": []}
        records += _id_references(scope.holder, inline, scope.index)
    return records


def global_collisions(entries: list[tuple[str, dict[str, Any]]]) -> list[Reference]:
    """Top-level names two classic (non-module) scripts one page loads both define, each a
    problem of the later module (`entries`: (module, file interface) in build order)."""
    records: list[Reference] = []
    scripts = {e["path"]: (m, e) for m, e in entries if e.get("kind") == "javascript" and not e.get("module")}
    for page in (e for _, e in entries if e.get("kind") == "html"):
        seen: dict[str, tuple[str, str]] = {}
        for spec in page.get("scripts") or []:
            loaded = scripts.get(resolve_path(page["path"], spec))
            if loaded is None:
                continue
            module_id, entry = loaded
            for name in script_names(entry):
                first = seen.setdefault(name, (module_id, entry["path"]))
                if first[0] == module_id:
                    continue
                problem = (
                    f"{entry['path']} and {first[1]} (module {first[0]}) both define the global {name!r} "
                    f"on {page['path']}: the second replaces the first (let/const/class: fails to load)"
                )
                reference = f"global {name!r} on {page['path']}"
                records.append(
                    Reference(
                        module_id,
                        entry["path"],
                        None,
                        GLOBAL_COLLISION,
                        name,
                        reference,
                        first[0],
                        problem,
                        page["path"],
                    )
                )
    return records
