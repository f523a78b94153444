"""The web kinds' checks of a generated project, run by the verify step.

- Web page: served on 127.0.0.1 and opened in headless Chromium (`browser.py`): page errors,
  console errors, failed loads of the project's own files, element ids the scripts look up that
  the live DOM lacks; any other origin is aborted. Its acceptance scenarios (`page`) are played
  there too.
- JavaScript with tests: the `package.json` test script, or `node --test` on `*.test.js` files,
  in the sandbox.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import PurePosixPath
from typing import Any

from ..base import CheckContext, ScenarioOutcome

__all__ = ["page_checks", "page_scenarios", "node_checks"]

_PAGES_AT_MOST = 5


# -- web pages ---------------------------------------------------------------------------------


def page_checks(pages: list[str], ctx: CheckContext) -> None:
    """The project's pages (its `index.html` files when it has any; five at most, shallowest
    first) opened in one headless Chromium; a problem goes to the module of the script it comes
    from, else of the page."""
    from .browser import WebCheckUnavailable, check_pages

    chosen = [p for p in pages if PurePosixPath(p).name.lower() == "index.html"] or pages
    chosen = sorted(chosen, key=lambda p: (p.count("/"), p))[:_PAGES_AT_MOST]
    shown = "chromium (headless) " + " ".join(chosen)
    ctx.emit("check_started", kind="web-page", command=shown)
    root = ctx.fresh_copy()
    started = time.monotonic()
    try:
        results = check_pages(root, chosen, timeout=min(60.0, ctx.timeout))
    except WebCheckUnavailable as exc:
        ctx.record("web-page", shown, None, f"skipped: {exc}", time.monotonic() - started)
        ctx.note(f"web page not opened: {exc}")
        return
    for result in results:
        command = f"open {result.page} in headless Chromium"
        check = ctx.record("web-page", command, result.ok, result.output(), result.duration)
        for note in getattr(result, "notes", None) or []:
            ctx.note(f"{result.page}: {note}")
        if result.ok:
            continue
        by_module: dict[str, list[str]] = {}
        for problem in result.problems:
            owner = ctx.owners.get(problem.source or "") or ctx.owners.get(result.page)
            if owner:
                by_module.setdefault(owner, []).append(f"- [{problem.kind}] {problem.message}")
        for module, lines in by_module.items():
            ctx.failure(module, "web-page", command, "\n".join(lines))
        check.modules = sorted(by_module)


def page_scenarios(ctx: CheckContext) -> list[ScenarioOutcome]:
    """`ctx.scenarios` (of kind `page`) played in one headless Chromium, each in a fresh browser
    context, on one fresh copy of the project."""
    from .browser import WebCheckUnavailable, run_page_scenarios

    root = ctx.fresh_copy()
    try:
        results = run_page_scenarios(root, list(ctx.scenarios), timeout=min(60.0, ctx.timeout))
    except WebCheckUnavailable as exc:
        ctx.note(f"page scenarios not run: {exc}")
        return [ScenarioOutcome([], f"skipped: {exc}", skipped=True) for _ in ctx.scenarios]
    return [_page_outcome(ctx, page) for page in results]


def _page_outcome(ctx: CheckContext, page: Any) -> ScenarioOutcome:
    """One played scenario: a failure goes to the scripts its problems come from (else the
    page's scripts), or to the page when it lacks what was asked; never to the assembler."""
    problems = [page.reason] if not page.ok and page.reason else ([] if page.ok else ["the scenario failed"])
    sources = {p.source for p in page.problems if p.source}
    if page.ok:
        owners: list[str] = []
    elif page.lacks or not page.scripts:
        owners = [o for o in [ctx.owners.get(page.page)] if o]
    else:
        owners = list(dict.fromkeys(ctx.owners[s] for s in (sources or page.scripts) if s in ctx.owners))
    owners = [o for o in owners if o != "assembler"] or [
        o for o in [ctx.owners.get(s) for s in page.scripts] + [ctx.owners.get(page.page)] if o and o != "assembler"
    ][:2]
    return ScenarioOutcome(
        problems, page.output(), seconds=page.duration, lacks=page.lacks, steps=page.steps, modules=owners
    )


# -- JavaScript tests --------------------------------------------------------------------------


def _test_script(package_json: str) -> str:
    """The `package.json` test script ("" when none, or when it is npm's placeholder)."""
    try:
        package = json.loads(package_json or "{}")
        script = str(((package.get("scripts") or {}) if isinstance(package, dict) else {}).get("test") or "")
    except ValueError:
        return ""  # an invalid package.json is the static check's finding
    return "" if "no test specified" in script else script


def node_checks(ctx: CheckContext) -> None:
    """The project's JavaScript tests: its `package.json` test script (`npm test`), else
    `node --test` on its test files (one module's check: its own test files only)."""
    script = _test_script(ctx.files.get("package.json", "")) if ctx.only is None else ""
    tests = [
        p
        for p in ctx.files
        if re.search(r"(\.test|\.spec)\.[cm]?js$", p) or (p.startswith("test/") and p.endswith(".js"))
    ]
    if ctx.only is not None:
        tests = [p for p in tests if p in ctx.only]
    if not script and not tests:
        return
    node = shutil.which("node")
    if node is None:
        ctx.record("js-test", "node --test", None, "skipped: Node.js is not installed", 0.0)
        ctx.note("JavaScript tests not run: install Node.js")
        return
    if script:
        npm = shutil.which("npm")
        argv, shown = ([npm, "test", "--silent"], "npm test") if npm else (["sh", "-c", script], script)
    else:
        argv, shown = [node, "--test", *tests], "node --test " + " ".join(tests)
    result = ctx.run("js-test", argv, shown)
    check = ctx.record("js-test", shown, result.ok, result.output, result.duration)
    if not result.ok:
        check.modules = ctx.fail("js-test", shown, result.output, ctx.owners.get(tests[0]) if tests else None)
