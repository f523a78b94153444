"""The function path of the executor node (issue 35): a module written function by function,
offered to the module's attempt loop as its reply; its tests from the examples; a page
scaffolded from the contract (issue 40). The node calls `function_path` before it asks the model
for the whole module."""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.runtime import Runtime

from ..checking.sandbox import resolve_sandbox
from ..context import Context
from ..errors import MatrioskaError
from ..functions.derive import page_only
from ..functions.module import PATH_NAME, Writing, attempt_functions, tests_from_examples
from ..functions.plan import eligible
from ..functions.spec import FunctionPlan
from ..functions.trial import examples_passed
from ..generation.attempts import Asking, ModuleAttempts
from ..generation.project import ProjectFile, project_files
from ..generation.records import Attempt
from ..model.grammar import render_files
from ..model.sampling import sampling_temperature
from ..state import Architecture, MatrioskaState, ModuleSpec
from .contract import contracts_of

__all__ = ["function_path", "trial_sandbox"]


def function_path(
    state: MatrioskaState,
    runtime: Runtime[Context],
    context: Context,
    asking: Asking,
    architecture: Architecture,
    spec: ModuleSpec,
    evidence: str | None,
    loop: ModuleAttempts,
    messages: list[Any],
) -> dict[str, Any]:
    """The module written function by function when it takes that path (issue 35), offered to
    the attempt loop: `accepted` when it left no problem (no whole-module reply is asked then).
    Returns the report's `path` and `functions` entries."""
    reports = state.get("module_reports") or {}
    previous = (reports.get(spec.id) or {}).get("functions") if evidence else None
    contracts = contracts_of(state)  # parsed once per step: the node read them already
    how = eligible(spec, state.get("acceptance") or [], contracts.get(spec.id)) if context.functions else None
    if how is None and context.functions and not evidence:
        files = tests_from_examples(architecture, spec, reports)
        if files:
            kept = loop.offer(render_files(files) + "\n", "tests from examples", messages)
            return {"accepted": not kept.problems, "path": "tests from examples", "offered": "tests from examples"}
        page = page_only(spec, contracts.get(spec.id), contracts, architecture.project_name)
        if page is not None and not page.get("whole"):  # nothing for the model: offered as the module's reply
            kept = loop.offer(render_files(page["own"]) + "\n", "page scaffold", messages)
            page.update(accepted=not kept.problems, offered="page scaffold")
        return page or {}
    if how is None or (evidence and not previous):
        return {}
    writing = Writing(
        asking.llm,
        samples=context.function_k,
        temperature=sampling_temperature(asking.llm, context.function_k, context.sample_temperature),
        sandbox=trial_sandbox(context),
        runtime=runtime,
        meter=asking.meter,
        contracts=contracts,
        title=architecture.project_name,
        retries=context.function_retries,
    )
    built = attempt_functions(
        writing,
        architecture,
        spec,
        how,
        evidence=evidence,
        previous=previous,
        interfaces=state.get("interfaces") or {},
        scenarios=state.get("acceptance") or [],
        project={f.path: f.content for f in project_files(state)},
    )
    if built is None and evidence:  # a failure no frame traces to one function: the module's fix is whole
        return {"path": "functions, fixed whole", "functions": previous}
    if built is None:
        return {"path": "whole module (no function plan)"}
    found = {"path": PATH_NAME, "functions": built.report(), "files": built.ways}
    current = {f.path: f.content for f in loop.own if f.path in how.whole}
    if how.whole and len(current) < len(how.whole):  # the model writes the rest (styles, prose) beside them
        return {**found, "whole": list(how.whole), "own": [ProjectFile(p, t, spec.id) for p, t in built.files.items()]}
    built.files.update(current)  # a fix round: the files the model wrote whole stay as they are
    kept = loop.offer(built.reply_text(), PATH_NAME, messages)
    accepted = not kept.problems and not built.missing
    if not accepted and writing.sandbox is not None:  # a whole-module reply must pass more, not only count less
        others = {f.path: f.content for f in project_files(state) if f.module != spec.id}
        loop.behaviour = partial(_behaviour, built.plan, others, writing)
    return {**found, "accepted": accepted, "offered": PATH_NAME}


def _behaviour(plan: FunctionPlan, others: dict[str, str], writing: Writing, attempt: Attempt) -> int:
    """The plan's trusted examples an attempt's files pass (`trial.examples_passed`)."""
    files = {f.path: f.content for f in attempt.files}
    return examples_passed(plan, files, others, writing.sandbox, call_timeout=writing.call_timeout)


def trial_sandbox(context: Context) -> Any:
    """The sandbox candidates run in, or None (verification off, no sandbox: nothing runs)."""
    if not context.verify:
        return None
    try:
        return resolve_sandbox(context.sandbox, timeout=float(context.verify_timeout))[0]
    except MatrioskaError:
        return None
