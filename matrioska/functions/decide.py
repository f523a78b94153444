"""Deciding the project's contract with the model (issue 40): module by module, in dependency
order (a page before the scripts wired to it), each module seeing the contracts already fixed.

Each module is asked under a JSON schema built from the plan (`contract.contract_schema`); the
modules of one level are asked together (a server batches them). A reply that does not parse or
misses a part is asked again once; a copy of the prompt's sample is asked again once, then
renamed from the task; after that the module's contract is derived from the plan's texts. Never
an error. A user's contract is read the same way and no model is asked.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables.config import ContextThreadPoolExecutor

from ..kinds.python.source import import_name
from ..model.calls import call_structured, emit
from ..model.structured import constrained
from ..plan.acceptance import for_module, render_for_module
from ..plan.parsing import JSONExtractionError, extract_json_object
from ..state import Architecture, ModuleSpec
from .contract import (
    ModuleContract,
    code_files,
    contract_schema,
    copied,
    derive_contract,
    file_roles,
    missing,
    programs_of,
    read_contract,
    rename_copies,
    render_contract,
)
from .plan import module_fields
from .spec import FunctionSpec

__all__ = ["CONTRACT_SYSTEM_PROMPT", "decide_contracts"]

CONTRACT_SYSTEM_PROMPT = (
    "You fix the public contract of one module of a software project: the exact names other modules, "
    "the tests and the user will use. Functions with typed parameters and 2-4 examples of the task's own "
    "behaviour (concrete arguments and the exact value returned: compute them carefully), commands of a "
    "command-line program with one example each, element ids of a page. Names are short identifiers taken "
    "from the task. Answer with one JSON object only."
)

_USER_PROMPT = """TASK: {task}
PROJECT GOAL: {goal}

MODULE {module}: {name}
What it does: {description}
It must produce: {outputs}
{rules}Its files: {files}
{fixed}{scenarios}
Decide its public contract:
{asks}
For instance, a function counting the words of a text would be written (use the task's own names and values,
never this one):
{sample}"""

_SAMPLE = (
    '{"name": "count_words", "params": [{"name": "text", "type": "str"}], "returns": "int", '
    '"purpose": "the number of words in text", "examples": [{"args": ["one two three"], "expected": 3}, '
    '{"args": [""], "expected": 0}], "calls": []}'
)
_SAMPLE_JS = (
    '{"name": "countWords", "params": [{"name": "text"}], "purpose": "the number of words in text", '
    '"examples": [{"args": ["one two three"], "expected": 3}, {"args": [""], "expected": 0}], "calls": []}'
)


def _levels(architecture: Architecture, roles: dict[str, dict[str, str]]) -> list[list[ModuleSpec]]:
    """The modules in the order their contracts are asked: pages first, then by dependency depth
    (a script's events need its page's ids, a caller its callees' functions)."""
    depth: dict[str, int] = {}
    by_id = {m.id: m for m in architecture.modules}

    def level(module: ModuleSpec, seen: frozenset[str] = frozenset()) -> int:
        if module.id in depth:
            return depth[module.id]
        own = roles[module.id]
        if any(r == "page" for r in own.values()) and not any(r == "script" for r in own.values()):
            depth[module.id] = 0
            return 0
        deps = [by_id[d] for d in module.dependencies if d in by_id and d not in seen]
        found = 1 + max((level(d, seen | {module.id}) for d in deps), default=0)
        depth[module.id] = found
        return found

    for module in architecture.modules:
        level(module)
    out: dict[int, list[ModuleSpec]] = {}
    for module in architecture.modules:
        out.setdefault(depth[module.id], []).append(module)
    return [out[k] for k in sorted(out)]


def decide_contracts(
    llm: Any,
    task: str,
    architecture: Architecture,
    runtime: Any = None,
    *,
    scenarios: list[dict[str, Any]] | None = None,
    given: dict[str, dict[str, Any]] | None = None,
) -> dict[str, ModuleContract]:
    """Every module's contract: read from `given` (the user's), else asked of `llm`."""
    scenarios = scenarios or []
    programs = programs_of(scenarios)
    roles = {m.id: file_roles(m, programs) for m in architecture.modules}
    pages = _pages(architecture, roles)
    decided: dict[str, ModuleContract] = {}
    emit(runtime, "phase", phase="contract")
    for level in _levels(architecture, roles):

        def one(spec: ModuleSpec, taken: list[str] | None = None) -> ModuleContract:
            own = roles[spec.id]
            named, known = _offered(spec, decided)
            ids = _page_ids(spec, decided, pages)
            if given is not None:
                if spec.id not in given:
                    return ModuleContract(spec.id, source="none")
                found = read_contract(
                    given[spec.id],
                    spec,
                    own,
                    callable_names=sorted(named),
                    page_ids=ids,
                    pages=pages,
                    known=known,
                )
                found.source = "user"
                return found
            return _ask(llm, runtime, task, architecture, spec, own, named, ids, pages, scenarios, known, taken)

        if len(level) == 1:
            results = [one(level[0])]
        else:
            with ContextThreadPoolExecutor(
                max_workers=min(8, len(level)), thread_name_prefix="matrioska-contract"
            ) as pool:
                results = list(pool.map(one, level))
        for spec, found in zip(level, results, strict=True):
            if given is None and _claimed(found, decided):  # a name another module's contract holds
                found = _unclaimed(found, decided, lambda taken, spec=spec: one(spec, taken))
            decided[spec.id] = found
            emit(runtime, "contract_module", module=spec.id, source=found.source, text=render_contract(found))
    return decided


def _pages(architecture: Architecture, roles: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Each planned page -> the scripts and style sheets it loads: every page script and style
    sheet of the project (a page of its own module's first)."""
    scripts = [p for own in roles.values() for p, r in own.items() if r == "script"]
    styles = [p for own in roles.values() for p, r in own.items() if r == "style"]
    return {p: [*scripts, *styles] for own in roles.values() for p, r in own.items() if r == "page"}


def _page_ids(spec: ModuleSpec, decided: dict[str, ModuleContract], pages: dict[str, list[str]]) -> list[str]:
    """The ids of the pages fixed before that load one of the module's files."""
    mine = set(spec.files)
    out: list[str] = []
    for found in decided.values():
        if found.page and set(pages.get(found.page) or []) & mine:
            out += [e.id for e in found.elements]
    return sorted(set(out))


def _offered(spec: ModuleSpec, decided: dict[str, ModuleContract]) -> tuple[dict[str, str], dict[str, FunctionSpec]]:
    """What the module may call of its dependencies' contracts, by `module.name` (Python) or `name`
    (a script): the signature lines its prompt and schema offer, and the functions themselves (a
    command's arguments are checked against them)."""
    named: dict[str, str] = {}
    known: dict[str, FunctionSpec] = {}
    for dependency in spec.dependencies:
        found = decided.get(dependency)
        if found is None:
            continue
        for function in found.functions:
            if found.language == "python" and function.file:
                key = f"{import_name(function.file)}.{function.name}"
                named[key] = f"{import_name(function.file)}.{function.signature('python').removeprefix('def ')}"
            else:
                key = function.name
                if found.language == "javascript":
                    named[key] = function.signature("javascript").removeprefix("function ")
            known[key] = function
    return named, known


def _claimed(found: ModuleContract, decided: dict[str, ModuleContract]) -> list[str]:
    """The functions of `found` another module's contract already holds (seen on the real 0.5B:
    `roman_to_int`, asked beside `int_to_roman`, planned `int_to_roman` again)."""
    taken = {f.name for c in decided.values() for f in c.functions}
    return [f.name for f in found.functions if f.name in taken]


def _unclaimed(found: ModuleContract, decided: dict[str, ModuleContract], again: Any) -> ModuleContract:
    """`found` without the names other modules hold, said; a module left without a function is
    asked once more, shown the names taken, then left to plan its own (an empty contract)."""
    owners = {f.name: m for m, c in decided.items() for f in c.functions}
    claimed = _claimed(found, decided)
    found.functions = [f for f in found.functions if f.name not in owners]
    found.notes += [f"function {n} is module {owners[n]}'s (decided there); dropped here" for n in claimed]
    if found.functions or not claimed:
        return found
    retried = again(sorted(owners))
    retried.functions = [f for f in retried.functions if f.name not in owners]
    if retried.functions:
        retried.notes = [*found.notes, "asked again with the names taken", *retried.notes]
        return retried
    return ModuleContract(found.module, source="none", notes=[*found.notes, "left to plan its own names"])


def _ask(
    llm: Any,
    runtime: Any,
    task: str,
    architecture: Architecture,
    spec: ModuleSpec,
    roles: dict[str, str],
    named: dict[str, str],
    ids: list[str],
    pages: dict[str, list[str]],
    scenarios: list[dict[str, Any]],
    known: dict[str, FunctionSpec],
    taken: list[str] | None = None,
) -> ModuleContract:
    schema = contract_schema(roles, sorted(named), ids)
    if schema is None:
        return ModuleContract(spec.id, source="none", scripts=[], styles=[])
    messages: list[BaseMessage] = [
        SystemMessage(CONTRACT_SYSTEM_PROMPT),
        HumanMessage(
            _prompt(task, architecture, spec, roles, named, ids, scenarios)
            + (
                f"\nThese functions belong to other modules already; name this module's own: {', '.join(taken)}"
                if taken
                else ""
            )
        ),
    ]
    schema_llm = constrained(llm, schema, "contract")
    copy_asked = False
    for attempt in (1, 2, 3):
        reply = call_structured(llm, schema_llm, messages, runtime, module=spec.id)
        try:
            data, _ = extract_json_object(reply)
        except JSONExtractionError as exc:
            emit(runtime, "contract_unusable", module=spec.id, attempt=attempt, error=str(exc)[:200])
            if attempt >= 2:
                break
            messages = [*messages[:2], AIMessage(reply[:1500] or "(empty reply)"), HumanMessage(_retry(str(exc)))]
            continue
        found = read_contract(data, spec, roles, callable_names=sorted(named), page_ids=ids, pages=pages, known=known)
        if not data:  # an empty object: the module's names are left to its own step
            found.source, found.notes = "none", ["no contract given; the module plans its own names"]
            return found
        copies = copied(found)
        if copies and not copy_asked:
            copy_asked = True
            emit(runtime, "contract_copy", module=spec.id, why="; ".join(copies))
            messages = [
                *messages[:2],
                AIMessage(reply[:1500]),
                HumanMessage(
                    f"That answer copies the prompt's sample ({'; '.join(copies)}). Give this module's own "
                    "functions, named from the task, with examples of the task's own values. One JSON object."
                ),
            ]
            continue
        if copies:
            found.notes += rename_copies(found, spec, task)
        lacking = missing(found, roles)
        if lacking and attempt == 1:
            messages = [*messages[:2], AIMessage(reply[:1500]), HumanMessage(_retry("; ".join(lacking)))]
            continue
        if lacking:
            found.notes.append(f"still lacking after asking again: {'; '.join(lacking)}")
        if found.empty:
            break
        return found
    derived = derive_contract(spec, roles)
    emit(runtime, "contract_derived", module=spec.id, names=derived.names)
    return derived


def _retry(error: str) -> str:
    return f"That answer could not be used ({error[:300]}). Answer again with one JSON object as asked."


def _prompt(
    task: str,
    architecture: Architecture,
    spec: ModuleSpec,
    roles: dict[str, str],
    named: dict[str, str],
    ids: list[str],
    scenarios: list[dict[str, Any]],
) -> str:
    asks: list[str] = []
    code = code_files(roles)
    python = any(r in ("code", "entry") for r in roles.values())
    if code:
        asks.append(
            '- "functions": its public functions (helpers first): name, parameters'
            + (" with types, return type" if python else "")
            + ', a one-line purpose, 2-4 "examples" ({"args": [one value per parameter], "expected": the exact '
            'value returned}) and "calls": the functions of other modules it uses.'
            + (f' "file": which of {", ".join(code)} holds it.' if len(code) > 1 else "")
        )
        asks.append('- "constants": module-level lines its functions share (a lookup table, a file name, a default).')
    entry = next((p for p, r in roles.items() if r == "entry"), "")
    if entry:
        asks.append(
            f'- "commands": the sub-commands of the program {entry} (such as add, list), each calling one function '
            'above or of another module, its "arguments", and one "example": the arguments a user types after the '
            "command's name and the text it prints."
        )
    if any(r == "page" for r in roles.values()):
        asks.append(
            '- "elements": the page\'s element ids: each input (with its type), button and output (where results '
            "are shown), with a short label."
        )
    if ids or (any(r == "page" for r in roles.values()) and any(r == "script" for r in roles.values())):
        shown = f" on the page's ids ({', '.join('#' + i for i in ids)})" if ids else ""
        asks.append(
            f'- "events"{shown}: each user action calling one function above: {{"element": "add", "event": "click", '
            '"function": "addItem", "inputs": ["title"], "output": "list"}. The functions compute; they never '
            "touch the page."
        )
    fixed = ""
    if named:
        fixed = (
            "Functions of other modules it may call (fixed already):\n"
            + "\n".join(f"- {s}" for s in named.values())
            + "\n"
        )
    if ids and not any(r == "page" for r in roles.values()):
        fixed += f"The page's element ids (fixed already): {', '.join('#' + i for i in ids)}\n"
    mine = render_for_module(
        for_module([s for s in scenarios if s.get("source") == "user"], architecture.modules, spec.id)
    )
    return _USER_PROMPT.format(
        **module_fields(architecture, spec),
        task=task or architecture.goal,
        files=", ".join(f"{p} ({r})" for p, r in roles.items()),
        fixed=fixed,
        scenarios=mine,
        asks="\n".join(asks),
        sample=_SAMPLE if python or not code else _SAMPLE_JS,
    )
