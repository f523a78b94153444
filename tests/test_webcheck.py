"""matrioska.kinds.web.browser: generated web pages opened in headless Chromium, offline.

One browser launch checks a project of small pages, one page per kind of problem (an endless loop
included, so a hung page must not hold up the others); the rest needs no browser.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from matrioska.kinds.web.browser import (
    PageResult,
    WebCheckUnavailable,
    check_pages,
    find_chromium,
)
from matrioska.kinds.web.lookups import looked_up_ids
from matrioska.kinds.web.watch import PageProblem

TIMEOUT = 5.0


def _chromium() -> str:
    """Debian's chromium and playwright, or a skip (outside CI only: in CI they must be there)."""
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else find_chromium()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None or not os.path.exists(path):
        if os.environ.get("CI"):
            pytest.fail("CI must provide Chromium and playwright (apt-get install chromium; pip install playwright)")
        pytest.skip("no Chromium or playwright here (apt-get install chromium; pip install playwright)")
    return path


def _page(body: str, head: str = "") -> str:
    return f'<!doctype html>\n<html><head><meta charset="utf-8"><title>t</title>{head}</head>\n<body>{body}</body></html>\n'


PAGES = {
    # 1. a correct page: stylesheet, script, the element it looks up exists
    "index.html": _page(
        '<h1 id="title">Hello</h1><div id="app"></div><script src="app.js"></script>',
        head='<link rel="stylesheet" href="style.css">',
    ),
    "app.js": "document.getElementById('app').textContent = 'ready';\n"
    "document.querySelector('#title').classList.add('big');\n",
    "style.css": "body { font-family: sans-serif; }\n.big { font-size: 2em; }\n",
    # 2. an uncaught ReferenceError while the script loads (in a subfolder: the source is the script's path)
    "error.html": _page('<div id="app"></div><script src="js/app.js"></script>'),
    "js/app.js": "document.getElementById('app');\nundefinedThing();\n",
    # 3. console.error
    "console.html": _page('<script>console.log("fine"); console.error("boom");</script>'),
    # 4. a script the project does not have
    "missing.html": _page('<script src="missing.js"></script>'),
    # 5. a CDN: must be aborted, not fetched (and not waited for)
    "cdn.html": _page('<p id="p">x</p>', head='<script src="https://cdn.example.com/lib.js"></script>'),
    # 6. a lookup of an element the page lacks
    "lookup.html": _page('<div id="here"></div><script src="lookup.js"></script>'),
    "lookup.js": "document.getElementById('here');\n"
    "const nope = document.getElementById('nope');\n"
    "// document.getElementById('commented-out') is not a lookup\n",
    # 7. a script that creates the element it looks up
    "dynamic.html": _page('<script src="dynamic.js"></script>'),
    "dynamic.js": "const el = document.createElement('div');\nel.id = 'dyn';\ndocument.body.appendChild(el);\n"
    "document.getElementById('dyn').textContent = 'made here';\n",
    # 8. an endless loop: the load never finishes
    "loop.html": _page("<script>while (true) {}</script>"),
}
# the loop sits between other pages: the page after it must still be checked normally
ORDER = [
    "index.html",
    "error.html",
    "console.html",
    "loop.html",
    "missing.html",
    "cdn.html",
    "lookup.html",
    "dynamic.html",
]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, PageResult], float]:
    chromium = _chromium()
    root = tmp_path_factory.mktemp("webproject")
    for name, text in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    started = time.monotonic()
    results = check_pages(root, ORDER, timeout=TIMEOUT, settle=0.3, chromium=chromium)
    elapsed = time.monotonic() - started
    assert [r.page for r in results] == ORDER
    return {r.page: r for r in results}, elapsed


def _kinds(result: PageResult) -> list[str]:
    return [p.kind for p in result.problems]


def test_correct_page_is_ok(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["index.html"]
    assert result.ok, result.output()
    assert result.problems == []
    assert "page loaded, no errors" in result.output()
    assert result.duration > 0


def test_reference_error_points_at_the_script(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["error.html"]
    assert not result.ok
    errors = [p for p in result.problems if p.kind == "pageerror"]
    assert len(errors) == 1, result.output()
    assert "undefinedThing" in errors[0].message and "ReferenceError" in errors[0].message
    assert errors[0].source == "js/app.js"
    assert "\n" not in errors[0].message


def test_console_error_is_reported(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["console.html"]
    assert result.problems == [PageProblem("console", "boom", "console.html")], result.output()


def test_missing_script_is_a_load_problem(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["missing.html"]
    assert _kinds(result) == ["load"], result.output()  # Chromium's own "Failed to load resource" line is folded in
    assert "missing.js" in result.problems[0].message
    assert result.problems[0].source == "missing.html"


def test_other_origins_are_aborted_and_reported(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["cdn.html"]
    assert _kinds(result) == ["load"], result.output()
    problem = result.problems[0]
    assert "https://cdn.example.com/lib.js" in problem.message and "aborted" in problem.message
    assert problem.source == "cdn.html"
    # aborted at once by the router, not left to a DNS or connect timeout (Chromium is another process: the
    # conftest's socket guard does not reach it, the router and --host-resolver-rules do)
    assert result.duration < 3, result.duration


def test_lookup_of_an_absent_id(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["lookup.html"]
    assert _kinds(result) == ["missing_id"], result.output()
    problem = result.problems[0]
    assert problem.source == "lookup.js"
    assert "'nope'" in problem.message and "lookup.js" in problem.message


def test_element_created_by_the_script_is_not_missing(checked: tuple[dict[str, PageResult], float]) -> None:
    result = checked[0]["dynamic.html"]
    assert result.ok, result.output()


def test_endless_loop_does_not_hang_the_check(checked: tuple[dict[str, PageResult], float]) -> None:
    results, elapsed = checked
    result = results["loop.html"]
    assert not result.ok
    assert set(_kinds(result)) <= {"load", "pageerror"} and result.problems, result.output()
    assert any("did not load within 5 s" in p.message for p in result.problems)
    assert result.duration < TIMEOUT + 5, result.duration
    # the whole project (one browser launch, the hung page included) stays well under a minute
    assert elapsed < TIMEOUT + 30, elapsed


def test_unavailable_chromium_raises_one_line(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(_page("<p>x</p>"), encoding="utf-8")
    with pytest.raises(WebCheckUnavailable) as caught:
        check_pages(tmp_path, ["index.html"], chromium="/nonexistent")
    message = str(caught.value)
    assert "\n" not in message and "/nonexistent" in message
    assert "chromium" in message.lower()


# --- no browser needed ---------------------------------------------------------------------------------


def test_looked_up_ids() -> None:
    code = """
    const a = document.getElementById("a");
    const b = document.querySelector('#b'), c = document.querySelectorAll(`#c`);
    $('#d').hide(); $('.cls'); document.querySelector('#e .child'); document.querySelector('div#f');
    /* document.getElementById('in-block-comment') */ // $('#in-line-comment')
    const url = "http://example.com/#x"; document.getElementById('a');
    const made = document.createElement('p'); made.id = 'made'; document.getElementById('made');
    other.setAttribute('id', "attr"); document.querySelector('#attr');
    root.innerHTML = '<span id="tmpl"></span>'; document.getElementById('tmpl');
    document.getElementById(name);
    """
    assert looked_up_ids(code) == ["a", "b", "c", "d"]


def test_output_is_one_line_per_problem_and_trimmed() -> None:
    ok = PageResult("index.html", True, [], 0.2)
    assert ok.output().startswith("index.html: page loaded, no errors")
    problems = [PageProblem("console", "x" * 290, "app.js") for _ in range(40)]
    bad = PageResult("index.html", False, problems, 1.0)
    text = bad.output()
    assert len(text) <= 4000
    assert text.splitlines()[0].startswith("index.html: 40 problem(s)")
    assert text.splitlines()[1].startswith("- console [app.js]: xxx")


def test_find_chromium_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATRIOSKA_CHROMIUM", "/opt/my/chrome")
    assert find_chromium() == "/opt/my/chrome"
    monkeypatch.delenv("MATRIOSKA_CHROMIUM")
    monkeypatch.setenv("PATH", "/nonexistent-bin")
    assert find_chromium() is None
