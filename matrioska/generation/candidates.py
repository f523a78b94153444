"""A module's candidates (best-of-N, issue 27): each one's own check in the sandbox, and what
the module report says of them (one line per attempt, the kept candidate marked)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..plan.acceptance import plan_owners, scenario_modules
from ..state import Architecture, ModuleSpec
from .judge import rescore
from .project import ProjectFile
from .records import Attempt, Candidate

__all__ = ["OwnCheck", "candidates_line", "mark_kept"]


class OwnCheck:
    """A candidate's own runnable check (issue 27), in the sandbox: its files beside the
    current files of the other modules; its imports, its tests where it holds tests, its entry
    points and pages, and the acceptance scenarios touching only its files.

    `check` is `checking.verify.module_check` with the sandbox and the run's options bound (the
    node hands it in: checking sits above this wing); `project`: the project's current files;
    `pending`: the planned files of the modules not built yet."""

    def __init__(
        self,
        architecture: Architecture,
        spec: ModuleSpec,
        project: Iterable[ProjectFile],
        acceptance: list[dict[str, Any]],
        module_ids: list[str],
        pending: set[str],
        check: Callable[..., dict[str, Any]],
    ) -> None:
        self.spec, self.check = spec, check
        others = [f for f in project if f.module not in (spec.id, "assembler")]
        self.files = {f.path: f.content for f in others}  # the other modules' current files
        self.owners = {f.path: f.module for f in others}
        owners, dependencies = plan_owners(architecture.modules)
        self.dependencies = dependencies
        self.scenarios = [
            s for s in acceptance if scenario_modules(s, owners, dependencies, with_dependencies=False) == [spec.id]
        ]
        self.module_ids = module_ids
        self.pending = sorted(pending)

    def __call__(self, attempt: Attempt) -> None:
        """Run the check on an attempt (a judged reply); its failures join its problems."""
        files, owners = dict(self.files), dict(self.owners)
        for f in attempt.files:
            files[f.path], owners[f.path] = f.content, self.spec.id
        found = self.check(
            files,
            owners,
            self.spec.id,
            acceptance=self.scenarios,
            pending=self.pending,
            dependencies=self.dependencies,
            module_ids=self.module_ids,
        )
        attempt.own_check = found
        attempt.problems = [*attempt.problems, *found["problems"]]
        attempt.score = rescore(attempt)


def candidates_line(judged: list[Attempt], chosen: Attempt) -> str:
    """`3 candidates: [0, 2, 1] problems, kept #1`; candidates whose own check was not run (one
    before them passed it) are named."""
    counts = [len(a.problems) for a in judged]
    unrun = [f"#{a.number}" for a in judged if not a.problems and not a.own_check and a is not chosen]
    skipped = f" ({', '.join(unrun)} not run: an earlier candidate passed)" if unrun and chosen.own_check else ""
    return f"{len(judged)} candidates: {counts} problems, kept #{chosen.number}{skipped}"


def mark_kept(candidates: list[Candidate], lines: dict[int, str], kept: Attempt) -> str:
    """Mark the kept candidate among the module's candidates; the line of the attempt it came
    from (the last one when the current files were kept)."""
    for record in candidates:
        record.kept = record.attempt == kept.attempt and record.number == kept.number
    line = lines.get(kept.attempt, "")
    if not line and lines:
        line = lines[max(lines)].rsplit(", kept #", 1)[0] + ", kept the current files"
    return line
