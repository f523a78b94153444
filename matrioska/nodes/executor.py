"""Executor node: one module in hyperfocus (phase 2), looped by the conditional edges.

The module's prompt holds the project goal, its own spec and manual, and only the shared_state
keys it declares it reads: never another module's artifact. The reply is the artifact followed
by `SHARED_STATE_UPDATE:` and a JSON object; only the keys the module declared it writes reach
the shared state, and what was dropped or left missing is reported.

The module's work itself is in `matrioska.generation` (its prompt, attempts, judge, candidates,
fixes and records); this node picks the module, wires in the run's configuration and the
checking wing's readings, and returns what changed (plain dicts, as the state holds them).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from ..checking.interfaces import INTERFACE_CHARS, check_references, module_interface, render_interface
from ..checking.nearmiss import apply_near_misses, describe_edit
from ..checking.verify import module_check
from ..context import Context, resolve_llm
from ..errors import RecursionBudgetError
from ..functions.derive import bind_judge, reading_contracts
from ..generation.attempts import Asking, ModuleAttempts
from ..generation.candidates import OwnCheck
from ..generation.fixes import files_to_fix, next_fixes, runtime_fixes
from ..generation.judge import Judge, announce
from ..generation.project import extract_files, project_files
from ..generation.prompt import build_module_messages, fix_messages, prompt_text
from ..generation.readings import Readings
from ..model.backend import backend_of
from ..model.budget import TokenCounter, prompt_budget
from ..model.calls import GenerationMeter, emit
from ..model.grammar import ReplyFrame, grammar_model, render_files, reply_frame
from ..model.ledger import step
from ..model.sampling import sampling_temperature
from ..plan.parsing import ModuleReply
from ..state import Architecture, MatrioskaState, ModuleSpec
from .contract import contracts_of
from .function_path import function_path, trial_sandbox
from .routing import max_parallel_of, next_pending, pending_count, remaining_waves

# What the module's work reads with the checking wing (generation sits below it).
READINGS = Readings(
    interface=module_interface,
    render=render_interface,
    references=check_references,
    near_misses=apply_near_misses,
    interface_chars=INTERFACE_CHARS,
)


def executor(state: MatrioskaState, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, Any]:
    """Run the next pending module; return its artifact, update and report. A fix round's model
    calls count under that step (`model.ledger`)."""
    if state.get("fix_queue") and not state.get("wave_module"):
        with step("fix rounds"):
            return _module(state, runtime, config)
    return _module(state, runtime, config)


def _module(state: MatrioskaState, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, Any]:
    fix_queue = list(state.get("fix_queue") or [])
    fixing = bool(fix_queue) and not state.get("wave_module")
    module_id = state.get("wave_module") or (fix_queue[0] if fixing else next_pending(state))
    if module_id is None:  # routing never sends us here without work; stay harmless anyway
        return {}
    _check_recursion_budget(config, _steps_left(state, runtime, fix_queue, fixing))
    architecture = _architecture(state.get("architecture") or {})
    spec = architecture.module(module_id)
    shared_state = state.get("shared_state") or {}
    context = runtime.context or Context()
    llm = resolve_llm(context)
    evidence = (state.get("fix_evidence") or {}).get(spec.id) if fixing else None
    rewrite = files_to_fix(spec, evidence)
    frame = reply_frame(spec, rewrite)
    _emit_started(state, runtime, spec, grammar_model(llm, frame)[1])
    asking = _asking(llm, runtime, context, frame)
    interfaces = state.get("interfaces") or {}
    contracts = contracts_of(state)
    messages, prompt_report = build_module_messages(
        architecture,
        reading_contracts(spec, shared_state),
        shared_state,
        counter=asking.counter,
        budget=asking.budget,
        interfaces=interfaces,
        acceptance=state.get("acceptance") or [],
        readings=READINGS,
    )
    own = extract_files((state.get("artifacts") or {}).get(spec.id) or "", spec.id, spec.files)
    completed = set(state.get("completed") or [])
    pending = {p for m in architecture.modules if m.id != spec.id and m.id not in completed for p in m.files}
    read_values = {key: shared_state[key] for key in spec.shared_state_reads if key in shared_state}
    others = {m: face for m, face in interfaces.items() if m != spec.id}
    judge = Judge(architecture, spec, read_values, prompt_text(messages), others, pending, READINGS)
    bind_judge(judge, contracts.get(spec.id), spec)
    if evidence:
        messages = fix_messages(messages, evidence, spec, interfaces, own, READINGS)
        emit(runtime, "module_fix", module=spec.id, round=state.get("fix_round") or 0, evidence=evidence[:600])
    checker = _own_check(state, architecture, spec, context, pending) if asking.samples > 1 else None
    loop = ModuleAttempts(asking, spec, judge, checker, rewrite, own)
    if fixing and own:
        # The module's current files compete with the fix's replies: a worse reply is discarded.
        previous = {key: shared_state[key] for key in spec.shared_state_writes if key in shared_state}
        loop.start_from(ModuleReply(render_files(own), previous))
    path = function_path(state, runtime, context, asking, architecture, spec, evidence, loop, messages)
    if whole := path.get("whole"):  # files by role (issue 40): the model writes only what no scaffold makes
        loop = ModuleAttempts(
            _asking(llm, runtime, context, reply_frame(spec, whole)), spec, judge, checker, whole, path["own"]
        )
    outcome = loop.outcome(messages) if path.get("accepted") else loop.run(messages)
    kept, reply = outcome.kept, outcome.kept.reply
    for edit in kept.near_miss_edits:
        emit(runtime, "near_miss_fixed", stage="module", text=describe_edit(edit), **edit)
    announce(runtime, spec.id, kept, state.get("module_reports") or {})  # analyzer fixes, a tool missing
    fixes = runtime_fixes(state, spec.id, fixing, evidence)
    report = outcome.report(
        spec, shared_state, model=backend_of(llm).name, rewrite=rewrite, prompt=prompt_report, runtime_fixes=fixes
    ).to_dict()
    report["path"], report["functions"] = path.get("path", "whole module"), path.get("functions")
    report.update({k: v for k, v in (("file_ways", path.get("files")), ("ids_restored", judge.mended)) if v})
    if path.get("offered") and kept.path and kept.path != path["offered"]:  # a whole-module reply beat them
        report["path"] = f"whole module (it beat the {path['offered']} files)"
    if report["functions"] is None:
        del report["functions"]
    emit(runtime, "module_finished", module=spec.id, **report)
    face = outcome.interface(spec.id, READINGS)
    queue = next_fixes(state, architecture, spec, reply.update, fix_queue[1:], face) if fixing else {}
    return {
        **queue,
        "interfaces": {spec.id: face},
        "completed": [spec.id],
        "artifacts": {spec.id: reply.artifact},
        "shared_state": reply.update,
        "shared_state_writers": {key: spec.id for key in reply.update},
        "module_reports": {spec.id: report},
    }


def _steps_left(state: MatrioskaState, runtime: Runtime[Context], fix_queue: list[str], fixing: bool) -> int:
    """The graph steps the rest of the run takes from here: one per module sequentially, two
    per wave in parallel (its modules, then the join); in a fix round the modules queued; and
    the verify node."""
    width = max_parallel_of(runtime)
    steps = pending_count(state) if width == 1 else 2 * remaining_waves(state, width)
    return steps + (len(fix_queue) + 1 if fixing else 1)


def _emit_started(state: MatrioskaState, runtime: Runtime[Context], spec: ModuleSpec, replies: str) -> None:
    """Say the module started: its place in the execution order, what it reads, how its replies come."""
    order = state.get("execution_order") or []
    emit(
        runtime,
        "module_started",
        module=spec.id,
        name=spec.label,
        index=order.index(spec.id) + 1 if spec.id in order else 0,
        total=len(order),
        reads=spec.shared_state_reads,
        replies=replies,
    )


def _asking(llm: Any, runtime: Runtime[Context], context: Context, frame: ReplyFrame | None) -> Asking:
    """How the module's replies are asked for, from the run's configuration."""
    counter = TokenCounter(llm)
    samples = max(1, int(context.samples or 1))
    return Asking(
        llm=llm,
        runtime=runtime,
        frame=frame,
        counter=counter,
        budget=prompt_budget(llm, context.context_tokens, context.max_new_tokens),
        meter=GenerationMeter(counter),
        samples=samples,
        temperature=sampling_temperature(llm, samples, context.sample_temperature),
        max_update_retries=context.max_update_retries,
        max_repairs=context.max_repairs,
    )


def _own_check(
    state: MatrioskaState, architecture: Architecture, spec: ModuleSpec, context: Context, pending: set[str]
) -> OwnCheck | None:
    """Each candidate's own check in the sandbox; None when nothing may run (verification off,
    no sandbox)."""
    sandbox = trial_sandbox(context)
    if sandbox is None:
        return None
    check = partial(
        module_check, sandbox=sandbox, deps_root=context.verify_dir or None, allow_install=context.allow_install
    )
    module_ids = list(state.get("execution_order") or [])
    return OwnCheck(architecture, spec, project_files(state), state.get("acceptance") or [], module_ids, pending, check)


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
