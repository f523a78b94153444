"""Project shapes a small model can follow: what kind of project a task asks for, a compact guide
of a good decomposition for it (with one short example plan) for the architect's prompt, and the
repair of a plan that misses a part every project of that kind needs.

Kinds: a web page (HTML with element ids as contracts, CSS, JavaScript), a small HTTP API
(storage, routes, tests), a data report (reader, transform, report, tests) and a Python
command-line tool or library (storage or core, entry point, tests). Detection reads the task's
words in English and Portuguese; a task that matches none gets no guide and no repair.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

__all__ = ["Shape", "SHAPES", "detect_shape", "guide_for", "repair_shape", "ascii_identifier"]


@dataclass(frozen=True)
class Shape:
    """One kind of project: how to recognise it and how a good plan for it looks."""

    name: str
    words: tuple[str, ...]
    guide: str


_WEB_GUIDE = """PROJECT SHAPE: a web page (static files, opened in a browser, no build step).
Good modules: "page" (index.html: the structure; it publishes the element ids in shared_state \
key element_ids), "styles" (style.css; reads element_ids), "app" (app.js: the behaviour; reads \
element_ids; it looks elements up only by those ids). index.html links style.css and app.js.
The shape of such a plan, for ANOTHER task (do not copy its names; plan YOUR task):
{"project_name": "Counter", "goal": "A page with a button that counts clicks", "modules": [
 {"id": "page", "files": ["index.html"], "dependencies": [], "shared_state_writes": ["element_ids"]},
 {"id": "styles", "files": ["style.css"], "dependencies": ["page"], "shared_state_reads": ["element_ids"]},
 {"id": "app", "files": ["app.js"], "dependencies": ["page"], "shared_state_reads": ["element_ids"]}]}"""

_API_GUIDE = """PROJECT SHAPE: a small HTTP API in Python (standard library http.server, or Flask).
Good modules: "storage" (storage.py: load and save the data), "routes" (app.py: the endpoints; \
reads storage_functions; runs the server under if __name__ == "__main__"), "tests" \
(tests/test_app.py: pytest tests that call the handlers or storage directly, no network).
The shape of such a plan, for ANOTHER task (do not copy its names; plan YOUR task):
{"project_name": "Notes API", "goal": "Create and list notes over HTTP", "modules": [
 {"id": "storage", "files": ["storage.py"], "dependencies": [], "shared_state_writes": ["storage_functions"]},
 {"id": "routes", "files": ["app.py"], "dependencies": ["storage"], "shared_state_reads": ["storage_functions"], "shared_state_writes": ["routes"]},
 {"id": "tests", "files": ["tests/test_app.py"], "dependencies": ["storage", "routes"], "shared_state_reads": ["storage_functions", "routes"]}]}"""

_DATA_GUIDE = """PROJECT SHAPE: a data report in Python (standard library csv and statistics first).
Good modules: "reader" (reader.py: reads the input file into a list of dicts), "transform" \
(transform.py: the computations; reads reader_functions), "report" (report.py: prints or writes \
the report; entry point with argparse and if __name__ == "__main__"), "tests" (tests/test_transform.py \
with a small inline sample). The data file path is a command-line argument.
The shape of such a plan, for ANOTHER task (do not copy its names; plan YOUR task):
{"project_name": "Sales Report", "goal": "Totals per product from a CSV file", "modules": [
 {"id": "reader", "files": ["reader.py"], "dependencies": [], "shared_state_writes": ["reader_functions"]},
 {"id": "transform", "files": ["transform.py"], "dependencies": ["reader"], "shared_state_reads": ["reader_functions"], "shared_state_writes": ["transform_functions"]},
 {"id": "report", "files": ["report.py"], "dependencies": ["reader", "transform"], "shared_state_reads": ["reader_functions", "transform_functions"]},
 {"id": "tests", "files": ["tests/test_transform.py"], "dependencies": ["transform"], "shared_state_reads": ["transform_functions"]}]}"""

_PYTHON_GUIDE = """PROJECT SHAPE: a Python command-line tool or library (standard library first).
Good modules: "storage" or "core" (the data and logic, e.g. todo.py; publishes its function \
names in shared_state key api_functions), "cli" (main.py: argparse sub-commands calling the core; \
if __name__ == "__main__"), "tests" (tests/test_core.py: pytest tests of the core). One module per \
layer, not one per command.
The shape of such a plan, for ANOTHER task (do not copy its names; plan YOUR task):
{"project_name": "Todo CLI", "goal": "Add, list and complete todo items from the command line", "modules": [
 {"id": "core", "files": ["todo.py"], "dependencies": [], "shared_state_writes": ["api_functions"]},
 {"id": "cli", "files": ["main.py"], "dependencies": ["core"], "shared_state_reads": ["api_functions"]},
 {"id": "tests", "files": ["tests/test_todo.py"], "dependencies": ["core"], "shared_state_reads": ["api_functions"]}]}"""

SHAPES: dict[str, Shape] = {
    "web": Shape(
        "web page",
        (
            "html",
            "web page",
            "webpage",
            "website",
            "web site",
            "page",
            "dashboard",
            "frontend",
            "front-end",
            "css",
            "javascript",
            "browser",
            "pagina",
            "site",
            "navegador",
            "painel",
        ),
        _WEB_GUIDE,
    ),
    "api": Shape(
        "HTTP API",
        ("api", "http", "rest", "endpoint", "endpoints", "flask", "fastapi", "web server", "servidor", "microservice"),
        _API_GUIDE,
    ),
    "data": Shape(
        "data report",
        (
            "csv",
            "report",
            "data",
            "dataset",
            "spreadsheet",
            "excel",
            "statistics",
            "relatorio",
            "dados",
            "planilha",
            "estatisticas",
            "vendas",
            "sales",
        ),
        _DATA_GUIDE,
    ),
    "python": Shape(
        "Python command-line tool or library",
        (
            "python",
            "cli",
            "command-line",
            "command line",
            "terminal",
            "library",
            "script",
            "pytest",
            "package",
            "linha de comando",
            "biblioteca",
            "pacote",
            "testes",
        ),
        _PYTHON_GUIDE,
    ),
}


def _plain(text: str) -> str:
    """Lower case without accents (so "página" and "relatório" match their plain spellings)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def detect_shape(task: str) -> str | None:
    """The kind of project `task` asks for, or None: the kind whose words it uses most (ties go
    to the more specific kind: api, data, web, python)."""
    text = _plain(task)
    best, best_score = None, 0
    for name in ("api", "data", "web", "python"):
        score = sum(1 for word in SHAPES[name].words if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text))
        if score > best_score:
            best, best_score = name, score
    return best


def guide_for(task: str) -> str:
    """The architect's guide for the task's kind of project ("" when none is recognised)."""
    name = detect_shape(task)
    return SHAPES[name].guide if name else ""


def ascii_identifier(text: str, fallback: str = "module") -> str:
    """A lower-case ASCII identifier from any text ("Relatório de vendas" -> "relatorio_de_vendas")."""
    slug = re.sub(r"[^a-z0-9]+", "_", _plain(text)).strip("_")
    if slug and slug[0].isdigit():
        slug = f"m_{slug}"
    return slug[:40] or fallback


def _files(modules: list[Any]) -> list[str]:
    return [f for m in modules for f in m.files]


def _is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", ".test.js", ".spec.js"))
        or "tests" in PurePosixPath(path).parts
    )


def _python_modules(modules: list[Any]) -> list[Any]:
    return [m for m in modules if any(f.endswith(".py") for f in m.files)]


def repair_shape(architecture: Any, task: str) -> tuple[Any, list[str]]:
    """Add what the task's kind of project needs and the plan lacks (each addition reported):
    a Python, data or API plan gets a tests module and an entry point; a web plan gets a page.
    Only a plan with a file plan is judged (without one nothing says what is missing)."""
    from .state import ModuleSpec

    shape = detect_shape(task)
    modules = list(architecture.modules)
    if not any(m.files for m in modules):
        return architecture, []  # a plan without a file plan says nothing about what is missing
    notes: list[str] = []
    ids = {m.id for m in modules}

    def unique(base: str) -> str:
        name, n = base, 2
        while name in ids:
            name, n = f"{base}_{n}", n + 1
        ids.add(name)
        return name

    files = _files(modules)
    if shape == "web" and not any(f.lower().endswith((".html", ".htm")) for f in files):
        page = ModuleSpec(
            id=unique("page"),
            name="Page",
            description="The HTML page: structure and element ids",
            files=["index.html"],  # no HTML file is planned, so the name is free
            shared_state_writes=["page_element_ids"],
            manual="Write index.html. Give every element the scripts use an id; publish them in page_element_ids. "
            "Link every .css file in <head> and every .js file at the end of <body>: "
            + ", ".join(f for f in files if f.endswith((".css", ".js"))),
        )
        modules.insert(0, page)
        notes.append(f"the web plan had no HTML page; added module {page.id!r} ({page.files[0]})")
    if shape in ("python", "data", "api"):
        python = _python_modules(modules)
        added_tests = False
        core = [m for m in python if not any(_is_test_file(f) for f in m.files)]
        if python and not any(_is_test_file(f) for f in files):
            target = core[0] if core else python[0]
            stem = PurePosixPath(next(f for f in target.files if f.endswith(".py"))).stem
            tests = ModuleSpec(
                id=unique("tests"),
                name="Tests",
                description=f"pytest tests of {', '.join(m.id for m in core) or target.id}",
                dependencies=[m.id for m in core] or [target.id],
                files=[f"tests/test_{stem}.py"],
                shared_state_reads=[k for m in core for k in m.shared_state_writes][:6],
                manual="Write pytest tests (plain assert) that import the project's modules and check their behaviour; "
                "no network, no files outside a tmp_path.",
            )
            modules.append(tests)
            added_tests = True
            notes.append(f"the {SHAPES[shape].name} plan had no tests; added module {tests.id!r} ({tests.files[0]})")
        entry_names = ("__main__.py", "main.py", "cli.py", "app.py", "run.py", "report.py", "server.py")
        if core and not any(PurePosixPath(f).name in entry_names for f in files):
            entry = ModuleSpec(
                id=unique("cli"),
                name="Entry point",
                description="The command-line entry point",
                dependencies=[m.id for m in core],
                files=["main.py"],
                shared_state_reads=[k for m in core for k in m.shared_state_writes][:6],
                manual="Write main.py: argparse with --help, calling the other modules' functions; "
                'run it under if __name__ == "__main__":.',
            )
            modules.insert(len(modules) - 1 if added_tests else len(modules), entry)  # before the added tests
            notes.append(f"the {SHAPES[shape].name} plan had no entry point; added module {entry.id!r} (main.py)")
    if not notes:
        return architecture, []
    return architecture.model_copy(update={"modules": modules}), notes
