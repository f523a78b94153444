"""The analyzers' results kept by content hash (issue 42): a file judged once in a process is not
analyzed again; a run of unchanged files starts no analyzer at all."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from matrioska.kinds import analyzers

pytestmark = pytest.mark.skipif(analyzers.tool_path("ruff") is None, reason="ruff is not installed")


def test_an_unchanged_file_is_not_analyzed_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    run = analyzers._run

    def recording(name: str, argv: list[str], root: Path) -> Any:
        # each call's files lie in a folder of their own (`_Group`): "0/a.py"
        seen.append(sorted(p.relative_to(root).as_posix().split("/", 1)[1] for p in root.rglob("*.py")))
        return run(name, argv, root)

    monkeypatch.setattr(analyzers, "_run", recording)
    tag = uuid.uuid4().hex  # this test's own contents: nothing cached by another test
    a = f"# {tag}\nprint(undefined_a)\n"
    b = f"# {tag}\nimport os\n"
    first = analyzers.analyze({"a.py": a, "b.py": b})
    assert seen == [["a.py", "b.py"]]
    assert [(f.path, f.code) for f in first.findings] == [("a.py", "F821"), ("b.py", "F401")]

    c = f"# {tag}\nx = 1\n"
    second = analyzers.analyze({"a.py": a, "c.py": c})
    assert seen[-1] == ["c.py"]  # a.py's findings came from the cache
    assert [(f.path, f.code) for f in second.findings] == [("a.py", "F821")]

    again = analyzers.analyze({"b.py": b, "c.py": c})
    assert len(seen) == 2 and not again.seconds  # nothing new: ruff did not run
    assert [(f.path, f.code) for f in again.findings] == [("b.py", "F401")]

    changed = analyzers.analyze({"a.py": a.replace("undefined_a", "len")})
    assert seen[-1] == ["a.py"] and changed.findings == []


def test_the_calls_of_a_wave_share_one_analyzer_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules of a wave judge their files at the same time: what arrives while ruff runs goes into
    its next run, one process for them all, and each caller gets its own findings back, even for
    files of the same path."""
    import threading
    import time

    runs: list[int] = []
    run = analyzers._run
    started = threading.Event()

    def slow(name: str, argv: list[str], root: Path) -> Any:
        runs.append(len(list(root.rglob("*.py"))))
        started.set()
        time.sleep(0.3)  # the others arrive while the first run goes on
        return run(name, argv, root)

    monkeypatch.setattr(analyzers, "_run", slow)
    tag = uuid.uuid4().hex
    bodies = [f"# {tag} {i}\n" + ("print(missing)\n" if i % 2 else "import os\n") for i in range(5)]
    results: dict[int, Any] = {}

    def judge(i: int) -> None:
        results[i] = analyzers.ruff({"app.py": bodies[i]})

    first = threading.Thread(target=judge, args=(0,))
    first.start()
    started.wait(5)
    others = [threading.Thread(target=judge, args=(i,)) for i in range(1, 5)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(30)
    assert runs == [1, 4]  # the lone first call at once; the four that came meanwhile in one process
    for i in range(5):
        assert [(f.path, f.code) for f in results[i].findings] == [("app.py", "F821" if i % 2 else "F401")]
