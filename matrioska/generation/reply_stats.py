"""Structural problems of the modules' replies, counted per run (issue 25, item 5).

A module's answer can fail on its form before its code is judged at all: it holds no file, it
only repeats its prompt (an echo), a file it declared in the plan is missing, it writes files the
plan did not declare, or its shared-state update is missing or empty. The executor re-asks for
each such answer (a repair attempt, `--repairs`), so form costs model calls. `structural_counts`
counts these problems over a run's module reports (`module_reports` in the final state, also in
`matrioska_checkpoints/run_report.json`), over every attempt of every module: each entry of a
report's `repairs` is one repaired attempt's problems, its `problems` those of the final answer.

A fix round (`runtime_fixes`) regenerates a module and replaces its report, so the counts cover
each module's latest generation only.

    python -m matrioska.generation.reply_stats OUT      (the line for the run whose --out was OUT)
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "CATEGORIES",
    "categorise",
    "output_counts",
    "render_structural",
    "structural_counts",
    "sum_counts",
]

# Stable parts of the problem texts, matched as substrings. They mirror the wording of
# matrioska/generation/project.py `module_problems` (tests/test_reply_stats.py builds real problem lists with
# it, so a change of wording fails a test instead of silently zeroing a count).
NO_FILE_TEXT = "your answer contains no file"
ECHO_TEXT = "your files only repeat the task and instructions"
MISSING_FILE_TEXT = "your module owns is missing"
UPDATE_TEXT = "must be published with a non-empty value"

# The categories a problem text can fall in (undeclared files are not problems: they come from
# the final report's `extra_files`).
CATEGORIES: dict[str, str] = {
    "no_file": NO_FILE_TEXT,
    "echo": ECHO_TEXT,
    "missing_file": MISSING_FILE_TEXT,
    "update": UPDATE_TEXT,
}

# The keys of `structural_counts`, in the order they are summed and rendered.
KEYS = (
    "no_file",
    "missing_file",
    "undeclared_file",
    "stray_files",
    "update",
    "echo",
    "attempts_spent",
    "repairs",
    "modules",
    "modules_with_declared_files",
)


def categorise(problem: str) -> str | None:
    """The structural category of one problem text (None for any other problem)."""
    for category, text in CATEGORIES.items():
        if text in problem:
            return category
    return None


def _is_stray(path: str, module_id: str) -> bool:
    """Whether `extract_files` named the file after its module and block number because the block
    carried no usable name (`core_2.py`: f"{module_id}_{number}.{extension}" in project.py)."""
    name = PurePosixPath(path).name
    return re.fullmatch(rf"{re.escape(module_id)}_\d+(\.\w+)?", name) is not None


def _has_declared(report: Mapping[str, Any], declared: list[str] | None) -> bool:
    """Whether a module's final answer holds the files it declared (without the plan: no final
    problem says a file is missing or that there is none)."""
    if declared is None:
        return not any(categorise(p) in ("no_file", "missing_file") for p in report.get("problems") or [])
    written = {str(c.get("path", "")).lower() for c in report.get("files") or [] if isinstance(c, Mapping)}
    if not declared:
        return bool(written)
    stems = {str(PurePosixPath(p).with_suffix("")) for p in written}
    # as in module_problems: a file declared without its extension ("app") is met by "app.js"
    return all(p.lower() in written or (not PurePosixPath(p).suffix and p.lower() in stems) for p in declared)


def structural_counts(
    module_reports: Mapping[str, Mapping[str, Any]],
    declared: Mapping[str, list[str]] | None = None,
) -> dict[str, int]:
    """Structural problems over every attempt of every module, by category.

    - `no_file`, `echo`, `missing_file` (one per declared file missing from an answer that has
      files: an answer without any counts as `no_file` only), `update` (one per declared key
      missing from the update or published empty): problems of the repaired attempts
      (`repairs[*].problems`) and of the final answer (`problems`);
    - `undeclared_file`: files of the final answers the plan did not declare (`extra_files`; the
      problem texts of earlier attempts do not name them), `stray_files` those of them named
      after their module and a block number (a block without a usable file name);
    - `attempts_spent`: repaired attempts with at least one structural problem (model calls
      spent re-asking for form), `repairs`: all repaired attempts;
    - `modules`, `modules_with_declared_files`: modules whose final answer holds every file the
      plan declared for it (`declared`: module id -> its files, from the plan; without it, those
      whose final problems report no missing file and no answer without files).
    """
    counts = dict.fromkeys(KEYS, 0)
    for module_id, report in module_reports.items():
        counts["modules"] += 1
        attempts = [list(r.get("problems") or []) for r in report.get("repairs") or [] if isinstance(r, Mapping)]
        for problems in [*attempts, list(report.get("problems") or [])]:
            found = [c for c in (categorise(str(p)) for p in problems) if c is not None]
            for category in found:
                # an answer without files lacks each declared file too: counted once, as no file
                if category != "missing_file" or "no_file" not in found:
                    counts[category] += 1
        counts["repairs"] += len(attempts)
        counts["attempts_spent"] += sum(1 for problems in attempts if any(categorise(str(p)) for p in problems))
        extra = [str(p) for p in report.get("extra_files") or []]
        counts["undeclared_file"] += len(extra)
        counts["stray_files"] += sum(1 for p in extra if _is_stray(p, module_id))
        plan = None if declared is None else list(declared.get(module_id) or [])
        counts["modules_with_declared_files"] += _has_declared(report, plan)
    return counts


def sum_counts(runs: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The counts of several runs added up."""
    total = dict.fromkeys(KEYS, 0)
    for counts in runs:
        for key in KEYS:
            total[key] += int(counts.get(key, 0))
    return total


def render_structural(counts: Mapping[str, int]) -> str:
    """One line: the problems by category, the repair attempts spent on form, the modules with
    their declared files."""
    c = {key: int(counts.get(key, 0)) for key in KEYS}
    stray = f" ({c['stray_files']} stray)" if c["stray_files"] else ""
    return (
        f"structure: {c['no_file']} no file, {c['missing_file']} declared file missing, "
        f"{c['undeclared_file']} undeclared{stray}, {c['update']} update missing/empty, {c['echo']} echo; "
        f"{c['attempts_spent']}/{c['repairs']} repair attempts spent on form; "
        f"{c['modules_with_declared_files']}/{c['modules']} modules with their declared files"
    )


def output_counts(out: str | Path) -> dict[str, int]:
    """`structural_counts` of the run written under `out` (the `--out` folder): its module
    reports from `matrioska_checkpoints/run_report.json`, the declared files from its plan
    (`architecture.json`) when there is one."""
    checkpoints = Path(out) / "matrioska_checkpoints"
    report_file, plan_file = checkpoints / "run_report.json", checkpoints / "architecture.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    declared = None
    if plan_file.exists():
        plan = json.loads(plan_file.read_text())
        declared = {m["id"]: list(m.get("files") or []) for m in plan.get("modules") or [] if m.get("id")}
    return structural_counts(report.get("module_reports") or {}, declared)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m matrioska.generation.reply_stats OUT", file=sys.stderr)
        return 2
    print(render_structural(output_counts(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
