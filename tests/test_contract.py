"""The project's contract (issue 40): every public name decided once, right after the plan, and
the scenarios, function plans, entry points, pages and tests derived from it."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, is_contract, module_id_of

from matrioska.errors import ContractError
from matrioska.functions.contract import (
    ModuleContract,
    copied,
    derive_contract,
    file_roles,
    read_contract,
)
from matrioska.functions.derive import contract_scenarios, lacking_names, restore_ids, scaffold_page
from matrioska.functions.given import load_contract
from matrioska.functions.plan import eligible
from matrioska.runs.orchestrator import MatrioskaOrchestrator
from matrioska.state import ModuleSpec

ROOT = Path(__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

# One module lumping the code, the entry point and the tests together (what small models plan).
PLAN = {
    "project_name": "shouter",
    "goal": "A command-line tool that shouts a text",
    "modules": [
        {
            "id": "app",
            "name": "App",
            "files": ["main.py", "shout.py", "tests/test_shout.py"],
            "description": "shouts a text: upper case and an exclamation mark",
        }
    ],
}


def _contract(name: str) -> dict[str, Any]:
    return {
        "functions": [
            {
                "name": name,
                "params": [{"name": "text", "type": "str"}],
                "returns": "str",
                "purpose": "the text in upper case with an exclamation mark",
                "examples": [{"args": ["hi"], "expected": "HI!"}, {"args": ["a b"], "expected": "A B!"}],
                "calls": [],
                "file": "shout.py",
            }
        ],
        "constants": [],
        "commands": [
            {
                "name": name,
                "function": name,
                "arguments": [{"name": "text", "type": "str"}],
                "example": {"args": ["hi"], "stdout": "HI!"},
            }
        ],
    }


class Script:
    """Answers the contract, then each function's candidates; records what was asked."""

    def __init__(self, contracts: list[dict[str, Any]]) -> None:
        self.contracts = contracts
        self.asked: list[str] = []

    def __call__(self, messages: list[BaseMessage]) -> str:
        system, human = str(messages[0].content), str(messages[-1].content)
        if is_assembler(messages):
            return "notes"
        if is_contract(messages):
            self.asked.append("contract")
            return "The contract:\n" + json.dumps(
                self.contracts[min(len(self.asked_of("contract")), len(self.contracts)) - 1]
            )
        if "plan one module" in system:
            self.asked.append("function plan")
            return "{}"
        if "writing ONE" in system:
            name = re.search(r"def (\w+)\(", human).group(1)  # type: ignore[union-attr]
            self.asked.append(name)
            return f"def {name}(text: str) -> str:\n    return text.upper() + '!'\n"
        self.asked.append(f"whole {module_id_of(messages)}")
        return "nothing useful"

    def asked_of(self, what: str) -> list[str]:
        return [a for a in self.asked if a == what]


def _run(tmp_path: Path, script: Script, plan: dict[str, Any] = PLAN, **options: Any) -> tuple[dict, list]:
    events: list[dict[str, Any]] = []
    model = ScriptedChatModel(respond=script, acceptance_reply=None, contract_reply=None)
    options = {"sandbox": "bwrap", "verify_timeout": 60, "max_repairs": 0, "function_samples": 1, **options}
    with MatrioskaOrchestrator(model, tmp_path, functions=True, **options) as orchestrator:
        state = orchestrator.run("a tool that shouts", architecture=plan, on_event=events.append)
    return state, events


@needs_bwrap
@pytest.mark.parametrize("name", ["shout", "yell"])
def test_every_name_comes_from_the_contract_and_a_rename_follows_everywhere(tmp_path: Path, name: str) -> None:
    script = Script([_contract(name)])
    state, events = _run(tmp_path, script)
    # no whole-module prompt, no function plan asked: the code, the entry and the tests come from the contract
    assert script.asked == ["contract", name], script.asked
    assert state["shared_state"]["contract.app"]["functions"][0]["name"] == name
    report = state["module_reports"]["app"]
    assert report["path"] == "functions" and report["functions"]["plan"]["notes"] == ["from the contract"]
    assert report["file_ways"] == {
        "main.py": "functions (argparse entry from the commands)",
        "shout.py": "functions",
        "tests/test_shout.py": "tests from the examples",
    }
    scenarios = state["acceptance"]
    assert {s["kind"] for s in scenarios} == {"python", "command"}
    python = next(s for s in scenarios if s["kind"] == "python")
    assert python["module"] == "shout" and [c["function"] for c in python["calls"]] == [name, name]
    command = next(s for s in scenarios if s["kind"] == "command")
    assert command["command"] == ["python", "main.py", name, "hi"] and command["stdout_contains"] == ["HI!"]
    project = tmp_path / "project"
    assert f"def {name}(" in (project / "shout.py").read_text()
    assert f"assert {name}('hi') == 'HI!'" in (project / "tests" / "test_shout.py").read_text().replace("    ", "")
    entry = (project / "main.py").read_text()
    assert f"add_parser('{name}'" in entry and f"return {name}(text=args.text)" in entry
    other = "yell" if name == "shout" else "shout"
    texts = [(project / p).read_text() for p in ("main.py", "shout.py", "tests/test_shout.py")]
    assert not any(re.search(rf"\b{other}\(|'{other}'", text) for text in texts)
    verdict = state["verification"]
    assert verdict["works"] is True, verdict
    assert all(s["ok"] for s in verdict["acceptance"]), verdict["acceptance"]
    assert [e for e in events if e["event"] == "contract_ready"]


def test_a_contract_copying_the_prompt_sample_is_asked_again(tmp_path: Path) -> None:
    sample = {
        "functions": [
            {
                "name": "count_words",
                "params": [{"name": "text", "type": "str"}],
                "returns": "int",
                "purpose": "the number of words in text",
                "examples": [{"args": ["one two three"], "expected": 3}, {"args": [""], "expected": 0}],
                "calls": [],
                "file": "shout.py",
            }
        ],
        "constants": [],
        "commands": [
            {"name": "count", "function": "count_words", "arguments": [], "example": {"args": [], "stdout": "3"}}
        ],
    }
    script = Script([sample, _contract("shout")])
    state, _ = _run(tmp_path, script, verify=False)
    assert script.asked_of("contract") == ["contract", "contract"]
    assert [f["name"] for f in state["contract"]["app"]["functions"]] == ["shout"]
    # asked again and copied again: renamed from the task, the sample's examples dropped
    script = Script([sample, sample])
    state, _ = _run(tmp_path / "again", script, verify=False)
    functions = state["contract"]["app"]["functions"]
    assert [f["name"] for f in functions] != ["count_words"] and functions[0]["examples"] == []
    assert any("renamed" in n for n in state["contract"]["app"]["notes"])
    assert state["contract"]["app"]["commands"][0]["function"] == functions[0]["name"]


def test_an_unusable_contract_reply_is_asked_once_more_then_derived_from_the_plan(tmp_path: Path) -> None:
    plan = copy.deepcopy(PLAN)
    plan["modules"][0]["description"] = "shout(text) returns the text in capitals"
    script = Script([])
    calls: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        if is_contract(messages):
            calls.append("contract")
            return "I cannot do that"
        return script(messages)

    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond, acceptance_reply=None, contract_reply=None),
        tmp_path,
        verify=False,
        max_repairs=0,
    ) as orchestrator:
        state = orchestrator.run("a tool that shouts", architecture=plan, on_event=events.append)
    assert calls == ["contract", "contract"]
    derived = state["contract"]["app"]
    assert derived["source"] == "derived" and [f["name"] for f in derived["functions"]] == ["shout"]
    assert [e["module"] for e in events if e["event"] == "contract_derived"] == ["app"]


# --------------------------------------------------------------------------- a page


WEB_PLAN = {
    "project_name": "Adder",
    "goal": "A page adding three numbers",
    "modules": [
        {"id": "page", "name": "Page", "files": ["index.html"], "description": "the page"},
        {"id": "logic", "name": "Logic", "files": ["calc.js"], "dependencies": ["page"], "description": "the sum"},
    ],
}
PAGE_CONTRACT = {
    "elements": [
        {"id": "first", "role": "input", "type": "number", "label": "First"},
        {"id": "second", "role": "input", "type": "number", "label": "Second"},
        {"id": "third", "role": "input", "type": "number", "label": "Third"},
        {"id": "sum", "role": "button", "label": "Add them"},
        {"id": "result", "role": "output", "label": "Result"},
    ]
}
LOGIC_CONTRACT = {
    "functions": [
        {
            "name": "addThree",
            "params": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "purpose": "the sum of three numbers",
            "examples": [{"args": [1, 2, 39], "expected": 42}, {"args": [0, 0, 0], "expected": 0}],
            "calls": [],
        }
    ],
    "constants": [],
    "events": [
        {
            "element": "sum",
            "event": "click",
            "function": "addThree",
            "inputs": ["first", "second", "third"],
            "output": "result",
        }
    ],
}


@pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("chromium") is None or shutil.which("bwrap") is None,
    reason="needs node, chromium and bubblewrap",
)
def test_a_page_scaffolded_from_the_contract_passes_its_scenario_in_chromium(tmp_path: Path) -> None:
    asked: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        system, human = str(messages[0].content), str(messages[-1].content)
        if is_assembler(messages):
            return "notes"
        if is_contract(messages):
            module = re.search(r"MODULE (\w+):", human).group(1)  # type: ignore[union-attr]
            asked.append(f"contract {module}")
            if module == "logic":
                assert "#first" in human and "#result" in human  # the page's ids, fixed before
            return json.dumps(PAGE_CONTRACT if module == "page" else LOGIC_CONTRACT)
        if "writing ONE" in system:
            asked.append("addThree")
            return "function addThree(a, b, c) {\n  return a + b + c;\n}"
        asked.append(f"whole {module_id_of(messages)}")
        return "nothing useful"

    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond, acceptance_reply=None, contract_reply=None),
        tmp_path,
        functions=True,
        function_samples=1,
        sandbox="bwrap",
        verify_timeout=90,
        max_repairs=0,
    ) as orchestrator:
        state = orchestrator.run("add three numbers on a page", architecture=WEB_PLAN)
    assert asked == ["contract page", "contract logic", "addThree"], asked  # no whole-module prompt
    page = (tmp_path / "project" / "index.html").read_text()
    assert all(f'id="{i}"' in page for i in ("first", "second", "third", "sum", "result"))
    assert '<script src="calc.js"></script>' in page
    assert state["module_reports"]["page"]["path"] == "page scaffold"
    scenario = next(s for s in state["acceptance"] if s["kind"] == "page")
    assert scenario["steps"][-1] == {"click": "#sum"} and scenario["expect_text"] == ["42"]
    verdict = state["verification"]
    assert verdict["works"] is True, verdict
    assert [s["ok"] for s in verdict["acceptance"] if s["kind"] == "page"] == [True], verdict["acceptance"]


def test_a_page_reply_that_renames_or_drops_a_contract_id_gets_it_back() -> None:
    spec = ModuleSpec(id="page", files=["index.html"])
    contract = read_contract(PAGE_CONTRACT, spec, file_roles(spec))
    reply = (
        "<html><body><label for='firstNumber'>First</label><input id='firstNumber' type='number'>"
        "<input id='second' type='number'><button id='sum'>Add</button><div id='output'></div></body></html>"
    )
    mended, notes = restore_ids(reply, contract)
    assert "id='first'" in mended and "for='first'" in mended and "firstNumber" not in mended
    assert "id='result'" in mended  # the one output renamed back
    assert 'id="third"' in mended and mended.index('id="third"') < mended.index("</body>")
    assert len(notes) == 3, notes


def test_a_scaffolded_page_shows_a_list_where_its_function_returns_one() -> None:
    spec = ModuleSpec(id="page", files=["index.html", "style.css", "app.js"])
    contract = read_contract(
        {
            "elements": [
                {"id": "title", "role": "input", "label": "Title"},
                {"id": "add", "role": "button"},
                {"id": "books", "role": "output"},
            ],
            "functions": [
                {
                    "name": "addBook",
                    "params": [{"name": "title"}],
                    "purpose": "",
                    "calls": [],
                    "examples": [{"args": ["Dune"], "expected": ["Dune"]}],
                }
            ],
            "events": [
                {"element": "add", "event": "click", "function": "addBook", "inputs": ["title"], "output": "books"}
            ],
        },
        spec,
        file_roles(spec),
    )
    page = scaffold_page(contract, {"page": contract}, "Books")
    assert '<ul id="books"' in page and '<link rel="stylesheet" href="style.css">' in page
    assert '<script src="app.js"></script>' in page and '<input id="title" name="title" type="text">' in page
    how = eligible(spec, [], contract)
    assert how is not None and how.files == ["app.js"] and how.page == "index.html" and how.whole == ["style.css"]
    [scenario] = contract_scenarios({"page": contract})
    assert scenario["steps"] == [{"fill": "#title", "text": "Dune"}, {"click": "#add"}]
    assert scenario["expect_text"] == ["Dune"]


# --------------------------------------------------------------------------- reading and repairs


def test_a_function_on_a_file_the_module_does_not_own_is_moved_and_said() -> None:
    spec = ModuleSpec(id="core", files=["core.py"])
    data = _contract("shout")
    data["functions"][0]["file"] = "elsewhere.py"
    del data["commands"]
    found = read_contract(data, spec, file_roles(spec))
    assert found.functions[0].file == "core.py"
    assert any("does not own" in n for n in found.notes)


def test_copied_names_the_sample_and_derive_reads_the_plan_texts() -> None:
    found = ModuleContract.from_dict(
        {"module": "m", "language": "python", "functions": [{"name": "count_words", "params": [{"name": "t"}]}]}
    )
    assert copied(found)
    spec = ModuleSpec(
        id="ui",
        files=["index.html", "app.py"],
        description="add_book(title, author) stores; the page has #title and #add",
    )
    derived = derive_contract(spec, file_roles(spec))
    assert [(f.name, [p.name for p in f.params]) for f in derived.functions] == [("add_book", ["title", "author"])]
    assert [e.id for e in derived.elements] == ["title", "add"]


def test_a_user_scenario_naming_what_the_contract_lacks_is_named() -> None:
    spec = ModuleSpec(id="app", files=["main.py", "shout.py"])
    contract = read_contract(_contract("shout"), spec, file_roles(spec))
    scenario = {"kind": "python", "module": "shout", "calls": [{"function": "convert", "args": [1], "expected": 2}]}
    assert lacking_names(scenario, {"app": contract}) == ["function convert"]
    ok = {"kind": "command", "command": ["python", "main.py", "shout", "x"], "before": []}
    assert lacking_names(ok, {"app": contract}) == []


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"modules": {"app": {"functions": [{"name": "not a name"}]}}}, "modules.app.functions[0].name"),
        ({"modules": {"app": {"functions": "shout"}}}, "modules.app.functions"),
        ({"modules": {"app": {"elements": [{"id": "title", "role": "slider"}]}}}, "modules.app.elements[0].role"),
        ({"modules": {"app": {"widgets": []}}}, "modules.app.widgets"),
        (
            {
                "modules": {
                    "app": {"functions": [{"name": "f", "params": [{"name": "a"}], "examples": [{"args": [1, 2]}]}]}
                }
            },
            "modules.app.functions[0].examples[0].args",
        ),
    ],
)
def test_a_bad_contract_is_one_line_naming_the_field(tmp_path: Path, content: dict[str, Any], field: str) -> None:
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ContractError, match=re.escape(field)):
        load_contract(path)


def test_a_bad_contract_file_stops_the_cli_before_any_model_loads(tmp_path: Path) -> None:
    path = tmp_path / "contract.json"
    path.write_text(json.dumps({"modules": {"app": {"functions": [{"name": "9lives"}]}}}))
    done = subprocess.run(
        [sys.executable, "-m", "matrioska", "run", "a task", "--contract", str(path), "--out", str(tmp_path / "out"),
         "--model", "no-such-model-anywhere"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "modules.app.functions[0].name" in lines[0], done.stderr


@needs_bwrap
def test_the_users_contract_is_used_and_no_contract_is_asked(tmp_path: Path) -> None:
    script = Script([])
    state, _ = _run(tmp_path, script, contract={"modules": {"app": _contract("yell")}}, verify=False)
    assert script.asked_of("contract") == [] and state["contract"]["app"]["source"] == "user"
    assert "yell" in script.asked


def test_a_read_identifier_costs_a_repair_only_when_the_contract_declares_it() -> None:
    from matrioska.generation.project import ProjectFile, module_problems

    spec = ModuleSpec(id="css", files=["style.css"], shared_state_reads=["element_ids"])
    files = [ProjectFile("style.css", "#title { color: red; }\n", "css")]
    reads = {"element_ids": ["#title", "#add"]}
    assert module_problems(spec, files, {}, reads)[0] == []  # a style sheet need not style every id
    problems, _ = module_problems(spec, files, {}, reads, declared={"add"})
    assert problems == ["the element id 'add' you read in shared_state key 'element_ids' does not occur in your files"]


def test_independent_modules_are_asked_together_and_their_events_reach_the_stream(tmp_path: Path) -> None:
    # seen on the real 0.5B through vLLM: an event emitted by a contract asked in a worker thread
    # needs the graph's context there (LangGraph's custom stream writer reads it)
    plan = {
        "project_name": "two",
        "goal": "two helpers",
        "modules": [
            {"id": "left", "files": ["left.py"], "description": "left helper"},
            {"id": "right", "files": ["right.py"], "description": "right helper"},
        ],
    }
    replies: dict[str, list[str]] = {"left": ["not json", "{}"], "right": ["not json", "{}"]}

    def respond(messages: list[BaseMessage]) -> str:
        if is_contract(messages):
            module = re.search(r"MODULE (\w+):", str(messages[-1].content) + str(messages[1].content)).group(1)  # type: ignore[union-attr]
            return replies[module].pop(0)
        return "notes"

    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond, acceptance_reply='{"scenarios": []}', contract_reply=None),
        tmp_path,
        verify=False,
        functions=False,
        max_repairs=0,
        interrupt_after_architect=True,
    ) as orchestrator:
        orchestrator.run("two helpers", architecture=plan, on_event=events.append)
    unusable = sorted(e["module"] for e in events if e["event"] == "contract_unusable")
    assert unusable == ["left", "right"] and replies == {"left": [], "right": []}


def test_scenarios_the_model_writes_name_only_the_contracts_functions_and_ids() -> None:
    from matrioska.nodes.acceptance import _contract_slots
    from matrioska.plan.scenario_slots import plan_slots, slotted_schema

    plan = [
        {"id": "app", "files": ["main.py", "shout.py"], "description": "convert(text) shouts"},
        {"id": "page", "files": ["index.html"], "description": "has #name"},
    ]
    spec = ModuleSpec(id="app", files=["main.py", "shout.py"])
    page = ModuleSpec(id="page", files=["index.html"])
    contracts = {
        "app": read_contract(_contract("shout"), spec, file_roles(spec)),
        "page": read_contract(PAGE_CONTRACT, page, file_roles(page)),
    }
    slots = _contract_slots(plan_slots(plan), contracts)
    assert slots.modules == {"shout": ["shout"]} and "#name" not in slots.ids and "#sum" in slots.ids
    assert '"convert"' not in json.dumps(slotted_schema(slots))


@needs_bwrap
def test_the_review_shows_the_contract_and_an_edit_renames_everywhere(tmp_path: Path) -> None:
    script = Script([_contract("shout")])
    model = ScriptedChatModel(respond=script, acceptance_reply=None, contract_reply=None)
    options = {"sandbox": "bwrap", "verify_timeout": 60, "max_repairs": 0, "function_samples": 1}
    with MatrioskaOrchestrator(
        model, tmp_path, interrupt_after_architect=True, functions=True, **options
    ) as orchestrator:
        state = orchestrator.run("a tool that shouts", architecture=PLAN, thread_id="t")
        pending = state["pending_review"]
        assert pending["contract"]["app"]["functions"][0]["name"] == "shout"
        bad = orchestrator.review("t", "edit", contract={"modules": {"nope": {}}})
        assert "edited contract rejected" in bad["pending_review"]["error"] and "nope" in bad["pending_review"]["error"]
        state = orchestrator.review("t", "edit", contract={"modules": {"app": _contract("holler")}})
    assert state["contract"]["app"]["source"] == "user" and "holler" in script.asked and "shout" not in script.asked
    assert [c["function"] for s in state["acceptance"] if s["kind"] == "python" for c in s["calls"]] == ["holler"] * 2
    assert state["verification"]["works"] is True, state["verification"]


def test_a_command_missing_its_functions_arguments_takes_them() -> None:
    # seen on the real 0.5B: `reverse` with no argument calling reverse_words(sentence), its example
    # printing a value no call could give
    spec = ModuleSpec(id="app", files=["main.py", "words.py"])
    data = {
        "functions": [
            {
                "name": "reverse_words",
                "params": [{"name": "sentence", "type": "str"}],
                "returns": "str",
                "purpose": "the words in reverse order",
                "examples": [{"args": ["one two"], "expected": "two one"}, {"args": [""], "expected": ""}],
                "calls": [],
                "file": "words.py",
            }
        ],
        "commands": [
            {
                "name": "reverse",
                "function": "reverse_words",
                "arguments": [],
                "example": {"args": [], "stdout": "dlrow"},
            }
        ],
    }
    found = read_contract(data, spec, file_roles(spec))
    assert [a.name for a in found.commands[0].arguments] == ["sentence"]
    assert any("takes sentence" in n for n in found.notes)
    command = next(s for s in contract_scenarios({"app": found}) if s["kind"] == "command")
    assert command["args"] == ["reverse", "one two"] and command["stdout_contains"] == ["two one"]


def test_a_page_the_plan_gives_no_script_is_written_by_the_model() -> None:
    from matrioska.functions.derive import page_only

    spec = ModuleSpec(id="page", files=["index.html"])
    contract = read_contract(PAGE_CONTRACT, spec, file_roles(spec))
    assert contract.scripts == [] and page_only(spec, contract, {"page": contract}, "t") is None
    contract.scripts = ["app.js"]
    made = page_only(spec, contract, {"page": contract}, "t")
    assert made is not None and made["path"] == "page scaffold" and "whole" not in made


def test_a_function_another_module_holds_is_dropped_and_the_module_asked_again(tmp_path: Path) -> None:
    # seen on the real 0.5B: roman_to_int, asked beside int_to_roman, planned int_to_roman again
    plan = {
        "project_name": "roman",
        "goal": "roman numerals",
        "modules": [
            {"id": "to_roman", "files": ["to_roman.py"], "description": "integers to Roman numerals"},
            {"id": "from_roman", "files": ["from_roman.py"], "description": "Roman numerals to integers"},
        ],
    }

    def function(name: str, file: str, args: list[Any], expected: Any) -> dict[str, Any]:
        return {
            "functions": [
                {
                    "name": name,
                    "params": [{"name": "value", "type": "int" if file == "to_roman.py" else "str"}],
                    "returns": "str" if file == "to_roman.py" else "int",
                    "purpose": name,
                    "examples": [{"args": args, "expected": expected}, {"args": args, "expected": expected}],
                    "calls": [],
                }
            ],
            "constants": [],
        }

    asked: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        human = str(messages[1].content)
        module = re.search(r"MODULE (\w+):", human).group(1)  # type: ignore[union-attr]
        again = "belong to other modules already" in human
        asked.append(module + (" again" if again else ""))
        if module == "to_roman":
            return json.dumps(function("to_roman", "to_roman.py", [4], "IV"))
        if again:
            return json.dumps(function("from_roman", "from_roman.py", ["IV"], 4))
        return json.dumps(function("to_roman", "from_roman.py", [4], "IV"))

    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond, contract_reply=None),
        tmp_path,
        verify=False,
        interrupt_after_architect=True,
    ) as orchestrator:
        state = orchestrator.run("roman numerals", architecture=plan, on_event=events.append)
    assert sorted(asked) == ["from_roman", "from_roman again", "to_roman"]
    contract = state["pending_review"]["contract"]
    assert [f["name"] for f in contract["to_roman"]["functions"]] == ["to_roman"]
    assert [f["name"] for f in contract["from_roman"]["functions"]] == ["from_roman"]
    assert any("module to_roman's" in n for n in contract["from_roman"]["notes"])
