"""Architect node: the task -> a validated plan (phase 1).

The model is asked for the plan as JSON (`ARCHITECT_SYSTEM_PROMPT`), under the plan's JSON
schema when the model supports it (`structured.constrained`); the reply is parsed, repaired
where one fix is obvious, and validated as a whole. An unusable reply is fed back to
the model with the error, a bounded number of times, before the run stops with `PlanError`.
A plan that parses but is not about the task (its name and goal share no word with the task,
or are written in another script: a guide's example copied, another language) is asked for once
more, and kept renamed from the task when the second answer is no better (`off_topic_reason`).
The model's plan then goes through the shape repair (`shapes.repair_shape`): names copied from a
guide's example renamed from the task, missing tests, entry point or page added, each reported.
A plan supplied in the input is only validated: the model is not called, nothing is renamed.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from .. import kinds
from ..context import Context, resolve_llm
from ..errors import EmptyTaskError, PlanError
from ..model.calls import call_structured, emit
from ..model.structured import constrained, plan_schema
from ..plan.parsing import (
    architecture_from_dict,
    execution_order,
    parse_architecture,
    serialise_shared_writers,
    validate_architecture,
)
from ..plan.shapes import dominant_script, guide_for, repair_shape, same_word, task_title, task_words
from ..prompts import (
    ARCHITECT_OFF_TOPIC_PROMPT,
    ARCHITECT_RETRY_PROMPT,
    ARCHITECT_REVIEW_PROMPT,
    ARCHITECT_SCHEMA_SYSTEM_PROMPT,
    ARCHITECT_SYSTEM_PROMPT,
    ARCHITECT_USER_PROMPT,
)
from ..state import Architecture, MatrioskaState

# A failed reply is echoed back to the model on retry; keep the echo short so retries do not
# push the prompt past a 7B model's context.
_ECHO_LIMIT = 2000
# How much of a rejected reply the run's records keep.
_KEEP_LIMIT = 8000
# A plan renamed from its task takes the task, this long at most, as its goal.
_GOAL_LIMIT = 300
# Scripts written without spaces between words: their words cannot be compared one by one.
_UNSPACED = ("CJK", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


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
    # Plans that parsed but are not about the task: (attempt, plan, notes, why, reply).
    off_topic: list[tuple[int, Architecture, list[str], str, str]] = []
    # Budget: `max_plan_attempts` calls for a plan that parses. The first plan that parses but is
    # not about the task is asked for once more, one call beyond that budget, and that call is the
    # last whatever it brings (an unusable or again off-topic reply keeps the best plan that parsed,
    # renamed from the task): at most max_plan_attempts + 1 architect calls in all.
    attempt = 0
    while attempt < attempts or off_topic:  # after an off-topic plan, the one re-ask always returns
        attempt += 1
        text = call_structured(llm, schema_llm, messages, runtime)
        try:
            # A true data cycle is named back to the model once; after that it is broken at one read.
            architecture, notes = parse_architecture(text, break_data_cycles=attempt > 1 or attempts == 1)
        except PlanError as exc:
            errors.append(f"attempt {attempt}: {exc}")
            rejected.append({"attempt": attempt, "error": str(exc), "reply": text[:_KEEP_LIMIT]})
            if off_topic:  # the re-ask for a plan about the task could not be used
                return _renamed(task, off_topic, [f"the re-asked plan could not be used: {exc}"], rejected)
            emit(runtime, "plan_retry", attempt=attempt, of=attempts, error=str(exc))
            messages = messages[:2] + [
                AIMessage(_echo(text) or "(empty reply)"),
                HumanMessage(ARCHITECT_RETRY_PROMPT.format(error=exc)),
            ]
            continue
        why = off_topic_reason(architecture, task)
        if why is None:
            if off_topic:
                first = off_topic[0]
                notes[:0] = [
                    _reasked_note(first[1], first[3]),
                    f"the re-asked plan {architecture.project_name!r} is about the task; kept",
                ]
                rejected += [_rejected(first)]
            elif attempt > 1:
                notes.insert(0, f"plan accepted on attempt {attempt} of {attempts}")
            return architecture, notes, rejected
        off_topic.append((attempt, architecture, notes, why, text))
        if len(off_topic) > 1:
            return _renamed(
                task,
                off_topic,
                [f"the re-asked plan {architecture.project_name!r} was not about the task either ({why})"],
                rejected,
            )
        emit(runtime, "plan_retry", attempt=attempt, of=attempts, error=f"the plan is not about the task: {why}")
        messages = messages[:2] + [
            AIMessage(_echo(text)),
            HumanMessage(
                ARCHITECT_OFF_TOPIC_PROMPT.format(
                    project_name=architecture.project_name,
                    goal=_short(architecture.goal) or "(none)",
                    reason=why,
                    task=task,
                )
            ),
        ]
    error = PlanError(
        f"no usable plan after {attempts} attempt(s); last problem: {errors[-1].split(': ', 1)[-1]}",
        errors,
    )
    error.rejected_plans = rejected
    raise error


def _echo(text: str) -> str:
    return text[:_ECHO_LIMIT] + (" ...[cut]" if len(text) > _ECHO_LIMIT else "")


def _short(text: str, limit: int = 200) -> str:
    """One line of at most about `limit` characters, cut at a space."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + "..."


def off_topic_reason(architecture: Architecture, task: str) -> str | None:
    """Why a plan's name and goal are not about its task, or None when they are (or when nothing
    tells: a task without content words, a plan without a name and goal).

    Not about the task: the name or the goal written mostly in another script than the task (a
    Chinese name for an English task), or name and goal together sharing no content word with
    the task (`shapes.task_words`, compared by `shapes.same_word`: "libraries" is "library")."""
    name = "" if architecture.project_name == "Untitled project" else architecture.project_name
    task_script = dominant_script(task)
    for label, text in (("name", name), ("goal", architecture.goal)):
        script = dominant_script(text)
        if task_script and script and script != task_script:
            return f"its {label} is written in {_script_name(script)} letters, the task in {_script_name(task_script)}"
    wanted = task_words(task)
    if not wanted or task_script in _UNSPACED or dominant_script(f"{name} {architecture.goal}") is None:
        return None
    said = task_words(f"{name} {architecture.goal}")
    if any(same_word(a, b) for a in said for b in wanted):
        return None
    return "its name and goal share no word with the task"


def _script_name(script: str) -> str:
    return script if script == "CJK" else script.title()


def _reasked_note(architecture: Architecture, why: str) -> str:
    return (
        f"plan re-asked: {architecture.project_name!r} (goal {_short(architecture.goal, 120)!r}) "
        f"was not about the task ({why})"
    )


def _rejected(entry: tuple[int, Architecture, list[str], str, str]) -> dict[str, Any]:
    attempt, _, _, why, text = entry
    return {"attempt": attempt, "error": f"the plan is not about the task: {why}", "reply": text[:_KEEP_LIMIT]}


def _renamed(
    task: str,
    off_topic: list[tuple[int, Architecture, list[str], str, str]],
    notes: list[str],
    rejected: list[dict[str, Any]],
) -> tuple[Architecture, list[str], list[dict[str, Any]]]:
    """The best plan that parsed (one in the task's script first, then the later one), its name
    and goal taken from the task, and the notes saying so."""
    task_script = dominant_script(task)
    kept = min(
        range(len(off_topic)),
        key=lambda i: (dominant_script(off_topic[i][1].project_name + off_topic[i][1].goal) != task_script, -i),
    )
    plan = off_topic[kept][1]
    renamed = plan.model_copy(update={"project_name": task_title(task), "goal": _short(task, _GOAL_LIMIT)})
    rejected += [_rejected(entry) for i, entry in enumerate(off_topic) if i != kept]
    return (
        renamed,
        [
            _reasked_note(off_topic[0][1], off_topic[0][3]),
            *notes,
            f"plan renamed from the task: {plan.project_name!r} was not about it; "
            f"now {renamed.project_name!r} (attempt {off_topic[kept][0]}'s plan kept)",
            *off_topic[kept][2],
        ],
        rejected,
    )


def _guide(task: str) -> str:
    guide = guide_for(task)
    return f"{guide}\n\n" if guide else ""
