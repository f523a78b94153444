"""Review node: a human approves, edits or re-plans the architect's plan (an interrupt).

Runs only with `Context.review` (`--review`, `interrupt_after_architect=True`). The graph stops
with an interrupt whose value holds the plan; it continues with `Command(resume=...)`:
- `{"action": "approve"}` (or the string "approve"): run the plan as it is;
- `{"action": "edit", "plan": <dict, or JSON / YAML text>, "acceptance": [...], "contract":
  {...}}`: the edited plan is validated like the architect's, the edited acceptance scenarios
  (also accepted as the plan's `acceptance` key) like a scenario file, the edited contract (also
  the plan's `contract` key, `{"modules": {id: {...}}}`) like a `--contract` file, and the
  scenarios derived from the contract are derived again from it; any may be left out; an invalid
  edit stops again with the error, nothing changed;
- `{"action": "replan", "comment": "..."}`: the architect plans again with the comment.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from ..context import Context
from ..errors import AcceptanceError, ContractError, PlanError
from ..functions.decide import decide_contracts
from ..functions.given import check_against_plan, load_contract
from ..plan.acceptance import validate_scenarios
from ..plan.parsing import architecture_from_dict, execution_order, wave_conflicts
from ..state import Architecture, MatrioskaState
from .routing import route_modules

ACTIONS = ("approve", "edit", "replan")


def _plan_from(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    text = str(value or "").strip()
    try:
        loaded = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise PlanError("the edited plan is not valid JSON (install PyYAML to edit it as YAML)") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PlanError(f"the edited plan is neither JSON nor YAML: {exc}".splitlines()[0]) from None
    if not isinstance(loaded, dict):
        raise PlanError("the edited plan must be one object with project_name, goal and modules")
    return loaded


def review(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Stop for the plan's review; apply the answer."""
    answer = interrupt(
        {
            "kind": "plan_review",
            "plan": state.get("architecture"),
            "execution_order": state.get("execution_order"),
            "plan_report": state.get("plan_report") or [],
            "acceptance": state.get("acceptance") or [],
            "contract": state.get("contract") or {},
            "error": state.get("review_error"),
            "actions": list(ACTIONS),
        }
    )
    if isinstance(answer, str):
        answer = {"action": answer}
    action = str((answer or {}).get("action", "")).lower()
    if action == "approve":
        return {"review": {"status": "approved"}, "review_error": None}
    if action == "replan":
        comment = str(answer.get("comment") or "").strip() or "(no comment)"
        return {
            "architecture": None,
            "execution_order": [],
            "review_comment": comment,
            "review_error": None,
            "review": {"status": "replan requested", "comment": comment},
        }
    if action == "edit":
        update: dict[str, Any] = {"review": {"status": "edited"}, "review_error": None}
        try:
            raw = answer.get("plan")
            plan = _plan_from(raw) if raw is not None else None
            scenarios, contract = answer.get("acceptance"), answer.get("contract")
            if plan is not None and ("acceptance" in plan or "contract" in plan):
                plan = dict(plan)
                scenarios = plan.pop("acceptance", scenarios)
                contract = plan.pop("contract", contract)
            if plan is None and scenarios is None and contract is None:
                raise PlanError("an edit needs the edited plan, contract or acceptance scenarios")
            if plan is not None:
                architecture, notes = architecture_from_dict(plan)
                context = runtime.context or Context()
                conflicts = wave_conflicts(architecture) if context.max_parallel > 1 else []
                if conflicts:
                    raise PlanError(conflicts[0], conflicts)
                update.update(
                    architecture=architecture.model_dump(mode="json"),
                    execution_order=execution_order(architecture),
                    plan_report=["plan edited at review", *notes],
                )
            if contract is not None and contract != {"modules": state.get("contract") or {}}:
                update.update(_contract_edit(state, update, contract, scenarios))
            if scenarios is not None:
                edited = validate_scenarios(scenarios, origin="the edited acceptance scenarios") if scenarios else []
                update["acceptance"] = edited
                update["plan_report"] = [
                    *(update.get("plan_report") or state.get("plan_report") or []),
                    f"acceptance scenarios edited at review: {len(edited)}",
                ]
        except PlanError as exc:
            return {"review_error": f"edited plan rejected: {exc}"}
        except AcceptanceError as exc:
            return {"review_error": f"edited acceptance scenarios rejected: {exc}"}
        except ContractError as exc:
            return {"review_error": f"edited contract rejected: {exc}"}
        return update
    return {"review_error": f"unknown review action {action!r}; use one of {', '.join(ACTIONS)}"}


def _contract_edit(state: MatrioskaState, update: dict[str, Any], edited: Any, scenarios: Any) -> dict[str, Any]:
    """The contract as the reviewer edited it, read like a `--contract` file (`ContractError`),
    published again, and (unless the scenarios were edited too) the scenarios derived from it
    derived again; the user's own scenarios stay."""
    from .acceptance import derived_scenarios
    from .contract import published

    if not isinstance(edited, dict):
        try:
            edited = json.loads(str(edited))
        except ValueError as exc:
            raise ContractError(f"the edited contract is not JSON ({exc})") from None
    given = load_contract(edited)
    architecture = Architecture.model_validate(update.get("architecture") or state.get("architecture") or {})
    check_against_plan(given, [m.id for m in architecture.modules], "the edited contract")
    decided = decide_contracts(None, state.get("task") or "", architecture, None, given=given)
    out: dict[str, Any] = {
        **published(decided),
        "plan_report": [*(update.get("plan_report") or state.get("plan_report") or []), "contract edited at review"],
    }
    if scenarios is None:
        user = [s for s in state.get("acceptance") or [] if s.get("source") == "user"]
        derived, _ = derived_scenarios(decided)
        out["acceptance"] = [*user, *derived] if derived else state.get("acceptance") or []
    return out


def route_after_plan(state: MatrioskaState, runtime: Any) -> Any:
    """After the architect: the review when asked for (and not yet approved), else the modules."""
    context = getattr(runtime, "context", None)
    if getattr(context, "review", False) and (state.get("review") or {}).get("status") not in ("approved", "edited"):
        return "review"
    return route_modules(state, runtime)


def route_after_review(state: MatrioskaState, runtime: Any) -> Any:
    if state.get("review_error"):
        return "review"
    if not state.get("architecture"):
        return "architect"
    return route_modules(state, runtime)
