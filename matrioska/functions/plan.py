"""Asking for a module's function plan: which modules take the function path, what they may
call, and the model's answer under a JSON schema (`spec.plan_schema`).

A module takes the path when every file it owns is code of one language this path writes
(Python files that are not tests, or JavaScript files) and the run allows it. What its functions
may call are the public functions its dependencies' interfaces show (`module.name`), an enum in
the schema. An entry point (a file an acceptance command runs, or `main.py` / `cli.py` ...) is
asked for its commands besides its functions. The acceptance scenarios that call the module's
functions with known values become examples of those functions, so the functions are chosen by
what the user's checks will ask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from ..kinds.python.source import import_name
from ..model.calls import GenerationMeter, call_structured, emit
from ..model.ledger import step
from ..model.structured import constrained
from ..plan.acceptance import for_module, render_for_module
from ..plan.parsing import JSONExtractionError, extract_json_object
from ..state import Architecture, ModuleSpec
from .contract import ModuleContract, file_roles, programs_of
from .spec import Example, FunctionPlan, language_of, plan_schema, read_plan

__all__ = ["Eligible", "eligible", "callables", "ask_plan", "page_of", "module_fields", "PLAN_SYSTEM_PROMPT"]

PLAN_SYSTEM_PROMPT = (
    "You plan one module of a software project as a short list of small functions. Each function does "
    "one thing a caller needs, with a clear signature and 2-4 examples: concrete arguments and the exact "
    "value it returns. Examples must be right: compute them carefully. Use plain JSON values (strings, "
    "numbers, lists, objects, true/false/null). Answer with one JSON object only."
)

PLAN_USER_PROMPT = """PROJECT GOAL: {goal}

MODULE {module}: {name}
What it does: {description}
It must produce: {outputs}
{rules}Its files: {files}
Language: {language}
{callables}{entry}{acceptance}
List the module's functions in the order they should be written (helpers first): name, parameters{typed},
a one-line purpose, 2-4 examples and "calls": the functions of other modules it uses. An example gives the
arguments of one call in "args" (one value per parameter, in order) and the value that call returns in
"expected"; the expected value is never a parameter. Where the function reads or writes files, an example may
add "files": {{"name": "content"}} created first, and "stdout": text it prints. Keep each function small
(under 25 lines). For instance, for a function counting the words of a text:
{sample}
{extra}"""

_SAMPLES = {
    "python": (
        '{"name": "count_words", "params": [{"name": "text", "type": "str"}], "returns": "int", '
        '"purpose": "the number of words in text", "examples": [{"args": ["one two three"], "expected": 3}, '
        '{"args": [""], "expected": 0}], "calls": []}'
    ),
    "javascript": (
        '{"name": "countWords", "params": [{"name": "text"}], "purpose": "the number of words in text", '
        '"examples": [{"args": ["one two three"], "expected": 3}, {"args": [""], "expected": 0}], "calls": []}'
    ),
}


@dataclass
class Eligible:
    """A module that takes the function path: its language, its code files and its entry file;
    beside them, by role (issue 40), the tests files written from the examples, the page
    scaffolded from the contract and the files the model writes whole (styles, prose, data)."""

    language: str
    files: list[str]
    entry: str = ""
    tests: list[str] = field(default_factory=list)
    page: str = ""
    whole: list[str] = field(default_factory=list)

    def ways(self) -> dict[str, str]:
        """Each file -> the way it is written (the module report's `files`)."""
        out = {path: "functions" for path in self.files}
        if self.entry:
            out[self.entry] = "functions (argparse entry from the commands)"
        out.update({path: "tests from the examples" for path in self.tests})
        if self.page:
            out[self.page] = "page scaffold from the contract"
        out.update({path: "whole (by the model)" for path in self.whole})
        return out


def eligible(
    spec: ModuleSpec, scenarios: list[dict[str, Any]] | None = None, contract: ModuleContract | None = None
) -> Eligible | None:
    """Whether `spec` is written function by function, and how (None: the whole-module path).

    Its files go by role: Python code and its entry point, or page scripts, function by function;
    Python tests from the kept examples; a page the contract fixes scaffolded from it; the rest
    (styles, prose, data) written whole by the model. A module with code of two languages, or a
    page without a contract beside its scripts, is written whole."""
    if not spec.files:
        return None
    roles = file_roles(spec, programs_of(scenarios or []))
    python = [p for p, r in roles.items() if r in ("code", "entry")]
    scripts = [p for p, r in roles.items() if r == "script"]
    if bool(python) == bool(scripts):  # no code, or code of two languages
        return None
    pages = [p for p, r in roles.items() if r == "page"]
    page = pages[0] if pages else ""
    contracted = contract is not None and contract.page == page and bool(contract.elements)
    if pages and (python or len(pages) > 1 or not contracted):
        return None  # a page written whole beside code: the module is asked whole
    tests = [p for p, r in roles.items() if r == "tests" and p.endswith(".py")] if python else []
    if [p for p, r in roles.items() if r == "tests"] != tests:
        return None  # a JavaScript test file: written whole with the module
    entry = next((p for p, r in roles.items() if r == "entry"), "")
    whole = [p for p, r in roles.items() if r in ("style", "other")]
    return Eligible("python" if python else "javascript", python or scripts, entry, tests, page, whole)


def callables(
    architecture: Architecture, spec: ModuleSpec, interfaces: dict[str, dict[str, Any]], language: str
) -> dict[str, str]:
    """What the module's functions may call of its dependencies: `module.name` -> its signature
    line, from the interfaces already built (JavaScript: a plain `name`, scripts share globals)."""
    out: dict[str, str] = {}
    for dependency in spec.dependencies:
        face = interfaces.get(dependency) or {}
        for entry in face.get("files") or []:
            if language_of(str(entry.get("path") or "")) != language:
                continue
            for function in entry.get("functions") or []:
                name = str(function.get("name") or "")
                if not name or name.startswith("_"):
                    continue
                params = function.get("params") or ""
                if language == "python":
                    module = import_name(str(entry["path"]))
                    out[f"{module}.{name}"] = f"{module}.{name}({params}){function.get('returns') or ''}"
                else:
                    out[name] = f"{name}({params})"
    return out


def ask_plan(
    llm: Any,
    architecture: Architecture,
    spec: ModuleSpec,
    how: Eligible,
    *,
    interfaces: dict[str, dict[str, Any]],
    scenarios: list[dict[str, Any]],
    runtime: Any = None,
    meter: GenerationMeter | None = None,
    contract: ModuleContract | None = None,
) -> FunctionPlan | None:
    """The module's function plan: the contract's functions when it fixes them (no model call:
    a public name is never decided twice), else the model's, or None when the model gave none
    that can be used (twice)."""
    mine = for_module(scenarios, architecture.modules, spec.id)
    if contract is not None and contract.language == how.language and (contract.functions or contract.commands):
        plan = contract.function_plan(how.files)
        if how.entry and not plan.entry and plan.commands:
            plan.entry = how.entry
        _examples_from_scenarios(plan, [s for s in mine if s.get("source") == "user"])
        return plan
    named = callables(architecture, spec, interfaces, how.language)
    page = page_of(spec, interfaces) if how.language == "javascript" else {}
    ids = sorted(page)
    schema = plan_schema(how.language, sorted(named), how.files, commands=bool(how.entry), page_ids=ids)
    messages: list[BaseMessage] = [
        SystemMessage(PLAN_SYSTEM_PROMPT),
        HumanMessage(_user_prompt(architecture, spec, how, named, mine) + _page_prompt(page)),
    ]
    schema_llm = constrained(llm, schema, "function_plan")
    for attempt in (1, 2):
        with step("function plans"):
            reply = call_structured(llm, schema_llm, messages, runtime, meter, module=spec.id)
        try:
            data, _ = extract_json_object(reply)
        except JSONExtractionError as exc:
            emit(runtime, "function_plan_unusable", module=spec.id, attempt=attempt, error=str(exc)[:200])
            messages = [*messages[:2], AIMessage(reply[:1500] or "(empty reply)"), HumanMessage(_retry(str(exc)))]
            continue
        plan = read_plan(
            data, spec.id, how.language, how.files, callable_names=sorted(named), entry=how.entry, page_ids=ids
        )
        _examples_from_scenarios(plan, mine)
        if plan.functions or plan.commands:
            return plan
        messages = [
            *messages[:2],
            AIMessage(reply[:1500]),
            HumanMessage(_retry("; ".join(plan.notes) or "no usable function")),
        ]
    return None


def page_of(spec: ModuleSpec, interfaces: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The element ids (id -> what it is: "input", "button", ...) of the page built before that
    loads one of a script module's files (else of any page its dependencies built)."""
    pages = [
        entry
        for dependency in spec.dependencies
        for entry in (interfaces.get(dependency) or {}).get("files") or []
        if entry.get("kind") == "html"
    ]
    loading = [p for p in pages if set(p.get("scripts") or []) & set(spec.files)] or pages
    out: dict[str, str] = {}
    for page in loading:
        fields = {str(f).split(" (")[0]: str(f).split(" (")[-1].rstrip(")") for f in page.get("fields") or []}
        for element in page.get("ids") or []:
            out.setdefault(str(element), fields.get(str(element), "element"))
    return out


def _page_prompt(page: dict[str, str]) -> str:
    if not page:
        return ""
    shown = ", ".join(f"#{element} ({what})" for element, what in sorted(page.items()))
    return (
        f"\n\nThe page has these elements: {shown}. The functions compute; they never touch the page. Also give "
        '"events": each user action wired to one function, e.g. {"element": "add", "event": "click", "function": '
        '"addItem", "inputs": ["title"], "output": "list"}: clicking #add calls addItem(value of #title) and shows '
        "what it returns in #list (an array as list items). Keep the data in a constant such as "
        '"const items = [];" in "constants".'
    )


def _retry(error: str) -> str:
    return f"That answer could not be used ({error[:300]}). Answer again with one JSON object as asked."


def _user_prompt(
    architecture: Architecture, spec: ModuleSpec, how: Eligible, named: dict[str, str], mine: list[dict[str, Any]]
) -> str:
    callables_text = ""
    if named:
        callables_text = (
            "Functions of other modules it may call:\n" + "\n".join(f"- {s}" for s in named.values()) + "\n"
        )
    entry = ""
    extra = ""
    if how.entry:
        commands = sorted(
            {
                str((s.get("command") or [None, None, ""])[2])
                for s in mine
                if s.get("kind") == "command" and len(s.get("command") or []) > 2
            }
        )
        calls = "one of the functions of other modules listed above" if named else "one function"
        entry = (
            f"{how.entry} is the command-line program: also list its commands (sub-commands such as "
            f"{', '.join(commands) or 'add, list'}), each calling {calls} with the command's arguments; "
            f"plan no function of its own that those already do.\n"
        )
        extra = (
            'Also give "commands": [{"name": "add", "function": "<a function above or of another module>", '
            '"arguments": [{"name": "text", "type": "str"}]}].'
        )
    if how.language == "python":
        extra += ' "constants": top-level lines such as DATA_FILE = "data.json", if the functions share any.'
    else:
        extra += ' "constants": top-level lines such as const items = []; if the functions share any.'
    return PLAN_USER_PROMPT.format(
        **module_fields(architecture, spec),
        files=", ".join(how.files),
        language="Python 3" if how.language == "python" else "JavaScript (browser, a classic script)",
        callables=callables_text,
        entry=entry,
        acceptance=render_for_module(mine),
        typed=" with types, return type" if how.language == "python" else "",
        sample=_SAMPLES[how.language],
        extra=extra.strip(),
    )


def module_fields(architecture: Architecture, spec: ModuleSpec) -> dict[str, str]:
    """A module's spec as the function plan's and the contract's prompts show it: the goal, its id,
    name, description, outputs and rules."""
    return {
        "goal": architecture.goal or architecture.project_name,
        "module": spec.id,
        "name": spec.label,
        "description": spec.description or "(none)",
        "outputs": spec.outputs or "(none)",
        "rules": f"Rules: {spec.rules}\n" if spec.rules else "",
    }


def _examples_from_scenarios(plan: FunctionPlan, scenarios: list[dict[str, Any]]) -> None:
    """The acceptance scenarios' calls of this module's functions, with the values they must
    return, as examples (first: the user's checks outrank the model's own guesses). Only a
    scenario of one call: a later call of several depends on what the earlier ones did."""
    for scenario in scenarios:
        if scenario.get("kind") != "python" or len(scenario.get("calls") or []) != 1:
            continue
        for call in scenario["calls"]:
            function = plan.function(str(call.get("function") or ""))
            args = call.get("args")
            if function is None or not isinstance(args, list) or len(args) != len(function.params):
                continue
            if call.get("expected") is None or any(e.args == args for e in function.examples):
                continue
            try:
                json.dumps(call["expected"])
            except (TypeError, ValueError):
                continue
            function.examples.insert(0, Example(args=list(args), expected=call["expected"]))
            del function.examples[4:]
