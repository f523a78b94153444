"""The Python kind's checks of a generated project, run in the sandbox by the verify step.

Third-party requirements are installed first (`installs.py`: declared, well known or allowed,
wheels only, into a folder of the run); then every module imports (one process, each import's
traceback kept); `pytest` runs the generated tests; the entry point (`__main__.py`, a console
script in `pyproject.toml`, the file the project's README names, or a root `main.py` / `cli.py`
/ `app.py` with a `__main__` guard) runs with `--help` when it parses arguments, else as is.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import PurePosixPath
from typing import Any

from ..base import CheckContext
from .installs import prepare_dependencies
from .source import import_name
from .strength import test_strength, weak_tests

__all__ = [
    "python_checks",
    "is_test",
    "python_tests",
    "source_roots",
    "import_names",
    "entry_points",
]

_MARK = "@@MATRIOSKA-IMPORTS@@"
_IMPORT_SCRIPT = """
import contextlib, importlib, io, json, sys, traceback
sys.argv = ["import-check"]
results = {}
for name in NAMES:
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            importlib.import_module(name)
        results[name] = None
    except SystemExit as exc:
        if exc.code not in (0, None):
            results[name] = ("importing it ran a program that exited with %r (put module-level program code "
                             "under if __name__ == '__main__':)\\n" % (exc.code,)) + buffer.getvalue()[-1500:]
        else:
            results[name] = None
    except BaseException:
        results[name] = traceback.format_exc()[-3000:]
print(MARK + json.dumps(results))
"""
_ARGS_MARKERS = re.compile(r"\bargparse\b|\bsys\.argv\b|\bclick\b|\btyper\b|\boptparse\b|\bfire\.Fire\b")
# argument parsers that always print a usage for --help (a hand-read sys.argv may ignore it)
_PARSERS = re.compile(r"\bargparse\b|\bclick\b|\btyper\b|\boptparse\b|\bfire\.Fire\b")
_INTERACTIVE_MARKERS = re.compile(
    r"\binput\(|serve_forever|\.run\(\s*(host|port|debug)|uvicorn\.run|app\.run\(|mainloop\("
)
_PYTEST = ["-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", "-o", "addopts=", "--color=no"]


# -- which files are what ----------------------------------------------------------------------


def is_test(path: str) -> bool:
    """A Python file of tests (pytest's naming, or a file under a `tests` folder)."""
    name = PurePosixPath(path).name
    parts = PurePosixPath(path).parts
    return path.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py") or "tests" in parts[:-1])


def python_tests(paths: list[str]) -> list[str]:
    """The generated test files (pytest's naming)."""
    return [p for p in paths if is_test(p) and PurePosixPath(p).name != "conftest.py"]


def source_roots(paths: list[str]) -> list[str]:
    """Folders to import from: the project root, and `src/` in a src layout."""
    return ["src", "."] if any(p.startswith("src/") and p.endswith(".py") for p in paths) else ["."]


def import_names(paths: list[str]) -> dict[str, str]:
    """Dotted import name -> file, for every importable non-test Python file."""
    names: dict[str, str] = {}
    for path in sorted(paths):
        pure = PurePosixPath(path)
        if is_test(path) or pure.name in ("conftest.py", "setup.py", "__main__.py"):
            continue
        if name := import_name(path):
            names[name] = path
    return names


EntryPoint = tuple[list[str], str, str]
"""(argv after the interpreter, the file it runs, how it was found)."""


def entry_points(files: dict[str, str]) -> list[EntryPoint]:
    """The project's entry points (at most three): its `__main__.py` files, its console
    scripts, the programs its README runs; else a root `main.py` (and the like) with a
    `__main__` guard."""
    mains = sorted(p for p in files if PurePosixPath(p).name == "__main__.py")
    found = _main_modules(mains)
    modules = import_names(list(files))
    found += _console_scripts(files.get("pyproject.toml", ""), modules)
    _readme_programs(files, mains, modules, found)
    if not found:
        found = _guarded_mains(files)
    return found[:3]


def _main_modules(mains: list[str]) -> list[EntryPoint]:
    """`python -m package` for each package's `__main__.py` (`python __main__.py` at the root)."""
    found: list[EntryPoint] = []
    for path in mains:
        package = PurePosixPath(path).parent
        if str(package) == ".":
            found.append((["__main__.py"], path, "__main__.py"))
        else:
            parts = package.parts[1:] if package.parts[0] == "src" else package.parts
            found.append((["-m", ".".join(parts)], path, "__main__.py"))
    return found


def _console_scripts(pyproject: str, modules: dict[str, str]) -> list[EntryPoint]:
    """The `[project.scripts]` of `pyproject.toml`, each called as its console script would be."""
    if not pyproject:
        return []
    import tomllib

    try:
        scripts = tomllib.loads(pyproject).get("project", {}).get("scripts", {})
    except (tomllib.TOMLDecodeError, AttributeError):
        scripts = {}
    found: list[EntryPoint] = []
    for name, target in sorted(scripts.items()):
        module, _, function = str(target).partition(":")
        code = f"import sys; from {module} import {function or 'main'} as m; sys.argv[0] = {name!r}; sys.exit(m())"
        found.append((["-c", code], modules.get(module, "pyproject.toml"), f"console script {name}"))
    return found


def _readme_programs(files: dict[str, str], mains: list[str], modules: dict[str, str], found: list[EntryPoint]) -> None:
    """The programs the README runs (`python -m x`, `python x.py`), added to `found` unless there."""
    path: str | None
    for match in re.finditer(r"python3?\s+(-m\s+[\w.]+|[\w./-]+\.py)", files.get("README.md", "")):
        target = match.group(1)
        if target.startswith("-m"):
            module = target.split()[-1]
            path = modules.get(module) or next(
                (p for p in mains if PurePosixPath(p).parent.as_posix().replace("/", ".").endswith(module)), None
            )
            if path and not any(argv[:2] == ["-m", module] for argv, _, _ in found):
                found.append((["-m", module], path, "named in README.md"))
        elif target in files and not any(f == target for _, f, _ in found):
            found.append(([target], target, "named in README.md"))


def _guarded_mains(files: dict[str, str]) -> list[EntryPoint]:
    """A root (or `src/`) `main.py`, `cli.py`, `app.py`, `run.py` with a `__main__` guard."""
    found: list[EntryPoint] = []
    for name in ("main.py", "cli.py", "app.py", "run.py"):
        for path in (name, f"src/{name}"):
            if path in files and "__main__" in files[path]:
                found.append(([path], path, f"{name} with a __main__ guard"))
    return found


# -- the checks --------------------------------------------------------------------------------


def python_checks(ctx: CheckContext) -> None:
    """The project's requirements installed, then its imports, its tests and its entry points
    run (each on a fresh copy, the project's folders on `PYTHONPATH`)."""
    paths = list(ctx.files)
    prepare_dependencies(ctx, with_tests=bool(python_tests(paths)))
    pythonpath = [str(ctx.root / r) if r != "." else str(ctx.root) for r in source_roots(paths)]
    if ctx.env.get("PYTHONPATH"):
        pythonpath.append(ctx.env["PYTHONPATH"])
    ctx.env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    _import_check(ctx, paths)
    _pytest_check(ctx, paths)
    _entry_point_checks(ctx)


def _import_check(ctx: CheckContext, paths: list[str]) -> None:
    """Every module imported in one process; a module that fails goes to its owner with its traceback."""
    names = import_names(paths)
    if ctx.only is not None:
        names = {name: path for name, path in names.items() if path in ctx.only}
    if not names:
        return
    script = _IMPORT_SCRIPT.replace("NAMES", repr(sorted(names))).replace("MARK", repr(_MARK))
    shown = f"python -c 'import {', '.join(sorted(names))}'"
    result = ctx.run("python-import", [sys.executable, "-c", script], shown)
    broken, ok, output = _imports_broken(result.output)
    check = ctx.record("python-import", shown, ok, output, result.duration)
    if broken:
        modules: list[str] = []
        for name, text in broken.items():
            command = f"python -c 'import {name}'"
            modules += ctx.fail("python-import", command, f"import {name} failed:\n{text}", ctx.owners.get(names[name]))
        check.modules = sorted(set(modules))
    elif not ok:
        check.modules = ctx.fail("python-import", shown, output, None)


def _imports_broken(output: str) -> tuple[dict[str, str], bool, str]:
    """(import name -> its traceback, whether all imported, the check's output) from the script's output."""
    if _MARK not in output:
        return {}, False, output or "the import check ended without a result"
    try:
        found = json.loads(output.split(_MARK, 1)[1].strip().splitlines()[0])
        broken = {n: t for n, t in found.items() if t}
    except (ValueError, IndexError):
        broken = {}
    text = "\n\n".join(f"import {n} failed:\n{t}" for n, t in broken.items()) or "every module imports"
    return broken, not broken, text


def _pytest_check(ctx: CheckContext, paths: list[str]) -> None:
    """pytest on the generated tests (one module's check: its own test files only). A pass that
    none of the tests could have turned into a failure is inconclusive, not a pass."""
    tests = python_tests(paths)
    if ctx.only is not None:
        tests = [t for t in tests if t in ctx.only]
    if not tests:
        return
    argv, shown = [sys.executable, *_PYTEST], "python -m pytest -q --tb=short"
    if ctx.only is not None:  # one module's tests only
        argv, shown = [*argv, *tests], f"{shown} {' '.join(tests)}"
    result = ctx.run("pytest", argv, shown)
    tests_ok: bool | None = result.ok
    output = result.output
    if result.returncode == 5:
        tests_ok, output = False, f"pytest collected no tests from {', '.join(tests)}\n{output}"
    strength = [row for test in tests for row in test_strength(test, ctx.files.get(test, ""))]
    weak = weak_tests(strength)
    if weak:
        ctx.note(f"tests that cannot fail ({len(weak)} of {len(strength)}): " + "; ".join(weak[:6]))
    extra: dict[str, Any] = {}
    if tests_ok and strength and not any(row["asserts"] for row in strength):
        # a pass that nothing could have turned into a failure is no evidence (seen: the only
        # test wrapped its call in try/except NameError and printed)
        tests_ok, extra = None, {"inconclusive": True}
        output = (
            f"inconclusive: pytest passed, but none of its {len(strength)} test(s) can fail: "
            + "; ".join(weak[:6])
            + f"\n\n{output}"
        )
    check = ctx.record("pytest", shown, tests_ok, output, result.duration, **extra)
    if tests_ok is False:
        default = ctx.owners.get(tests[0]) if len(tests) == 1 else None
        check.modules = ctx.fail("pytest", shown, output, default)


def _entry_point_checks(ctx: CheckContext) -> None:
    """Each entry point run (with `--help` when it parses arguments; one that waits for input or
    serves is imported only, by the import check)."""
    for argv, path, how in entry_points(ctx.files):
        if ctx.only is not None and path not in ctx.only:
            continue
        text = ctx.files.get(path, "")
        if _ARGS_MARKERS.search(text) or how.startswith("console script"):
            argv = [*argv, "--help"]
        elif _INTERACTIVE_MARKERS.search(text):
            ctx.note(f"entry point {path} ({how}) waits for input or serves; imported, not run")
            continue
        shown = "python " + " ".join(a if " " not in a else repr(a) for a in argv)
        result = ctx.run("entry-point", [sys.executable, *argv], shown)
        ok, output = result.ok, result.output or "(no output)"
        if ok and argv[-1] == "--help" and not result.output.strip() and _PARSERS.search(text):
            # a program whose argument parser runs prints its usage for --help: silence means its
            # main code never ran (a main() defined and never called), not that it works
            ok = False
            output = (
                f"`{shown}` exited 0 and printed nothing: a program whose argument parser runs prints its usage "
                f"for --help, so its main code never ran (is main() called under `if __name__ == "
                f"'__main__':`?) ({path})"
            )
        check = ctx.record("entry-point", shown, ok, output, result.duration, found=how)
        if not ok:
            check.modules = ctx.fail("entry-point", shown, output, ctx.owners.get(path))
