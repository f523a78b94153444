"""The CSS kind: stylesheets, checked for balanced braces; their interface is the ids and
classes their selectors name."""

from __future__ import annotations

import re
from typing import Any

from ..base import Kind

_LIST_ITEMS = 40
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
"""A CSS comment: the one place stylesheets' comments are recognised."""


def _css(path: str, content: str) -> dict[str, Any]:
    selectors = " ".join(re.findall(r"([^{}]+)\{", CSS_COMMENT.sub("", content)))
    selectors = re.sub(r"""(["']).*?\1""", "", selectors)
    ids = sorted(set(re.findall(r"#([A-Za-z_][\w-]*)", selectors)))
    classes = sorted(set(re.findall(r"\.([A-Za-z_][\w-]*)", selectors)))
    return {"path": path, "kind": "css", "ids": ids[: _LIST_ITEMS * 2], "classes": classes[: _LIST_ITEMS * 2]}


class CssKind(Kind):
    name = "css"
    description = "Stylesheets (.css) for the pages"
    suffixes = (".css",)
    guide = "CSS: style the ids and classes the page defines."

    def validate(self, path: str, text: str) -> list[str]:
        depth = 0
        for char in CSS_COMMENT.sub("", text):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth < 0:
                return ["CSS: '}' without an open '{'"]
        return [f"CSS: {depth} unclosed '{{'"] if depth else []

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return _css(path, text)
