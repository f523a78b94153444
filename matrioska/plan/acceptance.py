"""Acceptance scenarios: what the finished project must do, from the user's point of view.

"Works" used to mean "imports, its own tests pass, the page loads". A scenario asks whether the
project does what the task asked: a command-line program run like a user runs it (`add` then
`list`), Python code calling the project's functions with values whose answers are known, a page
driven in the browser (fill the title, click Add, the title is on the page). Scenarios come from
the user (`--acceptance FILE`, `acceptance=`) or are written by the model right after the plan;
the verify node runs them in the sandbox (`verify.py`), each on a fresh copy of the project.

This module holds the format (one JSON object per scenario, see docs/acceptance.md),
its validation with one-line errors naming the file, the scenario and the field, the filter that
keeps generated scenarios to what the plan names and the prompt lines that tell each module what
must hold. The JSON schemas the model writes them under, and the plan's slots those schemas offer,
live in `scenario_slots.py`.
"""

from __future__ import annotations

import builtins
import json
import keyword
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import AcceptanceError
from ..kinds.python.source import import_name

__all__ = [
    "KINDS",
    "STEP_ACTIONS",
    "load_scenarios",
    "validate_scenarios",
    "check_against_plan",
    "scenario_modules",
    "script_of",
    "repair_names",
    "plan_owners",
    "for_module",
    "render_for_module",
    "describe",
    "render_calls",
    "ENTRY_NAMES",
]

KINDS = ("command", "python", "page")
STEP_ACTIONS = {  # action -> the other field it needs (None: none)
    "fill": "text",
    "click": None,
    "press": "key",
    "select": "value",
    "check": None,
    "wait": None,
}
MAX_SCENARIOS = 12
_FIELDS = {
    "common": {"name", "kind", "timeout", "source", "files"},
    "command": {"before", "command", "exit", "stdout_contains", "stdout_lacks", "creates", "program", "args"},
    "python": {"code", "module", "calls", "steps", "check"},
    "page": {"page", "steps", "expect_text", "expect_no_text"},
}
_PROGRAMS = ("python", "python3", "node", "pytest", "sh", "bash")


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise _Invalid(field, "must be a list of strings")
    return [str(v) for v in value]


def _argv(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise _Invalid(field, f"cannot be split into arguments ({exc})") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int, float)) for v in value):
        raise _Invalid(field, 'must be a command: a list of arguments such as ["python", "main.py", "list"]')
    return [str(v) for v in value]


def _steps(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid("steps", 'must be a list of steps such as {"click": "#add"}')
    steps = []
    for number, step in enumerate(value, 1):
        where = f"steps[{number}]"
        if not isinstance(step, dict):
            raise _Invalid(where, 'must be an object such as {"click": "#add"}')
        actions = [a for a in STEP_ACTIONS if a in step]
        if len(actions) != 1:
            raise _Invalid(where, f"must hold exactly one action of {', '.join(STEP_ACTIONS)}")
        action = actions[0]
        needed = STEP_ACTIONS[action]
        if action == "wait":
            if not isinstance(step["wait"], (int, float)) or not 0 <= step["wait"] <= 10000:
                raise _Invalid(where, "wait takes milliseconds (0 to 10000)")
            steps.append({"wait": int(step["wait"])})
            continue
        if not isinstance(step[action], str) or not step[action].strip():
            raise _Invalid(where, f'{action} takes a CSS selector such as "#add"')
        clean: dict[str, Any] = {action: step[action].strip()}
        if needed is not None:
            if needed not in step or not isinstance(step[needed], (str, int, float)):
                raise _Invalid(where, f"{action} needs {needed!r}")
            clean[needed] = str(step[needed])
        steps.append(clean)
    return steps


def _program_prefix(program: Any) -> list[str]:
    """How a planned program is run: `python main.py`, `python -m pkg` for `pkg/__main__.py`,
    `node app.js`."""
    if not isinstance(program, str) or not program.strip():
        raise _Invalid("program", 'must be the project\'s program, such as "main.py"')
    pure = PurePosixPath(program.strip())
    if pure.name == "__main__.py" and len(pure.parts) > 1:
        return ["python", "-m", ".".join(pure.parent.parts)]
    if pure.suffix in (".js", ".mjs", ".cjs"):
        return ["node", pure.as_posix()]
    return ["python", pure.as_posix()]


def _arguments(args: list[str], program: str) -> list[str]:
    """A program's arguments without the command line a model wrote again in front of them (seen
    on the 0.5B: program "main.py", args ["python", "todo.py", "add", ...])."""
    if args[:1] and PurePosixPath(args[0]).name in _PROGRAMS:
        args = args[1:]
        if args[:1] and args[0].endswith((".py", ".js", ".mjs", ".cjs")):
            args = args[1:]
    elif args[:1] == [program]:
        args = args[1:]
    return args


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _calls(module: Any, calls: Any) -> tuple[str, list[dict[str, Any]]]:
    """A Python scenario in slots: the module and its calls, each `{"function", "args",
    "expected"}` (`expected` null: the call is a step, its value not checked)."""
    if not isinstance(module, str) or not _DOTTED.match(module):
        raise _Invalid("module", "must be the import name of one of the project's modules")
    if not isinstance(calls, list) or not calls:
        raise _Invalid("calls", 'must be a list of {"function", "args", "expected"}')
    out = []
    for number, call in enumerate(calls, 1):
        if not isinstance(call, dict) or not isinstance(call.get("function"), str):
            raise _Invalid(f"calls[{number}]", 'must be {"function": NAME, "args": [...], "expected": VALUE}')
        function = call["function"].strip()
        if not function.isidentifier() or keyword.iskeyword(function):
            # seen on the 1.5B: {"function": "assert", "args": ["len(csv_data) == 10"]}
            raise _Invalid(f"calls[{number}]", f"{function!r} is not a function name")
        if hasattr(builtins, function):  # print, len: Python's own, not a function of the module
            if call.get("expected") is None:
                continue  # a step that only prints: nothing of the module's ran
            raise _Invalid(f"calls[{number}]", f"{function!r} is Python's own function, not the module's")
        args = call.get("args") or []
        if not isinstance(args, list):
            args = [args]
        out.append({"function": function, "args": args, "expected": call.get("expected")})
    if all(c["expected"] is None for c in out):
        raise _Invalid("calls", "checks nothing: give at least one call the value it must return")
    return module, out


_SAME = """def _same(got, want):
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return abs(got - want) <= 1e-6 * max(1.0, abs(want))
    if isinstance(want, list) and isinstance(got, (list, tuple)):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return set(map(str, got)) == set(want) and all(_same(got[k], want[str(k)]) for k in got)
    return got == want
"""


def _call_text(call: dict[str, Any]) -> str:
    return f"{call['function']}({', '.join(repr(a) for a in call['args'])})"


def render_calls(module: str, calls: list[dict[str, Any]]) -> str:
    """The Python code of a scenario in slots: each call made in order, each expected value
    asserted (numbers compared to 1e-6, a tuple equal to the list JSON wrote), with a message
    that says what came back."""
    names = ", ".join(dict.fromkeys(c["function"] for c in calls))
    lines = [f"from {module} import {names}", "", _SAME]
    for number, call in enumerate(calls, 1):
        text = _call_text(call)
        lines.append(f"got_{number} = {text}")
        if call["expected"] is not None:
            want = repr(call["expected"])
            # the message joined from literals: a value holding braces never breaks an f-string
            message = f"{text + ' returned '!r} + repr(got_{number}) + {', expected ' + want!r}"
            lines.append(f"assert _same(got_{number}, {want}), {message}")
    return "\n".join(lines) + "\n"


def _one(raw: Any, strict: bool) -> dict[str, Any]:
    """One scenario, normalised; `_Invalid` names the field that is wrong."""
    out = _common(raw, strict)
    _KIND_FIELDS[out["kind"]](raw, out)
    if raw.get("source") in ("user", "generated"):
        out["source"] = raw["source"]
    return out


def _common(raw: Any, strict: bool) -> dict[str, Any]:
    """The fields every kind has (name, kind, timeout, files), in the order they are written;
    strict (the user's scenarios): a field the kind does not know is an error."""
    if not isinstance(raw, dict):
        raise _Invalid("(scenario)", "must be an object with name and kind")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Invalid("name", "must be a non-empty string")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _Invalid("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    known = _FIELDS["common"] | _FIELDS[kind]
    unknown = sorted(set(raw) - known)
    if unknown and strict:
        raise _Invalid(unknown[0], f"is not a field of a {kind} scenario (fields: {', '.join(sorted(known))})")
    out: dict[str, Any] = {"name": " ".join(name.split())[:120], "kind": kind}
    timeout = raw.get("timeout")
    if timeout is not None:
        if not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise _Invalid("timeout", "must be seconds between 0 and 600")
        out["timeout"] = float(timeout)
    out["files"] = _files(raw.get("files") or {})
    return out


def _files(files: Any) -> dict[str, str]:
    """The files a scenario puts in the project first: relative path -> text (the slot form, a
    list of `{"path", "text"}`, too)."""
    if isinstance(files, list):  # the slot form: [{"path": ..., "text": ...}]
        if not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
            raise _Invalid("files", 'must be a list of {"path": ..., "text": ...}')
        files = {f["path"]: str(f.get("text") or "") for f in files}
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise _Invalid("files", "must map relative paths to their text")
    for path in files:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not path.strip():
            raise _Invalid("files", f"{path!r} must be a path inside the project")
    return dict(files)


def _slot_command(raw: dict[str, Any], before: Any) -> tuple[list[str], list[list[str]]]:
    """The slot form of a command: a planned program and its arguments, the interpreter put in
    front of it and of each command run before it."""
    prefix = _program_prefix(raw["program"])
    command = [*prefix, *_arguments(_strings(raw.get("args"), "args"), raw["program"])]
    if not isinstance(before, list) or not all(isinstance(b, list) for b in before):
        raise _Invalid("before", "must be a list of argument lists")
    return command, [[*prefix, *_arguments(_strings(b, "before"), raw["program"])] for b in before]


def _command_fields(raw: dict[str, Any], out: dict[str, Any]) -> None:
    """A command scenario's fields: the command, the ones run before it, what it must show."""
    before = raw.get("before") or []
    if "command" not in raw and "program" in raw:  # the slot form: a planned program and its arguments
        out["command"], before = _slot_command(raw, before)
    elif "command" not in raw:
        raise _Invalid("command", "is required for a command scenario")
    else:
        out["command"] = _argv(raw["command"], "command")
    if not isinstance(before, list):
        raise _Invalid("before", "must be a list of commands")
    if before and all(isinstance(b, str) for b in before) and not any(" " in b for b in before):
        before = [before]  # one command written as a flat list
    out["before"] = [_argv(b, f"before[{i}]") for i, b in enumerate(before, 1)]
    code = raw.get("exit", 0)
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise _Invalid("exit", "must be an exit status (an integer), or null for any")
    out["exit"] = code
    out["stdout_contains"] = _strings(raw.get("stdout_contains"), "stdout_contains")
    out["stdout_lacks"] = _strings(raw.get("stdout_lacks"), "stdout_lacks")
    out["creates"] = _strings(raw.get("creates"), "creates")


def _python_code(raw: dict[str, Any], out: dict[str, Any]) -> Any:
    """A Python scenario's code as written, or rendered from its calls (the slot form, and the
    schema's steps then one checked call), which go in `out` too."""
    code = raw.get("code")
    if code is None and "check" in raw:  # the schema's form: steps, then one call with its value
        steps = raw.get("steps") or []
        if not isinstance(steps, list) or not isinstance(raw["check"], dict):
            raise _Invalid("check", 'must be {"function", "args", "expected"} after a list of "steps"')
        raw = {**raw, "calls": [*({**s, "expected": None} for s in steps if isinstance(s, dict)), raw["check"]]}
    if code is None and "calls" in raw:  # the slot form: calls and the values they must return
        module, calls = _calls(raw.get("module"), raw.get("calls"))
        out["module"], out["calls"] = module, calls
        code = render_calls(module, calls)
    return code


def _python_fields(raw: dict[str, Any], out: dict[str, Any]) -> None:
    """A Python scenario's code, which must compile."""
    code = _python_code(raw, out)
    if isinstance(code, list):
        code = "\n".join(map(str, code))
    if not isinstance(code, str) or not code.strip():
        raise _Invalid("code", "must be Python code (asserts on the project's functions)")
    try:
        compile(code, "<scenario>", "exec")
    except SyntaxError as exc:
        raise _Invalid("code", f"is not valid Python: {exc.msg} (line {exc.lineno})") from None
    out["code"] = code


def _page_fields(raw: dict[str, Any], out: dict[str, Any]) -> None:
    """A page scenario's page, its steps and the text it must (not) show."""
    page = raw.get("page")
    if not isinstance(page, str) or not page.strip().lower().endswith((".html", ".htm")):
        raise _Invalid("page", 'must be the project\'s HTML page, such as "index.html"')
    out["page"] = page.strip().lstrip("/")
    out["steps"] = _steps(raw.get("steps"))
    out["expect_text"] = _strings(raw.get("expect_text"), "expect_text")
    out["expect_no_text"] = _strings(raw.get("expect_no_text"), "expect_no_text")
    if not out["steps"] and not out["expect_text"] and not out["expect_no_text"]:
        raise _Invalid("steps", "a page scenario needs steps or expected text")


_KIND_FIELDS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "command": _command_fields,
    "python": _python_fields,
    "page": _page_fields,
}


def _items(value: Any, origin: str) -> list[Any]:
    if isinstance(value, dict) and "scenarios" in value:
        value = value["scenarios"]
    elif isinstance(value, dict) and "kind" in value:
        value = [value]
    if not isinstance(value, list):
        raise AcceptanceError(f'{origin}: expected {{"scenarios": [...]}} (a list of scenarios)')
    return value


def validate_scenarios(value: Any, *, origin: str = "acceptance", source: str = "user") -> list[dict[str, Any]]:
    """Every scenario of `value` (a list, or `{"scenarios": [...]}`), normalised; the first
    problem raises `AcceptanceError` in one line naming `origin`, the scenario and the field."""
    items = _items(value, origin)
    if not items:
        raise AcceptanceError(f"{origin}: no scenarios (the list is empty)")
    if len(items) > MAX_SCENARIOS:
        raise AcceptanceError(f"{origin}: {len(items)} scenarios; at most {MAX_SCENARIOS}")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for number, raw in enumerate(items, 1):
        label = f"scenario {number}"
        if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"].strip():
            label += f" ({raw['name'].strip()[:60]!r})"
        try:
            scenario = _one(raw, strict=True)
        except _Invalid as exc:
            raise AcceptanceError(f"{origin}: {label}: field {exc.field!r} {exc}") from None
        if scenario["name"] in names:
            raise AcceptanceError(f"{origin}: {label}: field 'name' repeats another scenario's name")
        names.add(scenario["name"])
        scenario.setdefault("source", source)
        out.append(scenario)
    return out


def load_scenarios(value: str | os.PathLike[str] | list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    """The user's scenarios from a JSON file path, or a list / `{"scenarios": [...]}` given in
    Python; `AcceptanceError` (one line) when the file cannot be read or a scenario is wrong."""
    if isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AcceptanceError(f"cannot read the acceptance file {str(path)!r}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AcceptanceError(f"{path}: not valid JSON ({exc})") from None
        return validate_scenarios(data, origin=str(path), source="user")
    return validate_scenarios(value, origin="acceptance", source="user")


def lenient(value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """A model's scenarios: the valid ones, and one note per scenario dropped (with why)."""
    try:
        items = _items(value, "the scenarios")
    except AcceptanceError as exc:
        return [], [str(exc)]
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for number, raw in enumerate(items, 1):
        try:
            scenario = _one(raw, strict=False)
        except _Invalid as exc:
            notes.append(f"scenario {number} dropped: field {exc.field!r} {exc}")
            continue
        if any(s["name"] == scenario["name"] for s in out):
            scenario["name"] = f"{scenario['name']} ({number})"
        scenario["source"] = "generated"
        out.append(scenario)
    return out, notes


# -- what the plan names ------------------------------------------------------------------------


def _imports(code: str) -> list[str]:
    names = re.findall(r"^\s*from\s+([\w.]+)\s+import\b", code, re.M)
    for match in re.finditer(r"^\s*import\s+([\w., ]+)", code, re.M):
        names += [part.split(" as ")[0].strip() for part in match.group(1).split(",")]
    return [n for n in names if n]


def script_of(argv: list[str]) -> str | None:
    """The project file or module a command runs (`python main.py`, `python -m app`, `node x.js`)."""
    if not argv:
        return None
    program = PurePosixPath(argv[0]).name
    rest = argv[1:]
    if program.startswith("python") or program in ("node", "sh", "bash"):
        if rest[:1] == ["-m"] and len(rest) > 1:
            return "-m " + rest[1]
        if rest[:1] in (["-c"], ["-e"]):
            return None  # inline code: it names no file
        return next((a for a in rest if not a.startswith("-")), None)
    return argv[0] if "/" in argv[0] or "." in argv[0] else None


def check_against_plan(scenario: dict[str, Any], planned: Iterable[str]) -> str | None:
    """Why a generated scenario names what the plan does not (None when it names only planned
    files, modules and programs)."""
    paths = set(planned)
    modules = {name for p in paths if (name := import_name(p))}
    packages = {m.split(".")[0] for m in modules}
    kind = scenario["kind"]
    if kind == "page":
        if scenario["page"] not in paths:
            return f"page {scenario['page']!r} is not a planned file"
        return None
    if kind == "python":
        for name in _imports(scenario["code"]):
            top = name.split(".")[0]
            if name in modules or top in packages or top in sys.stdlib_module_names:
                continue
            return f"it imports {name!r}, which no planned file provides"
        if not any(n in modules or n.split(".")[0] in packages for n in _imports(scenario["code"])):
            return "it imports none of the project's modules"
        return None
    for argv in [*scenario["before"], scenario["command"]]:
        program = PurePosixPath(argv[0]).name
        if program not in _PROGRAMS and argv[0] not in paths:
            return f"it runs {argv[0]!r}, which is neither a planned file nor python/node"
        target = script_of(argv)
        if target is None:
            continue
        if target.startswith("-m "):
            module = target[3:]
            if module not in modules and module.split(".")[0] not in packages and program != "pytest":
                return f"it runs module {module!r}, which no planned file provides"
        elif target not in paths and target not in scenario["files"] and program != "pytest":
            return f"it runs {target!r}, which is not a planned file"
    return None


# The names of a project's entry points: the programs a command scenario runs.
ENTRY_NAMES = ("main.py", "cli.py", "app.py", "__main__.py", "run.py")
_ENTRY_PLACEHOLDER = re.compile(r"^<[^<>]*(entry|file|script|program|main)[^<>]*>$", re.I)


def repair_names(scenario: dict[str, Any], modules: Iterable[Any]) -> list[str]:
    """Near misses a small model makes in a scenario, fixed without the model (in place); one note
    per edit. A module id where a file or import name belongs (`python core add`, `from cli
    import main`) becomes that module's one Python file; the prompt's `<entry file>` becomes the
    plan's one entry point; a planned script run without its interpreter gets `python`."""
    python_files: dict[str, str] = {}
    for module in modules:
        own = [p for p in module.files if p.endswith(".py") and "test" not in PurePosixPath(p).name]
        if len(own) == 1:
            python_files[module.id] = own[0]
    planned = [p for module in modules for p in module.files]
    entries = [p for p in planned if PurePosixPath(p).name in ENTRY_NAMES]
    notes: list[str] = []
    kind = scenario["kind"]
    if kind == "command":
        for argv in [*scenario["before"], scenario["command"]]:
            for index, arg in enumerate(argv):
                new = None
                if index <= 1 and arg in python_files and arg not in planned:
                    new = python_files[arg]
                elif index <= 1 and _ENTRY_PLACEHOLDER.match(arg) and len(entries) == 1:
                    new = entries[0]
                if new is not None:
                    notes.append(f"{arg!r} -> {new!r}")
                    argv[index] = new
            if argv and argv[0] in planned and argv[0].endswith(".py"):
                argv.insert(0, "python")
                notes.append(f"'python' added before {argv[1]!r}")
    elif kind == "python":
        code = scenario["code"]
        for name in dict.fromkeys(_imports(code)):
            target = python_files.get(name)
            importable = target and import_name(target)
            if importable and importable != name and name not in {import_name(p) for p in planned}:
                code = re.sub(rf"^(\s*(?:from|import)\s+){re.escape(name)}\b", rf"\g<1>{importable}", code, flags=re.M)
                notes.append(f"import {name!r} -> {importable!r}")
        scenario["code"] = code
    return notes


def scenario_modules(
    scenario: dict[str, Any],
    owners: dict[str, str],
    dependencies: dict[str, list[str]],
    *,
    with_dependencies: bool = True,
) -> list[str]:
    """The modules a scenario exercises, by the files they own: a page's module and the
    modules of the project's scripts; the module of the program a command runs (and, with
    `with_dependencies`, the modules it depends on); the modules a Python scenario imports."""
    by_module: dict[str, str] = {}
    for path, module in owners.items():
        name = import_name(path)
        if name:
            by_module[name] = module
    found: list[str] = []

    def add(module: str | None) -> None:
        if module and module not in found:
            found.append(module)

    kind = scenario["kind"]
    if kind == "page":
        add(owners.get(scenario["page"]))
        for path, module in owners.items():
            if path.endswith((".js", ".mjs")) and not re.search(r"(\.test|\.spec)\.[cm]?js$", path):
                add(module)
    elif kind == "python":
        for name in _imports(scenario["code"]):
            add(by_module.get(name) or by_module.get(name.split(".")[0]))
    else:
        for argv in [*scenario["before"], scenario["command"]]:
            target = script_of(argv)
            if target is None:
                continue
            runs: str | None = by_module.get(target[3:]) if target.startswith("-m ") else owners.get(target)
            if runs is None and target.startswith("-m "):
                package = target[3:].replace(".", "/")
                runs = next(
                    (m for p, m in owners.items() if p.startswith((package + "/", "src/" + package + "/"))), None
                )
            add(runs)
        for module in list(found) if with_dependencies else []:
            for dependency in dependencies.get(module, []):
                add(dependency)
    return found


def plan_owners(modules: Iterable[Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Planned file -> module id, and module id -> its dependencies (from `ModuleSpec`s)."""
    owners: dict[str, str] = {}
    dependencies: dict[str, list[str]] = {}
    for module in modules:
        dependencies[module.id] = list(module.dependencies)
        for path in module.files:
            owners.setdefault(path, module.id)
    return owners, dependencies


def for_module(scenarios: list[dict[str, Any]], modules: list[Any], module_id: str) -> list[dict[str, Any]]:
    """The scenarios that exercise a module's files (what its prompt must say must hold)."""
    owners, dependencies = plan_owners(modules)
    return [s for s in scenarios if module_id in scenario_modules(s, owners, dependencies)]


# -- words --------------------------------------------------------------------------------------


def _quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def describe(scenario: dict[str, Any]) -> str:
    """One scenario in a line or two of plain words (prompts, reports)."""
    kind = scenario["kind"]
    name = scenario["name"]
    if kind == "command":
        parts = [f"after `{_quote(b)}`" for b in scenario["before"]]
        parts.append(f"`{_quote(scenario['command'])}`")
        expect = []
        if scenario.get("exit") is not None:
            expect.append(f"exits {scenario['exit']}")
        expect += [f"prints {s!r}" for s in scenario["stdout_contains"]]
        expect += [f"never prints {s!r}" for s in scenario["stdout_lacks"]]
        expect += [f"creates {p}" for p in scenario["creates"]]
        given = f" (with the file(s) {', '.join(scenario['files'])} present)" if scenario.get("files") else ""
        return f"{name}: {', then '.join(parts)}{given}: " + (", ".join(expect) or "runs")
    if kind == "python" and scenario.get("calls"):
        steps = [
            f"{_call_text(c)} returns {c['expected']!r}" if c["expected"] is not None else _call_text(c)
            for c in scenario["calls"]
        ]
        return f"{name}: from {scenario['module']}: " + "; then ".join(steps)
    if kind == "python":
        code = "; ".join(line.strip() for line in scenario["code"].splitlines() if line.strip())
        return f"{name}: this Python code runs without error: {code[:400]}"
    steps = []
    for step in scenario["steps"]:
        if "fill" in step:
            steps.append(f"type {step['text']!r} into {step['fill']}")
        elif "click" in step:
            steps.append(f"click {step['click']}")
        elif "press" in step:
            steps.append(f"press {step['key']} in {step['press']}")
        elif "select" in step:
            steps.append(f"choose {step['value']!r} in {step['select']}")
        elif "check" in step:
            steps.append(f"check {step['check']}")
        else:
            steps.append(f"wait {step['wait']} ms")
    expect = [f"the page shows {t!r}" for t in scenario["expect_text"]]
    expect += [f"the page does not show {t!r}" for t in scenario["expect_no_text"]]
    return f"{name}: open {scenario['page']}, " + ", ".join(steps + expect)


def render_for_module(scenarios: list[dict[str, Any]]) -> str:
    """The prompt section of a module's scenarios ("" when none touches it)."""
    if not scenarios:
        return ""
    lines = [f"- {describe(s)}" for s in scenarios]
    return (
        "\n\nACCEPTANCE (what must hold when the finished project runs; use exactly these file names, "
        "commands, functions and element ids):\n" + "\n".join(lines)
    )
