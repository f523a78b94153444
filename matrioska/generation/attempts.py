"""One module's attempts: ask, judge, keep the better, repair (a bounded loop), and what came out
of them (the kept attempt, the module report, the interface it publishes).

Each attempt asks for the module's reply (K candidates with best-of-N sampling, the best one
chosen), asks again for the declared keys a reply left out, keeps it unless it is worse than
the attempt kept so far, and, while problems are left and repairs allowed, asks for a repair
with what is wrong. In a fix round the module's current files are attempt 0: a reply must beat
them to replace them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..model.budget import TokenCounter
from ..model.calls import GenerationMeter, emit
from ..model.grammar import ReplyFrame
from ..model.ledger import step
from ..plan.parsing import ModuleReply, parse_module_reply
from ..state import ModuleSpec
from .answers import answers, ask_for_missing_keys, repeated, unchanged
from .candidates import candidates_line, mark_kept
from .fixes import merge_files
from .judge import Judge, choose, discard_reason, rescore
from .project import ProjectFile, extract_files
from .prompt import repair_messages
from .readings import Readings
from .records import Attempt, Candidate, ModuleReport

__all__ = ["Asking", "ModuleAttempts", "Outcome", "scenarios_passed"]


@dataclass
class Asking:
    """How a module's replies are asked for: the model, the run's progress events (`runtime`,
    passed through to `model.calls.emit`), the reply's frame, the prompt's token budget and its
    counter, the meter of what was generated, the candidates per attempt and their temperature,
    and the re-asks and repairs allowed."""

    llm: Any
    runtime: Any
    frame: ReplyFrame | None
    counter: TokenCounter
    budget: int
    meter: GenerationMeter
    samples: int = 1
    temperature: float | None = None
    max_update_retries: int = 1
    max_repairs: int = 2


@dataclass
class Outcome:
    """What a module's attempts came to: the kept attempt, how many attempts ran, the repairs
    asked (each attempt's problems), the attempts discarded, the candidates with one line per
    sampled attempt, the last prompt sent and the path the last replies took."""

    kept: Attempt
    attempts: int
    history: list[dict[str, Any]]
    discarded: list[str]
    candidates: list[Candidate]
    lines: dict[int, str]
    follow_up: list[Any]
    reply_path: str
    asking: Asking = field(repr=False)
    unchanged: int = 0

    def report(
        self,
        spec: ModuleSpec,
        shared_state: dict[str, Any],
        *,
        model: str,
        rewrite: list[str] | None,
        prompt: dict[str, Any],
        runtime_fixes: list[dict[str, Any]],
    ) -> ModuleReport:
        """The module report (`records.ModuleReport`); marks the kept candidate."""
        kept, reply = self.kept, self.kept.reply
        files = kept.files
        return ModuleReport(
            name=spec.label,
            reads=[key for key in spec.shared_state_reads if key in shared_state],
            missing_reads=[key for key in spec.shared_state_reads if key not in shared_state],
            written=sorted(reply.update),
            dropped_keys=reply.dropped_keys,
            missing_keys=reply.missing_keys,
            notes=reply.notes,
            chars=len(reply.artifact),
            empty_reply=not kept.text,
            files=kept.checks,
            file_count=len(files),
            extra_files=sorted({f.path for f in files} - set(spec.files)) if spec.files else [],
            problems=kept.problems,
            attempts=self.attempts,
            repairs=self.history,
            kept_attempt=kept.attempt,
            discarded=self.discarded,
            derived_keys=kept.derived,
            dropped_files=kept.dropped,
            near_miss_edits=kept.near_miss_edits,
            references={
                "checked": len(kept.references),
                "broken": sum(1 for r in kept.references if r["status"] == "broken"),
            },
            model=model,
            replies=self.reply_path,
            rewrote=rewrite,
            samples=self.asking.samples,
            candidates=self.candidates,
            candidates_line=mark_kept(self.candidates, self.lines, kept) if self.candidates else "",
            sample_temperature=self.asking.temperature,
            generation=self.asking.meter.report(),
            prompt_sha256=hashlib.sha256("\n\n".join(str(m.content) for m in self.follow_up).encode()).hexdigest(),
            prompt=prompt,
            runtime_fixes=runtime_fixes,
            analyzer_fixes=[fix.to_dict() for fix in kept.analyzer_fixes],
            analyzer_notes=kept.analyzer_notes,
            unchanged_fixes=self.unchanged,
        )

    def interface(self, module_id: str, readings: Readings) -> dict[str, Any]:
        """The interface the module publishes: that of its valid files, a file with problems
        named as having none until it is repaired."""
        face = readings.interface(module_id, self.kept.valid)
        face["problems"] = [
            *(
                f"{c['path']} has problems: it has no interface until it is repaired"
                for c in self.kept.checks
                if not c["valid"]
            ),
            *face["problems"],
        ]
        return face


class ModuleAttempts:
    """The attempt loop of one module (see the module docstring). `checker`: each candidate's
    own check in the sandbox (`candidates.OwnCheck`), None when nothing may run or one candidate
    is asked; `rewrite`: the files a fix round rewrites (the others stay as `own`, the module's
    current files)."""

    def __init__(
        self,
        asking: Asking,
        spec: ModuleSpec,
        judge: Judge,
        checker: Callable[[Attempt], None] | None,
        rewrite: list[str] | None = None,
        own: list[ProjectFile] | None = None,
    ) -> None:
        self.asking, self.spec, self.judge, self.checker = asking, spec, judge, checker
        self.rewrite, self.own = rewrite, own or []
        self.attempts = 0
        self.history: list[dict[str, Any]] = []
        self.discarded: list[str] = []
        self.candidates: list[Candidate] = []
        self.lines: dict[int, str] = {}  # each sampled attempt's `candidates_line`
        self.kept: Attempt | None = None
        self.reply_path = ""
        self.hotter = False  # the last attempt left the errors it was to fix: the next one samples
        self.unchanged = 0  # replies that changed nothing of the attempt they were to fix
        self.behaviour: Callable[[Attempt], int] | None = None
        """Examples an attempt's files pass (issue 41): set, attempts are compared by behaviour
        first (these and the scenarios its own check passed), by problems second."""

    def start_from(self, current: ModuleReply) -> None:
        """A fix round's current files as attempt 0: the fix's replies compete with them, and a
        worse reply is discarded."""
        self.kept = self.judge(0, "", current)
        if self.checker is not None:
            self.checker(self.kept)
            self.candidates.append(Candidate.of(self.kept))

    def offer(self, text: str, path: str, messages: list[Any]) -> Attempt:
        """A reply made without asking for the whole module (the function path, issue 35) as
        this module's attempt: judged, checked in the sandbox, its missing keys asked for, and
        kept unless it is worse than the attempt kept so far (a fix round's current files)."""
        self.attempts += 1
        reply = parse_module_reply(text, self.spec.shared_state_writes)
        attempt = self.judge(self.attempts, text, reply)
        attempt.number, attempt.path = 1, path
        self.reply_path = path
        if attempt.missing_keys:
            attempt = self._fill_missing_keys(attempt, messages)
        return self._keep_better(attempt)

    def outcome(self, follow_up: list[Any]) -> Outcome:
        """What the attempts so far came to, without asking for more."""
        assert self.kept is not None
        return Outcome(
            self.kept,
            self.attempts,
            self.history,
            self.discarded,
            self.candidates,
            self.lines,
            follow_up,
            self.reply_path,
            self.asking,
            self.unchanged,
        )

    def run(self, messages: list[Any]) -> Outcome:
        """Attempts until one leaves no problem or the repairs allowed are spent."""
        follow_up = messages
        while True:
            self.attempts += 1
            target = self.kept  # the attempt this one is to fix (a repair's, a fix round's current files)
            with step("repairs") if self.attempts > 1 else contextlib.nullcontext():
                attempt = self._attempt(follow_up)
            still = target is not None and bool(target.problems) and unchanged(attempt, target)
            kept = self._unchanged(attempt) if still else self._keep_better(attempt)
            if not kept.problems or self.attempts > max(0, self.asking.max_repairs):
                break
            self.hotter = still or (target is not None and repeated(attempt, target))
            # A bounded repair loop: the same hyperfocus prompt, the answer, and what is wrong with it.
            self.history.append({"attempt": self.attempts, "problems": attempt.problems})
            emit(
                self.asking.runtime, "module_repair", module=self.spec.id, attempt=self.attempts, problems=kept.problems
            )
            follow_up = repair_messages(
                messages,
                kept.text or attempt.text,
                kept.problems,
                files=kept.files,
                interfaces=self.judge.others,
                module_id=self.spec.id,
            )
        return self.outcome(follow_up)

    def _attempt(self, messages: list[Any]) -> Attempt:
        """One attempt: its candidates asked and judged, the best chosen, the keys it left out
        asked again; with several candidates, their line and records."""
        asking, spec = self.asking, self.spec
        got = answers(
            asking.llm,
            messages,
            spec,
            asking.runtime,
            asking.meter,
            asking.frame,
            asking.samples,
            asking.temperature,
            self.hotter,
        )
        judged = []
        for number, (text, reply, path) in enumerate(got, 1):
            if self.rewrite:  # a fix round rewrote some of its files: the others stay as they were
                reply.artifact = merge_files(spec, self.own, extract_files(reply.artifact, spec.id, self.rewrite))
            attempt = self.judge(self.attempts, text, reply)
            attempt.number, attempt.path = number, path
            judged.append(attempt)
        attempt = choose(judged, self.checker)
        self.reply_path = attempt.path or ""
        if attempt.missing_keys:
            attempt = self._fill_missing_keys(attempt, messages)
        if len(judged) > 1:
            self.lines[self.attempts] = candidates_line(judged, attempt)
            self.candidates += [Candidate.of(a) for a in judged]
            emit(
                asking.runtime,
                "module_candidates",
                module=spec.id,
                attempt=self.attempts,
                line=self.lines[self.attempts],
            )
        return attempt

    def _fill_missing_keys(self, attempt: Attempt, messages: list[Any]) -> Attempt:
        """The attempt judged again after asking for the declared keys its reply left out (a new
        record: the candidates as judged keep theirs); its own check's failures stay."""
        asking = self.asking
        text, reply = attempt.text, attempt.reply
        for number in range(1, max(0, asking.max_update_retries) + 1):
            ask_for_missing_keys(
                asking.llm, messages, text, reply, number, asking.runtime, asking.counter, asking.budget, asking.meter
            )
            if not reply.missing_keys:
                break
        judged = self.judge(self.attempts, text, reply)
        again = replace(judged, number=attempt.number, path=attempt.path, own_check=attempt.own_check)
        if self.checker is not None and again.own_check:
            again.problems += again.own_check["problems"]
            again.score = rescore(again)
        return again

    def _keep_better(self, attempt: Attempt) -> Attempt:
        """The attempt kept after this one: this one, unless it is worse than the one kept so
        far (then it is discarded, and said so)."""
        worse = self._worse_behaviour(attempt) if self.behaviour is not None else None
        if worse is None:
            worse = discard_reason(attempt, self.kept)
        if self.kept is not None and worse:
            which = f"attempt {self.kept.attempt}" if self.kept.attempt else "the current files"
            self.discarded.append(f"kept {which}: attempt {self.attempts} {worse}")
            emit(
                self.asking.runtime,
                "attempt_discarded",
                module=self.spec.id,
                attempt=self.attempts,
                reason=self.discarded[-1],
            )
        else:
            self.kept = attempt
        return self.kept

    def _unchanged(self, attempt: Attempt) -> Attempt:
        """A reply that changed nothing of the attempt it was to fix: never kept as the fix
        (counted, said; the next attempt samples hotter)."""
        assert self.kept is not None
        self.unchanged += 1
        which = f"attempt {self.kept.attempt}" if self.kept.attempt else "the current files"
        self.discarded.append(f"kept {which}: attempt {self.attempts} changed nothing (the same files or failures)")
        emit(self.asking.runtime, "fix_unchanged", module=self.spec.id, attempt=self.attempts)
        return self.kept

    def _worse_behaviour(self, attempt: Attempt) -> str | None:
        """By behaviour: "" when the attempt passes more examples and scenarios than the kept one
        (it is kept), why when fewer, None when as many (problems decide)."""
        kept = self.kept
        if kept is None or self.behaviour is None:
            return None
        for one in (attempt, kept):
            if one.behaviour is None:
                one.behaviour = self.behaviour(one) + scenarios_passed(one)
        if attempt.behaviour == kept.behaviour:
            return None
        if (attempt.behaviour or 0) > (kept.behaviour or 0):
            return ""
        return f"passed {attempt.behaviour} examples and scenarios, against {kept.behaviour}"


def scenarios_passed(attempt: Attempt) -> int:
    """The acceptance scenarios the attempt's own check passed (0 when it did not run)."""
    checks = (attempt.own_check or {}).get("checks") or []
    return sum(1 for c in checks if str(c.get("command", "")).startswith("acceptance:") and c.get("ok"))
