"""Near misses: a reference one close name away from a name that exists is repaired in place,
without the model, and reported; zero or several candidates are left to the model, named."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.checking.interfaces import check_references, module_interface
from matrioska.checking.nearmiss import NearMisses, apply_near_misses
from matrioska.cli.progress import ProgressPrinter
from matrioska.generation.project import ProjectFile
from matrioska.kinds.nearmiss import close_candidates
from matrioska.plan.parsing import UPDATE_MARKER

PAGE = (
    '<!DOCTYPE html>\n<html>\n<head><title>Library</title><link rel="stylesheet" href="css/style.css"></head>\n'
    '<body>\n<input id="bookTitle" type="text">\n<button id="addBook" onclick="saveBook()">Add</button>\n'
    '<ul class="book-list"></ul>\n<script src="js/app.js"></script>\n</body>\n</html>\n'
)
CORE = "def validate_isbn(text):\n    return len(text) in (10, 13)\n\n\nclass IsbnValidator:\n    pass\n"


def page_faces(page: str = PAGE) -> dict[str, dict[str, Any]]:
    return {"page": module_interface("page", [ProjectFile("index.html", page, "page")])}


def repaired(holder: str, files: list[ProjectFile], faces: dict[str, dict[str, Any]], **options: Any) -> NearMisses:
    rows = check_references(holder, files, faces)
    return apply_near_misses(holder, files, rows, faces, **options)


def edits_of(near: NearMisses) -> list[tuple[str, int, str, str]]:
    return [(e["path"], e["line"], e["old"], e["new"]) for e in near.edits]


def broken(near: NearMisses) -> list[str]:
    return [r["reference"] for r in near.rows if r["status"] == "broken"]


# ----------------------------------------------------------------------------- closeness


def test_close_names_up_to_case_separators_and_a_small_edit() -> None:
    assert close_candidates("add-book", ["addBook", "bookList"]) == ["addBook"]
    assert close_candidates("add_book", ["addBook", "add-book", "x"]) == ["add-book", "addBook"]
    assert close_candidates("bookTitel", ["bookTitle", "bookList"]) == ["bookTitle"]  # a transposition
    assert close_candidates("validate_isbn", ["validate_isbn10", "validate_isbn13"]) == [
        "validate_isbn10",
        "validate_isbn13",
    ]  # two edits from 9 characters
    assert close_candidates("isbn", ["isbns", "ISBN"]) == ["ISBN"]  # the same up to case first
    assert close_candidates("todoInput", ["task-input"]) == []  # another word, not a slip
    assert close_candidates("ab", ["ac"]) == []  # too short to tell


# ----------------------------------------------------------------------------- JavaScript / HTML / CSS


def test_get_element_by_id_and_query_selector_id_are_fixed_in_place() -> None:
    script = ProjectFile(
        "js/app.js",
        "const title = document.getElementById('bookTitle');\n"
        "const add = document.getElementById('add-book');\n"
        "document.querySelector(\"#add-book\").addEventListener('click', () => title.value);\n"
        "// add-book is the button\n",
        "script",
    )
    near = repaired("script", [script], page_faces())
    assert edits_of(near) == [("js/app.js", 2, "add-book", "addBook"), ("js/app.js", 3, "add-book", "addBook")]
    assert near.edits[0]["rule"] == "case/separators" and near.edits[0]["module"] == "script"
    content = near.files[0].content
    assert "getElementById('addBook')" in content and 'querySelector("#addBook")' in content
    assert "// add-book is the button" in content  # the reference only, not the text
    assert broken(near) == [] and "element id 'addBook'" in [r["reference"] for r in near.rows]


def test_query_selector_class_against_the_page_classes() -> None:
    page = ProjectFile("index.html", PAGE, "page")
    script = ProjectFile(
        "js/app.js",
        "const list = document.querySelector('.bookList');\nlist.classList.add('loaded');\n"
        "document.querySelectorAll('ul.loaded');\n",
        "script",
    )
    near = repaired("script", [script], page_faces(), project=[page])
    assert edits_of(near) == [("js/app.js", 1, "bookList", "book-list")]
    assert "querySelectorAll('ul.loaded')" in near.files[0].content  # a class the script sets itself


def test_a_handler_calls_the_script_function_of_a_close_name() -> None:
    faces = {"script": module_interface("script", [ProjectFile("js/app.js", "function savebook() {}\n", "script")])}
    page = ProjectFile("index.html", PAGE, "page")
    near = repaired("page", [page], faces)
    assert ("index.html", 6, "saveBook", "savebook") in edits_of(near)
    assert 'onclick="savebook()"' in near.files[0].content
    assert "handler calls savebook()" in [r["reference"] for r in near.rows if r["status"] == "held"]


def test_a_stylesheet_selector_against_the_page_classes_and_ids() -> None:
    page = ProjectFile("index.html", PAGE, "page")
    css = ProjectFile(
        "css/style.css",
        "/* .booklist */\n.booklist li { color: #333; }\n#add_book:hover, .missing-entirely { margin: .5em; }\n"
        "@media (max-width: 600px) {\n  .book_list { padding: 0; }\n}\n",
        "style",
    )
    near = apply_near_misses("style", [css], [], page_faces(), project=[page])
    assert edits_of(near) == [
        ("css/style.css", 2, "booklist", "book-list"),
        ("css/style.css", 3, "add_book", "addBook"),
        ("css/style.css", 5, "book_list", "book-list"),
    ]
    content = near.files[0].content
    assert content.startswith("/* .booklist */\n.book-list li { color: #333; }\n#addBook:hover, .missing-entirely")
    assert "margin: .5em" in content


def test_selectors_are_not_judged_while_another_module_has_a_page_it_cannot_see() -> None:
    css = ProjectFile("css/style.css", ".booklist { color: red; }\n", "style")
    near = apply_near_misses("style", [css], [], page_faces())  # no project files given
    assert near.edits == []


def test_a_script_src_to_a_file_under_another_path() -> None:
    faces = {
        "script": module_interface("script", [ProjectFile("js/app.js", "function savebook() {}\n", "script")]),
        "style": module_interface("style", [ProjectFile("static/style.css", "body { margin: 0; }\n", "style")]),
    }
    page = ProjectFile(
        "index.html",
        '<html><head><link rel="stylesheet" href="style.css"></head>\n<body><script src="app.js"></script>\n'
        "<p>app.js</p></body></html>\n",
        "page",
    )
    near = repaired("page", [page], faces)
    assert edits_of(near) == [
        ("index.html", 1, "style.css", "static/style.css"),
        ("index.html", 2, "app.js", "js/app.js"),
    ]
    assert near.edits[0]["rule"] == "same file under another path"
    assert "<p>app.js</p>" in near.files[0].content and broken(near) == []


def test_javascript_imports_of_a_file_and_of_a_name_that_miss() -> None:
    faces = {
        "store": module_interface(
            "store", [ProjectFile("src/store.js", "export function loadBooks() {}\nexport const LIMIT = 3;\n", "store")]
        )
    }
    main = ProjectFile("src/main.js", "import { loadbooks, LIMIT } from './lib/store.js';\nloadbooks(LIMIT);\n", "main")
    near = repaired("main", [main], faces)
    assert near.files[0].content.startswith("import { loadBooks as loadbooks, LIMIT } from './store.js';")
    assert broken(near) == []


def test_two_candidates_are_left_to_the_model_with_both_named() -> None:
    page = PAGE.replace('<ul class="book-list">', '<ul id="add_book" class="book-list">')
    script = ProjectFile("js/app.js", "document.getElementById('add-book').onclick = null;\n", "script")
    near = repaired("script", [script], page_faces(page))
    assert near.edits == [] and near.files[0].content == script.content
    row = next(r for r in near.rows if r["status"] == "broken")
    assert near.note(row) == " (close candidates: addBook, add_book)"


def test_a_name_that_is_not_close_is_left_alone() -> None:
    script = ProjectFile("js/app.js", "document.getElementById('todoInput').value = '';\n", "script")
    near = repaired("script", [script], page_faces())
    assert near.edits == [] and broken(near) == ["element id 'todoInput'"] and near.candidates == {}


# ----------------------------------------------------------------------------- Python


def core_faces() -> dict[str, dict[str, Any]]:
    return {"core": module_interface("core", [ProjectFile("isbn_validator.py", CORE, "core")])}


def test_import_of_a_file_name_with_its_py_suffix() -> None:
    cli = ProjectFile(
        "cli.py",
        "import sys\nimport isbn_validator.py\n\nprint(isbn_validator.validate_isbn(sys.argv[1]))\n",
        "cli",
    )
    near = repaired("cli", [cli], core_faces())
    assert edits_of(near) == [("cli.py", 2, "isbn_validator.py", "isbn_validator")]
    assert near.edits[0]["rule"] == ".py suffix in an import"
    assert "import isbn_validator\n" in near.files[0].content and broken(near) == []


def test_from_a_file_name_with_its_py_suffix_import() -> None:
    cli = ProjectFile("cli.py", "from isbn_validator.py import validate_isbn\n\nprint(validate_isbn('1'))\n", "cli")
    near = repaired("cli", [cli], core_faces())
    assert edits_of(near) == [("cli.py", 1, "isbn_validator.py", "isbn_validator")]
    assert near.files[0].content.startswith("from isbn_validator import validate_isbn\n") and broken(near) == []


def test_a_module_id_used_as_an_import() -> None:
    cli = ProjectFile("cli.py", "from core import IsbnValidator, validate_isbn\n\nIsbnValidator()\n", "cli")
    near = repaired("cli", [cli], core_faces())
    assert edits_of(near) == [("cli.py", 1, "core", "isbn_validator")]
    assert near.edits[0]["rule"] == "module id used as an import" and broken(near) == []


def test_an_imported_name_and_an_attribute_one_slip_away() -> None:
    cli = ProjectFile(
        "cli.py",
        "import isbn_validator\nfrom isbn_validator import validate_ISBN\n\n"
        "print(validate_ISBN('1'), isbn_validator.isbnValidator())\n",
        "cli",
    )
    near = repaired("cli", [cli], core_faces())
    assert sorted(edits_of(near)) == [
        ("cli.py", 2, "validate_ISBN", "validate_isbn"),
        ("cli.py", 4, "isbnValidator", "IsbnValidator"),
    ]
    content = near.files[0].content
    assert "from isbn_validator import validate_isbn as validate_ISBN\n" in content  # the code using it stays
    assert "isbn_validator.IsbnValidator()" in content and broken(near) == []


# ----------------------------------------------------------------------------- through the graph

PAGE_PLAN = {
    "project_name": "Library page",
    "goal": "A library page",
    "modules": [
        {"id": "page", "name": "Page", "files": ["index.html"]},
        {"id": "script", "name": "Script", "dependencies": ["page"], "files": ["js/app.js"]},
    ],
}
LIBRARY_PAGE = (
    '<!DOCTYPE html>\n<html>\n<head><title>Library</title></head>\n<body>\n<input id="title" type="text">\n'
    '<button id="addBook">Add</button>\n<ul id="books"></ul>\n<script src="js/app.js"></script>\n</body>\n</html>\n'
)
LIBRARY_JS = (
    "const list = document.getElementById('books');\n"
    "document.getElementById('add-book').addEventListener('click', () => {\n"
    "  list.append(document.getElementById('title').value);\n});\n"
)


def web_model(calls: list[str], page: str = LIBRARY_PAGE, script: Any = LIBRARY_JS) -> ScriptedChatModel:
    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages)
        calls.append(module or "?")
        if module == "page":
            return f"index.html\n```html\n{page}```\n{UPDATE_MARKER} {{}}"
        code = script(messages) if callable(script) else script
        return f"js/app.js\n```javascript\n{code}```\n{UPDATE_MARKER} {{}}"

    return ScriptedChatModel(respond=respond)


def test_a_page_id_near_miss_is_fixed_without_calling_the_model_again(tmp_path: Path) -> None:
    calls: list[str] = []
    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(web_model(calls), tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("library page", architecture=PAGE_PLAN, on_event=events.append)
    assert calls == ["page", "script"]  # no repair call, no fix round
    report = state["module_reports"]["script"]
    assert report["attempts"] == 1 and report["problems"] == [] and report["repairs"] == []
    assert [(e["path"], e["line"], e["old"], e["new"]) for e in report["near_miss_edits"]] == [
        ("js/app.js", 2, "add-book", "addBook")
    ]
    written = (tmp_path / "project" / "js" / "app.js").read_text()
    assert "getElementById('addBook')" in written and "add-book" not in written
    rows = state["integration_report"]["consistency"]
    assert all(r["status"] == "held" for r in rows if r.get("kind") == "reference")
    fixed = [r for r in rows if r.get("kind") == "near_miss"]
    assert [r["contract"] for r in fixed] == ["near miss fixed without the model: js/app.js:2 'add-book' -> 'addBook'"]
    assert [e["text"] for e in events if e.get("event") == "near_miss_fixed"] == ["js/app.js:2 'add-book' -> 'addBook'"]
    assert not state.get("fix_round") and len(state["verification"]["history"]) == 1  # no fix round


def test_two_candidates_go_to_the_model_with_both_named(tmp_path: Path) -> None:
    page = LIBRARY_PAGE.replace('<ul id="books">', '<ul id="books"></ul>\n<div id="add_book">')
    page = page.replace("</ul>\n<script", "</div>\n<script")
    calls: list[str] = []

    def script(messages: list[BaseMessage]) -> str:
        asked = str(messages[-1].content)
        return (
            LIBRARY_JS.replace("add-book", "addBook") if "close candidates: addBook, add_book" in asked else LIBRARY_JS
        )

    with MatrioskaOrchestrator(web_model(calls, page, script), tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("library page", architecture=PAGE_PLAN)
    assert calls == ["page", "script", "script"]
    report = state["module_reports"]["script"]
    first = report["repairs"][0]["problems"]
    assert any("id='add-book'" in p and p.endswith("(close candidates: addBook, add_book)") for p in first), first
    assert "near_miss_edits" not in report and report["problems"] == []


ISBN_PLAN = {
    "project_name": "ISBN",
    "goal": "ISBN tools",
    "modules": [
        {"id": "isbn_validator", "name": "Validator", "files": ["isbn_validator.py"]},
        {"id": "cli", "name": "Entry point", "dependencies": ["isbn_validator"], "files": ["cli.py"]},
    ],
}
CLI = "import sys\nimport isbn_validator.py\n\n\ndef main():\n    print(isbn_validator.validate_isbn(sys.argv[1]))\n"


def test_an_import_with_its_py_suffix_is_fixed_without_calling_the_model_again(tmp_path: Path) -> None:
    calls: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages) or "?"
        calls.append(module)
        path, code = ("isbn_validator.py", CORE) if module == "isbn_validator" else ("cli.py", CLI)
        return f"{path}\n```python\n{code}```\n{UPDATE_MARKER} {{}}"

    with MatrioskaOrchestrator(ScriptedChatModel(respond=respond), tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("isbn", architecture=ISBN_PLAN)
    assert calls == ["isbn_validator", "cli"]
    edits = state["module_reports"]["cli"]["near_miss_edits"]
    assert [(e["path"], e["line"], e["old"], e["new"], e["rule"]) for e in edits] == [
        ("cli.py", 2, "isbn_validator.py", "isbn_validator", ".py suffix in an import")
    ]
    assert "import isbn_validator\n" in (tmp_path / "project" / "cli.py").read_text()
    assert state["module_reports"]["cli"]["attempts"] == 1


def test_a_near_miss_the_module_could_not_see_is_fixed_before_a_fix_round(tmp_path: Path) -> None:
    """The script runs first, before the page exists: its ids are judged after assembly, where the
    near miss is repaired instead of sending the script back."""
    plan = {**PAGE_PLAN, "modules": [{**PAGE_PLAN["modules"][1], "dependencies": []}, PAGE_PLAN["modules"][0]]}
    calls: list[str] = []
    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(web_model(calls), tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("library page", architecture=plan, on_event=events.append)
    assert calls == ["script", "page"]  # no fix round
    verification = state["verification"]
    assert [(e["module"], e["path"], e["old"], e["new"]) for e in verification["near_miss_edits"]] == [
        ("script", "js/app.js", "add-book", "addBook")
    ]
    assert [h["failed"] for h in verification["history"]] == [[]]
    assert state["module_reports"]["script"]["near_miss_edits"][0]["new"] == "addBook"
    assert "getElementById('addBook')" in state["artifacts"]["script"]
    assert "getElementById('addBook')" in (tmp_path / "project" / "js" / "app.js").read_text()
    assert "getElementById('addBook')" in state["final_result"]
    report = state["integration_report"]
    assert report["references"]["total"] == report["references"]["resolved"]
    assert any(r.get("kind") == "near_miss" for r in report["consistency"])
    assert [e["stage"] for e in events if e.get("event") == "near_miss_fixed"] == ["verify"]
    consistency = json.loads((tmp_path / "matrioska_checkpoints" / "consistency_report.json").read_text())
    assert any(r.get("kind") == "near_miss" for r in consistency)


def test_the_cli_prints_one_line_per_near_miss() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, lambda thread: "", live=False)
    printer({"event": "near_miss_fixed", "path": "app.js", "line": 12, "old": "add-book", "new": "addBook"})
    assert out.getvalue() == "  ~ fixed without the model: app.js:12 'add-book' -> 'addBook'\n"
