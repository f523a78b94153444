"""Open the HTML pages of a generated web project in headless Chromium and report what goes wrong at run
time: uncaught exceptions, `console.error` calls, project files that fail to load, requests to other
origins (the page must work offline, so they are aborted and reported), and element ids that the page's
scripts look up but the live DOM lacks. The project is untrusted: it is served from a throwaway
loopback-only HTTP server, in a fresh browser context, and nothing it asks for beyond that server leaves
the machine. Playwright is imported only when a check runs; without it or without a Chromium executable,
`check_pages` raises `WebCheckUnavailable` so that callers can skip the check with a one-line note.

After a page loads, `check_pages` also exercises it: it fills every visible input and clicks every visible
button once, and a button named for an action ("Add", "Save", "Calculate"...) whose click changes nothing
at all is reported as a `silent_button` problem. `run_page_scenarios` plays scripted user scenarios (fill,
click, press...) and checks the texts the page shows afterwards.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from matrioska.kinds.web.javascript import id_lookups, strip_comments

__all__ = [
    "PageProblem",
    "PageResult",
    "ScenarioResult",
    "WebCheckUnavailable",
    "check_pages",
    "find_chromium",
    "looked_up_ids",
    "run_page_scenarios",
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces: no host name resolves except the loopback server's, so nothing the router does not
    # see (preconnect, DNS prefetch) can reach the network either.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
MESSAGE_LIMIT = 300
OUTPUT_LIMIT = 4000
MAX_PROBLEMS = 50  # per page; a script logging an error in a loop must not drown the report

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
_JS_TYPES = ("", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript")


class WebCheckUnavailable(Exception):
    """Playwright or Chromium is missing (or Chromium does not start): the message is one line saying what
    was skipped and how to enable it."""


@dataclass
class PageProblem:
    kind: str  # "pageerror" | "console" | "load" | "missing_id" | "silent_button"
    message: str  # one line, at most ~300 characters
    source: str | None  # project-relative path of the file the problem points into, or None


@dataclass
class PageResult:
    page: str  # project-relative path of the page, e.g. "index.html"
    ok: bool
    problems: list[PageProblem] = field(default_factory=list)
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the exercise saw that is worth a look, not a failure
    exercised: dict[str, int] = field(default_factory=dict)  # {"inputs": n, "buttons": n, "acted": n}

    def output(self) -> str:
        """A human-readable report: a header line, then one line per problem, then one per note."""
        exercised = ""
        if self.exercised:
            counts = self.exercised
            exercised = (
                f"; exercised: {counts.get('inputs', 0)} input(s) filled, {counts.get('buttons', 0)} button(s)"
                f" clicked, {counts.get('acted', 0)} acted"
            )
        if self.ok:
            lines = [f"{self.page}: page loaded, no errors ({self.duration:.1f} s){exercised}"]
        else:
            lines = [f"{self.page}: {len(self.problems)} problem(s) ({self.duration:.1f} s){exercised}"]
        for problem in self.problems:
            where = f" [{problem.source}]" if problem.source else ""
            lines.append(f"- {problem.kind}{where}: {problem.message}")
        lines.extend(f"- note: {note}" for note in self.notes)
        return _trim_report("\n".join(lines))


@dataclass
class ScenarioResult:
    """One scripted scenario played on one page (see `run_page_scenarios`)."""

    name: str
    page: str  # project-relative path of the page
    ok: bool
    reason: str = ""  # one line: why the scenario failed; "" when ok
    steps: list[dict[str, Any]] = field(default_factory=list)  # each step as given, plus "ok" and "detail"
    problems: list[PageProblem] = field(default_factory=list)  # page errors, console errors, load problems
    scripts: list[str] = field(default_factory=list)  # same-origin scripts the page loaded
    lacks: bool = False  # the page lacks what the scenario asks for (no such element, no such page)
    duration: float = 0.0
    text: str = ""  # the start of the page's text at the end (document.body.innerText)
    expectations: list[dict[str, Any]] = field(default_factory=list)  # {"text", "expected", "found", "ok"}

    def output(self) -> str:
        """A human-readable report: the verdict, each step, each expected text, the problems, and the text
        the page showed when something failed."""
        verdict = "passed" if self.ok else f"FAILED: {self.reason}"
        lines = [f'scenario "{self.name}" on {self.page}: {verdict} ({self.duration:.1f} s)']
        for number, step in enumerate(self.steps, 1):
            mark = {True: "ok", False: "FAILED", None: "not run"}.get(step.get("ok"), "?")
            detail = f" - {step['detail']}" if step.get("detail") else ""
            lines.append(f"  step {number}. {_describe_step(step)}: {mark}{detail}")
        for check in self.expectations:
            wanted = "expected" if check["expected"] else "must not appear"
            seen = "found" if check["found"] else "not found"
            lines.append(f"  text '{check['text']}' ({wanted}): {seen}" + ("" if check["ok"] else "  <- FAILED"))
        for problem in self.problems:
            where = f" [{problem.source}]" if problem.source else ""
            lines.append(f"  - {problem.kind}{where}: {problem.message}")
        if not self.ok and self.text:
            lines.append("  page text at the end: " + _one_line(self.text, 1000))
        return _trim_report("\n".join(lines))


def _trim_report(text: str) -> str:
    if len(text) > OUTPUT_LIMIT:
        text = text[: OUTPUT_LIMIT - 20].rsplit("\n", 1)[0] + "\n- ... (report trimmed)"
    return text


def find_chromium() -> str | None:
    """$MATRIOSKA_CHROMIUM if set, else the first of chromium / chromium-browser / google-chrome on PATH."""
    configured = os.environ.get("MATRIOSKA_CHROMIUM")
    if configured:
        return configured
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def check_pages(
    root: str | Path,
    pages: list[str],
    *,
    timeout: float = 30.0,
    settle: float = 0.5,
    chromium: str | None = None,
    exercise: bool = True,
) -> list[PageResult]:
    """Serve `root` on 127.0.0.1 and open each of `pages` (project-relative paths) in one headless Chromium.

    With `exercise` (the default), each page that loads is then exercised: every visible input filled,
    every visible button clicked once (at most 12), within the page's `timeout`. Returns one `PageResult`
    per page, in order. Problems in a page never raise; `WebCheckUnavailable` is raised when Playwright
    or Chromium is missing or Chromium does not start.
    """
    return _off_the_loop(functools.partial(_check_pages, Path(root), list(pages), timeout, settle, chromium, exercise))


def run_page_scenarios(
    root: str | Path,
    scenarios: list[dict[str, Any]],
    *,
    timeout: float = 30.0,
    settle: float = 0.5,
    chromium: str | None = None,
) -> list[ScenarioResult]:
    """Serve `root` on 127.0.0.1 and play each scenario in a fresh browser context of one headless Chromium.

    A scenario is a dict: `name`, `page` (project-relative), `steps` (each one action: {"fill": SELECTOR,
    "text": STR}, {"click": SELECTOR}, {"press": SELECTOR, "key": "Enter"}, {"select": SELECTOR, "value":
    STR}, {"check": SELECTOR} or {"wait": MILLISECONDS}), `expect_text` and `expect_no_text` (texts that
    must, or must not, be in the page's text after the steps; compared ignoring case and runs of spaces; a
    dialog's message counts as shown), and an optional `timeout` in seconds. Returns one `ScenarioResult`
    per scenario, in order; a scenario never raises. `WebCheckUnavailable` as for `check_pages`.
    """
    return _off_the_loop(functools.partial(_run_scenarios, Path(root), list(scenarios), timeout, settle, chromium))


def _off_the_loop(run: Callable[[], Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # Playwright's sync API refuses to run inside an asyncio loop: give it a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="matrioska-webcheck") as pool:
        return pool.submit(run).result()


# --- the server ---------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Files under the served root only: no listings, nothing reached through a link that leaves root."""

    extensions_map = {  # noqa: RUF012 (the base class declares it as a plain class attribute)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html",
        ".htm": "text/html",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".wasm": "application/wasm",
    }

    def __init__(self, *args: Any, root: Path, **kwargs: Any) -> None:
        self._root = root
        super().__init__(*args, directory=str(root), **kwargs)

    def send_head(self) -> Any:
        try:
            Path(self.translate_path(self.path)).resolve().relative_to(self._root)
        except (OSError, ValueError, RuntimeError):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path: Any) -> Any:
        self.send_error(404, "File not found")
        return None

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(root: Path) -> Iterator[str]:
    """A threaded HTTP server for `root` on 127.0.0.1 (a free port), up only inside the `with`."""
    handler = functools.partial(_QuietHandler, root=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the check ----------------------------------------------------------------------------------------


def _one_line(text: object, limit: int = MESSAGE_LIMIT) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _first_line(text: object) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return _one_line(lines[0] if lines else "")


class _Page:
    """What one page's check collects; the event handlers append to it."""

    def __init__(self, page: str, origin: str, root: Path) -> None:
        self.page = page
        self.origin = origin
        self.root = root
        self.problems: list[PageProblem] = []
        self.scripts: list[str] = []  # project paths of the same-origin scripts the main frame requested
        self.dropped = 0
        self.notes: list[str] = []
        self.dialogs: list[str] = []  # the messages of the dialogs the page opened (all accepted)
        self.navigations = 0  # of the main frame, the first load included
        self.requests = 0  # fetch / XHR / EventSource requests
        self.popups: list[Any] = []
        self.during = ""  # what the check is doing (a click, a step): errors raised meanwhile say so

    def add(self, kind: str, message: str, source: str | None) -> None:
        if self.during and kind in ("pageerror", "console"):
            during = _one_line(self.during, 150)
            message = f"{_one_line(message, MESSAGE_LIMIT - len(during) - 10)} (while {during})"
        problem = PageProblem(kind, _one_line(message), source)
        if problem in self.problems:
            return
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        self.problems.append(problem)

    def reported(self) -> list[PageProblem]:
        """The problems, and a last line saying how many more were dropped, if any."""
        problems = list(self.problems)
        if self.dropped:
            problems.append(PageProblem("console", f"... and {self.dropped} more problem(s) not shown", None))
        return problems

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def project_path(self, url: str | None) -> str | None:
        """The project-relative path a same-origin URL names, else None."""
        if not url or not self.same_origin(url):
            return None
        path = unquote(urlsplit(url).path).lstrip("/")
        return path or None

    def source_of(self, url: str | None) -> str:
        return self.project_path(url) or self.page


def _frame_url(request: Any) -> str | None:
    from playwright.sync_api import Error as PlaywrightError

    try:
        return request.frame.url
    except PlaywrightError:  # requests of service workers have no frame
        return None


_STACK_URL = r"(?:{origin})/([^\s():?#]+)(?:[?#][^\s():]*)?:\d+(?::\d+)?"


def _attach(page: Any, state: _Page) -> None:
    stack_url = re.compile(_STACK_URL.format(origin=re.escape(state.origin)))

    def on_pageerror(error: Any) -> None:
        name = getattr(error, "name", "") or ""
        message = _first_line(getattr(error, "message", "") or error)
        if name and not message.startswith(name):
            message = f"{name}: {message}" if message else name
        stack = getattr(error, "stack", "") or ""
        found = stack_url.search(stack)
        state.add("pageerror", message or "uncaught exception", unquote(found.group(1)) if found else state.page)

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        # Chromium's own "Failed to load resource" lines duplicate what the network handlers report precisely.
        if text.startswith("Failed to load resource"):
            return
        location = message.location or {}
        state.add("console", _first_line(text) or "console.error()", state.source_of(location.get("url")))

    def on_request(request: Any) -> None:
        if request.resource_type in ("fetch", "xhr", "eventsource"):
            state.requests += 1
        if request.resource_type != "script" or not state.same_origin(request.url):
            return
        from playwright.sync_api import Error as PlaywrightError

        try:
            if request.frame != page.main_frame:
                return
        except PlaywrightError:  # a service worker's request
            return
        path = state.project_path(request.url)
        if path and path not in state.scripts:
            state.scripts.append(path)

    def on_requestfailed(request: Any) -> None:
        if not state.same_origin(request.url):
            return  # other origins are reported by the router
        failure = request.failure or "failed"
        if "ERR_ABORTED" in failure:  # cancelled by the page itself (navigation, closing)
            return
        path = state.project_path(request.url) or "/"
        state.add("load", f"could not load {path} ({failure})", state.source_of(_frame_url(request)))

    def on_response(response: Any) -> None:
        if response.status < 400 or not state.same_origin(response.url):
            return
        path = state.project_path(response.url) or "/"
        if path == "favicon.ico":
            return
        reason = f"HTTP {response.status}" + (" - no such file in the project" if response.status == 404 else "")
        state.add("load", f"could not load {path} ({reason})", state.source_of(_frame_url(response.request)))

    def on_dialog(dialog: Any) -> None:  # accepted (alert, confirm, prompt: its default or a sample answer)
        from playwright.sync_api import Error as PlaywrightError

        state.dialogs.append(_one_line(dialog.message))
        with contextlib.suppress(PlaywrightError):
            if dialog.type == "prompt":
                dialog.accept(dialog.default_value or "Sample 1")
            else:
                dialog.accept()

    def on_framenavigated(frame: Any) -> None:
        if frame == page.main_frame:
            state.navigations += 1

    def on_popup(popup: Any) -> None:  # closed by whoever checks the page
        state.popups.append(popup)

    page.on("pageerror", on_pageerror)
    page.on("dialog", on_dialog)
    page.on("framenavigated", on_framenavigated)
    page.on("popup", on_popup)
    page.on("console", on_console)
    page.on("request", on_request)
    page.on("requestfailed", on_requestfailed)
    page.on("response", on_response)


# --- element ids the scripts look up --------------------------------------------------------------------

_ID = r"([A-Za-z_][\w:.-]*)"
_CREATED = [
    # el.id = 'x', and id="x" in markup the script writes (innerHTML, insertAdjacentHTML, templates)
    re.compile(r"\bid\s*=\s*\\?(['\"`])" + _ID + r"\\?\1"),
    re.compile(r"setAttribute\(\s*(['\"`])id\1\s*,\s*(['\"`])" + _ID + r"\2\s*\)"),
]


def looked_up_ids(code: str) -> list[str]:
    """The element ids a script looks up and does not create itself, in order of first appearance."""
    code = strip_comments(code)
    created = {m.group(m.lastindex or 0) for pattern in _CREATED for m in pattern.finditer(code)}
    ids: list[str] = []
    for name, _, _ in id_lookups(code):
        if name not in created and name not in ids:
            ids.append(name)
    return ids


class _InlineScripts(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        values = {name.lower(): (value or "") for name, value in attrs}
        self._inside = "src" not in values and values.get("type", "").strip().lower() in _JS_TYPES
        if self._inside:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def _read(root: Path, path: str) -> str | None:
    try:
        file = (root / path).resolve()
        file.relative_to(root)
        return file.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError, RuntimeError):
        return None


def _script_lookups(state: _Page) -> dict[str, list[str]]:
    """script path -> the ids it looks up; inline scripts count under the page's own path."""
    lookups: dict[str, list[str]] = {}
    page_html = _read(state.root, state.page)
    if page_html is not None:
        parser = _InlineScripts()
        with contextlib.suppress(AssertionError, ValueError):  # what html.parser may raise on broken markup
            parser.feed(page_html)
            parser.close()
        inline = looked_up_ids("\n;\n".join(parser.scripts))
        if inline:
            lookups[state.page] = inline
    for script in state.scripts:
        code = _read(state.root, script)
        ids = looked_up_ids(code) if code is not None else []
        if ids:
            lookups[script] = ids
    return lookups


_MISSING_JS = "ids => ({missing: ids.filter(id => document.getElementById(id) === null)})"


def _check_ids(page: Any, state: _Page, wait_s: float) -> None:
    lookups = _script_lookups(state)
    if not lookups:
        return
    ids = sorted({name for names in lookups.values() for name in names})
    # wait_for_function, not evaluate: it gives up after its timeout when a script keeps the page busy.
    handle = page.wait_for_function(_MISSING_JS, arg=ids, polling=100, timeout=wait_s * 1000)
    missing = set(handle.json_value()["missing"])
    for script, names in lookups.items():
        for name in names:
            if name in missing:
                message = f"script {script} looks up element id '{name}' but the page has no such element"
                state.add("missing_id", message, script)


# --- the browser --------------------------------------------------------------------------------------


class _Current:
    """The page being checked: the context-wide router reports into it."""

    state: _Page | None = None


def _router(origin: str, current: _Current) -> Callable[[Any, Any], None]:
    def handle(route: Any, request: Any) -> None:
        url = request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == origin or parts.scheme in ("data", "blob"):
            route.continue_()
            return
        route.abort("blockedbyclient")
        if current.state is not None:
            message = f"request to another origin aborted: {url} (the page must work offline)"
            current.state.add("load", message, current.state.page)

    return handle


def _websocket_router(current: _Current) -> Callable[[Any], None]:
    def handle(ws: Any) -> None:  # never connected to a server: the page sees a socket that closes
        if current.state is not None:
            message = f"websocket aborted: {ws.url} (the page must work offline)"
            current.state.add("load", message, current.state.page)
        ws.close(code=1008, reason="offline check")

    return handle


def _check_one(
    context: Any,
    current: _Current,
    origin: str,
    root: Path,
    page_path: str,
    timeout: float,
    settle: float,
    exercise: bool,
) -> PageResult:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = time.monotonic()
    name = page_path.strip().lstrip("/")
    state = _Page(name, origin, root)
    current.state = state
    page = None
    exercised: dict[str, int] = {}
    try:
        page = context.new_page()
        _attach(page, state)
        loaded = False
        url = f"{origin}/{quote(name)}"
        try:
            page.goto(url, wait_until="load", timeout=timeout * 1000)
            loaded = True
        except PlaywrightTimeout:
            state.add("load", f"page did not load within {timeout:g} s (a script may never finish)", name)
        if loaded:
            page.wait_for_timeout(settle * 1000)
            remaining = max(2.0, timeout - (time.monotonic() - started))
            try:
                _check_ids(page, state, remaining)
            except PlaywrightTimeout:
                state.add("load", f"page stopped responding after it loaded (no answer within {remaining:.0f} s)", name)
                loaded = False
        if loaded and exercise:
            exercised = _Exercise(page, state, url, started + timeout).run()
    except Exception as exc:  # noqa: BLE001 (whatever goes wrong with one page is a problem of that page)
        state.add("load", f"checking the page failed: {_first_line(exc)}", name)
    finally:
        for popup in state.popups:
            _close(popup)
        if page is not None:
            with contextlib.suppress(PlaywrightError):
                page.close()
        current.state = None
    problems = state.reported()
    return PageResult(name, not problems, problems, time.monotonic() - started, state.notes, exercised)


def _check_pages(
    root: Path, pages: list[str], timeout: float, settle: float, chromium: str | None, exercise: bool
) -> list[PageResult]:
    with _launched(root, chromium) as (browser, origin, root):
        context, current = _new_context(browser, origin)
        try:
            return [_check_one(context, current, origin, root, page, timeout, settle, exercise) for page in pages]
        finally:
            _close(context)


@contextmanager
def _launched(root: Path, chromium: str | None) -> Iterator[tuple[Any, str, Path]]:
    """(browser, origin, resolved root): `root` served on 127.0.0.1 and one headless Chromium, both up only
    inside the `with`; `WebCheckUnavailable` when Playwright or Chromium is missing or does not start."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise WebCheckUnavailable("web check skipped: playwright is not installed (pip install playwright)") from None
    executable = chromium or find_chromium()
    if not executable:
        raise WebCheckUnavailable(
            "web check skipped: no Chromium found (apt-get install chromium, or set MATRIOSKA_CHROMIUM)"
        )
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        raise WebCheckUnavailable(
            f"web check skipped: no Chromium executable at {executable} (apt-get install chromium, "
            "or set MATRIOSKA_CHROMIUM)"
        )
    root = root.resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    with _serve(root) as origin:
        try:
            playwright = sync_playwright().start()
        except PlaywrightError as exc:
            raise WebCheckUnavailable(
                f"web check skipped: Playwright could not start ({_first_line(exc)}; pip install playwright)"
            ) from None
        try:
            try:
                browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            except PlaywrightError as exc:
                raise WebCheckUnavailable(
                    f"web check skipped: Chromium at {executable} did not start ({_first_line(exc)})"
                ) from None
            try:
                yield browser, origin, root
            finally:
                _close(browser)
        finally:
            playwright.stop()


def _new_context(browser: Any, origin: str) -> tuple[Any, _Current]:
    """A fresh browser context (its own storage) whose requests beyond `origin` are aborted and reported
    to the page that `current.state` names."""
    context = browser.new_context()
    current = _Current()
    context.route("**/*", _router(origin, current))
    if hasattr(context, "route_web_socket"):
        context.route_web_socket(re.compile(".*"), _websocket_router(current))
    return context, current


def _close(thing: Any) -> None:
    from playwright.sync_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):
        thing.close()


def _js(page: Any, function: str, arg: Any, timeout: float) -> Any:
    """`function(arg)` evaluated in the page, its result through JSON. wait_for_function, not evaluate: it
    gives up after `timeout` s when a script keeps the page busy; and the result comes back as a string,
    which the driver hands over without asking the (possibly busy) page again."""
    script = f"arg => JSON.stringify({{v: ({function})(arg)}})"
    handle = page.wait_for_function(script, arg=arg, polling=100, timeout=max(0.2, timeout) * 1000)
    return json.loads(handle.json_value()).get("v")


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


# --- exercising a page: every input filled, every button clicked ----------------------------------------

MAX_CLICKS = 12
CLICK_TIMEOUT = 2.0
CLICK_SETTLE = 0.3
FILL_SETTLE = 0.15
JS_TIMEOUT = 3.0  # for one evaluation in the page: longer means the page is stuck in a script
_BUTTONS = "button, input[type=button], input[type=submit], [role=button]"
# The words of a button whose click must visibly do something (English, a little Portuguese and Spanish).
_ACTION_WORDS = re.compile(
    r"\b(?:add|save|submit|create|calculate|compute|search|find|filter|delete|remove|clear|update|edit|register"
    r"|log ?in|sign ?in|send|generate|convert|total|adicionar|salvar|buscar|pesquisar|calcular|excluir|remover"
    r"|guardar|agregar)\b",
    re.IGNORECASE,
)

# Installed once per document: a MutationObserver counting DOM changes, counters of storage writes and
# canvas drawing, and the helpers that fill inputs, pick the next button and take a snapshot. Kept on a
# non-enumerable window property; a navigation drops it (that is how a navigation is told apart).
_TOOLKIT_JS = r"""() => {
  if (window.__matrioska) return false;
  const s = {n: 0, writes: 0, draws: 0, texts: 0, inputs: 0, fields: new WeakSet(), seen: new WeakSet(), target: null};
  Object.defineProperty(window, '__matrioska', {value: s, configurable: true, enumerable: false});
  s.observer = new MutationObserver(records => { s.n += records.length; });
  s.observer.observe(document, {childList: true, attributes: true, characterData: true, subtree: true});
  const wrap = (proto, names, key) => {
    if (!proto) return;
    for (const name of names) {
      const original = proto[name];
      if (typeof original !== 'function') continue;
      proto[name] = function (...args) { s[key] += 1; return original.apply(this, args); };
    }
  };
  wrap(window.Storage && Storage.prototype, ['setItem', 'removeItem', 'clear'], 'writes');
  wrap(window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype,
       ['fillRect', 'strokeRect', 'clearRect', 'fillText', 'strokeText', 'fill', 'stroke', 'drawImage', 'putImageData'],
       'draws');
  const visible = el => {
    if (!el.isConnected) return false;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return false;  // as Playwright sees it: an empty box is hidden
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    return el.checkVisibility ? el.checkVisibility() : true;
  };
  const SKIP = new Set(['file', 'hidden', 'submit', 'button', 'reset', 'image', 'range', 'color']);
  const FIXED = {email: 'test@example.com', url: 'https://example.com', tel: '555-0100', password: 'Sample-pass1',
                 date: '2026-01-05', time: '09:30', 'datetime-local': '2026-01-05T09:30', month: '2026-01',
                 week: '2026-W02'};
  const sample = el => {
    if (el.tagName === 'TEXTAREA') return `Sample text ${++s.texts}`;
    if (el.type === 'number') {
      let value = 3;
      const min = parseFloat(el.min), max = parseFloat(el.max);
      if (!isNaN(min) && value < min) value = min;
      if (!isNaN(max) && value > max) value = max;
      return String(value);
    }
    if (el.type in FIXED) return FIXED[el.type];
    if (el.inputMode === 'numeric' || el.inputMode === 'decimal') return '3';
    const text = `Sample ${++s.texts}`;
    return el.maxLength > 0 ? text.slice(0, el.maxLength) : text;
  };
  const setValue = (el, value) => {  // through the prototype's setter, so that frameworks see the change
    const proto = {TEXTAREA: HTMLTextAreaElement, SELECT: HTMLSelectElement}[el.tagName] || HTMLInputElement;
    const setter = Object.getOwnPropertyDescriptor(proto.prototype, 'value');
    if (setter && setter.set) setter.set.call(el, value); else el.value = value;
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true}));
  };
  s.fill = () => {  // every visible, enabled field that is empty; checkboxes and radios the first time seen
    let changed = 0;
    for (const el of document.querySelectorAll('input, textarea, select')) {
      const type = el.tagName === 'INPUT' ? el.type : el.tagName.toLowerCase();
      if (SKIP.has(type) || el.disabled || el.readOnly || !visible(el)) continue;
      if (!s.fields.has(el)) { s.fields.add(el); s.inputs += 1; }
      if (type === 'checkbox' || type === 'radio') {
        if (s.seen.has(el)) continue;
        s.seen.add(el);
        if (el.checked) continue;
        if (type === 'radio' && el.name) {
          const group = [...(el.form || document).querySelectorAll('input[type=radio]')];
          if (group.some(other => other.name === el.name && other.checked)) continue;
        }
        el.click();
        changed += 1;
      } else if (type === 'select') {
        if (el.value !== '') continue;
        const option = [...el.options].find(o => o.value !== '' && !o.disabled);
        if (option) { setValue(el, option.value); changed += 1; }
      } else if (el.value === '') {
        setValue(el, sample(el));
        changed += 1;
      }
    }
    return changed;
  };
  s.pick = done => {  // the first visible, enabled button not clicked yet, in DOM order
    s.target = null;
    for (const el of document.querySelectorAll(%BUTTONS%)) {
      if (el.disabled || el.getAttribute('aria-disabled') === 'true' || !visible(el)) continue;
      const input = el.tagName === 'INPUT';
      const info = {
        tag: el.tagName.toLowerCase(), id: el.id || '',
        text: ((input ? el.value : el.innerText || el.textContent) || '').replace(/\s+/g, ' ').trim().slice(0, 60),
        label: el.getAttribute('aria-label') || '', title: el.getAttribute('title') || '',
        value: input ? '' : el.getAttribute('value') || '', name: el.getAttribute('name') || '',
      };
      info.key = [info.tag, info.id, info.text, info.label, info.title, info.name].join('\u0001');
      if (done.includes(info.key)) continue;
      s.target = el;
      return info;
    }
    return null;
  };
  s.snap = () => {
    s.n += s.observer.takeRecords().length;  // the changes not delivered yet belong before the snapshot
    let values = '';
    for (const el of document.querySelectorAll('input, textarea, select')) {
      values += (el.type === 'checkbox' || el.type === 'radio' ? String(el.checked) : el.value) + '\u0000';
    }
    let hash = 0;
    for (let i = 0; i < values.length; i++) hash = (hash * 31 + values.charCodeAt(i)) | 0;
    const t = s.target;
    const invalid = !!(t && t.isConnected && t.form && t.type === 'submit' && !t.form.checkValidity());
    return {n: s.n, writes: s.writes, draws: s.draws, values: hash, invalid};
  };
  return true;
}""".replace("%BUTTONS%", json.dumps(_BUTTONS))
_PREPARE_JS = (
    "done => { (" + _TOOLKIT_JS + ")(); const s = window.__matrioska; const filled = s.fill();"
    " const info = s.pick(done); return {filled, inputs: s.inputs, info, before: s.snap()}; }"
)


class _Stop(Exception):
    """The exercise cannot go on (the page stopped responding, its time ran out); the note is written."""


class _Exercise:
    """Fill every input, click every button once: a click that acts not at all is a silent button."""

    def __init__(self, page: Any, state: _Page, url: str, deadline: float) -> None:
        self.page = page
        self.state = state
        self.url = url
        self.deadline = deadline
        self.counts = {"inputs": 0, "buttons": 0, "acted": 0}
        self.done: list[str] = []  # the keys of the buttons clicked (or tried)

    def run(self) -> dict[str, int]:
        """Never raises: what goes wrong is a note."""
        try:
            self._run()
        except _Stop:
            pass
        except Exception as exc:  # noqa: BLE001 (a Playwright error, a page that went away: a note at most)
            self.state.notes.append(_one_line(f"the exercise stopped early: {_first_line(exc)}"))
        finally:
            self.state.during = ""
        return self.counts

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def js(self, function: str, arg: Any = None, name: str = "", wait: float = JS_TIMEOUT) -> Any:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        wait = min(wait, self.left())
        try:
            return _js(self.page, function, arg, wait)
        except PlaywrightTimeout:
            after = f"after clicking the button {name}" if name else "while it was exercised"
            self.note(
                f"the page stopped responding {after} (no answer within {max(wait, 0.2):.1f} s): "
                "a script may never finish; the rest of the page was not exercised"
            )
            raise _Stop from None

    def note(self, text: str) -> None:
        note = _one_line(text)
        if note not in self.state.notes:
            self.state.notes.append(note)

    def _run(self) -> None:
        while True:
            if self.left() < 1.0:
                self.note(
                    f"the page's time ran out after {self.counts['buttons']} button click(s); the rest not clicked"
                )
                return
            if _without_fragment(self.page.url) != _without_fragment(self.url):
                self._back_on_the_page()  # a script took the page elsewhere after a click had settled
            # one evaluation: the toolkit installed (if a reload dropped it), inputs filled, next button picked
            prepared = self.js(_PREPARE_JS, self.done)
            self.counts["inputs"] = max(self.counts["inputs"], prepared["inputs"])
            info = prepared["info"]
            if not info:
                return
            if len(self.done) >= MAX_CLICKS:
                self.note(f"only the first {MAX_CLICKS} buttons were clicked (the page has more)")
                return
            self.done.append(info["key"])
            before = prepared["before"]
            if prepared["filled"]:  # what the page does in answer to the new input is no effect of the click
                self.page.wait_for_timeout(min(FILL_SETTLE, max(0.0, self.left())) * 1000)
                before = self.js("() => window.__matrioska.snap()")
            if self._click(info, before):
                self._back_on_the_page()

    def _back_on_the_page(self) -> None:
        """After a navigation: back to the page when it went elsewhere (a reload of the page stays)."""
        wait = max(0.5, self.left()) * 1000
        if _without_fragment(self.page.url) != _without_fragment(self.url):
            self.page.goto(self.url, wait_until="load", timeout=wait)
        else:
            self.page.wait_for_load_state("load", timeout=wait)

    def _click(self, info: dict[str, Any], before: dict[str, Any]) -> bool:
        """Click the button the toolkit picked; whether the page navigated away from its document."""
        from playwright.sync_api import Error as PlaywrightError

        state = self.state
        name = _button_name(info)
        element = self.page.wait_for_function(
            "() => window.__matrioska && window.__matrioska.target", timeout=JS_TIMEOUT * 1000
        ).as_element()
        if element is None:
            return False
        marks = (state.navigations, len(state.dialogs), len(state.popups), state.requests)
        errors = len(state.problems) + state.dropped
        state.during = f"clicking the button {name}"
        try:
            element.click(timeout=min(CLICK_TIMEOUT, max(0.2, self.left() - 0.5)) * 1000)
        except PlaywrightError as exc:
            self.js("() => 1", name=name, wait=0.5)  # a click that hung the page stops here
            self.note(f"could not click the button {name}: {_action_failure(exc)}")
            state.during = ""
            return False
        self.counts["buttons"] += 1
        self.page.wait_for_timeout(min(CLICK_SETTLE, max(0.0, self.left())) * 1000)
        after = self.js("() => window.__matrioska ? window.__matrioska.snap() : null", name=name)
        state.during = ""
        for popup in state.popups[marks[2] :]:
            _close(popup)
        acted = (
            after is None
            or marks != (state.navigations, len(state.dialogs), len(state.popups), state.requests)
            or any(after[key] != before[key] for key in ("n", "writes", "draws", "values"))
        )
        if acted:
            self.counts["acted"] += 1
            return after is None
        if len(state.problems) + state.dropped > errors:
            return False  # the click raised an error: that problem says more than "nothing happened"
        if after["invalid"]:
            self.note(f"clicking the button {name} did not submit its form: the browser found the sample input invalid")
            return False
        filled = " with every input filled" if self.counts["inputs"] else ""
        if _should_act(info):
            source = state.scripts[0] if state.scripts else state.page
            state.add(
                "silent_button",
                f"clicking the button {name}{filled} changed nothing on the page (no element added, removed or "
                "changed, no dialog, no navigation): its handler does not act",
                source,
            )
        else:
            self.note(f"clicking the button {name}{filled} changed nothing on the page")
        return False


def _button_name(info: dict[str, Any]) -> str:
    """'"Add book" (#add-btn)', '"Add book"', '#add-btn' or 'a <button> without a label'."""
    label = info.get("text") or info.get("label") or info.get("title") or info.get("value") or ""
    ident = f"#{_one_line(info['id'], 60)}" if info.get("id") else ""
    if label:
        return f'"{_one_line(label, 60)}"' + (f" ({ident})" if ident else "")
    return ident or f"<{info.get('tag', 'button')}> without a label"


def _should_act(info: dict[str, Any]) -> bool:
    """Whether a button's text, value, aria-label, title or id names an action that must show an effect."""
    for text in (info.get(key) or "" for key in ("text", "value", "label", "title", "id")):
        words = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ")
        if _ACTION_WORDS.search(words):
            return True
    return False


def _action_failure(exc: Exception) -> str:
    """The telling line of a failed action's call log ("element is not visible", "<div> intercepts pointer
    events", no such option), else the error's first line without Playwright's prefixes."""
    lines = [line.strip(" -") for line in str(exc).splitlines()]
    telling = [
        line
        for line in lines
        if "intercepts pointer events" in line or line.startswith(("element is not", "did not find some options"))
    ]
    if telling:
        line = telling[-1].replace("did not find some options", "no option has that value or label")
    else:
        line = re.sub(r"^[A-Za-z]+\.[A-Za-z_]+: (?:Error: )?", "", _first_line(exc))
    return _one_line(line, 160)


# --- scenarios: scripted steps, then the texts the page shows ------------------------------------------

STEP_TIMEOUT = 2.5  # for one step's action: an element that never becomes usable fails the step fast
TEXT_GRACE = 0.5  # how much longer than `settle` an expected text that is not there yet is waited for
_ACTIONS = ("fill", "click", "press", "select", "check", "wait")
_FAILING_KINDS = ("pageerror", "console")


def _describe_step(step: dict[str, Any]) -> str:
    """What a step does, in words: fill '#title' with 'Dune', click '#add', press Enter in '#title'..."""
    action = next((name for name in _ACTIONS if name in step), "")
    target = f"'{step.get(action)}'"
    if action == "fill":
        return f"fill {target} with '{step.get('text', step.get('value', ''))}'"
    if action == "press":
        return f"press {step.get('key', 'Enter')} in {target}"
    if action == "select":
        return f"select '{step.get('value', step.get('text', ''))}' in {target}"
    if action == "wait":
        return f"wait {step.get('wait')} ms"
    if action:
        return f"{action} {target}"
    return "step " + json.dumps({k: v for k, v in step.items() if k not in ("ok", "detail")}, default=str)[:100]


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


class _StepFailed(Exception):
    def __init__(self, reason: str, *, lacks: bool = False) -> None:
        super().__init__(reason)
        self.lacks = lacks


def _run_scenarios(
    root: Path, scenarios: list[dict[str, Any]], timeout: float, settle: float, chromium: str | None
) -> list[ScenarioResult]:
    with _launched(root, chromium) as (browser, origin, root):
        results = []
        for number, scenario in enumerate(scenarios, 1):
            context, current = _new_context(browser, origin)
            try:
                results.append(_Scenario(context, current, origin, root, scenario, number, timeout, settle).run())
            finally:
                _close(context)
        return results


class _Scenario:
    def __init__(
        self,
        context: Any,
        current: _Current,
        origin: str,
        root: Path,
        scenario: Any,
        number: int,
        timeout: float,
        settle: float,
    ) -> None:
        scenario = scenario if isinstance(scenario, dict) else {}
        self.context = context
        self.name = str(scenario.get("name") or f"scenario {number}")
        self.path = str(scenario.get("page") or "index.html").strip().lstrip("/")
        self.url = f"{origin}/{quote(self.path)}"
        steps = scenario.get("steps") or []
        self.steps = [dict(step) if isinstance(step, dict) else {"step": step} for step in steps]
        for step in self.steps:
            step["ok"], step["detail"] = None, ""
        self.expect = [str(t) for t in _as_list(scenario.get("expect_text"))]
        self.expect_not = [str(t) for t in _as_list(scenario.get("expect_no_text"))]
        try:
            self.timeout = float(scenario.get("timeout") or timeout)
        except (TypeError, ValueError):
            self.timeout = timeout
        self.settle = settle
        self.state = _Page(self.path, origin, root)
        current.state = self.state
        self.started = time.monotonic()
        self.page: Any = None
        self.loaded = False
        self.hung = False  # the page stopped answering: nothing more is asked of it

    def left(self) -> float:
        return self.started + self.timeout - time.monotonic()

    def run(self) -> ScenarioResult:
        """Never raises: whatever goes wrong is the scenario's reason."""
        reason, lacks, text = "", False, ""
        expectations: list[dict[str, Any]] = []
        try:
            self.page = self.context.new_page()
            _attach(self.page, self.state)
            self._open()
            for number, step in enumerate(self.steps, 1):
                try:
                    self._step(number, step)
                except _StepFailed as failed:
                    if step["ok"] is None:
                        step["ok"], step["detail"] = False, str(failed).split(" (step ", 1)[0]
                    raise
            self.page.wait_for_timeout(max(0.0, min(self.settle, self.left())) * 1000)
            self._wait_for_texts()
            text = self._text(wait=min(JS_TIMEOUT, max(0.5, self.left())))
            expectations = self._expectations(text)
        except _StepFailed as failed:
            reason, lacks = str(failed), failed.lacks
            if self.loaded and not self.hung:  # the text the page shows when a step fails
                with contextlib.suppress(Exception):
                    text = self._text(wait=min(1.0, max(0.2, self.left())))
        except Exception as exc:  # noqa: BLE001 (a scenario reports, it never raises)
            reason = f"the scenario could not be played: {_first_line(exc)}"
        finally:
            self.state.during = ""
            if self.page is not None:
                _close(self.page)
        missing = [c["text"] for c in expectations if c["expected"] and not c["found"]]
        present = [c["text"] for c in expectations if not c["expected"] and c["found"]]
        errors = [p for p in self.state.problems if p.kind in _FAILING_KINDS]
        if not reason and missing:
            texts = ", ".join(f"'{t}'" for t in missing)
            reason = f"expected text {texts} not found on the page after the steps"
        if not reason and present:
            texts = ", ".join(f"'{t}'" for t in present)
            reason = f"text {texts} should not be on the page after the steps, but is"
        if errors:
            first = errors[0]
            where = f" [{first.source}]" if first.source else ""
            said = f"{len(errors)} error(s), the first: {first.kind}{where}: {first.message}"
            reason = f"{reason}; the page also reported {said}" if reason else f"the page reported {said}"
        return ScenarioResult(
            name=self.name,
            page=self.path,
            ok=not reason,
            reason=_one_line(reason),
            steps=self.steps,
            problems=self.state.reported(),
            scripts=list(self.state.scripts),
            lacks=lacks,
            duration=time.monotonic() - self.started,
            text=text[:1500],
            expectations=expectations,
        )

    def _open(self) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            response = self.page.goto(self.url, wait_until="load", timeout=max(0.5, self.left()) * 1000)
        except PlaywrightTimeout:
            raise _StepFailed(
                f"the page {self.path} did not load within {self.timeout:g} s (a script may never finish)"
            ) from None
        except PlaywrightError as exc:
            raise _StepFailed(f"the page {self.path} could not be opened: {_first_line(exc)}") from None
        if response is not None and response.status >= 400:
            missing = response.status == 404
            detail = "no such file in the project" if missing else "the server refused it"
            raise _StepFailed(
                f"the page {self.path} could not be loaded (HTTP {response.status} - {detail})", lacks=missing
            )
        self.loaded = True
        self.page.wait_for_timeout(max(0.0, min(self.settle, self.left())) * 1000)

    def _responsive(self, doing: str) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        wait = min(JS_TIMEOUT, self.left())
        try:
            _js(self.page, "() => 1", None, wait)
        except PlaywrightTimeout:
            self.hung = True
            if wait < 0.5:
                raise _StepFailed(f"the scenario ran out of its {self.timeout:g} s {doing}") from None
            raise _StepFailed(
                f"the page stopped responding {doing} (no answer within {max(wait, 0.2):.1f} s; a script may "
                "never finish)"
            ) from None

    def _step(self, number: int, step: dict[str, Any]) -> None:
        from playwright.sync_api import Error as PlaywrightError

        described = _describe_step(step)
        where = f"(step {number}: {described})"
        actions = [name for name in _ACTIONS if name in step]
        if len(actions) != 1:
            step["ok"], step["detail"] = False, f"a step needs exactly one of {', '.join(_ACTIONS)}"
            raise _StepFailed(f"the scenario's step {number} is not understood: {described}")
        action = actions[0]
        if self.left() <= 0.2:
            step["ok"], step["detail"] = False, "out of time"
            raise _StepFailed(f"the scenario ran out of its {self.timeout:g} s before {where[1:-1]}")
        self.state.during = where[1:-1]
        try:
            if action == "wait":
                try:
                    wait = float(step["wait"])
                except (TypeError, ValueError):
                    wait = 0.0
                self.page.wait_for_timeout(max(0.0, min(wait / 1000, self.left())) * 1000)
                step["ok"] = True
                return
            selector = str(step[action])
            self._responsive(f"before {where[1:-1]}")
            target = self._target(selector, where, step)
            wait = min(STEP_TIMEOUT, max(0.2, self.left())) * 1000
            try:
                if action == "fill":
                    target.fill(str(step.get("text", step.get("value", ""))), timeout=wait)
                elif action == "click":
                    target.click(timeout=wait)
                elif action == "press":
                    target.press(str(step.get("key") or "Enter"), timeout=wait)
                elif action == "select":
                    target.select_option(str(step.get("value", step.get("text", ""))), timeout=wait)
                else:
                    target.check(timeout=wait)
            except PlaywrightError as exc:
                self._responsive(f"during {where[1:-1]}")
                step["ok"], step["detail"] = False, _action_failure(exc)
                raise _StepFailed(f"could not {described} {where}: {step['detail']}") from None
            step["ok"] = True
        finally:
            self.state.during = ""

    def _target(self, selector: str, where: str, step: dict[str, Any]) -> Any:
        """The first visible element the selector matches, else the first one; `_StepFailed` when none."""
        from playwright.sync_api import Error as PlaywrightError

        locator = self.page.locator(selector)
        try:
            count = locator.count()
        except PlaywrightError as exc:
            step["ok"], step["detail"] = False, f"invalid selector: {_first_line(exc)}"
            raise _StepFailed(
                f"the selector '{selector}' is not valid {where}: {_first_line(exc)}", lacks=True
            ) from None
        if count == 0:
            step["ok"], step["detail"] = False, "no such element"
            raise _StepFailed(f"the page has no element matching '{selector}' {where}", lacks=True)
        for index in range(min(count, 20)):
            if locator.nth(index).is_visible():
                return locator.nth(index)
        return locator.first

    def _wait_for_texts(self) -> None:
        """A little longer for expected texts that a slow handler shows late (not beyond the scenario's time)."""
        from playwright.sync_api import Error as PlaywrightError

        dialogs = _normal("\n".join(self.state.dialogs))
        wanted = [_normal(t) for t in self.expect if _normal(t) not in dialogs]
        if not wanted or self.left() <= 0.3:
            return
        with contextlib.suppress(PlaywrightError):
            self.page.wait_for_function(
                "texts => { const seen = (document.body ? document.body.innerText : '')"
                ".split(/\\s+/).join(' ').toLowerCase(); return texts.every(t => seen.includes(t)); }",
                arg=wanted,
                polling=100,
                timeout=min(TEXT_GRACE, self.left() - 0.2) * 1000,
            )

    def _text(self, wait: float) -> str:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            return str(_js(self.page, "() => document.body ? document.body.innerText : ''", None, wait) or "")
        except PlaywrightTimeout:
            self.hung = True
            raise _StepFailed("the page stopped responding after the steps (a script may never finish)") from None

    def _expectations(self, text: str) -> list[dict[str, Any]]:
        shown = _normal(text + "\n" + "\n".join(self.state.dialogs))
        checks = []
        for wanted, expected in [(t, True) for t in self.expect] + [(t, False) for t in self.expect_not]:
            found = _normal(wanted) in shown
            checks.append({"text": wanted, "expected": expected, "found": found, "ok": found == expected})
        return checks


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
