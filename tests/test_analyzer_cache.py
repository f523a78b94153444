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
        seen.append(sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")))
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
