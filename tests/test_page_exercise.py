"""matrioska.kinds.web.browser beyond loading: every page exercised (inputs filled, buttons clicked), and scripted
page scenarios. One browser launch for the exercised pages, one for all the scenarios; a hung page in
each (a click that never returns, a load that never ends) must not hold up the rest.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_webcheck import _chromium, _page

from matrioska.kinds.web.browser import (
    PageResult,
    WebCheckUnavailable,
    check_pages,
    run_page_scenarios,
)
from matrioska.kinds.web.scenarios import ScenarioResult

TIMEOUT = 6.0

_ADD_FORM = '<input id="title" placeholder="Title"><button id="add-btn">Add book</button><ul id="list"></ul>'

PAGES = {
    # a book list whose Add button has no handler: the script only looks the elements up
    "silent.html": _page(_ADD_FORM + '<script src="silent.js"></script>'),
    "silent.js": "const list = document.getElementById('list');\nconst title = document.getElementById('title');\n",
    # the same page, working: Add appends an <li> with the title; the list is kept in localStorage
    "works.html": _page(_ADD_FORM + '<script src="works.js"></script>'),
    "works.js": "const list = document.getElementById('list');\nconst title = document.getElementById('title');\n"
    "const books = JSON.parse(localStorage.getItem('books') || '[]');\n"
    "function show() { list.innerHTML = ''; for (const b of books) { const li = document.createElement('li');"
    " li.textContent = b; list.appendChild(li); } }\n"
    "document.getElementById('add-btn').addEventListener('click', () => { books.push(title.value);"
    " localStorage.setItem('books', JSON.stringify(books)); show(); title.value = ''; });\nshow();\n",
    # a click that throws: the error points into the script, it is not also a silent button; and a button
    # whose name asks for no visible effect: silent, it is only a note
    "throws.html": _page(
        '<button id="save">Save</button><button id="theme">Toggle theme</button><script src="js/throws.js"></script>'
    ),
    "js/throws.js": "document.getElementById('save').onclick = function () {\n  missingFunction();\n};\n",
    # effects that are no DOM change: a field value reset (Clear), a dialog (Calculate), storage (Save),
    # and a form submitted without a script (a navigation), followed by a button that still gets clicked
    "effects.html": _page(
        '<form><input id="q" name="q"><button id="search">Search</button></form>'
        '<input id="a" type="number"><input id="when" type="date"><select id="kind"><option value="">-</option>'
        '<option value="x">X</option></select><input id="agree" type="checkbox">'
        "<button id=\"clear\" onclick=\"document.getElementById('a').value = ''\">Clear</button>"
        "<button id=\"calc\" onclick=\"alert('Total: ' + document.getElementById('a').value * 2)\">Calculate</button>"
        "<button id=\"store\" onclick=\"localStorage.setItem('k', '1')\">Save settings</button>"
        '<button id="last" onclick="this.dataset.done = document.getElementById(\'kind\').value + '
        "document.getElementById('agree').checked + document.getElementById('when').value\">Update</button>"
    ),
    # a click that never returns: noted, the page's time stays bounded
    "hang.html": _page('<button id="go" onclick="while (true) {}">Go</button><button id="add">Add</button>'),
}


@pytest.fixture(scope="module")
def exercised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PageResult]:
    chromium = _chromium()
    root = tmp_path_factory.mktemp("exercised")
    for name, text in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    pages = [name for name in PAGES if name.endswith(".html")]
    results = check_pages(root, pages, timeout=TIMEOUT, settle=0.1, chromium=chromium)
    assert [r.page for r in results] == pages
    return {r.page: r for r in results}


def test_add_button_without_handler_is_a_silent_button(exercised: dict[str, PageResult]) -> None:
    result = exercised["silent.html"]
    assert not result.ok
    assert [p.kind for p in result.problems] == ["silent_button"], result.output()
    problem = result.problems[0]
    assert problem.source == "silent.js"
    assert '"Add book" (#add-btn)' in problem.message and "with every input filled" in problem.message
    assert "changed nothing" in problem.message
    assert result.exercised == {"inputs": 1, "buttons": 1, "acted": 0}
    assert "silent_button [silent.js]" in result.output()


def test_add_button_that_appends_is_fine(exercised: dict[str, PageResult]) -> None:
    result = exercised["works.html"]
    assert result.ok, result.output()
    assert result.notes == []
    assert result.exercised == {"inputs": 1, "buttons": 1, "acted": 1}
    output = result.output()
    assert output.startswith("works.html: page loaded, no errors") and "1 button(s) clicked, 1 acted" in output


def test_click_that_throws_points_at_the_script(exercised: dict[str, PageResult]) -> None:
    result = exercised["throws.html"]
    assert [p.kind for p in result.problems] == ["pageerror"], result.output()  # no silent_button for Save
    problem = result.problems[0]
    assert problem.source == "js/throws.js"
    assert "missingFunction" in problem.message and 'while clicking the button "Save" (#save)' in problem.message
    assert result.exercised == {"inputs": 0, "buttons": 2, "acted": 0}


def test_silent_button_without_an_action_name_is_a_note(exercised: dict[str, PageResult]) -> None:
    result = exercised["throws.html"]
    assert len(result.notes) == 1 and '"Toggle theme" (#theme)' in result.notes[0], result.notes
    assert "changed nothing" in result.notes[0]
    lines = result.output().splitlines()
    assert lines[-1].startswith("- note: clicking the button") and lines[-2].startswith("- pageerror")
    # the same page without the failing button: ok, and the note is still said
    passing = PageResult("toggle.html", True, [], 0.5, result.notes, {"inputs": 0, "buttons": 1, "acted": 0})
    lines = passing.output().splitlines()
    assert lines[0].startswith("toggle.html: page loaded, no errors") and "1 button(s) clicked, 0 acted" in lines[0]
    assert lines[1] == "- note: " + result.notes[0]


def test_effects_other_than_dom_changes_count_as_acting(exercised: dict[str, PageResult]) -> None:
    result = exercised["effects.html"]
    assert result.ok, result.output()
    assert result.notes == [], result.output()
    # q, a, when, kind, agree; the five buttons, the form's Search (a reload) included
    assert result.exercised == {"inputs": 5, "buttons": 5, "acted": 5}, result.output()


def test_click_that_hangs_the_page_is_bounded(exercised: dict[str, PageResult]) -> None:
    result = exercised["hang.html"]
    assert result.duration < TIMEOUT + 10, result.duration
    assert any("stopped responding" in note and '"Go" (#go)' in note for note in result.notes), result.output()
    assert not any(p.kind == "silent_button" for p in result.problems)


def test_exercise_can_be_switched_off(tmp_path: Path) -> None:
    chromium = _chromium()
    (tmp_path / "index.html").write_text(_page('<button id="add">Add</button>'), encoding="utf-8")
    [result] = check_pages(tmp_path, ["index.html"], timeout=TIMEOUT, settle=0.1, chromium=chromium, exercise=False)
    assert result.ok and result.exercised == {} and result.notes == [], result.output()


# --- scenarios -------------------------------------------------------------------------------------------

SCENARIO_PAGES = {
    "works.html": PAGES["works.html"],
    "works.js": PAGES["works.js"],
    "silent.html": PAGES["silent.html"],
    "silent.js": PAGES["silent.js"],
    "throws.html": PAGES["throws.html"],
    "js/throws.js": PAGES["js/throws.js"],
    "loop.html": _page("<script>while (true) {}</script>"),
    "calc.html": _page('<button id="calc" onclick="alert(\'Total: \' + 6 * 7)">Calculate</button>'),
    "form.html": _page(
        '<form id="f"><input id="item"><select id="size"><option value="s">Small</option>'
        '<option value="l">Large</option></select><input type="checkbox" id="gift"></form><ul id="out"></ul>'
        "<script>document.getElementById('f').addEventListener('submit', e => { e.preventDefault();"
        " const li = document.createElement('li'); li.textContent = document.getElementById('item').value + ' / '"
        " + document.getElementById('size').value + (document.getElementById('gift').checked ? ' / gift' : '');"
        " setTimeout(() => document.getElementById('out').appendChild(li), 100); });</script>"
    ),
}

ADD_DUNE = [{"fill": "#title", "text": "Dune"}, {"click": "#add-btn"}]
SCENARIOS = [
    {"name": "add a book", "page": "works.html", "steps": ADD_DUNE, "expect_text": ["Dune"]},
    # a fresh context: the book the first scenario stored is not there
    {"name": "fresh storage", "page": "works.html", "steps": [], "expect_no_text": ["Dune"]},
    {"name": "add does nothing", "page": "silent.html", "steps": ADD_DUNE, "expect_text": ["Dune"]},
    {"name": "no such button", "page": "works.html", "steps": [{"fill": "#title", "text": "x"}, {"click": "#nope"}]},
    {"name": "bad selector", "page": "works.html", "steps": [{"click": "#[oops"}]},
    {"name": "endless loop", "page": "loop.html", "steps": [{"click": "#x"}], "timeout": 1.5},
    {"name": "alert", "page": "calc.html", "steps": [{"click": "#calc"}], "expect_text": ["total: 42"]},
    {"name": "error on click", "page": "throws.html", "steps": [{"click": "#save"}]},
    {"name": "no page", "page": "absent.html", "steps": []},
    {
        "name": "form steps",
        "page": "form.html",
        "steps": [
            {"fill": "#item", "text": "Mug"},
            {"select": "#size", "value": "Large"},
            {"check": "#gift"},
            {"press": "#item", "key": "Enter"},
            {"wait": 50},
        ],
        "expect_text": ["Mug / l / gift"],
        "expect_no_text": ["Mug / s"],
    },
]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, ScenarioResult], float]:
    chromium = _chromium()
    root = tmp_path_factory.mktemp("scenarios")
    for name, text in SCENARIO_PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    started = time.monotonic()
    results = run_page_scenarios(root, SCENARIOS, timeout=TIMEOUT, settle=0.1, chromium=chromium)
    elapsed = time.monotonic() - started
    assert [r.name for r in results] == [s["name"] for s in SCENARIOS]
    return {r.name: r for r in results}, elapsed


def test_scenario_passes_on_a_working_page(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    result = scenarios[0]["add a book"]
    assert result.ok and result.reason == "" and not result.lacks, result.output()
    assert [step["ok"] for step in result.steps] == [True, True]
    assert result.scripts == ["works.js"] and "Dune" in result.text
    assert result.output().startswith('scenario "add a book" on works.html: passed')
    assert scenarios[0]["fresh storage"].ok, scenarios[0]["fresh storage"].output()


def test_scenario_fails_when_add_does_nothing(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    result = scenarios[0]["add does nothing"]
    assert not result.ok and not result.lacks
    assert "'Dune'" in result.reason and "not found" in result.reason, result.reason
    output = result.output()
    assert "FAILED" in output and "text 'Dune' (expected): not found" in output and "page text at the end" in output


def test_scenario_with_a_missing_element_lacks_it(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    result = scenarios[0]["no such button"]
    assert not result.ok and result.lacks
    assert result.reason == "the page has no element matching '#nope' (step 2: click '#nope')"
    assert [step["ok"] for step in result.steps] == [True, False]
    bad = scenarios[0]["bad selector"]
    assert not bad.ok and bad.lacks and "'#[oops'" in bad.reason and "not valid" in bad.reason, bad.reason
    absent = scenarios[0]["no page"]
    assert not absent.ok and absent.lacks and "HTTP 404" in absent.reason, absent.reason


def test_scenario_on_a_hung_page_stops_at_its_timeout(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    results, elapsed = scenarios
    result = results["endless loop"]
    assert not result.ok and "did not load within 1.5 s" in result.reason, result.reason
    # bounded by its timeout (a hang would never end); generous for a loaded CI machine
    assert result.duration < 15, result.duration
    assert result.steps[0]["ok"] is None and "not run" in result.output()
    assert elapsed < 90, elapsed


def test_dialog_text_counts_as_shown(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    result = scenarios[0]["alert"]
    assert result.ok, result.output()


def test_scenario_error_fails_and_points_at_the_script(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    result = scenarios[0]["error on click"]
    assert not result.ok and not result.lacks
    assert [p.kind for p in result.problems] == ["pageerror"]
    assert result.problems[0].source == "js/throws.js"
    assert "(while step 1: click '#save')" in result.problems[0].message
    assert "missingFunction" in result.reason, result.reason


def test_fill_select_check_press_wait(scenarios: tuple[dict[str, ScenarioResult], float]) -> None:
    result = scenarios[0]["form steps"]
    assert result.ok, result.output()


def test_scenarios_without_chromium_raise_one_line(tmp_path: Path) -> None:
    with pytest.raises(WebCheckUnavailable) as caught:
        run_page_scenarios(tmp_path, [], chromium="/nonexistent")
    assert "\n" not in str(caught.value) and "/nonexistent" in str(caught.value)
