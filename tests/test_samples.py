"""Best of N (issue 27): K candidates per module attempt, the module's own checks choose."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.cli.progress import ProgressPrinter
from matrioska.plan.parsing import UPDATE_MARKER

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

# (the broken candidates are the shorter ones: candidates clean on the static checks are run
# shortest first, and the run stops at the first that passes)
RIGHT = 'def is_palindrome(text):\n    """True when text reads the same backwards."""\n    return text == text[::-1]\n'
NAME_ERROR = (
    "def is_palindrome(t):\n    return t == t[::-1]\n\nC = eval('cache_of')(is_palindrome)\n"  # no analyzer sees it
)


def _plan(*modules: dict[str, Any]) -> dict[str, Any]:
    core = {"id": "core", "name": "Core", "description": "is_palindrome(text)", "files": ["pal.py"]}
    return {"project_name": "Palindromes", "goal": "A palindrome checker", "modules": [core, *modules]}


def _block(path: str, code: str) -> str:
    return f"{path}\n```python\n{code}```\n{UPDATE_MARKER} {{}}"


class Replies:
    """Each module's candidates in turn (thread-safe: K candidates are asked for at once)."""

    def __init__(self, plan: dict[str, Any], replies: dict[str, list[str]]) -> None:
        self.plan, self.replies, self.lock = plan, replies, threading.Lock()

    def __call__(self, messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(self.plan)
        module = module_id_of(messages)
        if module is None:  # the assembler's notes
            return "Run main.py."
        with self.lock:
            queue = self.replies.get(module or "")
            assert queue, f"no reply left for {module}"
            return queue.pop(0) if len(queue) > 1 else queue[0]


# the evidence a verdict of "works" needs: the task's behaviour, run
PAL_ACCEPTANCE = [
    {
        "name": "palindromes are told apart",
        "kind": "python",
        "code": "from pal import is_palindrome\nassert is_palindrome('aba')\nassert not is_palindrome('ab')",
    }
]


def _run(tmp_path: Path, respond: Replies, **options: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    model = ScriptedChatModel(respond=respond)
    options.setdefault("acceptance", PAL_ACCEPTANCE)
    with MatrioskaOrchestrator(model, base_path=tmp_path, sandbox="bwrap", **options) as orchestrator:
        return orchestrator.run("A palindrome checker", on_event=events.append), events


@needs_bwrap
def test_the_candidate_whose_import_works_is_kept_without_a_fix_round(tmp_path: Path) -> None:
    """The first two candidates raise NameError at import (nothing static sees it), the third is
    right: the third is kept at the first attempt, no repair, no fix round."""
    replies = Replies(_plan(), {"core": [_block("pal.py", NAME_ERROR)] * 2 + [_block("pal.py", RIGHT)]})
    result, events = _run(tmp_path, replies, samples=3)
    report = result["module_reports"]["core"]
    assert report["attempts"] == 1 and not report["problems"], report["problems"]
    assert report["samples"] == 3
    # a broken candidate: its import fails, and so does the acceptance scenario that imports it
    assert sorted(c["problems"] for c in report["candidates"]) == [0, 2, 2]
    kept = [c for c in report["candidates"] if c["kept"]]
    assert len(kept) == 1 and "cache_of" not in kept[0]["artifact"]
    assert all(c["checked"] for c in report["candidates"])
    assert report["candidates_line"] == (
        f"3 candidates: {[c['problems'] for c in report['candidates']]} problems, kept #{kept[0]['number']}"
    )
    # the rejected candidates are kept in the checkpoint (their files, what failed), not in the project
    rejected = [c for c in report["candidates"] if not c["kept"]]
    assert all("cache_of" in c["artifact"] and "NameError" in c["problem_list"][0] for c in rejected)
    assert "cache_of" not in result["artifacts"]["core"]
    assert "cache_of" not in (tmp_path / "project" / "pal.py").read_text()
    assert result["verification"]["works"] is True and result["verification"]["rounds"] == 0
    assert "runtime_fixes" not in report
    sampling = next(e for e in events if e["event"] == "sampling")
    assert sampling == {"event": "sampling", "samples": 3, "temperature": 0.7, "mode": "parallel"}


@needs_bwrap
def test_the_tests_candidate_that_agrees_with_the_core_is_kept(tmp_path: Path) -> None:
    """The tests module's candidates disagree with the (right) core: two expect 'ab' to be a
    palindrome; the one whose tests pass is kept."""
    tests = {"id": "tests", "name": "Tests", "description": "pytest tests", "files": ["test_pal.py"]}
    tests["dependencies"] = ["core"]
    wrong = "from pal import is_palindrome\n\n\ndef test_it():\n    assert is_palindrome('ab')\n"
    right = "from pal import is_palindrome\n\n\ndef test_it():\n    assert is_palindrome('aba')\n    assert not is_palindrome('ab')\n"
    replies = Replies(
        _plan(tests),
        {
            "core": [_block("pal.py", RIGHT)],
            "tests": [_block("test_pal.py", wrong), _block("test_pal.py", right), _block("test_pal.py", wrong)],
        },
    )
    result, _ = _run(tmp_path, replies, samples=3)
    report = result["module_reports"]["tests"]
    assert report["attempts"] == 1 and not report["problems"], report["problems"]
    assert "not is_palindrome('ab')" in result["artifacts"]["tests"]
    assert result["verification"]["works"] is True
    failed = [c for c in report["candidates"] if c["problems"]]
    assert all("pytest" in c["problem_list"][0] for c in failed)


def test_one_sample_keeps_today_s_path(tmp_path: Path) -> None:
    """K = 1: one call per attempt, no candidates recorded, no own check."""
    replies = Replies(_plan(), {"core": [_block("pal.py", NAME_ERROR)]})
    model = ScriptedChatModel(respond=replies)
    with MatrioskaOrchestrator(model, base_path=tmp_path, verify=False) as orchestrator:
        result = orchestrator.run("A palindrome checker")
    report = result["module_reports"]["core"]
    assert report["samples"] == 1 and "candidates" not in report
    assert len([c for c in model.calls if module_id_of(c) == "core"]) == 1


def test_the_run_says_how_it_samples() -> None:
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return False

    printer = ProgressPrinter(Out(), lambda thread: "")  # type: ignore[arg-type]
    printer({"event": "sampling", "samples": 4, "temperature": 0.7, "mode": "n"})
    printer(
        {
            "event": "module_candidates",
            "module": "core",
            "attempt": 1,
            "line": "4 candidates: [0, 2, 1, 1] problems, kept #1",
        }
    )
    text = "".join(lines)
    assert "samples: 4 candidates per module attempt (one request with n=4), temperature 0.7" in text
    assert "attempt 1: 4 candidates: [0, 2, 1, 1] problems, kept #1" in text


@needs_bwrap
def test_a_fix_round_samples_k_and_takes_a_fix_only_when_it_beats_the_current_files(tmp_path: Path) -> None:
    """No repairs: both first candidates fail their import, the verdict sends core back; of the
    fix round's two candidates the one that imports is taken. A second run whose fix candidates
    all still fail keeps the current files and says why."""
    fixed = Replies(_plan(), {"core": [_block("pal.py", NAME_ERROR)] * 3 + [_block("pal.py", RIGHT)]})
    result, events = _run(tmp_path / "fixed", fixed, samples=2, max_repairs=0, fix_rounds=1)
    report = result["module_reports"]["core"]
    assert report["runtime_fixes"] and result["verification"]["works"] is True
    assert "cache_of" not in result["artifacts"]["core"]
    current = [c for c in report["candidates"] if c["attempt"] == 0]
    assert len(current) == 1 and current[0]["problems"] == 2 and not current[0]["kept"]  # import, scenario
    assert [e["line"] for e in events if e["event"] == "module_candidates"][0].startswith("2 candidates: [2, 2]")

    stuck = Replies(_plan(), {"core": [_block("pal.py", NAME_ERROR)]})
    result, _ = _run(tmp_path / "stuck", stuck, samples=2, max_repairs=0, fix_rounds=1)
    report = result["module_reports"]["core"]
    assert result["verification"]["works"] is False
    assert report["discarded"] == ["kept the current files: attempt 1 changed nothing (the same files or failures)"]
    assert report["unchanged_fixes"] == 1
    assert report["candidates_line"].endswith("kept the current files")


@needs_bwrap
def test_an_own_check_does_not_blame_a_module_for_what_is_not_built_yet() -> None:
    """A candidate importing a module planned but not built yet is not failed for it; a real
    error of its own still is."""
    from matrioska.checking.sandbox import resolve_sandbox
    from matrioska.checking.verify import module_check

    sandbox, _ = resolve_sandbox("bwrap", timeout=30)
    assert sandbox is not None
    waits = "from store import save\n\n\ndef add(x):\n    return save(x)\n"
    found = module_check({"cli.py": waits}, {"cli.py": "cli"}, "cli", sandbox, pending=["store.py"])
    assert found["ran"] and found["problems"] == []
    broken = "import json\n\nVALUE = json.loads('{')\n"
    found = module_check({"cli.py": broken}, {"cli.py": "cli"}, "cli", sandbox, pending=["store.py"])
    assert len(found["problems"]) == 1 and "JSONDecodeError" in found["problems"][0]
