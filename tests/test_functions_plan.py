"""The function plan (issue 35): which modules take the path, the schema, reading a messy answer,
the acceptance calls as examples, and a failure traced to its function."""

from __future__ import annotations

import json

from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel

from matrioska.functions.localise import failing_function, value_failure
from matrioska.functions.plan import ask_plan, callables, eligible
from matrioska.functions.spec import NO_VALUE, Example, FunctionPlan, FunctionSpec, Param, plan_schema, read_plan
from matrioska.plan.acceptance import validate_scenarios
from matrioska.state import Architecture, ModuleSpec

PLAN = Architecture.model_validate(
    {
        "project_name": "todo",
        "goal": "A command-line todo list stored in a JSON file",
        "modules": [
            {"id": "store", "name": "Storage", "files": ["store.py"], "description": "load and save todos"},
            {"id": "cli", "name": "CLI", "files": ["main.py"], "dependencies": ["store"]},
            {"id": "tests", "name": "Tests", "kind": "tests", "files": ["tests/test_store.py"]},
            {"id": "page", "name": "Page", "files": ["index.html", "app.js"]},
            {"id": "logic", "name": "Logic", "files": ["logic.js"]},
        ],
    }
)
STORE_FACE = {
    "module": "store",
    "files": [
        {
            "path": "store.py",
            "kind": "python",
            "functions": [
                {"name": "load", "params": "path: str", "returns": " -> list"},
                {"name": "_private", "params": ""},
            ],
        }
    ],
}


def test_code_modules_take_the_path_and_others_do_not() -> None:
    by_id = {m.id: m for m in PLAN.modules}
    store = eligible(by_id["store"])
    assert store is not None and store.language == "python" and store.entry == ""
    cli = eligible(by_id["cli"])
    assert cli is not None and cli.entry == "main.py"
    assert eligible(by_id["tests"]) is None
    assert eligible(by_id["page"]) is None  # markup is asked for whole
    logic = eligible(by_id["logic"])
    assert logic is not None and logic.language == "javascript"
    scenario = {"kind": "command", "command": ["python", "store.py", "list"]}
    assert eligible(by_id["store"], [scenario]).entry == "store.py"  # type: ignore[union-attr]


def test_callables_are_the_dependencies_public_functions() -> None:
    named = callables(PLAN, PLAN.modules[1], {"store": STORE_FACE}, "python")
    assert named == {"store.load": "store.load(path: str) -> list"}


def test_the_schema_holds_the_callables_as_an_enum_and_commands_only_for_an_entry() -> None:
    schema = plan_schema("python", ["store.load"], ["main.py"], commands=True)
    function = schema["properties"]["functions"]["items"]
    assert function["properties"]["calls"]["items"]["enum"] == ["store.load"]
    assert "commands" in schema["required"]
    plain = plan_schema("javascript", [], ["logic.js"])
    assert (
        "commands" not in plain["properties"]
        and "returns" not in plain["properties"]["functions"]["items"]["properties"]
    )


def test_a_messy_answer_is_repaired_or_dropped_with_notes() -> None:
    data = {
        "functions": [
            {
                "name": "add",
                "params": ["a: int", "b: int"],
                "returns": "int",
                "purpose": "sum",
                "examples": [
                    {"args": [1, 2], "expected": 3},
                    {"args": {"a": 2, "b": 2}, "expected": 4},
                    {"args": [1], "expected": 1},
                    {"args": [1, 2], "expected": 3},
                ],
                "calls": ["store.load", "os.system"],
            },
            {"name": "class", "params": [], "examples": []},
            {"name": "add", "params": []},
        ],
        "constants": ['DATA = "x.json"', "import os"],
    }
    plan = read_plan(data, "core", "python", ["core.py"], callable_names=["store.load"])
    [add] = plan.functions
    assert [p.to_dict() for p in add.params] == [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]
    assert [e.args for e in add.examples] == [[1, 2], [2, 2]]
    assert add.calls == ["store.load"] and add.file == "core.py"
    assert add.header("python") == "def add(a: int, b: int) -> int:"
    assert plan.constants == ['DATA = "x.json"']
    notes = " | ".join(plan.notes)
    assert "passes 1 argument(s) to 2" in notes and "repeats another" in notes and "os.system" in notes
    assert "'class' is not a usable name" in notes and "planned twice" in notes
    again = FunctionPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan


def test_examples_render_for_each_language() -> None:
    example = Example(args=["a", True, None], expected={"n": 1})
    assert example.render("f", "python") == "f('a', True, None) == {'n': 1}"
    assert example.render("f", "javascript") == 'f("a", true, null) === {"n": 1}'
    side = Example(args=[], expected=NO_VALUE, files={"in.txt": "x"}, stdout="done")
    assert side.render("g", "python") == "g()  (with files in.txt in the working folder)  (prints 'done')"
    spec = FunctionSpec("addBook", [Param("title")], examples=[example])
    assert spec.header("javascript") == "function addBook(title) {"


def test_ask_plan_retries_an_unusable_answer_and_takes_the_acceptance_calls_as_examples() -> None:
    answers = iter(
        [
            "I will plan it now.",
            json.dumps(
                {
                    "functions": [
                        {
                            "name": "total",
                            "params": [{"name": "prices", "type": "list"}],
                            "returns": "float",
                            "purpose": "sum of prices",
                            "examples": [{"args": [[1, 2]], "expected": 3}],
                            "calls": [],
                        }
                    ]
                }
            ),
        ]
    )
    seen: list[list[BaseMessage]] = []

    def respond(messages: list[BaseMessage]) -> str:
        seen.append(messages)
        return next(answers)

    spec = ModuleSpec(id="cart", name="Cart", files=["cart.py"], description="prices")
    plan_ = Architecture(project_name="shop", goal="a cart", modules=[spec])
    [scenario] = validate_scenarios(
        [
            {
                "name": "total",
                "kind": "python",
                "module": "cart",
                "calls": [{"function": "total", "args": [[2.5, 1]], "expected": 3.5}],
            }
        ]
    )
    how = eligible(spec)
    assert how is not None
    plan = ask_plan(ScriptedChatModel(respond=respond), plan_, spec, how, interfaces={}, scenarios=[scenario])
    assert plan is not None and len(seen) == 2
    assert "could not be used" in str(seen[1][-1].content)
    assert [e.args for e in plan.functions[0].examples] == [[[2.5, 1]], [[1, 2]]]
    assert "ACCEPTANCE" in str(seen[0][1].content)


def test_a_traceback_is_traced_to_the_innermost_function_of_the_module() -> None:
    evidence = (
        "Traceback (most recent call last):\n"
        '  File "/work/main.py", line 30, in main\n'
        '  File "/work/core.py", line 12, in add_todo\n'
        '  File "/usr/lib/python3.11/json/__init__.py", line 293, in load\n'
        "KeyError: 'items'\n"
    )
    assert failing_function(evidence, ["core.py"], ["add_todo", "list_todos"]) == ("core.py", "add_todo")
    assert failing_function(evidence, ["main.py"], ["main"]) == ("main.py", "main")
    assert failing_function(evidence, ["other.py"], ["add_todo"]) is None
    js = "TypeError: x is undefined\n    at addBook (http://127.0.0.1:8123/app.js:3:9)\n    at HTMLButtonElement.<anonymous>"
    assert failing_function(js, ["app.js"], ["addBook"]) == ("app.js", "addBook")


def test_an_expected_value_planned_as_a_parameter_is_taken_out_of_the_parameters_and_the_args() -> None:
    # seen on the real 0.5B: `convert_celsius_to_fahrenheit(celsius, expected)`, args [100, 212]
    data = {
        "functions": [
            {
                "name": "c_to_f",
                "params": [{"name": "celsius", "type": "float"}, {"name": "expected", "type": "float"}],
                "returns": "float",
                "purpose": "Celsius to Fahrenheit",
                "examples": [{"args": [100, 212], "expected": 212}, {"args": [0], "expected": 32}],
                "calls": [],
            }
        ]
    }
    plan = read_plan(data, "conv", "python", ["conv.py"])
    [function] = plan.functions
    assert function.header("python") == "def c_to_f(celsius: float) -> float:"
    assert [(e.args, e.expected) for e in function.examples] == [([100], 212), ([0], 32)]
    assert any("'expected' is the expected value" in n for n in plan.notes)


def test_a_wrong_value_names_its_function_and_becomes_an_example() -> None:
    evidence = "AssertionError: total([2.5, 1], 'EUR') returned 2.5, expected 3.5\n"
    assert value_failure(evidence, ["total"]) == ("total", [[2.5, 1], "EUR"], 3.5)
    assert value_failure(evidence, ["other"]) is None
    assert value_failure("f(x) returned 1, expected 2", ["f"]) is None  # not literal arguments


def test_an_entry_points_commands_call_its_dependencies_functions() -> None:
    schema = plan_schema("python", ["store.add", "store.load"], ["main.py"], commands=True)
    command = schema["properties"]["commands"]["items"]["properties"]["function"]
    assert command == {"type": "string", "enum": ["store.add", "store.load"]}
    alone = plan_schema("python", [], ["main.py"], commands=True)
    assert alone["properties"]["commands"]["items"]["properties"]["function"] == {"type": "string"}


def test_a_dependencys_function_planned_again_is_dropped() -> None:
    # seen on the real 0.5B: the report module planned `transform` and `reader` again
    data = {
        "functions": [
            {"name": "load", "params": [], "examples": [{"args": [], "expected": []}], "calls": []},
            {"name": "show", "params": [], "examples": [{"args": [], "expected": None}], "calls": ["store.load"]},
        ]
    }
    plan = read_plan(data, "report", "python", ["report.py"], callable_names=["store.load"])
    assert [f.name for f in plan.functions] == ["show"] and plan.functions[0].calls == ["store.load"]
    assert any("store.load of a dependency" in n for n in plan.notes)


def test_two_commands_of_one_name_are_told_apart_by_their_functions() -> None:
    # seen on the real 1.5B: `convert` for both directions, which argparse refuses
    data = {
        "functions": [],
        "commands": [
            {"name": "convert", "function": "roman.to_roman", "arguments": [{"name": "n", "type": "int"}]},
            {"name": "convert", "function": "roman.from_roman", "arguments": [{"name": "text", "type": "str"}]},
        ],
    }
    plan = read_plan(
        data, "cli", "python", ["main.py"], callable_names=["roman.from_roman", "roman.to_roman"], entry="main.py"
    )
    assert [c.name for c in plan.commands] == ["convert", "from-roman"]
