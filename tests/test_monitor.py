"""The offline web monitor: end to end in headless Chromium, injection, access token."""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, default_responder, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator, RunFailedError
from matrioska.monitor import Driver, create_app, serve_in_thread
from matrioska.plan.parsing import UPDATE_MARKER

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TASK = "Create a library management system"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_chromium(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def slow_model(delay: float) -> ScriptedChatModel:
    base = default_responder()

    def respond(messages: list[BaseMessage]) -> str:
        if module_id_of(messages):
            time.sleep(delay)
        return base(messages)

    return ScriptedChatModel(respond=respond)


@pytest.mark.slow
def test_page_follows_a_run_approves_its_plan_and_shows_an_artifact(tmp_path: Path, browser) -> None:
    orchestrator = MatrioskaOrchestrator(slow_model(0.6), tmp_path, interrupt_after_architect=True)
    waiting = orchestrator.run(TASK, thread_id="web-1")
    assert waiting["pending_review"]
    port = _port()
    server, _ = serve_in_thread(create_app(tmp_path, driver=Driver(orchestrator)), "127.0.0.1", port)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#review:not([hidden])")
        assert page.locator('g[data-module="html"]').get_attribute("data-status") == "waiting"
        assert page.text_content("#run-status") == "review"
        page.click("#approve")
        # The graph updates as modules finish (server-sent events), without reloading the page.
        page.wait_for_selector('g[data-module="html"][data-status="done"]', timeout=20_000)
        statuses = {m: page.locator(f'g[data-module="{m}"]').get_attribute("data-status") for m in ("css", "auth")}
        assert "waiting" in statuses.values() or "running" in statuses.values()
        page.wait_for_selector('g[data-module="auth"][data-status="done"]', timeout=20_000)
        page.wait_for_selector("#run-status >> text='finished'", timeout=20_000)  # (CSP: no eval)
        page.click('button[data-module="css"]')
        page.wait_for_selector("#viewer-body pre")
        assert "code of css" in page.text_content("#viewer-body pre:last-child")
        assert "index_css.txt" in page.text_content("#viewer-body pre.interface")  # its interface, above the code
        assert page.locator("#whiteboard tbody tr").count() == 6
        assert page.locator("#zip:not([hidden])").count() == 1
        # nothing runnable in this project (text files): the page says so instead of "works"
        assert page.text_content("#verdict").startswith("verdict: not verified")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "monitor.png"), full_page=True)
        assert (ARTIFACTS / "monitor.png").stat().st_size > 10_000
    finally:
        server.should_exit = True
        orchestrator.close()


def test_model_values_and_file_names_never_run_in_the_page(tmp_path: Path, browser) -> None:
    evil = "<script>window.__pwned = 1</script>"

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        update = {"element_ids": [evil, "javascript:window.__pwned=2"], "page_structure": evil}
        body = '<img src=x onerror="window.__pwned=3">' + evil
        return (
            f'"><img src=x onerror=window.__pwned=4>.html\n```html\n{body}\n```\n{UPDATE_MARKER} {json.dumps(update)}'
        )

    plan = {
        "project_name": evil,
        "goal": "javascript:alert(1)",
        "modules": [
            {
                "id": "html",
                "name": '<b onmouseover="window.__pwned=5">x</b>',
                "shared_state_writes": ["element_ids", "page_structure"],
            }
        ],
    }
    with MatrioskaOrchestrator(ScriptedChatModel(respond=respond), tmp_path, max_repairs=0) as orchestrator:
        orchestrator.run(TASK, thread_id="evil", architecture=plan)
    port = _port()
    server, _ = serve_in_thread(create_app(tmp_path), "127.0.0.1", port)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#whiteboard tbody tr")
        page.click('button[data-module="html"]')
        page.wait_for_selector("#viewer-body pre")
        for button in page.locator("button[data-file]").all():
            button.click()
        page.hover('g[data-module="html"]')
        time.sleep(0.5)
        assert page.evaluate("window.__pwned") is None
        assert evil in page.text_content("#run-title")  # shown as text
        assert evil in page.text_content("#whiteboard")
        assert page.locator('a[href^="javascript:"]').count() == 0
        assert page.locator("img").count() == 0 and page.locator("b").count() == 0
        assert page.locator("script").count() == 1  # app.js only
    finally:
        server.should_exit = True


def test_a_non_loopback_bind_needs_the_printed_token(tmp_path: Path) -> None:
    from matrioska.cli.commands import start_monitor
    from matrioska.cli.parser import build_parser

    with MatrioskaOrchestrator(ScriptedChatModel(respond=default_responder()), tmp_path) as orchestrator:
        orchestrator.run(TASK, thread_id="t")
    args = build_parser().parse_args(["serve", "--out", str(tmp_path), "--host", "0.0.0.0", "--port", str(_port())])
    out = io.StringIO()
    server = start_monitor(args, out, Driver())
    try:
        token = out.getvalue().split("access token (every request needs it): ")[1].split()[0]
        base = f"http://127.0.0.1:{args.port}"
        for path in ("/", "/api/runs", "/api/runs/t", "/static/app.js", "/api/zip"):
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(base + path)
            assert denied.value.code == 401
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/api/runs?token=wrong")
        runs = json.loads(urllib.request.urlopen(f"{base}/api/runs?token={token}").read())
        assert [r["thread_id"] for r in runs] == ["t"] and runs[0]["status"] == "finished"
        request = urllib.request.Request(f"{base}/api/runs/t", headers={"Authorization": f"Bearer {token}"})
        assert json.loads(urllib.request.urlopen(request).read())["modules"]
    finally:
        server.should_exit = True


def test_a_crashed_run_shows_as_stopped_and_the_api_survives(tmp_path: Path) -> None:
    from scripted import flaky
    from starlette.testclient import TestClient

    with MatrioskaOrchestrator(flaky({"css": [ValueError("boom")]}), tmp_path) as orchestrator:
        with pytest.raises(RunFailedError):
            orchestrator.run(TASK, thread_id="crash")
    with TestClient(create_app(tmp_path)) as client:
        run = client.get("/api/runs/crash").json()
        assert run["status"] == "stopped"
        assert {m["id"]: m["status"] for m in run["modules"]} == {"html": "done", "css": "failed", "auth": "waiting"}
        assert client.post("/api/runs/crash/resume").status_code == 403  # no model to resume with
        assert client.post("/api/runs/crash/review", json={"action": "approve"}).status_code == 409
        assert client.get("/api/runs/nope").status_code == 404
        headers = client.get("/").headers
        assert "script-src 'self'" in headers["content-security-policy"]


def test_run_with_serve_prints_the_address_and_takes_the_review_from_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matrioska import cli

    monkeypatch.setattr(
        "matrioska.cli.commands.load_model", lambda args: (ScriptedChatModel(respond=default_responder()), {})
    )
    port = _port()
    out, err = io.StringIO(), io.StringIO()
    argv = ["run", TASK, "--out", str(tmp_path), "--review", "--serve", "--port", str(port), "--thread", "s1"]
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(cli.main(argv, stdout=out, stderr=err)))
    worker.start()
    deadline = time.monotonic() + 30
    while "waiting for the plan review" not in out.getvalue():
        assert time.monotonic() < deadline and worker.is_alive(), out.getvalue() + err.getvalue()
        time.sleep(0.1)
    assert f"monitor: http://127.0.0.1:{port}/" in out.getvalue()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/runs/s1/review",
        data=json.dumps({"action": "approve"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    assert json.loads(urllib.request.urlopen(request).read())["status"] == "sent to the running command"
    worker.join(timeout=30)
    assert result == [0], err.getvalue()
    assert "FINAL RESULT" in out.getvalue()


def test_a_module_shows_its_candidates_and_the_rejected_ones_text(tmp_path: Path, browser) -> None:
    from matrioska.monitor.server import Reader

    with MatrioskaOrchestrator(ScriptedChatModel(respond=default_responder()), tmp_path) as orchestrator:
        orchestrator.run(TASK, thread_id="best")
    evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned = 2</script>'
    rejected = f"index_html.txt\n```text\nrejected draft {evil}\n```"
    candidates = [
        {"attempt": 0, "number": 1, "problems": 2, "problem_list": ["the old files", "x"], "checked": False,
         "checks": [], "kept": False, "chars": 30, "artifact": "index_html.txt\n```text\nthe old files\n```"},
        {"attempt": 1, "number": 1, "problems": 1, "problem_list": [f"broken {evil}"], "checked": True,
         "checks": [{"command": "python -m pytest", "ok": False}], "kept": False, "chars": len(rejected),
         "artifact": rejected},
        {"attempt": 1, "number": 2, "problems": 0, "problem_list": [], "checked": True,
         "checks": [{"command": "python -m pytest", "ok": True}], "kept": True, "chars": 40, "artifact": "kept"},
    ]  # fmt: skip
    reader = Reader(tmp_path)
    try:
        report = reader.snapshot("best").values["module_reports"]["html"]
        line = "2 candidates: [1, 0] problems, kept #2"
        update = {"html": {**report, "samples": 2, "candidates": candidates, "candidates_line": line}}
        reader.graph.update_state({"configurable": {"thread_id": "best"}}, {"module_reports": update})
    finally:
        reader.close()
    port = _port()
    server, _ = serve_in_thread(create_app(tmp_path), "127.0.0.1", port)
    try:
        base = f"http://127.0.0.1:{port}/api/runs/best"
        modules = {m["id"]: m for m in json.loads(urllib.request.urlopen(base).read())["modules"]}
        assert modules["html"]["samples"] == 2 and modules["html"]["candidates_line"] == line
        assert [(c["attempt"], c["number"], c["kept"]) for c in modules["html"]["candidates"]] == [
            (0, 1, False),
            (1, 1, False),
            (1, 2, True),
        ]
        assert "artifact" not in modules["html"]["candidates"][0]  # the run's JSON stays small
        assert modules["css"]["samples"] == 1 and modules["css"]["candidates"] == []  # absent: one sample
        served = json.loads(urllib.request.urlopen(f"{base}/artifacts/html").read())
        assert served["candidates"][1]["artifact"] == rejected and served["candidates_line"] == line

        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector('button[data-module="html"]')
        page.click('button[data-module="html"]')
        page.wait_for_selector("#viewer-body .candidates-table")
        assert page.text_content("#viewer-body .candidates-line") == line
        rows = page.locator("#viewer-body .candidates-table tbody tr")
        assert rows.count() == 3
        assert "kept" in rows.nth(2).text_content() and "kept" not in rows.nth(1).text_content()
        assert "broken" in rows.nth(1).text_content() and "FAILED" in rows.nth(1).text_content()
        assert "previous files" in rows.nth(0).text_content()
        # the rejected candidates' text, one click away; the kept one is the artifact below
        details = page.locator('#viewer-body details.candidate[data-attempt="1"][data-number="1"]')
        assert page.locator("#viewer-body details.candidate").count() == 2
        details.locator("summary").click()
        assert evil in details.locator("pre").text_content()  # shown as text, never run
        page.click('g[data-module="css"]')  # a module's node opens its view too
        # (a text selector: the monitor's CSP forbids the eval a wait_for_function string needs)
        page.wait_for_selector("#viewer-title >> text='artifact of css'")
        assert page.locator("#viewer-body .candidates-table").count() == 0
        time.sleep(0.3)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("img").count() == 0 and page.locator("script").count() == 1
    finally:
        server.should_exit = True


@pytest.mark.slow
def test_the_run_page_says_which_of_the_three_verdicts_the_run_reached(tmp_path: Path, browser) -> None:
    with MatrioskaOrchestrator(ScriptedChatModel(respond=default_responder()), tmp_path) as orchestrator:
        state = orchestrator.run(TASK, thread_id="verdict")
    word = state["verification"]["verdict"]
    assert word in ("works", "does not work", "runs, not checked", "not verified")
    port = _port()
    server, _ = serve_in_thread(create_app(tmp_path), "127.0.0.1", port)
    try:
        run = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs/verdict").read())
        assert run["verification"]["verdict"] == word
        assert run["verification"]["evidence"] == state["verification"]["evidence"]
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector(f'#verdict[data-verdict="{word}"]')
        assert f"verdict: {word}" in (page.text_content("#verdict") or "")
    finally:
        server.should_exit = True
