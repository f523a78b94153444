"""Contract node (issue 40): the project's public names, decided once, right after the plan.

Module by module in dependency order (a page before the scripts wired to it), each module seeing
the contracts already fixed, the model answers under a JSON schema built from the plan
(`functions.contract.contract_schema`): a code module's functions with examples and constants, a
program's commands with an example each, a page's element ids. Modules of one level are asked
together (a server batches them). A reply that does not parse or misses a part is asked again
once; a copy of the prompt's sample is asked again once, then renamed from the task; after that,
the module's contract is derived from the plan's texts. Never an error.

The user's contract (input `contract`, from `--contract FILE` or `contract=`) wins: checked
against the plan, repaired the same way, and no model is asked. The result is the state's
`contract` and, one key per module, the whiteboard's `contract.<module>`.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ..context import Context, resolve_llm
from ..functions.contract import ModuleContract, contract_key
from ..functions.decide import decide_contracts
from ..model.calls import emit
from ..state import Architecture, MatrioskaState

__all__ = ["contract", "contracts_of", "published"]


_PARSED: list[tuple[Any, dict[str, ModuleContract]]] = []


def contracts_of(state: MatrioskaState) -> dict[str, ModuleContract]:
    """The run's contracts, module id -> `ModuleContract` (empty when there is none); parsed once
    per state value (a module's step reads them twice, and the state holds them as plain data).
    Read them, never change them: the same objects are handed out again."""
    raw = state.get("contract") or {}
    for cached, parsed in _PARSED:
        if cached is raw:
            return parsed
    parsed = {m: ModuleContract.from_dict(c) for m, c in raw.items() if isinstance(c, dict)}
    _PARSED[:] = [(raw, parsed), *_PARSED[:3]]
    return parsed


def contract(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Settle `contract`: the user's, or the model's, module by module."""
    context = runtime.context or Context()
    plan = state.get("architecture") or {}
    if not plan.get("modules"):
        return {}
    architecture = Architecture.model_validate(plan)
    given = state.get("given_contract") or {}
    notes: list[str] = []
    if given:
        planned = {m.id for m in architecture.modules}
        for module in [m for m in given if m not in planned]:
            notes.append(f"contract: the plan has no module {module!r}; its contract left out")
        given = {m: c for m, c in given.items() if m in planned}
        decided = decide_contracts(None, state.get("task") or "", architecture, runtime, given=given)
        notes.append(f"contract: from the user ({len(given)} module(s))")
    elif not context.contract:
        return {"plan_report": [*(state.get("plan_report") or []), "contract: not decided (switched off)"]}
    else:
        llm = resolve_llm(context, "architect")
        scenarios = state.get("acceptance") or []
        decided = decide_contracts(llm, state.get("task") or "", architecture, runtime, scenarios=scenarios)
    for module, found in decided.items():
        notes += [f"contract {module}: {n}" for n in found.notes]
    names = sum(len(c.names) for c in decided.values())
    notes.insert(
        0 if not given else 1,
        f"contract: {names} public name(s) over {sum(not c.empty for c in decided.values())} module(s)",
    )
    update = published(decided)
    emit(runtime, "contract_ready", contract=update["contract"], notes=notes)
    return {**update, "plan_report": [*(state.get("plan_report") or []), *notes]}


def published(decided: dict[str, ModuleContract]) -> dict[str, Any]:
    """The state's update for decided contracts: `contract`, and on the whiteboard one key per
    module that has one (`contract.<module>`, written by the contract step)."""
    data = {m: c.to_dict() for m, c in decided.items()}
    keys = {contract_key(m): c for m, c in data.items() if not decided[m].empty}
    return {"contract": data, "shared_state": keys, "shared_state_writers": {key: "contract" for key in keys}}
