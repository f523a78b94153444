"""Chosen by running (issue 35): candidates run against their examples in the sandbox, the first
passing kept, an example every candidate contradicts the same way put in doubt."""

from __future__ import annotations

import shutil

import pytest

from matrioska.checking.sandbox import Sandbox, resolve_sandbox
from matrioska.functions.spec import NO_VALUE, Example, FunctionPlan, FunctionSpec, Param
from matrioska.functions.trial import CandidateRun, FunctionTrial, Trial, run_trial

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    found, _ = resolve_sandbox("bwrap", timeout=60)
    assert found is not None
    return found


def _spec(name: str, params: list[str], examples: list[Example], calls: list[str] | None = None) -> FunctionSpec:
    return FunctionSpec(name, [Param(p) for p in params], examples=examples, calls=calls or [])


def _plan(*functions: FunctionSpec, language: str = "python", constants: list[str] | None = None) -> FunctionPlan:
    return FunctionPlan("core", language, list(functions), constants=constants or [])


def test_the_first_candidate_passing_every_example_is_kept(sandbox: Sandbox) -> None:
    plan = _plan(_spec("add", ["a", "b"], [Example([2, 3], 5), Example([-1, 1], 0), Example([0.1, 0.2], 0.3)]))
    wrong = "def add(a, b):\n    return a * b\n"
    right = "def add(a, b):\n    return a + b\n"
    trial = run_trial(plan, {"add": [wrong, right, right]}, {}, sandbox)
    add = trial.functions["add"]
    assert add.kept == 1 and add.passing and not add.first_passing
    assert [c.passed for c in add.candidates] == [0, 3, 3]
    assert add.candidates[0].results[0] == {"ok": False, "got": 6, "error": "", "stdout": ""}
    assert add.checked == 3 and add.suspect == [] and trial.notes == []


def test_an_example_every_candidate_contradicts_the_same_way_is_suspect(sandbox: Sandbox) -> None:
    wrong = Example(["a  b"], ["a", "b", "c"])
    plan = _plan(_spec("words", ["text"], [Example(["x y"], ["x", "y"]), wrong]))
    sources = [
        "def words(text):\n    return text.split()\n",
        "def words(text):\n    return [w for w in text.split(' ') if w]\n",
    ]
    trial = run_trial(plan, {"words": sources}, {}, sandbox)
    words = trial.functions["words"]
    assert wrong.suspect == "every candidate returned ['a', 'b']"
    assert words.suspect == ["words('a  b') == ['a', 'b', 'c']: every candidate returned ['a', 'b']"]
    assert words.checked == 1 and words.kept == 0 and words.passing and words.first_passing
    assert trial.line("core", 2).startswith(
        "core: 1 function, 2 examples (1 suspect), consensus over 8 inputs, 1/1 chosen"
    )


def test_disagreeing_or_lone_candidates_leave_an_example_trusted(sandbox: Sandbox) -> None:
    plan = _plan(_spec("double", ["n"], [Example([2], 5)]))
    trial = run_trial(
        plan,
        {"double": ["def double(n):\n    return n * 2\n", "def double(n):\n    return n + n + 1 if n > 9 else 3\n"]},
        {},
        sandbox,
    )
    assert plan.functions[0].examples[0].suspect == "" and trial.functions["double"].checked == 1
    assert not trial.functions["double"].passing and trial.functions["double"].kept == 0


def test_a_candidate_looping_forever_times_out_and_the_next_is_judged(sandbox: Sandbox) -> None:
    plan = _plan(_spec("count", ["n"], [Example([3], 3), Example([0], 0)]))
    looping = "def count(n):\n    while True:\n        pass\n"
    stubborn = "def count(n):\n    while True:\n        try:\n            time.sleep(10)\n        except BaseException:\n            pass\n"
    sources = [looping, stubborn, "def count(n):\n    return n\n"]
    trial = run_trial(plan, {"count": sources}, {}, sandbox, call_timeout=0.5)
    count = trial.functions["count"]
    assert [r["error"] for r in count.candidates[0].results] == ["timeout", "timeout"]
    assert count.candidates[1].error == "stopped the checking process (a call ignored its timeout)"
    assert count.kept == 2 and count.passing and trial.seconds < 20


def test_a_candidate_killing_the_process_loses_nothing_else(sandbox: Sandbox) -> None:
    plan = _plan(
        _spec("first", ["x"], [Example([1], 1)]),
        _spec("second", ["x"], [Example([1], 2)]),
    )
    killer = "def second(x):\n    import os\n    os._exit(3)\n"
    sources = {"first": ["def first(x):\n    return x\n"], "second": [killer, "def second(x):\n    return x + 1\n"]}
    trial = run_trial(plan, sources, {}, sandbox)
    second = trial.functions["second"]
    assert second.candidates[0].error.startswith("stopped the checking process")
    assert second.kept == 1 and second.passing and trial.functions["first"].passing
    assert trial.notes == [
        "second candidate 1 stopped the checking process (exit status 3); the rest ran again without it"
    ]


def test_siblings_dependencies_constants_and_forgotten_imports(sandbox: Sandbox) -> None:
    plan = _plan(
        _spec("normalise", ["text"], [Example([" A "], "a")]),
        _spec("encode", ["items"], [Example([[" X ", "y"]], '["x", "y"]')], calls=["normalise"]),
        _spec("greeting", ["name"], [Example(["ann"], "Hello ANN!")], calls=["names.shout"]),
        _spec("stamp", ["days"], [Example([2], "2000-01-03")]),
        constants=['GREETING = "Hello"'],
    )
    sources = {
        "normalise": [
            "def normalise(text):\n    return text\n",
            "def normalise(text):\n    return text.strip().lower()\n",
        ],
        "encode": ["def encode(items):\n    return json.dumps([normalise(i) for i in items])\n"],
        "greeting": ["def greeting(name):\n    return f'{GREETING} {shout(name)}'\n"],
        "stamp": ["def stamp(days):\n    return str(datetime.date(2000, 1, 1) + datetime.timedelta(days=days))\n"],
    }
    project = {"names.py": "def shout(name):\n    return name.upper() + '!'\n"}
    trial = run_trial(plan, sources, project, sandbox)
    assert [f.passing for f in trial.functions.values()] == [True, True, True, True], trial.to_dict()
    assert trial.functions["normalise"].kept == 1


def test_files_and_printed_text(sandbox: Sandbox) -> None:
    shown = Example(["todos.json"], NO_VALUE, files={"todos.json": '["milk", "eggs"]'}, stdout="1. milk\n2. eggs")
    missing = Example(["none.json"], 0, stdout="no todos")
    plan = _plan(_spec("show", ["path"], [shown, missing]))
    source = (
        "def show(path):\n    if not os.path.exists(path):\n        print('no todos')\n        return 0\n"
        "    items = json.load(open(path))\n    for i, item in enumerate(items, 1):\n        print(f'{i}. {item}')\n"
        "    return len(items)\n"
    )
    silent = "def show(path):\n    return 0\n"
    trial = run_trial(plan, {"show": [silent, source]}, {}, sandbox)
    show = trial.functions["show"]
    assert show.kept == 1 and show.passing, show.to_dict()
    assert show.candidates[1].results[0]["stdout"] == "1. milk\n2. eggs\n"
    assert show.candidates[0].results[1]["ok"] is False


def test_syntax_errors_and_missing_definitions_are_never_kept_over_a_defined_one(sandbox: Sandbox) -> None:
    plan = _plan(_spec("half", ["n"], [Example([4], 2), Example([3], 1.5)]))
    sources = [
        "def half(n):\n    return n /\n",
        "def halve(n):\n    return n / 2\n",
        "def half(n):\n    return n // 2\n",
    ]
    trial = run_trial(plan, {"half": sources}, {}, sandbox)
    half = trial.functions["half"]
    assert half.candidates[0].error.startswith("SyntaxError") and "does not define half" in half.candidates[1].error
    assert half.kept == 2 and half.candidates[2].passed == 1 and not half.passing


@needs_node
def test_a_javascript_function_is_chosen_by_its_examples_with_node(sandbox: Sandbox) -> None:
    plan = _plan(
        _spec("total", ["items"], [Example([[{"price": 2}, {"price": 3.5}]], 5.5), Example([[]], 0)]),
        _spec("label", ["items"], [Example([[{"price": 1}]], "Total: 1")], calls=["total"]),
        language="javascript",
        constants=["const PREFIX = 'Total: ';"],
    )
    sources = {
        "total": [
            "function total(items) {\n  return items.length;\n}\n",
            "function total(items) {\n  while (true) {}\n}\n",
            "function total(items) {\n  return items.reduce((s, i) => s + i.price, 0);\n}\n",
        ],
        "label": ["function label(items) {\n  console.log('labelling');\n  return PREFIX + total(items);\n}\n"],
    }
    trial = run_trial(plan, sources, {"page.js": "document.getElementById('x');\n"}, sandbox, call_timeout=0.5)
    total, label = trial.functions["total"], trial.functions["label"]
    assert total.kept == 2 and total.passing and not total.first_passing, trial.to_dict()
    assert total.candidates[1].results[0]["error"] == "timeout"
    assert label.passing and label.candidates[0].results[0]["stdout"] == "labelling\n"


def test_without_a_sandbox_nothing_runs() -> None:
    plan = _plan(_spec("add", ["a", "b"], [Example([1, 2], 3)]), _spec("none", [], [Example([], None)]))
    trial = run_trial(plan, {"add": ["def add(a, b):\n    return a + b\n"]}, {}, None)
    assert trial.notes == ["nothing may run (no sandbox)"]
    assert trial.functions["add"].kept == 0 and not trial.functions["add"].passing
    assert trial.functions["none"].kept == -1


def test_the_line() -> None:
    run = CandidateRun(1, [], 2)
    passing = FunctionTrial("a", [run, CandidateRun(2, [], 0)], 0, 2, examples=2)
    failing = FunctionTrial("b", [CandidateRun(1, [], 1)], 0, 2, ["b(1) == 3: every candidate returned 2"], examples=3)
    trial = Trial("python", {"a": passing, "b": failing}, 2.14)
    assert (
        trial.line("core", 2)
        == "core: 2 functions, 5 examples (1 suspect), 1/2 chosen (K=2, 3 candidates, 2.1 s of checks)"
    )
    one = Trial("python", {"a": FunctionTrial("a", [run], 0, 2, examples=2, inputs=8, round=2)}, 0.04)
    assert (
        one.line("core", 1)
        == "core: 1 function, 2 examples, consensus over 8 inputs, 1/1 chosen (K=1, 1 candidate, 1 sampled again, 0.0 s of checks)"
    )
    assert trial.to_dict()["functions"]["a"]["passing"] is True
