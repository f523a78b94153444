"""Checks that run the generated project, and who owns each failure.

After assembly the project is copied into a throwaway folder and run, always through the
`Sandbox` (see `sandbox.py`), by each installed kind that claims some of its files (built-in or a
plugin, in the registry's order, `matrioska.kinds`): the kind's own checks (`check(paths, ctx)`:
Python's in `kinds/python/checks.py`, the pages' and Node's in `kinds/web/checks.py`), then the
commands it gives (`commands(paths)`, a plugin's simple way). Then the acceptance scenarios run
(`scenarios.py`). Every failure is attributed to the module that owns the file it points into
(`run.py`), so the graph can send the evidence back to exactly that module; the verdict and its
records are in `verdict.py`.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import kinds
from ..kinds.base import CheckContext
from ..kinds.python.checks import import_names
from .analysis import ANALYZERS, analyzer_check
from .run import ProjectRun, headline
from .sandbox import Sandbox
from .scenarios import acceptance_checks, contains
from .verdict import Verdict

__all__ = ["verify_project", "module_check"]


def verify_project(
    files: dict[str, str],
    owners: dict[str, str],
    sandbox: Sandbox,
    *,
    deps_root: str | os.PathLike[str] | None = None,
    emit: Callable[..., None] | None = None,
    acceptance: list[dict[str, Any]] | None = None,
    dependencies: dict[str, list[str]] | None = None,
    allow_install: str | list[str] | None = None,
    module_ids: list[str] | None = None,
    only: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Run every check that applies to the project, then its acceptance scenarios; the verdict
    and the failures per module. First, over every file (not with `only`), the analyzers' check
    (`analysis.analyzer_check`: ruff, ty, oxlint; it fails on an error finding only).

    `only`: run just the checks of these paths (their imports, their tests, their entry points,
    their pages), the rest of the project present beside them (`module_check`).

    `files` maps project paths to their text, `owners` maps them to the module that wrote them;
    `acceptance` holds the scenarios (`matrioska.plan.acceptance`), `dependencies` the plan's module
    dependencies (a failing command goes to the program's module and what it builds on).
    A Python requirement is installed only when the project declares it, it is not the name of
    one of the project's own modules (`module_ids`, its files) and it is well known or in
    `allow_install` (names, or a comma-separated string): `installs.py`. Returns `{"works", "checks", "acceptance": [...], "failures": [{module, kind, command,
    evidence}], "notes"}` (`Verdict`); `works` is None when nothing could be run, and True only
    when every check and every scenario passed.
    """
    say = emit or (lambda *_a, **_k: None)
    deps = Path(deps_root) if deps_root else Path(tempfile.gettempdir()) / "matrioska-pydeps"
    run = ProjectRun(files, owners, sandbox, deps, say)
    if allow_install:
        run.allow_install = allow_install.split(",") if isinstance(allow_install, str) else list(allow_install)
    run.module_ids = list(module_ids or [])
    run.only = set(only) if only is not None else None
    try:
        if run.only is None:  # the whole project (a candidate's own check: its judge ran them)
            analyzer_check(run)
        paths = list(files)
        for item in kinds.installed():
            own = [p for p in paths if any(k.name == item.name for k in kinds.kinds_for(p))]
            if run.only is not None:
                own = [p for p in own if p in run.only]
            if own:
                _kind_checks(run, item, own)
        scenarios = acceptance_checks(run, acceptance or [], dependencies or {}) if acceptance else None
    finally:
        run.close()
    # the analyzers' row decides only when it failed: findings that are all warnings show nothing ran
    counted = [c for c in run.checks if c.kind != ANALYZERS or c.ok is False]
    ran = [c.ok for c in counted if c.ok is not None] + [s.ok for s in scenarios or [] if s.ok is not None]
    if not [c for c in run.checks if c.kind != ANALYZERS] and not scenarios:
        run.notes.append("nothing to run: the project has no Python, web page or JavaScript tests")
    return Verdict(all(ran) if ran else None, run.checks, run.failures, run.notes, scenarios).to_dict()


def _kind_checks(run: ProjectRun, item: kinds.Installed, paths: list[str]) -> None:
    """One kind's checks of its files: its own (`check`), then the commands it gives. A plugin
    that fails in them leaves a note, never a crash."""
    check = getattr(item.kind, "check", None)
    if callable(check):
        context: CheckContext = run  # (the run is the context the kinds' checks are given)
        try:
            check(paths, context)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is a note, not a crash
            if item.source == kinds.BUILT_IN:
                raise
            run.notes.append(f"the {item.name} kind ({item.source}) failed in its checks: {type(exc).__name__}: {exc}")
    _kind_commands(run, item, paths)


def _kind_commands(run: ProjectRun, item: kinds.Installed, paths: list[str]) -> None:
    """The commands a kind gives for its files, each run in the sandbox on a fresh copy; a
    failure goes to the module its output points into (else the owner of the kind's first file)."""
    method = getattr(item.kind, "commands", None)
    if not callable(method):
        return
    try:
        commands = [list(map(str, argv)) for argv in (method(paths) or []) if argv]
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is a note, not a crash
        run.notes.append(
            f"the {item.name} kind ({item.source}) failed to give its commands: {type(exc).__name__}: {exc}"
        )
        return
    for argv in commands:
        shown = " ".join(argv)
        result = run.run(item.name, argv, shown)
        check = run.record(item.name, shown, result.ok, result.output, result.duration)
        if not result.ok:
            # a traceback into the project decides; else the last of the kind's files the output names
            named = [p for p in paths if re.search(rf"(?<![\w/.-]){re.escape(p)}(?![\w-])", result.output)]
            last = max(named, key=lambda p: result.output.rfind(p)) if named else paths[0]
            check.modules = run.fail(item.name, shown, result.output, run.owners.get(last))


def module_check(
    files: dict[str, str],
    owners: dict[str, str],
    module_id: str,
    sandbox: Sandbox,
    *,
    acceptance: list[dict[str, Any]] | None = None,
    pending: Iterable[str] = (),
    **options: Any,
) -> dict[str, Any]:
    """One module's own runnable check (a candidate's, issue 27): its files' checks (imports,
    its tests where it holds tests, its entry points and pages) and the acceptance scenarios
    given (those touching only its files), the rest of the project beside them; what failed in
    its own files. `pending`: the planned files of modules not built yet: a failure that names
    one of them (or imports it) is not this module's, and a page is not judged before the
    scripts it may need exist. `options` go to `verify_project`. Returns `{"checks": [{command,
    ok}], "problems": [str], "ran": bool}`."""
    mine = [path for path, owner in owners.items() if owner == module_id]
    result = verify_project(files, owners, sandbox, acceptance=acceptance, only=mine, **options)
    waiting = sorted(pending)
    names = [re.compile(rf"No module named '{re.escape(name)}(?:\.[\w.]+)?'") for name in import_names(waiting)]
    scripts_pending = any(p.endswith((".js", ".mjs")) for p in waiting)
    problems = []
    for failure in result["failures"]:
        evidence = failure["evidence"].strip()
        if failure["module"] != module_id or any(n.search(evidence) for n in names):
            continue
        if any(contains(evidence, p) for p in waiting) or (failure["kind"] == "web-page" and scripts_pending):
            continue
        tail = evidence if len(evidence) <= 700 else "[...]\n" + evidence[-700:]
        problems.append(f"{failure['command']} failed: {headline(evidence)}\n{tail}")
    checks = [{"command": c["command"], "ok": c["ok"]} for c in result["checks"]]
    checks += [{"command": f"acceptance: {s['name']}", "ok": s["ok"]} for s in result.get("acceptance") or []]
    return {"checks": checks, "problems": problems, "ran": any(c["ok"] is not None for c in checks)}
