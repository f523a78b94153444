"""Architect node: the task -> a validated plan (phase 1).

The model is asked for the plan as JSON (`ARCHITECT_SYSTEM_PROMPT`), under the plan's JSON
schema when the model supports it (`structured.constrained`); the reply is parsed, repaired
where one fix is obvious, and validated as a whole. An unusable reply is fed back to
the model with the error, a bounded number of times, before the run stops with `PlanError`.
A plan supplied in the input is only validated: the model is not called.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from .. import kinds
from ..context import Context, resolve_llm
from ..errors import EmptyTaskError, PlanError
from ..parsing import (
    architecture_from_dict,
    execution_order,
    parse_architecture,
    serialise_shared_writers,
    validate_architecture,
)
from ..prompts import (
    ARCHITECT_RETRY_PROMPT,
    ARCHITECT_REVIEW_PROMPT,
    ARCHITECT_SCHEMA_SYSTEM_PROMPT,
    ARCHITECT_SYSTEM_PROMPT,
    ARCHITECT_USER_PROMPT,
)
from ..shapes import guide_for, repair_shape
from ..state import Architecture, MatrioskaState
from ..structured import constrained, plan_schema
from ._common import call_structured, emit

# A failed reply is echoed back to the model on retry; keep the echo short so retries do not
# push the prompt past a 7B model's context.
_ECHO_LIMIT = 2000
# How much of a rejected reply the run's records keep.
_KEEP_LIMIT = 8000


def architect(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Produce `architecture`, `execution_order` and `plan_report`."""
    task = (state.get("task") or "").strip()
    if not task:
        raise EmptyTaskError("the task is empty; describe what to build")
    emit(runtime, "phase", phase="architecture", task=task)
    given = state.get("architecture")
    rejected: list[dict[str, Any]] = []
    if given:
        architecture, notes = architecture_from_dict(dict(given))
        notes = ["plan supplied with the input; the architect model was not called", *notes]
    else:
        architecture, notes, rejected = _plan_with_model(task, runtime, state.get("review_comment") or "")
        architecture, added = repair_shape(architecture, task)
        if added:
            architecture, more = validate_architecture(architecture)
            notes += added + more
    context = runtime.context or Context()
    if context.max_parallel > 1:
        architecture, serialised = serialise_shared_writers(architecture)
        notes += serialised
    order = execution_order(architecture)
    emit(
        runtime,
        "plan_ready",
        project_name=architecture.project_name,
        goal=architecture.goal,
        modules=[
            {
                "id": m.id,
                "name": m.label,
                "dependencies": m.dependencies,
                "reads": m.shared_state_reads,
                "writes": m.shared_state_writes,
            }
            for m in (architecture.module(mid) for mid in order)
        ],
        report=notes,
    )
    return {
        "task": task,
        "architecture": architecture.model_dump(mode="json"),
        "execution_order": order,
        "plan_report": notes,
        "rejected_plans": rejected,
    }


def _plan_with_model(
    task: str, runtime: Runtime[Context], comment: str = ""
) -> tuple[Architecture, list[str], list[dict[str, Any]]]:
    """The model's plan: (plan, repair notes, the replies rejected on the way)."""
    context = runtime.context or Context()
    llm = resolve_llm(context, "architect")
    # A model that can generate under the plan's JSON schema always returns a well-formed plan;
    # it is still validated (cycles, unknown dependencies) and re-asked like any other model.
    schema_llm = constrained(llm, plan_schema())
    system = ARCHITECT_SCHEMA_SYSTEM_PROMPT if schema_llm is not None else ARCHITECT_SYSTEM_PROMPT
    attempts = max(1, int(context.max_plan_attempts))
    messages: list[BaseMessage] = [
        SystemMessage(system.format(kinds=kinds.describe())),
        HumanMessage(
            ARCHITECT_USER_PROMPT.format(task=task, guide=_guide(task))
            + (ARCHITECT_REVIEW_PROMPT.format(comment=comment) if comment else "")
        ),
    ]
    errors: list[str] = []
    rejected: list[dict[str, Any]] = []
    for attempt in range(1, attempts + 1):
        text = call_structured(llm, schema_llm, messages, runtime)
        try:
            # A true data cycle is named back to the model once; after that it is broken at one read.
            architecture, notes = parse_architecture(text, break_data_cycles=attempt > 1 or attempts == 1)
        except PlanError as exc:
            errors.append(f"attempt {attempt}: {exc}")
            rejected.append({"attempt": attempt, "error": str(exc), "reply": text[:_KEEP_LIMIT]})
            emit(runtime, "plan_retry", attempt=attempt, of=attempts, error=str(exc))
            echo = text[:_ECHO_LIMIT] + (" ...[cut]" if len(text) > _ECHO_LIMIT else "")
            messages = messages[:2] + [
                AIMessage(echo or "(empty reply)"),
                HumanMessage(ARCHITECT_RETRY_PROMPT.format(error=exc)),
            ]
            continue
        if attempt > 1:
            notes.insert(0, f"plan accepted on attempt {attempt} of {attempts}")
        return architecture, notes, rejected
    error = PlanError(
        f"no usable plan after {attempts} attempt(s); last problem: {errors[-1].split(': ', 1)[-1]}",
        errors,
    )
    error.rejected_plans = rejected
    raise error


def _guide(task: str) -> str:
    guide = guide_for(task)
    return f"{guide}\n\n" if guide else ""
