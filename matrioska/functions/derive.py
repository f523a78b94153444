"""What is derived from the contract without the model (issue 40): the acceptance scenarios, the
page skeleton, and a page reply's contract ids put back.

- `contract_scenarios`: a public function's value examples become a Python check (its calls with
  the values they must return); a command's example becomes an invocation with what it prints
  (the value of the function it calls, shown as the argparse entry prints it, when an example of
  that function says so); an argument-less listing command run after the adding ones becomes
  "add, then list shows it"; a page event becomes fill, click and expect with the contract's ids
  and its function's example values. Every name in them is the contract's.
- `scaffold_page`: the page's HTML from its elements: labelled inputs of their types, buttons,
  outputs (a list where the function it shows returns a list), the script and style tags.
- `restore_ids`: a page a model wrote that dropped or renamed a contract id gets it back: an
  element of the right kind with a near id is renamed, a missing one is added.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from functools import partial
from typing import Any

from ..generation.project import ProjectFile
from ..kinds.python.source import import_name
from ..state import ModuleSpec
from .contract import Element, ModuleContract, contract_key, example_of
from .spec import FunctionSpec

__all__ = [
    "contract_scenarios",
    "without_suspect",
    "scaffold_page",
    "restore_ids",
    "shown_lines",
    "lacking_names",
    "page_only",
    "mend_page",
    "bind_judge",
    "reading_contracts",
]

_LISTING = re.compile(r"^(list|ls|show|all|view|display|history|items|report|summary)(-\w+)?$")


def shown_lines(value: Any) -> list[str]:
    """What the argparse entry prints for a value (`entry._SHOW`): lines to find in stdout."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v) for v in value.values()][
            :3
        ]
    if isinstance(value, (list, tuple)):
        return [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v) for v in value][:4]
    return [str(value)]


def _page_text(value: Any) -> list[str]:
    """What the page wiring shows of a value (`wiring.matrioskaShow`): texts to find on the page."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value))]
    if isinstance(value, list):
        return [t for v in value[:4] for t in ([json.dumps(v)] if isinstance(v, (dict, list)) else _page_text(v))]
    if isinstance(value, dict):
        return [
            str(v) for v in list(value.values())[:3] if isinstance(v, (str, int, float)) and not isinstance(v, bool)
        ]
    return [str(value)]


def _functions(contracts: dict[str, ModuleContract]) -> dict[str, tuple[ModuleContract, FunctionSpec]]:
    """Every contract function by its name and by `module.name`."""
    out: dict[str, tuple[ModuleContract, FunctionSpec]] = {}
    for contract in contracts.values():
        for function in contract.functions:
            out.setdefault(function.name, (contract, function))
            if contract.language == "python" and function.file:
                out[f"{import_name(function.file)}.{function.name}"] = (contract, function)
    return out


def contract_scenarios(contracts: dict[str, ModuleContract], limit: int = 8) -> list[dict[str, Any]]:
    """The acceptance scenarios the contract implies (raw, for `validate_scenarios`)."""
    out: list[dict[str, Any]] = []
    by_name = _functions(contracts)
    for contract in contracts.values():
        if contract.language == "python":
            for function in contract.functions:
                calls = [
                    {"function": function.name, "args": e.args, "expected": e.expected}
                    for e in function.checked
                    if e.checks_value and not e.files and e.stdout is None and e.expected is not None
                ][:3]
                module = import_name(function.file) if function.file else None
                if calls and module:
                    out.append(
                        {
                            "name": f"{function.name} returns what the contract says",
                            "kind": "python",
                            "module": module,
                            "calls": calls,
                        }
                    )
        out += _command_scenarios(contract, by_name)
        out += _page_scenarios(contract, contracts, by_name)
    seen: set[str] = set()
    unique = []
    for scenario in out:
        key = json.dumps({k: v for k, v in scenario.items() if k != "name"}, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append({**scenario, "source": "generated"})
    # one of each kind first, so that a limit keeps the variety
    counts: dict[str, int] = {}
    ranks = []
    for scenario in unique:
        ranks.append(counts.get(scenario["kind"], 0))
        counts[scenario["kind"]] = ranks[-1] + 1
    order = sorted(range(len(unique)), key=lambda i: (ranks[i], i))
    return [unique[i] for i in order][:limit]


def without_suspect(scenarios: list[dict[str, Any]], reports: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The scenarios with the calls a module's trial found suspect left out (issue 41: the
    consensus contradicts the contract's example, so it is no test of the project), a scenario
    left with no call dropped; and one note per call left out."""
    suspect: dict[tuple[str, str], str] = {}
    for report in reports.values():
        for function in (((report or {}).get("functions") or {}).get("plan") or {}).get("functions") or []:
            for example in function.get("examples") or []:
                if example.get("suspect"):
                    key = (str(function.get("name")), json.dumps(example.get("args"), sort_keys=True, default=str))
                    suspect[key] = str(example["suspect"])
    if not suspect:
        return scenarios, []
    out, notes = [], []
    for scenario in scenarios:
        calls = scenario.get("calls")
        if scenario.get("kind") != "python" or not isinstance(calls, list):
            out.append(scenario)
            continue
        kept = []
        for call in calls:
            key = (str(call.get("function")), json.dumps(call.get("args"), sort_keys=True, default=str))
            if key in suspect:
                args = ", ".join(repr(a) for a in call.get("args") or [])
                notes.append(f"{call.get('function')}({args}) == {call.get('expected')!r} left out: {suspect[key]}")
            else:
                kept.append(call)
        if kept:
            out.append({**scenario, "calls": kept} if len(kept) < len(calls) else scenario)
    return out, notes


def _command_scenarios(
    contract: ModuleContract, by_name: dict[str, tuple[ModuleContract, FunctionSpec]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not contract.entry:
        return out
    adding: list[tuple[list[str], str]] = []
    for command in contract.commands:
        target = by_name.get(command.function) or by_name.get(command.function.rsplit(".", 1)[-1])
        function = target[1] if target else None
        args: list[str] = []
        stdout: list[str] = []
        example = example_of(function) if function is not None else None
        usable = example is not None and all(
            isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in example.args
        )
        if example is not None and usable and len(example.args) == len(command.arguments):
            args = [str(a) for a in example.args]
            stdout = [line for line in shown_lines(example.expected) if line.strip()][:2]
        elif command.example:
            args = [str(a) for a in command.example.get("args") or []]
            text = str(command.example.get("stdout") or "").strip()
            stdout = [text.splitlines()[0]] if text else []
        if len(args) != len(command.arguments):
            continue
        if args and any(a.strip() for a in args):
            adding.append(([command.name, *args], next((a for a in args if not a.lstrip("-").isdigit()), "")))
        if stdout:
            out.append(
                {
                    "name": f"{command.name} prints what the contract says",
                    "kind": "command",
                    "program": contract.entry,
                    "args": [command.name, *args],
                    "stdout_contains": stdout,
                }
            )
    for command in contract.commands:  # add, then list shows it
        if command.arguments or not _LISTING.match(command.name):
            continue
        shown = [(argv, word) for argv, word in adding if word][:2]
        if shown:
            out.append(
                {
                    "name": f"{command.name} shows what {', '.join(a[0] for a, _ in shown)} stored",
                    "kind": "command",
                    "program": contract.entry,
                    "before": [argv for argv, _ in shown],
                    "args": [command.name],
                    "stdout_contains": [word for _, word in shown],
                }
            )
            break
    return out


def _page_scenarios(
    contract: ModuleContract,
    contracts: dict[str, ModuleContract],
    by_name: dict[str, tuple[ModuleContract, FunctionSpec]],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in contract.events:
        page = _page_with(contracts, event)
        target = by_name.get(str(event.get("function")))
        if page is None or target is None or event.get("event") not in ("click", "keydown", "submit"):
            continue
        example = example_of(target[1])
        inputs = list(event.get("inputs") or [])
        if example is None or len(example.args) != len(inputs) or not event.get("output"):
            continue
        if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in example.args):
            continue
        texts = [t for t in _page_text(example.expected) if t.strip()]
        if not texts:
            continue
        steps: list[dict[str, Any]] = [
            {"fill": f"#{i}", "text": str(a)} for i, a in zip(inputs, example.args, strict=True)
        ]
        if event["event"] == "click":
            steps.append({"click": f"#{event['element']}"})
        elif inputs:
            steps.append({"press": f"#{inputs[-1]}", "key": "Enter"})
        else:
            continue
        out.append(
            {
                "name": f"{event['event']} on #{event['element']} shows what {event['function']} returns",
                "kind": "page",
                "page": page.page,
                "steps": steps,
                "expect_text": texts[:2],
            }
        )
    return out


def _page_with(contracts: dict[str, ModuleContract], event: dict[str, Any]) -> ModuleContract | None:
    """The page contract holding the event's element."""
    for contract in contracts.values():
        if contract.page and any(e.id == event.get("element") for e in contract.elements):
            return contract
    return None


def lacking_names(scenario: dict[str, Any], contracts: dict[str, ModuleContract]) -> list[str]:
    """The names a scenario uses that the contract lacks: functions it calls, commands it runs,
    element ids it drives (empty: every name is the contract's, or the contract is silent)."""
    functions = {f.name for c in contracts.values() for f in c.functions}
    commands = {c.name for m in contracts.values() for c in m.commands}
    ids = {e.id for c in contracts.values() for e in c.elements}
    out: list[str] = []
    if scenario.get("kind") == "python" and functions:
        for call in scenario.get("calls") or []:
            if call.get("function") not in functions:
                out.append(f"function {call.get('function')}")
    if scenario.get("kind") == "command" and commands:
        argv = scenario.get("command") or []
        for run in [*(scenario.get("before") or []), argv]:
            word = next((a for a in run[2:3] if not a.startswith("-")), None)
            if word is not None and word not in commands and run[:1] and run[0].startswith("python"):
                out.append(f"command {word}")
    if scenario.get("kind") == "page" and ids:
        for step in scenario.get("steps") or []:
            for action in ("fill", "click", "press", "select", "check"):
                selector = str(step.get(action) or "")
                if selector.startswith("#") and selector[1:] not in ids:
                    out.append(f"element {selector}")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- the page


def _returns_list(contracts: dict[str, ModuleContract], element: str) -> bool:
    by_name = _functions(contracts)
    for contract in contracts.values():
        for event in contract.events:
            if event.get("output") != element:
                continue
            target = by_name.get(str(event.get("function")))
            if target is None:
                continue
            function = target[1]
            if function.returns.lower().startswith(("list", "array")) or any(
                isinstance(e.expected, list) for e in function.examples
            ):
                return True
    return False


def _label(element: Element) -> str:
    if element.label:
        return element.label
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", element.id).replace("-", " ").replace("_", " ").split()
    return " ".join(words).capitalize() or element.id


def scaffold_page(contract: ModuleContract, contracts: dict[str, ModuleContract], title: str) -> str:
    """The page's HTML from its contract: every element id, the script and style tags."""
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '  <meta charset="utf-8">',
        '  <meta name="viewport" content="width=device-width, initial-scale=1">',
        f"  <title>{esc(title)}</title>",
        *(f'  <link rel="stylesheet" href="{esc(s)}">' for s in contract.styles),
        "</head>",
        "<body>",
        "  <main>",
        f"    <h1>{esc(title)}</h1>",
    ]
    inputs = [e for e in contract.elements if e.role == "input"]
    buttons = [e for e in contract.elements if e.role == "button"]
    outputs = [e for e in contract.elements if e.role == "output"]
    if inputs or buttons:
        lines.append('    <section class="controls">')
        for element in inputs:
            ident, label = esc(element.id), esc(_label(element))
            lines.append(f'      <label for="{ident}">{label}</label>')
            if element.type == "textarea":
                lines.append(f'      <textarea id="{ident}" name="{ident}"></textarea>')
            elif element.type == "select":
                lines.append(f'      <select id="{ident}" name="{ident}"></select>')
            else:
                lines.append(f'      <input id="{ident}" name="{ident}" type="{esc(element.type or "text")}">')
        for element in buttons:
            lines.append(f'      <button id="{esc(element.id)}" type="button">{esc(_label(element))}</button>')
        lines.append("    </section>")
    for element in outputs:
        ident = esc(element.id)
        if _returns_list(contracts, element.id):
            lines.append(f'    <ul id="{ident}" aria-live="polite"></ul>')
        else:
            lines.append(f'    <div id="{ident}" aria-live="polite"></div>')
    lines += ["  </main>", *(f'  <script src="{esc(s)}"></script>' for s in contract.scripts), "</body>", "</html>"]
    return "\n".join(lines) + "\n"


_TAG_WITH_ID = re.compile(r"""<(\w+)\b[^>]*\bid\s*=\s*(["'])([^"']*)\2[^>]*>""")
_ROLE_TAGS = {
    "input": ("input", "textarea", "select"),
    "button": ("button",),
    "output": ("div", "ul", "ol", "p", "span", "output", "section", "table", "pre"),
}


def restore_ids(text: str, contract: ModuleContract) -> tuple[str, list[str]]:
    """The page with every contract id back: an id the reply renamed (an element of the role's
    tag whose id is not the contract's and is closest to it) renamed back, a missing one added
    before `</body>` (or at the end). One note per id put back."""
    notes: list[str] = []
    wanted = {e.id: e for e in contract.elements}
    present = [(m.group(1).lower(), m.group(3)) for m in _TAG_WITH_ID.finditer(text)]
    ids = {ident for _, ident in present}
    spare = [(tag, ident) for tag, ident in present if ident not in wanted]
    for element in contract.elements:
        if element.id in ids:
            continue
        tags = _ROLE_TAGS.get(element.role, ())
        near = [ident for tag, ident in spare if tag in tags]
        match = difflib.get_close_matches(element.id, near, n=1, cutoff=0.5) or (near[:1] if len(near) == 1 else [])
        if match:
            old = match[0]
            text = re.sub(rf"""(\bid\s*=\s*["']){re.escape(old)}(["'])""", rf"\g<1>{element.id}\g<2>", text, count=1)
            text = re.sub(rf"""(\bfor\s*=\s*["']){re.escape(old)}(["'])""", rf"\g<1>{element.id}\g<2>", text)
            spare = [(t, i) for t, i in spare if i != old]
            notes.append(f"#{old} renamed #{element.id} (the contract's id)")
            continue
        snippet = _element_html(element)
        at = text.lower().rfind("</body>")
        text = text[:at] + snippet + "\n" + text[at:] if at >= 0 else text.rstrip("\n") + "\n" + snippet + "\n"
        notes.append(f"#{element.id} added (the contract's id was missing)")
    return text, notes


def _element_html(element: Element) -> str:
    ident = html.escape(element.id)
    if element.role == "input":
        return f'<label for="{ident}">{html.escape(_label(element))}</label> <input id="{ident}" type="{html.escape(element.type or "text")}">'
    if element.role == "button":
        return f'<button id="{ident}" type="button">{html.escape(_label(element))}</button>'
    return f'<div id="{ident}"></div>'


def page_only(
    spec: ModuleSpec, mine: ModuleContract | None, contracts: dict[str, ModuleContract], title: str
) -> dict[str, Any] | None:
    """A module holding a page the contract fixes and no code: the page scaffolded from the
    contract, the rest (styles, prose) written whole by the model (issue 40). None otherwise, and
    when the plan gives the page no script: its behaviour can then only be the page's own inline
    code, which the model writes (seen on the real 0.5B: a shopping list planned as three page
    modules and no script; a scaffold there would be a page that can do nothing)."""
    if mine is None or not mine.elements or mine.page not in spec.files or not mine.scripts:
        return None
    if (
        any(p.endswith((".py", ".js", ".mjs")) for p in spec.files)
        or len([p for p in spec.files if p.endswith((".html", ".htm"))]) > 1
    ):
        return None
    page = scaffold_page(mine, contracts, title or spec.label)
    whole = [p for p in spec.files if p != mine.page]
    ways = {mine.page: "page scaffold from the contract", **{p: "whole (by the model)" for p in whole}}
    own = [ProjectFile(mine.page, page, spec.id)]
    if whole:
        return {"path": "page scaffold", "whole": whole, "own": own, "files": ways}
    return {"path": "page scaffold", "own": own, "files": ways}


def mend_page(contract: ModuleContract, files: list[ProjectFile]) -> tuple[list[ProjectFile], list[str]]:
    """A reply's page with the contract's ids put back (a dropped or renamed id), and notes."""
    out, notes = [], []
    for file in files:
        if file.path == contract.page:
            text, more = restore_ids(file.content, contract)
            if more:
                file = ProjectFile(file.path, text, file.module)
                notes += more
        out.append(file)
    return out, notes


def reading_contracts(spec: ModuleSpec, shared_state: dict[str, Any]) -> ModuleSpec:
    """The module as its prompt sees it: reading its own contract and its dependencies' from the
    whiteboard besides the keys it declared."""
    keys = [contract_key(m) for m in [spec.id, *spec.dependencies]]
    extra = [k for k in keys if k in shared_state and k not in spec.shared_state_reads]
    return spec.model_copy(update={"shared_state_reads": [*spec.shared_state_reads, *extra]}) if extra else spec


def bind_judge(judge: Any, contract: ModuleContract | None, spec: ModuleSpec) -> None:
    """A module's judge told its contract: the names it declares (read identifiers it must use)
    and, for a page it fixes, the ids put back in a reply that dropped or renamed them."""
    if contract is None:
        return
    judge.declared = frozenset(contract.names)
    if contract.page in spec.files and contract.elements:
        judge.mend = partial(mend_page, contract)
