"""Acceptance scenarios played on a page: scripted steps (fill, click, press, select, check, wait), then
the texts the page must, or must not, show. Each scenario runs in a fresh browser context (the driver
in `browser.py` opens it); whatever goes wrong, a missing element, a step that times out, a page that
stops answering, is the scenario's reason, and `lacks` says when the page lacks what the scenario asks
for (no such element, no such page)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .watch import (
    JS_TIMEOUT,
    PageProblem,
    PageState,
    action_failure,
    attach,
    close_quietly,
    evaluate,
    first_line,
    one_line,
    trim_report,
)

STEP_TIMEOUT = 2.5  # for one step's action: an element that never becomes usable fails the step fast
TEXT_GRACE = 0.5  # how much longer than `settle` an expected text that is not there yet is waited for
_ACTIONS = ("fill", "click", "press", "select", "check", "wait")
_FAILING_KINDS = ("pageerror", "console")


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
            lines.append("  page text at the end: " + one_line(self.text, 1000))
        return trim_report("\n".join(lines))


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
    """`text` as texts are compared: runs of white space as one space, case ignored."""
    return " ".join(text.split()).casefold()


class _StepFailed(Exception):
    """The scenario stops here: its message is the scenario's reason."""

    def __init__(self, reason: str, *, lacks: bool = False) -> None:
        super().__init__(reason)
        self.lacks = lacks


class Scenario:
    """One scenario (a dict as `run_page_scenarios` takes it) played on a new page of `context`; its
    `state` collects what the page reports, `run` plays it and gives the `ScenarioResult`."""

    def __init__(
        self,
        context: Any,
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
        self.state = PageState(self.path, origin, root)  # the driver points its router at it
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
            attach(self.page, self.state)
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
            reason = f"the scenario could not be played: {first_line(exc)}"
        finally:
            self.state.during = ""
            if self.page is not None:
                close_quietly(self.page)
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
            reason=one_line(reason),
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
            raise _StepFailed(f"the page {self.path} could not be opened: {first_line(exc)}") from None
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
            evaluate(self.page, "() => 1", None, wait)
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
                step["ok"], step["detail"] = False, action_failure(exc)
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
            step["ok"], step["detail"] = False, f"invalid selector: {first_line(exc)}"
            raise _StepFailed(
                f"the selector '{selector}' is not valid {where}: {first_line(exc)}", lacks=True
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
            return str(evaluate(self.page, "() => document.body ? document.body.innerText : ''", None, wait) or "")
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
    """None as [], a list or tuple as a list, anything else as a list of one."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
