"""The field's own analyzers over the assembled project (issue 34): the fixes they allow without
the model, and their check in the verify step.

- `fixes_without_model`: ruff, ty and oxlint over the project's files, and what their findings
  fix with no model (`kinds.python.fixes.fix_python`: an import added for a name exactly one
  project module or the standard library defines, a local renamed; `kinds.web.fixes.fix_web`: a
  script tag made a module, `export` dropped). The near-miss pass (`repairs.py`) applies them.
- `analyzer_check`: one check row of kind "analyzers" in `verification.json`'s `checks`: every
  finding, errors first; it fails when any finding is an error. Each module with errors in its
  files gets one failure listing every finding of its files, an undefined name with the module
  that defines it or its close candidates, so its fix round is told all of them (not only the
  first exception a run shows). Warnings are listed and never fail. An analyzer that is missing
  is one note in the verdict; the checks go on without it.

The analyzers only read the code (a temporary copy); nothing here runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..generation.fixes import Definitions, definitions, finding_lines, import_names
from ..kinds.analyzers import JS_SUFFIXES, PYTHON_SUFFIXES, Analysis, Finding, analyze
from ..kinds.python.fixes import fix_python
from ..kinds.web.fixes import declared_globals, fix_web
from .interfaces import file_interface
from .run import ProjectRun

__all__ = ["ANALYZERS", "analyzed", "project_definitions", "fixes_without_model", "analyzer_check"]

ANALYZERS = "analyzers"
"""The kind of the analyzers' check row."""
TOOLS = ("ruff", "ty", "oxlint")
_PAGES = (".html", ".htm")


def analyzed(files: Mapping[str, str]) -> Analysis:
    """ruff, ty and oxlint over the whole project (the page scripts' shared globals declared)."""
    return analyze(files, project=True, globals_=declared_globals(dict(files)))


def project_definitions(files: Mapping[str, str], owners: Mapping[str, str]) -> Definitions:
    """What the project's Python files and scripts define at their top level, and where."""
    entries = []
    for path, text in files.items():
        if path.endswith((*PYTHON_SUFFIXES, *JS_SUFFIXES)) and (entry := file_interface(path, text)) is not None:
            entries.append((owners.get(path, ""), entry))
    return definitions(entries)


def fixes_without_model(
    files: Mapping[str, str], owners: Mapping[str, str]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The project's files after the fixes its analyzers' findings allow without the model, and
    one record per fix {module, path, line, description, rule, source: "analyzer"} (only in files
    a module owns)."""
    analysis = analyzed(files)
    out = dict(files)
    if not analysis.errors:
        return out, []
    defined = import_names(project_definitions(files, owners))
    fixed, made = fix_python(out, analysis.findings, defined)
    pages = {path: text for path, text in fixed.items() if path.lower().endswith(_PAGES)}
    fixed, more = fix_web(fixed, analysis.findings, pages)
    records = []
    for fix in [*made, *more]:
        module = owners.get(fix.path)
        if module is None:
            continue
        out[fix.path] = fixed[fix.path]
        records.append({"module": module, **fix.to_dict(), "source": "analyzer"})
    # a file changed by a fix no record keeps (it is not a module's) stays as it was
    return out, records


def analyzer_check(run: ProjectRun) -> None:
    """The analyzers' check row over the project, and one failure per module with errors."""
    analysis = analyzed(run.files)
    if analysis.notes:
        run.note("; ".join(analysis.notes))
    tools = [tool for tool in TOOLS if tool in analysis.seconds]
    if not tools:
        return  # nothing they read (no Python, no script), or none of them here
    command = " + ".join(tools)
    run.emit("check_started", kind=ANALYZERS, command=command)
    ordered = sorted(analysis.findings, key=lambda f: (not f.error, f.path, f.line, f.column, f.code))
    errors = [f for f in ordered if f.error]
    check = run.record(
        ANALYZERS,
        command,
        not errors,
        "\n".join(f.render() for f in ordered) or "no findings",
        sum(analysis.seconds.values()),
        findings=[f.to_dict() for f in ordered],
        tool_seconds={tool: round(analysis.seconds[tool], 4) for tool in tools},
    )
    if errors:
        check.modules = _failures(run, command, ordered)


def _failures(run: ProjectRun, command: str, ordered: list[Finding]) -> list[str]:
    """One failure per module whose files hold an error finding: every finding of its files."""
    defined = project_definitions(run.files, run.owners)
    failing = list(dict.fromkeys(run.owners[f.path] for f in ordered if f.error and f.path in run.owners))
    for module_id in failing:
        mine = [f for f in ordered if run.owners.get(f.path) == module_id]
        count = sum(1 for f in mine if f.error)
        lines = finding_lines(mine, run.files, defined, module_id, limit=40)
        head = f"{command} found {count} error(s) in your files (path:line code message; warnings after):"
        run.failure(module_id, ANALYZERS, command, "\n".join([head, *lines]))
    return sorted(failing)
