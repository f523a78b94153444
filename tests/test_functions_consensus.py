"""Functional consensus and trials that say why (issue 41): candidates run on inputs beyond their
examples, grouped by behaviour; the majority outvotes a wrong example; each failure named."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, is_update_retry

from matrioska.checking.sandbox import Sandbox, resolve_sandbox
from matrioska.functions.harness import choose, consensus, groups
from matrioska.functions.probes import probe_inputs
from matrioska.functions.spec import Example, FunctionPlan, FunctionSpec, Param
from matrioska.functions.trial import run_trial
from matrioska.runs.orchestrator import MatrioskaOrchestrator


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    found, _ = resolve_sandbox("bwrap", timeout=60)
    assert found is not None
    return found


def _plan(*functions: FunctionSpec, constants: list[str] | None = None) -> FunctionPlan:
    return FunctionPlan("core", "python", list(functions), constants=constants or [])


def test_probe_inputs_vary_each_argument_and_are_none_of_the_examples() -> None:
    spec = FunctionSpec("add", [Param("a", "int"), Param("b", "int")], examples=[Example([2, 3], 5)])
    inputs = probe_inputs(spec)
    assert len(inputs) == 6 and [2, 3] not in [i["args"] for i in inputs]
    assert {i["args"][0] for i in inputs} - {2} and {i["args"][1] for i in inputs} - {3}  # both arguments move
    assert probe_inputs(spec) == inputs  # deterministic: a rerun groups the same way
    typed = FunctionSpec("names", [Param("items", "list[str]")])  # no example: the type's values
    assert [i["args"] for i in probe_inputs(typed)] == [[[]], [["a"]], [["b", "a", "c"]]]
    assert probe_inputs(FunctionSpec("now", [], examples=[Example([], 1)])) == []
    with_files = FunctionSpec("count", [Param("path", "str")], examples=[Example(["a.txt"], 2, files={"a.txt": "x"})])
    assert all(i["files"] == {"a.txt": "x"} for i in probe_inputs(with_files))


def test_the_majority_behaviour_is_kept_when_the_only_example_is_wrong(sandbox: Sandbox) -> None:
    wrong = Example([3], 10)  # 3 squared is 9: the model's example is wrong
    plan = _plan(FunctionSpec("square", [Param("n", "int")], "int", examples=[wrong]))
    sources = [
        "def square(n: int) -> int:\n    return n * n + 1\n",  # fits the wrong example, nothing else
        "def square(n: int) -> int:\n    return n * n\n",
        "def square(n: int) -> int:\n    return n ** 2\n",
        "def square(n: int) -> int:\n    return pow(n, 2)\n",
    ]
    trial = run_trial(plan, {"square": sources}, {}, sandbox)
    square = trial.functions["square"]
    assert wrong.suspect == "3 of 4 candidates behave alike and return 9"
    assert square.kept == 1 and square.agreed == 3 and square.checked == 0
    assert square.chosen and not square.passing
    assert [c.group for c in square.candidates] == [1, 3, 3, 3]
    assert square.inputs == 7  # the example and six probes
    line = trial.line("core", 4)
    assert line.startswith("core: 1 function, 1 example (1 suspect), consensus over 7 inputs, 1/1 chosen (K=4, ")


def test_a_lone_right_candidate_beats_an_agreeing_minority_and_a_split_vote_doubts_nothing(sandbox: Sandbox) -> None:
    example = Example([3], 9)
    plan = _plan(FunctionSpec("square", [Param("n", "int")], "int", examples=[example]))
    sources = [
        "def square(n):\n    return n + n\n",
        "def square(n):\n    return 2 * n\n",
        "def square(n):\n    return n * n\n",
        "def square(n):\n    return n * 3\n",
    ]
    trial = run_trial(plan, {"square": sources}, {}, sandbox)
    square = trial.functions["square"]
    assert example.suspect == "" and square.agreed == 0  # 2 of 4 is no majority
    assert square.kept == 2 and square.passing
    assert square.candidates[0].why == "square(3) returned 6, expected 9"


def test_ties_on_examples_go_to_the_largest_group() -> None:
    def run(value: int, probe: str) -> dict:
        return {"error": "", "results": [{"ok": True, "key": str(value)}], "probes": [probe]}

    runs = [run(1, "a"), run(1, "b"), run(1, "b"), {"error": "SyntaxError: x", "results": [], "probes": []}]
    assert groups(runs) == [[1, 2], [0]] and consensus(runs) == [1, 2]
    assert choose(runs, [0]) == 1 and choose(runs, []) == 1


def test_trials_say_why_and_a_planned_constant_lets_the_candidate_pass(sandbox: Sandbox) -> None:
    spec = FunctionSpec("vowels", [Param("text", "str")], "int", examples=[Example(["banana"], 3)])
    sources = [
        "def vowels(text: str) -> int:\n    return sum(1 for c in text if c in VOWELS)\n",
        "def vowels(text: str) -> int:\n    return len(text)\n",
        "def vowels(text: str) -> int:\n    while True:\n        pass\n",
        "def vowels(text: str) -> int\n    return 0\n",
        "def vowels(text: str) -> int:\n    raise ValueError('no')\n",
    ]
    trial = run_trial(_plan(spec), {"vowels": sources}, {}, sandbox, call_timeout=0.5)
    why = [c.why for c in trial.functions["vowels"].candidates]
    assert why[0] == "vowels('banana') raised NameError: name 'VOWELS' is not defined"
    assert why[1] == "vowels('banana') returned 6, expected 3"
    assert why[2] == "vowels('banana') ran past its time"
    assert why[3].startswith("SyntaxError: ")
    assert why[4] == "vowels('banana') raised ValueError: no"
    assert not trial.functions["vowels"].chosen
    assert trial.to_dict()["functions"]["vowels"]["candidates"][0]["why"] == why[0]
    fixed = run_trial(_plan(spec, constants=['VOWELS = "aeiou"']), {"vowels": sources[:1]}, {}, sandbox)
    assert fixed.functions["vowels"].passing and fixed.functions["vowels"].candidates[0].why == ""


def _run(tmp_path: Path, script: Any, plan: dict[str, Any], *, max_repairs: int, on_event: Any = None) -> Any:
    """The plan run function by function (K=2, no contract) with `script` answering."""
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=script),
        tmp_path,
        functions=True,
        function_samples=2,
        sandbox="bwrap",
        verify_timeout=60,
        max_repairs=max_repairs,
        write_contract=False,
    ) as orchestrator:
        return orchestrator.run(plan["goal"], architecture=plan, on_event=on_event)


SECOND_PLAN = {
    "project_name": "letters",
    "goal": "A small Python library of letter helpers",
    "modules": [{"id": "core", "name": "Core", "files": ["letters.py"], "description": "letter helpers"}],
}
SECOND_FUNCTIONS = {
    "functions": [
        {
            "name": "vowel_count",
            "params": [{"name": "text", "type": "str"}],
            "returns": "int",
            "purpose": "how many vowels the text has",
            "examples": [{"args": ["banana"], "expected": 3}, {"args": ["sky"], "expected": 0}],
            "calls": [],
        },
        {
            "name": "double",
            "params": [{"name": "n", "type": "int"}],
            "returns": "int",
            "purpose": "twice the number",
            "examples": [{"args": [2], "expected": 4}, {"args": [5], "expected": 10}],
            "calls": [],
        },
    ]
}


class SecondChances:
    """A module whose first candidates read an undefined constant or fail an example: the
    constant is asked once, the failing function sampled again with why."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, messages: list[BaseMessage]) -> str:
        system, human = str(messages[0].content), str(messages[-1].content)
        if is_assembler(messages):
            return "notes"
        if "plan one module" in system:
            return json.dumps(SECOND_FUNCTIONS)
        if "module-level constant" in system:
            self.asked.append("constant " + re.search(r"constant (\w+)", human).group(1))  # type: ignore[union-attr]
            return 'Sure: {"value": "aeiou"}'
        if "writing ONE" in system:
            name = re.search(r"def (\w+)\(", human).group(1)  # type: ignore[union-attr]
            again = "last version failed" in human
            self.asked.append(
                name + (" again: " + human.split("last version failed:")[1].split("\n")[1] if again else "")
            )
            if name == "vowel_count":
                return "def vowel_count(text: str) -> int:\n    return sum(1 for c in text if c in VOWELS)\n"
            return (
                "def double(n: int) -> int:\n    return n * 2\n"
                if again
                else "def double(n: int) -> int:\n    return n + 2\n"
            )
        return "nothing useful"


def test_an_undefined_constant_is_asked_once_and_a_failing_function_sampled_again(tmp_path: Path) -> None:
    script = SecondChances()
    events: list[dict[str, Any]] = []
    state = _run(tmp_path, script, SECOND_PLAN, max_repairs=0, on_event=events.append)
    assert script.asked.count("constant VOWELS") == 1
    assert "double again: - double(5) returned 7, expected 10" in script.asked
    core = state["module_reports"]["core"]["functions"]
    assert core["plan"]["constants"] == ["VOWELS = 'aeiou'"]
    assert core["trial"]["functions"]["vowel_count"]["passing"]
    double = core["trial"]["functions"]["double"]
    assert double["passing"] and double["round"] == 2 and not double["suspect"]  # one text twice is no consensus
    assert "1 sampled again" in core["line"]
    text = (tmp_path / "project" / "letters.py").read_text()
    assert "VOWELS = 'aeiou'" in text and "return n * 2" in text
    assert any(e["event"] == "constant_added" and e["source"] == "asked" for e in events)


def test_the_monitor_shows_why_each_candidate_failed() -> None:
    from matrioska.monitor.server import _functions

    spec = FunctionSpec("square", [Param("n", "int")], "int", examples=[Example([3], 9)])
    plan = FunctionPlan("core", "python", [spec])
    candidates = [
        {"number": 1, "why": "square(3) returned 6, expected 9", "group": 2},
        {"number": 2, "why": "square(3) returned 6, expected 9", "group": 2},
        {"number": 3, "why": "", "group": 1},
    ]
    trial = {"functions": {"square": {"kept": 2, "chosen": True, "candidates": candidates}}}
    shown = _functions({"functions": {"plan": plan.to_dict(), "trial": trial, "passing": ["square"], "line": "x"}})
    assert shown is not None
    assert shown["functions"][0]["why"] == [
        "#1 (2 alike): square(3) returned 6, expected 9",
        "#2 (2 alike): square(3) returned 6, expected 9",
        "#3 kept: passes",
    ]
    assert shown["functions"][0]["chosen"] is True


BEHAVIOUR_PLAN = {
    "project_name": "sums",
    "goal": "A small Python library adding numbers",
    "modules": [
        {
            "id": "core",
            "name": "Core",
            "files": ["sums.py"],
            "description": "adds numbers",
            "shared_state_writes": ["sums_version"],
        }
    ],
}
ADD_PLAN = {
    "functions": [
        {
            "name": "add",
            "params": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}],
            "returns": "int",
            "purpose": "the sum",
            "examples": [{"args": [1, 2], "expected": 3}, {"args": [2, 2], "expected": 4}],
            "calls": [],
        }
    ]
}


class WholeReplyCountsLess:
    """The function path's files leave a declared key unpublished (a problem); the whole-module
    reply publishes it but its code subtracts."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, messages: list[BaseMessage]) -> str:
        system = str(messages[0].content)
        if is_assembler(messages):
            return "notes"
        if "plan one module" in system:
            return json.dumps(ADD_PLAN)
        if "writing ONE" in system:
            return "def add(a: int, b: int) -> int:\n    return a + b\n"
        if is_update_retry(messages):
            return "I do not know"
        self.asked.append("whole")
        return 'sums.py\n```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```\nSHARED_STATE_UPDATE: {"sums_version": "1"}'


def test_behaviour_decides_between_the_function_files_and_a_whole_module_reply(tmp_path: Path) -> None:
    script = WholeReplyCountsLess()
    state = _run(tmp_path, script, BEHAVIOUR_PLAN, max_repairs=1)
    core = state["module_reports"]["core"]
    assert "whole" in script.asked, core  # the function files left a problem: a whole reply was asked
    assert core["path"] == "functions", core["path"]
    assert any("passed 0 examples and scenarios, against 2" in d for d in core["discarded"]), core
    assert "return a + b" in (tmp_path / "project" / "sums.py").read_text()
