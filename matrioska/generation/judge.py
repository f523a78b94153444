"""What a module's attempt is worth, read without the model, and which attempt is kept.

- `Judge`: an attempt's files (blocks fitting no declared file and files another module owns
  dropped, an update assigned in the code taken out of it), its update (keys the code or the
  interface answers filled), its problems, its references (near misses repaired in place), and
  a score (`precision.attempt_score`, lower is better).
- `choose`: the best of an attempt's candidates (best-of-N), cheapest judgement first.
- `discard_reason`: the better-attempt rule: a new attempt worse than the kept one is discarded;
  a fix replaces the current files only when it beats them on the check that fails them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.grammar import render_files
from ..plan.parsing import ModuleReply
from ..state import Architecture, ModuleSpec
from .precision import (
    attempt_score,
    derive_update,
    json_as_code,
    prose_files,
    unparsed,
    update_in_code,
    worse_reason,
)
from .project import ProjectFile, extract_files, module_problems
from .readings import Readings
from .records import Attempt

__all__ = ["Judge", "rescore", "own_failures", "choose", "discard_reason"]

_EMPTY: tuple[Any, ...] = (None, "", [], {})


class Judge:
    """What a module's attempt is worth, read without the model: its files (blocks fitting no
    declared file and files another module owns dropped, an update assigned in the code taken
    out of it), its update (keys the code or the interface answers filled), its problems, its
    references, and a score to keep the better of two attempts (`precision.attempt_score`)."""

    def __init__(
        self,
        architecture: Architecture,
        spec: ModuleSpec,
        read_values: dict[str, Any],
        prompt_text: str,
        others: dict[str, dict[str, Any]],
        pending: set[str],
        readings: Readings,
    ) -> None:
        self.spec, self.read_values, self.prompt_text = spec, read_values, prompt_text
        self.others, self.pending, self.readings = others, pending, readings
        self.owners = {p.lower(): m.id for m in architecture.modules if m.id != spec.id for p in m.files}

    def __call__(self, number: int, text: str, reply: ModuleReply) -> Attempt:
        spec = self.spec
        files, dropped, prose, derived = self._files(reply)
        problems, checks, valid = self._problems(files, reply, prose)
        references = self.readings.references(spec.id, valid, self.others, pending_paths=self.pending)
        near = self.readings.near_misses(
            spec.id, files, references, self.others, valid=valid, pending_paths=self.pending
        )
        if near.edits:  # references one close name away, fixed in place without the model (issue 26)
            files, references, reply.artifact = near.files, near.rows, render_files(near.files)
            problems, checks, valid = self._problems(files, reply, prose)
        broken = [row for row in references if row["status"] == "broken"]
        problems += [f"{row['where']}: {row['reference']}: {row['problem']}{near.note(row)}" for row in broken]
        missing = sum(1 for p in problems if "your module owns is missing" in p)
        invalid = sum(1 for check in checks if not check["valid"])
        return Attempt(
            attempt=number,
            text=text,
            reply=reply,
            files=files,
            checks=checks,
            valid=valid,
            references=references,
            problems=problems,
            missing_keys=list(reply.missing_keys),
            derived=derived,
            dropped=dropped,
            near_miss_edits=near.edits,
            score=attempt_score(len(files), missing, invalid, len(broken), len(problems), unparsed(files)),
        )

    def _files(self, reply: ModuleReply) -> tuple[list[ProjectFile], list[str], list[str], list[str]]:
        """The reply's files and its update as the module may have them (the reply mended in
        place, its notes saying what changed): the files, those dropped, the prose taken out,
        and the keys derived from the module's interface."""
        spec = self.spec
        dropped: list[str] = []
        files = extract_files(reply.artifact, spec.id, spec.files, dropped)
        foreign = [f for f in files if f.path.lower() in self.owners]
        for f in foreign:
            dropped.append(f"{f.path} belongs to module {self.owners[f.path.lower()]!r}; dropped")
        files = [f for f in files if f not in foreign]
        files, prose = prose_files(files, self.prompt_text)  # prose is no file (issue 32): never written
        files, from_code, code_notes = update_in_code(files, spec.shared_state_writes)
        if dropped or code_notes or prose:
            reply.artifact = render_files(files)
        for key in spec.shared_state_writes:
            if reply.update.get(key) in _EMPTY and from_code.get(key) not in _EMPTY:
                reply.update[key] = from_code[key]
        interface = self.readings.interface(spec.id, files)
        reply.update, derived = derive_update(spec.shared_state_writes, reply.update, interface)
        reply.missing_keys = [key for key in spec.shared_state_writes if key not in reply.update]
        for note in [*code_notes, *dropped, *(f"{key} derived from the module's interface" for key in derived)]:
            if note not in reply.notes:
                reply.notes.append(note)
        return files, dropped, prose, derived

    def _problems(
        self, files: list[ProjectFile], reply: ModuleReply, prose: list[str]
    ) -> tuple[list[str], list[dict[str, Any]], list[ProjectFile]]:
        """The files' problems (prose and JSON written as code included), their checks, and the
        valid ones."""
        problems, checks = module_problems(self.spec, files, reply.update, self.read_values, prompt=self.prompt_text)
        problems += prose + json_as_code(files)
        valid = [f for f, check in zip(files, checks, strict=True) if check["valid"]]
        return problems, checks, valid


def rescore(attempt: Attempt) -> tuple[int, ...]:
    """An attempt's score with its problems as they are now (its own check's included)."""
    return (*attempt.score[:-1], len(attempt.problems))


def own_failures(attempt: Attempt) -> bool:
    """Whether the attempt's own check in the sandbox ran and failed."""
    return bool((attempt.own_check or {}).get("problems"))


def choose(judged: list[Attempt], checker: Callable[[Attempt], None] | None) -> Attempt:
    """The best of an attempt's candidates, cheapest judgement first: the static ones (files,
    problems, references) for all; then, in that order, the own check of those with nothing left,
    stopping at the first that passes it. Ties: fewest problems, then the shortest."""
    if checker is not None and len(judged) > 1:
        for candidate in sorted(judged, key=lambda a: (a.score, len(a.text))):
            if candidate.problems:
                break
            checker(candidate)
            if not candidate.problems:
                return candidate
    return min(judged, key=lambda a: (a.score, len(a.text), a.number))


def discard_reason(attempt: Attempt, kept: Attempt | None) -> str | None:
    """Why a new attempt is discarded for the kept one (None: it is kept instead). A worse one is
    (`precision.worse_reason`); against the current files of a fix round that fail their own
    check, one that does not beat them either."""
    if kept is None:
        return None
    worse = worse_reason(attempt.score, kept.score)
    if not worse and kept.attempt == 0 and own_failures(kept):
        worse = None if attempt.score < kept.score else "was no better than the current files"
    return worse
