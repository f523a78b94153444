"""Plans and modules a small model gets right: cycles repaired from the data flow, a file plan per
module, project shapes, no empty module accepted (scripted models; each run must finish)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.generation.project import extract_files
from matrioska.plan.parsing import UPDATE_MARKER
from matrioska.plan.shapes import detect_shape, guide_for, repair_shape
from matrioska.state import Architecture


def block(path: str, body: str, update: dict[str, Any] | None = None) -> str:
    return f"{path}\n```\n{body}\n```\n{UPDATE_MARKER} {json.dumps(update or {})}"


def run(
    tmp_path: Path, task: str, plans: list[dict[str, Any]], modules: Any, **options: Any
) -> tuple[dict, ScriptedChatModel]:
    """A run whose architect answers `plans` in turn (the last one repeats) and whose modules
    answer `modules(module_id, messages)`."""
    answered = {"n": 0}

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            plan = plans[min(answered["n"], len(plans) - 1)]
            answered["n"] += 1
            return json.dumps(plan)
        if is_assembler(messages):
            return "notes"
        return modules(module_id_of(messages), messages)

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify=False, **options) as orchestrator:
        return orchestrator.run(task), model


def simple(module_id: str, messages: list[BaseMessage]) -> str:
    return block(f"{module_id}.txt", f"the {module_id} module", {})


def test_a_cycle_against_the_data_flow_is_repaired_and_reported(tmp_path: Path) -> None:
    plan = {
        "project_name": "Library dashboard",
        "modules": [
            {"id": "dashboard", "dependencies": ["book_list"], "shared_state_writes": ["element_ids"]},
            {"id": "book_list", "dependencies": ["dashboard"], "shared_state_reads": ["element_ids"]},
        ],
    }

    def modules(module_id: str, messages: list[BaseMessage]) -> str:
        return block(f"{module_id}.txt", "#main", {"element_ids": ["#main"]} if module_id == "dashboard" else {})

    state, model = run(tmp_path, "a library dashboard", [plan], modules)
    assert state["execution_order"] == ["dashboard", "book_list"]
    assert "module 'dashboard': dependency on 'book_list' dropped (contradicts the data flow)" in state["plan_report"]
    assert sum(is_architect(c) for c in model.calls) == 1  # repaired, not re-asked
    assert state["final_result"]


def test_a_true_data_cycle_on_every_attempt_is_broken_at_one_read(tmp_path: Path) -> None:
    plan = {
        "project_name": "Loop",
        "modules": [
            {"id": "a", "shared_state_writes": ["x"], "shared_state_reads": ["y"]},
            {"id": "b", "shared_state_writes": ["y"], "shared_state_reads": ["x"]},
        ],
    }

    def modules(module_id: str, messages: list[BaseMessage]) -> str:
        return block(f"{module_id}.txt", "code", {"x": "1"} if module_id == "a" else {"y": "2"})

    state, model = run(tmp_path, "a loop", [plan], modules)
    architect_calls = [c for c in model.calls if is_architect(c)]
    assert len(architect_calls) == 2  # one re-ask naming the cycle, then broken
    assert "data cycle" in str(architect_calls[1][-1].content)
    assert any("broken: 'a' no longer reads 'y'" in line for line in state["plan_report"])
    a_prompt = next(str(c[1].content) for c in model.calls if module_id_of(c) == "a")
    assert "'y' (written by 'b') is not available to you" in a_prompt
    assert set(state["completed"]) == {"a", "b"} and state["final_result"]
    report = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())
    assert report["rejected_plans"][0]["attempt"] == 1 and "data cycle" in report["rejected_plans"][0]["error"]


def test_duplicate_file_owners_keep_the_first_and_the_run_finishes(tmp_path: Path) -> None:
    plan = {
        "project_name": "Something",
        "modules": [
            {"id": "one", "files": ["app.py"]},
            {"id": "two", "files": ["app.py", "util.py"]},
        ],
    }

    def modules(module_id: str, messages: list[BaseMessage]) -> str:
        if module_id == "one":
            return block("app.py", "print('one')")
        return block("util.py", "VALUE = 2")

    state, _ = run(tmp_path, "something", [plan], modules)
    assert "module 'two': file 'app.py' is owned by 'one'; dropped from 'two'" in state["plan_report"]
    assert state["architecture"]["modules"][1]["files"] == ["util.py"]
    assert all(not r["problems"] for r in state["module_reports"].values())
    assert (tmp_path / "project" / "app.py").read_text().strip() == "print('one')"


def test_an_empty_reply_and_an_echo_are_problems_that_are_re_run(tmp_path: Path) -> None:
    plan = {
        "project_name": "Relatório de vendas",
        "modules": [
            {"id": "reader", "files": ["reader.py"], "description": "Read the sales CSV file into a list of rows"},
            {
                "id": "summary",
                "files": ["summary.py"],
                "dependencies": ["reader"],
                "description": "Sum the sales per product",
            },
        ],
    }
    seen: dict[str, int] = {}

    def modules(module_id: str, messages: list[BaseMessage]) -> str:
        seen[module_id] = seen.get(module_id, 0) + 1
        if seen[module_id] == 1 and module_id == "reader":
            return ""
        if seen[module_id] == 1:  # the task given back instead of code
            spec = str(messages[1].content)
            return block("summary.py", "\n".join(line for line in spec.splitlines() if line.strip())[:400])
        return block(f"{module_id}.py", f"def {module_id}():\n    return []")

    state, _ = run(tmp_path, "relatório de vendas", [plan], modules)
    reader, summary = state["module_reports"]["reader"], state["module_reports"]["summary"]
    assert reader["attempts"] == 2 and "contains no file" in reader["repairs"][0]["problems"][0]
    assert summary["attempts"] == 2 and any("only repeat" in p for p in summary["repairs"][0]["problems"])
    assert reader["problems"] == [] == summary["problems"] and reader["file_count"] == 1


def test_declared_files_name_unnamed_blocks_missing_ones_are_problems_extra_ones_are_kept(tmp_path: Path) -> None:
    files = extract_files("```css\nbody {}\n```\n```\njavascript\nlet a = 1;\n```", "ui", ["style.css", "app.js"])
    assert [(f.path, f.content.strip()) for f in files] == [("style.css", "body {}"), ("app.js", "let a = 1;")]
    assert extract_files("print('hi')", "core", ["main.py"])[0].path == "main.py"  # no fence, one file owned

    plan = {"project_name": "UI", "modules": [{"id": "ui", "files": ["index.html", "app.js"]}]}
    answers = iter(
        [
            block("index.html", "<p>hi</p>") + "\n",
            "index.html\n```html\n<p>hi</p>\n```\napp.js\n```js\nlet a = 1;\n```\nnotes.md\n```\nextra\n```\n"
            f"{UPDATE_MARKER} {{}}",
        ]
    )
    state, model = run(tmp_path, "a page", [plan], lambda module_id, messages: next(answers))
    report = state["module_reports"]["ui"]
    assert "the file 'app.js' your module owns is missing" in report["repairs"][0]["problems"][0]
    assert report["problems"] == [] and report["extra_files"] == ["notes.md"]
    assert (tmp_path / "project" / "notes.md").exists()
    module_prompt = str(next(c for c in model.calls if module_id_of(c) == "ui")[1].content)
    assert "FILES YOU WRITE: index.html, app.js (exactly these" in module_prompt


def test_project_shapes_detect_guide_and_repair() -> None:
    assert detect_shape("Uma página web com um contador") == "web"
    assert detect_shape("relatório de vendas a partir de um CSV") == "data"
    assert detect_shape("A REST API for notes") == "api"
    assert detect_shape("A command-line todo list in Python with pytest tests") == "python"
    assert detect_shape("Write a poem") is None and guide_for("Write a poem") == ""
    assert '"files": ["index.html"]' in guide_for("a web page")

    python = Architecture.model_validate(
        {
            "modules": [
                {"id": "add", "files": ["add.py"], "shared_state_writes": ["api_functions"]},
                {"id": "done", "files": ["done.py"]},
            ]
        }
    )
    repaired, notes = repair_shape(python, "a command-line todo list in Python")
    ids = [m.id for m in repaired.modules]
    assert ids == ["add", "done", "cli", "tests"]
    assert repaired.module("tests").files == ["tests/test_add.py"] and repaired.module("cli").files == ["main.py"]
    assert repaired.module("tests").dependencies == ["add", "done"]
    assert len(notes) == 2 and "no tests" in notes[0] and "no entry point" in notes[1]

    web = Architecture.model_validate(
        {"modules": [{"id": "js", "files": ["app.js"]}, {"id": "css", "files": ["style.css"]}]}
    )
    repaired, notes = repair_shape(web, "a web page with a counter")
    assert repaired.modules[0].id == "page" and repaired.modules[0].files == ["index.html"]
    assert "app.js" in repaired.modules[0].manual and "style.css" in repaired.modules[0].manual
    assert repair_shape(Architecture.model_validate({"modules": [{"id": "x"}]}), "a web page")[1] == []


def test_the_architect_gets_the_guide_and_a_portuguese_plan_gets_ascii_names(tmp_path: Path) -> None:
    plan = {
        "project_name": "Relatório",
        "modules": [
            {"id": "leitor", "files": ["leitor.py"], "shared_state_writes": ["funções"]},
            {
                "id": "relatório",
                "files": ["relatório.py"],
                "dependencies": ["leitor"],
                "shared_state_reads": ["funções"],
            },
            {"id": "testes", "files": ["tests/test_leitor.py"], "dependencies": ["leitor"]},
            {"id": "principal", "files": ["main.py"], "dependencies": ["relatório"]},
        ],
    }

    def modules(module_id: str, messages: list[BaseMessage]) -> str:
        update = {"funcoes": ["ler(caminho)"]} if module_id == "leitor" else {}
        path = re.search(r"FILES YOU WRITE: (\S+?)[ ,]", str(messages[1].content)).group(1)
        return block(path, "def ler(caminho):\n    return []" if module_id == "leitor" else "x = 1", update)

    state, model = run(tmp_path, "Um relatório de vendas a partir de um arquivo CSV, com testes", [plan], modules)
    prompt = str(next(c for c in model.calls if is_architect(c))[1].content)
    assert "PROJECT SHAPE: a data report" in prompt
    ids = state["execution_order"]
    assert ids == ["leitor", "relatorio", "testes", "principal"] and all(i.isascii() for i in ids)
    assert state["architecture"]["modules"][1]["files"] == ["relatorio.py"]
    assert state["shared_state"] == {"funcoes": ["ler(caminho)"]}


def test_a_file_planned_without_its_extension_is_satisfied_by_the_written_one() -> None:
    from matrioska.generation.project import module_problems
    from matrioska.state import ModuleSpec

    files = extract_files("```js\nlet a = 1;\n```", "app", ["app"])
    assert [f.path for f in files] == ["app.js"]
    assert module_problems(ModuleSpec(id="app", files=["app"]), files, {}, {})[0] == []


def test_a_reply_cut_off_inside_a_block_keeps_that_block() -> None:
    files = extract_files(
        "reverse.py\n```python\ndef reverse(s):\n    return s[::-1]\n# and then the budget ran ou", "core", []
    )
    assert [f.path for f in files] == ["reverse.py"] and files[0].content.startswith("def reverse(s):")
    assert "cut off" in files[0].notes[-1]


def test_a_file_of_comments_echoing_the_prompt_is_a_problem() -> None:
    from matrioska.generation.project import ProjectFile, module_problems
    from matrioska.state import ModuleSpec

    prompt = "YOUR MODULE: core\nDescription: Reverses the words of a sentence\nInputs: Sentence to reverse"
    echo = "# Description: Reverses the words of a sentence\n# Inputs: Sentence to reverse\n" * 3
    problems, _ = module_problems(ModuleSpec(id="core"), [ProjectFile("core.py", echo, "core")], {}, {}, prompt=prompt)
    assert any("only repeat" in p for p in problems) and any("only comments" in p for p in problems)
    code = "def reverse(s):\n    return ' '.join(reversed(s.split()))\n"
    assert (
        module_problems(ModuleSpec(id="core"), [ProjectFile("core.py", code, "core")], {}, {}, prompt=prompt)[0] == []
    )
