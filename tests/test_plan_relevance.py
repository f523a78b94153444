"""The plan is about the task: a plan whose name and goal share no word with the task, or are
written in another script, is asked for once more and else renamed from the task; the shape
repair names what it adds after the project, never after a guide's example (scripted models)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.context import Context
from matrioska.nodes.architect import architect, off_topic_reason
from matrioska.plan.parsing import UPDATE_MARKER
from matrioska.plan.shapes import guide_for, rename_examples, repair_shape, same_word, task_title, task_words
from matrioska.state import Architecture

LIBRARY = (
    "Library management system with a dashboard: HTML page, CSS styling, and JavaScript for adding, "
    "listing and searching books"
)
MODULES = [
    {"id": "page", "files": ["index.html"], "shared_state_writes": ["element_ids"]},
    {"id": "app", "files": ["app.js"], "dependencies": ["page"], "shared_state_reads": ["element_ids"]},
]


def plan(name: str, goal: str = "", modules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"project_name": name, "goal": goal, "modules": modules or MODULES}


def plan_with(replies: list[str], task: str = LIBRARY, **context: Any) -> tuple[dict[str, Any], ScriptedChatModel]:
    """Run the architect node alone on `replies` (the last one repeats); its output and the model."""
    answered = {"n": 0}

    def respond(messages: list[BaseMessage]) -> str:
        reply = replies[min(answered["n"], len(replies) - 1)]
        answered["n"] += 1
        return reply

    model = ScriptedChatModel(respond=respond)
    events: list[dict[str, Any]] = []
    runtime = SimpleNamespace(context=Context(llm=model, **context), stream_writer=events.append)
    out = architect({"task": task}, runtime)  # type: ignore[arg-type]
    out["events"] = events
    return out, model


def arch(name: str, goal: str = "") -> Architecture:
    return Architecture.model_validate(plan(name, goal))


# -- the words and scripts compared --------------------------------------------------------------


def test_content_words_match_by_stem_in_english_and_portuguese() -> None:
    assert same_word("library", "libraries") and same_word("biblioteca", "bibliotecas")
    assert same_word("book", "books") and same_word("manager", "management")
    assert not same_word("lib", "library") and not same_word("book", "booking") and not same_word("calc", "cal")
    words = task_words(LIBRARY)
    assert "library" in words and "books" in words
    assert not {"with", "and", "for", "html", "css", "javascript", "java", "page", "system"} & set(words)
    assert task_words("Crie uma página para a biblioteca com os livros") == ["biblioteca", "livros"]
    assert task_words("LibraryManager") == ["library", "manager"]


def test_a_plan_about_its_task_is_on_topic() -> None:
    assert off_topic_reason(arch("Library Dashboard", "Manage the books of a library"), LIBRARY) is None
    assert off_topic_reason(arch("Libraries"), LIBRARY) is None  # the name alone, a plural
    assert off_topic_reason(arch("Book catalogue"), LIBRARY) is None
    assert off_topic_reason(arch("Bibliotecas", "Gerenciar livros"), "Uma biblioteca de livros") is None
    # nothing tells: a task without content words, a plan without a name and a goal
    assert off_topic_reason(arch("Calculator"), "a web page") is None
    assert off_topic_reason(Architecture.model_validate({"modules": MODULES}), LIBRARY) is None


def test_a_plan_about_something_else_or_in_another_script_is_off_topic() -> None:
    calculator = off_topic_reason(arch("Calculator", "Add and subtract numbers"), LIBRARY)
    assert calculator == "its name and goal share no word with the task"
    assert off_topic_reason(arch("Web App", "A simple web application"), LIBRARY)  # only generic words
    chinese = off_topic_reason(arch("LIB管理系统", "图书管理"), LIBRARY)
    assert chinese and "written in CJK letters, the task in Latin" in chinese
    assert off_topic_reason(arch("Library", "Система управления библиотекой"), LIBRARY)  # the goal in Cyrillic
    assert off_topic_reason(arch("图书管理系统", "管理图书"), "图书管理系统") is None  # the task's own script


def test_a_title_from_the_task() -> None:
    assert task_title(LIBRARY) == "Library management system"
    assert task_title("Create a simple todo app") == "Todo app"
    assert task_title("Um relatório de vendas a partir de um arquivo CSV, com testes") == "Relatório de vendas"
    assert task_title("Página web com um contador de cliques") == "Página web com um contador"
    assert task_title("Write a poem") == "Poem" and task_title("  ") == "Project"


# -- the architect re-asks once, then renames ----------------------------------------------------


def test_an_off_topic_plan_is_re_asked_and_the_answer_about_the_task_kept() -> None:
    out, model = plan_with([json.dumps(plan("Calculator", "Add numbers")), json.dumps(plan("Library dashboard"))])
    calls = [c for c in model.calls if is_architect(c)]
    assert len(calls) == 2
    feedback = str(calls[1][-1].content)
    assert "Your plan is named 'Calculator' with the goal 'Add numbers', which is not about the task" in feedback
    assert "in the task's language" in feedback and LIBRARY in feedback
    assert out["architecture"]["project_name"] == "Library dashboard"
    report = out["plan_report"]
    assert report[0].startswith("plan re-asked: 'Calculator'") and "share no word" in report[0]
    assert report[1] == "the re-asked plan 'Library dashboard' is about the task; kept"
    assert out["rejected_plans"][0]["attempt"] == 1 and "not about the task" in out["rejected_plans"][0]["error"]
    assert any(e["event"] == "plan_retry" and "not about the task" in e["error"] for e in out["events"])


def test_a_model_that_repeats_its_off_topic_plan_ends_renamed_from_the_task() -> None:
    out, model = plan_with([json.dumps(plan("Calculator", "Add and subtract numbers"))])
    assert sum(is_architect(c) for c in model.calls) == 2  # one re-ask, no more
    architecture = out["architecture"]
    assert architecture["project_name"] == "Library management system"
    assert architecture["goal"] == LIBRARY
    assert [m["id"] for m in architecture["modules"]] == ["page", "app"]
    report = out["plan_report"]
    assert "the re-asked plan 'Calculator' was not about the task either" in report[1]
    assert report[2].startswith("plan renamed from the task: 'Calculator' was not about it; now 'Library management")


def test_a_plan_in_another_script_is_renamed_and_the_one_in_the_tasks_script_kept() -> None:
    chinese = plan("LIB管理系统", "图书管理", [{"id": "ui", "files": ["index.html"]}])
    out, _ = plan_with([json.dumps(chinese), json.dumps(plan("Calculator"))])
    assert out["architecture"]["project_name"] == "Library management system"
    assert [m["id"] for m in out["architecture"]["modules"]] == ["page", "app"]  # the Latin plan's modules
    assert "letters, the task in Latin" in out["plan_report"][0]
    assert "attempt 2's plan kept" in out["plan_report"][2]


def test_an_unusable_re_ask_keeps_the_first_plan_renamed_and_asks_no_more() -> None:
    out, model = plan_with([json.dumps(plan("Calculator")), "not json at all", json.dumps(plan("Library"))])
    assert sum(is_architect(c) for c in model.calls) == 2
    assert out["architecture"]["project_name"] == "Library management system"
    assert out["plan_report"][1].startswith("the re-asked plan could not be used")
    assert [r["attempt"] for r in out["rejected_plans"]] == [2]


def test_the_re_ask_is_one_call_beyond_the_plan_attempts() -> None:
    replies = ["broken", "broken", json.dumps(plan("Calculator")), json.dumps(plan("Library"))]
    out, model = plan_with(replies, max_plan_attempts=3)
    assert sum(is_architect(c) for c in model.calls) == 4  # 3 attempts, the third off-topic, then the re-ask
    assert out["architecture"]["project_name"] == "Library"
    out, model = plan_with([json.dumps(plan("Calculator"))], max_plan_attempts=1)
    assert sum(is_architect(c) for c in model.calls) == 2
    assert out["architecture"]["project_name"] == "Library management system"


def test_a_plan_supplied_with_the_input_is_never_checked_or_renamed(tmp_path: Path) -> None:
    def respond(messages: list[BaseMessage]) -> str:
        assert not is_architect(messages)
        if is_assembler(messages):
            return "notes"
        if module_id_of(messages) is None:  # another role's call (an acceptance tester): nothing to add
            return '{"scenarios": []}'
        return f"notes.txt\n```\nthe notes\n```\n{UPDATE_MARKER} {{}}"

    model = ScriptedChatModel(respond=respond)
    supplied = {"project_name": "Calculator", "modules": [{"id": "m"}]}
    with MatrioskaOrchestrator(model, tmp_path, verify=False) as orchestrator:
        state = orchestrator.run(LIBRARY, architecture=supplied)
    assert state["architecture"]["project_name"] == "Calculator"
    assert not any("re-asked" in line or "renamed" in line for line in state["plan_report"])


def test_a_run_whose_architect_always_answers_an_off_topic_plan_finishes_renamed(tmp_path: Path) -> None:
    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return json.dumps({"project_name": "Calculator", "modules": [{"id": "notes"}]})
        if is_assembler(messages):
            return "notes"
        if module_id_of(messages) is None:  # another role's call (an acceptance tester): nothing to add
            return '{"scenarios": []}'
        return f"notes.md\n```\n# Library\n```\n{UPDATE_MARKER} {{}}"

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify=False) as orchestrator:
        state = orchestrator.run("A reading list for the library club")
    assert sum(is_architect(c) for c in model.calls) == 2
    assert state["architecture"]["project_name"] == "Reading list"
    assert any(line.startswith("plan renamed from the task") for line in state["plan_report"])
    assert state["final_result"]


# -- the shape repair never copies a guide's example ---------------------------------------------


@pytest.mark.parametrize(
    ("files", "task", "expected"),
    [
        (["isbn.py"], "A Python library that validates ISBN numbers", "tests/test_isbn.py"),
        (["main.py", "isbn.py"], "A Python command-line ISBN checker", "tests/test_isbn.py"),  # not the entry
        (["isbn/__init__.py"], "A Python library that validates ISBN numbers", "tests/test_isbn.py"),
        (["todo.py"], "A Python library that validates ISBN numbers", "tests/test_library.py"),  # copied example
        (["todo.py"], "A command-line todo list in Python", "tests/test_todo.py"),  # the task's own word
        (["relatorio.py"], "Um relatório de vendas em Python, sem testes", "tests/test_relatorio.py"),
    ],
)
def test_the_added_tests_are_named_after_the_core_module_or_the_task(
    files: list[str], task: str, expected: str
) -> None:
    modules = [{"id": f"m{i}", "files": [f]} for i, f in enumerate(files)]
    repaired, notes = repair_shape(Architecture.model_validate({"modules": modules}), task)
    added = repaired.module("tests").files
    assert added == [expected], notes
    assert any(expected in note for note in notes)


def test_the_guides_mark_their_examples_as_the_shape_only() -> None:
    for task in ("a web page", "a REST API", "a CSV report", "a Python command-line tool"):
        guide = guide_for(task)
        assert "An example of the shape only, for ANOTHER task" in guide
        assert "name everything after YOUR task" in guide
    assert "named after YOUR task's subject" in guide_for("a Python command-line tool")


# -- a plan that copied the guides' example names is renamed after its task ---------------------

ISBN = "A Python library that validates ISBN numbers, with pytest tests"
COPIED = {
    "project_name": "Todo CLI",
    "goal": "Validate ISBN-10 and ISBN-13 numbers",
    "modules": [
        {
            "id": "todo",
            "name": "Todo core",
            "files": ["todo.py"],
            "shared_state_writes": ["api_functions"],
            "description": "The logic, in todo.py",
            "manual": "Write todo.py with is_valid(number).",
        },
        {
            "id": "cli",
            "files": ["main.py"],
            "dependencies": ["todo"],
            "shared_state_reads": ["api_functions"],
            "inputs": "the functions of module todo",
            "manual": "import todo and call todo.is_valid(number); print the result.",
        },
        {
            "id": "tests",
            "files": ["tests/test_todo.py"],
            "dependencies": ["todo"],
            "shared_state_reads": ["api_functions"],
            "rules": "Run with pytest tests/test_todo.py.",
            "outputs": "test_todo.py",
            "manual": "from todo import is_valid; assert is_valid('0306406152'). Keep todos.json untouched.",
        },
    ],
    "integration_rules": "main.py imports todo.",
}


def test_a_plan_that_copied_the_guides_example_names_is_renamed_after_its_task() -> None:
    repaired, notes = repair_shape(Architecture.model_validate(COPIED), ISBN)
    assert [m.id for m in repaired.modules] == ["library", "cli", "tests"]
    assert [m.files for m in repaired.modules] == [["library.py"], ["main.py"], ["tests/test_library.py"]]
    core, cli, tests = repaired.modules
    assert core.name == "Library core" and core.manual == "Write library.py with is_valid(number)."
    assert core.description == "The logic, in library.py"
    assert cli.dependencies == ["library"] and tests.dependencies == ["library"]
    assert cli.manual == "import library and call library.is_valid(number); print the result."
    assert cli.inputs == "the functions of module library"
    assert tests.rules == "Run with pytest tests/test_library.py." and tests.outputs == "test_library.py"
    assert tests.manual.startswith("from library import is_valid") and "todos.json" in tests.manual
    assert core.shared_state_writes == ["api_functions"]  # keys are left as they are
    assert repaired.integration_rules == "main.py imports library."
    assert repaired.project_name == "Python library" and repaired.goal == COPIED["goal"]
    assert notes == [
        "the plan named file 'todo.py' after the guides' example, not the task; renamed 'library.py'",
        "the plan named file 'tests/test_todo.py' after the guides' example, not the task; "
        "renamed 'tests/test_library.py'",
        "the plan named module 'todo' after the guides' example, not the task; renamed 'library'",
        "the plan named the project 'Todo CLI' after the guides' example, not the task; renamed 'Python library'",
    ]


@pytest.mark.parametrize(
    "task",
    [
        "A command-line todo list in Python, with pytest tests",
        "A To-Do list CLI in Python",
        "A to do list in Python",
        "A Python todos manager",
    ],
)
def test_a_task_that_uses_the_example_word_keeps_it(task: str) -> None:
    repaired, notes = repair_shape(Architecture.model_validate(COPIED), task)
    assert [m.files for m in repaired.modules] == [["todo.py"], ["main.py"], ["tests/test_todo.py"]]
    assert repaired.modules[0].id == "todo" and repaired.project_name == "Todo CLI"
    assert notes == []


def test_the_renamed_file_never_takes_a_planned_name_or_a_standard_module() -> None:
    modules = [
        {"id": "calendar", "files": ["calendar_core.py"]},
        {"id": "core", "files": ["todo.py", "notes.md"], "manual": "todo.py holds the events"},
        {"id": "page", "files": ["counter.js"]},
    ]
    repaired, notes = repair_shape(Architecture.model_validate({"modules": modules}), "A calendar in Python")
    assert [m.files for m in repaired.modules][:3] == [
        ["calendar_core.py"],
        ["calendar_core_2.py", "notes.md"],
        ["calendar_core.js"],
    ]
    assert repaired.modules[1].manual == "calendar_core_2.py holds the events"
    assert repaired.modules[0].id == "calendar"  # the task's own word
    assert sum("after the guides' example" in note for note in notes) == 2


def test_the_architect_renames_the_models_copied_names_but_never_a_supplied_plan() -> None:
    out, _ = plan_with([json.dumps(COPIED)], task=ISBN)
    assert [m["files"] for m in out["architecture"]["modules"]] == [
        ["library.py"],
        ["main.py"],
        ["tests/test_library.py"],
    ]
    assert out["execution_order"] == ["library", "cli", "tests"]
    assert any("renamed 'library.py'" in line for line in out["plan_report"])
    assert out["events"][-1]["report"] == out["plan_report"]

    runtime = SimpleNamespace(context=Context(llm=ScriptedChatModel(respond=lambda m: "")), stream_writer=[].append)
    given = architect({"task": ISBN, "architecture": COPIED}, runtime)  # type: ignore[arg-type]
    assert [m["files"][0] for m in given["architecture"]["modules"]] == ["todo.py", "main.py", "tests/test_todo.py"]
    assert given["architecture"]["project_name"] == "Todo CLI"


def test_every_name_of_the_guides_example_plans_is_generic_or_renamed() -> None:
    """A guide's example plan names the example's task only through `_EXAMPLE_WORDS` (which the
    repair renames); its other names are the generic ones the guides recommend."""
    generic_files = {"index.html", "style.css", "app.js", "storage.py", "app.py", "reader.py", "transform.py"}
    generic_files |= {"report.py", "main.py", "tests/test_app.py", "tests/test_transform.py"}
    generic_ids = {
        "page",
        "styles",
        "app",
        "storage",
        "routes",
        "tests",
        "reader",
        "transform",
        "report",
        "cli",
        "core",
    }
    example = Architecture.model_validate({"modules": [{"id": "x", "files": ["x.py"]}]})
    for task in ("a web page", "a REST API", "a CSV report", "a Python command-line tool"):
        guide = guide_for(task)
        plan_text = guide[guide.index("{") :]
        shown = json.loads(plan_text)
        assert rename_examples(example.model_copy(update={"project_name": shown["project_name"]}), ISBN)[1]
        for module in shown["modules"]:
            assert module["id"] in generic_ids
            for path in module["files"]:
                renamed = rename_examples(
                    Architecture.model_validate({"modules": [{"id": "x", "files": [path]}]}), ISBN
                )[0]
                assert path in generic_files or renamed.modules[0].files != [path], path
