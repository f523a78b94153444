"""Module kinds as plugins: a kind installed as an ordinary package (an entry point in the group
`matrioska.kinds`) is listed, drives the repair of a module of its kind, runs its files in the
sandbox, and a broken plugin costs one line, never the run."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator, kinds
from matrioska.cli import main
from matrioska.model.structured import plan_schema
from matrioska.plan.parsing import UPDATE_MARKER, parse_architecture
from matrioska.prompts import ARCHITECT_SCHEMA_SYSTEM_PROMPT

PLUGIN = r'''
"""A Matrioska kind for SQL schema files, checked in an in-memory SQLite database."""
import sqlite3
import sys


class SqlKind:
    name = "sql"
    description = "SQL schema and seed files (.sql) for SQLite"
    guide = "SQL: SQLite syntax; one statement per line, each ending with a semicolon."

    def matches(self, path):
        return path.endswith(".sql")

    def validate(self, path, text):
        try:
            sqlite3.connect(":memory:").executescript(text)
        except sqlite3.Error as exc:
            if "no such table" in str(exc):
                return []  # another file's table: the run checks that
            return [f"SQLite: {exc}"]
        return []

    def interface(self, path, text):
        tables = [line.split()[2] for line in text.splitlines() if line.upper().startswith("CREATE TABLE")]
        return "tables: " + ", ".join(tables)

    def commands(self, paths):
        script = (
            "import sqlite3, sys\n"
            "db = sqlite3.connect(':memory:')\n"
            "for path in sys.argv[1:]:\n"
            "    try:\n"
            "        db.executescript(open(path).read())\n"
            "    except sqlite3.Error as exc:\n"
            "        sys.exit(f'{path}: {exc}')\n"
        )
        return [[sys.executable, "-c", script, *sorted(paths)]]


class Raising:
    name = "boom"
    description = "files that make this plugin raise"

    def matches(self, path):
        return path.endswith(".boom")

    def validate(self, path, text):
        raise RuntimeError("the plugin has a bug")


RAISING = Raising()


class Incomplete:
    name = "incomplete"
'''

ENTRY_POINTS = """[matrioska.kinds]
sql = sqlkind:SqlKind
boom = sqlkind:RAISING
missing = sqlkind_not_installed:Kind
incomplete = sqlkind:Incomplete
"""


@pytest.fixture()
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plugin package built here: a module and its `.dist-info` (with `entry_points.txt`)
    on sys.path, exactly what pip leaves in site-packages."""
    site = tmp_path / "site"
    (site / "sqlkind-1.0.dist-info").mkdir(parents=True)
    (site / "sqlkind.py").write_text(textwrap.dedent(PLUGIN))
    (site / "sqlkind-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: sqlkind\nVersion: 1.0\n")
    (site / "sqlkind-1.0.dist-info" / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    kinds.reload()
    yield site
    sys.modules.pop("sqlkind", None)
    kinds.reload()


def test_matrioska_kinds_lists_built_ins_and_the_plugin_and_reports_broken_ones(plugin: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["kinds"], stdout=out, stderr=err) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == [
        "python",
        "tests",
        "html",
        "javascript",
        "css",
        "json",
        "markdown",
        "data",
        "sql",
        "boom",
    ]
    assert "SQL schema and seed files (.sql) for SQLite  [sqlkind]" in lines[8]
    assert "[matrioska (built-in)]" in lines[0]
    problems = err.getvalue().splitlines()
    assert len(problems) == 2
    assert problems[0].startswith("! kind plugin 'missing' (sqlkind) skipped: it failed to load: ModuleNotFoundError")
    assert problems[1] == "! kind plugin 'incomplete' (sqlkind) skipped: it lacks description, matches, validate"


def test_the_plan_names_installed_kinds_and_unknown_ones_are_inferred(plugin: Path) -> None:
    schema = plan_schema()
    assert schema["properties"]["modules"]["items"]["properties"]["kind"]["enum"][-2:] == ["sql", "boom"]
    assert "- sql: SQL schema and seed files (.sql) for SQLite" in ARCHITECT_SCHEMA_SYSTEM_PROMPT.format(
        kinds=kinds.describe()
    )
    plan, notes = parse_architecture(
        json.dumps(
            {
                "project_name": "p",
                "goal": "g",
                "modules": [
                    {"id": "db", "kind": "SQL", "files": ["schema.sql"]},
                    {"id": "core", "files": ["core.py"]},
                    {"id": "checks", "kind": "cobol", "files": ["tests/test_core.py"]},
                    {"id": "page", "kind": "python", "files": ["index.html", "app.js", "style.css"]},
                ],
            }
        )
    )
    assert [m.kind for m in plan.modules] == ["sql", "python", "tests", "html"]
    assert "module 'checks': kind 'cobol' is not an installed kind; 'tests' from its files" in notes
    assert "module 'page': kind 'python' claims none of its files; 'html' from its files" in notes


SQL_PLAN = {
    "project_name": "Library database",
    "goal": "The SQLite schema of a library and its seed data",
    "modules": [
        {"id": "schema", "name": "Schema", "kind": "sql", "files": ["schema.sql"]},
        {"id": "seed", "name": "Seed data", "kind": "sql", "dependencies": ["schema"], "files": ["seed.sql"]},
    ],
}
SCHEMA_BAD = "CREAT TABLE books (id INTEGER PRIMARY KEY, title TEXT);\n"
SCHEMA_GOOD = "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n"
SEED = "INSERT INTO books (title) VALUES ('Dom Casmurro');\n"


def sql_reply(path: str, text: str) -> str:
    return f"{path}\n```sql\n{text}```\n{UPDATE_MARKER} {{}}"


def test_a_module_of_a_plugin_kind_is_repaired_because_of_that_kinds_problem(plugin: Path, tmp_path: Path) -> None:
    prompts: dict[str, list[str]] = {}

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module = module_id_of(messages)
        prompts.setdefault(module, []).append("\n".join(str(m.content) for m in messages))
        if module == "schema":
            return sql_reply("schema.sql", SCHEMA_GOOD if len(prompts[module]) > 1 else SCHEMA_BAD)
        return sql_reply("seed.sql", SEED)

    with MatrioskaOrchestrator(ScriptedChatModel(respond=respond), tmp_path / "out", verify=False) as orchestrator:
        state = orchestrator.run("library database", architecture=SQL_PLAN)
    report = state["module_reports"]["schema"]
    assert report["attempts"] == 2
    assert report["repairs"][0]["problems"] == ['schema.sql: SQLite: near "CREAT": syntax error']
    assert report["problems"] == []
    assert "KIND sql: SQL: SQLite syntax" in prompts["schema"][0]  # the kind's guide in its prompt
    assert "tables: books" in prompts["seed"][0]  # the plugin's interface reached the dependent
    assert (tmp_path / "out" / "project" / "schema.sql").read_text() == SCHEMA_GOOD


def test_a_plugin_that_raises_becomes_a_module_problem_and_the_run_finishes(plugin: Path, tmp_path: Path) -> None:
    plan = {"project_name": "p", "goal": "g", "modules": [{"id": "odd", "files": ["data.boom", "notes.md"]}]}

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        return f"data.boom\n```\nx\n```\nnotes.md\n```markdown\n# Notes\n```\n{UPDATE_MARKER} {{}}"

    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond), tmp_path / "out", verify=False, max_repairs=0
    ) as orchestrator:
        state = orchestrator.run("odd files", architecture=plan)
    assert state["module_reports"]["odd"]["problems"] == [
        "data.boom: the boom kind (sqlkind) failed on this file: RuntimeError: the plugin has a bug"
    ]
    assert state["architecture"]["modules"][0]["kind"] == "boom"
    assert (tmp_path / "out" / "project" / "notes.md").exists()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_plugin_kinds_commands_run_in_the_sandbox_and_failures_go_to_the_module(plugin: Path, tmp_path: Path) -> None:
    """seed.sql is valid on its own (the plugin forgives a table another file creates) but fails
    when the project runs: its insert names a column the schema does not have."""
    seeds = ["INSERT INTO books (name) VALUES ('Dom Casmurro');\n", SEED]

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        if module_id_of(messages) == "schema":
            return sql_reply("schema.sql", SCHEMA_GOOD)
        return sql_reply(
            "seed.sql", seeds.pop(0) if "FAILED CHECK" in str(messages[-1].content) or len(seeds) == 2 else SEED
        )

    # the evidence a verdict of "works" needs: the seeded book is in the database the files build
    seeded = (
        "import sqlite3\ndb = sqlite3.connect(':memory:')\n"
        "db.executescript(open('schema.sql').read() + open('seed.sql').read())\n"
        "assert db.execute('SELECT title FROM books').fetchall() == [('Dom Casmurro',)]"
    )
    acceptance = [{"name": "the seeded book is there", "kind": "python", "code": seeded}]
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond), tmp_path / "out", sandbox="bwrap", acceptance=acceptance
    ) as orchestrator:
        state = orchestrator.run("library database", architecture=SQL_PLAN)
    verdict = state["verification"]
    first = verdict["history"][0]
    assert first["works"] is False and first["modules"] == ["seed"]
    assert verdict["works"] is True and verdict["rounds"] == 1
    assert [c["kind"] for c in verdict["checks"]] == ["sql"]
    fix = state["module_reports"]["seed"]["runtime_fixes"][0]
    assert "table books has no column named name" in fix["evidence"]


def test_kinds_stay_off_the_help_path() -> None:
    code = (
        "import sys, matrioska.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('matrioska.kinds')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr[-2000:]
