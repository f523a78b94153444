"""Reading JavaScript source: its comments told from its strings, and the element ids it looks
up. The one place for both, shared by the JavaScript kind's interface, the browser check's id
lookups, the web references and near misses (nothing here imports the kinds or the browser)."""

from __future__ import annotations

import re

_COMMENT_OR_STRING = re.compile(
    r"(\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|//[^\n]*|/\*.*?\*/", re.DOTALL
)
_LOOKUP = re.compile(
    r"(?:getElementById|(?P<selector>querySelector(?:All)?|(?<![\w$])\$))"
    r"\(\s*(?P<quote>['\"`])(?P<hash>#?)(?P<id>[A-Za-z_][\w:.-]*)(?P=quote)\s*\)"
)
_SELECTOR_ID = re.compile(r"[A-Za-z_][\w-]*")


def strip_comments(code: str) -> str:
    """`code` with its comments blanked and its strings kept whole: the one place JavaScript
    comments are recognised. A comment becomes its line breaks (or one space), so what follows
    keeps its line."""
    return _COMMENT_OR_STRING.sub(lambda m: m.group(1) or ("\n" * m.group(0).count("\n") or " "), code)


def id_lookups(code: str) -> list[tuple[str, int, int]]:
    """The element ids `code` looks up, each with the span of the id itself: the one pattern for
    `getElementById('x')`, `querySelector('#x')` / `querySelectorAll('#x')` and jQuery's `$('#x')`."""
    found = []
    for match in _LOOKUP.finditer(code):
        selector, name = bool(match.group("selector")), match.group("id")
        if selector != bool(match.group("hash")) or (selector and not _SELECTOR_ID.fullmatch(name)):
            continue
        found.append((name, match.start("id"), match.end("id")))
    return found


def code_only(code: str) -> str:
    """`code` with its comments and the insides of its strings blanked to spaces (line breaks
    kept, quotes kept), the same length: an offset in it is the same offset in `code`, and what
    is left is only code (keywords at the start of a line are statements, not text)."""

    def blank(match: re.Match[str]) -> str:
        text = match.group(0)
        inner = re.sub(r"[^\n]", " ", text[1:-1]) if match.group(1) else re.sub(r"[^\n]", " ", text)
        return text[0] + inner + text[-1] if match.group(1) else inner

    return _COMMENT_OR_STRING.sub(blank, code)
