"""A module's files put together from its chosen functions, without the model (issue 35).

Each function was written alone and chosen by running its examples; what is left is the file
around them, and none of it needs a model:

- `python_file`: a docstring, the imports, the plan's constants, the chosen functions in plan
  order and, in the entry file, the argparse entry point (`entry.argparse_entry`). The imports
  come from what the functions declare they call (`module.name` -> `from module import name`,
  kept only where the name is used) and from the analyzers: ruff's undefined names fixed the way
  `kinds.python.fixes.fix_python` fixes them (a standard-library module or a well-known name of
  one, a project module's function). Imports are then deduplicated, the unused ones dropped,
  and sorted: standard library first.
- `tests_file`: a pytest file from the plans' examples (the suspect ones left out), one test
  per function, real asserts (`pytest.approx` for floats), each example with files or effects
  run in a fresh folder of `tmp_path` with its files written there, printed text read through
  `capsys`. Only functions whose chosen candidate passed are tested when `kept` says which:
  a test of an example nobody could satisfy would only fail.
- `javascript_file`: a classic script (no `export`): the constants as `const` lines and the
  chosen functions in plan order; a page's event wiring (`wiring.page_wiring`) is appended by
  the caller.
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from ..kinds.analyzers import Fix, ruff
from ..kinds.python.fixes import fix_python
from ..kinds.python.source import import_name
from .entry import argparse_entry
from .spec import Example, FunctionPlan, FunctionSpec, Param, render_value

__all__ = ["python_file", "tests_file", "javascript_file", "project_functions"]

_FILEISH = re.compile(r"path|file|dir|folder", re.IGNORECASE)


# --------------------------------------------------------------------------- Python module file


def _in_file(spec: FunctionSpec, path: str) -> bool:
    return spec.file == path or not spec.file


def _docstring(text: str) -> str:
    body = " ".join(text.split()) if "\n" not in text.strip() else text.strip()
    body = body.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body += " "
    return f'"""{body}\n"""' if "\n" in body else f'"""{body}"""'


def project_functions(project: Mapping[str, str]) -> dict[str, FunctionSpec]:
    """The public top-level functions of the project's Python files, as `module.name` -> a spec
    (parameters and return type as written), for an entry point calling a dependency."""
    out: dict[str, FunctionSpec] = {}
    for path, text in project.items():
        module = import_name(path)
        tree = _parse(text) if module else None
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
                params = [
                    Param(a.arg, ast.unparse(a.annotation) if a.annotation else "")
                    for a in [*node.args.posonlyargs, *node.args.args]
                ]
                returns = ast.unparse(node.returns) if node.returns else ""
                out[f"{module}.{node.name}"] = FunctionSpec(node.name, params, returns, file=path)
    return out


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _definitions(
    plan: FunctionPlan, path: str, project: Mapping[str, str], defined: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """`defined` with what the project's files define at their top level, the module's functions
    in its other files and the dependency functions its functions declare they call."""
    out: dict[str, list[str]] = {name: list(owners) for name, owners in defined.items()}

    def add(name: str, module: str | None) -> None:
        if module and module not in out.setdefault(name, []):
            out[name].append(module)

    for key in project_functions({p: t for p, t in project.items() if p != path}):
        module, name = key.rsplit(".", 1)
        add(name, module)
    for spec in plan.functions:
        if spec.file and spec.file != path:
            add(spec.name, import_name(spec.file))
        for call in spec.calls:
            if "." in call:
                module, name = call.rsplit(".", 1)
                add(name, module)
    return out


def _used_names(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _declared_imports(plan: FunctionPlan, functions: list[FunctionSpec], used: set[str]) -> list[str]:
    """`from module import name` for each declared call of another file or module used here."""
    out = []
    for spec in functions:
        for call in spec.calls:
            if "." in call:
                module, name = call.rsplit(".", 1)
            else:
                target = plan.function(call)
                if target is None or not target.file or target.file == spec.file:
                    continue
                module, name = import_name(target.file) or "", call
            if module and name in used:
                out.append(f"from {module} import {name}")
    return out


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def _import_lines(nodes: Iterable[ast.Import | ast.ImportFrom], used: set[str]) -> list[str]:
    """The imports deduplicated, merged per module, the unused left out, standard library first."""
    plain: set[tuple[str, str | None]] = set()
    froms: dict[tuple[str, int], dict[str, str | None]] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) in used:
                    plain.add((alias.name, alias.asname))
        else:
            names = froms.setdefault((node.module or "", node.level), {})
            for alias in node.names:
                if alias.name == "*" or (alias.asname or alias.name) in used:
                    names[alias.name] = alias.asname
    rows: list[tuple[int, str, int, str]] = []
    for module, asname in plain:
        rows.append(
            (0 if _is_stdlib(module) else 1, module, 0, f"import {module}" + (f" as {asname}" if asname else ""))
        )
    for (module, level), names in froms.items():
        if not names:
            continue
        listed = ", ".join(n + (f" as {a}" if a else "") for n, a in sorted(names.items()))
        group = 2 if level else (0 if _is_stdlib(module) else 1)
        rows.append((group, module, 1, f"from {'.' * level}{module} import {listed}"))
    rows.sort(key=lambda r: (r[0], r[2], r[1].lower(), r[3]))
    lines: list[str] = []
    for index, row in enumerate(rows):
        if index and row[0] != rows[index - 1][0]:
            lines.append("")
        lines.append(row[3])
    return lines


def _normalised(text: str) -> str:
    """The file with its top-level imports gathered after the docstring (and `__future__`
    imports), merged, sorted, the unused ones dropped. Unchanged when it does not parse."""
    tree = _parse(text)
    if tree is None:
        return text
    lines = text.splitlines()
    head: list[str] = []
    drop: set[int] = set()
    nodes: list[ast.Import | ast.ImportFrom] = []
    for index, stmt in enumerate(tree.body):
        span = range(stmt.lineno - 1, stmt.end_lineno or stmt.lineno)
        if index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            head += [lines[i] for i in span]
            drop.update(span)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            head += [lines[i] for i in span]
            drop.update(span)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            nodes.append(stmt)
            drop.update(span)
    rest = "\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")
    rest_tree = _parse(rest)
    used = _used_names(rest_tree) if rest_tree is not None else _used_names(tree)
    imports = _import_lines(nodes, used)
    parts = ["\n".join(head)] if head else []
    if imports:
        parts.append("\n".join(imports))
    rest = re.sub(r"\n{4,}", "\n\n\n", rest)
    text = "\n\n".join(parts)
    gap = "\n\n\n" if re.match(r"(def |async def |class |@)", rest) else "\n\n"
    return (text + gap + rest if text and rest else text + rest) + "\n"


def _located(fixes: list[Fix], text: str) -> list[Fix]:
    """The fixes' lines in the final text (the imports moved when they were sorted)."""
    lines = text.splitlines()
    out = []
    for fix in fixes:
        name = fix.rule.split()[-1]
        where = next(
            (
                i + 1
                for i, line in enumerate(lines)
                if line.startswith(("import ", "from ")) and re.search(rf"\b{re.escape(name)}\b", line)
            ),
            fix.line,
        )
        out.append(Fix(fix.path, where, fix.description, fix.rule))
    return out


def python_file(
    plan: FunctionPlan,
    path: str,
    chosen: Mapping[str, str],
    *,
    project: Mapping[str, str],
    defined: Mapping[str, list[str]],
    doc: str = "",
) -> tuple[str, list[Fix]]:
    """The text of the module's Python file `path`, and the fixes the analyzers' findings made
    (imports added). `chosen`: function name -> its whole `def` source; `project`: the project's
    other files (path -> text: what they define is importable, and a command calling one of
    their functions reads its parameters); `defined`: top-level name -> the import names of the
    project modules defining it (as `fix_python` takes it)."""
    functions = [f for f in plan.functions if _in_file(f, path) and f.name in chosen]
    sources = [textwrap.dedent(chosen[f.name]).strip("\n") for f in functions]
    body = [*(["\n".join(plan.constants)] if plan.constants else []), *sources]
    if path == plan.entry:
        specs = {**project_functions(project), **{f.name: f for f in plan.functions}}
        entry = argparse_entry(plan, specs)
        if entry:
            body.append(entry.strip("\n"))
    code = "\n\n\n".join(body)
    tree = _parse(code)
    used = _used_names(tree) if tree is not None else set()
    imports = list(dict.fromkeys(_declared_imports(plan, functions, used)))
    text = _docstring(doc or plan.module) + "\n\n" + ("\n".join(imports) + "\n\n\n" if imports else "\n") + code + "\n"
    names = _definitions(plan, path, project, defined)
    analysis = ruff({path: text})
    fixed, fixes = fix_python({path: text}, analysis.findings, names)
    final = _normalised(fixed[path])
    return final, sorted(_located(fixes, final), key=lambda f: (f.line, f.description))


# --------------------------------------------------------------------------- pytest file


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False


def _flat(value: Any) -> bool:
    items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
    return not any(isinstance(v, list | dict) for v in items)


def _assertion(call: str, expected: Any) -> tuple[str, bool]:
    """The assert line comparing `call` with the expected JSON value, and whether it needs the
    `_plain` helper (tuples read as lists, the way JSON has them)."""
    literal = render_value(expected, "python")
    if expected is None or isinstance(expected, bool):
        return f"assert {call} is {literal}", False
    if _has_float(expected) and _flat(expected):
        return f"assert _plain({call}) == pytest.approx({literal})", True
    if isinstance(expected, list | dict):
        return f"assert _plain({call}) == {literal}", True
    return f"assert {call} == {literal}", False


def _isolated(spec: FunctionSpec, examples: list[Example]) -> bool:
    """Whether each example runs in a fresh folder: it has files, checks only effects, or the
    function takes a path."""
    return any(e.files or not e.checks_value for e in examples) or any(_FILEISH.search(p.name) for p in spec.params)


def _test_function(spec: FunctionSpec, called: str, test_name: str) -> tuple[list[str], set[str]]:
    """A test's lines and the helpers it needs ("_plain", "_folder", "pytest")."""
    examples = spec.checked
    isolated = _isolated(spec, examples)
    printing = any(e.stdout for e in examples)
    fixtures = [*(["tmp_path", "monkeypatch"] if isolated else []), *(["capsys"] if printing else [])]
    lines = [f"def {test_name}({', '.join(fixtures)}) -> None:"]
    needs: set[str] = set()
    for number, example in enumerate(examples, 1):
        call = example.call(called, "python")
        if isolated:
            needs.add("_folder")
            lines.append(f"    _folder(tmp_path / {f'example_{number}'!r}, {example.files!r}, monkeypatch)")
        if example.stdout:
            lines.append("    capsys.readouterr()")
        if example.checks_value:
            line, plain = _assertion(call, example.expected)
            lines.append(f"    {line}")
            if plain:
                needs.add("_plain")
            if "pytest.approx" in line:
                needs.add("pytest")
        else:
            lines.append(f"    {call}")
        if example.stdout:
            lines.append(f"    assert {example.stdout!r} in capsys.readouterr().out")
    return lines, needs


_HELPERS = {
    "_plain": '''def _plain(value: object) -> object:
    """The value as JSON has it: tuples are lists."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value''',
    "_folder": '''def _folder(folder: Path, files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh working folder holding `files`."""
    folder.mkdir()
    for name, text in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    monkeypatch.chdir(folder)''',
}


def _identifier(text: str) -> str:
    out = re.sub(r"\W", "_", text).strip("_") or "module"
    return f"_{out}" if out[0].isdigit() or keyword.iskeyword(out) else out


def tests_file(plans: list[FunctionPlan], *, kept: Mapping[str, set[str]] | None = None) -> str:
    """A pytest file testing the plans' functions on their non-suspect examples ("" when there
    is nothing to test). `kept[module]`: the names whose chosen candidate passed; when given,
    only those are tested. JavaScript plans are left out."""
    imports: dict[str, tuple[str, str]] = {}  # the name a test calls -> (its module, its name there)
    tests: list[list[str]] = []
    needs: set[str] = set()
    seen_tests: set[str] = set()
    for plan in plans:
        if plan.language != "python":
            continue
        for spec in plan.functions:
            if not spec.checked or (kept is not None and spec.name not in kept.get(plan.module, set())):
                continue
            module = import_name(spec.file) if spec.file else plan.module
            if not module:
                continue
            called = spec.name
            if called in imports and imports[called] != (module, called):
                called = f"{_identifier(module)}_{spec.name}"
            imports[called] = (module, spec.name)
            test_name = f"test_{spec.name}"
            if test_name in seen_tests:
                test_name = f"test_{_identifier(module)}_{spec.name}"
            seen_tests.add(test_name)
            lines, more = _test_function(spec, called, test_name)
            tests.append(lines)
            needs |= more
    if not tests:
        return ""
    head = [
        '"""Tests of ' + ", ".join(p.module for p in plans if p.language == "python") + ' from their examples."""',
        "",
    ]
    stdlib = ["from pathlib import Path", ""] if "_folder" in needs else []
    third = ["import pytest", ""] if needs & {"pytest", "_folder"} else []
    by_module: dict[str, list[str]] = {}
    for called, (module, name) in imports.items():
        by_module.setdefault(module, []).append(name if called == name else f"{name} as {called}")
    own = [f"from {m} import {', '.join(sorted(names))}" for m, names in sorted(by_module.items())]
    blocks = [*head, *stdlib, *third, *own]
    helpers = [_HELPERS[name] for name in ("_plain", "_folder") if name in needs]
    parts = ["\n".join(blocks), *helpers, *("\n".join(t) for t in tests)]
    return "\n\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- JavaScript file


def _js_constant(line: str) -> str:
    text = line.strip().rstrip(";")
    if not re.match(r"^(const|let|var)\s", text):
        text = f"const {text}"
    return text + ";"


def javascript_file(plan: FunctionPlan, path: str, chosen: Mapping[str, str], *, doc: str = "") -> str:
    """The text of the module's script `path`: a comment, the constants (`const X = ...;`) and
    the chosen functions in plan order, a classic script (its functions are the page's globals)."""
    functions = [f for f in plan.functions if _in_file(f, path) and f.name in chosen]
    comment = " ".join((doc or plan.module).split()).replace("*/", "* /")
    parts = [f"/* {comment} */"]
    if plan.constants:
        parts.append("\n".join(_js_constant(c) for c in plan.constants if c.strip()))
    for spec in functions:
        source = textwrap.dedent(chosen[spec.name]).strip("\n")
        parts.append(re.sub(r"^export\s+(default\s+)?", "", source))
    return "\n\n".join(parts) + "\n"
