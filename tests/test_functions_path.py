"""The function path end to end through the graph (issue 35): a Python module planned as
functions, each written alone with K candidates, the one passing its examples kept, the file
assembled without the model, the tests module written from the kept examples, and a failure
traced to one function that is asked again alone."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska.runs.orchestrator import MatrioskaOrchestrator

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

PLAN = {
    "project_name": "words",
    "goal": "A small Python library of word helpers, with pytest tests",
    "modules": [
        {"id": "core", "name": "Core", "files": ["words.py"], "description": "word helpers"},
        {"id": "tests", "name": "Tests", "kind": "tests", "files": ["tests/test_words.py"], "dependencies": ["core"]},
    ],
}
FUNCTION_PLAN = {
    "functions": [
        {
            "name": "add",
            "params": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}],
            "returns": "int",
            "purpose": "the sum",
            "examples": [{"args": [1, 2], "expected": 3}, {"args": [2, 2], "expected": 4}],
            "calls": [],
        },
        {
            "name": "first_word",
            "params": [{"name": "text", "type": "str"}],
            "returns": "str",
            "purpose": "the first word of a text",
            "examples": [{"args": ["a b"], "expected": "a"}, {"args": ["x"], "expected": "x"}],
            "calls": [],
        },
    ]
}
ADD = ["def add(a: int, b: int) -> int:\n    return a - b\n", "def add(a: int, b: int) -> int:\n    return a + b\n"]
FIRST = "def first_word(text: str) -> str:\n    return text.split()[0]\n"
FIRST_FIXED = "def first_word(text: str) -> str:\n    words = text.split()\n    return words[0] if words else ''\n"


class Script:
    """Answers the function plan, each function's candidates in turn, and records what was asked."""

    def __init__(self, fixed: str = FIRST_FIXED) -> None:
        self.asked: list[str] = []
        self.counts: dict[str, int] = {}
        self.fixed = fixed

    def __call__(self, messages: list[BaseMessage]) -> str:
        system, human = str(messages[0].content), str(messages[-1].content)
        if is_assembler(messages):
            return "notes"
        if "plan one module" in system:
            self.asked.append("plan")
            return "Here is the plan:\n" + json.dumps(FUNCTION_PLAN)
        if "writing ONE" in system:
            name = re.search(r"def (\w+)\(", human).group(1)  # type: ignore[union-attr]
            count = self.counts[name] = self.counts.get(name, 0) + 1
            self.asked.append(name + (" (fix)" if "last version failed" in human else ""))
            if name == "add":
                return f"```python\n{ADD[(count - 1) % 2]}```"
            return self.fixed if "last version failed" in human else FIRST
        self.asked.append(f"whole {module_id_of(messages)}")
        return "nothing useful"


def _run(tmp_path: Path, script: Script, acceptance: list[dict[str, Any]] | None = None) -> tuple[dict, list]:
    events: list[dict[str, Any]] = []
    model = ScriptedChatModel(respond=script)
    with MatrioskaOrchestrator(
        model,
        tmp_path,
        functions=True,
        function_samples=2,
        sandbox="bwrap",
        verify_timeout=60,
        max_repairs=0,
        acceptance=acceptance,
    ) as orchestrator:
        state = orchestrator.run("word helpers", architecture=PLAN, on_event=events.append)
    return state, events


def test_a_module_is_written_function_by_function_and_its_tests_from_the_examples(tmp_path: Path) -> None:
    script = Script()
    state, events = _run(tmp_path, script)
    assert not [a for a in script.asked if a.startswith("whole")], script.asked  # no whole-module prompt
    core = state["module_reports"]["core"]
    assert core["path"] == "functions" and not core["problems"]
    assert core["functions"]["line"].startswith(
        "core: 2 functions, 4 examples, consensus over 16 inputs, 2/2 chosen (K=2, "
    )
    assert (
        core["functions"]["chosen"]["add"].strip() == ADD[1].strip()
    )  # the second candidate passes, the first does not
    written = (tmp_path / "project" / "words.py").read_text()
    assert "return a + b" in written and "return a - b" not in written and "def first_word" in written
    assert state["module_reports"]["tests"]["path"] == "tests from examples"
    tests = (tmp_path / "project" / "tests" / "test_words.py").read_text()
    assert "from words import" in tests and "assert add(1, 2) == 3" in tests.replace("    ", "")
    checks = state["verification"]["checks"]
    assert all(c["ok"] for c in checks), checks
    assert any(c["kind"] == "pytest" for c in checks), [c["kind"] for c in checks]
    lines = [e["line"] for e in events if e["event"] == "module_functions"]
    assert lines == [core["functions"]["line"]]


def test_a_traceback_inside_one_function_re_asks_only_that_function(tmp_path: Path) -> None:
    script = Script()
    acceptance = [
        {
            "name": "empty text",
            "kind": "python",
            "module": "words",
            "calls": [
                {"function": "first_word", "args": ["a b"], "expected": "a"},
                {"function": "first_word", "args": [""], "expected": ""},
            ],
        }
    ]
    state, events = _run(tmp_path, script, acceptance)
    localised = [(e["module"], e["file"], e["function"]) for e in events if e["event"] == "function_localised"]
    assert localised == [("core", "words.py", "first_word")]
    fixes = [a for a in script.asked if a.endswith("(fix)")]
    assert fixes == ["first_word (fix)"] * 2, script.asked  # K candidates of that function only
    assert not [a for a in script.asked if a.startswith("whole")], script.asked
    assert "words[0] if words else ''" in (tmp_path / "project" / "words.py").read_text()
    assert state["verification"]["works"] is True, state["verification"]


def test_without_a_usable_plan_the_module_is_asked_for_whole(tmp_path: Path) -> None:
    class NoPlan(Script):
        def __call__(self, messages: list[BaseMessage]) -> str:
            if "plan one module" in str(messages[0].content):
                self.asked.append("plan")
                return "no idea"
            if module_id_of(messages) == "core":
                self.asked.append("whole core")
                body = "def add(a, b):\n    return a + b\n"
                return f"words.py\n```python\n{body}```\nSHARED_STATE_UPDATE: {{}}"
            return super().__call__(messages)

    script = NoPlan()
    state, events = _run(tmp_path, script)
    assert script.asked[:3] == ["plan", "plan", "whole core"], script.asked
    assert state["module_reports"]["core"]["path"] == "whole module (no function plan)"
    assert [e["module"] for e in events if e["event"] == "function_plan_failed"] == ["core"]


WEB_PLAN = {
    "project_name": "books",
    "goal": "A web page to add books to a list",
    "modules": [
        {"id": "page", "name": "Page", "files": ["index.html"], "shared_state_writes": ["element_ids"]},
        {
            "id": "app",
            "name": "App",
            "files": ["app.js"],
            "dependencies": ["page"],
            "shared_state_reads": ["element_ids"],
        },
    ],
}
PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Books</title></head><body>\n'
    '<input id="title"><button id="add">Add</button><ul id="list"></ul>\n<script src="app.js"></script>\n'
    "</body></html>\n"
)
APP_PLAN = {
    "functions": [
        {
            "name": "addBook",
            "params": [{"name": "title"}],
            "purpose": "add a title to the list and return the list",
            "examples": [{"args": ["Dune"], "expected": ["Dune"]}, {"args": ["Emma"], "expected": ["Dune", "Emma"]}],
            "calls": [],
        }
    ],
    "constants": ["const books = [];"],
    "events": [{"element": "add", "event": "click", "function": "addBook", "inputs": ["title"], "output": "list"}],
}


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("chromium") is None, reason="needs node and chromium")
def test_a_page_script_is_chosen_by_node_and_wired_to_the_page_ids(tmp_path: Path) -> None:
    asked: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        system, human = str(messages[0].content), str(messages[-1].content)
        if is_assembler(messages):
            return "notes"
        if "plan one module" in system:
            asked.append("plan")
            assert "#title (input)" in human and '"events"' in human
            return json.dumps(APP_PLAN)
        if "writing ONE" in system:
            asked.append("addBook")
            wrong = "function addBook(title) {\n  return [title];\n}"
            right = "function addBook(title) {\n  books.push(title);\n  return books.slice();\n}"
            return wrong if asked.count("addBook") == 1 else right
        asked.append(f"whole {module_id_of(messages)}")
        return f'index.html\n```html\n{PAGE}```\nSHARED_STATE_UPDATE: {{"element_ids": ["title", "add", "list"]}}'

    scenario = {
        "name": "add a book",
        "kind": "page",
        "page": "index.html",
        "steps": [
            {"fill": "#title", "text": "Dune"},
            {"click": "#add"},
            {"fill": "#title", "text": "Emma"},
            {"click": "#add"},
        ],
        "expect_text": ["Dune", "Emma"],
    }
    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond),
        tmp_path,
        functions=True,
        function_samples=2,
        sandbox="bwrap",
        verify_timeout=60,
        max_repairs=0,
        acceptance=[scenario],
    ) as orchestrator:
        state = orchestrator.run("books page", architecture=WEB_PLAN, on_event=events.append)
    assert asked.count("whole app") == 0 and asked.count("addBook") == 2, asked
    app = state["module_reports"]["app"]
    assert app["path"] == "functions" and app["functions"]["passing"] == ["addBook"], app["functions"]
    script = (tmp_path / "project" / "app.js").read_text()
    assert "books.push(title)" in script and "addEventListener" in script
    assert state["verification"]["works"] is True, state["verification"]


def test_a_wrong_value_in_an_acceptance_call_becomes_an_example_of_its_function(tmp_path: Path) -> None:
    prompts: list[str] = []

    class SplitOnSpace(Script):
        def __call__(self, messages: list[BaseMessage]) -> str:
            human = str(messages[-1].content)
            if "writing ONE" in str(messages[0].content) and "def first_word" in human:
                prompts.append(human)
                self.asked.append("first_word" + (" (fix)" if "last version failed" in human else ""))
                if "last version failed" in human:
                    return FIRST_FIXED
                return "def first_word(text: str) -> str:\n    return text.split(' ')[0]\n"
            return super().__call__(messages)

    script = SplitOnSpace()
    acceptance = [
        {
            "name": "leading space",
            "kind": "python",
            "module": "words",
            "calls": [
                {"function": "first_word", "args": ["a b"], "expected": "a"},
                {"function": "first_word", "args": [" c d"], "expected": "c"},
            ],
        }
    ]
    state, events = _run(tmp_path, script, acceptance)
    localised = [(e["function"], e["example"]) for e in events if e["event"] == "function_localised"]
    assert localised == [("first_word", "first_word(' c d') == 'c'")], localised
    assert "first_word(' c d') == 'c'" in prompts[-1]  # the new example is in the function's prompt
    assert not [a for a in script.asked if a.startswith("whole")], script.asked
    assert state["verification"]["works"] is True, state["verification"]


def test_a_fix_giving_the_same_function_back_is_sampled_again_and_counted(tmp_path: Path) -> None:
    class Stubborn(Script):
        """The fix round's first samples give the failing function back as it was."""

        def __call__(self, messages: list[BaseMessage]) -> str:
            human = str(messages[-1].content)
            if "writing ONE" in str(messages[0].content) and "last version failed" in human:
                fixes = self.counts["fix"] = self.counts.get("fix", 0) + 1
                self.asked.append("first_word (fix)")
                return FIRST if fixes <= 2 else self.fixed
            return super().__call__(messages)

    script = Stubborn()
    acceptance = [
        {
            "name": "empty text",
            "kind": "python",
            "module": "words",
            "calls": [{"function": "first_word", "args": [""], "expected": ""}],
        }
    ]
    state, events = _run(tmp_path, script, acceptance)
    assert script.asked.count("first_word (fix)") == 4, script.asked  # K, then K more after nothing moved
    unmoved = [e for e in events if e["event"] == "fix_unchanged"]
    assert [(e["function"], e["round"]) for e in unmoved] == [("first_word", 1)]
    assert state["module_reports"]["core"]["functions"]["unchanged_fixes"] == 1
    assert "words[0] if words else ''" in (tmp_path / "project" / "words.py").read_text()
    assert state["verification"]["works"] is True, state["verification"]
