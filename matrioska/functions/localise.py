"""A failure traced to the function it happened in (issue 35, item 5).

A Python traceback names each frame's file and function (`File "/work/core.py", line 12, in
add_todo`), a JavaScript stack each frame's function and place (`at addBook
(http://127.0.0.1:8000/app.js:3:9)`). The innermost frame in one of a module's files, in a
function of its plan, is where the failure happened: that function is asked again, alone. An
acceptance call that returned a wrong value (`total([2.5, 1]) returned 2.5, expected 3.5`) names
its function too, and the call with the value it should have returned becomes one more example.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["failing_function", "value_failure"]

_PYTHON_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([A-Za-z_][A-Za-z0-9_]*)')
_JS_FRAME = re.compile(r"at (?:[A-Za-z_$][\w$]*\.)?([A-Za-z_$][\w$]*) \(([^()\s]+?):(\d+):\d+\)")


def _ends_with(place: str, files: Iterable[str]) -> str | None:
    place = place.replace("\\", "/")
    for path in files:
        if place == path or place.endswith("/" + path):
            return path
    return None


def failing_function(evidence: str, files: Iterable[str], functions: Iterable[str]) -> tuple[str, str] | None:
    """(file, function) of the innermost frame of `evidence` in one of `files` and in one of
    `functions` (the module's plan), or None when no frame points there."""
    files, names = list(files), set(functions)
    found: tuple[str, str] | None = None
    for match in _PYTHON_FRAME.finditer(evidence):  # outermost first: the last match is innermost
        path = _ends_with(match.group(1), files)
        if path and match.group(3) in names:
            found = (path, match.group(3))
    if found:
        return found
    for match in _JS_FRAME.finditer(evidence):  # innermost first
        path = _ends_with(match.group(2), files)
        if path and match.group(1) in names:
            return path, match.group(1)
    return None


_RETURNED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\((.*)\) returned (.*?), expected (.+?)\s*$", re.MULTILINE)


def value_failure(evidence: str, functions: Iterable[str]) -> tuple[str, list[Any], Any] | None:
    """(function, args, expected) of an acceptance call that returned a wrong value (`total([2.5,
    1]) returned 2.5, expected 3.5`, as the scenarios' asserts word it), when the call is of one
    of `functions` and its values are literals; None otherwise. It becomes the function's example."""
    names = set(functions)
    for match in _RETURNED.finditer(evidence):
        name = match.group(1)
        if name not in names:
            continue
        try:
            args = ast.literal_eval(f"[{match.group(2)}]")
            expected = ast.literal_eval(match.group(4).strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        return name, list(args), expected
    return None
