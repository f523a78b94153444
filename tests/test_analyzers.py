"""The field's analyzers judge every candidate, and one-line slips need no model (issue 34):
ruff's undefined names fixed in place (an import added, a local renamed), the attempt's score
preferring fewer undefined names, and a run that goes on, said once, where the analyzers are
missing."""

from __future__ import annotations

import io
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, is_assembler, module_id_of

import matrioska.kinds.analyzers as analyzers
from matrioska import MatrioskaOrchestrator
from matrioska.cli.progress import ProgressPrinter
from matrioska.generation.precision import attempt_score, worse_reason
from matrioska.kinds.analyzers import analyze
from matrioska.kinds.python.fixes import fix_python
from matrioska.plan.parsing import UPDATE_MARKER

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def fixed(files: dict[str, str], defined: dict[str, list[str]] | None = None) -> tuple[dict[str, str], list[str]]:
    """The files after `fix_python` over ruff's findings, and each fix as `path:line description`."""
    new, fixes = fix_python(files, analyze(files).findings, defined or {})
    return new, [f.render() for f in fixes]


def errors(files: dict[str, str]) -> list[str]:
    return [f.render() for f in analyze(files).errors]


# -- fix_python ------------------------------------------------------------------------------------


def test_a_standard_library_module_gets_its_import_after_the_docstring_and_the_imports() -> None:
    helper = (
        '"""Helpers."""\n\nfrom __future__ import annotations\n\nimport os\n\n\n'
        "def digest(text):\n    return hashlib.sha256(text.encode()).hexdigest() + os.sep\n"
    )
    new, fixes = fixed({"helper.py": helper})
    assert fixes == ["helper.py:6 added `import hashlib`"]
    assert new["helper.py"].startswith(
        '"""Helpers."""\n\nfrom __future__ import annotations\n\nimport os\nimport hashlib\n\n\ndef digest'
    )
    assert errors(new) == []


def test_names_of_project_modules_are_imported_from_the_one_module_that_defines_them() -> None:
    tests = "def test_add_and_save():\n    assert add(2, 3) == 5\n    assert save([], 'x') == ['x']\n"
    new, fixes = fixed({"test_app.py": tests}, {"add": ["core"], "save": ["store"]})
    assert fixes == ["test_app.py:1 added `from core import add`", "test_app.py:2 added `from store import save`"]
    assert new["test_app.py"] == "from core import add\nfrom store import save\n\n" + tests
    assert errors(new) == []


def test_a_project_module_used_as_module_attr_is_imported_as_a_module() -> None:
    code = "import sys\n\nprint(helper.digest(sys.argv[1]))\n"
    new, fixes = fixed({"main.py": code}, {"digest": ["helper"]})
    assert fixes == ["main.py:2 added `import helper`"]
    assert new["main.py"] == "import sys\nimport helper\n\nprint(helper.digest(sys.argv[1]))\n"


def test_a_renamed_local_is_renamed_back_in_its_function() -> None:
    code = (
        "import sys\n\n\ndef main(argv):\n    totl = sum(int(a) for a in argv)\n    print(total)\n    return 0\n\n\n"
        "def other():\n    return total\n"
    )
    new, fixes = fixed({"main.py": code})
    assert fixes == ["main.py:6 renamed `total` to the local `totl`"]
    assert "    print(totl)\n" in new["main.py"]
    assert "    return total\n" in new["main.py"]  # another function assigns no close local: left
    assert errors(new) == ["main.py:11 F821 Undefined name `total`"]


def test_what_is_not_one_sure_answer_is_left_alone() -> None:
    two_locals = "def f(x):\n    totl = x\n    totals = x\n    return total\n"  # two close unused locals
    after_use = "def f(x):\n    print(total)\n    totl = x\n"  # renamed, it would be read unbound
    two_modules = "print(add(1, 2))\n"
    bare = "print(json)\n"  # a module name not used as a module
    broken = "def f(:\n    return hashlib\n"
    files = {"a.py": two_locals, "b.py": after_use, "c.py": two_modules, "d.py": bare, "e.py": broken}
    new, fixes = fixed(files, {"add": ["core", "util"]})
    assert fixes == [] and new == files


def test_well_known_standard_library_names_and_the_datetime_module() -> None:
    code = (
        "def f(words):\n    seen = Counter(words)\n    when = datetime.now() + timedelta(days=1)\n"
        "    return seen, when, Path('.')\n\n\ndef g():\n    return datetime.datetime.now()\n"
    )
    new, fixes = fixed({"a.py": code})
    assert [f.split(" ", 1)[1] for f in fixes] == [
        "added `from collections import Counter`",
        "added `import datetime`",  # `datetime.datetime` is the module's
        "added `from datetime import timedelta`",
        "added `from pathlib import Path`",
    ]
    only_class = new_text = fixed({"b.py": "print(datetime.now())\n"})[0]["b.py"]
    assert only_class == new_text == "from datetime import datetime\n\nprint(datetime.now())\n"


def test_a_module_does_not_import_from_itself_and_a_shebang_stays_first() -> None:
    code = "#!/usr/bin/env python\nprint(os.getcwd(), digest('x'))\n"
    new, fixes = fixed({"helper.py": code}, {"digest": ["helper"]})
    assert fixes == ["helper.py:2 added `import os`"]
    assert new["helper.py"].startswith("#!/usr/bin/env python\nimport os\n\nprint(")


# -- the score ---------------------------------------------------------------------------------------


def test_fewer_undefined_names_come_right_after_files_that_parse() -> None:
    clean = attempt_score(1, 0, 0, 0, 1)
    undefined = attempt_score(1, 0, 0, 0, 1, undefined=1)
    assert worse_reason(undefined, clean) == "had more undefined names"
    assert worse_reason(attempt_score(1, 0, 0, 0, 1, analyzer_errors=1), clean) == "had more analyzer errors"
    # an undefined name weighs more than a file with problems or a reference that does not resolve
    assert worse_reason(undefined, attempt_score(1, 0, 2, 3, 9)) == "had more undefined names"
    # but a file that does not parse is still worse
    assert worse_reason(attempt_score(1, 0, 1, 0, 1, unparsed=1), undefined) == "had more files that do not parse"


# -- through the graph -------------------------------------------------------------------------------


def block(path: str, code: str, update: dict[str, Any] | None = None) -> str:
    return f"{path}\n```python\n{code}```\n{UPDATE_MARKER} {json.dumps(update or {})}"


class Modules:
    """Each module's reply (its candidates in turn, the last one repeated), the calls counted."""

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies, self.calls, self.lock = replies, [], threading.Lock()

    def __call__(self, messages: list[BaseMessage]) -> str:
        if is_assembler(messages) or is_architect(messages):
            return "Run main.py."
        module = module_id_of(messages) or "?"
        with self.lock:
            self.calls.append(module)
            queue = self.replies[module]
            return queue.pop(0) if len(queue) > 1 else queue[0]


def run(
    tmp_path: Path, plan: dict[str, Any], replies: dict[str, list[str]], **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]], Modules]:
    modules = Modules(replies)
    events: list[dict[str, Any]] = []
    options.setdefault("verify_timeout", 60)
    with MatrioskaOrchestrator(ScriptedChatModel(respond=modules), tmp_path, **options) as orchestrator:
        state = orchestrator.run(plan["goal"], architecture=plan, on_event=events.append)
    return state, events, modules


def fixed_events(events: list[dict[str, Any]], stage: str = "module") -> list[tuple[str, str, int, str]]:
    """The fixes made without the model that the run told, at a module's attempt (or at `stage`)."""
    return [
        (e["module"], e["path"], e["line"], e["description"])
        for e in events
        if e["event"] == "analyzer_fixed" and e.get("stage") == stage
    ]


def assert_works_without_a_fix_round(state: dict[str, Any]) -> None:
    verification = state["verification"]
    assert verification["works"] is True, verification
    assert verification["rounds"] == 0 and len(verification["history"]) == 1


HASH_PLAN = {
    "project_name": "Digest",
    "goal": "Print the SHA-256 digest of a text",
    "modules": [
        {"id": "helper", "name": "Helper", "files": ["helper.py"]},
        {"id": "cli", "name": "Entry point", "dependencies": ["helper"], "files": ["main.py"]},
    ],
}
HELPER = '"""Digests."""\n\n\ndef digest(text):\n    return hashlib.sha256(text.encode()).hexdigest()\n'
MAIN = "import sys\n\nfrom helper import digest\n\nif __name__ == '__main__':\n    print(digest(sys.argv[1]))\n"


@needs_bwrap
def test_a_helper_missing_import_hashlib_works_with_no_fix_round(tmp_path: Path) -> None:
    acceptance = [
        {
            "name": "the digest of abc",
            "kind": "command",
            "command": ["python", "main.py", "abc"],
            "stdout_contains": ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
        }
    ]
    replies = {"helper": [block("helper.py", HELPER)], "cli": [block("main.py", MAIN)]}
    state, events, modules = run(tmp_path, HASH_PLAN, replies, acceptance=acceptance)
    assert_works_without_a_fix_round(state)
    assert modules.calls == ["helper", "cli"]  # no repair, no fix round
    report = state["module_reports"]["helper"]
    assert report["problems"] == [] and report["attempts"] == 1
    assert report["analyzer_fixes"] == [
        {"path": "helper.py", "line": 3, "description": "added `import hashlib`", "rule": "F821 hashlib"}
    ]
    assert "analyzer_fixes" not in state["module_reports"]["cli"]  # nothing fixed: the report as before
    assert fixed_events(events) == [("helper", "helper.py", 3, "added `import hashlib`")]
    assert "import hashlib\n" in (tmp_path / "project" / "helper.py").read_text()


TESTS_PLAN = {
    "project_name": "Shopping list",
    "goal": "A shopping list kept in memory, with pytest tests",
    "modules": [
        {"id": "core", "name": "Core", "files": ["core.py"]},
        {"id": "store", "name": "Store", "files": ["store.py"]},
        {"id": "tests", "name": "Tests", "dependencies": ["core", "store"], "files": ["test_app.py"]},
    ],
}
CORE = "def total(prices):\n    return round(sum(prices), 2)\n"
STORE = "def save(items, item):\n    return [*items, item]\n"
TESTS = (
    "def test_total():\n    assert total([1.5, 2.25]) == 3.75\n\n\n"
    "def test_save():\n    assert save(['milk'], 'eggs') == ['milk', 'eggs']\n"
)


@needs_bwrap
def test_tests_missing_the_imports_of_two_project_modules_work_with_no_fix_round(tmp_path: Path) -> None:
    acceptance = [{"name": "a total", "kind": "python", "code": "from core import total\nassert total([1, 2]) == 3"}]
    replies = {
        "core": [block("core.py", CORE)],
        "store": [block("store.py", STORE)],
        "tests": [block("test_app.py", TESTS)],
    }
    state, events, modules = run(tmp_path, TESTS_PLAN, replies, acceptance=acceptance)
    assert_works_without_a_fix_round(state)
    assert modules.calls == ["core", "store", "tests"]
    assert fixed_events(events) == [
        ("tests", "test_app.py", 1, "added `from core import total`"),
        ("tests", "test_app.py", 2, "added `from store import save`"),
    ]
    assert fixed_events(events, "verify") == []  # nothing left for the assembled project's pass
    assert [f["rule"] for f in state["module_reports"]["tests"]["analyzer_fixes"]] == ["F821 total", "F821 save"]
    passed = [c for c in state["verification"]["checks"] if c["kind"] == "pytest"]
    assert passed and all(c["ok"] for c in passed)
    assert (
        (tmp_path / "project" / "test_app.py")
        .read_text()
        .startswith("from core import total\nfrom store import save\n\ndef test_total")
    )


RENAMED = (
    "import sys\n\n\ndef main(argv):\n    totl = sum(int(a) for a in argv if a.isdigit())\n    print(total)\n"
    "    return 0\n\n\n"
    "if __name__ == '__main__':\n    raise SystemExit(main(sys.argv[1:]))\n"
)


@needs_bwrap
def test_a_renamed_local_works_with_no_fix_round(tmp_path: Path) -> None:
    plan = {
        "project_name": "Sum",
        "goal": "Print the sum of the numbers given",
        "modules": [{"id": "cli", "name": "Entry point", "files": ["main.py"]}],
    }
    acceptance = [
        {
            "name": "two and three",
            "kind": "command",
            "command": ["python", "main.py", "2", "3"],
            "stdout_contains": ["5"],
        }
    ]
    state, events, modules = run(tmp_path, plan, {"cli": [block("main.py", RENAMED)]}, acceptance=acceptance)
    assert_works_without_a_fix_round(state)
    assert modules.calls == ["cli"]
    assert fixed_events(events) == [("cli", "main.py", 6, "renamed `total` to the local `totl`")]
    assert fixed_events(events, "verify") == []
    assert state["module_reports"]["cli"]["analyzer_fixes"][0]["rule"] == "F821 total"
    assert "    print(totl)\n" in (tmp_path / "project" / "main.py").read_text()


def test_best_of_n_keeps_the_candidate_whose_names_are_all_defined(tmp_path: Path) -> None:
    """`return a + c` imports fine and passes every check of the files; only the analyzers see
    that `c` is defined nowhere. Of three candidates the one that adds `b` is kept."""
    plan = {
        "project_name": "Calc",
        "goal": "Add two numbers",
        "modules": [{"id": "calc", "name": "Calc", "files": ["calc.py"]}],
    }
    candidates = [block("calc.py", f"def add(a, b):\n    return a + {x}\n") for x in "cdb"]
    state, _, modules = run(tmp_path, plan, {"calc": candidates}, samples=3, verify=False)
    report = state["module_reports"]["calc"]
    assert "return a + b" in state["artifacts"]["calc"]
    assert report["problems"] == [] and report["attempts"] == 1 and modules.calls == ["calc"] * 3
    rejected = sorted(p for c in report["candidates"] if not c["kept"] for p in c["problem_list"])
    assert rejected == ["calc.py:2 F821 Undefined name `c`", "calc.py:2 F821 Undefined name `d`"]


PAGE_PLAN = {
    "project_name": "Library",
    "goal": "A library page",
    "modules": [
        {"id": "page", "name": "Page", "files": ["index.html"]},
        {"id": "util", "name": "Util", "files": ["js/util.js"]},
        {"id": "app", "name": "App", "dependencies": ["page", "util"], "files": ["js/app.js"]},
    ],
}
PAGE = (
    '<!DOCTYPE html>\n<html>\n<head><title>Library</title></head>\n<body>\n<ul id="books"></ul>\n'
    '<script src="js/util.js"></script>\n<script src="js/app.js"></script>\n</body>\n</html>\n'
)


def test_a_script_may_use_another_module_s_globals_but_not_jquery(tmp_path: Path) -> None:
    util = "function formatTitle(text) {\n  return text.trim();\n}\n"
    app = "const list = document.getElementById('books');\nlist.append(formatTitle(' Dune '));\n$('#books').hide();\n"

    def web(path: str, code: str) -> str:
        return f"{path}\n```\n{code}```\n{UPDATE_MARKER} {{}}"

    replies = {"page": [web("index.html", PAGE)], "util": [web("js/util.js", util)], "app": [web("js/app.js", app)]}
    state, _, _ = run(tmp_path, PAGE_PLAN, replies, verify=False, max_repairs=0)
    problems = state["module_reports"]["app"]["problems"]
    assert len(problems) == 1, problems  # formatTitle is util's global: no problem
    assert problems[0].startswith("js/app.js:3 uses jQuery's `$`, but no page loads jQuery")


def test_without_the_analyzers_one_note_is_said_and_the_run_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analyzers, "tool_path", lambda name: None)
    replies = {"helper": [block("helper.py", HELPER)], "cli": [block("main.py", MAIN)]}
    state, events, modules = run(tmp_path, HASH_PLAN, replies, verify=False)
    assert modules.calls == ["helper", "cli"] and state.get("final_result")
    said = [e for e in events if e["event"] == "analyzers_missing"]
    assert len(said) == 1 and said[0]["notes"] == [
        "ruff is not installed here: its checks were left to Matrioska's own parsers"
    ]
    report = state["module_reports"]["helper"]
    assert "analyzer_fixes" not in report and "import hashlib" not in state["artifacts"]["helper"]
    out = io.StringIO()
    printer = ProgressPrinter(out, lambda thread: "", live=False)
    for event in [*said, *said]:  # said again (modules of one wave): printed once
        printer(event)
    assert out.getvalue() == "  · ruff is not installed here: its checks were left to Matrioska's own parsers\n"


def test_the_cli_prints_one_line_per_fix_without_the_model() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, lambda thread: "", live=False)
    printer(
        {
            "event": "analyzer_fixed",
            "module": "helper",
            "path": "helper.py",
            "line": 3,
            "description": "added `import hashlib`",
            "rule": "F821 hashlib",
        }
    )
    assert out.getvalue() == "  ~ fixed without the model: helper.py:3 added `import hashlib`\n"


def test_what_is_left_is_a_problem_naming_where_the_name_is_defined_or_what_is_close(tmp_path: Path) -> None:
    plan = {
        "project_name": "Adder",
        "goal": "Add numbers",
        "modules": [
            {"id": "core", "name": "Core", "files": ["core.py"]},
            {"id": "util", "name": "Util", "files": ["util.py"]},
            {"id": "cli", "name": "Entry point", "dependencies": ["core", "util"], "files": ["main.py"]},
        ],
    }
    add = "def add(a, b):\n    return a + b\n"
    main = "def main(x):\n    totl = x\n    totals = [x]\n    return add(total, 1)\n"
    replies = {"core": [block("core.py", add)], "util": [block("util.py", add)], "cli": [block("main.py", main)]}
    state, events, modules = run(tmp_path, plan, replies, verify=False, max_repairs=0)
    problems = state["module_reports"]["cli"]["problems"]
    assert len(problems) == 2, problems  # two modules define `add`, two locals are close to `total`
    assert problems[0].startswith("main.py:4 F821 Undefined name `add` (defined in module core")
    assert "`from core import add`" in problems[0] and "`from util import add`" in problems[0]
    assert problems[1] == (
        "main.py:4 F821 Undefined name `total` (close candidates: totals, totl); "
        "not renamed: two close unused locals (totals, totl)"
    )
    assert fixed_events(events) == [] and "analyzer_fixes" not in state["module_reports"]["cli"]


def test_a_repair_giving_the_same_files_back_is_not_kept_and_is_counted(tmp_path: Path) -> None:
    plan = {
        "project_name": "Sum",
        "goal": "Print the sum of the numbers given",
        "modules": [{"id": "cli", "name": "Entry point", "files": ["main.py"]}],
    }
    broken = "import sys\n\n\ndef main():\n    print(sum(int(a) for a in sys.argv[1:]) + mystery_offset)\n\n\nmain()\n"
    right = "import sys\n\n\ndef main():\n    print(sum(int(a) for a in sys.argv[1:]))\n\n\nmain()\n"
    replies = [block("main.py", broken), block("main.py", broken), block("main.py", right)]
    state, events, modules = run(tmp_path, plan, {"cli": replies}, verify=False, max_repairs=2)
    report = state["module_reports"]["cli"]
    assert modules.calls == ["cli"] * 3
    assert report["unchanged_fixes"] == 1 and not report["problems"], report
    assert report["discarded"] == ["kept attempt 1: attempt 2 changed nothing (the same files or failures)"]
    assert [e["attempt"] for e in events if e["event"] == "fix_unchanged"] == [2]
    assert "mystery_offset" not in (tmp_path / "project" / "main.py").read_text()


def test_a_rename_left_alone_says_why_in_the_module_s_problem(tmp_path: Path) -> None:
    plan = {
        "project_name": "Groups",
        "goal": "Print the groups",
        "modules": [{"id": "cli", "name": "Entry point", "files": ["main.py"]}],
    }
    source = (
        "def main(groups):\n    groups_info = sorted(groups)\n    groups_list = list(groups)\n"
        "    print(groups_items)\n\n\nmain(['a'])\n"
    )
    state, _, _ = run(tmp_path, plan, {"cli": [block("main.py", source)]}, verify=False, max_repairs=0)
    problems = state["module_reports"]["cli"]["problems"]
    assert any(
        p.startswith("main.py:4 ") and "not renamed: two close unused locals (groups_info, groups_list)" in p
        for p in problems
    ), problems
