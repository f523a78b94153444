"""One module written function by function: plan, K candidates per function, the candidates run
against their examples, the files assembled without the model (issue 35).

`build_module` returns a `Built`: the module's files, its function plan with the examples found
suspect, the trial (which candidate each function kept and why) and the run's one line, or None
when no usable plan could be had (the caller takes the whole-module path). `rewrite_function`
asks again for one function of a module already built (a fix round localised to it) and
assembles the module again with the new one when it passes more of its examples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langchain_core.runnables.config import ContextThreadPoolExecutor

from ..checking.sandbox import Sandbox
from ..errors import MatrioskaError
from ..generation.fixes import definitions, import_names, interface_entries
from ..generation.project import ProjectFile
from ..kinds.analyzers import Fix
from ..kinds.python.source import import_name
from ..model.calls import GenerationMeter, emit
from ..model.grammar import UPDATE_MARKER, render_files
from ..model.retry import is_transient_backend_error
from ..state import Architecture, ModuleSpec
from .assemble import javascript_file, python_file, tests_file
from .contract import ModuleContract
from .derive import scaffold_page
from .localise import failing_function, value_failure
from .plan import Eligible, ask_plan, callables
from .second import ask_constant, contract_constant, failing, hotter, undefined_names, why_lines
from .spec import Example, FunctionPlan, FunctionSpec
from .trial import FunctionTrial, Trial, run_trial
from .wiring import Binding, page_wiring
from .write import ask_candidates, function_messages

__all__ = [
    "Writing",
    "Built",
    "build_module",
    "rewrite_function",
    "attempt_functions",
    "tests_from_examples",
    "PATH_NAME",
]

PATH_NAME = "functions"
"""The module report's `path` for a module written function by function."""


@dataclass
class Writing:
    """How a module's functions are asked for and tried: the model, K, the temperature of the
    samples, the sandbox they run in (None: nothing may run, the first candidate is kept), the
    run's events and the meter of what was generated."""

    llm: Any
    samples: int = 4
    temperature: float | None = 0.7
    sandbox: Sandbox | None = None
    runtime: Any = None
    meter: GenerationMeter | None = None
    call_timeout: float = 2.0
    contracts: dict[str, ModuleContract] = field(default_factory=dict)
    """The project's contract, module id -> its public names (issue 40): a module's function plan
    and its page come from it."""
    title: str = ""
    """The project's name (a scaffolded page's title)."""
    retries: int = 1
    """Rounds of K more candidates, at a higher temperature, for a function none of whose
    candidates was chosen (issue 41: `--function-retries`); 0: none."""


@dataclass
class Built:
    """What the function path made of a module."""

    plan: FunctionPlan
    files: dict[str, str]
    trial: Trial
    candidates: dict[str, list[str]]
    chosen: dict[str, str]
    reply_path: str
    seconds: float
    fixes: list[Fix] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Functions no candidate was had for (the module is incomplete: the whole-module path runs)."""
    ways: dict[str, str] = field(default_factory=dict)
    """Each file -> the way it was written (functions, a scaffold, tests from the examples)."""
    unchanged: int = 0
    """Fix-round samplings that changed nothing of the function they were to fix (issue 41)."""

    def reply_text(self) -> str:
        """The files as a module's reply (its frame: each file fenced under its path), with an
        empty update: the judge derives the declared keys from the code, else they are asked."""
        files = [ProjectFile(path, text, self.plan.module) for path, text in self.files.items()]
        return render_files(files) + "\n\n" + UPDATE_MARKER + " {}"

    @property
    def line(self) -> str:
        return self.trial.line(self.plan.module, max((len(c) for c in self.candidates.values()), default=0))

    @property
    def passing(self) -> list[str]:
        """The functions whose kept candidate passes every example used to choose it."""
        return [name for name, trial in self.trial.functions.items() if trial.passing]

    def report(self) -> dict[str, Any]:
        """The module report's `functions` entry (plain JSON: the plan, the kept sources, the
        trial, the line)."""
        return {
            "plan": self.plan.to_dict(),
            "chosen": self.chosen,
            "passing": self.passing,
            "missing": self.missing,
            "line": self.line,
            "trial": self.trial.to_dict(),
            "replies": self.reply_path,
            "seconds": round(self.seconds, 2),
            "fixes": [fix.to_dict() for fix in self.fixes],
            "files": self.ways,
            **({"unchanged_fixes": self.unchanged} if self.unchanged else {}),
        }


def _write_all(
    writing: Writing,
    plan: FunctionPlan,
    functions: list[FunctionSpec],
    prompt: Callable[[FunctionSpec], list[Any]],
    temperature: float | None = None,
) -> tuple[dict[str, list[str]], str]:
    """K candidates for each of `functions`, asked at once (a server batches them);
    `temperature`: theirs when given (a second round), else the writing's when K > 1."""

    def one(function: FunctionSpec) -> tuple[list[str], str]:
        return ask_candidates(
            writing.llm,
            prompt(function),
            function,
            plan.language,
            writing.samples,
            temperature if temperature is not None else writing.temperature if writing.samples > 1 else None,
            meter=writing.meter,
            runtime=writing.runtime,
        )

    if not functions:
        return {}, ""
    with ContextThreadPoolExecutor(max_workers=min(8, len(functions)), thread_name_prefix="matrioska-function") as pool:
        results = list(pool.map(one, functions))
    paths = sorted({path for _, path in results if path})
    return {f.name: sources for f, (sources, _) in zip(functions, results, strict=True)}, " + ".join(paths)


def _assemble(
    plan: FunctionPlan,
    files: list[str],
    chosen: dict[str, str],
    project: dict[str, str],
    interfaces: dict[str, dict[str, Any]],
    doc: str,
) -> tuple[dict[str, str], list[Fix]]:
    defined = import_names(definitions(interface_entries(interfaces)))
    for function in plan.functions:  # the module's own functions, for its other files
        name = import_name(function.file) if function.file.endswith(".py") else None
        if name:
            defined.setdefault(function.name, []).append(name)
    out: dict[str, str] = {}
    fixes: list[Fix] = []
    for path in files:
        if plan.language == "python":
            out[path], made = python_file(plan, path, chosen, project=project, defined=defined, doc=doc)
            fixes += made
        else:
            out[path] = javascript_file(plan, path, chosen, doc=doc)
            if plan.bindings and path == files[0]:  # the page's events, wired to the chosen functions
                bindings = [Binding(**b) for b in plan.bindings]
                wiring, _ = page_wiring(bindings, set(plan.page_ids), set(chosen))
                out[path] = out[path].rstrip("\n") + "\n\n" + wiring
    return out, fixes


def _kept(trial: Trial, candidates: dict[str, list[str]]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for name, sources in candidates.items():
        result = trial.functions.get(name)
        index = result.kept if result is not None and result.kept >= 0 else 0
        if sources:
            chosen[name] = sources[min(index, len(sources) - 1)]
    return chosen


def _tried(
    writing: Writing,
    plan: FunctionPlan,
    spec: ModuleSpec,
    how: Eligible,
    candidates: dict[str, list[str]],
    shown: dict[str, list[str]],
    project: dict[str, str],
    interfaces: dict[str, dict[str, Any]],
    path: str,
    started: float,
) -> Built:
    """The candidates run against their examples, the kept ones assembled into the files."""
    trial = run_trial(plan, candidates, project, writing.sandbox, call_timeout=writing.call_timeout)
    chosen = _kept(trial, candidates)
    files, fixes = _assemble(plan, how.files, chosen, project, interfaces, spec.description or spec.label)
    built = Built(
        plan=plan,
        files=files,
        trial=trial,
        candidates=shown,
        chosen=chosen,
        reply_path=path,
        seconds=time.perf_counter() - started,
        fixes=fixes,
        missing=[f.name for f in plan.functions if f.name not in chosen],
    )
    _role_files(writing, built, spec, how)
    return built


def _role_files(writing: Writing, built: Built, spec: ModuleSpec, how: Eligible) -> None:
    """The module's files that are not functions, by role (issue 40): its tests from the kept
    examples (every checked example when none passed, so a failing function is not hidden) and
    its page scaffolded from the contract. A tests file with nothing to test is left to the
    model (`how.whole`)."""
    ways = how.ways()
    for path in how.tests:
        text = tests_file([built.plan], kept={built.plan.module: set(built.passing)}) or tests_file([built.plan])
        if text:
            built.files[path] = text
        else:
            how.whole.append(path)
            ways[path] = "whole (by the model: no example to test)"
    contract = writing.contracts.get(spec.id)
    if how.page and contract is not None:
        built.files[how.page] = scaffold_page(contract, writing.contracts, writing.title or spec.label)
    built.ways = ways


def build_module(
    writing: Writing,
    architecture: Architecture,
    spec: ModuleSpec,
    how: Eligible,
    *,
    interfaces: dict[str, dict[str, Any]],
    scenarios: list[dict[str, Any]],
    project: dict[str, str],
) -> Built | None:
    """The module written function by function, or None when no usable plan was had."""
    started = time.perf_counter()
    plan = ask_plan(
        writing.llm,
        architecture,
        spec,
        how,
        interfaces=interfaces,
        scenarios=scenarios,
        runtime=writing.runtime,
        meter=writing.meter,
        contract=writing.contracts.get(spec.id),
    )
    if plan is None:
        emit(writing.runtime, "function_plan_failed", module=spec.id)
        return None
    if how.entry and not plan.commands:  # an entry point without commands would be no program
        emit(writing.runtime, "function_plan_failed", module=spec.id, reason="the entry point's plan has no command")
        return None
    emit(writing.runtime, "function_plan", module=spec.id, plan=plan.to_dict())
    named = callables(architecture, spec, interfaces, how.language)
    goal = architecture.goal or architecture.project_name

    def prompt(function: FunctionSpec, evidence: str = "") -> list[Any]:
        return function_messages(
            goal=goal,
            module=spec.id,
            purpose=spec.description,
            plan=plan,
            function=function,
            callables={c: named[c] for c in function.calls if c in named} or named,
            evidence=evidence,
        )

    candidates, path = _write_all(writing, plan, plan.functions, prompt)

    def tried() -> Built:
        return _tried(writing, plan, spec, how, candidates, candidates, project, interfaces, path, started)

    built = _second_chances(writing, plan, goal, candidates, prompt, tried, tried())
    emit(writing.runtime, "module_functions", module=spec.id, line=built.line, missing=built.missing)
    return built


def _pick(asked: dict[str, list[Any]], function: FunctionSpec) -> list[Any]:
    return asked[function.name]


def _second_chances(
    writing: Writing,
    plan: FunctionPlan,
    goal: str,
    candidates: dict[str, list[str]],
    prompt: Callable[[FunctionSpec, str], list[Any]],
    tried: Callable[[], Built],
    built: Built,
) -> Built:
    """The module's functions given their second chances (`second`): the constants their
    candidates read undefined, from the contract or asked once, then a tried again; each
    function still without a chosen candidate sampled again, K more at a higher temperature with
    why its candidates failed, within `writing.retries` rounds (`candidates` grows in place)."""
    contract = writing.contracts.get(plan.module)
    added = 0
    for name, users in undefined_names(built.trial, plan).items():
        line, source = contract_constant(name, contract), "the contract"
        if line is None:
            specs = [f for f in plan.functions if f.name in users]
            line, source = ask_constant(writing.llm, plan, name, specs, goal=goal, runtime=writing.runtime), "asked"
        if line:
            added += 1
            plan.constants.append(line)
            plan.notes.append(f"constant {name} ({source}): read by {', '.join(users)}, defined by nobody")
            emit(writing.runtime, "constant_added", module=plan.module, name=name, line=line, source=source)
    if added:
        built = tried()
    rounds: dict[str, int] = {}
    for round_ in range(2, 2 + max(0, writing.retries)):
        todo = failing(built.trial, plan)
        if not todo:
            break
        asked = {f.name: prompt(f, why_lines(built.trial, f.name)) for f in todo}
        more, _ = _write_all(writing, plan, todo, partial(_pick, asked), hotter(writing.temperature))
        for function in todo:
            candidates[function.name] = [*candidates.get(function.name, []), *more.get(function.name, [])]
            rounds[function.name] = round_
        emit(writing.runtime, "functions_sampled_again", module=plan.module, functions=[f.name for f in todo])
        built = tried()
    for name, round_ in rounds.items():
        built.trial.functions[name].round = round_
    return built


def rewrite_function(
    writing: Writing,
    architecture: Architecture,
    spec: ModuleSpec,
    how: Eligible,
    previous: dict[str, Any],
    function_name: str,
    evidence: str,
    *,
    interfaces: dict[str, dict[str, Any]],
    project: dict[str, str],
    example: Example | None = None,
) -> Built | None:
    """One function of a module built before (`previous`: its report's `functions` entry) asked
    again with the evidence of a failure in it (and, when the failure is a value, a new example),
    its K candidates and the one kept before tried together; the module assembled again with the
    winner. None when the function is not in the plan."""
    started = time.perf_counter()
    plan = FunctionPlan.from_dict(previous["plan"])
    function = plan.function(function_name)
    if function is None:
        return None
    if example is not None and not any(e.args == example.args for e in function.examples):
        function.examples.insert(0, example)
        del function.examples[4:]
    named = callables(architecture, spec, interfaces, how.language)
    chosen = dict(previous.get("chosen") or {})
    messages = function_messages(
        goal=architecture.goal or architecture.project_name,
        module=spec.id,
        purpose=spec.description,
        plan=plan,
        function=function,
        callables={c: named[c] for c in function.calls if c in named} or named,
        evidence=evidence,
    )
    old = chosen.get(function.name)
    candidates = {name: [source] for name, source in chosen.items() if name != function.name}
    # the fresh candidates first: the one kept before passed these examples and still failed
    candidates[function.name] = [old] if old else []
    unchanged = 0
    built: Built | None = None
    for round_ in range(2):  # a fix that changes nothing is sampled once more, hotter
        hot = hotter(writing.temperature) if round_ else None
        fresh, path = _write_all(writing, plan, [function], lambda _: messages, hot)
        new = [s for s in fresh.get(function.name, []) if s != old]
        candidates[function.name] = [*new, *candidates[function.name]]
        shown = {function.name: candidates[function.name]}
        built = _tried(writing, plan, spec, how, candidates, shown, project, interfaces, path, started)
        if not _unmoved(built.trial.functions[function.name], bool(old)):
            break
        unchanged += 1
        emit(writing.runtime, "fix_unchanged", module=spec.id, function=function.name, round=round_ + 1)
    assert built is not None
    built.unchanged = unchanged
    emit(writing.runtime, "function_rewritten", module=spec.id, function=function.name, line=built.line)
    return built


def _unmoved(trial: FunctionTrial, had_old: bool) -> bool:
    """Whether a fix round's trial kept what it was to fix (issue 41): no new candidate, or the one
    kept before (the last) still kept, or one behaving as it does on every input."""
    if not had_old or len(trial.candidates) < 2:
        return True
    last = trial.candidates[-1]
    return trial.kept == len(trial.candidates) - 1 or trial.candidates[trial.kept].alike == last.alike


def attempt_functions(
    writing: Writing,
    architecture: Architecture,
    spec: ModuleSpec,
    how: Eligible,
    *,
    evidence: str | None,
    previous: dict[str, Any] | None,
    interfaces: dict[str, dict[str, Any]],
    scenarios: list[dict[str, Any]],
    project: dict[str, str],
) -> Built | None:
    """The function path for one module: built anew, or in a fix round (`evidence` of a module
    built this way before, `previous`) the one function the failure is traced to asked again.
    None: no plan could be had, or a fix the traceback does not localise (the whole-module path
    runs); a failure of this path's own is an event, never lost work."""
    try:
        if evidence:
            names = [f["name"] for f in (previous or {}).get("plan", {}).get("functions") or []]
            where = failing_function(evidence, how.files, names)
            value = value_failure(evidence, names)
            example = Example(args=value[1], expected=value[2]) if value else None
            name = where[1] if where else value[0] if value else None
            if previous is None or name is None:
                return None
            emit(
                writing.runtime,
                "function_localised",
                module=spec.id,
                file=where[0] if where else "",
                function=name,
                example=example.render(name, how.language) if example else "",
            )
            return rewrite_function(
                writing,
                architecture,
                spec,
                how,
                previous,
                name,
                evidence,
                interfaces=interfaces,
                project=project,
                example=example,
            )
        return build_module(
            writing, architecture, spec, how, interfaces=interfaces, scenarios=scenarios, project=project
        )
    except MatrioskaError:
        raise
    except Exception as exc:  # noqa: BLE001 - the whole-module path is the fallback, the cause is said
        if is_transient_backend_error(exc):
            raise
        emit(writing.runtime, "function_path_failed", module=spec.id, error=f"{type(exc).__name__}: {exc}"[:300])
        return None


def tests_from_examples(
    architecture: Architecture, spec: ModuleSpec, reports: dict[str, dict[str, Any]]
) -> list[ProjectFile] | None:
    """A tests module's one file written from the kept examples of the modules it tests, when
    every Python module it depends on was written function by function (None: it is asked for)."""
    tests = [p for p in spec.files if p.endswith(".py")]
    if len(spec.files) != 1 or len(tests) != 1 or not spec.dependencies:
        return None
    plans: list[FunctionPlan] = []
    kept: dict[str, set[str]] = {}
    for dependency in spec.dependencies:
        entry = (reports.get(dependency) or {}).get("functions")
        if not entry:
            module = next((m for m in architecture.modules if m.id == dependency), None)
            if module is not None and any(p.endswith(".py") for p in module.files):
                return None  # a Python module written whole: its names are not known here
            continue
        plan = FunctionPlan.from_dict(entry["plan"])
        if plan.language == "python":
            plans.append(plan)
            kept[plan.module] = set(entry.get("passing") or [])
    text = tests_file(plans, kept=kept) if plans else ""
    return [ProjectFile(tests[0], text, spec.id)] if text else None
