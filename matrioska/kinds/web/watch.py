"""One page under watch in headless Chromium: what its check collects (`PageState`: the problems,
the scripts it loaded, its dialogs, navigations, requests and popups), the event listeners that collect
it (`attach`), and the small helpers every check of a live page shares: one-line messages, a bounded
evaluation in a page that may be stuck in a script (`evaluate`), closing quietly, and the telling line
of a failed action. Playwright is imported only inside the functions that use it."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

MESSAGE_LIMIT = 300
OUTPUT_LIMIT = 4000
MAX_PROBLEMS = 50  # per page; a script logging an error in a loop must not drown the report
JS_TIMEOUT = 3.0  # for one evaluation in the page: longer means the page is stuck in a script


@dataclass
class PageProblem:
    kind: str  # "pageerror" | "console" | "load" | "missing_id" | "silent_button"
    message: str  # one line, at most ~300 characters
    source: str | None  # project-relative path of the file the problem points into, or None


def trim_report(text: str) -> str:
    """`text` cut at a line break to fit OUTPUT_LIMIT characters, saying that it was trimmed."""
    if len(text) > OUTPUT_LIMIT:
        text = text[: OUTPUT_LIMIT - 20].rsplit("\n", 1)[0] + "\n- ... (report trimmed)"
    return text


def one_line(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """`text` on one line (runs of white space made one space), cut to `limit` characters with "..."."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def first_line(text: object) -> str:
    """The first line of `text` that is not blank, as `one_line` gives it."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    return one_line(lines[0] if lines else "")


class PageState:
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
            during = one_line(self.during, 150)
            message = f"{one_line(message, MESSAGE_LIMIT - len(during) - 10)} (while {during})"
        problem = PageProblem(kind, one_line(message), source)
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
    """The URL of the frame that made `request`, or None for a service worker's request."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        return request.frame.url
    except PlaywrightError:  # requests of service workers have no frame
        return None


_STACK_URL = r"(?:{origin})/([^\s():?#]+)(?:[?#][^\s():]*)?:\d+(?::\d+)?"


class _Listeners:
    """The page's event handlers, one method each: they turn what the page does into `state`'s problems,
    scripts, dialogs, navigations, requests and popups."""

    def __init__(self, page: Any, state: PageState) -> None:
        self.page = page
        self.state = state
        self.stack_url = re.compile(_STACK_URL.format(origin=re.escape(state.origin)))

    def on_pageerror(self, error: Any) -> None:
        state = self.state
        name = getattr(error, "name", "") or ""
        message = first_line(getattr(error, "message", "") or error)
        if name and not message.startswith(name):
            message = f"{name}: {message}" if message else name
        stack = getattr(error, "stack", "") or ""
        found = self.stack_url.search(stack)
        state.add("pageerror", message or "uncaught exception", unquote(found.group(1)) if found else state.page)

    def on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        # Chromium's own "Failed to load resource" lines duplicate what the network handlers report precisely.
        if text.startswith("Failed to load resource"):
            return
        location = message.location or {}
        self.state.add("console", first_line(text) or "console.error()", self.state.source_of(location.get("url")))

    def on_request(self, request: Any) -> None:
        state = self.state
        if request.resource_type in ("fetch", "xhr", "eventsource"):
            state.requests += 1
        if request.resource_type != "script" or not state.same_origin(request.url):
            return
        from playwright.sync_api import Error as PlaywrightError

        try:
            if request.frame != self.page.main_frame:
                return
        except PlaywrightError:  # a service worker's request
            return
        path = state.project_path(request.url)
        if path and path not in state.scripts:
            state.scripts.append(path)

    def on_requestfailed(self, request: Any) -> None:
        state = self.state
        if not state.same_origin(request.url):
            return  # other origins are reported by the router
        failure = request.failure or "failed"
        if "ERR_ABORTED" in failure:  # cancelled by the page itself (navigation, closing)
            return
        path = state.project_path(request.url) or "/"
        state.add("load", f"could not load {path} ({failure})", state.source_of(_frame_url(request)))

    def on_response(self, response: Any) -> None:
        state = self.state
        if response.status < 400 or not state.same_origin(response.url):
            return
        path = state.project_path(response.url) or "/"
        if path == "favicon.ico":
            return
        reason = f"HTTP {response.status}" + (" - no such file in the project" if response.status == 404 else "")
        state.add("load", f"could not load {path} ({reason})", state.source_of(_frame_url(response.request)))

    def on_dialog(self, dialog: Any) -> None:  # accepted (alert, confirm, prompt: its default or a sample answer)
        from playwright.sync_api import Error as PlaywrightError

        self.state.dialogs.append(one_line(dialog.message))
        with contextlib.suppress(PlaywrightError):
            if dialog.type == "prompt":
                dialog.accept(dialog.default_value or "Sample 1")
            else:
                dialog.accept()

    def on_framenavigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.state.navigations += 1

    def on_popup(self, popup: Any) -> None:  # closed by whoever checks the page
        self.state.popups.append(popup)


def attach(page: Any, state: PageState) -> None:
    """Listen to `page`'s errors, console, network, dialogs, navigations and popups, reporting into `state`."""
    listeners = _Listeners(page, state)
    page.on("pageerror", listeners.on_pageerror)
    page.on("dialog", listeners.on_dialog)
    page.on("framenavigated", listeners.on_framenavigated)
    page.on("popup", listeners.on_popup)
    page.on("console", listeners.on_console)
    page.on("request", listeners.on_request)
    page.on("requestfailed", listeners.on_requestfailed)
    page.on("response", listeners.on_response)


def close_quietly(thing: Any) -> None:
    """Close a page, popup, context or browser; one that is gone already is no error."""
    from playwright.sync_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):
        thing.close()


def evaluate(page: Any, function: str, arg: Any, timeout: float) -> Any:
    """`function(arg)` evaluated in the page, its result through JSON. wait_for_function, not evaluate: it
    gives up after `timeout` s when a script keeps the page busy; and the result comes back as a string,
    which the driver hands over without asking the (possibly busy) page again."""
    script = f"arg => JSON.stringify({{v: ({function})(arg)}})"
    handle = page.wait_for_function(script, arg=arg, polling=100, timeout=max(0.2, timeout) * 1000)
    return json.loads(handle.json_value()).get("v")


def action_failure(exc: Exception) -> str:
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
        line = re.sub(r"^[A-Za-z]+\.[A-Za-z_]+: (?:Error: )?", "", first_line(exc))
    return one_line(line, 160)
