"""A command-line entry point built from a plan's commands, without the model (issue 35).

The model never writes `main()`: it guessed hard-coded paths or `input()` prompts where the
acceptance commands pass arguments. The plan declares the commands instead (`Command`: a name,
the function it calls, its positional arguments) and this module writes the argparse for them:
one sub-command each, its arguments typed `int` / `float` / `bool` / lists when the parameter's
type says so, the function called with them (by name when they are its parameters, else as its
first ones) and its result printed the one way a user reads it: nothing for None, one line per
item of a list, a dict as indented JSON, anything else as `print` shows it. A parameter the
command neither takes nor sets becomes an optional `--name` flag (its default kept when not
given). What a user gets wrong (a missing file, a bad value, an unknown key) prints `error: ...`
on stderr and exits 1; no sub-command prints the help and exits 2.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..kinds.python.source import import_name
from .spec import Command, FunctionPlan, FunctionSpec

__all__ = ["argparse_entry", "entry_name"]

_SCALARS = {"int": "int", "float": "float", "str": "str"}
_LIST = re.compile(r"^(?:list|List|tuple|Tuple|Sequence|Iterable)\[\s*(\w*)\s*(?:,\s*\.\.\.)?\s*\]$")

_SHOW = '''def {show}(result: object) -> None:
    """Prints a command's result: one line per item of a list, a dict as JSON, else as is."""
    if result is None:
        return
    if isinstance(result, dict):
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    elif isinstance(result, (list, tuple, set)):
        for item in result:
            print(json.dumps(item, ensure_ascii=False, default=str) if isinstance(item, (dict, list)) else item)
    else:
        print(result)
'''
_FLAG = '''

def {flag}(text: str) -> bool:
    """A yes/no argument: true/yes/1/on or false/no/0/off."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on", "y"):
        return True
    if lowered in ("false", "no", "0", "off", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {{text!r}}")
'''


@dataclass
class _Arg:
    """One command-line argument: the parameter it fills and how argparse reads it."""

    param: str
    dest: str
    options: str
    """The add_argument keyword arguments after the name, as source text."""
    keyword: bool
    """Passed by its name (it is one of the function's parameters), else positionally."""


def entry_name(plan: FunctionPlan) -> str:
    """The entry function's name: `main`, unless the plan has a function called so."""
    taken = {f.name for f in plan.functions}
    return next(n for n in ("main", "cli_main", "_matrioska_main") if n not in taken)


def _type_options(type_: str, flag: str) -> tuple[str, bool]:
    """argparse's `type=`/`nargs=` for a parameter type, and whether it takes several values."""
    text = type_.replace("typing.", "").strip()
    if text in ("Optional[int]", "int | None"):
        text = "int"
    if text in ("Optional[float]", "float | None"):
        text = "float"
    if text == "bool":
        return f"type={flag}", False
    if text in _SCALARS and text != "str":
        return f"type={_SCALARS[text]}", False
    match = _LIST.match(text)
    if match:
        inner = match.group(1)
        kind = f", type={_SCALARS[inner]}" if inner in ("int", "float") else ""
        return f'nargs="*"{kind}', True
    return "", False


def _dest(name: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", name) or "value"
    if keyword.iskeyword(base) or base[0].isdigit():
        base = f"{base}_"
    dest, n = base, 2
    while dest in used:
        dest, n = f"{base}_{n}", n + 1
    used.add(dest)
    return dest


def _arguments(command: Command, spec: FunctionSpec | None, flag: str) -> tuple[list[_Arg], list[_Arg]]:
    """The command's positional arguments and the optional `--flags` for the parameters it
    leaves unset."""
    params = spec.params if spec else []
    names = [p.name for p in params]
    by_name = all(a.name in names for a in command.arguments) and spec is not None
    used: set[str] = {"command"}
    positional: list[_Arg] = []
    for index, argument in enumerate(command.arguments):
        declared = next((p for p in params if p.name == argument.name), None) if by_name else None
        if declared is None and not by_name and index < len(params):
            declared = params[index]
        type_ = argument.type or (declared.type if declared else "")
        options, _ = _type_options(type_, flag)
        target = declared.name if declared else argument.name
        dest = _dest(argument.name, used)
        positional.append(_Arg(target, dest, options, by_name))
    filled = {a.param for a in positional} | set(command.values)
    if not by_name:
        filled |= set(names[: len(command.arguments)])
    optional = []
    for param in params:
        if param.name in filled:
            continue
        options, several = _type_options(param.type, flag)
        options = options.replace('nargs="*"', 'nargs="+"') if several else options
        optional.append(_Arg(param.name, _dest(param.name, used), options, True))
    return positional, optional


def _callee(command: Command, plan: FunctionPlan) -> tuple[str, str | None]:
    """The name the command calls in the entry file and the import it needs (or None)."""
    own = plan.function(command.function)
    if own is not None:
        if own.file and own.file != plan.entry and (module := import_name(own.file)):
            return own.name, f"from {module} import {own.name}"
        return own.name, None
    if "." in command.function:
        module, name = command.function.rsplit(".", 1)
        return name, f"from {module} import {name}"
    return command.function, None


def _sub_command(
    command: Command, variable: str, spec: FunctionSpec | None, flag: str, callee: str
) -> tuple[list[str], list[str]]:
    """The lines that declare a sub-command's parser, and those that run it."""
    help_text = command.help or (spec.purpose if spec else "")
    declare = [f"{variable} = commands.add_parser({command.name!r}, help={help_text!r})"]
    positional, optional = _arguments(command, spec, flag)
    for arg in positional:
        extra = f", {arg.options}" if arg.options else ""
        declare.append(f"{variable}.add_argument({arg.dest!r}, metavar={arg.param.upper()!r}{extra})")
    for arg in optional:
        extra = f", {arg.options}" if arg.options else ""
        option = "--" + arg.param.replace("_", "-")
        declare.append(f"{variable}.add_argument({option!r}, dest={arg.dest!r}, default=None{extra})")
    values = [f"args.{a.dest}" for a in positional if not a.keyword]
    named = [f"{a.param}=args.{a.dest}" for a in positional if a.keyword]
    names = {p.name for p in spec.params} if spec else set()
    named += [f"{k}={v!r}" for k, v in command.values.items() if not names or k in names]
    run = [f"if args.command == {command.name!r}:"]
    if optional:
        pairs = ", ".join(f"({a.param!r}, args.{a.dest})" for a in optional)
        run.append(f"    given = {{k: v for k, v in ({pairs},) if v is not None}}")
        named.append("**given")
    run.append(f"    return {callee}({', '.join([*values, *named])})")
    return declare, run


def argparse_entry(plan: FunctionPlan, functions: Mapping[str, FunctionSpec]) -> str:
    """The entry point's source for `plan.commands`: its imports first (argparse, json, sys and
    the functions it calls from other files or modules), then `main(argv) -> int`, a `_run`
    that dispatches the sub-command, and the `__main__` guard. `functions`: each name a command
    may call (own `name` or a dependency's `module.name`) -> its spec. "" when there is no
    command."""
    if not plan.commands:
        return ""
    main = entry_name(plan)
    taken = {f.name for f in plan.functions} | {main}
    show, flag, run_name = (_free(n, taken) for n in ("_show", "_yes_no", "_run"))
    imports = ["import argparse", "import json", "import sys"]
    declare: list[str] = []
    runs: list[str] = []
    for index, command in enumerate(plan.commands):
        spec = functions.get(command.function) or plan.function(command.function)
        callee, needed = _callee(command, plan)
        if needed:
            imports.append(needed)
        lines, run = _sub_command(command, f"command_{index}", spec, flag, callee)
        declare += lines
        runs += run
    body = "\n".join(f"    {line}" for line in declare)
    dispatch = "\n".join(f"    {line}" for line in runs)
    description = f"{plan.module}: " + ", ".join(c.name for c in plan.commands)
    return (
        "\n".join(dict.fromkeys(imports))
        + "\n\n\n"
        + _helpers(show, flag, any(f"type={flag}" in line for line in declare))
        + f"""

def {run_name}(args: argparse.Namespace) -> object:
    \"\"\"Calls the sub-command's function with its arguments.\"\"\"
{dispatch}
    raise ValueError(f"unknown command {{args.command}}")


def {main}(argv: list[str] | None = None) -> int:
    \"\"\"The command line: {description}.\"\"\"
    parser = argparse.ArgumentParser(description={description!r})
    commands = parser.add_subparsers(dest="command")
{body}
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        {show}({run_name}(args))
    except (ValueError, KeyError, FileNotFoundError) as exc:
        print(f"error: {{exc}}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit({main}())
"""
    )


def _helpers(show: str, flag: str, flags: bool) -> str:
    return _SHOW.format(show=show) + (_FLAG.format(flag=flag) if flags else "")


def _free(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}_{n}", n + 1
    taken.add(out)
    return out
