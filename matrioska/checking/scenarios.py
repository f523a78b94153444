"""The acceptance scenarios run (`matrioska.plan.acceptance` says what they are): each on its own
fresh copy of the project, in the sandbox. A `command` scenario runs its commands and compares
what they print and create; a `python` scenario runs its code; the scenarios of a kind that runs
them itself (`page`: the HTML kind, in the browser) go to that kind. A failure is evidence for the
modules the scenario exercises, with what happened and what was expected."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any

from .. import kinds
from ..kinds.base import ScenarioOutcome
from ..kinds.python.checks import entry_points, import_names, is_test, source_roots
from ..plan.acceptance import describe, scenario_modules, script_of
from .run import EVIDENCE_LIMIT, ProjectRun, attribute, headline, trim
from .sandbox import CommandResult
from .verdict import ScenarioRecord

__all__ = ["acceptance_checks", "contains"]

_PYTHON_NAMES = ("python", "python3")
_RUN_HERE = ("command", "python")  # the scenario kinds run here; the others go to the kind that runs them


def acceptance_checks(
    run: ProjectRun, scenarios: list[dict[str, Any]], dependencies: dict[str, list[str]]
) -> list[ScenarioRecord]:
    """Each scenario on its own fresh copy of the project, in the sandbox (those of a kind that
    runs them, after the others); the verdict's entries, in the scenarios' order."""
    results: list[ScenarioRecord | None] = [None] * len(scenarios)
    default_timeout = min(60.0, run.sandbox.timeout)
    deferred: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    runners: dict[str, kinds.Installed] = {}  # scenario kind -> the first kind that runs it
    for item in kinds.installed():
        for kind in getattr(item.kind, "scenario_kinds", ()) or ():
            runners.setdefault(str(kind), item)
    for number, scenario in enumerate(scenarios):
        if scenario["kind"] in runners and scenario["kind"] not in _RUN_HERE:
            deferred.setdefault(scenario["kind"], []).append((number, scenario))
            continue
        run.emit("check_started", kind="acceptance", command=scenario["name"])
        timeout = float(scenario.get("timeout") or default_timeout)
        started = time.monotonic()
        if scenario["kind"] == "command":
            done = _command_scenario(run, scenario, timeout)
        else:
            done = _python_scenario(run, scenario, timeout, number + 1)
        done.seconds = time.monotonic() - started
        results[number] = _scenario_result(run, scenario, dependencies, done)
    for kind, group in deferred.items():
        for number, result in _kind_scenarios(run, runners[kind], group, dependencies):
            results[number] = result
    return [r for r in results if r is not None]


def _kind_scenarios(
    run: ProjectRun, item: kinds.Installed, group: list[tuple[int, dict[str, Any]]], dependencies: dict[str, list[str]]
) -> list[tuple[int, ScenarioRecord]]:
    """The scenarios a kind runs itself (`run_scenarios`), judged like the others; a plugin that
    fails to run them leaves them not run, with a note."""
    for _, scenario in group:
        run.emit("check_started", kind="acceptance", command=scenario["name"])
    run.scenarios = [scenario for _, scenario in group]
    try:
        outcomes = list(item.kind.run_scenarios(run))
        if len(outcomes) != len(group):
            raise ValueError(f"{len(outcomes)} outcome(s) for {len(group)} scenario(s)")
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is a note, not a crash
        if item.source == kinds.BUILT_IN:
            raise
        run.note(f"the {item.name} kind ({item.source}) failed to run its scenarios: {type(exc).__name__}: {exc}")
        outcomes = [ScenarioOutcome([], f"skipped: the {item.name} kind failed", skipped=True) for _ in group]
    finally:
        run.scenarios = []
    out: list[tuple[int, ScenarioRecord]] = []
    for (number, scenario), outcome in zip(group, outcomes, strict=True):
        if outcome.skipped:
            out.append((number, _scenario_record(scenario, None, False, [], outcome.log, 0.0)))
        else:
            out.append((number, _scenario_result(run, scenario, dependencies, outcome)))
    return out


def _scenario_record(
    scenario: dict[str, Any], ok: bool | None, lacks: bool, problems: list[str], output: str, seconds: float
) -> ScenarioRecord:
    """One scenario's entry of the verdict."""
    return ScenarioRecord(
        name=scenario["name"],
        kind=scenario["kind"],
        source=scenario.get("source", "user"),
        scenario=describe(scenario),
        ok=ok,
        lacks=lacks,
        problems=problems,
        output=output,
        seconds=round(seconds, 2),
    )


def _scenario_result(
    run: ProjectRun, scenario: dict[str, Any], dependencies: dict[str, list[str]], done: ScenarioOutcome
) -> ScenarioRecord:
    """A run scenario judged: passed, failed (evidence for the modules it exercises) or
    inconclusive (a pass the model's scenario could not have turned into a failure)."""
    problems = done.problems
    ok: bool | None = not problems
    log = trim(done.log, EVIDENCE_LIMIT)
    if ok and done.inconclusive:
        # a scenario the model wrote that proves nothing never makes the verdict true
        ok = None
        log = f"inconclusive: {done.inconclusive}\n\n{log}"
    result = _scenario_record(scenario, ok, done.lacks, problems, log, done.seconds)
    result.commands, result.steps = done.commands or None, done.steps or None
    run.emit(
        "check_finished",
        kind="acceptance",
        command=scenario["name"],
        ok=ok,
        seconds=result.seconds,
        output=("; ".join(problems) or ("passed" if ok else "inconclusive"))[-600:],
    )
    if ok is not False:
        return result
    owners = done.modules if done.modules is not None else _scenario_owners(run, scenario, dependencies, done.log)
    what = ("the project lacks what was asked: " if result.lacks and "lacks" not in problems[0] else "") + "; ".join(
        problems
    )
    evidence = f"acceptance scenario (what the user asked for): {result.scenario}\nwhat happened: {what}\n\n{log}"
    for module in owners:
        run.failure(module, "acceptance", f"acceptance: {scenario['name']}", evidence)
    result.modules = owners
    return result


def _scenario_owners(
    run: ProjectRun, scenario: dict[str, Any], dependencies: dict[str, list[str]], text: str
) -> list[str]:
    """Who a failing scenario goes to: the module of the innermost project frame in its output,
    else the modules it exercises (a command's program and what that builds on; a Python
    scenario's imports), never a module of tests only."""
    owner = attribute(text, run.owners, str(run.root))
    if owner is not None and owner != "assembler":
        return [owner]
    tests_only = {
        module for module in set(run.owners.values()) if all(is_test(p) for p, m in run.owners.items() if m == module)
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


# -- command and Python scenarios --------------------------------------------------------------


def contains(haystack: str, needle: str) -> bool:
    """Whether `needle` is in `haystack`, ignoring case (how a scenario's expected texts compare)."""
    return needle.casefold() in haystack.casefold()


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


def _scenario_env(run: ProjectRun) -> dict[str, str]:
    env = dict(run.env)
    if "PYTHONPATH" not in env:
        roots = source_roots(list(run.files))
        env["PYTHONPATH"] = os.pathsep.join(str(run.root / r) if r != "." else str(run.root) for r in roots)
    return env


def _write_given(root: Path, given: dict[str, str]) -> None:
    for relative, text in given.items():
        target = (root / relative).resolve()
        if target.is_relative_to(root.resolve()):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def _command_scenario(run: ProjectRun, scenario: dict[str, Any], timeout: float) -> ScenarioOutcome:
    """The scenario's commands run in order (those before its command must exit 0), then what
    its command did compared with what it expects."""
    root = run.fresh_copy()
    _write_given(root, scenario.get("files") or {})
    files = {**run.files, **(scenario.get("files") or {})}
    env = _scenario_env(run)
    log: list[str] = []
    commands: list[dict[str, Any]] = []
    problems: list[str] = []
    outputs: list[str] = []
    lacks = False
    for position, argv in enumerate([*scenario["before"], scenario["command"]]):
        shown = " ".join(argv)
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
        killed = f", {result.killed}" if result.killed else ""
        log.append(f"$ {shown}\n{result.output or '(no output)'}\n[exit {result.returncode}{killed}]")
        if result.killed:
            problems.append(f"`{shown}` was stopped ({result.killed})")
            break
        if position < len(scenario["before"]):
            if result.returncode != 0:
                problems.append(f"`{shown}` (run first) exited {result.returncode}")
                break
            continue
        problems += _unmet(scenario, result, root)
    done = ScenarioOutcome(problems, "\n\n".join(log), lacks=lacks, commands=commands)
    silent = bool(commands) and not any(outputs)
    checks_output = scenario["stdout_contains"] or scenario["stdout_lacks"] or scenario["creates"]
    if scenario.get("source") == "generated" and not problems and silent and not checks_output:
        done.inconclusive = "its commands printed nothing and it checks only their exit status"
    return done


def _unmet(scenario: dict[str, Any], result: CommandResult, root: Path) -> list[str]:
    """What a command scenario expects that its command did not do (exit status, output, files)."""
    problems: list[str] = []
    shown = " ".join(scenario["command"])
    expected = scenario.get("exit")
    if expected is not None and result.returncode != expected:
        problems.append(f"`{shown}` exited {result.returncode}, expected {expected}")
    problems += [
        f"its output lacks {text!r}" for text in scenario["stdout_contains"] if not contains(result.output, text)
    ]
    problems += [
        f"its output holds {text!r}, which it must not"
        for text in scenario["stdout_lacks"]
        if contains(result.output, text)
    ]
    problems += [f"it did not create {path}" for path in scenario["creates"] if not (root / path).exists()]
    return problems


def _python_scenario(run: ProjectRun, scenario: dict[str, Any], timeout: float, number: int) -> ScenarioOutcome:
    """The scenario's code run as a script in the project's folder; any error fails it (an
    import error: the project lacks what it uses)."""
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
    return ScenarioOutcome(problems, log, lacks=lacks)
