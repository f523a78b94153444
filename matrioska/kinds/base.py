"""The base every built-in kind extends; a plugin may extend it too, or be any object with the
same attributes (`name`, `description`, `matches`, `validate` required, the rest optional).

A kind's own checks of a generated project (`check`, `run_scenarios`) are given a `CheckContext`:
the project, a way to run a command in the sandbox on a fresh copy of it, and a way to record
what happened (a `Check`, a `Failure`). The verify step builds that context; a kind never
imports the verify step (it sits above the kinds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Check:
    """One check run on the project: a row of `verification.json`'s `checks`."""

    kind: str
    command: str
    ok: bool | None
    """True passed, False failed, None skipped or inconclusive."""
    output: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    """What this kind of check adds (an entry point's `found`, a refused `requirement`)."""
    modules: list[str] | None = None
    """The modules its failure went to (set once it failed)."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "command": self.command,
            "ok": self.ok,
            "output": self.output,
            "seconds": self.seconds,
            **self.extra,
        }
        if self.modules is not None:
            out["modules"] = self.modules
        return out


@dataclass
class Failure:
    """One failure as it concerns one module: the evidence its fix round is given."""

    module: str
    command: str
    evidence: str
    kind: str | None = None
    """The check's kind; None for what is known without running (a reference, a static check)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"module": self.module}
        if self.kind is not None:
            out["kind"] = self.kind
        return {**out, "command": self.command, "evidence": self.evidence}


@dataclass
class ScenarioOutcome:
    """What running one acceptance scenario showed, before the verdict judges it."""

    problems: list[str]
    """Why it failed (empty: it passed)."""
    log: str
    """What it ran and printed."""
    seconds: float = 0.0
    lacks: bool = False
    """The project lacks what the scenario asks for (a program, a page, an element)."""
    commands: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    inconclusive: str = ""
    """Why a pass proves nothing (then it never makes the verdict true)."""
    modules: list[str] | None = None
    """Who its failure goes to; None: the verify step decides from its output."""
    skipped: bool = False
    """It could not be run at all (`log` says why)."""


class CommandOutcome(Protocol):
    """What one command run in the sandbox did."""

    returncode: int | None
    output: str
    duration: float
    killed: str

    @property
    def ok(self) -> bool: ...


class CheckContext(Protocol):
    """What a kind's checks are given: the project (`files`, `owners`: path -> text, path ->
    module), the paths whose checks run (`only`, None: all), the sandbox's settings, and the
    means to run a command on a fresh copy of the project and to record checks and failures."""

    files: dict[str, str]
    owners: dict[str, str]
    only: set[str] | None
    scenarios: list[dict[str, Any]]
    """The acceptance scenarios given to `run_scenarios` (those of the kind's `scenario_kinds`)."""
    env: dict[str, str]
    """Environment the project's commands run with (a kind may add to it: `PYTHONPATH`)."""
    readable: list[str]
    """Host folders the sandbox binds read-only (installed requirements)."""
    deps_root: Path
    """Where requirements are installed, one folder each, reused across rounds."""
    allow_install: list[str]
    """Requirement names the user allowed besides the well-known ones."""
    module_ids: list[str]
    """The plan's module ids (never installed as requirements)."""

    @property
    def root(self) -> Path:
        """The project's copy in the throwaway folder (written anew by `fresh_copy` and `run`)."""
        ...

    @property
    def timeout(self) -> float:
        """The sandbox's limit for one command, in seconds."""
        ...

    def fresh_copy(self) -> Path:
        """The project written anew (a check never sees what an earlier one left behind)."""
        ...

    def run(self, kind: str, argv: list[str], display: str, *, timeout: float | None = None) -> CommandOutcome:
        """`argv` run in the sandbox on a fresh copy, the copy as the working directory."""
        ...

    def record(self, kind: str, command: str, ok: bool | None, output: str, seconds: float, **extra: Any) -> Check:
        """A finished check (its output trimmed), announced as it is recorded."""
        ...

    def fail(self, kind: str, command: str, text: str, default: str | None) -> list[str]:
        """The modules a failure's output points into (else `default`), each given it as evidence."""
        ...

    def failure(self, module: str, kind: str, command: str, evidence: str) -> None:
        """One module's failure with its evidence (trimmed), when the kind knows the module."""
        ...

    def note(self, text: str) -> None:
        """A line for the verdict's notes."""
        ...

    def emit(self, event: str, **data: Any) -> None:
        """A progress event (`check_started`, ...)."""
        ...


class Kind:
    """One kind of module output. Subclasses set `name`, `description` and `suffixes` (or
    override `matches`), and override what they know more of."""

    name: str = ""
    description: str = ""
    suffixes: tuple[str, ...] = ()
    guide: str = ""
    """Guidance added to the prompt of a module of this kind."""
    scenario_kinds: tuple[str, ...] = ()
    """The kinds of acceptance scenario this kind runs (`run_scenarios`): `("page",)`."""

    def matches(self, path: str) -> bool:
        """Whether this file is one of this kind's."""
        return bool(self.suffixes) and path.lower().endswith(self.suffixes)

    def validate(self, path: str, text: str) -> list[str]:
        """The problems of one file (empty when valid). Nothing is executed."""
        return []

    def interface(self, path: str, text: str) -> dict[str, Any] | str | None:
        """What the file offers other modules (a dict of the built-in shapes, or a short text);
        None when the file does not parse."""
        return {"path": path, "kind": self.name}

    def generate(self, project_name: str, files: list[Any]) -> dict[str, str]:
        """Files the assembler adds for this kind (path -> text); paths a module wrote win."""
        return {}

    def commands(self, paths: list[str]) -> list[list[str]]:
        """Commands that run this kind's files (argv lists, run in the sandbox in a copy of the
        project, the project folder as the working directory); a non-zero exit is a failure of
        the module that owns the file the output points into."""
        return []

    def check(self, paths: list[str], ctx: CheckContext) -> None:
        """Run this kind's own checks of its files (`paths`; the whole project is `ctx.files`),
        recording each through `ctx`. Runs before `commands`; the default checks nothing."""
        return None

    def run_scenarios(self, ctx: CheckContext) -> list[ScenarioOutcome]:
        """Run the acceptance scenarios in `ctx.scenarios` (of this kind's `scenario_kinds`), one
        outcome each, in their order."""
        return []
