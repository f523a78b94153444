"""What a small model's reply already says, read without the model (issue 26, items 2-4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.interfaces import module_interface
from matrioska.parsing import UPDATE_MARKER
from matrioska.precision import attempt_score, derive_update, json_as_code, update_in_code, worse_reason
from matrioska.project import ProjectFile


def test_an_update_assigned_in_python_code_is_taken_out_and_used() -> None:
    code = (
        "def is_palindrome(text):\n    return text == text[::-1]\n\n"
        'shared_state_update = {"api": is_palindrome, "names": ["a", "b"]}\n'
        "print(is_palindrome('aba'))\n"
    )
    files, update, notes = update_in_code([ProjectFile("pal.py", code, "core")])
    assert "shared_state_update" not in files[0].content and "print(is_palindrome" in files[0].content
    compile(files[0].content, "pal.py", "exec")
    assert update == {"api": "is_palindrome", "names": ["a", "b"]}
    assert notes == ["pal.py: the shared-state update assigned in the code (api, names) was removed from the file"]


def test_an_update_assigned_in_javascript_is_taken_out_and_used() -> None:
    code = 'function add() {}\nconst SHARED_STATE_UPDATE = {\n  "function_names": ["add"]\n};\nadd();\n'
    files, update, _ = update_in_code([ProjectFile("app.js", code, "app")])
    assert files[0].content == "function add() {}\nadd();\n"
    assert update == {"function_names": ["add"]}
    untouched = [ProjectFile("other.js", "const state = {a: 1};\n", "app")]
    assert update_in_code(untouched) == (untouched, {}, [])


def test_a_code_file_holding_json_is_a_problem() -> None:
    files = [
        ProjectFile("todo.py", '{"commands": ["add", "list"]}\n', "cli"),
        ProjectFile("data.json", '{"a": 1}', "cli"),
        ProjectFile("ok.py", "print(1)\n", "cli"),
    ]
    assert json_as_code(files) == [
        "todo.py: the file holds JSON, not Python code (the shared-state update goes after SHARED_STATE_UPDATE:, "
        "the code in the file)"
    ]


def test_empty_keys_the_interface_answers_are_derived() -> None:
    files = [
        ProjectFile("index.html", '<form id="addBook"><input id="title"></form>', "page"),
        ProjectFile("app.py", "import argparse\ndef add_book(t):\n    pass\n", "page"),
    ]
    face = module_interface("page", files)
    update, derived = derive_update(
        ["element_ids", "api_functions", "data_shape", "given"], {"element_ids": "", "given": "x"}, face
    )
    assert update == {"element_ids": ["addBook", "title"], "api_functions": ["add_book"], "given": "x"}
    assert derived == ["element_ids", "api_functions"]  # data_shape names nothing the interface lists


def test_the_worse_attempt_is_named() -> None:
    good = attempt_score(files=1, missing=0, invalid=0, broken=0, problems=1)
    assert worse_reason(attempt_score(0, 1, 0, 0, 2), good) == "had no file"
    assert worse_reason(attempt_score(1, 0, 1, 0, 1), good) == "had more files with problems"
    assert worse_reason(good, good) is None  # a tie goes to the newer attempt
    assert worse_reason(attempt_score(1, 0, 0, 0, 0), good) is None


PLAN = {
    "project_name": "Pal",
    "goal": "A palindrome checker",
    "modules": [
        {
            "id": "core",
            "name": "Core",
            "description": "is_palindrome",
            "files": ["pal.py"],
            "shared_state_writes": ["data_shape"],
        },
        {
            "id": "cli",
            "name": "CLI",
            "description": "command line",
            "files": ["main.py"],
            "dependencies": ["core"],
        },
    ],
}


def _run(tmp_path: Path, respond: Any) -> tuple[dict[str, Any], ScriptedChatModel]:
    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, base_path=tmp_path, verify=False, max_repairs=2) as orchestrator:
        return orchestrator.run("A palindrome checker"), model


def test_a_repair_that_is_worse_does_not_replace_the_better_attempt(tmp_path: Path) -> None:
    """Attempt 1 has the file but leaves a key empty; attempts 2 and 3 are prose (saved as the
    declared file, which does not compile): attempt 1 stays."""
    replies = {
        "core": [
            f'pal.py\n```python\ndef is_palindrome(t):\n    return t == t[::-1]\n```\n{UPDATE_MARKER} {{"data_shape": ""}}',
            f'Sorry, I cannot.\n{UPDATE_MARKER} {{"data_shape": "str -> bool"}}',
            f'Still nothing.\n{UPDATE_MARKER} {{"data_shape": "str -> bool"}}',
        ]
    }

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(PLAN)
        module = module_id_of(messages)
        if module in replies and replies[module]:
            return replies[module].pop(0)
        if "SHARED_STATE_UPDATE could not be used" in str(messages[-1].content):
            return "{}"
        return (
            f"main.py\n```python\nfrom pal import is_palindrome\nprint(is_palindrome('aba'))\n```\n{UPDATE_MARKER} {{}}"
        )

    result, _ = _run(tmp_path, respond)
    report = result["module_reports"]["core"]
    assert report["attempts"] == 3 and report["kept_attempt"] == 1
    assert report["discarded"] == [
        "kept attempt 1: attempt 2 had more files with problems",  # its prose was saved as pal.py
        "kept attempt 1: attempt 3 had more files with problems",
    ]
    assert "return t == t[::-1]" in result["artifacts"]["core"]


def test_update_in_code_and_foreign_files_are_settled_without_a_repair(tmp_path: Path) -> None:
    """The core writes its update as a Python assignment and also a file the cli owns: the
    assignment is taken out and used, the foreign file dropped; no repair call is made."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(PLAN)
        if module_id_of(messages) == "core":
            return (
                "pal.py\n```python\ndef is_palindrome(t):\n    return t == t[::-1]\n\n"
                'shared_state_update = {"data_shape": "str -> bool"}\n```\n\n'
                "main.py\n```python\nprint('not mine')\n```"
            )
        return (
            f"main.py\n```python\nfrom pal import is_palindrome\nprint(is_palindrome('aba'))\n```\n{UPDATE_MARKER} {{}}"
        )

    result, model = _run(tmp_path, respond)
    report = result["module_reports"]["core"]
    assert report["attempts"] == 1 and not report["problems"], report["problems"]
    assert result["shared_state"]["data_shape"] == "str -> bool"
    assert report["dropped_files"] == ["main.py belongs to module 'cli'; dropped"]
    assert "shared_state_update" not in result["artifacts"]["core"]
    assert "not mine" not in result["artifacts"]["core"] and "not mine" not in result["artifacts"]["cli"]
    core_calls = [c for c in model.calls if module_id_of(c) == "core"]
    assert len(core_calls) == 1  # no repair, no update re-ask
