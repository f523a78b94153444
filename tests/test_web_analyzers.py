"""matrioska.kinds.web.fixes: page scripts fixed without the model (issue 34). `import`/`export`
in a script a page loads as a classic script: the tag made a module, or the `export` keywords
dropped when the page needs the script's names as globals; a library global without its script
named as a problem; the classic scripts' declared names given to oxlint as globals. The fixed
pages are opened in headless Chromium (one launch for the loads, one for the clicks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_webcheck import _chromium, _page

from matrioska.kinds import analyzers
from matrioska.kinds.analyzers import Finding, oxlint
from matrioska.kinds.web.browser import PageResult, check_pages, run_page_scenarios
from matrioska.kinds.web.fixes import declared_globals, fix_web, library_problem, script_problems
from matrioska.kinds.web.scenarios import ScenarioResult

TIMEOUT = 6.0

MODULE_PAGE = _page('<p id="out"></p>\n<script src="app.js"></script>')
MODULE_JS = "export function greet() {\n  return 'Hello from a module';\n}\n"
MODULE_JS += "document.getElementById('out').textContent = greet();\n"

CLICK_PAGE = _page('<button id="go" onclick="greet()">Greet</button><p id="out"></p>\n<script src="app.js"></script>')
CLICK_JS = "export function greet() {\n  document.getElementById('out').textContent = 'Hello, clicked';\n}\n"
CLICK_JS += "export const GREETING = 'Hello';\nexport { greet as hello };\n"


def test_export_in_a_classic_script_makes_its_tag_a_module() -> None:
    files, fixes = fix_web({"index.html": MODULE_PAGE, "app.js": MODULE_JS}, [], {"index.html": MODULE_PAGE})
    assert '<script type="module" src="app.js"></script>' in files["index.html"]
    assert files["app.js"] == MODULE_JS
    assert [f.render() for f in fixes] == ['index.html:4 `<script src="app.js">` in index.html made type="module"']
    assert fixes[0].rule == "export in a classic script"
    assert script_problems(files, {"index.html": MODULE_PAGE}) == []


def test_a_handler_using_the_export_drops_the_keyword_instead() -> None:
    files, fixes = fix_web({"index.html": CLICK_PAGE, "app.js": CLICK_JS}, [], {})
    assert files["index.html"] == CLICK_PAGE
    assert files["app.js"] == (
        "function greet() {\n  document.getElementById('out').textContent = 'Hello, clicked';\n}\n"
        "const GREETING = 'Hello';\n"
    )
    assert [f.line for f in fixes] == [1, 4, 5]
    assert fixes[0].description.startswith("`export function greet` became `function greet`")
    assert "index.html uses `greet` from it as a global" in fixes[0].description
    assert "removed `export { greet as hello };`" in fixes[2].description


def test_a_handler_in_markup_the_script_writes_counts_as_a_use() -> None:
    page = _page('<ul id="list"></ul>\n<script src="list.js"></script>')
    code = (
        "export function remove(i) { items.splice(i, 1); show(); }\nconst items = ['a'];\n"
        "function show() { document.getElementById('list').innerHTML = items.map((t, i) =>"
        ' `<li>${t}<button onclick="remove(${i})">x</button></li>`).join(""); }\nshow();\n'
    )
    files, fixes = fix_web({"index.html": page, "list.js": code}, [], {})
    assert files["index.html"] == page and files["list.js"].startswith("function remove(i)")
    assert len(fixes) == 1 and fixes[0].path == "list.js"


def test_an_undefined_name_elsewhere_counts_as_a_use_and_an_import_is_left() -> None:
    files = {"index.html": MODULE_PAGE, "app.js": MODULE_JS}
    elsewhere = Finding("oxlint", "other.js", 3, 1, "no-undef", "'greet' is not defined.", True, "greet")
    fixed, fixes = fix_web(files, [elsewhere], {})
    assert fixed["index.html"] == MODULE_PAGE and fixed["app.js"].startswith("function greet()")
    assert [f.path for f in fixes] == ["app.js"]
    # an import can be neither dropped nor made a module the handler can reach: left, and named
    code = "import { shout } from './shout.js';\nexport function greet() { shout(); }\n"
    files = {"index.html": CLICK_PAGE, "app.js": code}
    assert fix_web(files, [], {}) == (files, [])
    (problem,) = script_problems(files, {})
    assert "index.html uses `greet` from it as a global, and a module's names are not globals" in problem


def test_a_page_of_another_module_is_left_and_named() -> None:
    # the export alone: dropped in the script, the page (not this module's) untouched
    files, fixes = fix_web({"app.js": MODULE_JS}, [], {"index.html": MODULE_PAGE})
    assert set(files) == {"app.js"} and files["app.js"].startswith("function greet()")
    assert [f.path for f in fixes] == ["app.js"] and "index.html belongs to another module" in fixes[0].description
    # an import cannot be dropped: the script is left, and the problem names the page
    code = "import { greet } from './greet.js';\ndocument.getElementById('out').textContent = greet();\n"
    files, fixes = fix_web({"app.js": code}, [], {"index.html": MODULE_PAGE})
    assert files == {"app.js": code} and fixes == []
    (problem,) = script_problems({"app.js": code}, {"index.html": MODULE_PAGE})
    assert problem.startswith("app.js:1 has `import`, but index.html loads it as a classic script")
    assert (
        "Cannot use import statement outside a module" in problem and "index.html belongs to another module" in problem
    )


def test_scripts_in_folders_inline_modules_and_typed_tags() -> None:
    page = (
        "<html><body>\n<script type='text/javascript' src='../js/app.js?v=2'></script>\n"
        "<script>\n  import { greet } from '../js/app.js';\n  greet();\n</script>\n"
        '<script src="https://example.com/lib.js"></script>\n</body></html>\n'
    )
    files, fixes = fix_web({"pages/index.html": page, "js/app.js": "export function greet() {}\n"}, [], {})
    assert files["pages/index.html"].count('type="module"') == 2
    assert "<script type=\"module\" src='../js/app.js?v=2'>" in files["pages/index.html"]
    assert [(f.path, f.line) for f in fixes] == [("pages/index.html", 2), ("pages/index.html", 3)]
    assert "the inline `<script>` at line 3" in fixes[1].description
    assert fixes[1].rule == "import in a classic script"
    # a classic script without module syntax, a module tag, an export in a string: nothing to do
    quiet = {
        "index.html": _page('<script src="a.js"></script><script type="module" src="m.js"></script>'),
        "a.js": "const help = `\nexport function not_code() {}\n`;\n",
        "m.js": "export const x = 1;\n",
    }
    assert fix_web(quiet, [], {}) == (quiet, [])
    assert script_problems(quiet, {}) == []


def test_a_library_global_without_its_script_is_named() -> None:
    analysis = oxlint({"app.js": "const x = 1;\n$('#box').hide();\nnotDefinedHere(x);\n"})
    if analysis.notes:
        pytest.skip(analysis.notes[0])
    undefined = [f for f in analysis.findings if f.undefined]
    assert [f.name for f in undefined] == ["$", "notDefinedHere"]
    problem = library_problem(undefined[0])
    assert problem is not None and problem.startswith("app.js:2 uses jQuery's `$`, but no page loads jQuery")
    assert "never a CDN" in problem and "document.querySelector" in problem
    assert library_problem(undefined[1]) is None
    lodash = Finding("oxlint", "js/util.js", 7, 3, "no-undef", "'_' is not defined.", True, "_")
    assert "lodash" in (library_problem(lodash) or "")
    assert library_problem(Finding("ruff", "a.py", 1, 1, "F821", "Undefined name `_`", True, "_")) is None


def test_declared_globals_let_one_script_call_another() -> None:
    if analyzers.tool_path("oxlint") is None:
        pytest.skip("oxlint is not installed here")
    files = {
        "index.html": _page(
            '<script>\n  function fromPage() {}\n</script><script src="a.js"></script>'
            '<script src="b.js"></script><script type="module" src="m.js"></script>'
        ),
        "a.js": "function helper(n) {\n  return n * 2;\n}\nconst LIMIT = 3;\nwindow.shared = 1;\n",
        "b.js": "console.log(helper(LIMIT), fromPage(), shared, moduleOnly(), exported());\n",
        "m.js": "function moduleOnly() {}\nmoduleOnly();\n",
        "e.js": "export function exported() {}\n",
        "server.js": "const fs = require('fs');\nfunction nodeOnly() { return fs; }\nnodeOnly();\n",
    }
    names = declared_globals(files)
    assert {"helper", "LIMIT", "shared", "fromPage"} <= names
    assert not names & {"moduleOnly", "exported", "nodeOnly", "fs"}
    before = {f.name for f in oxlint(files).findings if f.undefined and f.path == "b.js"}
    after = {f.name for f in oxlint(files, names).findings if f.undefined and f.path == "b.js"}
    assert {"helper", "LIMIT", "fromPage"} <= before
    assert after == {"moduleOnly", "exported"}


# -- in Chromium ---------------------------------------------------------------------------------


def _project() -> dict[str, str]:
    """Each case in a folder of its own: the page as written, as fixed, and the wrong fix."""
    module_fixed, _ = fix_web({"index.html": MODULE_PAGE, "app.js": MODULE_JS}, [], {})
    click_fixed, _ = fix_web({"index.html": CLICK_PAGE, "app.js": CLICK_JS}, [], {})
    wrong = CLICK_PAGE.replace('<script src="app.js">', '<script type="module" src="app.js">')
    return {
        "written/index.html": MODULE_PAGE,
        "written/app.js": MODULE_JS,
        **{f"module/{path}": text for path, text in module_fixed.items()},
        **{f"dropped/{path}": text for path, text in click_fixed.items()},
        "wrong/index.html": wrong,
        "wrong/app.js": CLICK_JS,
    }


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, PageResult], dict[str, ScenarioResult]]:
    chromium = _chromium()
    root: Path = tmp_path_factory.mktemp("webfixes")
    for name, text in _project().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    pages = ["written/index.html", "module/index.html", "dropped/index.html", "wrong/index.html"]
    loaded = check_pages(root, pages, timeout=TIMEOUT, settle=0.2, chromium=chromium)
    click = [{"click": "#go"}]
    scenarios = [
        {"name": "dropped", "page": "dropped/index.html", "steps": click, "expect_text": ["Hello, clicked"]},
        {"name": "wrong", "page": "wrong/index.html", "steps": click, "expect_text": ["Hello, clicked"]},
    ]
    played = run_page_scenarios(root, scenarios, timeout=TIMEOUT, settle=0.1, chromium=chromium)
    return {r.page: r for r in loaded}, {r.name: r for r in played}


def test_the_page_as_written_raises_a_syntax_error(opened: tuple[dict[str, PageResult], dict]) -> None:
    result = opened[0]["written/index.html"]
    assert not result.ok
    assert any("SyntaxError" in p.message and "export" in p.message for p in result.problems), result.output()


def test_the_module_tag_loads_without_a_syntax_error(opened: tuple[dict[str, PageResult], dict]) -> None:
    result = opened[0]["module/index.html"]
    assert result.ok, result.output()


def test_the_dropped_export_keeps_the_click_working(opened: tuple[dict[str, PageResult], dict]) -> None:
    assert opened[0]["dropped/index.html"].ok, opened[0]["dropped/index.html"].output()
    played = opened[1]["dropped"]
    assert played.ok, played.output()
    # the tag made a module instead would load, but its click finds no `greet`
    wrong = opened[1]["wrong"]
    assert not wrong.ok and "Hello, clicked" not in wrong.text
    assert any("greet" in p.message for p in opened[0]["wrong/index.html"].problems)
