"""Page scripts fixed without the model (issue 34), and the problems the analyzers' findings on
them become.

- `import`/`export` in a script that a page loads as a classic script (`<script src="app.js">`
  without `type="module"`): a browser refuses the whole script (`SyntaxError: Unexpected token
  'export'`). oxlint parses every file as a module, so it never says so: `fix_web` reads the
  pages' script tags itself. The tag becomes `type="module"` when nothing else on the page needs
  the script's top-level names as globals (an inline `onclick="f()"` handler, another classic
  script, a handler in markup the script writes itself): a module's names are not globals.
  Otherwise the `export` keywords are dropped, when the script has no `import` (and no module
  script imports it). Else the script is left, and `script_problems` says what is wrong where.
- A library global used without its script (jQuery's `$`, lodash's `_`, `axios`, `Chart`...):
  `library_problem` names the library. Pages work offline, so the answer is never a CDN but the
  plain DOM call that does the same.
- `declared_globals`: the names the project's classic scripts declare (a page's classic scripts
  share one global scope), for oxlint's `globals`, so a function of `a.js` that `b.js` calls is
  not an undefined name.
"""

from __future__ import annotations

import html.parser
import posixpath
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..analyzers import JS_SUFFIXES, Finding, Fix
from .javascript import javascript_interface
from .source import code_only

__all__ = ["fix_web", "script_problems", "library_problem", "declared_globals", "LIBRARIES"]

PAGE_SUFFIXES = (".html", ".htm")
_CLASSIC_TYPES = {"", "text/javascript", "application/javascript", "text/ecmascript", "application/ecmascript"}
_IMPORT = re.compile(r"^[ \t]*import\b(?!\s*\()", re.M)
"""An import statement (or `import.meta`); `import(...)` is fine in a classic script."""
_EXPORT = re.compile(r"^[ \t]*export\b(?=\s*[\w{*$])", re.M)
_EXPORT_DECLARATION = re.compile(
    r"^[ \t]*(?P<keyword>export\s+(?:default\s+)?)"
    r"(?=(?:async\s+)?function\b\s*\*?\s*[A-Za-z_$]|class\s+[A-Za-z_$]|const\b|let\b|var\b)",
    re.M,
)
_EXPORT_LIST = re.compile(r"^[ \t]*export\s*\{[^}]*\}[ \t]*;?[ \t]*(?:\n|$)", re.M)
_IMPORT_FROM = re.compile(r"^[ \t]*(?:import|export)\b[^;()=]*?(?:\bfrom|(?<=import))\s*(?=[\"'])", re.M)
_IDENTIFIER = re.compile(r"(?<![\w$.])[A-Za-z_$][\w$]*")
_HANDLER_IN_STRING = re.compile(r"""\bon[a-z]+\s*=\s*\\?(["'])(.*?)\\?\1""", re.I | re.S)
_SCRIPT_END = re.compile(r"</script\s*>", re.I)
_TYPE_ATTRIBUTE = re.compile(r"""\s+type\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_NODE_ONLY = re.compile(r"\brequire\s*\(")
_TEST_FILE = re.compile(r"(?:^|/)(?:test/.*|[^/]*\.(?:test|spec)\.[cm]?js)$")
_RULE = {"import": "import in a classic script", "export": "export in a classic script"}

LIBRARIES: dict[str, tuple[str, str]] = {
    # global -> (library, what a page that works offline uses instead)
    "$": ("jQuery", "`document.querySelector` and `addEventListener`"),
    "jQuery": ("jQuery", "`document.querySelector` and `addEventListener`"),
    "_": ("lodash", "the array methods (`map`, `filter`, `reduce`, `sort`)"),
    "axios": ("axios", "`fetch`"),
    "moment": ("Moment.js", "`Date` and `toLocaleDateString`"),
    "dayjs": ("Day.js", "`Date` and `toLocaleDateString`"),
    "Chart": ("Chart.js", "a `<canvas>` drawn with its 2D context"),
    "d3": ("D3", "the plain DOM (`document.createElement`) or a `<canvas>`"),
    "THREE": ("three.js", "a `<canvas>` drawn with its 2D context"),
    "Vue": ("Vue", "the plain DOM (`document.querySelector`, `textContent`, `addEventListener`)"),
    "React": ("React", "the plain DOM (`document.createElement`, `textContent`, `addEventListener`)"),
    "ReactDOM": ("React", "the plain DOM (`document.createElement`, `textContent`, `addEventListener`)"),
    "bootstrap": ("Bootstrap", "plain CSS and `classList`"),
    "Handlebars": ("Handlebars", "template literals (`${...}`)"),
    "Mustache": ("Mustache", "template literals (`${...}`)"),
    "Swal": ("SweetAlert", "`alert` / `confirm` or a `<dialog>`"),
    "toastr": ("toastr", "an element whose `textContent` shows the message"),
}


# -- the pages' script tags --------------------------------------------------------------------


@dataclass
class _Tag:
    """One `<script>` element of a page, where it is in the page's text."""

    page: str
    start: int
    raw: str
    """The start tag as written."""
    kind: str
    """"classic", "module" or "other" (a template, `text/babel`...)."""
    src: str | None
    """The project path it loads (None: inline, or from another origin)."""
    external: bool = False
    body: str = ""
    body_start: int = 0

    @property
    def end(self) -> int:
        return self.start + len(self.raw)


@dataclass
class _Page:
    path: str
    text: str
    tags: list[_Tag] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    """The code of its inline event handlers (`onclick="add()"`)."""

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1


class _ScriptTags(html.parser.HTMLParser):
    def __init__(self, page: _Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", page.text))]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        self.page.handlers += [v for name, v in values.items() if name.startswith("on") and v.strip()]
        if tag != "script":
            return
        line, column = self.getpos()
        raw = self.get_starttag_text() or "<script>"
        kind_type = values.get("type", "").strip().lower()
        kind = "module" if kind_type == "module" else "classic" if kind_type in _CLASSIC_TYPES else "other"
        start = self._line_starts[line - 1] + column
        if self.page.text[start : start + len(raw)] != raw:  # a position html.parser miscounted
            start = max(0, self.page.text.find(raw, max(0, start - 200)))
        item = _Tag(self.page.path, start, raw, kind, None)
        if "src" in values:
            item.src = _resolve(self.page.path, values["src"])
            item.external = item.src is None
        else:
            end = _SCRIPT_END.search(self.page.text, item.end)
            item.body_start = item.end
            item.body = self.page.text[item.end : end.start() if end else len(self.page.text)]
        self.page.tags.append(item)


def _resolve(page: str, src: str) -> str | None:
    """The project path a page's `src` names; None for another origin or a data URL."""
    src = src.strip().split("#", 1)[0].split("?", 1)[0]
    if not src or re.match(r"^(?:[a-z][\w+.-]*:|//)", src, re.I):
        return None
    joined = src.lstrip("/") if src.startswith("/") else posixpath.join(posixpath.dirname(page), src)
    path = posixpath.normpath(joined)
    return None if path.startswith("..") else path


def _parse(path: str, text: str) -> _Page:
    page = _Page(path, text)
    parser = _ScriptTags(page)
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # what html.parser may raise on broken markup
        pass
    return page


def _pages(files: Mapping[str, str], pages: Mapping[str, str]) -> dict[str, _Page]:
    """Every page known, the module's own texts over the older ones in `pages`."""
    known = {**pages, **{p: t for p, t in files.items() if p.lower().endswith(PAGE_SUFFIXES)}}
    return {path: _parse(path, text) for path, text in sorted(known.items())}


# -- what a script is and needs ----------------------------------------------------------------


def _module_syntax(code: str) -> str | None:
    """ "import" or "export" when the script has that module statement (import first), else None."""
    masked = code_only(code)
    if _IMPORT.search(masked):
        return "import"
    return "export" if _EXPORT.search(masked) else None


def _top_level_names(code: str) -> tuple[set[str], set[str]]:
    """The names a script declares at its top level, and those it also sets on `window`."""
    info = javascript_interface("script.js", textwrap.dedent(code))
    declared = {f["name"] for f in info["functions"]} | set(info["classes"]) | set(info["globals"])
    return declared, set(info["window"])


def _used_names(code: str) -> set[str]:
    """The names a piece of code reads (not the properties it reads: `x.name` is no use of `name`)."""
    return set(_IDENTIFIER.findall(code_only(code)))


def _string_handlers(code: str) -> list[str]:
    """The code of event handlers in markup a script writes (`'<button onclick="del(3)">'`)."""
    return [m.group(2) for m in _HANDLER_IN_STRING.finditer(code)]


def _import_targets(code: str, importer: str) -> set[str]:
    """The project files that module code at `importer` imports or re-exports from."""
    targets = set()
    for match in _IMPORT_FROM.finditer(code_only(code)):
        quote = code[match.end()]
        close = code.find(quote, match.end() + 1)
        path = _resolve(importer, code[match.end() + 1 : close]) if close > 0 else None
        if path is not None:
            targets.add(path)
    return targets


# -- the plan for each script with module syntax -----------------------------------------------


@dataclass
class _Script:
    """A script with `import`/`export` that some page loads as a classic script: a project file,
    or a page's inline script."""

    name: str
    """Its project path, or "index.html (inline script, line 12)"."""
    path: str
    """The file that holds its text: the script itself, or the page."""
    code: str
    offset: int
    """Where its code starts in that file's text."""
    loaders: list[_Tag]
    """The classic tags that load it (an inline script: its own)."""
    syntax: str = "export"
    action: str = "leave"
    """"module" (its classic tags made modules), "drop" (its `export` keywords dropped) or "leave"."""
    why: str = ""

    def owns(self, tag: _Tag) -> bool:
        return tag in self.loaders if self.path != self.name else tag.src == self.path

    def line(self, offset: int, pages: dict[str, _Page]) -> int:
        """The line, in its file, of an offset into its code."""
        if self.path in pages:
            return pages[self.path].line(self.offset + offset)
        return self.code.count("\n", 0, offset) + 1


@dataclass
class _Project:
    files: Mapping[str, str]
    pages: dict[str, _Page]
    findings: list[Finding]
    imported: set[str] = field(default_factory=set)
    """The project files that a module script (a file or a page's inline module) imports."""


def _project(files: Mapping[str, str], findings: Iterable[Finding], pages: Mapping[str, str]) -> _Project:
    project = _Project(files, _pages(files, pages), list(findings))
    for path, text in files.items():
        if path.lower().endswith(JS_SUFFIXES) and _module_syntax(text):
            project.imported |= _import_targets(text, path)
    for page in project.pages.values():
        for tag in page.tags:
            if tag.kind == "module" and tag.src is None and not tag.external:
                project.imported |= _import_targets(tag.body, page.path)
    return project


def _scripts(project: _Project) -> list[_Script]:
    """Every known script with module syntax that a page loads as a classic script, planned."""
    by_file: dict[str, _Script] = {}
    found: list[_Script] = []
    for page in project.pages.values():
        for tag in page.tags:
            if tag.kind != "classic" or tag.external:
                continue
            if tag.src is not None:
                text = project.files.get(tag.src)
                if text is None or not tag.src.lower().endswith(JS_SUFFIXES) or not _module_syntax(text):
                    continue
                if tag.src not in by_file:
                    by_file[tag.src] = _Script(tag.src, tag.src, text, 0, [])
                    found.append(by_file[tag.src])
                by_file[tag.src].loaders.append(tag)
            elif page.path in project.files and _module_syntax(tag.body):
                name = f"{page.path} (inline script, line {page.line(tag.start)})"
                found.append(_Script(name, page.path, tag.body, tag.body_start, [tag]))
    for script in found:
        _plan(script, project)
    return found


def _plan(script: _Script, project: _Project) -> None:
    script.syntax = _module_syntax(script.code) or "export"
    declared, on_window = _top_level_names(script.code)
    used: set[str] = set()
    unknown: list[str] = []
    for handler in _string_handlers(script.code):
        used |= _used_names(handler)
    for page in dict.fromkeys(tag.page for tag in script.loaders):
        used_here, unknown_here = _page_uses(project, project.pages[page], script)
        used |= used_here
        unknown += unknown_here
    scripts = (*JS_SUFFIXES, *PAGE_SUFFIXES)
    used |= {
        f.name
        for f in project.findings
        if f.undefined and f.name and f.path != script.path and f.path.lower().endswith(scripts)
    }
    needed = sorted((declared - on_window) & used)
    outside = sorted({tag.page for tag in script.loaders if tag.page not in project.files})
    droppable = (
        script.syntax == "export" and script.path not in project.imported and _dropped(script.code)[0] is not None
    )
    if not needed and not outside and (not unknown or not droppable):
        script.action = "module"
    elif droppable:
        script.action = "drop"
        script.why = (
            _uses(script, needed)
            if needed
            else f"{' and '.join(outside)} belongs to another module"
            if outside
            else f"the page's other scripts ({', '.join(unknown)}) may use its names as globals"
        )
    elif needed:
        script.why = f"{_uses(script, needed)}, and a module's names are not globals"
    else:  # a page of another module loads it, and an `import` (or a module importing it) keeps it a module
        script.why = f"{' and '.join(outside)} belongs to another module"


def _page_uses(project: _Project, page: _Page, script: _Script) -> tuple[set[str], list[str]]:
    """The names a page's handlers and its other classic scripts read (those without module
    syntax: one with it is refused as a classic script), and its classic scripts whose text is not
    known here."""
    used: set[str] = set()
    unknown: list[str] = []
    for handler in page.handlers:
        used |= _used_names(handler)
    for tag in page.tags:
        if tag.kind != "classic" or tag.external or script.owns(tag):
            continue
        text = tag.body if tag.src is None else project.files.get(tag.src)
        if text is None:
            unknown.append(tag.src or page.path)
            continue
        if _module_syntax(text):  # refused as a classic script itself: it is planned on its own
            continue
        used |= _used_names(text)
        for handler in _string_handlers(text):
            used |= _used_names(handler)
    return used, unknown


def _uses(script: _Script, names: list[str]) -> str:
    """ "index.html uses `greet` from it as a global"."""
    pages = " and ".join(dict.fromkeys(tag.page for tag in script.loaders))
    shown = ", ".join(f"`{n}`" for n in names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    verb = "use" if " and " in pages else "uses"
    return f"{pages} {verb} {shown} from it as {'a global' if len(names) == 1 else 'globals'}"


def _dropped(code: str) -> tuple[str | None, list[tuple[int, int, str]]]:
    """The script with its `export` keywords dropped and its `export { ... };` lines removed, and
    each edit (start, end, what was there); None when module syntax would be left (the
    `export default` of an expression, a re-export)."""
    masked = code_only(code)
    edits: list[tuple[int, int, str]] = []
    for match in _EXPORT_DECLARATION.finditer(masked):
        start, end = match.span("keyword")
        edits.append((start, end, code[start:end]))
    for match in _EXPORT_LIST.finditer(masked):
        if not re.search(r"\bfrom\b", masked[match.start() : match.end()]):
            edits.append((match.start(), match.end(), code[match.start() : match.end()]))
    result = code
    for start, end, _ in sorted(edits, reverse=True):
        result = result[:start] + result[end:]
    if _module_syntax(result) is not None:
        return None, []
    return result, sorted(edits)


# -- the fixes ---------------------------------------------------------------------------------


def fix_web(
    files: Mapping[str, str], findings: Iterable[Finding], pages: Mapping[str, str]
) -> tuple[dict[str, str], list[Fix]]:
    """`files` (a module's own .js and .html, path -> text) with the page scripts a browser would
    refuse fixed: a classic tag made `type="module"`, or the script's `export` keywords dropped.
    `pages` are the project's pages known so far (a tag is edited only in a page of `files`);
    `findings` the analyzers' findings on `files` (an undefined name elsewhere that the script
    declares counts as a use of it as a global). Returns the files and one `Fix` per change."""
    project = _project(files, findings, pages)
    edits: dict[str, list[tuple[int, int, str]]] = {}
    fixes: list[Fix] = []
    for script in _scripts(project):
        rule = _RULE[script.syntax]
        if script.action == "module":
            for tag in script.loaders:
                edits.setdefault(tag.page, []).append((tag.start, tag.end, _as_module(tag.raw)))
                line = project.pages[tag.page].line(tag.start)
                shown = f'`<script src="{tag.src}">`' if tag.src else f"the inline `<script>` at line {line}"
                fixes.append(Fix(tag.page, line, f'{shown} in {tag.page} made type="module"', rule))
        elif script.action == "drop":
            for start, end, what in _dropped(script.code)[1]:
                edits.setdefault(script.path, []).append((script.offset + start, script.offset + end, ""))
                line = script.line(start, project.pages)
                head = _head(what, script.code[end:])
                kept = re.sub(r"^export\s+(?:default\s+)?", "", head)
                described = f"removed `{head}`" if head.startswith("export {") else f"`{head}` became `{kept}`"
                fixes.append(Fix(script.path, line, f"{described} ({script.why})", rule))
    fixed = dict(files)
    for path, changes in edits.items():
        text = fixed[path]
        for start, end, replacement in sorted(changes, reverse=True):
            text = text[:start] + replacement + text[end:]
        fixed[path] = text
    return fixed, fixes


def _as_module(raw: str) -> str:
    """A `<script ...>` start tag with `type="module"` (in place of a classic type it had)."""
    if _TYPE_ATTRIBUTE.search(raw):
        return _TYPE_ATTRIBUTE.sub(' type="module"', raw, count=1)
    return re.sub(r"^<script", '<script type="module"', raw, count=1, flags=re.I)


def _head(dropped: str, rest: str) -> str:
    """How a dropped export is shown: `export function greet`, `export { a, b };`."""
    if dropped.lstrip().startswith("export {") or "{" in dropped:
        return " ".join(dropped.split())
    declaration = re.match(r"[^(={\n]*", rest)
    return " ".join((dropped + (declaration.group(0) if declaration else "")).split())


def script_problems(files: Mapping[str, str], pages: Mapping[str, str]) -> list[str]:
    """The scripts a page loads as classic scripts that have `import`/`export` and that
    `fix_web` cannot fix, one problem each: where, why a browser refuses it, what to change."""
    project = _project(files, [], pages)
    problems = []
    for script in _scripts(project):
        if script.action != "leave":
            continue
        match = (_IMPORT if script.syntax == "import" else _EXPORT).search(code_only(script.code))
        line = script.line(match.start() if match else 0, project.pages)
        where = f"{script.path}:{line}" if script.path == script.name else f"{script.name}"
        error = (
            "Cannot use import statement outside a module" if script.syntax == "import" else "Unexpected token 'export'"
        )
        pages_shown = " and ".join(dict.fromkeys(tag.page for tag in script.loaders))
        tag = f'<script src="{script.path}">' if script.path == script.name else "<script>"
        problems.append(
            f"{where} has `{script.syntax}`, but {pages_shown} loads it as a classic script (`{tag}` without "
            f'type="module"), so the browser refuses all of it (SyntaxError: {error}); not fixed here: '
            f'{script.why}. Load it with type="module" and put what the page calls from handlers on '
            "`window` (`window.name = name`), or drop `import`/`export` and load the scripts in order"
        )
    return problems


def library_problem(finding: Finding) -> str | None:
    """The problem for a script's use of a library's global that no page loads (jQuery's `$`...),
    or None when the finding is no such use. Pages work offline: never a CDN."""
    if not finding.undefined or finding.name not in LIBRARIES:
        return None
    if not finding.path.lower().endswith(JS_SUFFIXES + PAGE_SUFFIXES):
        return None
    library, instead = LIBRARIES[finding.name]
    whose = f"{library}'s `{finding.name}`" if finding.name != library else f"`{library}`"
    return (
        f"{finding.path}:{finding.line} uses {whose}, but no page loads {library}: pages work offline "
        f"(never a CDN) and the project has no copy of it, so use {instead} instead"
    )


def declared_globals(files: Mapping[str, str]) -> set[str]:
    """The top-level names the project's classic scripts and pages' inline scripts declare (and
    every `window.x = ...` of any script): one page's classic scripts share one global scope.
    A script with `import`/`export`, one that a page of `files` loads only as a module, a Node
    script (`require(...)`) that no page loads, and a test file declare no globals."""
    names: set[str] = set()
    loaded: dict[str, set[str]] = {}
    for path, text in files.items():
        if not path.lower().endswith(PAGE_SUFFIXES):
            continue
        for tag in _parse(path, text).tags:
            if tag.src is not None:
                loaded.setdefault(tag.src, set()).add(tag.kind)
            elif tag.kind == "classic" and not tag.external and not _module_syntax(tag.body):
                declared, on_window = _top_level_names(tag.body)
                names |= declared | on_window
    for path, text in files.items():
        if not path.lower().endswith(JS_SUFFIXES):
            continue
        declared, on_window = _top_level_names(text)
        names |= on_window
        kinds = loaded.get(path)
        node = _NODE_ONLY.search(code_only(text)) is not None or _TEST_FILE.search(path) is not None
        if _module_syntax(text) or (kinds is not None and "classic" not in kinds) or (kinds is None and node):
            continue
        names |= declared
    return {n for n in names if re.fullmatch(r"[A-Za-z_$][\w$]*", n)}
