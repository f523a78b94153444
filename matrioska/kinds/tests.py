"""The tests kind: automated tests (pytest `test_*.py` / `*_test.py`, Node `*.test.js` /
`*.spec.js`); a test file must hold at least one test. They are written in a language whose kind
also claims them (and runs them): this kind adds what a test module needs."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .base import Kind

_PY_TEST = re.compile(r"^\s*(async\s+)?def\s+test\w*\s*\(|^\s*class\s+Test\w*", re.M)
_JS_TEST = re.compile(r"\b(test|it)\s*\(\s*['\"`]")


class TestsKind(Kind):
    name = "tests"
    description = "Automated tests (pytest test_*.py, node --test *.test.js) of the modules they depend on"
    guide = (
        "Tests: import the code under test by the module names in the interfaces you are given; "
        "assert on known answers; every test file holds at least one test function."
    )

    def matches(self, path: str) -> bool:
        name = PurePosixPath(path).name.lower()
        return bool(re.fullmatch(r"test_\w+\.py|\w+_test\.py|[\w.-]+\.(test|spec)\.[cm]?js", name))

    def validate(self, path: str, text: str) -> list[str]:
        pattern = _PY_TEST if path.lower().endswith(".py") else _JS_TEST
        if pattern.search(text):
            return []
        what = "def test_...() function" if path.lower().endswith(".py") else "test(...) or it(...) call"
        return [f"a test file without a test: write at least one {what}"]
