"""Issue 34's figures for runs that `bench/quality.py` left in output folders, read the same way for
any Matrioska (an older one too): per task, the runtime NameError / ReferenceError lines in its
verification, the analyzer errors left in its project (this checkout's ruff + ty + oxlint), the
modules whose files pass the analyzers, the fixes made without the model, and whether its
acceptance passed.

    python bench/analyzer_figures.py /tmp/q-before /tmp/q-after   # one folder per bench run

Nothing is run: the project files are read and analyzed, never executed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matrioska.kinds.analyzers import analyze  # noqa: E402

_RUNTIME = re.compile(r"\b(NameError|ReferenceError)\b[^\n]*")


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else {}


def _texts(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _project_files(run: Path, manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Project path -> (owning module, text), from the run's artifacts folder and its manifest."""
    folder = run / "project" if (run / "project").is_dir() else run / "matrioska_artifacts" / "project"
    files: dict[str, tuple[str, str]] = {}
    for relative, entry in (manifest.get("files") or {}).items():
        path = folder / relative
        if path.is_file():
            try:
                files[relative] = (str(entry.get("module") or ""), path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    return files


def task_figures(run: Path) -> dict[str, Any]:
    checkpoints = run / "matrioska_checkpoints"
    verification = _json(checkpoints / "verification.json")
    report = _json(checkpoints / "run_report.json")
    files = _project_files(run, _json(checkpoints / "manifest.json"))
    runtime = sorted({m.group(0)[:100] for t in _texts(verification.get("checks") or []) for m in _RUNTIME.finditer(t)})
    runtime += sorted(
        {m.group(0)[:100] for t in _texts(verification.get("acceptance") or []) for m in _RUNTIME.finditer(t)}
    )
    analysis = analyze({p: text for p, (_, text) in files.items()}, project=True)
    errors = analysis.errors
    modules = sorted({module for module, _ in files.values() if module})
    clean = [m for m in modules if not any(files[f.path][0] == m for f in errors if f.path in files)]
    reports = report.get("module_reports") or {}
    fixes = sum(len(r.get("analyzer_fixes") or []) for r in reports.values())
    fixes += sum(1 for e in verification.get("near_miss_edits") or [] if e.get("source") == "analyzer")
    acceptance = verification.get("acceptance") or []
    return {
        "task": run.name,
        "verdict": verification.get("verdict") or ("works" if verification.get("works") else "?"),
        "runtime_name_errors": len(runtime),
        "analyzer_errors": len(errors),
        "modules_clean": f"{len(clean)}/{len(modules)}",
        "fixes_without_model": fixes,
        "acceptance": f"{sum(1 for a in acceptance if a.get('ok'))}/{len(acceptance)}",
        "examples": [*runtime[:2], *(f.render() for f in errors[:2])],
    }


def main() -> None:
    for folder in map(Path, sys.argv[1:]):
        print(f"\n{folder}")
        print(
            "| task | verdict | runtime NameError/ReferenceError | analyzer errors left | modules clean | fixes without the model | acceptance passed |"
        )
        print("|---|---|---|---|---|---|---|")
        for run in sorted(p for p in folder.iterdir() if (p / "matrioska_checkpoints").is_dir()):
            f = task_figures(run)
            print(
                f"| {f['task']} | {f['verdict']} | {f['runtime_name_errors']} | {f['analyzer_errors']} | "
                f"{f['modules_clean']} | {f['fixes_without_model']} | {f['acceptance']} |"
            )
            for example in f["examples"]:
                print(f"|   | {example} | | | | | |")


if __name__ == "__main__":
    main()
