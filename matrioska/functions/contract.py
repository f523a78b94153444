"""The project's contract (issue 40): every public name decided once, right after the plan.

A module's contract holds what other modules, the scenarios and the user see of it:
- a code module: its public functions (`FunctionSpec`: name, typed parameters, return type,
  purpose, 2-4 examples of the task's own behaviour) and its module-level constants;
- a program (a module owning the entry point): its commands (`Command`, each calling a contract
  function, with one example invocation and what it prints);
- a page: its element ids with their roles (`Element`), the script and style files it loads, and
  the events of the page's script (element, event, the function called, the inputs it reads,
  the output it writes).

Everything else is derived from it and never invents a name again: the acceptance scenarios
(`derive.contract_scenarios`), the function plan (`ModuleContract.function_plan`), the argparse
entry point, the page skeleton (`page.scaffold_page`) and the tests. The contract is plain JSON in
the state (`contract`: module id -> `ModuleContract.to_dict()`), published on the whiteboard
(`shared_state["contract.<module>"]`) and read by the module and its dependents.

`read_contract` turns what the model answered into a module's contract, repairing without the
model what can be repaired (a function on a file the module does not own, an event on an element
the page lacks) and saying so; `copied` names a prompt sample copied verbatim; `derive_contract`
builds a module's contract from the plan's own texts when the model gave none; `load_contract`
reads the user's (`--contract FILE`, `contract=`) and names the first bad field in one line.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..errors import ContractError
from ..plan.acceptance import ENTRY_NAMES, script_of
from ..plan.scenario_slots import plan_slots
from ..plan.shapes import task_words
from ..state import ModuleSpec
from .spec import (
    Command,
    Example,
    FunctionPlan,
    FunctionSpec,
    Param,
    events_schema,
    language_of,
    plan_schema,
    read_plan,
)

__all__ = [
    "ContractError",
    "Element",
    "ModuleContract",
    "ROLES",
    "ID_PATTERN",
    "ELEMENT_ROLES",
    "INPUT_TYPES",
    "file_roles",
    "contract_key",
    "contract_schema",
    "read_contract",
    "copied",
    "derive_contract",
    "render_contract",
    "SAMPLE_NAMES",
]

ROLES = ("code", "entry", "tests", "page", "style", "script", "other")
"""What a file is to the contract: Python code, a Python entry point, tests, a page, a style
sheet, a page's script, anything else (data, prose)."""
ELEMENT_ROLES = ("input", "button", "output")
INPUT_TYPES = ("text", "number", "email", "date", "checkbox", "password", "textarea", "select")
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
SAMPLE_NAMES = frozenset({"count_words", "countWords", "word_count", "countwords"})
"""The prompts' sample functions (the function plan's and the contract's): never a task's name."""
_SAMPLE_ARGS = (["one two three"], [""])
_ID_SCHEMA = {"type": "string", "pattern": r"^[a-z][a-zA-Z0-9_-]*$"}
"""An element id in a contract's schema."""


@dataclass
class Element:
    """One element of a page the contract fixes: its id, its role (input, button, output) and,
    for an input, its type."""

    id: str
    role: str = "output"
    type: str = ""
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "role": self.role}
        if self.type:
            out["type"] = self.type
        if self.label:
            out["label"] = self.label
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Element:
        return cls(
            str(data["id"]),
            str(data.get("role") or "output"),
            str(data.get("type") or ""),
            str(data.get("label") or ""),
        )


@dataclass
class ModuleContract:
    """One module's public names (see the module docstring)."""

    module: str
    language: str = ""
    """"python" or "javascript" for a module with code, else ""."""
    functions: list[FunctionSpec] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    entry: str = ""
    """The entry point file its commands run in ("" for none)."""
    elements: list[Element] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    page: str = ""
    """The page file its elements are on ("" for none)."""
    scripts: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    source: str = "model"
    """"model", "user", "derived" (from the plan's texts) or "none" (nothing to decide)."""
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.functions or self.commands or self.elements or self.events)

    def function(self, name: str) -> FunctionSpec | None:
        return next((f for f in self.functions if f.name == name), None)

    @property
    def names(self) -> list[str]:
        """Every public name: functions, commands, element ids."""
        return [
            *(f.name for f in self.functions),
            *(c.name for c in self.commands),
            *(e.id for e in self.elements),
        ]

    def function_plan(self, files: list[str]) -> FunctionPlan:
        """The module's function plan: the contract's functions, commands and constants; a page
        script's events wired to the contract's element ids."""
        page_ids = sorted(
            {str(i) for b in self.events for i in [b["element"], *b["inputs"], b.get("output") or ""]} - {""}
        )
        return FunctionPlan(
            module=self.module,
            language=self.language,
            functions=[FunctionSpec.from_dict(f.to_dict()) for f in self.functions],
            commands=[Command.from_dict(c.to_dict()) for c in self.commands],
            entry=self.entry if self.entry in files else "",
            constants=list(self.constants),
            notes=["from the contract"],
            bindings=[dict(b) for b in self.events],
            page_ids=page_ids,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"module": self.module, "source": self.source}
        if self.language:
            out["language"] = self.language
        if self.functions:
            out["functions"] = [f.to_dict() for f in self.functions]
        if self.constants:
            out["constants"] = list(self.constants)
        if self.commands:
            out["commands"] = [c.to_dict() for c in self.commands]
            out["entry"] = self.entry
        if self.elements or self.page:
            out["page"] = self.page
            out["elements"] = [e.to_dict() for e in self.elements]
            out["scripts"] = list(self.scripts)
            out["styles"] = list(self.styles)
        if self.events:
            out["events"] = [dict(b) for b in self.events]
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModuleContract:
        return cls(
            module=str(data.get("module") or ""),
            language=str(data.get("language") or ""),
            functions=[FunctionSpec.from_dict(f) for f in data.get("functions") or []],
            constants=[str(c) for c in data.get("constants") or []],
            commands=[Command.from_dict(c) for c in data.get("commands") or []],
            entry=str(data.get("entry") or ""),
            elements=[Element.from_dict(e) for e in data.get("elements") or []],
            events=[dict(b) for b in data.get("events") or []],
            page=str(data.get("page") or ""),
            scripts=[str(s) for s in data.get("scripts") or []],
            styles=[str(s) for s in data.get("styles") or []],
            source=str(data.get("source") or "model"),
            notes=[str(n) for n in data.get("notes") or []],
        )


def contract_key(module: str) -> str:
    """The whiteboard key a module's contract is published under."""
    return f"contract.{module}"


# --------------------------------------------------------------------------- files by role


def _is_test(path: str) -> bool:
    name = PurePosixPath(path).name
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", ".test.js", ".spec.js"))
        or "tests/" in path
        or name == "conftest.py"
    )


def file_roles(spec: ModuleSpec, programs: set[str] | None = None) -> dict[str, str]:
    """Each of the module's files by what it is (`ROLES`): a Python file a scenario's command
    runs or named main.py / cli.py / ... is the entry point, one named as a test is tests."""
    roles: dict[str, str] = {}
    for path in spec.files:
        lowered = path.lower()
        language = language_of(path)
        if language == "python":
            if _is_test(path) or spec.kind == "tests":
                roles[path] = "tests"
            elif path in (programs or set()) or PurePosixPath(path).name in ENTRY_NAMES:
                roles[path] = "entry"
            else:
                roles[path] = "code"
        elif language == "javascript":
            roles[path] = "tests" if _is_test(path) else "script"
        elif lowered.endswith((".html", ".htm")):
            roles[path] = "page"
        elif lowered.endswith(".css"):
            roles[path] = "style"
        else:
            roles[path] = "other"
    entries = [p for p, r in roles.items() if r == "entry"]
    for extra in entries[1:]:  # one program per module: the others are code
        roles[extra] = "code"
    return roles


def programs_of(scenarios: list[dict[str, Any]]) -> set[str]:
    """The files the scenarios' commands run."""
    return {p for s in scenarios if s.get("kind") == "command" and (p := script_of(s.get("command") or []))}


def _language(roles: dict[str, str]) -> str:
    if any(r in ("code", "entry") for r in roles.values()):
        return "python"
    if any(r == "script" for r in roles.values()):
        return "javascript"
    return ""


def code_files(roles: dict[str, str]) -> list[str]:
    """The files written function by function (Python code and entry, or page scripts)."""
    return [p for p, r in roles.items() if r in ("code", "entry", "script")]


# --------------------------------------------------------------------------- schema


def contract_schema(
    roles: dict[str, str], callable_names: list[str], page_ids: list[str] | None = None
) -> dict[str, Any] | None:
    """The JSON schema of a module's contract (None: the module has nothing to decide, only
    styles, prose or tests). Functions, constants and commands as `spec.plan_schema` asks them,
    each command with one example invocation; a page's elements; a script's events on the ids of
    the pages fixed before it (an enum), or on its own page's ids when it owns one."""
    language = _language(roles)
    page = any(r == "page" for r in roles.values())
    if not language and not page:
        return None
    entry = any(r == "entry" for r in roles.values())
    files = code_files(roles)
    own_page = page and language == "javascript"
    ids = None if own_page else (page_ids or None)
    if language:
        schema = plan_schema(language, callable_names, files, commands=entry, page_ids=ids)
    else:
        schema = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    properties, required = schema["properties"], schema["required"]
    if entry:
        command = properties["commands"]["items"]
        command["properties"]["example"] = {
            "type": "object",
            "properties": {"args": {"type": "array", "items": {"type": "string"}}, "stdout": {"type": "string"}},
            "required": ["args", "stdout"],
            "additionalProperties": False,
        }
        command["required"].append("example")
    if page:
        properties["elements"] = {
            "type": "array",
            "minItems": 2,
            "maxItems": 12,
            "items": {
                "type": "object",
                "properties": {
                    "id": _ID_SCHEMA,
                    "role": {"type": "string", "enum": list(ELEMENT_ROLES)},
                    "type": {"type": "string", "enum": list(INPUT_TYPES)},
                    "label": {"type": "string"},
                },
                "required": ["id", "role", "label"],
                "additionalProperties": False,
            },
        }
        required.insert(0, "elements")
    if own_page:  # the ids are its own page's: any identifier here, checked against its elements after
        properties["events"] = events_schema(_ID_SCHEMA)
        required.append("events")
    return schema


# --------------------------------------------------------------------------- reading the answer


def _elements(raw: Any, notes: list[str]) -> list[Element]:
    out: list[Element] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict):
            continue
        ident = str(item.get("id") or "").strip().lstrip("#")
        if not ID_PATTERN.match(ident):
            notes.append(f"element id {item.get('id')!r} is not an identifier; dropped")
            continue
        if any(e.id == ident for e in out):
            notes.append(f"element #{ident} is named twice; the second dropped")
            continue
        role = str(item.get("role") or "").lower()
        if role not in ELEMENT_ROLES:
            role = "input" if item.get("type") else "output"
        kind = str(item.get("type") or "")
        if role == "input" and kind not in INPUT_TYPES:
            kind = "text"
        out.append(
            Element(ident, role, kind if role == "input" else "", " ".join(str(item.get("label") or "").split())[:80])
        )
    return out


def read_contract(
    data: dict[str, Any],
    spec: ModuleSpec,
    roles: dict[str, str],
    *,
    callable_names: list[str] | None = None,
    page_ids: list[str] | None = None,
    pages: dict[str, list[str]] | None = None,
    known: dict[str, FunctionSpec] | None = None,
) -> ModuleContract:
    """A module's contract from the model's answer (or a user's file: the same shape), repaired
    where it contradicts the plan, each repair noted. `page_ids`: the ids of the pages that load
    this module's scripts, fixed before; `pages`: every page's scripts and styles by file;
    `known`: the dependencies' contract functions by `module.name` (a command's arguments are
    checked against the function it calls)."""
    notes: list[str] = []
    language = _language(roles)
    files = code_files(roles)
    entry = next((p for p, r in roles.items() if r == "entry"), "")
    page_file = next((p for p, r in roles.items() if r == "page"), "")
    for item in data.get("functions") or [] if isinstance(data.get("functions"), list) else []:
        wanted = str(item.get("file") or "") if isinstance(item, dict) else ""
        if wanted and files and wanted not in files:
            notes.append(
                f"function {item.get('name')}: on {wanted}, a file the module does not own; moved to {files[0]}"
            )
    elements = _elements(data.get("elements"), notes) if page_file else []
    own_ids = [e.id for e in elements]
    ids = own_ids if (page_file and language == "javascript") else list(page_ids or [])
    plan = (
        read_plan(
            data, spec.id, language, files, callable_names=callable_names or [], entry=entry, page_ids=ids or None
        )
        if language
        else FunctionPlan(spec.id, "", [])
    )
    notes += plan.notes
    examples = {
        str(c.get("name")): c.get("example")
        for c in data.get("commands") or []
        if isinstance(c, dict) and isinstance(c.get("example"), dict)
    }
    _command_arguments(plan, known or {}, notes)
    for command in plan.commands:
        example = examples.get(command.name)
        if example is None:
            continue
        args = example.get("args") or []
        args = [str(a) for a in (args if isinstance(args, list) else [args])]
        if args[:1] == [command.name]:  # the command's name written again in front of its arguments
            args = args[1:]
        command.example = {"args": args, "stdout": str(example.get("stdout") or "")}
    scripts = [p for p, r in roles.items() if r == "script"]
    styles = [p for p, r in roles.items() if r == "style"]
    for loads in (pages or {}).get(page_file, []):
        (styles if loads.endswith(".css") else scripts).append(loads)
    return ModuleContract(
        module=spec.id,
        language=language,
        functions=plan.functions,
        constants=plan.constants,
        commands=plan.commands,
        entry=entry if plan.commands else "",
        elements=elements,
        events=plan.bindings,
        page=page_file,
        scripts=list(dict.fromkeys(scripts)),
        styles=list(dict.fromkeys(styles)),
        source="model",
        notes=notes,
    )


def _command_arguments(plan: FunctionPlan, known: dict[str, FunctionSpec], notes: list[str]) -> None:
    """A command taking fewer arguments than the parameters its function needs (seen on the real
    0.5B: `reverse` with no argument calling `reverse_words(sentence)`) takes the function's
    parameters as its arguments: the entry point passes a command's arguments as the first
    parameters, so a missing one could only fail."""
    for command in plan.commands:
        function = plan.function(command.function) or known.get(command.function)
        if function is None:
            function = next((f for n, f in known.items() if n.rsplit(".", 1)[-1] == command.function), None)
        if function is None or len(command.arguments) >= len(function.params) or command.values:
            continue
        taken = {a.name for a in command.arguments}
        added = [p for p in function.params[len(command.arguments) :] if p.name not in taken]
        command.arguments = [*command.arguments, *(Param(p.name, p.type) for p in added)]
        notes.append(
            f"command {command.name}: takes {', '.join(p.name for p in added)} as its function "
            f"{function.name} needs them"
        )


def missing(contract: ModuleContract, roles: dict[str, str]) -> list[str]:
    """What a module's contract lacks for the files it owns (empty: complete)."""
    out = []
    if any(r == "code" for r in roles.values()) and not contract.functions:
        out.append("no public function")
    if any(r == "entry" for r in roles.values()) and not contract.commands:
        out.append("no command for its entry point")
    if any(r == "page" for r in roles.values()) and not contract.elements:
        out.append("no element ids for its page")
    return out


def copied(contract: ModuleContract) -> list[str]:
    """The prompt's sample copied verbatim (a function named as the sample, or an example with
    the sample's arguments): what a small model does when it has nothing better."""
    out = []
    for function in contract.functions:
        if function.name in SAMPLE_NAMES:
            out.append(f"function {function.name} is the prompt's sample, not the task's")
        elif any(e.args in _SAMPLE_ARGS and e.expected in (3, 0) for e in function.examples):
            out.append(f"{function.name}'s examples are the prompt's sample ({function.name}('one two three') == 3)")
    return out


def rename_copies(contract: ModuleContract, spec: ModuleSpec, task: str) -> list[str]:
    """A copy that was asked again and came back a copy: the sample's name replaced by one made
    from the module's own words, the sample's examples dropped. One note per change."""
    notes = []
    taken = {f.name for f in contract.functions}
    for function in contract.functions:
        kept = [e for e in function.examples if not (e.args in _SAMPLE_ARGS and e.expected in (3, 0))]
        if len(kept) != len(function.examples):
            notes.append(f"{function.name}: the prompt's sample examples dropped")
            function.examples = kept
        if function.name in SAMPLE_NAMES:
            name = _name_from(spec, task, taken, contract.language)
            notes.append(f"function {function.name} (the prompt's sample) renamed {name}")
            for command in contract.commands:
                if command.function == function.name:
                    command.function = name
            for event in contract.events:
                if event.get("function") == function.name:
                    event["function"] = name
            taken.add(name)
            function.name = name
    return notes


_STOP = frozenset(  # a project's own words, beside the stop words `task_words` leaves out
    "module file files code python javascript script page core main app cli logic functions function data".split()
)


def _name_from(spec: ModuleSpec, task: str, taken: set[str], language: str) -> str:
    words = [w for w in task_words(f"{spec.description} {spec.label} {task}") if w not in _STOP][:2] or ["run"]
    base = "_".join(words) if language != "javascript" else words[0] + "".join(w.title() for w in words[1:])
    name, number = base, 2
    while name in taken or keyword.iskeyword(name) or hasattr(builtins, name):
        name, number = f"{base}{number}", number + 1
    return name


# --------------------------------------------------------------------------- from the plan's texts

_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(([A-Za-z0-9_, ]*)\)")


def derive_contract(spec: ModuleSpec, roles: dict[str, str]) -> ModuleContract:
    """A module's contract from the plan's own texts, when the model gave none that can be used:
    the functions its texts call by name (`add_book(title, author)`), the element ids they name
    (`#title`, `id="add"`). Never an error; possibly empty (the module then plans its own)."""
    text = "\n".join([spec.description, spec.outputs, spec.rules, spec.manual, spec.inputs])
    language = _language(roles)
    files = code_files(roles)
    functions: list[FunctionSpec] = []
    if language:
        for name, params in _CALL.findall(text):
            if keyword.iskeyword(name) or hasattr(builtins, name) or any(f.name == name for f in functions):
                continue
            names = [p.strip() for p in params.split(",") if p.strip().isidentifier()]
            functions.append(
                FunctionSpec(name, [Param(n) for n in dict.fromkeys(names)], file=files[0] if files else "")
            )
    elements: list[Element] = []
    page_file = next((p for p, r in roles.items() if r == "page"), "")
    if page_file:
        # the ids the plan's texts name, read as the scenarios' slots read them (colours left out)
        for ident in (i.lstrip("#") for i in plan_slots([spec]).ids):
            lowered = ident.lower()
            role = "button" if any(w in lowered for w in ("btn", "button", "add", "submit", "save")) else "input"
            if any(w in lowered for w in ("list", "output", "result", "total", "display")):
                role = "output"
            elements.append(Element(ident, role, "text" if role == "input" else ""))
    scripts = [p for p, r in roles.items() if r == "script"]
    styles = [p for p, r in roles.items() if r == "style"]
    return ModuleContract(
        module=spec.id,
        language=language,
        functions=functions[:8],
        elements=elements[:12],
        page=page_file,
        scripts=scripts,
        styles=styles,
        source="derived",
        notes=["derived from the plan's texts"],
    )


# --------------------------------------------------------------------------- words


def render_contract(contract: ModuleContract, *, examples: bool = True) -> str:
    """A module's contract in a few lines, as a prompt or the review shows it."""
    lines: list[str] = []
    language = contract.language or "python"
    for function in contract.functions:
        where = f"  [{function.file}]" if function.file else ""
        lines.append(f"- {function.signature(language)}{where}: {function.purpose}".rstrip(": "))
        if examples:
            lines += [f"    {e.render(function.name, language)}" for e in function.examples[:3]]
    lines += [f"- constant {c}" for c in contract.constants]
    for command in contract.commands:
        arguments = " ".join(f"<{a.name}>" for a in command.arguments)
        example = command.example
        shown = ""
        if example:
            shown = f"; e.g. `{command.name} {' '.join(example.get('args') or [])}`".rstrip()
            if example.get("stdout"):
                shown += f" prints {example['stdout']!r}"
        lines.append(f"- command `{command.name} {arguments}`".rstrip() + f" calls {command.function}{shown}")
    if contract.elements:
        lines.append(
            f"- page {contract.page or '(page)'}: "
            + ", ".join(f"#{e.id} ({e.role}{' ' + e.type if e.type else ''})" for e in contract.elements)
        )
    for event in contract.events:
        inputs = ", ".join(f"#{i}" for i in event.get("inputs") or [])
        output = f" -> #{event['output']}" if event.get("output") else ""
        lines.append(f"- {event.get('event')} on #{event.get('element')}: {event.get('function')}({inputs}){output}")
    return "\n".join(lines)


def example_of(function: FunctionSpec) -> Example | None:
    """The function's first checked example with a value (None: none)."""
    return next((e for e in function.checked if e.checks_value and not e.files and e.stdout is None), None)
