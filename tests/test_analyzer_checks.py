"""The analyzers in the verify step (issue 34): one `analyzers` check row over the assembled
project, each error a failure of the module that owns its file (every finding listed), warnings
listed and never failing, a missing analyzer one note; fixes without the model before it; fix
and repair prompts that carry the findings; a fix that leaves the same findings is followed by
an attempt at the sampling temperature."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from pydantic import Field
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.checking import verify
from matrioska.checking.interfaces import module_interface
from matrioska.checking.sandbox import Sandbox
from matrioska.checking.verdict import NOT_CHECKED, NOT_VERIFIED, with_evidence
from matrioska.checking.verify import verify_project
from matrioska.generation.project import ProjectFile
from matrioska.generation.prompt import fix_messages, repair_messages
from matrioska.kinds import analyzers
from matrioska.model.sampling import DEFAULT_SAMPLE_TEMPERATURE
from matrioska.nodes.executor import READINGS
from matrioska.plan.parsing import UPDATE_MARKER
from matrioska.state import ModuleSpec

CORE = "def add(a, b):\n    return a + b\n\n\ndef clear():\n    return []\n"
TESTS = "def test_add():\n    assert add(1, 2) == 3\n\n\ndef test_clear():\n    assert clear() == []\n"
OWNERS = {"todo.py": "core", "tests/test_todo.py": "tests"}


@pytest.fixture
def no_kind_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the analyzers' check: nothing of the project runs."""
    monkeypatch.setattr(verify, "_kind_checks", lambda *_: None)


def _row(result: dict[str, Any]) -> dict[str, Any]:
    rows = [c for c in result["checks"] if c["kind"] == "analyzers"]
    assert len(rows) == 1, result["checks"]
    return rows[0]


def test_an_undefined_name_fails_the_row_and_goes_to_the_module_with_every_finding(no_kind_checks: None) -> None:
    files = {"todo.py": "import os\n\n" + CORE, "tests/test_todo.py": TESTS}
    result = verify_project(files, OWNERS, Sandbox(mode="none", timeout=10))
    row = _row(result)
    assert row["ok"] is False and row["command"] == "ruff + ty" and row["modules"] == ["tests"]
    lines = row["output"].splitlines()
    assert lines[:2] == [
        "tests/test_todo.py:2 F821 Undefined name `add`",
        "tests/test_todo.py:6 F821 Undefined name `clear`",
    ]  # errors first, every one of them
    assert "todo.py:1 F401 `os` imported but unused" in lines[2:]  # the warning listed, after them
    found = {(f["path"], f["code"], f["name"], f["error"]) for f in row["findings"]}
    assert ("tests/test_todo.py", "F821", "clear", True) in found and ("todo.py", "F401", "os", False) in found
    assert set(row["tool_seconds"]) == {"ruff", "ty"}
    assert result["works"] is False
    [failure] = result["failures"]  # the module that owns the file; the warning's module has none
    assert failure["module"] == "tests" and failure["kind"] == "analyzers"
    evidence = failure["evidence"]
    assert "tests/test_todo.py:2 F821 Undefined name `add` (defined in module core: `from todo import add`)" in evidence
    assert "tests/test_todo.py:6 F821 Undefined name `clear` (defined in module core" in evidence


def test_warnings_alone_pass_the_row_and_never_make_the_verdict(no_kind_checks: None) -> None:
    files = {"todo.py": "import os\n\n" + CORE, "tests/test_todo.py": "from todo import add, clear\n\n" + TESTS}
    result = verify_project(files, OWNERS, Sandbox(mode="none", timeout=10))
    row = _row(result)
    assert row["ok"] is True and row["findings"] and all(not f["error"] for f in row["findings"])
    assert "todo.py:1 F401" in row["output"] and "modules" not in row
    assert result["failures"] == []
    # findings that are all warnings show nothing ran: no "works", no "runs, not checked"
    assert result["works"] is None and "nothing to run" in result["notes"][-1]
    assert with_evidence(result)["verdict"] == NOT_VERIFIED


def test_the_analyzers_missing_are_one_note_and_the_verdict_is_still_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(analyzers, "tool_path", lambda name: None)
    files = {"todo.py": CORE, "tests/test_todo.py": "from todo import add, clear\n\n" + TESTS}
    result = verify_project(files, OWNERS, Sandbox(mode="none", timeout=60))
    assert not [c for c in result["checks"] if c["kind"] == "analyzers"]
    notes = [n for n in result["notes"] if "not installed" in n]
    assert len(notes) == 1 and "ruff" in notes[0] and "ty" in notes[0], result["notes"]
    assert {c["kind"] for c in result["checks"]} >= {"python-import", "pytest"}
    assert result["works"] is True and with_evidence(result)["verdict"] == NOT_CHECKED


def test_a_candidates_own_check_runs_no_analyzers(no_kind_checks: None) -> None:
    files = {"todo.py": CORE, "tests/test_todo.py": TESTS}
    result = verify_project(files, OWNERS, Sandbox(mode="none", timeout=10), only=["tests/test_todo.py"])
    assert result["checks"] == [] and result["failures"] == []


# ----------------------------------------------------------------------------- the prompts

SPEC = ModuleSpec(id="tests", name="Tests", files=["tests/test_todo.py"], dependencies=[])


def _faces() -> dict[str, dict[str, Any]]:
    return {"core": module_interface("core", [ProjectFile("todo.py", CORE, "core")])}


def test_a_fix_prompt_holds_the_findings_of_the_files_it_may_change() -> None:
    own = [ProjectFile("tests/test_todo.py", TESTS.replace("clear()", "clera()"), "tests")]
    messages = fix_messages([], "pytest failed: NameError: name 'add' is not defined", SPEC, _faces(), own, READINGS)
    prompt = str(messages[-1].content)
    assert "ANALYZER FINDINGS IN THE FILES YOU MAY CHANGE" in prompt
    assert "tests/test_todo.py:2 F821 Undefined name `add` (defined in module core: `from todo import add`)" in prompt
    assert "tests/test_todo.py:6 F821 Undefined name `clera` (close candidates: clear)" in prompt


def test_a_fix_prompt_does_not_repeat_the_lines_its_evidence_holds() -> None:
    own = [ProjectFile("tests/test_todo.py", TESTS, "tests")]
    evidence = (
        "ruff + ty found 2 error(s) in your files (path:line code message; warnings after):\n"
        "tests/test_todo.py:2 F821 Undefined name `add` (defined in module core: `from todo import add`)\n"
        "tests/test_todo.py:6 F821 Undefined name `clear` (defined in module core: `from todo import clear`)"
    )
    prompt = str(fix_messages([], evidence, SPEC, _faces(), own, READINGS)[-1].content)
    assert prompt.count("Undefined name `add`") == 1 and "ANALYZER FINDINGS" not in prompt


def test_a_repair_prompt_adds_the_findings_its_problems_lack() -> None:
    files = [ProjectFile("tests/test_todo.py", TESTS, "tests")]
    messages = repair_messages(
        [], "answer", ["tests/test_todo.py is missing"], files=files, interfaces=_faces(), module_id="tests"
    )
    prompt = str(messages[-1].content)
    assert "- tests/test_todo.py is missing" in prompt
    assert "- tests/test_todo.py:2 F821 Undefined name `add` (defined in module core" in prompt
    assert "- tests/test_todo.py:6 F821 Undefined name `clear` (defined in module core" in prompt
    assert "F821" not in str(repair_messages([], "answer", ["x"])[-1].content)  # no files: as before


# ----------------------------------------------------------------------------- the attempts


class HotScripted(ScriptedChatModel):
    """A scripted model that records the temperature it was bound with at each call."""

    temperature: float = 0.0
    seen: list[float] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        if module_id_of(messages):
            self.seen.append(self.temperature)
        return super()._generate(messages, stop, run_manager, **kw)


ONE_MODULE = {
    "project_name": "Adder",
    "goal": "add numbers",
    "modules": [{"id": "core", "name": "Core", "files": ["core.py", "notes.md"]}],
}


def _adder(bodies: list[str]) -> HotScripted:
    """Answers `core.py` only (its `notes.md` missing: a problem each time, so it is repaired),
    with the next of `bodies`."""
    asked: list[int] = []

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        asked.append(1)
        body = bodies[min(len(asked), len(bodies)) - 1]
        return f"core.py\n```python\n{body}```\n{UPDATE_MARKER} {{}}"

    return HotScripted(respond=respond)


def test_a_repair_that_leaves_the_same_findings_is_followed_by_a_sampled_one(tmp_path: Path) -> None:
    model = _adder(["def add(a, b):\n    return a + c\n"])  # the same undefined name every time
    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(model, tmp_path, verify=False, max_repairs=2) as orchestrator:
        orchestrator.run("adder", architecture=ONE_MODULE, on_event=events.append)
    # attempt 1 greedy; attempt 2 (a repair of 1) greedy; it left `c` undefined as 1 did: 3 samples
    assert model.seen == [0.0, 0.0, DEFAULT_SAMPLE_TEMPERATURE]
    assert [e["temperature"] for e in events if e["event"] == "module_resampled"] == [DEFAULT_SAMPLE_TEMPERATURE]


def test_a_repair_that_changes_the_findings_stays_greedy(tmp_path: Path) -> None:
    model = _adder(["def add(a, b):\n    return a + c\n", "def add(a, b):\n    return a + d\n"])
    with MatrioskaOrchestrator(model, tmp_path, verify=False, max_repairs=2) as orchestrator:
        orchestrator.run("adder", architecture=ONE_MODULE)
    assert model.seen == [0.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- a whole run

PY_PLAN = {
    "project_name": "Digests",
    "goal": "digests of text",
    "modules": [  # the tests first: when they are written, nothing defines `digest` yet
        {"id": "tests", "name": "Tests", "files": ["tests/test_digests.py"]},
        {"id": "core", "name": "Core", "files": ["digests.py"]},
    ],
}
DIGESTS = "import hashlib\n\n\ndef digest(text):\n    return hashlib.sha256(text.encode()).hexdigest()[:8]\n"
DIGEST_TESTS = "def test_digest():\n    assert digest('a') == 'ca978112'\n"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_slip_its_module_could_not_see_is_fixed_before_the_checks_with_no_fix_round(tmp_path: Path) -> None:
    asked: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages) or "?"
        asked.append(module)
        path, body = ("digests.py", DIGESTS) if module == "core" else ("tests/test_digests.py", DIGEST_TESTS)
        return f"{path}\n```python\n{body}```\n{UPDATE_MARKER} {{}}"

    events: list[dict[str, Any]] = []
    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify_timeout=60, sandbox="bwrap", max_repairs=0) as orchestrator:
        state = orchestrator.run("digests", architecture=PY_PLAN, on_event=events.append)
    verification = state["verification"]
    assert asked == ["tests", "core"] and verification["rounds"] == 0, asked
    assert all(c["ok"] for c in verification["checks"]), verification["checks"]
    assert "analyzers" in {c["kind"] for c in verification["checks"]}
    fixed = [
        (e["module"], e["path"], e["line"], e["description"])
        for e in events
        if e["event"] == "analyzer_fixed" and e.get("stage") == "verify"
    ]
    assert fixed == [("tests", "tests/test_digests.py", 1, "added `from digests import digest`")]
    rows = [r for r in state["integration_report"]["consistency"] if r.get("kind") == "analyzer_fix"]
    assert [(r["module"], r["where"], r["status"]) for r in rows] == [("tests", "tests/test_digests.py:1", "held")]
    [fix] = state["module_reports"]["tests"]["analyzer_fixes"]
    assert fix["description"] == "added `from digests import digest`" and fix["rule"] == "F821 digest"
    written = (tmp_path / "project" / "tests" / "test_digests.py").read_text()
    assert written.startswith("from digests import digest\n")
    saved = json.loads((tmp_path / "matrioska_checkpoints" / "verification.json").read_text())
    assert [c["ok"] for c in saved["checks"] if c["kind"] == "analyzers"] == [True]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_run_without_the_analyzers_says_so_once_and_still_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analyzers, "tool_path", lambda name: None)
    plan = {**PY_PLAN, "modules": [{**PY_PLAN["modules"][1]}, {**PY_PLAN["modules"][0], "dependencies": ["core"]}]}
    tests = "from digests import digest\n\n\n" + DIGEST_TESTS

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        path, body = ("digests.py", DIGESTS) if module_id_of(messages) == "core" else ("tests/test_digests.py", tests)
        return f"{path}\n```python\n{body}```\n{UPDATE_MARKER} {{}}"

    with MatrioskaOrchestrator(ScriptedChatModel(respond=respond), tmp_path, sandbox="bwrap") as orchestrator:
        state = orchestrator.run("digests", architecture=plan)
    verification = state["verification"]
    assert [n for n in verification["notes"] if "not installed" in n] == [
        "ruff is not installed here: its checks were left to Matrioska's own parsers; "
        "ty is not installed here: its checks were left to Matrioska's own parsers"
    ]
    assert "analyzers" not in {c["kind"] for c in verification["checks"]}
    assert verification["verdict"] == NOT_CHECKED and {"python-import", "pytest"} <= {
        c["kind"] for c in verification["checks"] if c["ok"]
    }
