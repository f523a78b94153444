"""The records of one module's work: an attempt (a judged reply), a candidate (an attempt as
the module report keeps it) and the module report.

Each gives, with `to_dict()`, exactly the dict the executor always wrote: the module report
lands in the graph state (`module_reports`, plain dicts: converted at the node) and in the
files a run writes, the candidates inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..kinds.analyzers import Finding, Fix
from ..plan.parsing import ModuleReply
from .project import ProjectFile

__all__ = ["Attempt", "Candidate", "ModuleReport"]


@dataclass
class Attempt:
    """One reply of a module as the judge read it (`judge.Judge`): its files, the checks of
    each, the valid ones, its references, its problems and its score (lower is better).
    `number` and `path` say which of the attempt's candidates it is and how its reply came
    (the current files of a fix round, attempt 0, have neither); `own_check` is its check in
    the sandbox once it ran."""

    attempt: int
    text: str
    reply: ModuleReply
    files: list[ProjectFile]
    checks: list[dict[str, Any]]
    valid: list[ProjectFile]
    references: list[dict[str, Any]]
    problems: list[str]
    missing_keys: list[str]
    derived: list[str]
    dropped: list[str]
    near_miss_edits: list[dict[str, Any]]
    score: tuple[int, ...]
    number: int = 0
    path: str | None = None
    own_check: dict[str, Any] | None = None
    analyzer_fixes: list[Fix] = field(default_factory=list)
    """What the analyzers' findings fixed in its files without the model (issue 34)."""
    analyzer_notes: list[str] = field(default_factory=list)
    """The analyzers that could not run (one missing): their checks left to the parsers."""
    findings: list[Finding] = field(default_factory=list)
    """What the analyzers found in its files after their fixes (kept for the next attempt to be
    compared with; not part of the dict)."""
    behaviour: int | None = None
    """Examples and scenarios its files passed when attempts are compared by behaviour (issue 41:
    the function path's files against a whole-module reply); None: not measured."""

    def to_dict(self) -> dict[str, Any]:
        """The attempt as the executor's dict had it (`number` and `path` only for a candidate,
        `own_check` only once it ran, the analyzers' fixes and notes only when there are some)."""
        out = {
            "attempt": self.attempt,
            "text": self.text,
            "reply": self.reply,
            "files": self.files,
            "checks": self.checks,
            "valid": self.valid,
            "references": self.references,
            "problems": self.problems,
            "missing_keys": self.missing_keys,
            "derived": self.derived,
            "dropped": self.dropped,
            "near_miss_edits": self.near_miss_edits,
            "score": self.score,
        }
        if self.path is not None:
            out |= {"number": self.number, "path": self.path}
        if self.own_check is not None:
            out["own_check"] = self.own_check
        if self.analyzer_fixes:
            out["analyzer_fixes"] = [fix.to_dict() for fix in self.analyzer_fixes]
        if self.analyzer_notes:
            out["analyzer_notes"] = self.analyzer_notes
        if self.behaviour is not None:
            out["behaviour"] = self.behaviour
        return out


@dataclass
class Candidate:
    """A candidate as the module report keeps it (in the checkpoint, not in the project): its
    problems (counted, the first five), whether its own check ran and what it ran, whether it
    was kept, and its artifact."""

    attempt: int
    number: int
    problems: int
    problem_list: list[str]
    checked: bool
    checks: list[Any]
    kept: bool
    chars: int
    artifact: str

    @classmethod
    def of(cls, attempt: Attempt) -> Candidate:
        """The record of a judged attempt (not kept until the module's work says so)."""
        check = attempt.own_check
        return cls(
            attempt=attempt.attempt,
            number=attempt.number,
            problems=len(attempt.problems),
            problem_list=[p[:300] for p in attempt.problems[:5]],
            checked=bool(check and check["ran"]),
            checks=list(check["checks"]) if check else [],
            kept=False,
            chars=len(attempt.reply.artifact),
            artifact=attempt.reply.artifact,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "number": self.number,
            "problems": self.problems,
            "problem_list": self.problem_list,
            "checked": self.checked,
            "checks": self.checks,
            "kept": self.kept,
            "chars": self.chars,
            "artifact": self.artifact,
        }


@dataclass
class ModuleReport:
    """What one module's run did, as the graph state's `module_reports` holds it: what it read
    and wrote, its files and problems, its attempts, repairs and candidates, the model and the
    path its replies took, its prompt's size. Fields that are empty in most runs
    (`near_miss_edits`, `analyzer_fixes`, `analyzer_notes`, `rewrote`, the candidates,
    `runtime_fixes`) are left out when empty;
    `prompt` (the prompt's size report) is spread at the end as it always was."""

    name: str
    reads: list[str]
    missing_reads: list[str]
    written: list[str]
    dropped_keys: list[str]
    missing_keys: list[str]
    notes: list[str]
    chars: int
    empty_reply: bool
    files: list[dict[str, Any]]
    file_count: int
    extra_files: list[str]
    problems: list[str]
    attempts: int
    repairs: list[dict[str, Any]]
    kept_attempt: int
    discarded: list[str]
    derived_keys: list[str]
    dropped_files: list[str]
    near_miss_edits: list[dict[str, Any]]
    references: dict[str, int]
    model: str
    replies: str
    rewrote: list[str] | None
    samples: int
    candidates: list[Candidate]
    candidates_line: str
    sample_temperature: float | None
    generation: dict[str, Any]
    prompt_sha256: str
    prompt: dict[str, Any] = field(default_factory=dict)
    runtime_fixes: list[dict[str, Any]] = field(default_factory=list)
    analyzer_fixes: list[dict[str, Any]] = field(default_factory=list)
    """What the analyzers' findings fixed without the model in the kept attempt (Fix dicts)."""
    analyzer_notes: list[str] = field(default_factory=list)
    """An analyzer missing here (its checks left to Matrioska's parsers)."""
    unchanged_fixes: int = 0
    """Repairs or fix-round replies that changed nothing (issue 41): the same files, or the same
    findings and failures as the attempt they were to fix; never kept as the fix."""

    def to_dict(self) -> dict[str, Any]:
        """The report as the executor always wrote it (same keys, same order, same omissions)."""
        head = {
            "name": self.name,
            "reads": self.reads,
            "missing_reads": self.missing_reads,
            "written": self.written,
            "dropped_keys": self.dropped_keys,
            "missing_keys": self.missing_keys,
            "notes": self.notes,
            "chars": self.chars,
            "empty_reply": self.empty_reply,
            "files": self.files,
            "file_count": self.file_count,
            "extra_files": self.extra_files,
            "problems": self.problems,
            "attempts": self.attempts,
            "repairs": self.repairs,
            "kept_attempt": self.kept_attempt,
            "discarded": self.discarded,
            "derived_keys": self.derived_keys,
            "dropped_files": self.dropped_files,
        }
        return {
            **head,
            **({"near_miss_edits": self.near_miss_edits} if self.near_miss_edits else {}),
            **({"analyzer_fixes": self.analyzer_fixes} if self.analyzer_fixes else {}),
            **({"analyzer_notes": self.analyzer_notes} if self.analyzer_notes else {}),
            **({"unchanged_fixes": self.unchanged_fixes} if self.unchanged_fixes else {}),
            "references": self.references,
            "model": self.model,
            "replies": self.replies,
            **({"rewrote": self.rewrote} if self.rewrote else {}),
            "samples": self.samples,
            **(self._candidates() if self.candidates else {}),
            "generation": self.generation,
            "prompt_sha256": self.prompt_sha256,
            **self.prompt,
            **({"runtime_fixes": self.runtime_fixes} if self.runtime_fixes else {}),
        }

    def _candidates(self) -> dict[str, Any]:
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "candidates_line": self.candidates_line,
            "sample_temperature": self.sample_temperature,
        }
