"""A module's files assembled from its chosen functions without the model (issue 35): the
imports a body needs, the argparse entry point from declared commands (run in the sandbox), the
tests file from the examples (run against a right and a wrong module), a JavaScript file, and a
page's wiring from declared ids clicked in Chromium."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from matrioska.checking.sandbox import resolve_sandbox
from matrioska.functions.assemble import javascript_file, python_file
from matrioska.functions.assemble import tests_file as written_tests
from matrioska.functions.entry import argparse_entry
from matrioska.functions.spec import NO_VALUE, Command, Example, FunctionPlan, FunctionSpec, Param
from matrioska.functions.wiring import Binding, page_ids, page_wiring
from matrioska.kinds.analyzers import ruff

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

REPORT_PLAN = FunctionPlan(
    module="report",
    language="python",
    functions=[
        FunctionSpec("tally", [Param("words", "list[str]")], "Counter", "counts words"),
        FunctionSpec("summary", [Param("path", "str")], "str", "the stored words as JSON", calls=["storage.load"]),
        FunctionSpec("unused_call", [], "int", "declares a call it never makes", calls=["storage.save"]),
    ],
    constants=['DEFAULT = Path("words.json")'],
)
REPORT_CHOSEN = {
    "tally": "def tally(words: list[str]) -> Counter:\n    return Counter(w.lower() for w in words)\n",
    "summary": "def summary(path: str) -> str:\n    return json.dumps(dict(tally(load(path))), sort_keys=True)\n",
    "unused_call": "def unused_call() -> int:\n    return 1\n",
}


def _import_lines(text: str) -> list[str]:
    tree = ast.parse(text)
    return [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]


def test_assembly_adds_the_imports_the_bodies_need() -> None:
    storage = "def load(path):\n    return []\n\n\ndef save(path, items):\n    pass\n"
    text, fixes = python_file(
        REPORT_PLAN,
        "report.py",
        REPORT_CHOSEN,
        project={"storage.py": storage},
        defined={"load": ["storage"], "save": ["storage"]},
        doc="Reports on the stored words.",
    )
    ast.parse(text)
    assert text.startswith('"""Reports on the stored words."""\n')
    imports = _import_lines(text)
    assert imports == [
        "import json",
        "from collections import Counter",
        "from pathlib import Path",
        "from storage import load",
    ], text
    assert "save" not in "\n".join(imports)  # declared but not used: not imported
    # constants after the imports, functions in plan order
    assert (
        text.index("DEFAULT = ") < text.index("def tally") < text.index("def summary") < text.index("def unused_call")
    )
    findings = ruff({"report.py": text}).findings
    assert [f.render() for f in findings] == []
    described = {f.description for f in fixes}
    assert {"added `import json`", "added `from collections import Counter`"} <= described
    assert all(text.splitlines()[f.line - 1].startswith(("import", "from")) for f in fixes)


def test_assembly_drops_duplicate_and_unused_imports_a_candidate_brought() -> None:
    plan = FunctionPlan("util", "python", [FunctionSpec("stamp", [], "str", "")])
    chosen = {"stamp": "import os\nimport os\nimport re\n\ndef stamp() -> str:\n    return os.sep\n"}
    text, _ = python_file(plan, "util.py", chosen, project={}, defined={})
    assert _import_lines(text) == ["import os"]
    assert text.count("import os") == 1 and ruff({"util.py": text}).findings == []


CORE = """import json
import os


def add(text: str, path: str = "items.json") -> list:
    items = list_items(path)
    if not text.strip():
        raise ValueError("empty item")
    items.append(text)
    with open(path, "w") as handle:
        json.dump(items, handle)
    return items


def list_items(path: str = "items.json") -> list:
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return json.load(handle)


def stats(path: str = "items.json") -> dict:
    items = list_items(path)
    return {"count": len(items), "longest": max(items, key=len) if items else None}
"""


def _cli_plan() -> FunctionPlan:
    return FunctionPlan(
        module="cli",
        language="python",
        functions=[],
        commands=[
            Command("add", "core.add", [Param("text")], help="add an item"),
            Command("list", "core.list_items", []),
            Command("stats", "core.stats", []),
            Command("times", "double", [Param("n")]),
        ],
        entry="main.py",
    )


def test_the_entry_point_names_its_arguments_and_types() -> None:
    plan = _cli_plan()
    plan.functions = [FunctionSpec("double", [Param("n", "int")], "int", "twice n", file="main.py")]
    text = argparse_entry(plan, {"core.add": FunctionSpec("add", [Param("text", "str"), Param("path", "str")])})
    tree = ast.parse(text)
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "main" in names and "from core import add" in text and "from core import list_items" in text
    assert "return add(text=args.text, **given)" in text  # path left unset: an optional --path
    assert "'--path'" in text and "type=int" in text  # double's n is an int
    assert "_yes_no" not in text  # no yes/no argument: no helper for one
    plan.functions.append(FunctionSpec("toggle", [Param("on", "bool")], "bool", "", file="main.py"))
    plan.commands.append(Command("toggle", "toggle", [Param("on")]))
    assert "type=_yes_no" in argparse_entry(plan, {})
    assert argparse_entry(FunctionPlan("x", "python", []), {}) == ""


@needs_bwrap
def test_the_argparse_entry_point_runs_in_the_sandbox(tmp_path: Path) -> None:
    plan = _cli_plan()
    plan.functions = [FunctionSpec("double", [Param("n", "int")], "int", "twice n", file="main.py")]
    chosen = {"double": "def double(n: int) -> int:\n    return n * 2\n"}
    main, _ = python_file(plan, "main.py", chosen, project={"core.py": CORE}, defined={})
    assert ruff({"main.py": main}).findings == []
    os.chmod(tmp_path, 0o755)
    (tmp_path / "core.py").write_text(CORE)
    (tmp_path / "main.py").write_text(main)
    sandbox, _ = resolve_sandbox("bwrap", timeout=30)
    assert sandbox is not None

    def run(*argv: str) -> tuple[int | None, str]:
        result = sandbox.run([sys.executable, "main.py", *argv], tmp_path)
        return result.returncode, result.output

    assert run("add", "milk") == (0, "milk")
    assert run("add", "eggs") == (0, "milk\neggs")
    assert run("list") == (0, "milk\neggs")
    code, out = run("stats")
    assert code == 0 and json.loads(out) == {"count": 2, "longest": "milk"}
    assert run("times", "21") == (0, "42")
    code, out = run("add", "  ")  # the core's ValueError: an error line, exit 1
    assert code == 1 and out == "error: empty item"
    code, out = run()
    assert code == 2 and "usage" in out and "add" in out
    code, out = run("add", "bread", "--path", "other.json")
    assert code == 0 and out == "bread" and (tmp_path / "other.json").exists()


def _words_plan() -> FunctionPlan:
    return FunctionPlan(
        module="words",
        language="python",
        functions=[
            FunctionSpec(
                "count",
                [Param("text", "str")],
                "int",
                "",
                [Example(["a b c"], 3), Example([""], 0), Example(["x"], 99, suspect="candidates agree on 1")],
                file="words.py",
            ),
            FunctionSpec("mean", [Param("xs", "list[float]")], "float", "", [Example([[1, 2]], 1.5)], file="words.py"),
            FunctionSpec(
                "split", [Param("text", "str")], "list[str]", "", [Example(["a,b"], ["a", "b"])], file="words.py"
            ),
            FunctionSpec("empty", [Param("text", "str")], "bool", "", [Example([""], True)], file="words.py"),
            FunctionSpec(
                "lines_in",
                [Param("path", "str")],
                "int",
                "",
                [Example(["a.txt"], 2, files={"a.txt": "x\ny\n"}), Example(["b.txt"], 0, files={"b.txt": ""})],
                file="words.py",
            ),
            FunctionSpec(
                "shout",
                [Param("text", "str")],
                "None",
                "",
                [Example(["hi"], NO_VALUE, stdout="HI!")],
                file="words.py",
            ),
            FunctionSpec("never", [Param("x", "int")], "int", "", [Example([1], 5)], file="words.py"),
        ],
    )


WORDS_RIGHT = """def count(text):
    return len(text.split())


def mean(xs):
    return sum(xs) / len(xs)


def split(text):
    return tuple(text.split(","))


def empty(text):
    return text == ""


def lines_in(path):
    with open(path) as handle:
        return len(handle.read().splitlines())


def shout(text):
    print(text.upper() + "!")


def never(x):
    return x
"""


@needs_bwrap
def test_the_tests_file_passes_a_right_module_and_fails_a_wrong_one(tmp_path: Path) -> None:
    plan = _words_plan()
    kept = {"words": {"count", "mean", "split", "empty", "lines_in", "shout"}}
    text = written_tests([plan], kept=kept)
    ast.parse(text)
    assert "def test_never" not in text  # its candidate never passed: not tested
    assert "99" not in text  # the suspect example is left out
    assert "pytest.approx(1.5)" in text and "from words import count, empty, lines_in, mean, shout, split" in text
    assert ruff({"test_words.py": text}).findings == []
    sandbox, _ = resolve_sandbox("bwrap", timeout=60)
    assert sandbox is not None
    outcomes = {}
    wrong = WORDS_RIGHT.replace("return len(text.split())", "return len(text)").replace('"!"', '"?"')
    for label, module in (("right", WORDS_RIGHT), ("wrong", wrong)):
        folder = tmp_path / label
        folder.mkdir()
        os.chmod(folder, 0o755)
        (folder / "words.py").write_text(module)
        (folder / "test_words.py").write_text(text)
        result = sandbox.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_words.py"], folder)
        outcomes[label] = result
    assert outcomes["right"].returncode == 0, outcomes["right"].output
    assert "6 passed" in outcomes["right"].output
    assert outcomes["wrong"].returncode == 1, outcomes["wrong"].output
    assert "2 failed" in outcomes["wrong"].output and "test_count" in outcomes["wrong"].output
    # without `kept`, every function with examples is tested (`never` fails the right module)
    assert "def test_never" in written_tests([plan])
    assert written_tests([plan], kept={"words": set()}) == ""


def test_a_javascript_file_is_a_classic_script_in_plan_order() -> None:
    plan = FunctionPlan(
        "logic",
        "javascript",
        [FunctionSpec("addBook", [Param("title")], file="logic.js"), FunctionSpec("count", [], file="logic.js")],
        constants=["const books = [];", "LIMIT = 3"],
    )
    chosen = {
        "count": "function count() {\n  return books.length;\n}",
        "addBook": "export function addBook(title) {\n  books.push(title);\n  return books;\n}",
    }
    text = javascript_file(plan, "logic.js", chosen, doc="The reading list.")
    assert "export" not in text and "const LIMIT = 3;" in text and "const books = [];" in text
    assert text.index("const books") < text.index("function addBook") < text.index("function count")


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Books</title></head>
<body>
<input id="title"><input id="pages" type="number"><button id="add">Add</button>
<ul id="list"></ul><p id="total"></p><button id="boom">Boom</button><p id="message"></p>
<script src="app.js"></script>
</body></html>
"""
LOGIC = {
    "addBook": "function addBook(title) {\n  books.push(title);\n  return books;\n}",
    "pageCount": "function pageCount(pages) {\n  total += pages;\n  return total;\n}",
    "explode": 'function explode() {\n  throw new Error("no books to burn");\n}',
}


def _bindings() -> list[Binding]:
    return [
        Binding("add", "click", "addBook", ["title"], "list"),
        Binding("add", "click", "pageCount", ["pages"], "total"),
        Binding("boom", "click", "explode", [], "message"),
        Binding("missing", "click", "addBook", ["title"], "list"),
        Binding("add", "click", "addBok", ["title"], "list"),
    ]


def test_wiring_drops_bindings_the_page_or_the_script_lacks() -> None:
    ids = page_ids(PAGE)
    assert {"title", "pages", "add", "list", "total", "boom", "message"} <= ids
    script, notes = page_wiring(_bindings(), ids, set(LOGIC))
    assert len(notes) == 2 and "'missing'" in notes[0] and "addBok is not a function" in notes[1]
    assert script.count('addEventListener("click"') == 3 and "addBok" not in script
    assert page_wiring([Binding("x", "click", "f", [])], set(), {"f"})[0] == ""


def test_a_pages_wiring_calls_its_logic_function_in_chromium(tmp_path: Path) -> None:
    from test_webcheck import _chromium

    from matrioska.kinds.web.browser import run_page_scenarios

    chromium = _chromium()
    plan = FunctionPlan(
        "logic",
        "javascript",
        [FunctionSpec(n, [], file="app.js") for n in LOGIC],
        constants=["const books = [];", "let total = 0;"],
    )
    wiring, notes = page_wiring(_bindings(), page_ids(PAGE), set(LOGIC))
    assert len(notes) == 2
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "app.js").write_text(javascript_file(plan, "app.js", LOGIC) + "\n" + wiring)
    (tmp_path / "unwired.html").write_text(PAGE.replace("app.js", "logic.js"))
    (tmp_path / "logic.js").write_text(javascript_file(plan, "logic.js", LOGIC))
    add = [
        {"fill": "#title", "text": "Dune"},
        {"fill": "#pages", "text": "412"},
        {"click": "#add"},
        {"fill": "#title", "text": "Emma"},
        {"fill": "#pages", "text": "8"},
        {"click": "#add"},
    ]
    scenarios = [
        {"name": "add", "page": "index.html", "steps": add, "expect_text": ["Dune", "Emma", "420"]},
        {"name": "boom", "page": "index.html", "steps": [{"click": "#boom"}], "expect_text": ["no books to burn"]},
        {"name": "unwired", "page": "unwired.html", "steps": add, "expect_text": ["Dune"]},
    ]
    played = {r.name: r for r in run_page_scenarios(tmp_path, scenarios, timeout=10, settle=0.2, chromium=chromium)}
    assert played["add"].ok, played["add"].output()
    assert "4128" not in played["add"].text  # the number input was passed as a Number, not text
    assert played["boom"].ok, played["boom"].output()
    assert not played["unwired"].ok  # without the wiring nothing shows the title
