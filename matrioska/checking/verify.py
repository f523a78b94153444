"""Checks that run the generated project, and who owns each failure.

After assembly the project is copied into a throwaway folder and run, by kind, always through
the `Sandbox` (see `sandbox.py`):

- Python: every module imports (one process, each import's traceback kept); `pytest` runs the
  generated tests; the entry point (`__main__.py`, a console script in `pyproject.toml`, the file
  the project's README names, or a root `main.py` / `cli.py` / `app.py` with a `__main__` guard)
  runs with `--help` when it parses arguments, else as is. Third-party requirements are installed
  as wheels only (`--only-binary=:all:`: no package's build code runs) into a folder of the run,
  never into the user's environment, and reused while the requirements stay the same; only
  declared, well-known (or user-allowed) names that are not the project's own (`installs.py`).
- Web page: served on 127.0.0.1 and opened in headless Chromium (`webcheck.py`): page errors,
  console errors, failed loads of the project's own files, element ids the scripts look up that
  the live DOM lacks; any other origin is aborted.
- JavaScript with tests: the `package.json` test script, or `node --test` on `*.test.js` files.

Every failure is attributed to the module that owns the file it points into (the innermost frame
of a traceback inside the project, the script a browser error comes from), so the graph can send
the evidence back to exactly that module.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from matrioska import kinds
from matrioska.checking.sandbox import CommandResult, Sandbox
from matrioska.kinds.python import import_name, test_strength, weak_tests

__all__ = [
    "verify_project",
    "with_evidence",
    "VERDICTS",
    "attribute",
    "python_tests",
    "entry_points",
    "import_names",
    "headline",
]

OUTPUT_LIMIT = 4000  # characters of a check's output kept in the verdict
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
_PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line \d+|^(?P<short>[\w./\\-]+\.py):\d+:', re.M)
_JS_FRAME = re.compile(r"(?:https?://127\.0\.0\.1:\d+/|file://)?(?P<path>[\w./-]+\.(?:m?js|cjs|html?)):\d+(?::\d+)?")
_PYTEST_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)


@dataclass
class Failure:
    """One failed check as it concerns one module."""

    module: str
    kind: str
    command: str
    evidence: str


def _is_test(path: str) -> bool:
    name = PurePosixPath(path).name
    parts = PurePosixPath(path).parts
    return path.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py") or "tests" in parts[:-1])


def python_tests(paths: list[str]) -> list[str]:
    """The generated test files (pytest's naming)."""
    return [p for p in paths if _is_test(p) and PurePosixPath(p).name != "conftest.py"]


def _source_roots(paths: list[str]) -> list[str]:
    """Folders to import from: the project root, and `src/` in a src layout."""
    return ["src", "."] if any(p.startswith("src/") and p.endswith(".py") for p in paths) else ["."]


def import_names(paths: list[str]) -> dict[str, str]:
    """Dotted import name -> file, for every importable non-test Python file."""
    names: dict[str, str] = {}
    for path in sorted(paths):
        pure = PurePosixPath(path)
        if _is_test(path) or pure.name in ("conftest.py", "setup.py", "__main__.py"):
            continue
        if name := import_name(path):
            names[name] = path
    return names


def entry_points(files: dict[str, str]) -> list[tuple[list[str], str, str]]:
    """(argv after the interpreter, file, how it was found) for the project's entry points."""
    found: list[tuple[list[str], str, str]] = []
    mains = sorted(p for p in files if PurePosixPath(p).name == "__main__.py")
    path: str | None
    for path in mains:
        package = PurePosixPath(path).parent
        if str(package) == ".":
            found.append((["__main__.py"], path, "__main__.py"))
        else:
            parts = package.parts[1:] if package.parts[0] == "src" else package.parts
            found.append((["-m", ".".join(parts)], path, "__main__.py"))
    modules = import_names(list(files))
    pyproject = files.get("pyproject.toml", "")
    if pyproject:
        import tomllib

        try:
            scripts = tomllib.loads(pyproject).get("project", {}).get("scripts", {})
        except (tomllib.TOMLDecodeError, AttributeError):
            scripts = {}
        for name, target in sorted(scripts.items()):
            module, _, function = str(target).partition(":")
            code = f"import sys; from {module} import {function or 'main'} as m; sys.argv[0] = {name!r}; sys.exit(m())"
            found.append((["-c", code], modules.get(module, "pyproject.toml"), f"console script {name}"))
    readme = files.get("README.md", "")
    for match in re.finditer(r"python3?\s+(-m\s+[\w.]+|[\w./-]+\.py)", readme):
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
    if not found:
        for name in ("main.py", "cli.py", "app.py", "run.py"):
            for path in (name, f"src/{name}"):
                if path in files and "__main__" in files[path]:
                    found.append(([path], path, f"{name} with a __main__ guard"))
    return found[:3]


def attribute(text: str, owners: dict[str, str], root: str, default: str | None = None) -> str | None:
    """The module owning the innermost frame of `text` that points into the project.

    Python tracebacks list the innermost frame last; JavaScript stacks list it first (a test
    runner's `location:` line, which names the test, counts only when nothing else does).
    """
    prefix = root.rstrip("/") + "/"

    def project_path(raw: str) -> str | None:
        raw = raw.replace("\\", "/")
        raw = raw[len(prefix) :] if raw.startswith(prefix) else raw
        raw = raw.removeprefix("./")
        return raw if raw in owners else None

    python = [p for m in _PY_FRAME.finditer(text) if (p := project_path(m.group("path") or m.group("short") or ""))]
    if python:
        return owners[python[-1]]
    located: list[str] = []
    stack: list[str] = []
    for line in text.splitlines():
        for match in _JS_FRAME.finditer(line):
            path = project_path(match.group("path"))
            if path:
                (located if line.strip().startswith("location:") else stack).append(path)
    found = stack or located
    return owners[found[0]] if found else default


_HEADLINES = (r"^E\s+\S", r"^\w*(Error|Exception)\b", r"^\[(killed|stopped)", r"^FAILED ", r"(?i)\b(error|failed)\b")


def headline(output: str) -> str:
    """The one line of a check's output that says most about why it failed."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    for pattern in _HEADLINES:
        found = [line for line in lines if re.search(pattern, line)]
        if found:
            return found[-1][:300]
    return lines[-1][:300] if lines else "failed (no output)"


def _trim(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    head = limit // 4
    return f"{text[:head]}\n[... {len(text) - limit} characters left out ...]\n{text[-(limit - head) :]}"


class _Run:
    """One verification: a fresh copy of the project per check, events, results."""

    def __init__(
        self,
        files: dict[str, str],
        owners: dict[str, str],
        sandbox: Sandbox,
        deps_root: Path,
        emit: Callable[..., None],
    ) -> None:
        self.files, self.owners, self.sandbox, self.deps_root, self.emit = files, owners, sandbox, deps_root, emit
        self.scratch = Path(tempfile.mkdtemp(prefix="matrioska-verify-"))
        os.chmod(self.scratch, 0o755)
        self.root = self.scratch / "project"
        self.checks: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.notes: list[str] = []
        self.env: dict[str, str] = {}
        self.readable: list[str] = []
        # what may be installed besides the well-known distributions, and the plan's module ids
        self.allow_install: list[str] = []
        self.module_ids: list[str] = []
        # the paths whose checks run (one module's files: `module_check`); None: every file's
        self.only: set[str] | None = None

    def fresh_copy(self) -> Path:
        """The project written anew (a check never sees what an earlier one left behind)."""
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir()
        for relative, text in self.files.items():
            target = (self.root / relative).resolve()
            if not target.is_relative_to(self.root.resolve()):
                continue  # paths are sanitised already; stay safe anyway
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return self.root

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def record(
        self, kind: str, command: str, ok: bool | None, output: str, duration: float, **extra: Any
    ) -> dict[str, Any]:
        check = {
            "kind": kind,
            "command": command,
            "ok": ok,
            "output": _trim(output),
            "seconds": round(duration, 2),
            **extra,
        }
        self.checks.append(check)
        self.emit("check_finished", **{k: v for k, v in check.items() if k != "output"}, output=check["output"][-600:])
        return check

    def run(self, kind: str, argv: list[str], display: str) -> CommandResult:
        self.emit("check_started", kind=kind, command=display)
        root = self.fresh_copy()
        return self.sandbox.run(argv, root, env=self.env, readable=self.readable, display=display)

    def fail(self, kind: str, command: str, text: str, default: str | None) -> list[str]:
        """Attribute a failure's text (per pytest section when there are several)."""
        sections = _split_sections(text) if kind == "pytest" else [text]
        modules: list[str] = []
        for section in sections:
            owner = attribute(section, self.owners, str(self.root), default)
            if owner is None:
                continue
            modules.append(owner)
            self.failures.append(Failure(owner, kind, command, _trim(section, 3000)))
        return sorted(set(modules))


def _split_sections(output: str) -> list[str]:
    """pytest's output, one piece per failing test or collection error (or the whole of it)."""
    starts = [m.start() for m in _PYTEST_SECTION.finditer(output)]
    if not starts:
        return [output]
    pieces = [output[a:b] for a, b in zip(starts, [*starts[1:], len(output)], strict=True)]
    return [
        piece for piece in pieces if not piece.lstrip("_ ").startswith(("warnings summary", "short test summary"))
    ] or [output]


def verify_project(
    files: dict[str, str],
    owners: dict[str, str],
    sandbox: Sandbox,
    *,
    deps_root: str | os.PathLike[str] | None = None,
    emit: Callable[..., None] | None = None,
    acceptance: list[dict[str, Any]] | None = None,
    dependencies: dict[str, list[str]] | None = None,
    allow_install: str | list[str] | None = None,
    module_ids: list[str] | None = None,
    only: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Run every check that applies to the project, then its acceptance scenarios; the verdict
    and the failures per module.

    `only`: run just the checks of these paths (their imports, their tests, their entry points,
    their pages), the rest of the project present beside them (`module_check`).

    `files` maps project paths to their text, `owners` maps them to the module that wrote them;
    `acceptance` holds the scenarios (`matrioska.plan.acceptance`), `dependencies` the plan's module
    dependencies (a failing command goes to the program's module and what it builds on).
    A Python requirement is installed only when the project declares it, it is not the name of
    one of the project's own modules (`module_ids`, its files) and it is well known or in
    `allow_install` (names, or a comma-separated string): `installs.py`. Returns `{"works", "checks", "acceptance": [...], "failures": [{module, kind, command,
    evidence}], "notes"}`; `works` is None when nothing could be run, and True only when every
    check and every scenario passed.
    """
    say = emit or (lambda *_a, **_k: None)
    deps = Path(deps_root) if deps_root else Path(tempfile.gettempdir()) / "matrioska-pydeps"
    run = _Run(files, owners, sandbox, deps, say)
    if allow_install:
        run.allow_install = allow_install.split(",") if isinstance(allow_install, str) else list(allow_install)
    run.module_ids = list(module_ids or [])
    run.only = set(only) if only is not None else None
    try:
        paths = list(files)
        for item in kinds.installed():
            own = [p for p in paths if any(k.name == item.name for k in kinds.kinds_for(p))]
            if run.only is not None:
                own = [p for p in own if p in run.only]
            if not own:
                continue
            built_in = _BUILT_IN_CHECKS.get(item.name) if item.source == kinds.BUILT_IN else None
            if built_in is not None:
                built_in(run, paths, own)
            else:
                _kind_commands(run, item, own)
        scenarios = _acceptance_checks(run, acceptance or [], dependencies or {}) if acceptance else []
    finally:
        run.close()
    ran = [c["ok"] for c in [*run.checks, *scenarios] if c["ok"] is not None]
    works: bool | None = None
    if ran:
        works = all(ran)
    if not run.checks and not scenarios:
        run.notes.append("nothing to run: the project has no Python, web page or JavaScript tests")
    result = {
        "works": works,
        "checks": run.checks,
        "failures": [f.__dict__ for f in run.failures],
        "notes": run.notes,
    }
    if acceptance:
        result["acceptance"] = scenarios
        result["acceptance_seconds"] = round(sum(s["seconds"] for s in scenarios), 2)
    return result


WORKS, DOES_NOT_WORK, NOT_CHECKED, NOT_VERIFIED = "works", "does not work", "runs, not checked", "not verified"
VERDICTS = (WORKS, DOES_NOT_WORK, NOT_CHECKED, NOT_VERIFIED)


def with_evidence(result: dict[str, Any]) -> dict[str, Any]:
    """The verdict held to evidence: `works` stays True only when at least one acceptance
    scenario (the user's or a generated one) passed and nothing failed. Checks that only show the
    project runs (it imports, `--help` prints a usage, tests that pass) without a passing scenario
    give "runs, not checked": `works` None, with the reason. Adds `verdict` (one of `VERDICTS`)
    and `evidence` (the scenarios that passed)."""
    scenarios = result.get("acceptance") or []
    passed = [s["name"] for s in scenarios if s.get("ok") is True]
    out = {**result, "evidence": passed}
    works = result.get("works")
    if works is True and not passed:
        if not scenarios:
            why = "no acceptance scenario was written or given (give your own: --acceptance FILE)"
        else:
            why = f"none of its {len(scenarios)} acceptance scenario(s) passed: inconclusive or not run"
        out["works"] = works = None
        out["reason"] = f"the project runs and every check passed, but nothing shows the task's behaviour ran: {why}"
    ran_ok = any(c.get("ok") is True for c in result.get("checks") or []) or any(
        s.get("ok") is not None for s in scenarios
    )
    if works is True:
        out["verdict"] = WORKS
    elif works is False:
        out["verdict"] = DOES_NOT_WORK
    else:
        out["verdict"] = NOT_CHECKED if ran_ok else NOT_VERIFIED
    return out


def module_check(
    files: dict[str, str],
    owners: dict[str, str],
    module_id: str,
    sandbox: Sandbox,
    *,
    acceptance: list[dict[str, Any]] | None = None,
    pending: Iterable[str] = (),
    **options: Any,
) -> dict[str, Any]:
    """One module's own runnable check (a candidate's, issue 27): its files' checks (imports,
    its tests where it holds tests, its entry points and pages) and the acceptance scenarios
    given (those touching only its files), the rest of the project beside them; what failed in
    its own files. `pending`: the planned files of modules not built yet: a failure that names
    one of them (or imports it) is not this module's, and a page is not judged before the
    scripts it may need exist. `options` go to `verify_project`. Returns `{"checks": [{command,
    ok}], "problems": [str], "ran": bool}`."""
    mine = [path for path, owner in owners.items() if owner == module_id]
    result = verify_project(files, owners, sandbox, acceptance=acceptance, only=mine, **options)
    waiting = sorted(pending)
    names = [re.compile(rf"No module named '{re.escape(name)}(?:\.[\w.]+)?'") for name in import_names(waiting)]
    scripts_pending = any(p.endswith((".js", ".mjs")) for p in waiting)
    problems = []
    for failure in result["failures"]:
        evidence = failure["evidence"].strip()
        if failure["module"] != module_id or any(n.search(evidence) for n in names):
            continue
        if any(_contains(evidence, p) for p in waiting) or (failure["kind"] == "web-page" and scripts_pending):
            continue
        tail = evidence if len(evidence) <= 700 else "[...]\n" + evidence[-700:]
        problems.append(f"{failure['command']} failed: {headline(evidence)}\n{tail}")
    checks = [{"command": c["command"], "ok": c["ok"]} for c in result["checks"]]
    checks += [{"command": f"acceptance: {s['name']}", "ok": s["ok"]} for s in result.get("acceptance") or []]
    return {"checks": checks, "problems": problems, "ran": any(c["ok"] is not None for c in checks)}


# How the built-in kinds' files are run: (run, every project path, the kind's own paths).
_BUILT_IN_CHECKS: dict[str, Callable[[Any, list[str], list[str]], None]] = {
    "python": lambda run, paths, own: _python_checks(run, paths),
    "html": lambda run, paths, own: _web_checks(run, own),
    "javascript": lambda run, paths, own: _node_checks(run, paths),
}


def _kind_commands(run: _Run, item: Any, paths: list[str]) -> None:
    """The commands a kind gives for its files, each run in the sandbox on a fresh copy; a
    failure goes to the module its output points into (else the owner of the kind's first file)."""
    method = getattr(item.kind, "commands", None)
    if not callable(method):
        return
    try:
        commands = [list(map(str, argv)) for argv in (method(paths) or []) if argv]
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is a note, not a crash
        run.notes.append(
            f"the {item.name} kind ({item.source}) failed to give its commands: {type(exc).__name__}: {exc}"
        )
        return
    for argv in commands:
        shown = " ".join(argv)
        result = run.run(item.name, argv, shown)
        check = run.record(item.name, shown, result.ok, result.output, result.duration)
        if not result.ok:
            # a traceback into the project decides; else the last of the kind's files the output names
            named = [p for p in paths if re.search(rf"(?<![\w/.-]){re.escape(p)}(?![\w-])", result.output)]
            last = max(named, key=lambda p: result.output.rfind(p)) if named else paths[0]
            check["modules"] = run.fail(item.name, shown, result.output, run.owners.get(last))


# -- Python ------------------------------------------------------------------------------------


def _python_checks(run: _Run, paths: list[str]) -> None:
    python = sys.executable
    roots = _source_roots(paths)
    _prepare_dependencies(run, paths)
    pythonpath = [str(run.root / r) if r != "." else str(run.root) for r in roots]
    if run.env.get("PYTHONPATH"):
        pythonpath.append(run.env["PYTHONPATH"])
    run.env["PYTHONPATH"] = os.pathsep.join(pythonpath)

    names = import_names(paths)
    if run.only is not None:
        names = {name: path for name, path in names.items() if path in run.only}
    if names:
        script = _IMPORT_SCRIPT.replace("NAMES", repr(sorted(names))).replace("MARK", repr(_MARK))
        shown = f"python -c 'import {', '.join(sorted(names))}'"
        result = run.run("python-import", [python, "-c", script], shown)
        broken: dict[str, str] = {}
        if _MARK in result.output:
            try:
                broken = {
                    n: t for n, t in json.loads(result.output.split(_MARK, 1)[1].strip().splitlines()[0]).items() if t
                }
            except (ValueError, IndexError):
                broken = {}
            ok = not broken
            output = "\n\n".join(f"import {n} failed:\n{t}" for n, t in broken.items()) or "every module imports"
        else:
            ok, output = False, result.output or "the import check ended without a result"
        check = run.record("python-import", shown, ok, output, result.duration)
        if broken:
            modules = []
            for name, text in broken.items():
                modules += run.fail(
                    "python-import",
                    f"python -c 'import {name}'",
                    f"import {name} failed:\n{text}",
                    run.owners.get(names[name]),
                )
            check["modules"] = sorted(set(modules))
        elif not ok:
            check["modules"] = run.fail("python-import", shown, output, None)

    tests = python_tests(paths)
    if run.only is not None:
        tests = [t for t in tests if t in run.only]
    if tests:
        argv = [python, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", "-o", "addopts=", "--color=no"]
        shown = "python -m pytest -q --tb=short"
        if run.only is not None:  # one module's tests only
            argv, shown = [*argv, *tests], f"{shown} {' '.join(tests)}"
        result = run.run("pytest", argv, shown)
        tests_ok: bool | None = result.ok
        output = result.output
        if result.returncode == 5:
            tests_ok, output = False, f"pytest collected no tests from {', '.join(tests)}\n{output}"
        strength = [row for test in tests for row in test_strength(test, run.files.get(test, ""))]
        weak = weak_tests(strength)
        if weak:
            run.notes.append(f"tests that cannot fail ({len(weak)} of {len(strength)}): " + "; ".join(weak[:6]))
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
        check = run.record("pytest", shown, tests_ok, output, result.duration, **extra)
        if tests_ok is False:
            default = run.owners.get(tests[0]) if len(tests) == 1 else None
            check["modules"] = run.fail("pytest", shown, output, default)

    files = run.files
    for argv, path, how in entry_points(files):
        if run.only is not None and path not in run.only:
            continue
        text = files.get(path, "")
        if _ARGS_MARKERS.search(text) or how.startswith("console script"):
            argv = [*argv, "--help"]
        elif _INTERACTIVE_MARKERS.search(text):
            run.notes.append(f"entry point {path} ({how}) waits for input or serves; imported, not run")
            continue
        shown = "python " + " ".join(a if " " not in a else repr(a) for a in argv)
        result = run.run("entry-point", [python, *argv], shown)
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
        check = run.record("entry-point", shown, ok, output, result.duration, found=how)
        if not ok:
            check["modules"] = run.fail("entry-point", shown, output, run.owners.get(path))


def _requirement_name(requirement: str) -> str:
    """The distribution name of a requirements line ("Flask>=3; python_version>'3'" -> "Flask")."""
    return re.split(r"[<>=!~\[; @]", requirement.strip(), maxsplit=1)[0]


@dataclass
class _Requirement:
    """One requirement: its line, the file declaring it, and whether the project declared it
    (pytest, for the generated tests, is Matrioska's own need)."""

    line: str
    source: str
    declared: bool = True


def _requirements(files: dict[str, str], paths: list[str], owners: dict[str, str] | None = None) -> list[_Requirement]:
    """The project's declared requirements: `requirements.txt` lines (and, in the assembler's
    generated one, the imports it did not list), `pyproject.toml` dependencies; then pytest
    when there are tests."""
    from matrioska.kinds.python.installs import UNLISTED_PREFIX, normalize

    found: list[_Requirement] = []
    generated = (owners or {}).get("requirements.txt") == "assembler"
    for raw in files.get("requirements.txt", "").splitlines():
        if generated and raw.startswith(UNLISTED_PREFIX):
            # an import the assembler did not list (not a well-known distribution): still the
            # project's requirement, judged like the others (the user may allow it)
            name = raw[len(UNLISTED_PREFIX) :].split()[0] if raw[len(UNLISTED_PREFIX) :].split() else ""
            if name:
                found.append(_Requirement(name, "requirements.txt"))
            continue
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        found.append(_Requirement(line, "requirements.txt"))
    pyproject = files.get("pyproject.toml", "")
    if pyproject:
        import tomllib

        try:
            dependencies = tomllib.loads(pyproject).get("project", {}).get("dependencies", [])
        except (tomllib.TOMLDecodeError, AttributeError):
            dependencies = []
        for item in dependencies if isinstance(dependencies, list) else []:
            if isinstance(item, str) and item.strip():
                found.append(_Requirement(item.strip(), "pyproject.toml"))
    unique: dict[str, _Requirement] = {}
    for requirement in found:
        unique.setdefault(normalize(_requirement_name(requirement.line)), requirement)
    if python_tests(paths) and "pytest" not in unique:
        unique["pytest"] = _Requirement("pytest", "the generated tests", declared=False)
    return list(unique.values())


def _available(requirement: str) -> bool:
    """Whether the interpreter that runs the checks already has it (then nothing is installed)."""
    name = _requirement_name(requirement)
    if not name:
        return True
    try:
        importlib.metadata.distribution(name)
        return True
    except (importlib.metadata.PackageNotFoundError, ValueError):
        pass
    module = name.replace("-", "_")
    if not module.isidentifier():
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _requirement_owners(run: _Run, source: str, requirements: list[str]) -> list[str]:
    """Who a requirement that cannot be had goes to: the module that wrote the file declaring
    it; for the assembler's generated file, the modules importing it."""
    from matrioska.kinds.python.installs import imports_of

    owner = run.owners.get(source)
    if owner is not None and owner != "assembler":
        return [owner]
    # the assembler listed what the modules import: send it to the modules importing it
    wanted = {name for r in requirements for name in imports_of(_requirement_name(r))}
    wanted |= {_requirement_name(r).replace("-", "_") for r in requirements}
    return sorted(
        {
            run.owners[p]
            for p, t in run.files.items()
            if p.endswith(".py")
            and run.owners.get(p)
            and run.owners[p] != "assembler"
            and any(re.search(rf"^\s*(import|from)\s+{re.escape(w)}\b", t, re.M) for w in wanted)
        }
    )


def _refuse(run: _Run, requirement: _Requirement, reason: str) -> None:
    """A requirement that is not installed by the rule (`installs.py`): a failed check that
    names it and why, sent to the module that declared it."""
    shown = f"install {_requirement_name(requirement.line) or requirement.line} ({requirement.source})"
    run.emit("check_started", kind="python-deps", command=shown)
    output = (
        f"{requirement.source} names {requirement.line!r}: {reason}. Only declared, well-known (or allowed) "
        "requirements that are not the project's own modules are installed"
    )
    check = run.record("python-deps", shown, False, output, 0.0, requirement=requirement.line)
    modules = _requirement_owners(run, requirement.source, [requirement.line])
    for module in modules:
        run.failures.append(Failure(module, "python-deps", shown, _trim(output, 3000)))
    check["modules"] = modules


def _prepare_dependencies(run: _Run, paths: list[str]) -> None:
    """Install what the project requires and this interpreter lacks, and only what the rule
    allows (`installs.py`: declared, not the project's own name, well known or allowed by the
    user): wheels only, into the run's own folder (one folder per requirement, reused across
    rounds). A requirement refused or that cannot be had is a failed check with that reason; the
    other checks still run (an import of it then fails where it is used, which is the evidence
    its module needs)."""
    from matrioska.kinds.python.installs import install_decision, own_names

    wanted = [r for r in _requirements(run.files, paths, run.owners) if not _available(r.line)]
    if not wanted:
        return
    own = own_names(run.files, [*run.owners.values(), *run.module_ids])
    missing: list[str] = []
    sources: dict[str, str] = {}
    for item in wanted:
        if item.declared:
            ok, reason = install_decision(item.line, own_names=own, allowed=run.allow_install)
            if not ok:
                _refuse(run, item, reason)
                continue
        missing.append(item.line)
        sources[item.line] = item.source
    if not missing:
        return
    import hashlib

    shown = "pip install --only-binary=:all: " + " ".join(missing)
    run.emit("check_started", kind="python-deps", command=shown)
    started = time.monotonic()
    failed: dict[str, str] = {}
    for requirement in missing:
        target = run.deps_root / hashlib.sha256(requirement.encode()).hexdigest()[:16]
        if not (target / ".complete").exists():
            error = _pip_install(requirement, target, max(60.0, run.sandbox.timeout * 2))
            if error is not None:
                failed[requirement] = error
                continue
        run.env["PYTHONPATH"] = os.pathsep.join(filter(None, [run.env.get("PYTHONPATH", ""), str(target)]))
        run.readable.append(str(target))
    if not failed:
        run.record("python-deps", shown, True, "installed", time.monotonic() - started)
        return
    output = (
        f"the project's requirements could not be installed as wheels ({', '.join(failed)}): offline, no "
        "such package, or no wheel for this platform; use the standard library instead where you can, and "
        "import the project's own modules by their file names\n" + "\n".join(failed.values())
    )
    check = run.record("python-deps", shown, False, output, time.monotonic() - started)
    modules = sorted({m for r in failed for m in _requirement_owners(run, sources.get(r, "requirements.txt"), [r])})
    for module in modules:
        run.failures.append(Failure(module, "python-deps", shown, _trim(output, 3000)))
    check["modules"] = modules


def _pip_install(requirement: str, target: Path, timeout: float) -> str | None:
    """One requirement as wheels into `target`; the error text, or None when installed."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--target",
        str(target),
        requirement,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        error = f"{requirement}: pip did not finish within {timeout:g} s (no network?)"
    else:
        if done.returncode == 0:
            (target / ".complete").write_text(requirement, encoding="utf-8")
            return None
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        error = f"{requirement}: " + " ".join(lines[-2:])[:400]
    shutil.rmtree(target, ignore_errors=True)
    return error


# -- web pages ---------------------------------------------------------------------------------


def _web_checks(run: _Run, pages: list[str]) -> None:
    from matrioska.kinds.web.browser import WebCheckUnavailable, check_pages

    chosen = [p for p in pages if PurePosixPath(p).name.lower() == "index.html"] or pages
    chosen = sorted(chosen, key=lambda p: (p.count("/"), p))[:5]
    shown = "chromium (headless) " + " ".join(chosen)
    run.emit("check_started", kind="web-page", command=shown)
    root = run.fresh_copy()
    started = time.monotonic()
    try:
        results = check_pages(root, chosen, timeout=min(60.0, run.sandbox.timeout))
    except WebCheckUnavailable as exc:
        run.record("web-page", shown, None, f"skipped: {exc}", time.monotonic() - started)
        run.notes.append(f"web page not opened: {exc}")
        return
    for result in results:
        command = f"open {result.page} in headless Chromium"
        check = run.record("web-page", command, result.ok, result.output(), result.duration)
        run.notes += [f"{result.page}: {note}" for note in getattr(result, "notes", None) or []]
        if result.ok:
            continue
        by_module: dict[str, list[str]] = {}
        for problem in result.problems:
            owner = run.owners.get(problem.source or "") or run.owners.get(result.page)
            if owner:
                by_module.setdefault(owner, []).append(f"- [{problem.kind}] {problem.message}")
        for module, lines in by_module.items():
            run.failures.append(Failure(module, "web-page", command, _trim("\n".join(lines), 3000)))
        check["modules"] = sorted(by_module)


# -- JavaScript tests --------------------------------------------------------------------------


def _node_checks(run: _Run, paths: list[str]) -> None:
    node = shutil.which("node")
    script = ""
    try:
        package = json.loads(run.files.get("package.json", "") or "{}")
        script = str(((package.get("scripts") or {}) if isinstance(package, dict) else {}).get("test") or "")
    except ValueError:
        pass  # an invalid package.json is the static check's finding
    if "no test specified" in script or run.only is not None:
        script = ""  # (one module's check runs its own test files, not the project's script)
    tests = [
        p for p in paths if re.search(r"(\.test|\.spec)\.[cm]?js$", p) or (p.startswith("test/") and p.endswith(".js"))
    ]
    if run.only is not None:
        tests = [p for p in tests if p in run.only]
    if not script and not tests:
        return
    if node is None:
        run.record("js-test", "node --test", None, "skipped: Node.js is not installed", 0.0)
        run.notes.append("JavaScript tests not run: install Node.js")
        return
    if script:
        npm = shutil.which("npm")
        argv, shown = ([npm, "test", "--silent"], "npm test") if npm else (["sh", "-c", script], script)
    else:
        argv, shown = [node, "--test", *tests], "node --test " + " ".join(tests)
    result = run.run("js-test", argv, shown)
    check = run.record("js-test", shown, result.ok, result.output, result.duration)
    if not result.ok:
        check["modules"] = run.fail("js-test", shown, result.output, run.owners.get(tests[0]) if tests else None)


# -- acceptance scenarios ----------------------------------------------------------------------

_PYTHON_NAMES = ("python", "python3")


def _program(argv: list[str], files: dict[str, str]) -> list[str]:
    """A scenario's command as the sandbox runs it: `python` is this interpreter (where the
    project's requirements were installed), `pytest` runs through it, `node` is Node.js."""
    name = PurePosixPath(argv[0]).name
    if name in _PYTHON_NAMES:
        return [sys.executable, *argv[1:]]
    if name == "pytest":
        return [sys.executable, "-m", "pytest", *argv[1:]]
    if argv[0] in files:
        return [f"./{argv[0]}", *argv[1:]]
    found = shutil.which(argv[0])
    return [found or argv[0], *argv[1:]]


def _missing_target(argv: list[str], files: dict[str, str]) -> str | None:
    """The project file a command runs when the project lacks it (`python main.py` without main.py)."""
    from matrioska.plan.acceptance import script_of

    target = script_of(argv)
    if target is None:
        return None
    if target.startswith("-m "):
        module = target[3:]
        names = import_names(list(files))
        packages = {n.split(".")[0] for n in names} | {
            str(PurePosixPath(p).parent).replace("/", ".").removeprefix("src.")
            for p in files
            if p.endswith("__main__.py")
        }
        known = module in names or module.split(".")[0] in packages or importlib.util.find_spec(module.split(".")[0])
        return None if known else f"module {module}"
    return None if target in files or PurePosixPath(argv[0]).name in ("pytest",) else target


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _scenario_env(run: _Run) -> dict[str, str]:
    env = dict(run.env)
    if "PYTHONPATH" not in env:
        roots = _source_roots(list(run.files))
        env["PYTHONPATH"] = os.pathsep.join(str(run.root / r) if r != "." else str(run.root) for r in roots)
    return env


def _write_given(root: Path, given: dict[str, str]) -> None:
    for relative, text in given.items():
        target = (root / relative).resolve()
        if target.is_relative_to(root.resolve()):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def _command_scenario(run: _Run, scenario: dict[str, Any], timeout: float) -> dict[str, Any]:
    root = run.fresh_copy()
    _write_given(root, scenario.get("files") or {})
    files = {**run.files, **(scenario.get("files") or {})}
    env = _scenario_env(run)
    log: list[str] = []
    commands: list[dict[str, Any]] = []
    problems: list[str] = []
    lacks = False
    output = ""
    outputs: list[str] = []
    for position, argv in enumerate([*scenario["before"], scenario["command"]]):
        shown = " ".join(argv)
        last = position == len(scenario["before"])
        missing = _missing_target(argv, files)
        if missing:
            problems.append(
                f"the project lacks what was asked: `{shown}` needs {missing}, which the project does not have"
            )
            lacks = True
            break
        result = run.sandbox.run(
            _program(argv, files), root, env=env, readable=run.readable, timeout=timeout, display=shown
        )
        commands.append({"command": shown, "exit": result.returncode, "seconds": round(result.duration, 2)})
        outputs.append(result.output.strip())
        log.append(
            f"$ {shown}\n{result.output or '(no output)'}\n[exit {result.returncode}{', ' + result.killed if result.killed else ''}]"
        )
        if result.killed:
            problems.append(f"`{shown}` was stopped ({result.killed})")
            break
        if not last:
            if result.returncode != 0:
                problems.append(f"`{shown}` (run first) exited {result.returncode}")
                break
            continue
        output = result.output
        expected = scenario.get("exit")
        if expected is not None and result.returncode != expected:
            problems.append(f"`{shown}` exited {result.returncode}, expected {expected}")
        for text in scenario["stdout_contains"]:
            if not _contains(output, text):
                problems.append(f"its output lacks {text!r}")
        for text in scenario["stdout_lacks"]:
            if _contains(output, text):
                problems.append(f"its output holds {text!r}, which it must not")
        for path in scenario["creates"]:
            if not (root / path).exists():
                problems.append(f"it did not create {path}")
    silent = bool(commands) and not any(outputs)
    proves_nothing = (
        scenario.get("source") == "generated"
        and not problems
        and silent
        and not (scenario["stdout_contains"] or scenario["stdout_lacks"] or scenario["creates"])
    )
    return {
        "problems": problems,
        "lacks": lacks,
        "log": "\n\n".join(log),
        "commands": commands,
        **(
            {"inconclusive": "its commands printed nothing and it checks only their exit status"}
            if proves_nothing
            else {}
        ),
    }


def _python_scenario(run: _Run, scenario: dict[str, Any], timeout: float, number: int) -> dict[str, Any]:
    root = run.fresh_copy()
    _write_given(root, scenario.get("files") or {})
    script = f"_matrioska_acceptance_{number}.py"
    (root / script).write_text(scenario["code"] + "\n", encoding="utf-8")
    result = run.sandbox.run(
        [sys.executable, script],
        root,
        env=_scenario_env(run),
        readable=run.readable,
        timeout=timeout,
        display=f"python {script}",
    )
    problems: list[str] = []
    lacks = False
    if not result.ok:
        line = headline(result.output)
        problems.append(f"the code failed: {line}" if not result.killed else f"the code was stopped ({result.killed})")
        lacks = bool(re.search(r"\b(ModuleNotFoundError|ImportError)\b", result.output))
    log = f"$ python (the scenario's code)\n{result.output or '(no output)'}\n[exit {result.returncode}]"
    return {"problems": problems, "lacks": lacks, "log": log}


def _scenario_owners(run: _Run, scenario: dict[str, Any], dependencies: dict[str, list[str]], text: str) -> list[str]:
    """Who a failing scenario goes to: the module of the innermost project frame in its output,
    else the modules it exercises (a command's program and what that builds on; a Python
    scenario's imports), never a module of tests only."""
    from matrioska.plan.acceptance import scenario_modules

    owner = attribute(text, run.owners, str(run.root))
    if owner is not None and owner != "assembler":
        return [owner]
    tests_only = {
        module for module in set(run.owners.values()) if all(_is_test(p) for p, m in run.owners.items() if m == module)
    }
    exercised = scenario_modules(scenario, run.owners, dependencies, with_dependencies=False)
    found = [m for m in exercised if m not in tests_only and m != "assembler"]
    if not found:
        # nothing it names exists (a program the project lacks): the entry point's module, else
        # the modules with code, which is where the missing piece belongs
        found = [run.owners[path] for _, path, _ in entry_points(run.files) if path in run.owners]
        found = found or [
            m for p, m in run.owners.items() if p.endswith((".py", ".js", ".mjs")) and m not in tests_only
        ]
        found = [m for m in dict.fromkeys(found) if m != "assembler"]
    return found[:3]


def _acceptance_checks(
    run: _Run, scenarios: list[dict[str, Any]], dependencies: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Each scenario on its own fresh copy of the project, in the sandbox (pages in the browser);
    a failure is evidence for the modules it exercises, with what happened and what was expected."""

    results: list[dict[str, Any] | None] = [None] * len(scenarios)
    default_timeout = min(60.0, run.sandbox.timeout)
    pages: list[tuple[int, dict[str, Any]]] = []
    for number, scenario in enumerate(scenarios):
        if scenario["kind"] == "page":
            pages.append((number, scenario))
            continue
        run.emit("check_started", kind="acceptance", command=scenario["name"])
        timeout = float(scenario.get("timeout") or default_timeout)
        started = time.monotonic()
        if scenario["kind"] == "command":
            done = _command_scenario(run, scenario, timeout)
        else:
            done = _python_scenario(run, scenario, timeout, number + 1)
        results[number] = _scenario_result(run, scenario, dependencies, done, time.monotonic() - started)
    if pages:
        for number, result in _page_scenarios(run, pages, dependencies, default_timeout):
            results[number] = result
    return [r for r in results if r is not None]


def _scenario_record(
    scenario: dict[str, Any], ok: bool | None, lacks: bool, problems: list[str], output: str, seconds: float
) -> dict[str, Any]:
    """One scenario's entry of the verdict (`verification.json` `acceptance`)."""
    from matrioska.plan.acceptance import describe

    return {
        "name": scenario["name"],
        "kind": scenario["kind"],
        "source": scenario.get("source", "user"),
        "scenario": describe(scenario),
        "ok": ok,
        "lacks": lacks,
        "problems": problems,
        "output": output,
        "seconds": round(seconds, 2),
    }


def _scenario_result(
    run: _Run,
    scenario: dict[str, Any],
    dependencies: dict[str, list[str]],
    done: dict[str, Any],
    seconds: float,
    modules: list[str] | None = None,
) -> dict[str, Any]:
    problems: list[str] = done["problems"]
    ok: bool | None = not problems
    log = _trim(done["log"], 3000)
    if ok and done.get("inconclusive"):
        # a scenario the model wrote that proves nothing never makes the verdict true
        ok = None
        log = f"inconclusive: {done['inconclusive']}\n\n{log}"
    result = {
        **_scenario_record(scenario, ok, bool(done.get("lacks")), problems, log, seconds),
        **({"commands": done["commands"]} if done.get("commands") else {}),
        **({"steps": done["steps"]} if done.get("steps") else {}),
    }
    description = result["scenario"]
    run.emit(
        "check_finished",
        kind="acceptance",
        command=scenario["name"],
        ok=ok,
        seconds=result["seconds"],
        output=("; ".join(problems) or ("passed" if ok else "inconclusive"))[-600:],
    )
    if ok is not False:
        return result
    owners = modules if modules is not None else _scenario_owners(run, scenario, dependencies, done["log"])
    what = ("the project lacks what was asked: " if result["lacks"] and "lacks" not in problems[0] else "") + "; ".join(
        problems
    )
    evidence = _trim(
        f"acceptance scenario (what the user asked for): {description}\nwhat happened: {what}\n\n{log}", 3000
    )
    for module in owners:
        run.failures.append(Failure(module, "acceptance", f"acceptance: {scenario['name']}", evidence))
    result["modules"] = owners
    return result


def _page_scenarios(
    run: _Run, pages: list[tuple[int, dict[str, Any]]], dependencies: dict[str, list[str]], timeout: float
) -> list[tuple[int, dict[str, Any]]]:
    from matrioska.kinds.web.browser import WebCheckUnavailable, run_page_scenarios

    for _, scenario in pages:
        run.emit("check_started", kind="acceptance", command=scenario["name"])
    root = run.fresh_copy()
    out: list[tuple[int, dict[str, Any]]] = []
    try:
        results = run_page_scenarios(root, [s for _, s in pages], timeout=timeout)
    except WebCheckUnavailable as exc:
        run.notes.append(f"page scenarios not run: {exc}")
        for number, scenario in pages:
            out.append((number, _scenario_record(scenario, None, False, [], f"skipped: {exc}", 0.0)))
        return out
    for (number, scenario), page in zip(pages, results, strict=True):
        problems = [page.reason] if not page.ok and page.reason else ([] if page.ok else ["the scenario failed"])
        sources = {p.source for p in page.problems if p.source}
        if page.ok:
            owners: list[str] = []
        elif page.lacks or not page.scripts:
            owners = [o for o in [run.owners.get(page.page)] if o]
        else:
            owners = list(dict.fromkeys(run.owners[s] for s in (sources or page.scripts) if s in run.owners))
        owners = [o for o in owners if o != "assembler"] or [
            o for o in [run.owners.get(s) for s in page.scripts] + [run.owners.get(page.page)] if o and o != "assembler"
        ][:2]
        done = {
            "problems": problems,
            "lacks": page.lacks,
            "log": page.output(),
            "steps": page.steps,
        }
        out.append((number, _scenario_result(run, scenario, dependencies, done, page.duration, owners)))
    return out
