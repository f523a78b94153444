"""The JavaScript syntax check: one persistent Node process compiles (never runs) each file."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from matrioska.kinds.web import javascript
from matrioska.kinds.web.javascript import JavaScriptKind

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
KIND = JavaScriptKind()
_UNCACHED = javascript._syntax_problems.__wrapped__


@pytest.fixture
def checker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A checker of this test's own (the process-wide one is put back afterwards), and no
    verdicts kept from before: every check below really asks Node."""
    monkeypatch.setattr(javascript, "_checker", None)
    monkeypatch.setattr(javascript, "_syntax_problems", functools.lru_cache(maxsize=None)(_UNCACHED))
    javascript._syntax_problems.cache_clear()
    yield
    if javascript._checker is not None:
        javascript._checker.close()


def process() -> subprocess.Popen[bytes]:
    assert javascript._checker is not None and javascript._checker._process is not None
    return javascript._checker._process


@needs_node
@pytest.mark.parametrize(
    ("path", "source", "problem"),
    [
        ("app.js", "function f(a, b) { return a + b; }\nconsole.log(f(1, 2));\n", None),
        ("app.js", "#!/usr/bin/env node\nconsole.log('hi');\n", None),
        ("app.js", "return 5;\n", None),  # CommonJS: the file is the body of a function
        ("app.js", "\n\nlet x = ;\n", "JavaScript: SyntaxError: Unexpected token ';' (line 3)"),
        (
            "app.js",
            "let require = 1;\nreturn 2;\n",
            "JavaScript: SyntaxError: Identifier 'require' has already been declared",
        ),
        ("app.js", 'import fs from "fs";\nexport const a = 1;\n', None),  # module syntax: an ES module
        ("app.js", "const x = 1;\nawait Promise.resolve(x);\n", None),  # top-level await: an ES module
        ("app.js", 'import x from "y";\nconst = ;\n', "JavaScript: SyntaxError: Unexpected token '='"),
        ("lib.mjs", "export default function () {}\n", None),
        ("lib.mjs", "return 1;\n", "JavaScript: SyntaxError: Illegal return statement"),
        ("lib.cjs", "module.exports = { a: 1 };\n", None),
        ("lib.cjs", "export const a = 1;\n", "JavaScript: SyntaxError: Unexpected token 'export' (line 1)"),
    ],
)
def test_scripts_and_modules_are_compiled_like_node_check(path: str, source: str, problem: str | None) -> None:
    found = KIND.validate(path, source)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith(problem)


@needs_node
def test_one_node_process_checks_every_file(checker: None) -> None:
    assert KIND.validate("a.js", "let a = 1;") == []
    first = process()
    for i in range(20):
        assert KIND.validate(f"m{i}.js", f"let a{i} = ;") != []
    assert process() is first


@needs_node
def test_the_checker_survives_its_process_being_killed(checker: None) -> None:
    assert KIND.validate("a.js", "let a = 1;") == []
    killed = process()
    os.kill(killed.pid, signal.SIGKILL)
    assert KIND.validate("a.js", "let a = ;") == ["JavaScript: SyntaxError: Unexpected token ';' (line 1)"]
    assert KIND.validate("a.js", "let a = 1;") == []
    assert process() is not killed and killed.poll() is not None  # reaped


@needs_node
@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")
def test_a_hung_checker_is_killed_and_replaced(checker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert KIND.validate("a.js", "let a = 1;") == []
    hung = process()
    monkeypatch.setattr(javascript, "_TIMEOUT", 0.5)
    os.kill(hung.pid, signal.SIGSTOP)
    assert KIND.validate("a.js", "let a = ;") == ["JavaScript: SyntaxError: Unexpected token ';' (line 1)"]
    assert process() is not hung and hung.poll() is not None


@needs_node
def test_a_checker_that_cannot_run_falls_back_to_node_check(checker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(javascript, "_CHECKER", "process.exit(3)")
    assert KIND.validate("a.js", "let a = ;") == ["JavaScript: SyntaxError: Unexpected token ';' (line 1)"]
    assert KIND.validate("a.js", "let a = 1;") == []
    assert javascript._checker is not None and javascript._checker._broken


@needs_node
def test_concurrent_checks_get_their_own_answers(checker: None) -> None:
    results: dict[int, list[str]] = {}

    def check(i: int) -> None:
        source = f"let v{i} = {i};\n" if i % 2 else f"let v{i} = ;\n"
        results[i] = KIND.validate(f"m{i}.js", source)

    threads = [threading.Thread(target=check, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all((results[i] == []) == bool(i % 2) for i in range(40))


@needs_node
def test_closing_the_checker_ends_its_process(checker: None) -> None:
    assert KIND.validate("a.js", "let a = 1;") == []
    running = process()
    javascript._close_checker()  # what runs at interpreter exit
    assert running.poll() is not None
    assert KIND.validate("a.js", "let a = 1;") == []  # and a later check starts a new one


def test_no_node_means_no_javascript_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(javascript.shutil, "which", lambda name: None)
    assert KIND.validate("a.js", "let a = ;") == []
