"""What a small model's reply already says, read without the model (issue 26, items 2-4)."""

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
from matrioska.checking.interfaces import module_interface
from matrioska.generation.precision import (
    attempt_score,
    derive_update,
    json_as_code,
    prose_files,
    reads_as_prose,
    update_in_code,
    worse_reason,
)
from matrioska.generation.project import ProjectFile
from matrioska.plan.parsing import UPDATE_MARKER


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


def test_an_update_under_any_shared_state_name_is_taken_out_and_used() -> None:
    """Issue 32: `SHARED_STATE_ITEMS = {...}` is the update, like `shared_state_update`."""
    code = (
        "def add(a, b):\n    return a + b\n\n\n"
        'SHARED_STATE_ITEMS = {"api_functions": [add], "data_shape": "int, int -> int"}\n'
    )
    files, update, notes = update_in_code([ProjectFile("calc.py", code, "core")], ["api_functions"])
    assert files[0].content == "def add(a, b):\n    return a + b\n\n\n"
    assert update == {"api_functions": ["add"], "data_shape": "int, int -> int"}
    assert notes == [
        "calc.py: the shared-state update assigned in the code (api_functions, data_shape) was removed from the file"
    ]
    js = 'function add(a, b) { return a + b; }\nlet sharedStateKeys = {"api_functions": ["add"]};\n'
    files, update, _ = update_in_code([ProjectFile("calc.js", js, "core")])
    assert files[0].content == "function add(a, b) { return a + b; }\n"
    assert update == {"api_functions": ["add"]}


def test_a_declared_key_assigned_at_the_bottom_of_a_file_is_taken_out_and_used() -> None:
    """`api_functions = [...]` (a key the module declares) at the bottom of every file: taken out
    of each and used as that key's value; a list under another name stays."""
    code = "def add(a, b):\n    return a + b\n\nHELPERS = [add]\napi_functions = [add, 'sub']\n"
    js = "export function add(a, b) { return a + b; }\nconst API_FUNCTIONS = ['add'];\n"
    files, update, notes = update_in_code(
        [ProjectFile("calc.py", code, "core"), ProjectFile("calc.mjs", js, "core")], ["api_functions"]
    )
    assert files[0].content == "def add(a, b):\n    return a + b\n\nHELPERS = [add]\n"
    assert files[1].content == "export function add(a, b) { return a + b; }\n"
    assert update == {"api_functions": ["add"]}  # the last file's value
    assert len(notes) == 2 and all("(api_functions) was removed from the file" in note for note in notes)
    indented = "function f() {\n  const api_functions = ['f'];\n  return api_functions;\n}\n"
    assert update_in_code([ProjectFile("f.js", indented, "core")], ["api_functions"])[1] == {}


def test_a_declared_key_the_code_uses_stays_in_the_code() -> None:
    """The name is the code's own variable: its value is used, the line stays (removing it would
    break the code); the same when another file of the module imports it."""
    code = "commands = ['add', 'list']\n\n\ndef main(argv):\n    return argv[0] in commands\n"
    files, update, notes = update_in_code([ProjectFile("cli.py", code, "cli")], ["commands"])
    assert files[0].content == code
    assert update == {"commands": ["add", "list"]}
    assert notes == [
        "cli.py: the shared-state value assigned to commands in the code (commands) was used; "
        "the line stays (the code uses commands)"
    ]
    imported = [
        ProjectFile("names.py", "commands = ['add']\n", "cli"),
        ProjectFile("main.py", "from names import commands\nprint(commands)\n", "cli"),
    ]
    files, update, _ = update_in_code(imported, ["commands"])
    assert files[0].content == "commands = ['add']\n" and update == {"commands": ["add"]}
    js = "const element_ids = ['title'];\nelement_ids.forEach((id) => document.getElementById(id));\n"
    files, update, _ = update_in_code([ProjectFile("page.js", js, "page")], ["element_ids"])
    assert files[0].content == js and update == {"element_ids": ["title"]}
    # a shared_state* dict the code keeps its state in stays too
    store = "SHARED_STATE = {'todos': []}\n\n\ndef add(t):\n    SHARED_STATE['todos'].append(t)\n"
    files, update, _ = update_in_code([ProjectFile("todo.py", store, "core")], [])
    assert files[0].content == store and update == {"todos": []}


def test_prose_is_no_file() -> None:
    """Issue 32: a .py / .js / .html file that does not parse and reads as sentences is no file;
    code with a syntax error, a file that parses and other kinds stay."""
    prose = "I am sorry, I cannot help with that."
    assert reads_as_prose(prose) and reads_as_prose("# Fix\nThe name `add` is not defined. I cannot fix it.")
    assert not reads_as_prose("def add(a, b)\n    return a + b\n") and not reads_as_prose("Sorry")
    files = [
        ProjectFile("calc.py", prose + "\n", "core"),
        ProjectFile("app.js", "// app\nSorry, I can't write this script.\n", "core"),
        ProjectFile("index.html", "Here is the page you asked for.\n", "core"),
        ProjectFile("broken.py", "def add(a, b)\n    return a + b\n", "core"),  # code, not prose
        ProjectFile("ok.py", "# I am sorry, I cannot help with that.\n", "core"),  # parses
        ProjectFile("page.html", "<p>I am sorry, I cannot help with that.</p>\n", "core"),
        ProjectFile("notes.md", prose, "core"),
    ]
    kept, problems = prose_files(files)
    assert [f.path for f in kept] == ["broken.py", "ok.py", "page.html", "notes.md"]
    assert problems == [
        "calc.py: the reply for it is prose, not Python code ('I am sorry, I cannot help with that.'); "
        "no file was written: write the file's code",
        'app.js: the reply for it is prose, not JavaScript code ("// app Sorry, I can\'t write this script."); '
        "no file was written: write the file's code",
        "index.html: the reply for it is prose, not HTML markup ('Here is the page you asked for.'); "
        "no file was written: write the file's code",
    ]


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
    # a file that parses beats one that does not, whatever the other counts say (issue 32)
    unparsed = attempt_score(files=1, missing=0, invalid=1, broken=0, problems=1, unparsed=1)
    assert worse_reason(unparsed, attempt_score(1, 0, 2, 3, 9)) == "had more files that do not parse"
    assert worse_reason(attempt_score(1, 0, 2, 3, 9), unparsed) is None
    # a declared file missing (prose is no file) is no better than one that does not parse
    assert worse_reason(attempt_score(1, 1, 0, 0, 1), unparsed) == "lacked a declared file"
    assert worse_reason(unparsed, attempt_score(1, 1, 0, 0, 1)) is None
    # ties go to the newer attempt only when both parse
    assert worse_reason(unparsed, unparsed) == "had files that do not parse, as the kept one"
    assert worse_reason(attempt_score(0, 0, 0, 0, 3), attempt_score(0, 0, 0, 0, 3)) == "had no file either"


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
    """Attempt 1 has the file but leaves a key empty; attempts 2 and 3 are prose (no file: prose
    is never saved as the declared file): attempt 1 stays."""
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
        "kept attempt 1: attempt 2 had no file",  # its prose is no pal.py
        "kept attempt 1: attempt 3 had no file",
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


def test_a_prose_repair_loses_to_the_files_that_parse(tmp_path: Path) -> None:
    """Issue 32: attempt 1's test file parses but holds no test (one file with a problem);
    attempt 2's is prose. Both had one file with problems, and ties go to the newer attempt:
    prose won and became test_pal.py. Prose is no file now, and a file that parses beats one
    that does not: attempt 1 stays, nothing of the prose is written."""
    plan = {
        "project_name": "Pal",
        "goal": "A palindrome checker",
        "modules": [
            {"id": "core", "name": "Core", "description": "is_palindrome", "files": ["pal.py", "test_pal.py"]},
        ],
    }
    code = "pal.py\n```python\ndef is_palindrome(t):\n    return t == t[::-1]\n```\n"
    replies = [
        f"{code}test_pal.py\n```python\nfrom pal import is_palindrome\n```\n{UPDATE_MARKER} {{}}",
        f"{code}test_pal.py\n```python\nI am sorry, I cannot help with that.\n```\n{UPDATE_MARKER} {{}}",
    ]

    def respond(messages: list[BaseMessage]) -> str:
        return json.dumps(plan) if is_architect(messages) else replies.pop(0) if replies else "Still nothing."

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, base_path=tmp_path, verify=False, max_repairs=2) as orchestrator:
        result = orchestrator.run("A palindrome checker")
    report = result["module_reports"]["core"]
    assert report["attempts"] == 3 and report["kept_attempt"] == 1
    assert report["discarded"] == [
        "kept attempt 1: attempt 2 lacked a declared file",
        "kept attempt 1: attempt 3 had no file",
    ]
    assert "sorry" not in result["artifacts"]["core"].lower()
    assert (tmp_path / "project" / "test_pal.py").read_text() == "from pal import is_palindrome\n"
    second = report["repairs"][1]["problems"]
    assert second[0].startswith("the file 'test_pal.py' your module owns is missing")
    assert second[1].startswith("test_pal.py: the reply for it is prose, not Python code")


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_prose_fix_reply_loses_to_the_file_that_parses(tmp_path: Path) -> None:
    """Issue 32, as seen: calc.py parses and fails only at run time (NameError); the fix round's
    reply is prose. The current calc.py stays and the prose is never written."""
    plan = {
        "project_name": "Calc",
        "goal": "A calculator",
        "modules": [{"id": "core", "name": "Core", "description": "add(a, b)", "files": ["calc.py"]}],
    }
    name_error = "def add(a, b):\n    return a + b\n\nCACHE = cache_of(add)\n"
    replies = [f"calc.py\n```python\n{name_error}```\n{UPDATE_MARKER} {{}}", "I am sorry, I cannot help with that."]

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(plan)
        return replies.pop(0) if module_id_of(messages) == "core" and replies else "Run calc.py."

    model = ScriptedChatModel(respond=respond)
    options: dict[str, Any] = {"sandbox": "bwrap", "max_repairs": 0, "fix_rounds": 1}
    with MatrioskaOrchestrator(model, base_path=tmp_path, **options) as orchestrator:
        result = orchestrator.run("A calculator")
    report = result["module_reports"]["core"]
    assert report["runtime_fixes"] and not replies  # the fix round ran and got the prose
    assert report["kept_attempt"] == 0
    assert report["discarded"] == ["kept the current files: attempt 1 had no file"]
    assert (tmp_path / "project" / "calc.py").read_text() == name_error


def test_the_candidate_whose_files_parse_is_chosen(tmp_path: Path) -> None:
    """Best of N (issue 32): candidate A's pal.py does not parse, B's test file holds no test;
    one file with problems each, A the shorter (it used to win the tie). B's files parse: B."""
    plan = {
        "project_name": "Pal",
        "goal": "A palindrome checker",
        "modules": [
            {"id": "core", "name": "Core", "description": "is_palindrome", "files": ["pal.py", "test_pal.py"]},
        ],
    }
    a = (
        "pal.py\n```python\ndef is_palindrome(t)\n    return t\n```\n"
        "test_pal.py\n```python\ndef test_it():\n    assert True\n```\n"
    )
    b = (
        "pal.py\n```python\ndef is_palindrome(text):\n    return text == text[::-1]\n```\n"
        "test_pal.py\n```python\nfrom pal import is_palindrome\n\nCASES = ['aba', 'abba']\n```\n"
    )
    candidates = [a, b]
    lock = threading.Lock()

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(plan)
        with lock:
            return (candidates.pop(0) if candidates else b) + f"{UPDATE_MARKER} {{}}"

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, base_path=tmp_path, verify=False, max_repairs=0, samples=2) as orchestrator:
        result = orchestrator.run("A palindrome checker")
    report = result["module_reports"]["core"]
    assert sorted(c["problems"] for c in report["candidates"]) == [1, 1]
    assert "text[::-1]" in result["artifacts"]["core"]
    [kept] = [c for c in report["candidates"] if c["kept"]]
    assert "CASES" in kept["artifact"]
