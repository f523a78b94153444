"""The element ids a page's scripts look up (`getElementById('x')`, `querySelector('#x')`, `$('#x')`),
read from the project's files, not from the browser: the page's inline scripts and the same-origin
scripts it loaded. `check_ids` then asks the live page which of those ids its DOM lacks, and reports
each as a `missing_id` problem of the script that looks it up. An id the script creates itself (an
`el.id = 'x'`, markup with `id="x"` it writes) is not a lookup of the page's markup."""

from __future__ import annotations

import contextlib
import html.parser
import re
from pathlib import Path
from typing import Any

from .source import id_lookups, strip_comments
from .watch import PageState

_JS_TYPES = ("", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript")
_ID = r"([A-Za-z_][\w:.-]*)"
_CREATED = [
    # el.id = 'x', and id="x" in markup the script writes (innerHTML, insertAdjacentHTML, templates)
    re.compile(r"\bid\s*=\s*\\?(['\"`])" + _ID + r"\\?\1"),
    re.compile(r"setAttribute\(\s*(['\"`])id\1\s*,\s*(['\"`])" + _ID + r"\2\s*\)"),
]


def looked_up_ids(code: str) -> list[str]:
    """The element ids a script looks up and does not create itself, in order of first appearance."""
    code = strip_comments(code)
    created = {m.group(m.lastindex or 0) for pattern in _CREATED for m in pattern.finditer(code)}
    ids: list[str] = []
    for name, _, _ in id_lookups(code):
        if name not in created and name not in ids:
            ids.append(name)
    return ids


class _InlineScripts(html.parser.HTMLParser):
    """The text of a page's inline JavaScript `<script>` elements (no `src`, a JavaScript type), in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        values = {name.lower(): (value or "") for name, value in attrs}
        self._inside = "src" not in values and values.get("type", "").strip().lower() in _JS_TYPES
        if self._inside:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def _read(root: Path, path: str) -> str | None:
    """The text of the project file `path`, or None when it is missing or lies outside `root`."""
    try:
        file = (root / path).resolve()
        file.relative_to(root)
        return file.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError, RuntimeError):
        return None


def _script_lookups(state: PageState) -> dict[str, list[str]]:
    """script path -> the ids it looks up; inline scripts count under the page's own path."""
    lookups: dict[str, list[str]] = {}
    page_html = _read(state.root, state.page)
    if page_html is not None:
        parser = _InlineScripts()
        with contextlib.suppress(AssertionError, ValueError):  # what html.parser may raise on broken markup
            parser.feed(page_html)
            parser.close()
        inline = looked_up_ids("\n;\n".join(parser.scripts))
        if inline:
            lookups[state.page] = inline
    for script in state.scripts:
        code = _read(state.root, script)
        ids = looked_up_ids(code) if code is not None else []
        if ids:
            lookups[script] = ids
    return lookups


_MISSING_JS = "ids => ({missing: ids.filter(id => document.getElementById(id) === null)})"


def check_ids(page: Any, state: PageState, wait_s: float) -> None:
    """Report each id a script looks up that the live page lacks; Playwright's TimeoutError when the page
    does not answer within `wait_s` seconds."""
    lookups = _script_lookups(state)
    if not lookups:
        return
    ids = sorted({name for names in lookups.values() for name in names})
    # wait_for_function, not evaluate: it gives up after its timeout when a script keeps the page busy.
    handle = page.wait_for_function(_MISSING_JS, arg=ids, polling=100, timeout=wait_s * 1000)
    missing = set(handle.json_value()["missing"])
    for script, names in lookups.items():
        for name in names:
            if name in missing:
                message = f"script {script} looks up element id '{name}' but the page has no such element"
                state.add("missing_id", message, script)
