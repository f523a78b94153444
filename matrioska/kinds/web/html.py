"""The HTML kind: pages, checked for markup (at least one element), balanced structure and
duplicate ids, their interface (element ids, form fields, the scripts and styles they link), the
`index.html` a web project without a page gets, and the check that opens them in headless
Chromium, where its `page` scenarios are played too (`checks.py`)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from ..base import CheckContext, Kind, ScenarioOutcome
from .checks import page_checks, page_scenarios
from .javascript import javascript_interface

_LIST_ITEMS = 40


class HTMLChecker(HTMLParser):
    _VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
        "!doctype",
    }
    _OPTIONAL_END = {"p", "li", "td", "th", "tr", "option", "dt", "dd", "thead", "tbody", "colgroup"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: dict[str, int] = {}
        self.problems: list[str] = []
        self.elements = 0  # start tags seen (a doctype or a comment is no element)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements += 1
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] = self.ids.get(value, 0) + 1
        if tag not in self._VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID:
            return
        if tag not in self.stack:
            self.problems.append(f"closing </{tag}> without an open <{tag}>")
            return
        while self.stack and self.stack[-1] != tag:
            open_tag = self.stack.pop()
            if open_tag not in self._OPTIONAL_END:
                self.problems.append(f"<{open_tag}> is not closed before </{tag}>")
        self.stack.pop()


class _HTMLInterface(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.fields: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.handlers: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "") for k, v in attrs}
        if values.get("id") and values["id"] not in self.ids:
            self.ids.append(values["id"])
        if tag in ("input", "select", "textarea"):
            label = values.get("name") or values.get("id") or ""
            kind = values.get("type") or tag
            if label:
                self.fields.append(f"{label} ({kind})")
        if tag == "script":
            self._in_script = not values.get("src")
            if values.get("src"):
                self.scripts.append(values["src"])
        if tag == "link" and "stylesheet" in values.get("rel", "").lower() and values.get("href"):
            self.styles.append(values["href"])
        for name, value in attrs:
            if name.startswith("on") and value:
                self.handlers.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)


def _html(path: str, content: str) -> dict[str, Any]:
    parser = _HTMLInterface()
    try:
        parser.feed(content)
        parser.close()
    except Exception:  # HTMLParser is lenient; a failure here is no reason to lose the rest
        pass
    inline = javascript_interface(path, "\n".join(parser.inline)) if parser.inline else None
    return {
        "path": path,
        "kind": "html",
        "ids": parser.ids[: _LIST_ITEMS * 2],
        "fields": parser.fields[:_LIST_ITEMS],
        "scripts": parser.scripts,
        "styles": parser.styles,
        "handlers": parser.handlers[:_LIST_ITEMS],
        "inline_functions": [f["name"] for f in inline["functions"]] + (inline["globals"] + inline["window"])
        if inline
        else [],
        "inline_ids_used": inline["ids_used"] if inline else [],
    }


def _entry_point(project_name: str, files: list[Any]) -> str:
    styles = [f.path for f in files if f.path.endswith(".css")]
    scripts = [f.path for f in files if f.path.endswith((".js", ".mjs"))]
    head = "\n".join(f'  <link rel="stylesheet" href="{p}">' for p in styles)
    body = "\n".join(f'  <script src="{p}"></script>' for p in scripts)
    return (
        f'<!DOCTYPE html>\n<html>\n<head>\n  <meta charset="utf-8">\n  <title>{project_name}</title>\n'
        f"{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


class HtmlKind(Kind):
    name = "html"
    description = "Web pages (.html): structure, element ids, forms; they link the styles and scripts"
    suffixes = (".html", ".htm")
    guide = "HTML: give every element a script uses a unique id; link the styles and scripts by their project paths."
    scenario_kinds = ("page",)

    def validate(self, path: str, text: str) -> list[str]:
        checker = HTMLChecker()
        checker.feed(text)
        checker.close()
        problems = list(checker.problems)
        if not checker.elements:
            # A page a small model wrote as prose (often its own prompt reworded) parses without
            # an error: it is no page until it holds at least one element.
            what = "it is empty" if not text.strip() else "it is plain text"
            problems.append(f"the page holds no HTML element ({what}): write the page's markup")
        optional = {"html", "body", "head", *checker._OPTIONAL_END}
        problems += [f"<{tag}> is never closed" for tag in checker.stack if tag not in optional]
        problems += [f"duplicate id {name!r} ({count} elements)" for name, count in checker.ids.items() if count > 1]
        return problems

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return _html(path, text)

    def generate(self, project_name: str, files: list[Any]) -> dict[str, str]:
        paths = {f.path for f in files}
        web = any(p.endswith((".css", ".js")) for p in paths) and not any(p.endswith(".py") for p in paths)
        return {"index.html": _entry_point(project_name, files)} if web and "index.html" not in paths else {}

    def check(self, paths: list[str], ctx: CheckContext) -> None:
        """The project's pages opened in headless Chromium (`checks.py`)."""
        page_checks(paths, ctx)

    def run_scenarios(self, ctx: CheckContext) -> list[ScenarioOutcome]:
        """The `page` scenarios played in headless Chromium (`checks.py`)."""
        return page_scenarios(ctx)
