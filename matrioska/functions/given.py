"""The user's contract (issue 40): `--contract FILE`, `contract=`, or the one edited at review.

`load_contract` reads `{"modules": {id: {...}}}` (or `{id: {...}}`), the format `--review` shows,
from a JSON file or a dict, and checks each field: the first bad one is named in one line
(`ContractError`: the file, the module, the field), before any model loads. `check_against_plan`
says when it names a module the plan lacks. Its repairs against the plan are
`contract.read_contract`'s, as for the model's answer.
"""

from __future__ import annotations

import json
import keyword
import os
import re
from pathlib import Path
from typing import Any

from ..errors import ContractError
from .contract import ELEMENT_ROLES, ID_PATTERN

__all__ = ["load_contract", "check_against_plan"]


def load_contract(value: str | os.PathLike[str] | dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The user's contract, `{"modules": {id: {...}}}` (or `{id: {...}}`) as `--review` shows it,
    from a JSON file or a dict; each field checked, the first bad one named in one line
    (`ContractError`). Checked against a plan later (`check_against_plan`)."""
    origin = "contract"
    if isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
        origin = str(value)
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ContractError(f"{origin}: cannot be read ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise ContractError(f"{origin}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ContractError(f"{origin}: must be a JSON object of modules")
    modules = value.get("modules", value) if isinstance(value.get("modules", value), dict) else None
    if modules is None:
        raise ContractError(f"{origin}: modules: must be an object, module id -> its contract")
    out: dict[str, dict[str, Any]] = {}
    for module, raw in modules.items():
        where = f"{origin}: modules.{module}"
        if not isinstance(raw, dict):
            raise ContractError(f"{where}: must be an object (functions, commands, elements...)")
        _check_fields(raw, where)
        out[str(module)] = raw
    return out


def _check_fields(raw: dict[str, Any], where: str) -> None:
    known = {
        "module", "source", "language", "functions", "constants", "commands", "entry", "page",
        "elements", "scripts", "styles", "events", "notes",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ContractError(f"{where}.{unknown[0]}: is not a field of a module's contract ({', '.join(sorted(known))})")
    for name in ("functions", "constants", "commands", "elements", "events", "scripts", "styles"):
        if name in raw and not isinstance(raw[name], list):
            raise ContractError(f"{where}.{name}: must be a list")
    for index, function in enumerate(raw.get("functions") or []):
        _check_function(function, f"{where}.functions[{index}]")
    for index, command in enumerate(raw.get("commands") or []):
        at = f"{where}.commands[{index}]"
        if not isinstance(command, dict):
            raise ContractError(f"{at}: must be an object with name, function, arguments")
        if not isinstance(command.get("name"), str) or not re.match(r"^[A-Za-z][\w-]*$", command["name"]):
            raise ContractError(f"{at}.name: must be a command name such as 'add'")
        if not isinstance(command.get("function"), str) or not command["function"]:
            raise ContractError(f"{at}.function: must name the contract function it calls")
    for index, element in enumerate(raw.get("elements") or []):
        at = f"{where}.elements[{index}]"
        ident = element.get("id") if isinstance(element, dict) else element
        if not isinstance(ident, str) or not ID_PATTERN.match(ident.lstrip("#")):
            raise ContractError(f"{at}.id: must be an element id such as 'title'")
        if isinstance(element, dict) and element.get("role", "output") not in ELEMENT_ROLES:
            raise ContractError(f"{at}.role: must be one of {', '.join(ELEMENT_ROLES)}")
    for index, event in enumerate(raw.get("events") or []):
        at = f"{where}.events[{index}]"
        if not isinstance(event, dict) or not isinstance(event.get("element"), str):
            raise ContractError(f"{at}.element: must be the id of the element the event is on")
        if not isinstance(event.get("function"), str) or not event["function"].isidentifier():
            raise ContractError(f"{at}.function: must be the script function the event calls")


def _check_function(function: Any, at: str) -> None:
    if not isinstance(function, dict):
        raise ContractError(f"{at}: must be an object with name, params, examples")
    name = function.get("name")
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ContractError(f"{at}.name: must be an identifier")
    params = function.get("params", [])
    if not isinstance(params, list) or not all(
        (isinstance(p, dict) and str(p.get("name", "")).isidentifier()) or (isinstance(p, str) and p.isidentifier())
        for p in params
    ):
        raise ContractError(f"{at}.params: must be a list of {{'name', 'type'}}")
    for number, example in enumerate(function.get("examples") or []):
        if not isinstance(example, dict) or not isinstance(example.get("args", []), list):
            raise ContractError(f"{at}.examples[{number}]: must be {{'args': [...], 'expected': value}}")
        if len(example.get("args", [])) != len(params):
            count = len(example.get("args", []))
            raise ContractError(f"{at}.examples[{number}].args: {count} value(s) for {len(params)} parameter(s)")


def check_against_plan(contracts: dict[str, dict[str, Any]], modules: list[str], origin: str) -> None:
    """A user's contract names only planned modules (`modules`: their ids; else one line,
    `ContractError`)."""
    ids = {str(m) for m in modules}
    for module in contracts:
        if module not in ids:
            raise ContractError(
                f"{origin}: modules.{module}: the plan has no module {module!r} ({', '.join(sorted(ids))})"
            )
