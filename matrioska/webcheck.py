"""Open the HTML pages of a generated web project in headless Chromium and report what goes wrong at run
time: uncaught exceptions, `console.error` calls, project files that fail to load, requests to other
origins (the page must work offline, so they are aborted and reported), and element ids that the page's
scripts look up but the live DOM lacks. The project is untrusted: it is served from a throwaway
loopback-only HTTP server, in a fresh browser context, and nothing it asks for beyond that server leaves
the machine. Playwright is imported only when a check runs; without it or without a Chromium executable,
`check_pages` raises `WebCheckUnavailable` so that callers can skip the check with a one-line note.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import html.parser
import http.server
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

__all__ = ["PageProblem", "PageResult", "WebCheckUnavailable", "check_pages", "find_chromium", "looked_up_ids"]

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
    kind: str  # "pageerror" | "console" | "load" | "missing_id"
    message: str  # one line, at most ~300 characters
    source: str | None  # project-relative path of the file the problem points into, or None


@dataclass
class PageResult:
    page: str  # project-relative path of the page, e.g. "index.html"
    ok: bool
    problems: list[PageProblem] = field(default_factory=list)
    duration: float = 0.0

    def output(self) -> str:
        """A human-readable report: a header line, then one line per problem."""
        if self.ok:
            return f"{self.page}: page loaded, no errors ({self.duration:.1f} s)"
        lines = [f"{self.page}: {len(self.problems)} problem(s) ({self.duration:.1f} s)"]
        for problem in self.problems:
            where = f" [{problem.source}]" if problem.source else ""
            lines.append(f"- {problem.kind}{where}: {problem.message}")
        text = "\n".join(lines)
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
) -> list[PageResult]:
    """Serve `root` on 127.0.0.1 and open each of `pages` (project-relative paths) in one headless Chromium.

    Returns one `PageResult` per page, in order. Problems in a page never raise; `WebCheckUnavailable` is
    raised when Playwright or Chromium is missing or Chromium does not start.
    """
    run = functools.partial(_check_pages, Path(root), list(pages), timeout, settle, chromium)
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

    def add(self, kind: str, message: str, source: str | None) -> None:
        problem = PageProblem(kind, _one_line(message), source)
        if problem in self.problems:
            return
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        self.problems.append(problem)

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

    page.on("pageerror", on_pageerror)
    page.on("console", on_console)
    page.on("request", on_request)
    page.on("requestfailed", on_requestfailed)
    page.on("response", on_response)


# --- element ids the scripts look up --------------------------------------------------------------------

_COMMENT_OR_STRING = re.compile(
    r"(\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|//[^\n]*|/\*.*?\*/", re.DOTALL
)
_ID = r"([A-Za-z_][\w:.-]*)"
_LOOKUPS = [
    re.compile(r"getElementById\(\s*(['\"`])" + _ID + r"\1\s*\)"),
    re.compile(r"querySelector(?:All)?\(\s*(['\"`])#" + r"([A-Za-z_][\w-]*)" + r"\1\s*\)"),
    re.compile(r"(?<![\w$])\$\(\s*(['\"`])#" + r"([A-Za-z_][\w-]*)" + r"\1\s*\)"),
]
_CREATED = [
    # el.id = 'x', and id="x" in markup the script writes (innerHTML, insertAdjacentHTML, templates)
    re.compile(r"\bid\s*=\s*\\?(['\"`])" + _ID + r"\\?\1"),
    re.compile(r"setAttribute\(\s*(['\"`])id\1\s*,\s*(['\"`])" + _ID + r"\2\s*\)"),
]


def _strip_comments(code: str) -> str:
    return _COMMENT_OR_STRING.sub(lambda m: m.group(1) or " ", code)


def looked_up_ids(code: str) -> list[str]:
    """The element ids a script looks up and does not create itself, in order of first appearance."""
    code = _strip_comments(code)
    created = {m.group(m.lastindex or 0) for pattern in _CREATED for m in pattern.finditer(code)}
    found: list[tuple[int, str]] = []
    for pattern in _LOOKUPS:
        found.extend((m.start(), m.group(2)) for m in pattern.finditer(code))
    ids: list[str] = []
    for _, name in sorted(found):
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
    context: Any, current: _Current, origin: str, root: Path, page_path: str, timeout: float, settle: float
) -> PageResult:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = time.monotonic()
    name = page_path.strip().lstrip("/")
    state = _Page(name, origin, root)
    current.state = state
    page = None
    try:
        page = context.new_page()
        _attach(page, state)
        loaded = False
        try:
            page.goto(f"{origin}/{quote(name)}", wait_until="load", timeout=timeout * 1000)
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
    except Exception as exc:  # noqa: BLE001 (whatever goes wrong with one page is a problem of that page)
        state.add("load", f"checking the page failed: {_first_line(exc)}", name)
    finally:
        if page is not None:
            with contextlib.suppress(PlaywrightError):
                page.close()
        current.state = None
    problems = state.problems
    if state.dropped:
        problems.append(PageProblem("console", f"... and {state.dropped} more problem(s) not shown", None))
    return PageResult(name, not problems, problems, time.monotonic() - started)


def _check_pages(root: Path, pages: list[str], timeout: float, settle: float, chromium: str | None) -> list[PageResult]:
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
                context = browser.new_context()
                current = _Current()
                context.route("**/*", _router(origin, current))
                if hasattr(context, "route_web_socket"):
                    context.route_web_socket(re.compile(".*"), _websocket_router(current))
                try:
                    return [_check_one(context, current, origin, root, page, timeout, settle) for page in pages]
                finally:
                    with contextlib.suppress(PlaywrightError):
                        context.close()
            finally:
                with contextlib.suppress(PlaywrightError):
                    browser.close()
        finally:
            playwright.stop()
