"""A failure traced to the function it happened in (issue 35, item 5).

A Python traceback names each frame's file and function (`File "/work/core.py", line 12, in
add_todo`), a JavaScript stack each frame's function and place (`at addBook
(http://127.0.0.1:8000/app.js:3:9)`). The innermost frame in one of a module's files, in a
function of its plan, is where the failure happened: that function is asked again, alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["failing_function"]

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
