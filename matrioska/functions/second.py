"""Second chances for a module's functions (issue 41, items 2 and 3), read from the trial.

A candidate can look right and pass nothing because it reads a module-level name nobody defines
(`ROMAN[c]`, a lookup table the plan never declared). Such a name is, in this order:

1. taken from the module's contract when it declares the constant (`ROMAN = {...}`);
2. else its value asked of the model once, under a JSON schema (`{"value": ...}`), and kept
   when it is a plain value;
3. else left to the next sampling round, whose prompt names the NameError.

A function whose kept candidate passes nothing (no candidate chosen) is sampled once more (K at
a higher temperature), its prompt holding why its candidates failed, within the run's
`function_retries`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from ..model.calls import GenerationMeter, call_structured, emit
from ..model.ledger import step
from ..model.structured import constrained
from ..plan.parsing import JSONExtractionError, extract_json_object
from .contract import ModuleContract
from .spec import FunctionPlan, FunctionSpec
from .trial import Trial

__all__ = ["undefined_names", "contract_constant", "ask_constant", "failing", "why_lines", "hotter"]

_NAME_ERROR = re.compile(r"NameError: name '([A-Za-z_]\w*)' is not defined")
_SYSTEM = "You give the value of one module-level constant of a program, as JSON. Answer with one JSON object."
_SCHEMA = {"type": "object", "properties": {"value": {}}, "required": ["value"], "additionalProperties": False}


def undefined_names(trial: Trial, plan: FunctionPlan) -> dict[str, list[str]]:
    """Module-level names the candidates of functions not chosen read undefined: name -> the
    functions. A planned function's name is none of them (a sibling comes with the module)."""
    planned = {f.name for f in plan.functions}
    defined = {_constant_name(line) for line in plan.constants}
    out: dict[str, list[str]] = {}
    for name, function in trial.functions.items():
        if function.chosen:
            continue
        for candidate in function.candidates:
            texts = [candidate.error, *(str(r.get("error") or "") for r in candidate.results)]
            for found in {m.group(1) for text in texts for m in _NAME_ERROR.finditer(text)}:
                if found not in planned and found not in defined and name not in out.get(found, []):
                    out.setdefault(found, []).append(name)
    return out


def _constant_name(line: str) -> str:
    match = re.match(r"\s*(?:const\s+|let\s+|var\s+)?([A-Za-z_$][\w$]*)\s*(?::[^=]*)?=", line)
    return match.group(1) if match else ""


def contract_constant(name: str, contract: ModuleContract | None) -> str | None:
    """The contract's line declaring `name` (`ROMAN = {...}`), or None."""
    for line in (contract.constants if contract is not None else []) or []:
        if _constant_name(line) == name:
            return line
    return None


def ask_constant(
    llm: Any,
    plan: FunctionPlan,
    name: str,
    users: list[FunctionSpec],
    *,
    goal: str,
    runtime: Any = None,
    meter: GenerationMeter | None = None,
) -> str | None:
    """`NAME = value` asked of the model once under a JSON schema; None when the answer holds
    no plain value. Transient backend failures and Matrioska's errors go up."""
    lines = [f"PROJECT GOAL: {goal}", f"MODULE: {plan.module}"]
    for function in users:
        lines.append(f"{function.signature(plan.language)}: {function.purpose}".rstrip(": "))
        lines += [f"  {e.render(function.name, plan.language)}" for e in function.checked[:3]]
    lines.append(
        f"These functions read the module-level constant {name}, which nobody defines. "
        f'Give its value as JSON: {{"value": ...}}.'
    )
    messages: list[BaseMessage] = [SystemMessage(_SYSTEM), HumanMessage("\n".join(lines))]
    with step("constants"):
        reply = call_structured(
            llm, constrained(llm, _SCHEMA, "constant"), messages, runtime, meter, module=plan.module, constant=name
        )
    try:
        data, _ = extract_json_object(str(reply))
    except JSONExtractionError as exc:
        emit(runtime, "constant_unusable", module=plan.module, name=name, error=str(exc)[:200])
        return None
    value = data.get("value") if isinstance(data, dict) else None
    if value is None or value == "" or value == {} or value == []:
        return None
    if plan.language == "javascript":
        return f"const {name} = {json.dumps(value)};"
    return f"{name} = {value!r}"


def failing(trial: Trial, plan: FunctionPlan) -> list[FunctionSpec]:
    """The planned functions with candidates and none chosen (`FunctionTrial.chosen`)."""
    out = []
    for function in plan.functions:
        found = trial.functions.get(function.name)
        if found is not None and found.candidates and not found.chosen:
            out.append(function)
    return out


def why_lines(trial: Trial, name: str, limit: int = 3) -> str:
    """Why the function's candidates failed, one line each (repeats once), for its next prompt."""
    found = trial.functions.get(name)
    whys = list(dict.fromkeys(c.why for c in (found.candidates if found else []) if c.why))[:limit]
    if not whys:
        return ""
    return "\n".join(f"- {w}" for w in whys)


def hotter(temperature: float | None) -> float:
    """The temperature of a second round: 0.3 above the first, at least 0.9, at most 1.2."""
    return min(1.2, max(0.9, (temperature or 0.0) + 0.3))
