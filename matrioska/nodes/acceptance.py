"""Acceptance node: the scenarios the finished project must pass, right after the plan.

The user's scenarios (input `acceptance`, from `--acceptance FILE` or `acceptance=`) are used as
they are; otherwise (or beside them, with `acceptance_mode` "extra") the model writes 2 to 6 from
the task and the plan, under a JSON schema built from the plan where the backend takes one: the
programs, modules, functions, pages and element ids are enums of the plan's, a Python check is
calls with expected values (rendered into asserts, never free code), and free strings cannot hold
a `<placeholder>`; only values are left to the model. A generated scenario that
names what the plan does not (a file it lacks, a module nobody writes) or copies the prompt's
placeholders is dropped with a note: the builders are told to satisfy every scenario, so one
about something else would send them the wrong way. No scenario at all is a note, never an error:
the verdict then rests on the checks alone.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from ..context import Context, resolve_llm
from ..functions.contract import ModuleContract
from ..functions.derive import contract_scenarios, lacking_names
from ..kinds.python.source import import_name
from ..model.calls import call_structured, emit
from ..model.structured import constrained
from ..plan.acceptance import check_against_plan, describe, lenient, repair_names, validate_scenarios
from ..plan.parsing import JSONExtractionError, extract_json_object
from ..plan.scenario_slots import Slots, plan_slots, render_slots, scenarios_schema, slotted_schema
from ..prompts import (
    ACCEPTANCE_MORE_PROMPT,
    ACCEPTANCE_RETRY_PROMPT,
    ACCEPTANCE_SYSTEM_PROMPT,
    ACCEPTANCE_USER_PROMPT,
)
from ..state import Architecture, MatrioskaState
from .contract import contracts_of

GENERATED_LIMIT = 6
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w .,-]{1,40}>")


def acceptance(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Settle `acceptance`: the user's scenarios and / or the model's."""
    context = runtime.context or Context()
    given = [s for s in state.get("acceptance") or [] if s.get("source", "user") == "user"]
    user = validate_scenarios(given, origin="the run's 'acceptance' input", source="user") if given else []
    mode = state.get("acceptance_mode") or "replace"
    notes: list[str] = []
    generated: list[dict[str, Any]] = []
    contracts = contracts_of(state)
    for scenario in user:  # a user's scenario naming what the contract lacks: said before anything is built
        lacking = lacking_names(scenario, contracts)
        if lacking:
            notes.append(
                f"acceptance scenario {scenario['name']!r} names what the contract lacks: {', '.join(lacking)}"
            )
            emit(runtime, "acceptance_lacks", scenario=scenario["name"], names=lacking)
    if user and mode != "extra":
        notes.insert(0, f"acceptance: {len(user)} scenario(s) from the user")
    elif not context.acceptance:
        notes.append("acceptance scenarios not written (switched off): the verdict rests on the checks alone")
    else:
        generated, more = derived_scenarios(contracts)
        if not generated:
            generated, more = generate(state, runtime)
        notes += more
        if user:
            notes.insert(0, f"acceptance: {len(user)} scenario(s) from the user")
    scenarios = [*user, *generated]
    emit(
        runtime,
        "acceptance_ready",
        scenarios=[
            {"name": s["name"], "kind": s["kind"], "source": s["source"], "text": describe(s)} for s in scenarios
        ],
        notes=notes,
    )
    return {"acceptance": scenarios, "plan_report": [*(state.get("plan_report") or []), *notes]}


def derived_scenarios(contracts: dict[str, ModuleContract]) -> tuple[list[dict[str, Any]], list[str]]:
    """The scenarios the contract implies (every name in them the contract's), and notes."""
    found, dropped = lenient(contract_scenarios(contracts, GENERATED_LIMIT + 2))
    if not found:
        return [], []
    return found, [f"acceptance: {len(found)} scenario(s) derived from the contract", *dropped]


def _contract_slots(slots: Slots, contracts: dict[str, ModuleContract]) -> Slots:
    """The slots narrowed to the contract's names where it fixes them: a module's functions, the
    pages' element ids (a scenario the model writes names nothing the contract lacks)."""
    for contract in contracts.values():
        for function in contract.functions:
            module = import_name(function.file) if contract.language == "python" and function.file else None
            if module in slots.modules:
                fixed = [f.name for f in contract.functions if f.file == function.file]
                slots.modules[module] = fixed
    ids = [f"#{e.id}" for c in contracts.values() for e in c.elements]
    if ids:
        slots.ids = list(dict.fromkeys(ids))
    return slots


def _plan_facts(plan: dict[str, Any]) -> tuple[str, str, list[str]]:
    """The files by module, the hints (entry point, modules, pages) and every planned path."""
    rows, paths = [], []
    for module in plan.get("modules") or []:
        files = list(module.get("files") or [])
        paths += files
        kind = f" ({module['kind']})" if module.get("kind") else ""
        rows.append(f"- {module['id']}{kind}: {', '.join(files) or '(files not named)'}")
    hints = []
    entries = [p for p in paths if PurePosixPath(p).name in ("main.py", "cli.py", "app.py", "__main__.py")]
    if entries:
        hints.append("Entry point: " + ", ".join(f"python {p}" for p in entries))
    libraries = [p for p in paths if p.endswith(".py") and p not in entries and "test" not in p]
    if libraries:
        hints.append(
            "Python modules: "
            + ", ".join(f"{PurePosixPath(p).with_suffix('').as_posix().replace('/', '.')} ({p})" for p in libraries)
        )
    pages = [p for p in paths if p.endswith((".html", ".htm"))]
    if pages:
        hints.append("Pages: " + ", ".join(pages))
    return "\n".join(rows), "\n".join(hints) + ("\n" if hints else ""), paths


def _usable(reply: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The scenarios in a reply (prose, fences and JSON slips repaired), and notes."""
    try:
        data, _ = extract_json_object(reply)
    except JSONExtractionError as exc:
        try:
            data = json.loads(reply[reply.index("[") : reply.rindex("]") + 1])
        except ValueError:
            raise exc from None
    return lenient(data)


def generate(state: MatrioskaState, runtime: Runtime[Context]) -> tuple[list[dict[str, Any]], list[str]]:
    """The model's scenarios for the plan, filtered to what the plan names; and notes."""
    context = runtime.context or Context()
    plan = state.get("architecture") or {}
    files, hints, paths = _plan_facts(plan)
    slots = _contract_slots(plan_slots(plan.get("modules") or []), contracts_of(state))
    if slots.programs or slots.modules or slots.pages:
        hints = render_slots(slots) + "\n"  # the names a scenario may use, as the schema has them
    llm = resolve_llm(context, "architect")
    schema_llm = constrained(llm, slotted_schema(slots) or scenarios_schema())
    messages: list[BaseMessage] = [
        SystemMessage(ACCEPTANCE_SYSTEM_PROMPT),
        HumanMessage(
            ACCEPTANCE_USER_PROMPT.format(
                task=state.get("task") or "",
                project_name=plan.get("project_name") or "",
                goal=plan.get("goal") or "",
                files=files,
                hints=hints,
            )
        ),
    ]
    emit(runtime, "phase", phase="acceptance")
    notes: list[str] = []
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    more_asked = False
    specs = Architecture.model_validate(plan).modules if plan.get("modules") else []
    for attempt in (1, 2, 3):
        reply = call_structured(llm, schema_llm, messages, runtime)
        try:
            found, dropped = _usable(reply)
        except JSONExtractionError as exc:
            notes.append(f"acceptance reply {attempt} unusable: {exc}")
            if attempt > 1:
                break  # re-asked once already
            messages = [
                *messages[:2],
                AIMessage(reply[:1500] or "(empty reply)"),
                HumanMessage(ACCEPTANCE_RETRY_PROMPT.format(error=exc)),
            ]
            continue
        notes += dropped
        for scenario in found:
            repaired = repair_names(scenario, specs)
            # an input file the scenario writes over one of the project's own files would replace
            # what is being tested (seen on the 0.5B: "main.py" given as one import line)
            for path in [p for p in scenario.get("files") or {} if p in paths]:
                del scenario["files"][path]
                repaired.append(f"its input file {path!r} is a planned file of the project: left out")
            if repaired:
                notes.append(f"acceptance scenario {scenario['name']!r} repaired: {', '.join(repaired)}")
            why = check_against_plan(scenario, paths)
            body = json.dumps({k: v for k, v in scenario.items() if k != "name"}, sort_keys=True)
            if why is None and _PLACEHOLDER.search(json.dumps(scenario)):
                why = "it still holds the prompt's <placeholders>"
            if why is None and scenario["kind"] == "python" and not re.search(r"\bassert\b", scenario["code"]):
                why = "its code asserts nothing (a program, not a check)"
            if why is None and body in seen:
                why = "it repeats another scenario"
            seen.add(body)
            if why is not None:
                shown = json.dumps({k: v for k, v in scenario.items() if k not in ("name", "source", "files")})
                notes.append(f"acceptance scenario {scenario['name']!r} dropped: {why} ({shown[:160]})")
                continue
            kept.append(scenario)
        if len(kept) >= 2 or more_asked or attempt == 3:
            break
        # fewer than two usable (seen on the 0.5B, greedy: one scenario written again and again
        # under other names): asked once for more, shown the ones kept
        more_asked = True
        shown_kept = "\n".join(f"- {describe(s)}" for s in kept) or "(none)"
        messages = [
            *messages[:2],
            AIMessage(reply[:1500] or "(empty reply)"),
            HumanMessage(ACCEPTANCE_MORE_PROMPT.format(count=len(kept), kept=shown_kept)),
        ]
    kept = kept[:GENERATED_LIMIT]
    if kept:
        notes.insert(0, f"acceptance: {len(kept)} scenario(s) written from the task")
    else:
        notes.insert(0, "acceptance: no usable scenario was written; the verdict rests on the checks alone")
    return kept, notes
