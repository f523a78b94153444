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

This file is the driver and the entry points: Chromium launched, the router that keeps the page offline,
one page checked. The parts live beside it: `serve.py` (the HTTP server), `watch.py` (what a page's
listeners collect), `lookups.py` (the element ids the scripts look up), `exercise.py` (inputs filled,
buttons clicked) and `scenarios.py` (scripted scenarios).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .exercise import exercise_page
from .lookups import check_ids
from .scenarios import Scenario, ScenarioResult
from .serve import serve
from .watch import PageProblem, PageState, attach, close_quietly, first_line, trim_report

__all__ = [
    "PageResult",
    "WebCheckUnavailable",
    "check_pages",
    "find_chromium",
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
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class WebCheckUnavailable(Exception):
    """Playwright or Chromium is missing (or Chromium does not start): the message is one line saying what
    was skipped and how to enable it."""


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
        return trim_report("\n".join(lines))


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


# --- the browser --------------------------------------------------------------------------------------


class _Current:
    """The page being checked: the context-wide router reports into it."""

    state: PageState | None = None


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
    state = PageState(name, origin, root)
    current.state = state
    page = None
    exercised: dict[str, int] = {}
    try:
        page = context.new_page()
        attach(page, state)
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
                check_ids(page, state, remaining)
            except PlaywrightTimeout:
                state.add("load", f"page stopped responding after it loaded (no answer within {remaining:.0f} s)", name)
                loaded = False
        if loaded and exercise:
            exercised = exercise_page(page, state, url, started + timeout)
    except Exception as exc:  # noqa: BLE001 (whatever goes wrong with one page is a problem of that page)
        state.add("load", f"checking the page failed: {first_line(exc)}", name)
    finally:
        for popup in state.popups:
            close_quietly(popup)
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
            close_quietly(context)


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
    with serve(root) as origin:
        try:
            playwright = sync_playwright().start()
        except PlaywrightError as exc:
            raise WebCheckUnavailable(
                f"web check skipped: Playwright could not start ({first_line(exc)}; pip install playwright)"
            ) from None
        try:
            try:
                browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            except PlaywrightError as exc:
                raise WebCheckUnavailable(
                    f"web check skipped: Chromium at {executable} did not start ({first_line(exc)})"
                ) from None
            try:
                yield browser, origin, root
            finally:
                close_quietly(browser)
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


def _run_scenarios(
    root: Path, scenarios: list[dict[str, Any]], timeout: float, settle: float, chromium: str | None
) -> list[ScenarioResult]:
    with _launched(root, chromium) as (browser, origin, root):
        results = []
        for number, scenario in enumerate(scenarios, 1):
            context, current = _new_context(browser, origin)
            try:
                played = Scenario(context, origin, root, scenario, number, timeout, settle)
                current.state = played.state
                results.append(played.run())
            finally:
                close_quietly(context)
        return results
