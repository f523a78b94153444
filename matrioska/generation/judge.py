"""What a module's attempt is worth, read without the model, and which attempt is kept.

- `Judge`: an attempt's files (blocks fitting no declared file and files another module owns
  dropped, an update assigned in the code taken out of it), its update (keys the code or the
  interface answers filled), its problems, its references (near misses repaired in place), the
  analyzers' findings (ruff, oxlint; what they allow fixed without the model: an import added,
  a local renamed, a script tag made a module; each error left a problem), and a score
  (`precision.attempt_score`, lower is better: fewer analyzer errors, undefined names first).
- `choose`: the best of an attempt's candidates (best-of-N), cheapest judgement first.
- `discard_reason`: the better-attempt rule: a new attempt worse than the kept one is discarded;
  a fix replaces the current files only when it beats them on the check that fails them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..kinds.analyzers import JS_SUFFIXES, Analysis, Finding, Fix, analyze
from ..kinds.python.fixes import fix_python
from ..kinds.web.fixes import fix_web, library_problem, script_problems
from ..model.calls import emit
from ..model.grammar import render_files
from ..plan.parsing import ModuleReply
from ..state import Architecture, ModuleSpec
from .fixes import Definitions, definitions, finding_lines, import_names, interface_entries, page_globals
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

__all__ = ["Judge", "Findings", "rescore", "own_failures", "choose", "discard_reason", "announce"]

_EMPTY: tuple[Any, ...] = (None, "", [], {})
_PAGES = (".html", ".htm")
_SYNTAX = ("syntax", "invalid-syntax")


@dataclass
class Findings:
    """The analyzers over one attempt's files, after what they fixed without the model: the
    files, the fixes, the findings left, what the project defines (for the problems' hints) and
    the analyzers' notes (one missing)."""

    files: list[ProjectFile]
    fixes: list[Fix] = field(default_factory=list)
    analysis: Analysis = field(default_factory=Analysis)
    defined: Definitions = field(default_factory=dict)
    left: list[str] = field(default_factory=list)
    """What `fix_python` left alone and why (`path:line name left undefined: two close ...`)."""


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
        self.declared: frozenset[str] = frozenset()
        """The names the contract declares for this module (issue 40): read identifiers it must use."""
        self.mend: Callable[[list[ProjectFile]], tuple[list[ProjectFile], list[str]]] | None = None
        """Mends a reply's files without the model before they are judged (a page's contract ids
        put back), with one note per edit."""
        self.mended: list[str] = []

    def __call__(self, number: int, text: str, reply: ModuleReply) -> Attempt:
        spec = self.spec
        files, dropped, prose, derived = self._files(reply)
        if self.mend is not None:
            files, notes = self.mend(files)
            if notes:
                reply.artifact = render_files(files)
                self.mended += [n for n in notes if n not in self.mended]
        problems, checks, valid = self._problems(files, reply, prose)
        references = self.readings.references(spec.id, valid, self.others, pending_paths=self.pending)
        near = self.readings.near_misses(
            spec.id, files, references, self.others, valid=valid, pending_paths=self.pending
        )
        if near.edits:  # references one close name away, fixed in place without the model (issue 26)
            files, references, reply.artifact = near.files, near.rows, render_files(near.files)
            problems, checks, valid = self._problems(files, reply, prose)
        found = self._analyzers(files)  # the field's analyzers; their one-line fixes (issue 34)
        if found.fixes:
            files, reply.artifact = found.files, render_files(found.files)
            problems, checks, valid = self._problems(files, reply, prose)
            references = self.readings.references(spec.id, valid, self.others, pending_paths=self.pending)
        broken = [row for row in references if row["status"] == "broken"]
        problems += [f"{row['where']}: {row['reference']}: {row['problem']}{near.note(row)}" for row in broken]
        found_problems, undefined, errors = self._finding_problems(found, checks)
        problems += found_problems
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
            score=attempt_score(
                len(files),
                missing,
                invalid,
                len(broken),
                len(problems),
                unparsed(files),
                undefined=undefined,
                analyzer_errors=errors,
            ),
            analyzer_fixes=found.fixes,
            analyzer_notes=found.analysis.notes,
            findings=found.analysis.findings,
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

    def _analyzers(self, files: list[ProjectFile]) -> Findings:
        """ruff and oxlint over the attempt's files (its scripts told the globals the other
        modules' scripts declare), what their findings fix without the model (`fix_python`,
        `fix_web`), and the changed files analyzed again."""
        texts = {f.path: f.content for f in files}
        # the names other scripts declare matter only to scripts and pages
        scripted = any(p.lower().endswith((*JS_SUFFIXES, *_PAGES)) for p in texts)
        globals_ = page_globals(self.others, texts) if scripted else set()
        analysis = analyze(texts, globals_=globals_)
        defined: Definitions = {}
        if analysis.findings:  # where each name is defined: only findings ask
            own = self.readings.interface(self.spec.id, files)
            entries = [*interface_entries(self.others), *((self.spec.id, e) for e in own.get("files") or [])]
            defined = definitions(entries)
        found = Findings(files, analysis=analysis, defined=defined)
        left: list[str] = []
        fixed, made = (
            fix_python(texts, analysis.findings, import_names(defined), notes=left) if analysis.errors else (texts, [])
        )
        found.left = left
        more: list[Fix] = []
        if any(p.lower().endswith(JS_SUFFIXES) for p in texts):  # oxlint reads `export` as fine: not an error
            pages = {p: t for p, t in fixed.items() if p.lower().endswith(_PAGES)}
            fixed, more = fix_web(dict(fixed), analysis.findings, pages)
        changed = {p: t for p, t in fixed.items() if t != texts.get(p)}
        if not changed:
            return found
        again = analyze(changed, globals_=globals_)
        analysis.findings = [f for f in analysis.findings if f.path not in changed] + again.findings
        analysis.notes += [n for n in again.notes if n not in analysis.notes]
        found.files = [replace(f, content=changed[f.path]) if f.path in changed else f for f in files]
        found.fixes = [fix for fix in [*made, *more] if fix.path in changed]
        return found

    def _finding_problems(self, found: Findings, checks: list[dict[str, Any]]) -> tuple[list[str], int, int]:
        """The analyzers' errors left as module problems (`path:line code message`, an undefined
        name with the module that defines it or its close candidates; a library's global with
        what to use instead), the classic page scripts with `import`/`export` left, and how many
        errors were undefined names and how many others. A syntax error of a file its own check
        already fails is not said twice; a script's undefined name is not judged while another
        module's scripts or pages are still to come (they may declare it)."""
        invalid = {c["path"] for c in checks if not c["valid"]}
        waiting = any(p.lower().endswith(JS_SUFFIXES + _PAGES) for p in self.pending)
        texts = {f.path: f.content for f in found.files}
        problems: list[str] = []
        kept: list[Finding] = []
        for finding in found.analysis.errors:
            library = library_problem(finding)
            if library:
                problems.append(library)
            elif finding.code in _SYNTAX and finding.path in invalid:
                continue
            elif not (waiting and finding.undefined and finding.path.lower().endswith(JS_SUFFIXES)):
                kept.append(finding)
        lines = finding_lines(kept, texts, found.defined, self.spec.id, limit=max(1, len(kept)))
        for note in found.left:  # a rename not made: the name's problem says why (issue 41)
            where, _, why = note.partition(" ")
            name, _, reason = why.partition(" left undefined: ")
            lines = [
                f"{line}; not renamed: {reason}" if line.startswith(where + " ") and f"`{name}`" in line else line
                for line in lines
            ]
        problems += lines
        pages = {p: t for p, t in texts.items() if p.lower().endswith(_PAGES)}
        problems += script_problems(texts, pages)
        mine = set(kept)  # findings are frozen: a set, not a list scan per finding (quadratic on 400 of them)
        counted = [f for f in found.analysis.errors if f in mine or library_problem(f)]
        undefined = sum(1 for f in counted if f.undefined)
        return problems, undefined, len(counted) - undefined

    def _problems(
        self, files: list[ProjectFile], reply: ModuleReply, prose: list[str]
    ) -> tuple[list[str], list[dict[str, Any]], list[ProjectFile]]:
        """The files' problems (prose and JSON written as code included), their checks, and the
        valid ones."""
        problems, checks = module_problems(
            self.spec, files, reply.update, self.read_values, prompt=self.prompt_text, declared=self.declared
        )
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


def announce(runtime: Any, module_id: str, kept: Attempt, reports: Mapping[str, Any]) -> None:
    """Say what the analyzers fixed in the kept attempt without the model (`analyzer_fixed`, one
    event a fix), and, once a run, an analyzer that is missing (`analyzers_missing`: not when an
    earlier module's report in `reports`, the run's state, already holds the note)."""
    for fix in kept.analyzer_fixes:
        emit(runtime, "analyzer_fixed", stage="module", module=module_id, **fix.to_dict())
    said = {n for report in reports.values() for n in (report or {}).get("analyzer_notes") or []}
    notes = [n for n in kept.analyzer_notes if n not in said]
    if notes:
        emit(runtime, "analyzers_missing", module=module_id, notes=notes)
