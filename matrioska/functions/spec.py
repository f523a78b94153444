"""A module's function plan: its functions, each with a signature, a purpose and examples.

The plan is plain data (it is checkpointed in the module report and shown by review and the
monitor). `FunctionPlan.to_dict()` / `from_dict()` round-trip it; `plan_schema()` is the JSON
schema the model answers under; `read_plan()` turns whatever the model answered (schema-held or
not) into a plan, repairing what can be repaired and dropping with a note what cannot:
a name that is not an identifier, a duplicate, an example whose arguments do not fit the
parameters, a call the module may not make.

An example is a call and what must come of it: `args` (JSON values, in the parameters' order)
and `expected` (the JSON value it returns), or, where the behaviour is a side effect, `files`
created in the working folder first and the text the call prints (`stdout`, a part of it).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LANGUAGES",
    "Param",
    "Example",
    "FunctionSpec",
    "Command",
    "FunctionPlan",
    "language_of",
    "plan_schema",
    "events_schema",
    "read_plan",
    "render_value",
    "NO_VALUE",
]

LANGUAGES = {"python": (".py",), "javascript": (".js", ".mjs")}
"""The languages a module can be written function by function in, and their files' suffixes."""
NO_VALUE = "<no value checked>"
"""`Example.expected` when only the side effect is checked (files, stdout)."""
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_JS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else export extends false finally for "
    "function if import in instanceof new null return super switch this throw true try typeof var void while "
    "with yield let static enum await implements package protected interface private public".split()
)
MAX_FUNCTIONS = 8
MAX_EXAMPLES = 4


def language_of(path: str) -> str | None:
    """The language a file is written in function by function, or None (not code we do so)."""
    lowered = path.lower()
    for language, suffixes in LANGUAGES.items():
        if lowered.endswith(suffixes):
            return language
    return None


def _identifier(name: Any, language: str) -> str | None:
    text = str(name or "").strip()
    if not _IDENT.match(text) or (language == "python" and ("$" in text or keyword.iskeyword(text))):
        return None
    if language == "javascript" and text in _JS_RESERVED:
        return None
    return text


@dataclass
class Param:
    """One parameter: its name and its type as written in the language ("" for none)."""

    name: str
    type: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Param:
        return cls(str(data.get("name", "")), str(data.get("type") or ""))


@dataclass
class Example:
    """One call of a function and what must come of it (see the module docstring). `suspect`
    says why the candidates' agreement put it in doubt (then it is not used to choose)."""

    args: list[Any]
    expected: Any = None
    files: dict[str, str] = field(default_factory=dict)
    stdout: str | None = None
    suspect: str = ""

    @property
    def checks_value(self) -> bool:
        """Whether the call's return value is compared (else only its side effects are)."""
        return self.expected != NO_VALUE

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"args": self.args, "expected": self.expected}
        if self.files:
            out["files"] = self.files
        if self.stdout is not None:
            out["stdout"] = self.stdout
        if self.suspect:
            out["suspect"] = self.suspect
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Example:
        return cls(
            args=list(data.get("args") or []),
            expected=data.get("expected"),
            files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
            stdout=data.get("stdout"),
            suspect=str(data.get("suspect") or ""),
        )

    def call(self, name: str, language: str) -> str:
        """The call as source text: `add(2, 3)`."""
        return f"{name}({', '.join(render_value(a, language) for a in self.args)})"

    def render(self, name: str, language: str) -> str:
        """The example as one line for a prompt: `add(2, 3) == 5` (`===` in JavaScript, the
        files and the printed text named when there are)."""
        same = " == " if language == "python" else " === "
        text = self.call(name, language)
        if self.checks_value:
            text += same + render_value(self.expected, language)
        if self.files:
            text += f"  (with files {', '.join(sorted(self.files))} in the working folder)"
        if self.stdout:
            text += f"  (prints {self.stdout!r})"
        return text


def render_value(value: Any, language: str) -> str:
    """A JSON value as a literal of `language` (Python: True/None; JavaScript: JSON)."""
    import json

    if language == "python":
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


@dataclass
class FunctionSpec:
    """One function of a module's plan."""

    name: str
    params: list[Param]
    returns: str = ""
    purpose: str = ""
    examples: list[Example] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    """The functions of other modules (and of this one) it may call: `name` or `module.name`."""
    file: str = ""
    """The module's file it goes in."""

    def header(self, language: str) -> str:
        """Its first line, the one a grammar fixes: `def add(a: int, b: int) -> int:` or
        `function add(a, b) {`."""
        if language == "javascript":
            return f"function {self.name}({', '.join(p.name for p in self.params)}) {{"
        params = ", ".join(f"{p.name}: {p.type}" if p.type else p.name for p in self.params)
        returns = f" -> {self.returns}" if self.returns else ""
        return f"def {self.name}({params}){returns}:"

    def signature(self, language: str) -> str:
        """The header without its opening: what a sibling's prompt shows of it."""
        return self.header(language).rstrip(":{ ").rstrip()

    @property
    def checked(self) -> list[Example]:
        """The examples used to choose among candidates (the suspect ones left out)."""
        return [e for e in self.examples if not e.suspect]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": [p.to_dict() for p in self.params],
            "returns": self.returns,
            "purpose": self.purpose,
            "examples": [e.to_dict() for e in self.examples],
            "calls": self.calls,
            "file": self.file,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionSpec:
        return cls(
            name=str(data["name"]),
            params=[Param.from_dict(p) for p in data.get("params") or []],
            returns=str(data.get("returns") or ""),
            purpose=str(data.get("purpose") or ""),
            examples=[Example.from_dict(e) for e in data.get("examples") or []],
            calls=[str(c) for c in data.get("calls") or []],
            file=str(data.get("file") or ""),
        )


@dataclass
class Command:
    """One command of a command-line entry point: `python main.py add "milk"` calls `function`
    (of this module, or `module.function` of a dependency) with the command's arguments, in
    order, as its first parameters; the rest keep their defaults or take `values`."""

    name: str
    function: str
    arguments: list[Param] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    help: str = ""
    example: dict[str, Any] = field(default_factory=dict)
    """One invocation a user would type and what it prints (the contract's): `{"args": ["milk"],
    "stdout": "milk"}` (the arguments after the command's name)."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "function": self.function,
            "arguments": [a.to_dict() for a in self.arguments],
            "values": self.values,
            "help": self.help,
        }
        if self.example:
            out["example"] = self.example
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Command:
        return cls(
            name=str(data["name"]),
            function=str(data["function"]),
            arguments=[Param.from_dict(a) for a in data.get("arguments") or []],
            values=dict(data.get("values") or {}),
            help=str(data.get("help") or ""),
            example=dict(data.get("example") or {}),
        )


@dataclass
class FunctionPlan:
    """A module's functions in the order they are written (helpers first), the commands of its
    entry point when it has one (`entry`: the file), and what reading the answer repaired."""

    module: str
    language: str
    functions: list[FunctionSpec]
    commands: list[Command] = field(default_factory=list)
    entry: str = ""
    constants: list[str] = field(default_factory=list)
    """Top-level lines the functions share (`DATA_FILE = "todos.json"`; `const books = [];`)."""
    notes: list[str] = field(default_factory=list)
    bindings: list[dict[str, Any]] = field(default_factory=list)
    """A page script's events: {element, event, function, inputs, output} (`wiring.Binding`)."""
    page_ids: list[str] = field(default_factory=list)
    """The element ids of the page the script's events are wired to."""

    def function(self, name: str) -> FunctionSpec | None:
        return next((f for f in self.functions if f.name == name), None)

    @property
    def examples(self) -> int:
        return sum(len(f.examples) for f in self.functions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "language": self.language,
            "functions": [f.to_dict() for f in self.functions],
            "commands": [c.to_dict() for c in self.commands],
            "entry": self.entry,
            "constants": self.constants,
            "notes": self.notes,
            "bindings": self.bindings,
            "page_ids": self.page_ids,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionPlan:
        return cls(
            module=str(data["module"]),
            language=str(data["language"]),
            functions=[FunctionSpec.from_dict(f) for f in data.get("functions") or []],
            commands=[Command.from_dict(c) for c in data.get("commands") or []],
            entry=str(data.get("entry") or ""),
            constants=[str(c) for c in data.get("constants") or []],
            notes=[str(n) for n in data.get("notes") or []],
            bindings=[dict(b) for b in data.get("bindings") or [] if isinstance(b, dict)],
            page_ids=[str(i) for i in data.get("page_ids") or []],
        )


# --------------------------------------------------------------------------- the model's answer


def plan_schema(
    language: str,
    callable_names: list[str],
    files: list[str],
    *,
    commands: bool = False,
    page_ids: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON schema of a module's function plan. `callable_names`: what a function may call
    of its dependencies (an enum; any identifier when there is none); `files`: the module's code
    files (a `file` field when there are several); `commands`: ask for an entry point's commands;
    `page_ids`: the ids of the page a script is wired to (ask for its events)."""
    ident = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
    typed = language == "python"
    param: dict[str, Any] = {
        "type": "object",
        "properties": {"name": ident, **({"type": {"type": "string"}} if typed else {})},
        "required": ["name", *(["type"] if typed else [])],
        "additionalProperties": False,
    }
    example = {
        "type": "object",
        "properties": {
            "args": {"type": "array"},
            "expected": {},
            "files": {"type": "object", "additionalProperties": {"type": "string"}},
            "stdout": {"type": "string"},
        },
        "required": ["args", "expected"],
        "additionalProperties": False,
    }
    calls: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": callable_names}}
    if not callable_names:
        calls = {"type": "array", "maxItems": 0}
    function: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": ident,
            "params": {"type": "array", "items": param, "maxItems": 6},
            **({"returns": {"type": "string"}} if typed else {}),
            "purpose": {"type": "string"},
            "examples": {"type": "array", "items": example, "minItems": 2, "maxItems": MAX_EXAMPLES},
            "calls": calls,
        },
        "required": ["name", "params", *(["returns"] if typed else []), "purpose", "examples", "calls"],
        "additionalProperties": False,
    }
    if len(files) > 1:
        function["properties"]["file"] = {"type": "string", "enum": files}
        function["required"].append("file")
    properties: dict[str, Any] = {
        "functions": {
            "type": "array",
            "items": function,
            "minItems": 0 if commands else 1,
            "maxItems": MAX_FUNCTIONS,
        }
    }
    required = ["functions"]
    properties["constants"] = {"type": "array", "items": {"type": "string"}, "maxItems": 6}
    if commands:
        properties["commands"] = {
            "type": "array",
            "minItems": 1,
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*$"},
                    # a command calls the core: one of its dependencies' functions, when they offer any
                    "function": {"type": "string", "enum": callable_names} if callable_names else {"type": "string"},
                    "arguments": {"type": "array", "items": param, "maxItems": 4},
                    "help": {"type": "string"},
                },
                "required": ["name", "function", "arguments"],
                "additionalProperties": False,
            },
        }
        required.append("commands")
    if page_ids:
        properties["events"] = events_schema({"type": "string", "enum": page_ids})
        required.append("events")
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def events_schema(ids: dict[str, Any]) -> dict[str, Any]:
    """The schema of a page script's events, each element, input and output an `ids` string (an
    enum of a page's ids, or any identifier checked against the page afterwards)."""
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": 8,
        "items": {
            "type": "object",
            "properties": {
                "element": ids,
                "event": {"type": "string", "enum": ["click", "submit", "input", "change", "keydown"]},
                "function": {"type": "string"},
                "inputs": {"type": "array", "items": ids, "maxItems": 4},
                "output": ids,
            },
            "required": ["element", "event", "function", "inputs", "output"],
            "additionalProperties": False,
        },
    }


def _params(raw: Any, language: str, where: str, notes: list[str]) -> list[Param] | None:
    params: list[Param] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            item = {"name": item.split(":")[0], "type": item.split(":", 1)[1].strip() if ":" in item else ""}
        if not isinstance(item, dict):
            continue
        name = _identifier(item.get("name"), language)
        if name is None or name in {p.name for p in params}:
            notes.append(f"{where}: parameter {item.get('name')!r} is not a usable name")
            return None
        params.append(Param(name, str(item.get("type") or "") if language == "python" else ""))
    return params


def _examples(raw: Any, params: list[Param], where: str, notes: list[str]) -> list[Example]:
    out: list[Example] = []
    for index, item in enumerate(raw if isinstance(raw, list) else [], 1):
        if not isinstance(item, dict) or "args" not in item:
            notes.append(f"{where}: example {index} has no args; dropped")
            continue
        args = item["args"]
        if isinstance(args, dict):  # named arguments: put in the parameters' order
            if set(args) - {p.name for p in params}:
                notes.append(f"{where}: example {index} names arguments the function lacks; dropped")
                continue
            args = [args[p.name] for p in params if p.name in args]
        if not isinstance(args, list):
            args = [args]
        if len(args) != len(params):
            notes.append(
                f"{where}: example {index} passes {len(args)} argument(s) to {len(params)} parameter(s); dropped"
            )
            continue
        example = Example.from_dict({**item, "args": args})
        if any(e.args == example.args and e.files == example.files for e in out):
            notes.append(f"{where}: example {index} repeats another; dropped")
            continue
        out.append(example)
    return out[:MAX_EXAMPLES]


_EXPECTED_NAMES = frozenset({"expected", "expected_result", "expected_output", "expected_value", "result", "answer"})


def _expected_param(params: list[Param], raw: Any, where: str, notes: list[str]) -> Any:
    """A parameter that is the example's expected value (a small model's slip: `convert(c,
    expected)` with the answer passed as an argument too) taken out of the parameters and out of
    each example's arguments; the examples as they are otherwise."""
    index = next((i for i, p in enumerate(params) if p.name.lower() in _EXPECTED_NAMES), None)
    if index is None or not isinstance(raw, list):
        return raw
    notes.append(f"{where}: parameter {params[index].name!r} is the expected value, not an input; taken out")
    count = len(params)
    del params[index]
    out = []
    for example in raw:
        if isinstance(example, dict) and isinstance(example.get("args"), list) and len(example["args"]) == count:
            example = {**example, "args": [a for i, a in enumerate(example["args"]) if i != index]}
        out.append(example)
    return out


def _function(item: Any, language: str, allowed: set[str], files: list[str], notes: list[str]) -> FunctionSpec | None:
    if not isinstance(item, dict):
        return None
    name = _identifier(item.get("name"), language)
    if name is None:
        notes.append(f"function {item.get('name')!r} is not a usable name; dropped")
        return None
    params = _params(item.get("params"), language, name, notes)
    if params is None:
        notes.append(f"{name}: dropped")
        return None
    raw_examples = _expected_param(params, item.get("examples"), name, notes)
    calls = [str(c) for c in item.get("calls") or [] if isinstance(c, str)]
    unknown = [c for c in calls if allowed and c not in allowed]
    if unknown:
        notes.append(f"{name}: may not call {', '.join(unknown)} (not in its dependencies); left out")
    file = str(item.get("file") or "")
    return FunctionSpec(
        name=name,
        params=params,
        returns=str(item.get("returns") or "") if language == "python" else "",
        purpose=" ".join(str(item.get("purpose") or "").split())[:300],
        examples=_examples(raw_examples, params, name, notes),
        calls=[c for c in calls if not allowed or c in allowed],
        file=file if file in files else (files[0] if files else ""),
    )


def read_plan(
    data: dict[str, Any],
    module: str,
    language: str,
    files: list[str],
    *,
    callable_names: list[str] | None = None,
    entry: str = "",
    page_ids: list[str] | None = None,
) -> FunctionPlan:
    """A plan from the model's answer (`data`, one JSON object). Functions that cannot be used
    are dropped with a note; a plan left with no function and no command has none (the caller
    falls back to the whole-module path)."""
    notes: list[str] = []
    raw = data.get("functions")
    if isinstance(raw, dict):  # {"name": {...}} instead of a list
        raw = [{"name": k, **v} for k, v in raw.items() if isinstance(v, dict)]
    functions: list[FunctionSpec] = []
    allowed = set(callable_names or [])
    for item in raw if isinstance(raw, list) else []:
        spec = _function(item, language, allowed, files, notes)
        if spec is None:
            continue
        if any(f.name == spec.name for f in functions):
            notes.append(f"function {spec.name} is planned twice; the second dropped")
            continue
        offered = next((c for c in sorted(allowed) if c.rsplit(".", 1)[-1] == spec.name), None)
        if offered is not None:  # a dependency's function planned again: the dependency's is called
            notes.append(f"function {spec.name} is {offered} of a dependency; dropped (it is called, not rewritten)")
            continue
        functions.append(spec)
    names = {f.name for f in functions} | allowed
    for spec in functions:  # the module's own functions may call each other
        spec.calls = [c for c in spec.calls if c in names]
    commands: list[Command] = []
    for item in data.get("commands") or [] if entry else []:
        if not isinstance(item, dict) or not item.get("name") or not item.get("function"):
            continue
        target = str(item["function"])
        if target not in names and target.split(".")[-1] not in {n.split(".")[-1] for n in names}:
            notes.append(
                f"command {item['name']}: calls {target}, which neither the module nor its dependencies plan; dropped"
            )
            continue
        arguments = _params(item.get("arguments"), language, f"command {item['name']}", notes) or []
        name = str(item["name"])
        if any(c.name == name for c in commands):  # seen on the real 1.5B: two commands named `convert`
            renamed = target.rsplit(".", 1)[-1].replace("_", "-").lower()
            notes.append(f"command {name} is named twice; the one calling {target} is renamed {renamed}")
            name = renamed
        if any(c.name == name for c in commands):
            notes.append(f"command {name} repeats another; dropped")
            continue
        commands.append(Command(name, target, arguments, help=str(item.get("help") or "")))
    shape = r"^[A-Z_][A-Z0-9_]* = " if language == "python" else r"^(?:const|let|var) [A-Za-z_$][\w$]* = "
    constants = [str(c) for c in data.get("constants") or [] if isinstance(c, str) and re.match(shape, c.strip())]
    own = {f.name for f in functions}
    return FunctionPlan(
        module=module,
        language=language,
        functions=functions[:MAX_FUNCTIONS],
        commands=commands,
        entry=entry,
        constants=constants,
        notes=notes,
        bindings=_bindings(data.get("events"), set(page_ids or []), own, notes) if page_ids else [],
        page_ids=list(page_ids or []),
    )


def _bindings(raw: Any, ids: set[str], functions: set[str], notes: list[str]) -> list[dict[str, Any]]:
    """A page script's events as `wiring.Binding` fields, each naming ids the page has and a
    function the plan has (the others dropped with a note)."""
    out: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        element = str(item.get("element") or "").lstrip("#")
        function = str(item.get("function") or "")
        inputs = [str(i).lstrip("#") for i in item.get("inputs") or [] if isinstance(i, str)]
        output = str(item.get("output") or "").lstrip("#")
        lacking = [i for i in [element, *inputs, *([output] if output else [])] if i not in ids]
        if lacking or function not in functions:
            why = f"the page has no #{lacking[0]}" if lacking else f"no planned function {function!r}"
            notes.append(f"event {item.get('event')} on #{element}: {why}; dropped")
            continue
        if output == element:
            output = ""
        out.append(
            {
                "element": element,
                "event": str(item.get("event") or "click"),
                "function": function,
                "inputs": inputs,
                "output": output,
            }
        )
    return out
