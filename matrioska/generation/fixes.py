"""A module's fix round: which of its files a fix rewrites, the rewrite merged with the files it
kept, the fix queue after it, and the record of its fixes in the module report.

`state` here is the run's state as a plain mapping (only read)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..model.grammar import render_files
from ..state import Architecture, ModuleSpec
from .project import ProjectFile

__all__ = ["files_to_fix", "merge_files", "next_fixes", "runtime_fixes"]


def files_to_fix(spec: ModuleSpec, evidence: str | None) -> list[str] | None:
    """In a fix round, the module's files its evidence names, when that is some but not all of
    them (the reply then rewrites only those); None: it rewrites every file."""
    if not evidence or len(spec.files) < 2:
        return None
    named = [f for f in spec.files if re.search(rf"(?<![\w/.]){re.escape(f)}(?![\w])", evidence)]
    return named if named and len(named) < len(spec.files) else None


def merge_files(spec: ModuleSpec, own: list[ProjectFile], rewritten: list[ProjectFile]) -> str:
    """The module's artifact after a partial rewrite: each declared file from the rewrite when
    it holds it, else as it was; in the plan's order."""
    new = {f.path: f for f in rewritten}
    old = {f.path: f for f in own}
    files = [new.get(path) or old.get(path) for path in spec.files]
    extra = [f for f in own if f.path not in spec.files]
    return render_files([f for f in files if f is not None] + extra)


def next_fixes(
    state: Mapping[str, Any],
    architecture: Architecture,
    spec: ModuleSpec,
    update: dict[str, Any],
    rest: list[str],
    face: dict[str, Any],
) -> dict[str, Any]:
    """The fix queue after this module: readers of the keys it re-published with new values, and
    the modules built against its interface when that changed, are re-run after it (once a
    round), in execution order."""
    shared_state = state.get("shared_state") or {}
    changed = {key for key, value in update.items() if shared_state.get(key) != value}
    seen = list(state.get("fix_seen") or [])
    readers = [m.id for m in architecture.modules if m.id not in seen and changed & set(m.shared_state_reads)]
    old = (state.get("interfaces") or {}).get(spec.id)
    if old is not None and old.get("files") != face.get("files"):
        rows = (state.get("integration_report") or {}).get("consistency") or []
        users = {row["module"] for row in rows if row.get("kind") == "reference" and row.get("target") == spec.id}
        readers += [
            m.id
            for m in architecture.modules
            if m.id not in seen and m.id not in readers and (spec.id in m.dependencies or m.id in users)
        ]
    order = state.get("execution_order") or []
    queue = sorted(dict.fromkeys([*rest, *readers]), key=lambda m: order.index(m) if m in order else len(order))
    return {"fix_queue": queue, "fix_seen": [*seen, *readers]}


def runtime_fixes(state: Mapping[str, Any], module_id: str, fixing: bool, evidence: str | None) -> list[dict[str, Any]]:
    """The module's fix rounds so far, as its report keeps them: those of its previous report,
    and this one when it is a fix round (its evidence, or a module it reads from changed)."""
    previous = (state.get("module_reports") or {}).get(module_id) or {}
    fixes = list(previous.get("runtime_fixes") or [])
    if fixing:
        fixes.append(
            {
                "round": state.get("fix_round") or 0,
                "evidence": (evidence or "")[:2000],
                "reason": "runtime failure" if evidence else "a module it reads from changed",
            }
        )
    return fixes
