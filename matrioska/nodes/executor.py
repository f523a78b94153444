"""Executor node: one module in hyperfocus (phase 2), looped by the conditional edges.

The module's prompt holds the project goal, its own spec and manual, and only the shared_state
keys it declares it reads: never another module's artifact. The reply is the artifact followed
by `SHARED_STATE_UPDATE:` and a JSON object; only the keys the module declared it writes reach
the shared state, and what was dropped or left missing is reported.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from matrioska import kinds
from matrioska.checking.interfaces import INTERFACE_CHARS, check_references, module_interface, render_interface
from matrioska.checking.nearmiss import apply_near_misses, describe_edit
from matrioska.checking.sandbox import resolve_sandbox
from matrioska.checking.verify import module_check
from matrioska.context import Context, resolve_llm
from matrioska.errors import MatrioskaError, RecursionBudgetError
from matrioska.generation.precision import (
    attempt_score,
    derive_update,
    json_as_code,
    prose_files,
    unparsed,
    update_in_code,
    worse_reason,
)
from matrioska.generation.project import ProjectFile, extract_files, module_problems, project_files
from matrioska.model.budget import TokenCounter, prompt_budget
from matrioska.model.calls import GenerationMeter, call_structured, emit, render_value
from matrioska.model.grammar import ReplyFrame, close_frame, grammar_model, render_files, reply_frame
from matrioska.model.sampling import sample_texts, sampling_mode, sampling_temperature
from matrioska.model.structured import constrained, update_schema
from matrioska.nodes.routing import max_parallel_of, next_pending, pending_count, remaining_waves
from matrioska.plan.acceptance import for_module, plan_owners, render_for_module, scenario_modules
from matrioska.plan.parsing import (
    UPDATE_MARKER,
    JSONExtractionError,
    ModuleReply,
    extract_json_object,
    parse_module_reply,
)
from matrioska.prompts import (
    EXECUTOR_REPAIR_PROMPT,
    EXECUTOR_RUNTIME_FIX_PROMPT,
    EXECUTOR_SYSTEM_PROMPT,
    EXECUTOR_UPDATE_RETRY_PROMPT,
    EXECUTOR_USER_PROMPT,
)
from matrioska.state import Architecture, MatrioskaState, ModuleSpec

# Without a token budget (none is known), a single shared-state value is still capped.
VALUE_LIMIT = 6000
# Shrinking rounds before giving up on fitting a prompt (each halves the overflow or better).
_MAX_SHRINK_ROUNDS = 40


def build_module_messages(
    architecture: Architecture,
    spec: ModuleSpec,
    shared_state: dict[str, Any],
    *,
    counter: TokenCounter | None = None,
    budget: int | None = None,
    interfaces: dict[str, dict[str, Any]] | None = None,
    acceptance: list[dict[str, Any]] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The hyperfocus prompt of one module (goal, own spec and manual, declared reads only, the
    interfaces of the modules it depends on), and a report of its size.

    With a token `counter` and `budget`, the shared-state values it reads and the interfaces are
    shortened, largest first, until the whole prompt fits: each shortened value stays valid JSON
    and says what it left out, an interface keeps its first lines per file; the report names
    what was shortened. `acceptance`: the run's scenarios; those that exercise the module's
    files are in its prompt as what must hold.
    """
    scenarios = render_for_module(for_module(acceptance or [], architecture.modules, spec.id))
    reads = {key: shared_state[key] for key in spec.shared_state_reads if key in shared_state}
    absent = [key for key in spec.shared_state_reads if key not in shared_state]
    # Start every value at a length no prompt within the budget could hold anyway (no tokenizer
    # averages 8 characters a token), so counting never tokenizes megabytes.
    cap = VALUE_LIMIT if budget is None else budget * 8
    rendered = {key: render_value(value) for key, value in reads.items()}
    limits: dict[str, int] = {key: cap for key, text in rendered.items() if len(text) > cap}
    for key, limit in limits.items():
        rendered[key] = render_value(reads[key], limit)
    # The interfaces of its direct dependencies, each under its own budget to start with.
    dependencies = {m: (interfaces or {}).get(m) for m in spec.dependencies}
    faces = {m: _interface_text(m, face, INTERFACE_CHARS) for m, face in dependencies.items()}
    face_limits: dict[str, int] = {}

    def shrink(name: str, over_chars: int) -> None:
        if name in rendered:
            limits[name] = max(48, min(len(rendered[name]) - over_chars, len(rendered[name]) // 2 + 1))
            rendered[name] = render_value(reads[name], limits[name])  # only the value that changed
        else:
            module = name.removeprefix("interface:")
            face_limits[module] = max(120, min(len(faces[module]) - over_chars, len(faces[module]) // 2 + 1))
            faces[module] = _interface_text(module, dependencies[module], face_limits[module])

    messages: list[Any] = []
    report: dict[str, Any] = {}
    for _ in range(_MAX_SHRINK_ROUNDS):
        messages = _module_messages(architecture, spec, rendered, absent, faces, scenarios)
        if counter is None or budget is None:
            return messages, {}
        used = counter.messages(messages)
        report = {
            "prompt_tokens": used,
            "prompt_budget": budget,
            "shortened_keys": sorted(limits),
            "interface_tokens": counter.text("\n".join(faces.values())) if faces else 0,
            **({"shortened_interfaces": sorted(face_limits)} if face_limits else {}),
        }
        if used <= budget:
            return messages, report
        chars = sum(len(str(m.content)) for m in messages)
        over_chars = math.ceil((used - budget) * chars / max(used, 1)) + 16
        sizes = {key: len(text) for key, text in rendered.items() if len(text) > 64}
        sizes.update({f"interface:{m}": len(text) for m, text in faces.items() if len(text) > 160})
        if not sizes:
            break
        shrink(max(sizes, key=lambda k: sizes[k]), over_chars)
    return messages, {**report, "over_budget": True}


def _kind_guide(spec: ModuleSpec) -> str:
    """The guidance of the module's kind, as a line under its manual ("" when it has none)."""
    installed = kinds.kind_named(spec.kind) if spec.kind else None
    guide = str(getattr(installed.kind, "guide", "") or "").strip() if installed else ""
    return f"\nKIND {spec.kind}: {guide[:600]}" if guide else ""


def _interface_text(module_id: str, interface: dict[str, Any] | None, limit: int) -> str:
    if interface is None:
        return f"module {module_id}: (not built yet: nothing of it to use)"
    return f"module {module_id}:\n{render_interface(interface, limit)}"


def _module_messages(
    architecture: Architecture,
    spec: ModuleSpec,
    rendered: dict[str, str],
    absent: list[str],
    faces: dict[str, str],
    acceptance: str = "",
) -> list[Any]:
    if spec.shared_state_reads:
        shared_context = "\n".join(f"{key} = {text}" for key, text in rendered.items())
        if absent:
            shared_context += f"\n(not published by their writers: {', '.join(absent)})"
    else:
        shared_context = "(none: this module reads no shared_state keys)"
    user = EXECUTOR_USER_PROMPT.format(
        goal=architecture.goal or "(not stated)",
        name=spec.label,
        module_id=spec.id,
        description=spec.description or "(none)",
        inputs=spec.inputs or "(none)",
        outputs=spec.outputs or "(none)",
        rules=spec.rules or "(none)",
        manual=spec.manual or "(no specific manual)",
        kind_guide=_kind_guide(spec),
        acceptance=acceptance,
        shared_context=shared_context.strip(),
        interfaces="\n\n".join(faces.values()) or "(none: this module depends on no other module)",
        writes=", ".join(spec.shared_state_writes) or "(none: publish an empty object {})",
        files=(
            ", ".join(spec.files) + " (exactly these: each in its own fenced block, its path on the line before)"
            if spec.files
            else "(name them yourself: one fenced block per file, its path on the line before)"
        ),
    )
    return [SystemMessage(EXECUTOR_SYSTEM_PROMPT), HumanMessage(user)]


def executor(state: MatrioskaState, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, Any]:
    """Run the next pending module; return its artifact, update and report."""
    fix_queue = list(state.get("fix_queue") or [])
    fixing = bool(fix_queue) and not state.get("wave_module")
    module_id = state.get("wave_module") or (fix_queue[0] if fixing else next_pending(state))
    if module_id is None:  # routing never sends us here without work; stay harmless anyway
        return {}
    width = max_parallel_of(runtime)
    # Steps left: one per module sequentially; a wave is two (its modules, then the join).
    steps = pending_count(state) if width == 1 else 2 * remaining_waves(state, width)
    steps += len(fix_queue) + 1 if fixing else 1  # and the verify node
    _check_recursion_budget(config, steps)
    architecture = _architecture(state.get("architecture") or {})
    spec = architecture.module(module_id)
    shared_state = state.get("shared_state") or {}
    order = state.get("execution_order") or []
    context = runtime.context or Context()
    llm = resolve_llm(context)
    evidence = (state.get("fix_evidence") or {}).get(spec.id) if fixing else None
    rewrite = _files_to_fix(spec, evidence)
    frame = reply_frame(spec, rewrite)
    _, reply_path = grammar_model(llm, frame)
    emit(
        runtime,
        "module_started",
        module=spec.id,
        name=spec.label,
        index=order.index(spec.id) + 1 if spec.id in order else 0,
        total=len(order),
        reads=spec.shared_state_reads,
        replies=reply_path,
    )
    counter = TokenCounter(llm)
    budget = prompt_budget(llm, context.context_tokens, context.max_new_tokens)
    interfaces = state.get("interfaces") or {}
    messages, prompt_report = build_module_messages(
        architecture,
        spec,
        shared_state,
        counter=counter,
        budget=budget,
        interfaces=interfaces,
        acceptance=state.get("acceptance") or [],
    )
    prompt_text = _prompt_text(messages)  # what an echo would repeat (not the module's own files)
    own = extract_files((state.get("artifacts") or {}).get(spec.id) or "", spec.id, spec.files)
    if evidence:
        # A fix round: the same hyperfocus prompt, then the failure, the interfaces of the other
        # modules it names, and this module's own current files (never another module's code).
        pointed = _pointed_interfaces(evidence, spec, interfaces)
        messages = [
            *messages,
            HumanMessage(
                EXECUTOR_RUNTIME_FIX_PROMPT.format(evidence=evidence, interfaces=pointed, files=_render_files(own))
            ),
        ]
        emit(runtime, "module_fix", module=spec.id, round=state.get("fix_round") or 0, evidence=evidence[:600])
    read_values = {key: shared_state[key] for key in spec.shared_state_reads if key in shared_state}
    completed = set(state.get("completed") or [])
    pending = {p for m in architecture.modules if m.id != spec.id and m.id not in completed for p in m.files}
    others = {m: face for m, face in interfaces.items() if m != spec.id}
    attempts, history, discarded = 0, [], []
    follow_up = messages
    meter = GenerationMeter(counter)
    judge = _Judge(architecture, spec, read_values, prompt_text, others, pending)
    samples = max(1, int(context.samples or 1))
    temperature = sampling_temperature(llm, samples, context.sample_temperature)
    checker = _OwnCheck.make(state, architecture, spec, context, pending) if samples > 1 else None
    candidates: list[dict[str, Any]] = []
    lines: dict[int, str] = {}  # each sampled attempt's `candidates_line`
    kept: dict[str, Any] | None = None
    if fixing and own:
        # The module's current files compete with the fix's replies: a worse reply is discarded.
        previous = {key: shared_state[key] for key in spec.shared_state_writes if key in shared_state}
        kept = judge(0, "", ModuleReply(render_files(own), previous))
        if checker is not None:
            checker(kept)
            candidates.append(_candidate_record(kept))
    while True:
        attempts += 1
        answers = _answers(llm, follow_up, spec, runtime, meter, frame, samples, temperature)
        judged = []
        for number, (text, reply, path) in enumerate(answers, 1):
            if rewrite:  # a fix round rewrote some of its files: the others stay as they were
                reply.artifact = _merge_files(spec, own, extract_files(reply.artifact, spec.id, rewrite))
            judged.append({**judge(attempts, text, reply), "number": number, "path": path})
        attempt = _choose(judged, checker)
        reply_path = attempt["path"]
        if attempt["missing_keys"]:
            text, reply = attempt["text"], attempt["reply"]
            for number in range(1, max(0, context.max_update_retries) + 1):
                _ask_for_missing_keys(llm, follow_up, text, reply, number, runtime, counter, budget, meter)
                if not reply.missing_keys:
                    break
            attempt = {**attempt, **judge(attempts, text, reply)}
            if checker is not None and attempt.get("own_check"):
                attempt["problems"] += attempt["own_check"]["problems"]
                attempt["score"] = _rescore(attempt)
        if len(judged) > 1:
            lines[attempts] = _candidates_line(judged, attempt)
            candidates += [_candidate_record(a) for a in judged]
            emit(runtime, "module_candidates", module=spec.id, attempt=attempts, line=lines[attempts])
        worse = worse_reason(attempt["score"], kept["score"]) if kept is not None else None
        if not worse and kept is not None and kept["attempt"] == 0 and _own_failures(kept):
            # a fix is taken only when it beats the current files on the check that fails them
            worse = None if attempt["score"] < kept["score"] else "was no better than the current files"
        if kept is not None and worse:
            which = f"attempt {kept['attempt']}" if kept["attempt"] else "the current files"
            discarded.append(f"kept {which}: attempt {attempts} {worse}")
            emit(runtime, "attempt_discarded", module=spec.id, attempt=attempts, reason=discarded[-1])
        else:
            kept = attempt
        problems = kept["problems"]
        if not problems or attempts > max(0, context.max_repairs):
            break
        # A bounded repair loop: the same hyperfocus prompt, the answer, and what is wrong with it.
        history.append({"attempt": attempts, "problems": attempt["problems"]})
        emit(runtime, "module_repair", module=spec.id, attempt=attempts, problems=problems)
        listed = "\n".join(f"- {p}" for p in problems[:20])
        base = kept["text"] or attempt["text"]
        follow_up = [*messages, AIMessage(_tail(base)), HumanMessage(EXECUTOR_REPAIR_PROMPT.format(problems=listed))]
    assert kept is not None
    for edit in kept["near_miss_edits"]:
        emit(runtime, "near_miss_fixed", stage="module", text=describe_edit(edit), **edit)
    text, reply, files, checks = kept["text"], kept["reply"], kept["files"], kept["checks"]
    valid, references, problems = kept["valid"], kept["references"], kept["problems"]
    report = {
        "name": spec.label,
        "reads": [key for key in spec.shared_state_reads if key in shared_state],
        "missing_reads": [key for key in spec.shared_state_reads if key not in shared_state],
        "written": sorted(reply.update),
        "dropped_keys": reply.dropped_keys,
        "missing_keys": reply.missing_keys,
        "notes": reply.notes,
        "chars": len(reply.artifact),
        "empty_reply": not text,
        "files": checks,
        "file_count": len(files),
        "extra_files": sorted({f.path for f in files} - set(spec.files)) if spec.files else [],
        "problems": problems,
        "attempts": attempts,
        "repairs": history,
        "kept_attempt": kept["attempt"],
        "discarded": discarded,
        "derived_keys": kept["derived"],
        "dropped_files": kept["dropped"],
        **({"near_miss_edits": kept["near_miss_edits"]} if kept["near_miss_edits"] else {}),
        "references": {"checked": len(references), "broken": sum(1 for r in references if r["status"] == "broken")},
        "model": model_name(llm),
        "replies": reply_path,
        **({"rewrote": rewrite} if rewrite else {}),
        "samples": samples,
        **(_candidates_report(candidates, lines, kept, temperature) if candidates else {}),
        "generation": meter.report(),
        "prompt_sha256": hashlib.sha256("\n\n".join(str(m.content) for m in follow_up).encode()).hexdigest(),
        **prompt_report,
    }
    previous = (state.get("module_reports") or {}).get(spec.id) or {}
    fixes = list(previous.get("runtime_fixes") or [])
    if fixing:
        fixes.append(
            {
                "round": state.get("fix_round") or 0,
                "evidence": (evidence or "")[:2000],
                "reason": "runtime failure" if evidence else "a module it reads from changed",
            }
        )
    if fixes:
        report["runtime_fixes"] = fixes
    emit(runtime, "module_finished", module=spec.id, **report)
    face = module_interface(spec.id, valid)
    face["problems"] = [
        *(f"{c['path']} has problems: it has no interface until it is repaired" for c in checks if not c["valid"]),
        *face["problems"],
    ]
    update: dict[str, Any] = {}
    if fixing:
        update = _next_fixes(state, architecture, spec, reply.update, fix_queue[1:], face)
    return {
        **update,
        "interfaces": {spec.id: face},
        "completed": [spec.id],
        "artifacts": {spec.id: reply.artifact},
        "shared_state": reply.update,
        "shared_state_writers": {key: spec.id for key in reply.update},
        "module_reports": {spec.id: report},
    }


class _Judge:
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
    ) -> None:
        self.spec, self.read_values, self.prompt_text = spec, read_values, prompt_text
        self.others, self.pending = others, pending
        self.owners = {p.lower(): m.id for m in architecture.modules if m.id != spec.id for p in m.files}

    def __call__(self, number: int, text: str, reply: ModuleReply) -> dict[str, Any]:
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
            if reply.update.get(key) in (None, "", [], {}) and from_code.get(key) not in (None, "", [], {}):
                reply.update[key] = from_code[key]
        reply.update, derived = derive_update(spec.shared_state_writes, reply.update, module_interface(spec.id, files))
        reply.missing_keys = [key for key in spec.shared_state_writes if key not in reply.update]
        for note in [*code_notes, *dropped, *(f"{key} derived from the module's interface" for key in derived)]:
            if note not in reply.notes:
                reply.notes.append(note)
        problems, checks = module_problems(spec, files, reply.update, self.read_values, prompt=self.prompt_text)
        problems += prose + json_as_code(files)
        valid = [f for f, check in zip(files, checks, strict=True) if check["valid"]]
        references = check_references(spec.id, valid, self.others, pending_paths=self.pending)
        near = apply_near_misses(spec.id, files, references, self.others, valid=valid, pending_paths=self.pending)
        if near.edits:  # references one close name away, fixed in place without the model (issue 26)
            files, references, reply.artifact = near.files, near.rows, render_files(near.files)
            problems, checks = module_problems(spec, files, reply.update, self.read_values, prompt=self.prompt_text)
            problems += prose + json_as_code(files)
            valid = [f for f, check in zip(files, checks, strict=True) if check["valid"]]
        broken = [row for row in references if row["status"] == "broken"]
        problems += [f"{row['where']}: {row['reference']}: {row['problem']}{near.note(row)}" for row in broken]
        missing = sum(1 for p in problems if "your module owns is missing" in p)
        invalid = sum(1 for check in checks if not check["valid"])
        return {
            "attempt": number,
            "text": text,
            "reply": reply,
            "files": files,
            "checks": checks,
            "valid": valid,
            "references": references,
            "problems": problems,
            "missing_keys": list(reply.missing_keys),
            "derived": derived,
            "dropped": dropped,
            "near_miss_edits": near.edits,
            "score": attempt_score(len(files), missing, invalid, len(broken), len(problems), unparsed(files)),
        }


class _OwnCheck:
    """A candidate's own runnable check (issue 27), in the sandbox: its files beside the
    current files of the other modules; its imports, its tests where it holds tests, its entry
    points and pages, and the acceptance scenarios touching only its files. None when nothing
    may run (verification off, no sandbox)."""

    def __init__(
        self,
        state: MatrioskaState,
        architecture: Architecture,
        spec: ModuleSpec,
        context: Context,
        sandbox: Any,
        pending: set[str],
    ):
        self.spec, self.context, self.sandbox = spec, context, sandbox
        others = [f for f in project_files(state) if f.module not in (spec.id, "assembler")]
        self.files = {f.path: f.content for f in others}  # the other modules' current files
        self.owners = {f.path: f.module for f in others}
        owners, dependencies = plan_owners(architecture.modules)
        self.dependencies = dependencies
        self.scenarios = [
            s
            for s in state.get("acceptance") or []
            if scenario_modules(s, owners, dependencies, with_dependencies=False) == [spec.id]
        ]
        self.module_ids = list(state.get("execution_order") or [])
        self.pending = sorted(pending)

    @classmethod
    def make(
        cls, state: MatrioskaState, architecture: Architecture, spec: ModuleSpec, context: Context, pending: set[str]
    ) -> _OwnCheck | None:
        if not context.verify:
            return None
        try:
            sandbox, _ = resolve_sandbox(context.sandbox, timeout=float(context.verify_timeout))
        except MatrioskaError:
            return None
        return cls(state, architecture, spec, context, sandbox, pending) if sandbox is not None else None

    def __call__(self, attempt: dict[str, Any]) -> None:
        """Run the check on an attempt (a judged reply); its failures join its problems."""
        files, owners = dict(self.files), dict(self.owners)
        for f in attempt["files"]:
            files[f.path], owners[f.path] = f.content, self.spec.id
        found = module_check(
            files,
            owners,
            self.spec.id,
            self.sandbox,
            acceptance=self.scenarios,
            pending=self.pending,
            dependencies=self.dependencies,
            deps_root=self.context.verify_dir or None,
            allow_install=self.context.allow_install,
            module_ids=self.module_ids,
        )
        attempt["own_check"] = found
        attempt["problems"] = [*attempt["problems"], *found["problems"]]
        attempt["score"] = _rescore(attempt)


def _rescore(attempt: dict[str, Any]) -> tuple[int, ...]:
    """An attempt's score with its problems as they are now (its own check's included)."""
    return (*attempt["score"][:-1], len(attempt["problems"]))


def _own_failures(attempt: dict[str, Any]) -> bool:
    return bool((attempt.get("own_check") or {}).get("problems"))


def _choose(judged: list[dict[str, Any]], checker: _OwnCheck | None) -> dict[str, Any]:
    """The best of an attempt's candidates, cheapest judgement first: the static ones (files,
    problems, references) for all; then, in that order, the own check of those with nothing left,
    stopping at the first that passes it. Ties: fewest problems, then the shortest."""
    if checker is not None and len(judged) > 1:
        for candidate in sorted(judged, key=lambda a: (a["score"], len(a["text"]))):
            if candidate["problems"]:
                break
            checker(candidate)
            if not candidate["problems"]:
                return candidate
    return min(judged, key=lambda a: (a["score"], len(a["text"]), a["number"]))


def _candidate_record(attempt: dict[str, Any]) -> dict[str, Any]:
    """A candidate as the module report keeps it (in the checkpoint, not in the project)."""
    check = attempt.get("own_check")
    return {
        "attempt": attempt["attempt"],
        "number": attempt.get("number", 0),
        "problems": len(attempt["problems"]),
        "problem_list": [p[:300] for p in attempt["problems"][:5]],
        "checked": bool(check and check["ran"]),
        "checks": list(check["checks"]) if check else [],
        "kept": False,
        "chars": len(attempt["reply"].artifact),
        "artifact": attempt["reply"].artifact,
    }


def _candidates_line(judged: list[dict[str, Any]], chosen: dict[str, Any]) -> str:
    """`3 candidates: [0, 2, 1] problems, kept #1`; candidates whose own check was not run (one
    before them passed it) are named."""
    counts = [len(a["problems"]) for a in judged]
    unrun = [f"#{a['number']}" for a in judged if not a["problems"] and not a.get("own_check") and a is not chosen]
    skipped = f" ({', '.join(unrun)} not run: an earlier candidate passed)" if unrun and chosen.get("own_check") else ""
    return f"{len(judged)} candidates: {counts} problems, kept #{chosen['number']}{skipped}"


def _candidates_report(
    candidates: list[dict[str, Any]], lines: dict[int, str], kept: dict[str, Any], temperature: float | None
) -> dict[str, Any]:
    """The module report's record of its candidates, the kept one marked; the line of the
    attempt the kept candidate came from (the last one when the current files were kept)."""
    for record in candidates:
        record["kept"] = record["attempt"] == kept["attempt"] and record["number"] == kept.get("number", 0)
    line = lines.get(kept["attempt"], "")
    if not line and lines:
        line = lines[max(lines)].rsplit(", kept #", 1)[0] + ", kept the current files"
    return {"candidates": candidates, "candidates_line": line, "sample_temperature": temperature}


def _prompt_text(messages: list[Any]) -> str:
    return "\n".join(str(m.content) for m in messages)


def _render_files(files: list[Any], limit: int = 8000) -> str:
    """A module's own files for its fix prompt, each in a fenced block (bounded)."""
    if not files:
        return "(you wrote no files)"
    text = "\n\n".join(f"{f.path}\n```\n{f.content}\n```" for f in files)
    return text if len(text) <= limit else text[:limit] + "\n[... your files are longer; the rest left out ...]"


def _pointed_interfaces(evidence: str, spec: ModuleSpec, interfaces: dict[str, dict[str, Any]]) -> str:
    """The interfaces of the other modules a failure names (a file path or a Python module of
    theirs) and that the module's prompt does not already carry, as a prompt section."""
    named = []
    for module_id, face in interfaces.items():
        if module_id == spec.id or module_id in spec.dependencies:
            continue
        names = [e["path"] for e in face.get("files") or []]
        names += [i for e in face.get("files") or [] for i in (e.get("imports") or [])[:1]]
        if any(re.search(rf"(?<![\w/.]){re.escape(n)}(?![\w])", evidence) for n in names if n):
            named.append(f"module {module_id}:\n{render_interface(face, INTERFACE_CHARS // 2)}")
    if not named:
        return ""
    return "\nINTERFACES OF THE OTHER MODULES IT NAMES (use exactly these names):\n" + "\n\n".join(named) + "\n"


def _next_fixes(
    state: MatrioskaState,
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


_PLAN_CACHE: list[tuple[Any, Architecture]] = []


def _architecture(plan: dict[str, Any]) -> Architecture:
    """The plan as a model; validated once per plan object, not once per module (500 modules
    made this a per-step cost growing with the plan)."""
    for cached, model in _PLAN_CACHE:
        if cached is plan:
            return model
    model = Architecture.model_validate(plan)
    _PLAN_CACHE[:] = [(plan, model), *_PLAN_CACHE[:3]]
    return model


def _answers(
    llm: Any,
    messages: list[Any],
    spec: ModuleSpec,
    runtime: Any,
    meter: GenerationMeter | None = None,
    frame: ReplyFrame | None = None,
    samples: int = 1,
    temperature: float | None = None,
) -> list[tuple[str, ModuleReply, str]]:
    """The candidates of one module attempt: the call (under its reply grammar where the backend
    takes one; K candidates in one request where it can, `matrioska.model.sampling`) and each one's
    parse, with the path the replies took."""
    bound, path = grammar_model(llm, frame)
    refused: list[bool] = []

    def refuse() -> None:
        from matrioska.model.servers import mark_grammar_refused

        mark_grammar_refused(llm)
        refused.append(True)

    call = None if samples <= 1 else _sampler(llm, samples, temperature)
    got = call_structured(
        llm,
        bound,
        messages,
        runtime,
        meter,
        event="reply_grammar_refused",
        on_refused=refuse,
        call=call,
        module=spec.id,
    )
    if refused:
        bound, path = None, "parsed"
    out = []
    for text in got if isinstance(got, list) else [got]:
        closed = None
        if frame is not None and bound is not None:
            text, closed = close_frame(frame, text)
        reply = parse_module_reply(text, spec.shared_state_writes)
        if closed:
            reply.notes.append(closed)
        out.append((text, reply, path))
    return out


def _sampler(llm: Any, samples: int, temperature: float | None) -> Any:
    """A `call_structured` call that asks for `samples` candidates and meters them: a server's
    usage once per request, else each candidate's text."""

    def call(runnable: Any, messages: list[Any], meter: GenerationMeter | None) -> list[str]:
        got = sample_texts(llm, runnable, messages, samples, temperature)
        if meter is not None and got:
            once = sampling_mode(runnable) == "n" and (getattr(got[0].message, "usage_metadata", None) or {}).get(
                "output_tokens"
            )
            for number, sample in enumerate(got[:1] if once else got):
                meter.add(sample.message, sample.text, sample.seconds if number == 0 or len(got) == 1 else 0.0)
        return [sample.text for sample in got]

    return call


def _files_to_fix(spec: ModuleSpec, evidence: str | None) -> list[str] | None:
    """In a fix round, the module's files its evidence names, when that is some but not all of
    them (the reply then rewrites only those); None: it rewrites every file."""
    if not evidence or len(spec.files) < 2:
        return None
    named = [f for f in spec.files if re.search(rf"(?<![\w/.]){re.escape(f)}(?![\w])", evidence)]
    return named if named and len(named) < len(spec.files) else None


def _merge_files(spec: ModuleSpec, own: list[ProjectFile], rewritten: list[ProjectFile]) -> str:
    """The module's artifact after a partial rewrite: each declared file from the rewrite when
    it holds it, else as it was; in the plan's order."""
    new = {f.path: f for f in rewritten}
    old = {f.path: f for f in own}
    files = [new.get(path) or old.get(path) for path in spec.files]
    extra = [f for f in own if f.path not in spec.files]
    return render_files([f for f in files if f is not None] + extra)


def _tail(text: str, limit: int = 4000) -> str:
    """The end of an earlier answer, echoed in a follow-up (bounded)."""
    return (text[-limit:] if len(text) > limit else text) or "(empty reply)"


def model_name(llm: Any) -> str:
    """A model's name for provenance: its model id or name, else its class."""
    for attribute in ("model_id", "model_name", "model"):
        value = getattr(llm, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def _ask_for_missing_keys(
    llm: Any,
    messages: list[Any],
    text: str,
    reply: ModuleReply,
    attempt: int,
    runtime: Any,
    counter: TokenCounter,
    budget: int,
    meter: GenerationMeter | None = None,
) -> None:
    """A short follow-up call for the declared keys the reply did not publish; merges them in.

    A model that can generate under a JSON schema answers under one with exactly the missing
    keys, so this call cannot fail for it. The free-form first reply is kept as it is: a
    constrained second call only when needed costs one extra short call on failure instead of
    one on every module (measured in the issue notes).
    """
    problem = "; ".join(reply.notes) or f"missing keys {reply.missing_keys}"
    question = HumanMessage(EXECUTOR_UPDATE_RETRY_PROMPT.format(error=problem, writes=", ".join(reply.missing_keys)))
    echo = 2000  # the reply's tail, shortened until the follow-up fits the budget too
    while True:
        follow_up = [*messages, AIMessage(text[-echo:] if echo and text else "(reply omitted)"), question]
        if echo == 0 or counter.messages(follow_up) <= budget:
            break
        echo = echo // 2 if echo > 100 else 0
    answer = call_structured(llm, constrained(llm, update_schema(reply.missing_keys)), follow_up, runtime, meter)
    try:
        if UPDATE_MARKER in answer:
            obj = parse_module_reply(answer, reply.missing_keys).update
        else:
            obj, _ = extract_json_object(answer)
    except JSONExtractionError as exc:
        reply.notes.append(f"update re-ask {attempt} failed: {exc}")
        return
    found = {key: obj[key] for key in reply.missing_keys if key in obj}
    reply.update.update(found)
    reply.dropped_keys.extend(
        k for k in obj if k not in found and k not in reply.dropped_keys and k not in reply.update
    )
    reply.missing_keys = [key for key in reply.missing_keys if key not in found]
    reply.notes.append(f"update re-ask {attempt}: got {sorted(found) or 'nothing'}")


def _check_recursion_budget(config: RunnableConfig, steps: int) -> None:
    """Stop before a module runs when the recursion limit cannot fit the rest of the plan.

    `steps` is what the modules left take (one each sequentially, two per wave in parallel)
    and the assembler one more; failing here, with the plan already checkpointed, lets the user
    resume with a higher limit instead of losing work to a GraphRecursionError mid-loop.
    """
    limit = config.get("recursion_limit")
    step = (config.get("metadata") or {}).get("langgraph_step")
    if not isinstance(limit, int) or not isinstance(step, int):
        return
    # This module runs at `step`, the rest after it, the assembler at step + steps; LangGraph
    # stops a run whose step reaches recursion_limit.
    needed = step + steps + 1
    if needed > limit:
        raise RecursionBudgetError(
            f"the {steps} graph step(s) left need recursion_limit >= {needed}, but this run has "
            f"{limit}; resume with config={{'recursion_limit': {needed + 10}}} (the plan is saved)"
        )
