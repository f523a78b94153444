"""Interfaces travel along dependencies: extracted from the files, given to the dependents'
prompts, and every cross-module reference checked against them before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.checking.interfaces import (
    check_references,
    collisions,
    file_interface,
    module_interface,
    render_interface,
)
from matrioska.generation.project import ProjectFile
from matrioska.kinds.python.source import python_import_names
from matrioska.plan.parsing import UPDATE_MARKER

CORE = '''"""ISBN tools."""
import re

MAX_LENGTH = 13
_cache = {}


class IsbnValidator:
    """Validates ISBN numbers."""

    def __init__(self, strict=False):
        self.strict = strict

    def is_valid_isbn10(self, isbn: str) -> bool:
        """True when `isbn` is a valid ISBN-10."""
        digits = re.sub(r"[^0-9X]", "", isbn)
        return len(digits) == 10 and sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits)) % 11 == 0

    def is_valid_isbn13(self, isbn):
        digits = re.sub(r"[^0-9]", "", isbn)
        return len(digits) == 13 and sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits)) % 10 == 0


def to_isbn13(isbn10: str, *, prefix: str = "978") -> str:
    """Convert an ISBN-10 to an ISBN-13."""
    body = prefix + isbn10[:9]
    return body + str((10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10)


def _helper():
    pass


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    commands.add_parser("check")
    parser.add_argument("--strict", action="store_true")
'''
BODY_LINE = "return len(digits) == 10 and sum("  # never in another module's prompt


def py(path: str, content: str, module: str) -> ProjectFile:
    return ProjectFile(path, content, module)


# ----------------------------------------------------------------------------- extraction


def test_python_interface_has_signatures_docs_constants_and_entry_point_but_no_bodies() -> None:
    face = file_interface("isbn_validator.py", CORE)
    assert face is not None and face["kind"] == "python"
    assert face["imports"] == ["isbn_validator"]
    assert [f["name"] for f in face["functions"]] == ["to_isbn13"]  # _helper is private
    assert face["functions"][0]["params"] == "isbn10: str, *, prefix: str='978'"
    assert face["functions"][0]["doc"] == "Convert an ISBN-10 to an ISBN-13."
    cls = face["classes"][0]
    assert (cls["name"], cls["params"], cls["doc"]) == ("IsbnValidator", "strict=False", "Validates ISBN numbers.")
    assert [m["name"] for m in cls["methods"]] == ["is_valid_isbn10", "is_valid_isbn13"]
    assert cls["methods"][0]["params"] == "isbn: str" and cls["methods"][0]["returns"] == " -> bool"
    assert face["constants"] == ["MAX_LENGTH"]
    assert face["main"] and face["commands"] == ["check"] and face["options"] == ["--strict"]
    text = render_interface(module_interface("core", [py("isbn_validator.py", CORE, "core")]))
    assert "import as `isbn_validator`" in text
    assert "def to_isbn13(isbn10: str, *, prefix: str='978') -> str  # Convert an ISBN-10 to an ISBN-13." in text
    assert ".is_valid_isbn10(isbn: str) -> bool" in text and "entry point: python isbn_validator.py {check}" in text
    assert BODY_LINE not in text and "_helper" not in text and "re.sub" not in text


def test_python_import_names_of_packages_and_src_layouts() -> None:
    assert python_import_names("src/isbn/core.py") == ["src.isbn.core", "isbn.core", "core"]
    assert python_import_names("isbn/__init__.py") == ["isbn"]
    assert python_import_names("my-tool/main.py") == ["main"]


def test_javascript_html_css_json_interfaces() -> None:
    js = file_interface(
        "app.js",
        """// helpers
const API = "/api";
function addBook(title, author) { document.getElementById('bookList').append(title); }
const removeBook = (id) => { document.querySelector('#bookList'); };
export class Shelf {}
export { addBook };
window.refresh = () => 1;
""",
    )
    assert [(f["name"], f["params"]) for f in js["functions"]] == [("addBook", "title, author"), ("removeBook", "id")]
    assert js["classes"] == ["Shelf"] and "API" in js["globals"] and js["window"] == ["refresh"]
    assert js["exports"] == ["Shelf", "addBook"] and js["module"] and js["ids_used"] == ["bookList"]
    page = file_interface(
        "index.html",
        """<!DOCTYPE html><html><head><link rel="stylesheet" href="style.css">
<script src="https://cdn.example/lib.js"></script></head><body>
<form id="bookForm"><input id="title" name="title" type="text"><select name="genre"></select></form>
<ul id="bookList"></ul><button onclick="addBook()">Add</button><script src="app.js"></script></body></html>""",
    )
    assert page["ids"] == ["bookForm", "title", "bookList"]
    assert page["fields"] == ["title (text)", "genre (select)"]
    assert page["scripts"] == ["https://cdn.example/lib.js", "app.js"] and page["styles"] == ["style.css"]
    assert page["handlers"] == ["addBook()"]
    css = file_interface("style.css", "#bookList li.done { color: red } .card:hover, #main { margin: 0 }")
    assert css["ids"] == ["bookList", "main"] and css["classes"] == ["card", "done"]
    data = file_interface("books.json", json.dumps([{"title": "A", "year": 1999}] * 3))
    assert data["shape"] == "[3 x {title: str, year: int}]"
    assert file_interface("notes.txt", "anything") == {"path": "notes.txt", "kind": "file"}


def test_a_file_that_does_not_parse_has_no_interface_and_a_big_one_is_trimmed_to_its_budget() -> None:
    face = module_interface(
        "core", [py("core.py", "def broken(:\n", "core"), py("ok.py", "def fine(): pass\n", "core")]
    )
    assert [e["path"] for e in face["files"]] == ["ok.py"]
    assert face["problems"] == ["core.py does not parse: it has no interface until it is repaired"]
    assert module_interface("empty", [])["problems"] == [
        "module 'empty' produced no files: there is nothing of it to use"
    ]
    big = "\n".join(f"def function_{i}(a, b, c=1):\n    '''Doc of {i}.'''\n    return {i}\n" for i in range(400))
    small = "def tiny(): pass\n"
    face = module_interface("core", [py("big.py", big, "core"), py("small.py", small, "core")])
    text = render_interface(face, 800)
    assert len(text) <= 800
    assert "def tiny()" in text  # the longest section was trimmed, not the small one
    assert "more line(s) left out" in text and "return 7" not in text


# ----------------------------------------------------------------------------- references


def core_face() -> dict:
    return module_interface("core", [py("isbn_validator.py", CORE, "core")])


def broken(rows: list[dict]) -> list[str]:
    return [f"{r['where']} {r['reference']}: {r['problem']}" for r in rows if r["status"] == "broken"]


def test_python_references_resolve_against_the_interface_with_the_names_that_exist() -> None:
    cli = py(
        "cli.py",
        """import isbn_validator
from isbn_validator import validate, to_isbn13, IsbnValidator
print(isbn_validator.validate("x"), to_isbn13("1", "2"), to_isbn13(prefix="979"), IsbnValidator(strict=True))
print(isbn_validator.MAX_LENGTH, to_isbn13("0306406152", prefix="979"))
""",
        "cli",
    )
    rows = check_references("cli", [cli], {"core": core_face()})
    problems = broken(rows)
    assert len(problems) == 4, problems
    assert any(
        "cli.py:2 `from isbn_validator import validate`: isbn_validator.py (module core) has no 'validate'; "
        "it has: class IsbnValidator(strict=False) with .is_valid_isbn10(), .is_valid_isbn13(), "
        "to_isbn13(isbn10: str, *, prefix: str='978'), MAX_LENGTH" in p
        for p in problems
    )
    assert any("`isbn_validator.validate`" in p for p in problems)
    assert any("passes 2 positional argument(s) to to_isbn13" in p for p in problems)
    assert any("calls to_isbn13(isbn10: str, *, prefix: str='978') without isbn10" in p for p in problems)
    held = [r["reference"] for r in rows if r["status"] == "held"]
    assert "`from isbn_validator import IsbnValidator`" in held and "`isbn_validator.MAX_LENGTH`" in held


def test_packages_relative_imports_submodules_and_pending_modules() -> None:
    faces = {
        "core": module_interface(
            "core",
            [
                py("isbn/__init__.py", "from .core import check\n", "core"),
                py("isbn/core.py", "def check(isbn):\n    return True\n", "core"),
            ],
        ),
    }
    cli = py(
        "isbn/cli.py",
        "from .core import check, convert\nfrom isbn import core\nfrom . import core as c\n"
        "from reports import summary\nimport requests\n",
        "cli",
    )
    rows = check_references("cli", [cli], faces, pending_paths=["reports.py"])
    assert broken(rows) == [
        "isbn/cli.py:1 `from isbn.core import convert`: isbn/core.py (module core) has no 'convert'; "
        "it has: check(isbn)"
    ]
    assert {r["reference"] for r in rows if r["status"] == "held"} == {
        "`from isbn.core import check`",
        "`from isbn import core`",
    }
    # a sibling module that is not in the project at all (and not pending)
    rows = check_references("cli", [py("main.py", "from isbn.util import x\n", "cli")], faces)
    assert broken(rows) == [
        "main.py:1 `from isbn.util import ...`: no module 'isbn.util' in the project; "
        "its Python modules are: isbn, isbn.core"
    ]


def test_own_files_and_third_party_imports_are_not_cross_module_references() -> None:
    own = [py("a.py", "def f(x):\n    return x\n", "m"), py("b.py", "from a import g\nimport numpy\nimport os\n", "m")]
    assert check_references("m", own, {}) == []


def test_javascript_and_page_references() -> None:
    faces = {
        "page": module_interface(
            "page",
            [
                ProjectFile(
                    "index.html",
                    '<ul id="list"></ul><input id="entry">'
                    '<button onclick="addItem()">+</button><script src="app.js"></script>'
                    '<link rel="stylesheet" href="css/site.css">',
                    "page",
                )
            ],
        ),
        "util": module_interface("util", [ProjectFile("util.js", "export function fmt(x) { return x; }\n", "util")]),
    }
    script = ProjectFile(
        "app.js",
        "import { fmt, parse } from './util.js';\n"
        "function addTask() { document.getElementById('list'); document.getElementById('todo-input'); }\n",
        "js",
    )
    rows = check_references("js", [script], faces)
    assert broken(rows) == [
        "app.js import of parse from './util.js': util.js (module util) does not export 'parse'; it exports: fmt",
        "app.js element id 'todo-input': no HTML file defines id='todo-input'; the ids that exist: list, entry",
    ]
    page_rows = check_references(
        "page", [ProjectFile("index.html", faces["page"]["files"][0].get("raw", ""), "page")], {}
    )
    assert page_rows == []  # an empty page references nothing
    html = ProjectFile(
        "index.html",
        '<button onclick="addItem()">+</button><script src="app.js"></script>'
        '<link rel="stylesheet" href="css/site.css">',
        "page",
    )
    rows = check_references("page", [html], {"js": module_interface("js", [script])})
    assert broken(rows) == [
        "index.html stylesheet 'css/site.css': links 'css/site.css', which no file of the project is; its stylesheets are: none",
        "index.html handler calls addItem(): the handler 'addItem()' calls addItem(), which no script defines; "
        "the scripts define: addTask",
    ]
    # a page whose script is still to be written by a later module is not judged yet
    assert broken(check_references("page", [html], {}, pending_paths=["app.js", "css/site.css"])) == [
        "index.html handler calls addItem(): the handler 'addItem()' calls addItem(), which no script defines; "
        "the scripts define: "
    ]


def test_names_two_modules_both_define_are_reported() -> None:
    faces = {
        "a": module_interface(
            "a",
            [
                ProjectFile("a.js", "let count = 0;\nfunction render() {}\n", "a"),
                ProjectFile("index.html", '<script src="a.js"></script><script src="b.js"></script>', "a"),
            ],
        ),
        "b": module_interface(
            "b", [ProjectFile("b.js", "let count = 1;\n", "b"), ProjectFile("lib/util.py", "X = 1\n", "b")]
        ),
        "c": module_interface("c", [ProjectFile("util.py", "Y = 1\n", "c")]),
    }
    rows = collisions(faces, ["a", "b", "c"])
    assert [(r["module"], r["target"], r["reference"]) for r in rows] == [("b", "a", "global 'count' on index.html")]
    faces["c"] = module_interface("c", [ProjectFile("lib/util.py", "Y = 1\n", "c")])
    faces["b"]["files"] = [e for e in faces["b"]["files"] if e["kind"] == "javascript"] + [
        file_interface("lib/util.py", "X = 1\n")
    ]
    assert ("c", "Python module 'lib.util'") in [
        (r["module"], r["reference"]) for r in collisions(faces, ["a", "b", "c"])
    ]


# ----------------------------------------------------------------------------- through the graph

ISBN_PLAN = {
    "project_name": "ISBN",
    "goal": "A Python library that validates ISBN numbers, with a command-line entry point and pytest tests",
    "modules": [
        {"id": "isbn_validator", "name": "Validator", "files": ["isbn_validator.py"]},
        {"id": "cli", "name": "Entry point", "dependencies": ["isbn_validator"], "files": ["cli.py"]},
        {"id": "pytest", "name": "Tests", "dependencies": ["isbn_validator"], "files": ["tests/test_isbn.py"]},
    ],
}
CLI_WRONG = "import sys\nimport isbn_validator\n\n\ndef main():\n    print(isbn_validator.validate(sys.argv[1]))\n\n\nif __name__ == '__main__':\n    main()\n"
CLI_RIGHT = (
    "import sys\nfrom isbn_validator import IsbnValidator\n\n\ndef main():\n"
    "    print(IsbnValidator().is_valid_isbn10(sys.argv[1]))\n\n\nif __name__ == '__main__':\n    main()\n"
)
TESTS_WRONG = (
    "from isbn_validator import validator\n\n\ndef test_isbn10():\n    assert validator.isbn10('0306406152')\n"
)
TESTS_RIGHT = (
    "from isbn_validator import IsbnValidator, to_isbn13\n\n\ndef test_isbn10():\n"
    "    assert IsbnValidator().is_valid_isbn10('0306406152')\n\n\ndef test_to_isbn13():\n"
    "    assert to_isbn13('0306406152') == '9780306406157'\n"
)


def reply(path: str, code: str) -> str:
    return f"{path}\n```python\n{code}```\n{UPDATE_MARKER} {{}}"


def recording(calls: list[str], answer) -> ScriptedChatModel:
    """A model whose executor replies come from `answer(module, messages)`; module calls recorded."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages)
        calls.append(module)
        return answer(module, messages)

    return ScriptedChatModel(respond=respond)


def interface_in_prompt(messages: list[BaseMessage]) -> bool:
    first = str(messages[1].content)
    section = first.split("INTERFACES YOU BUILD AGAINST", 1)[-1]
    return "class IsbnValidator(strict=False)" in section and ".is_valid_isbn10(isbn: str) -> bool" in section


def isbn_model() -> ScriptedChatModel:
    seen: dict[str, int] = {}

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(ISBN_PLAN)
        if is_assembler(messages):
            return "Run cli.py; tests in tests/."
        module = module_id_of(messages)
        seen[module] = seen.get(module, 0) + 1
        if module == "isbn_validator":
            return reply("isbn_validator.py", CORE)
        # first reply written blind; the second only when the prompt carries the core's interface
        right = seen[module] > 1 and interface_in_prompt(messages)
        if module == "cli":
            return reply("cli.py", CLI_RIGHT if right else CLI_WRONG)
        return reply("tests/test_isbn.py", TESTS_RIGHT if right else TESTS_WRONG)

    return ScriptedChatModel(respond=respond)


def test_dependents_build_against_the_core_interface_and_every_reference_resolves(tmp_path: Path) -> None:
    model = isbn_model()
    with MatrioskaOrchestrator(model, tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("isbn library", architecture=ISBN_PLAN)
    rows = [r for r in state["integration_report"]["consistency"] if r.get("kind") == "reference"]
    assert rows and all(r["status"] == "held" for r in rows), [r for r in rows if r["status"] == "broken"]
    assert state["integration_report"]["references"] == {"total": len(rows), "resolved": len(rows)}
    assert {r["module"] for r in rows} == {"cli", "pytest"} and {r["target"] for r in rows} == {"isbn_validator"}
    for module in ("cli", "pytest"):
        report = state["module_reports"][module]
        assert report["attempts"] == 2 and report["references"]["broken"] == 0
        first_problems = report["repairs"][0]["problems"]
        assert any("has no 'valid" in p and "class IsbnValidator(strict=False)" in p for p in first_problems), (
            first_problems
        )
        assert report["interface_tokens"] > 0
    prompts = [
        "\n".join(str(m.content) for m in call) for call in model.calls if module_id_of(call) in ("cli", "pytest")
    ]
    assert prompts and all("class IsbnValidator" in p for p in prompts)
    assert not any(BODY_LINE in p for p in prompts)  # signatures only, never the core's code
    face = state["interfaces"]["isbn_validator"]
    assert face["files"][0]["imports"] == ["isbn_validator"] and face["problems"] == []
    written = (tmp_path / "project" / "cli.py").read_text()
    assert "IsbnValidator().is_valid_isbn10" in written
    manifest = json.loads((tmp_path / "matrioska_checkpoints" / "manifest.json").read_text())
    assert "class IsbnValidator(strict=False)" in manifest["interfaces"]["isbn_validator"]["text"]
    assert state["verification"]["works"] is None  # --no-verify: nothing ran, nothing claimed


def test_a_reference_into_a_later_module_is_a_fix_round_that_carries_its_interface(tmp_path: Path) -> None:
    """No dependency declared: the CLI runs first, blind; the reference check after assembly sends it
    back, before anything runs, with the interface of the module it points into."""
    plan = {
        "project_name": "ISBN",
        "goal": "ISBN tools",
        "modules": [
            {"id": "cli", "name": "Entry point", "files": ["cli.py"]},
            {"id": "isbn_validator", "name": "Validator", "files": ["isbn_validator.py"]},
        ],
    }
    calls: list[str] = []

    def answer(module: str, messages: list[BaseMessage]) -> str:
        if module == "isbn_validator":
            return reply("isbn_validator.py", CORE)
        last = str(messages[-1].content)
        if "INTERFACES OF THE OTHER MODULES IT NAMES" in last and "class IsbnValidator(strict=False)" in last:
            return reply("cli.py", CLI_RIGHT)
        return reply("cli.py", CLI_WRONG)

    model = recording(calls, answer)
    with MatrioskaOrchestrator(model, tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("isbn", architecture=plan)
    assert calls == ["cli", "isbn_validator", "cli"]
    history = state["verification"]["history"]
    assert history[0]["failed"] == ["cross-module references"] and history[0]["modules"] == ["cli"]
    rows = [r for r in state["integration_report"]["consistency"] if r.get("kind") == "reference"]
    assert rows and all(r["status"] == "held" for r in rows)
    fix = state["module_reports"]["cli"]["runtime_fixes"][0]
    assert "has no 'validate'" in fix["evidence"]


def test_references_that_never_resolve_make_an_honest_verdict(tmp_path: Path) -> None:
    plan = {**ISBN_PLAN, "modules": ISBN_PLAN["modules"][:2]}

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages)
        return reply("isbn_validator.py", CORE) if module == "isbn_validator" else reply("cli.py", CLI_WRONG)

    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond), tmp_path, verify=False, max_repairs=1, fix_rounds=1
    ) as orchestrator:
        state = orchestrator.run("isbn", architecture=plan)
    verdict = state["verification"]
    assert verdict["works"] is False and verdict["references_broken"] == 1
    assert "cross-module reference(s) do not resolve" in verdict["reason"]
    assert "Cross-module references that do not resolve: 1" in state["final_result"]
    assert state["module_reports"]["cli"]["problems"]


def test_an_interface_change_in_a_fix_round_re_runs_the_dependents(tmp_path: Path) -> None:
    """The core is sent back (a reference of its own is broken) and renames its function: the module
    built against the old interface runs again, once, against the new one."""
    plan = {
        "project_name": "P",
        "goal": "g",
        "modules": [
            {"id": "core", "files": ["core.py"]},
            {"id": "cli", "dependencies": ["core"], "files": ["cli.py"]},
            {"id": "extra", "files": ["extra.py"]},
        ],
    }
    calls: list[str] = []

    def answer(module: str, messages: list[BaseMessage]) -> str:
        if module == "core":
            fixed = "FAILED CHECK" in str(messages[-1].content)
            code = (
                "from extra import helper\n\ndef run(x):\n    return helper(x)\n"
                if fixed
                else "from extra import missing\n\ndef start(x):\n    return x\n"
            )
            return reply("core.py", code)
        if module == "cli":
            uses = "run" if "def run(x)" in str(messages[1].content) else "start"
            return reply("cli.py", f"from core import {uses}\n\nprint({uses}(1))\n")
        return reply("extra.py", "def helper(x):\n    return x\n")

    with MatrioskaOrchestrator(recording(calls, answer), tmp_path, verify=False, max_repairs=0) as orchestrator:
        state = orchestrator.run("p", architecture=plan)
    assert calls == ["core", "extra", "cli", "core", "cli"]
    assert "from core import run" in (tmp_path / "project" / "cli.py").read_text()
    assert state["module_reports"]["cli"]["runtime_fixes"][0]["reason"] == "a module it reads from changed"
    assert all(
        r["status"] == "held" for r in state["integration_report"]["consistency"] if r.get("kind") == "reference"
    )


PAGE_PLAN = {
    "project_name": "Todo page",
    "goal": "A todo page",
    "modules": [
        {"id": "page", "name": "Page", "files": ["index.html"]},
        {"id": "script", "name": "Script", "dependencies": ["page"], "files": ["app.js"]},
    ],
}
PAGE = (
    '<!DOCTYPE html>\n<html>\n<head><title>Todo</title></head>\n<body>\n<input id="task-input" type="text">\n'
    '<button id="add-task">Add</button>\n<ul id="task-list"></ul>\n<script src="app.js"></script>\n</body>\n</html>\n'
)
JS_WRONG_IDS = (
    "const input = document.getElementById('todoInput');\nconst list = document.getElementById('todoList');\n"
    "document.getElementById('addBtn').addEventListener('click', () => { list.append(input.value); });\n"
)
JS_RIGHT_IDS = (
    "const input = document.getElementById('task-input');\nconst list = document.getElementById('task-list');\n"
    "document.getElementById('add-task').addEventListener('click', () => { list.append(input.value); });\n"
)


def test_a_script_looks_up_the_ids_of_the_page_it_depends_on(tmp_path: Path) -> None:
    seen: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages)
        seen.append(module)
        if module == "page":
            return f"index.html\n```html\n{PAGE}```\n{UPDATE_MARKER} {{}}"
        carries = "element ids: task-input, add-task, task-list" in str(messages[1].content)
        code = JS_RIGHT_IDS if seen.count("script") > 1 and carries else JS_WRONG_IDS
        return f"app.js\n```javascript\n{code}```\n{UPDATE_MARKER} {{}}"

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("todo page", architecture=PAGE_PLAN)
    first = state["module_reports"]["script"]["repairs"][0]["problems"]
    assert any(
        "no HTML file defines id='todoInput'; the ids that exist: task-input, add-task, task-list" in p for p in first
    )
    rows = [r for r in state["integration_report"]["consistency"] if r.get("kind") == "reference"]
    assert {r["reference"] for r in rows} >= {"element id 'task-input'", "element id 'add-task'", "script 'app.js'"}
    assert all(r["status"] == "held" for r in rows)
    script_prompts = [str(call[1].content) for call in model.calls if module_id_of(call) == "script"]
    assert all("<ul id=" not in p for p in script_prompts)  # the page's ids, never its markup


def test_an_import_from_a_module_the_project_lacks_of_names_a_sibling_defines_names_the_right_module() -> None:
    """What Qwen2.5-Coder-0.5B wrote blind for the ISBN task: the core's function imported from a
    module named after it, and from a placeholder module."""
    cli = py("main.py", "from validate_isbn import validate_isbn\nimport numpy\nfrom somepkg import thing\n", "cli")
    tests = py("tests/test_isbn.py", "from project_module import to_isbn13, IsbnValidator\nimport to_isbn13\n", "tests")
    rows = check_references("cli", [cli], {"core": core_face()}) + check_references(
        "tests", [tests], {"core": core_face()}
    )
    assert broken(rows) == [
        "tests/test_isbn.py:1 `to_isbn13` from 'project_module': no module 'project_module' in the project; "
        "'to_isbn13' is in isbn_validator.py (module core): `from isbn_validator import to_isbn13`",
        "tests/test_isbn.py:1 `IsbnValidator` from 'project_module': no module 'project_module' in the project; "
        "'IsbnValidator' is in isbn_validator.py (module core): `from isbn_validator import IsbnValidator`",
        "tests/test_isbn.py:2 `to_isbn13` from 'to_isbn13': no module 'to_isbn13' in the project; "
        "'to_isbn13' is in isbn_validator.py (module core): `from isbn_validator import to_isbn13`",
    ]  # `validate_isbn` is defined nowhere, numpy is installed-or-a-requirement, somepkg names nothing of ours
    # a module planned for a sibling that has not run yet is not judged
    assert (
        check_references("tests", [tests], {"core": core_face()}, pending_paths=["project_module.py", "to_isbn13.py"])
        == []
    )


def test_a_module_that_rewrites_what_a_sibling_provides_instead_of_importing_it() -> None:
    """The 0.5B's entry point for the ISBN task: stubs of the core's functions, no import."""
    cli = py(
        "main.py", "def to_isbn13(isbn10):\n    return isbn10\n\n\ndef main():\n    print(to_isbn13('1'))\n", "cli"
    )
    assert broken(check_references("cli", [cli], {"core": core_face()})) == [
        "main.py:1 `to_isbn13` defined again: 'to_isbn13' is already in isbn_validator.py (module core): "
        "import it (`from isbn_validator import to_isbn13`) instead of writing it again"
    ]
    importing = py(
        "main.py", "from isbn_validator import to_isbn13\n\n\ndef main():\n    print(to_isbn13('1'))\n", "cli"
    )
    assert broken(check_references("cli", [importing], {"core": core_face()})) == []


def test_only_a_module_built_earlier_counts_as_the_provider_of_a_rewritten_function() -> None:
    stub = py("main.py", "def to_isbn13(isbn10):\n    return isbn10\n", "cli")
    faces = {"core": core_face(), "cli": module_interface("cli", [stub])}
    core = py("isbn_validator.py", CORE, "core")
    assert broken(check_references("core", [core], faces, before=[])) == []  # the core came first
    assert len(broken(check_references("cli", [stub], faces, before=["core"]))) == 1
