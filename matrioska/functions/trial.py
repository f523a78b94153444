"""Chosen by running (issue 35, item 3): every candidate of a module's functions runs against its
examples in the sandbox, the first passing every example is kept, and an example every candidate
contradicts the same way is put in doubt (CodeT's agreement) rather than trusted.

One sandboxed process judges the whole module (`harness` for Python, `harness_node` for
JavaScript), the functions in plan order: when function F is judged, the siblings judged before
it are defined by their kept candidate, those after by their first, and the candidate under test
replaces F. Every call has its own timeout. The project's built files (the dependencies) are in
the working folder, so `from storage import load` works; the plan's constants run first; the
standard-library names a body commonly forgets to import are there already (assembly adds the
imports later, so a missing import must not lose a candidate).

What candidates do never raises here. The harness writes each result as it goes; when a
candidate ends the process (`os._exit`, a crash, a loop the timer cannot stop) the rest is run
again without it, within the trial's overall time. With no sandbox, or no node for JavaScript,
nothing runs: each function keeps its first candidate, none passes, and the notes say why.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checking.sandbox import CommandResult, Sandbox
from ..kinds.python.fixes import WELL_KNOWN
from ..kinds.python.source import import_name
from . import harness
from .harness_node import NODE_HARNESS
from .probes import probe_inputs
from .spec import Example, FunctionPlan, FunctionSpec, render_value

__all__ = ["CandidateRun", "FunctionTrial", "Trial", "run_trial", "examples_passed", "COMMON_MODULES"]

COMMON_MODULES = (
    "json",
    "re",
    "os",
    "math",
    "csv",
    "datetime",
    "random",
    "string",
    "collections",
    "itertools",
    "functools",
    "pathlib",
    "sys",
    "time",
    "statistics",
    "uuid",
)
"""Standard-library modules a Python candidate finds defined, imported or not."""
_HARNESS = "_matrioska_trial"
_NO_SANDBOX = "nothing may run (no sandbox)"
_NO_NODE = "Node.js is not installed: the JavaScript candidates could not run"


@dataclass
class CandidateRun:
    """One candidate of a function and what its examples gave."""

    number: int
    """1-based."""
    results: list[dict[str, Any]]
    """Per example, in the plan's order: `ok`, `got` (JSON value, or a repr string), `error`
    ("ExcType: message", "timeout" or ""), `stdout` (trimmed)."""
    passed: int
    """Examples passed among the function's checked (not suspect) ones."""
    error: str = ""
    """Why the candidate did not even define the function (a SyntaxError, ...)."""
    why: str = ""
    """Why it fails, in one line (issue 41): the definition's error, else its first failing
    checked example: a NameError and its name, `add(2, 3) returned 6, expected 5`, another
    exception, a timeout. "" when it passes every checked example."""
    group: int = 0
    """How many candidates (itself included) behaved as it did on every input; 0: undefined."""
    alike: str = ""
    """Its behaviour on every input, hashed: two candidates with the same behave alike."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "passed": self.passed,
            "error": self.error,
            "why": self.why,
            "group": self.group,
            "alike": self.alike,
            "results": self.results,
        }


@dataclass
class FunctionTrial:
    """One function's candidates, the one kept and the examples that chose it."""

    name: str
    candidates: list[CandidateRun]
    kept: int
    """Index into `candidates` of the kept one; -1 when there is no candidate."""
    checked: int
    """Examples used to choose (not suspect)."""
    suspect: list[str] = field(default_factory=list)
    """One line per example this trial put in doubt: `add(2, 3) == 6: every candidate returned 5`."""
    examples: int = 0
    """All the function's examples, suspect ones included."""
    inputs: int = 0
    """The inputs the candidates ran on: the examples and the probe inputs (`probes`)."""
    agreed: int = 0
    """The consensus group's size (a strict majority of at least two; 0: none)."""
    round: int = 1
    """The sampling rounds it took (more when no candidate passed: `Writing.retries`)."""

    def _passes(self, index: int) -> bool:
        if not 0 <= index < len(self.candidates) or self.checked < 1:
            return False
        run = self.candidates[index]
        return not run.error and run.passed >= self.checked

    @property
    def passing(self) -> bool:
        """The kept candidate passes every checked example (and there is at least one)."""
        return self._passes(self.kept)

    @property
    def chosen(self) -> bool:
        """The kept candidate passes every checked example, or, with none left to check (all
        suspect or none given), a majority of the candidates behave as it does."""
        if self.checked < 1 and 0 <= self.kept < len(self.candidates):
            return self.agreed >= 2 and self.candidates[self.kept].group == self.agreed
        return self.passing

    @property
    def first_passing(self) -> bool:
        """Candidate 1 passes every checked example."""
        return self._passes(0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kept": self.kept,
            "checked": self.checked,
            "examples": self.examples,
            "suspect": self.suspect,
            "inputs": self.inputs,
            "agreed": self.agreed,
            "round": self.round,
            "passing": self.passing,
            "chosen": self.chosen,
            "first_passing": self.first_passing,
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass
class Trial:
    """A module's trial: each function's candidates and choice, the seconds the checks took."""

    language: str
    functions: dict[str, FunctionTrial]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self, module: str, k: int) -> str:
        """`core: 5 functions, 14 examples (2 suspect), consensus over 24 inputs, 5/5 chosen (K=4,
        20 candidates, 2.1 s of checks)`: `chosen` counts the functions whose kept candidate
        passes its trusted examples (or, with none, has the consensus behind it)."""
        functions = list(self.functions.values())
        examples = sum(f.examples for f in functions)
        suspect = sum(f.examples - f.checked for f in functions)
        inputs = sum(max(f.inputs, f.examples) for f in functions)
        candidates = sum(len(f.candidates) for f in functions)
        chosen = sum(1 for f in functions if f.chosen)
        retried = sum(1 for f in functions if f.round > 1)
        text = f"{module}: {_count(len(functions), 'function')}, {_count(examples, 'example')}"
        text += f" ({suspect} suspect)" if suspect else ""
        text += f", consensus over {_count(inputs, 'input')}" if inputs > examples else ""
        text += f", {chosen}/{len(functions)} chosen (K={k}, {_count(candidates, 'candidate')}"
        text += f", {retried} sampled again" if retried else ""
        return text + f", {self.seconds:.1f} s of checks)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
            "functions": {name: f.to_dict() for name, f in self.functions.items()},
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --------------------------------------------------------------------------- running


def run_trial(
    plan: FunctionPlan,
    candidates: dict[str, list[str]],
    project: dict[str, str],
    sandbox: Sandbox | None,
    *,
    call_timeout: float = 2.0,
    timeout: float = 90.0,
) -> Trial:
    """Run every candidate of `plan`'s functions (`candidates`: name -> source texts, each a
    whole definition) against their examples in `sandbox`, with `project` (path -> text, the
    dependencies already built) in the working folder; choose each function's candidate and put
    in doubt the examples every candidate contradicts the same way (the plan's `Example.suspect`
    is set). `call_timeout`: seconds per call; `timeout`: for the whole trial."""
    why = ""
    if sandbox is None:
        why = _NO_SANDBOX
    elif plan.language == "javascript" and shutil.which("node") is None:
        why = _NO_NODE
    if why or sandbox is None:
        return _not_run(plan, candidates, why)
    started = time.monotonic()
    unique = {name: list(dict.fromkeys(sources)) for name, sources in candidates.items()}  # a repeat runs once
    payload = _payload(plan, unique, project, call_timeout)
    given: dict[str, dict[str, dict[str, Any]]] = {}
    notes: list[str] = []
    seconds = 0.0
    for _ in range(sum(len(c) for c in payload["functions"]) + 1):
        left = timeout - (time.monotonic() - started)
        if left < 1.0:
            notes.append(f"the trial ran out of its {timeout:g} s: the candidates not run count as failing")
            break
        records, result = _attempt(plan.language, payload, given, project, sandbox, left)
        seconds += result.duration
        for record in records:
            if "run" in record:
                run = record["run"]
                given.setdefault(run.pop("function"), {})[str(run.pop("number"))] = run
        if any("done" in r for r in records):
            break
        culprit = _culprit(records)
        why = result.killed or (
            "a call ignored its timeout"
            if result.returncode == harness.IGNORED_TIMEOUT
            else f"exit status {result.returncode}"
        )
        if culprit is None:
            notes.append(f"the checking process stopped ({why}) before any candidate ran: {result.output[-300:]}")
            break
        name, number = culprit
        error = f"stopped the checking process ({why})"
        examples = next(len(f["examples"]) for f in payload["functions"] if f["name"] == name)
        given.setdefault(name, {})[str(number)] = _failed(error, examples)
        notes.append(f"{name} candidate {number} {error}; the rest ran again without it")
    votes = {  # each sample its run: a candidate the model gave twice counts twice in the consensus
        name: {
            str(n): {**run, "sample": unique[name].index(source)}
            for n, source in enumerate(sources, 1)
            if (run := (given.get(name) or {}).get(str(unique[name].index(source) + 1))) is not None
        }
        for name, sources in candidates.items()
    }
    return _judge(plan, candidates, votes, seconds, notes)


def examples_passed(
    plan: FunctionPlan,
    files: dict[str, str],
    project: dict[str, str],
    sandbox: Sandbox | None,
    *,
    call_timeout: float = 2.0,
) -> int:
    """The plan's trusted examples a module's files pass (issue 41: behaviour decides between the
    function path's files and a whole-module reply): each planned function taken from the file
    it is planned in (the module's first code file when the plan does not say), the whole file
    as its one candidate, with `project` (the other modules' files) and `files` around it."""
    if sandbox is None:
        return 0
    language_files = [p for p in files if p.endswith((".js", ".mjs") if plan.language == "javascript" else ".py")]
    copy = FunctionPlan.from_dict(plan.to_dict())  # the trial marks its examples: keep the plan's own
    candidates = {}
    for function in copy.functions:
        function.examples = function.checked
        path = function.file if function.file in files else (language_files[0] if language_files else "")
        if path:
            candidates[function.name] = [files[path]]
    if not candidates:
        return 0
    trial = run_trial(copy, candidates, {**project, **files}, sandbox, call_timeout=call_timeout)
    return sum(f.candidates[0].passed for f in trial.functions.values() if f.candidates)


def _not_run(plan: FunctionPlan, candidates: dict[str, list[str]], why: str) -> Trial:
    functions = {}
    for spec in plan.functions:
        sources = candidates.get(spec.name) or []
        runs = [CandidateRun(n, [], 0) for n in range(1, len(sources) + 1)]
        functions[spec.name] = FunctionTrial(
            spec.name, runs, 0 if runs else -1, len(spec.checked), examples=len(spec.examples)
        )
    return Trial(plan.language, functions, 0.0, [why])


def _failed(error: str, examples: int) -> dict[str, Any]:
    result = {"ok": False, "got": None, "error": error, "stdout": "", "key": None}
    return {"error": error, "results": [dict(result) for _ in range(examples)]}


def _culprit(records: list[dict[str, Any]]) -> tuple[str, int] | None:
    """The candidate that was running when the process stopped."""
    started = [tuple(r["start"]) for r in records if "start" in r]
    finished = {(r["run"].get("function"), r["run"].get("number")) for r in records if "run" in r}
    open_ = [s for s in started if s not in finished]
    return (str(open_[-1][0]), int(open_[-1][1])) if open_ else None


def _example(example: Example) -> dict[str, Any]:
    return {
        "args": example.args,
        "expected": example.expected,
        "value": example.checks_value,
        "files": example.files,
        "stdout": example.stdout,
        "suspect": bool(example.suspect),
    }


def _imports(spec: FunctionSpec, project: dict[str, str]) -> list[list[str]]:
    """Where each dependency function a Python function may call can be imported from: the
    module it names, then any project file defining it."""
    out: list[list[str]] = []
    for call in spec.calls:
        module, _, name = call.rpartition(".")
        places = [module] if module else []
        pattern = re.compile(rf"^(def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*=", re.M)
        places += [m for p, text in sorted(project.items()) if (m := import_name(p)) and pattern.search(text)]
        out += [[m, name] for m in dict.fromkeys(places)]
    return out


def _payload(
    plan: FunctionPlan, candidates: dict[str, list[str]], project: dict[str, str], call_timeout: float
) -> dict[str, Any]:
    python = plan.language != "javascript"
    functions = [
        {
            "name": spec.name,
            "candidates": list(candidates.get(spec.name) or []),
            "examples": [_example(e) for e in spec.examples],
            "imports": _imports(spec, project) if python else [],
            "probes": probe_inputs(spec) if python else [],
        }
        for spec in plan.functions
    ]
    payload: dict[str, Any] = {"call_timeout": call_timeout, "constants": plan.constants, "functions": functions}
    if python:
        src = any(p.startswith("src/") and p.endswith(".py") for p in project)
        payload.update(paths=["src", "."] if src else ["."], modules=list(COMMON_MODULES), names=WELL_KNOWN)
    else:
        payload["scripts"] = sorted(p for p in project if p.endswith((".js", ".cjs")))
    return payload


def _write(root: Path, relative: str, text: str) -> None:
    target = (root / relative).resolve()
    if target.is_relative_to(root.resolve()):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _attempt(
    language: str,
    payload: dict[str, Any],
    given: dict[str, dict[str, dict[str, Any]]],
    project: dict[str, str],
    sandbox: Sandbox,
    left: float,
) -> tuple[list[dict[str, Any]], CommandResult]:
    """One run of the harness in a fresh copy of the project: its records and how it ended."""
    scratch = Path(tempfile.mkdtemp(prefix="matrioska-trial-"))
    os.chmod(scratch, 0o755)
    root = scratch / "project"
    root.mkdir()
    try:
        for relative, text in project.items():
            _write(root, relative, text)
        results = root / f"{_HARNESS}.jsonl"
        results.write_text("", encoding="utf-8")
        spec = {**payload, "root": str(root.resolve()), "out": str(results.resolve()), "given": given}
        (root / f"{_HARNESS}.json").write_text(json.dumps(spec), encoding="utf-8")
        readable: list[str] = []
        if language == "javascript":
            node = str(Path(shutil.which("node") or "node").resolve())
            (root / f"{_HARNESS}.js").write_text(NODE_HARNESS, encoding="utf-8")
            argv = [node, f"{_HARNESS}.js", f"{_HARNESS}.json"]
            readable = [str(Path(node).parent.parent)]
        else:
            (root / f"{_HARNESS}.py").write_text(Path(harness.__file__).read_text(encoding="utf-8"), encoding="utf-8")
            argv = [sys.executable, f"{_HARNESS}.py", f"{_HARNESS}.json"]
        result = sandbox.run(
            argv, root, timeout=left, readable=readable, display=f"trial of {len(payload['functions'])} functions"
        )
        records = []
        for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # the last line of a killed process may be cut
        return records, result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------- judging


def _judge(
    plan: FunctionPlan,
    candidates: dict[str, list[str]],
    given: dict[str, dict[str, dict[str, Any]]],
    seconds: float,
    notes: list[str],
) -> Trial:
    """Each function's choice from the runs (the rules the harness used while it ran)."""
    functions: dict[str, FunctionTrial] = {}
    for spec in plan.functions:
        count = len(candidates.get(spec.name) or [])
        runs = [
            (given.get(spec.name) or {}).get(str(n)) or _failed("not run", len(spec.examples))
            for n in range(1, count + 1)
        ]
        examples = [_example(e) for e in spec.examples]
        every = harness.agreement(runs, examples)
        kept, doubted = harness.decide(runs, examples)
        lines = []
        for index, (key, agreed, total) in sorted(doubted.items()):
            shown = key[5:] if key.startswith("repr:") else render_value(json.loads(key), plan.language)
            if index not in every:
                reason = f"{agreed} of {total} candidates behave alike and return {shown}"
            elif agreed == total:
                reason = f"every candidate returned {shown}"
            else:
                reason = f"every candidate failed it and {agreed} of {total} returned {shown}"
            example = spec.examples[index]
            example.suspect = reason
            lines.append(f"{example.render(spec.name, plan.language)}: {reason}")
        checked = [i for i, e in enumerate(spec.examples) if not e.suspect]
        size = {i: len(group) for group in harness.groups(runs) for i in group}
        runs_out = [
            CandidateRun(
                number=n,
                results=[{k: v for k, v in r.items() if k != "key"} for r in run.get("results") or []],
                passed=sum(1 for i in checked if i < len(run.get("results") or []) and run["results"][i].get("ok")),
                error=str(run.get("error") or ""),
                why=_why(run, spec, checked, plan.language),
                group=size.get(n - 1, 0),
                alike=_alike(run),
            )
            for n, run in enumerate(runs, 1)
        ]
        probes = max((len(run.get("probes") or []) for run in runs), default=0)
        functions[spec.name] = FunctionTrial(
            spec.name,
            runs_out,
            kept,
            len(checked),
            lines,
            len(spec.examples),
            inputs=len(spec.examples) + probes,
            agreed=len(harness.consensus(runs)),
        )
    return Trial(plan.language, functions, seconds, notes)


def _alike(run: dict[str, Any]) -> str:
    """`CandidateRun.alike`: a hash of what the candidate did on the examples and probes."""
    if run.get("error"):
        return ""
    signature = [harness.behaviour(r) for r in run.get("results") or []] + list(run.get("probes") or [])
    return hashlib.sha1(json.dumps(signature).encode(), usedforsecurity=False).hexdigest()[:12]


def _why(run: dict[str, Any], spec: FunctionSpec, checked: list[int], language: str) -> str:
    """Why a candidate fails, in one line (`CandidateRun.why`); "" when it passes."""
    if run.get("error"):
        return str(run["error"])
    results = run.get("results") or []
    for index in checked:
        result = results[index] if index < len(results) else {"ok": False, "error": "not run"}
        if result.get("ok"):
            continue
        example = spec.examples[index]
        call = example.call(spec.name, language)
        error = str(result.get("error") or "")
        if error == harness.TIMEOUT:
            return f"{call} ran past its time"
        if error:
            return f"{call} raised {error}"
        got = result.get("got")
        if example.checks_value and not harness.same(got, example.expected):
            shown = render_value(got, language)
            return f"{call} returned {shown}, expected {render_value(example.expected, language)}"
        return f"{call} printed {str(result.get('stdout') or '')[:80]!r}, expected {example.stdout!r} in it"
    return ""
