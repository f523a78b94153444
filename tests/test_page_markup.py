"""A page holds markup, a file that gives the prompt back is an echo even reworded, and an empty
file nobody planned is not written (the 0.5B's library dashboard: an `index.html` of plain text
repeating its own prompt, beside an empty `index_2.txt`)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.generation.project import (
    ProjectFile,
    extract_files,
    is_echo,
    module_problems,
    project_files,
    validate_file,
)
from matrioska.generation.prompt import build_module_messages
from matrioska.plan.parsing import UPDATE_MARKER
from matrioska.state import Architecture

TASK = (
    "Library management system with a dashboard: HTML page, CSS styling, and JavaScript for adding, "
    "listing and searching books"
)
PLAN = {
    "project_name": "Library management system",
    "goal": TASK,
    "modules": [
        {
            "id": "books",
            "name": "Book storage",
            "files": ["books.py"],
            "description": "Keeps the books of the library in a JSON file and searches them",
            "outputs": "The functions add_book(title, author, isbn), list_books() and search_books(query)",
            "rules": "Use only the standard library. Store the books in books.json next to the module.",
            "manual": "Write books.py. Define add_book(title, author, isbn) that appends a book dict to the list "
            "and saves it; list_books() that returns every book sorted by title; search_books(query) that "
            "returns the books whose title or author contains the query, case-insensitive. Publish the "
            "function names in api_functions.",
            "shared_state_writes": ["api_functions"],
        },
        {
            "id": "index",
            "name": "Page",
            "files": ["index.html"],
            "description": "The dashboard page: a form to add a book, a search box and the list of books",
            "manual": "Write index.html with a form #bookForm (inputs #title, #author, a submit button), a "
            "search input #search and a list #bookList. Link style.css and app.js.",
            "shared_state_writes": ["element_ids"],
        },
        {
            "id": "styles",
            "name": "Styles",
            "files": ["style.css"],
            "dependencies": ["index"],
            "manual": "Write style.css: style the form, the search box and the list of books.",
            "shared_state_reads": ["element_ids"],
        },
        {
            "id": "app",
            "name": "Dashboard script",
            "files": ["app.js"],
            "dependencies": ["index"],
            "description": "Adds, lists and searches books on the page",
            "manual": "Write app.js. When the form #bookForm is submitted, read #title and #author, add the book "
            "to the list stored in localStorage under the key books, and render the list into #bookList. "
            "Filter the list as the user types into #search.",
            "shared_state_reads": ["element_ids"],
        },
    ],
}
ARCHITECTURE = Architecture.model_validate(PLAN)

BOOKS_PY = '''"""Book storage for the library: add, list and search books kept in books.json."""

import json
from pathlib import Path

PATH = Path(__file__).with_name("books.json")


def _load():
    return json.loads(PATH.read_text()) if PATH.exists() else []


def _save(books):
    PATH.write_text(json.dumps(books, indent=2))


def add_book(title, author, isbn):
    """Append a book to the list and save it."""
    books = _load()
    book = {"title": title, "author": author, "isbn": isbn}
    books.append(book)
    _save(books)
    return book


def list_books():
    """Every book sorted by title."""
    return sorted(_load(), key=lambda b: b["title"].lower())


def search_books(query):
    """The books whose title or author contains the query, case-insensitive."""
    q = query.lower()
    return [b for b in _load() if q in b["title"].lower() or q in b["author"].lower()]
'''

APP_JS = """// When the form #bookForm is submitted, read #title and #author, add the book to the list stored in
// localStorage under the key books, and render the list into #bookList.
const KEY = "books";
function load() { return JSON.parse(localStorage.getItem(KEY) || "[]"); }
function save(books) { localStorage.setItem(KEY, JSON.stringify(books)); }
function render(filter = "") {
  const list = document.getElementById("bookList");
  list.innerHTML = "";
  load()
    .filter((b) => (b.title + " " + b.author).toLowerCase().includes(filter.toLowerCase()))
    .forEach((b) => {
      const li = document.createElement("li");
      li.textContent = `${b.title} by ${b.author}`;
      list.appendChild(li);
    });
}
document.getElementById("bookForm").addEventListener("submit", (e) => {
  e.preventDefault();
  const books = load();
  books.push({ title: document.getElementById("title").value, author: document.getElementById("author").value });
  save(books);
  render();
});
document.getElementById("search").addEventListener("input", (e) => render(e.target.value));
render();
"""

PAGE = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Library management system</title><link rel="stylesheet" href="style.css"></head>
<body>
  <h1>Library management system</h1>
  <form id="bookForm"><input id="title"><input id="author"><button type="submit">Add book</button></form>
  <input id="search" placeholder="Search books">
  <ul id="bookList"></ul>
  <script src="app.js"></script>
</body>
</html>
"""

# What the 0.5B wrote as index.html: its prompt again, reflowed, punctuation changed, some words altered.
REWORDED = (
    "Project goal - a library management system with a dashboard, an HTML page, CSS styling and JavaScript for "
    "adding, listing and searching the books.\nYour module is Page (id index). Description: the dashboard page, "
    "a form to add a book, a search box and the list of books. Manual: write index.html with a form #bookForm "
    "(inputs #title, #author, and a submit button), a search input #search and also a list #bookList. Link "
    "style.css and app.js.\nFiles you write: index.html (exactly these, each in its own fenced block, the path "
    "on the line before)."
)


def prompt_of(module_id: str) -> str:
    """The module's prompt as the executor builds it, as the echo check sees it."""
    messages, _ = build_module_messages(ARCHITECTURE, ARCHITECTURE.module(module_id), {})
    return "\n".join(str(m.content) for m in messages)


# -- 1. no page without markup -------------------------------------------------------------------


def test_a_page_without_any_element_is_a_problem() -> None:
    plain = validate_file("index.html", "PROJECT GOAL: a library\nFILES YOU WRITE: index.html\n")
    assert plain == ["the page holds no HTML element (it is plain text): write the page's markup"]
    assert "no HTML element" in validate_file("index.html", "<!DOCTYPE html>\nA library dashboard\n")[0]
    assert "no HTML element" in validate_file("page.htm", "<!-- the page comes here -->")[0]
    assert "(it is empty)" in validate_file("index.html", "\n")[0]


def test_a_page_or_a_fragment_with_elements_is_fine() -> None:
    assert validate_file("index.html", PAGE) == []
    assert validate_file("index.html", "<div>Library</div>") == []
    assert validate_file("partials/list.html", '<ul id="bookList"><li>Dune</li></ul>') == []
    assert validate_file("partials/line.html", "<br>") == []


# -- 2. a reworded echo is caught, real code is not ----------------------------------------------


def test_a_reworded_or_reflowed_prompt_is_an_echo() -> None:
    prompt = prompt_of("index")
    assert is_echo(REWORDED, prompt)
    verbatim = prompt[prompt.index("PROJECT GOAL") :]
    assert is_echo(verbatim, prompt)
    reflowed = re.sub(r"[:()]", " ", " ".join(verbatim.split()))  # one line, punctuation gone
    assert is_echo(reflowed, prompt)
    assert is_echo("\n".join(f"<!-- {line} -->" for line in verbatim.splitlines()[:10] if line), prompt)
    assert is_echo("", prompt) and is_echo("  \n", prompt)  # empty files carry nothing


def test_real_code_using_the_prompts_names_is_not_an_echo() -> None:
    assert not is_echo(BOOKS_PY, prompt_of("books"))  # implements the functions the manual names
    assert not is_echo(APP_JS, prompt_of("app"))  # its comments copy a sentence of the manual
    assert not is_echo(PAGE, prompt_of("index"))
    docstring = f'"""{ARCHITECTURE.module("books").manual}"""\n{BOOKS_PY}'  # the manual as a docstring
    assert not is_echo(docstring, prompt_of("books"))
    assert not is_echo("x = 1", prompt_of("books")) and not is_echo("<p>hi</p>", prompt_of("index"))


def test_the_echo_check_is_fast_on_large_files() -> None:
    prompt = prompt_of("books") * 3
    big = BOOKS_PY * 40  # ~50 KB
    start = time.perf_counter()
    for _ in range(10):
        assert not is_echo(big, prompt)
    assert time.perf_counter() - start < 1.0


def test_the_dashboard_page_that_repeats_its_prompt_has_both_problems() -> None:
    spec = ARCHITECTURE.module("index")
    files = [ProjectFile("index.html", REWORDED, "index")]
    problems, checks = module_problems(spec, files, {"element_ids": ["#bookForm"]}, {}, prompt=prompt_of("index"))
    assert any("only repeat the task" in p for p in problems)
    assert any(p.startswith("index.html: the page holds no HTML element") for p in problems)
    assert checks[0]["valid"] is False


# -- 3. an empty file nobody planned is not written ----------------------------------------------


def test_an_empty_undeclared_file_is_dropped_a_declared_one_kept() -> None:
    reply = f"index.html\n```html\n{PAGE}```\n```\n\n```\nnotes.txt\n```\n   \n```\n"
    files = extract_files(reply, "index", ["index.html"])
    assert [f.path for f in files] == ["index.html"]  # no index_2.txt, no notes.txt
    kept = extract_files("index.html\n```html\n\n```\n", "index", ["index.html"])
    assert [(f.path, f.content.strip()) for f in kept] == [("index.html", "")]
    bare = extract_files("```js\n\n```\n", "app", ["app"])  # declared without its extension
    assert [f.path for f in bare] == ["app.js"]
    extra = extract_files("notes.md\n```\nsome notes\n```\n", "index", ["index.html"])
    assert [f.path for f in extra] == ["notes.md"]  # an extra file with content stays


def test_a_cut_off_reply_whose_last_empty_block_is_dropped_notes_no_other_file() -> None:
    files = extract_files("books.py\n```python\nX = 1\n```\nstray.txt\n```\n", "books", ["books.py"])
    assert [f.path for f in files] == ["books.py"] and files[0].notes == []


def test_declared_files_missing_or_empty_are_still_reported() -> None:
    spec = ARCHITECTURE.module("index")
    files = extract_files("```\n\n```\n", "index", ["index.html"])  # an unnamed empty block: the declared page
    problems, _ = module_problems(spec, files, {"element_ids": ["#x"]}, {}, prompt=prompt_of("index"))
    assert any("no HTML element (it is empty)" in p for p in problems)
    assert any("only repeat" in p for p in problems)
    files = extract_files("index_2.txt\n```\n\n```\n", "index", ["index.html"])
    assert files == []
    problems, _ = module_problems(spec, files, {"element_ids": ["#x"]}, {}, prompt=prompt_of("index"))
    assert any("contains no file" in p for p in problems)
    assert any("the file 'index.html' your module owns is missing" in p for p in problems)


def test_the_dashboard_run_repairs_the_page_and_writes_no_stray_file(tmp_path: Path) -> None:
    plan = {"project_name": "Library dashboard", "goal": TASK, "modules": PLAN["modules"][1:]}
    seen: dict[str, int] = {}

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps(plan)
        if is_assembler(messages):
            return "notes"
        module_id = module_id_of(messages)
        if module_id is None:  # another role's call (an acceptance tester): nothing to add
            return '{"scenarios": []}'
        seen[module_id] = seen.get(module_id, 0) + 1
        if module_id == "index":
            update = {"element_ids": ["#bookForm", "#title", "#author", "#search", "#bookList"]}
            first = seen[module_id] == 1
            page = REWORDED if first else PAGE
            stray = "```\n\n```\n" if first else ""
            return f"index.html\n```\n{page}\n```\n{stray}{UPDATE_MARKER} {json.dumps(update)}"
        if module_id == "styles":
            return f"style.css\n```css\n#bookList {{ list-style: none; }}\n```\n{UPDATE_MARKER} {{}}"
        return f"app.js\n```js\n{APP_JS}```\n{UPDATE_MARKER} {{}}"

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify=False) as orchestrator:
        state = orchestrator.run(TASK)
    report = state["module_reports"]["index"]
    assert report["attempts"] == 2
    first = report["repairs"][0]["problems"]
    # the reworded prompt is prose: no index.html (issue 32), the problem says what it repeats
    assert any("the file 'index.html' your module owns is missing" in p for p in first)
    assert any("index.html: the reply for it is prose" in p and "only repeats" in p for p in first)
    assert report["problems"] == []
    paths = [f.path for f in project_files(state)]
    assert "index.html" in paths and not any(p.startswith("index_") for p in paths)
    assert not (tmp_path / "project" / "index_2.txt").exists()
