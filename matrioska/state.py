"""The plan's data model and the graph's typed state.

`ModuleSpec` and `Architecture` are the pydantic models of the architect's plan (the seed's
fields plus a per-module manual). `MatrioskaState` is the TypedDict that flows through the
graph: the task, the plan, the shared whiteboard (`shared_state`), the artifacts and what the
module loop needs. Every value in the state is plain JSON data (the plan is stored dumped), so a
checkpoint round trip returns exactly what went in, whatever serializer the checkpointer uses.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict

__all__ = [
    "ModuleSpec",
    "Architecture",
    "MatrioskaInput",
    "MatrioskaState",
    "merge_dicts",
    "sum_usage",
    "append_unique",
]


def _as_text(value: Any) -> Any:
    """Coerce the type slips 7B models make where a string was asked (lists, numbers)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(_as_text(v)) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    if isinstance(value, (int, float, bool)):
        return str(value)
    return value


def _as_list(value: Any) -> Any:
    """Coerce a string (comma separated) or a single value where a list of names was asked."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, dict):
        return list(value.keys())
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


# ModuleSpec fields that accept the type slips above; parsing reports each slip it sees.
MODULE_TEXT_FIELDS = ("name", "description", "inputs", "outputs", "rules", "kind", "manual")
MODULE_LIST_FIELDS = ("dependencies", "shared_state_reads", "shared_state_writes", "files")


class ModuleSpec(BaseModel):
    """One specialised module of the plan; it runs in hyperfocus on exactly this spec."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    """Unique identifier, referenced by other modules' `dependencies`."""
    name: str = ""
    """Descriptive name shown in progress output."""
    description: str = ""
    """What the module does."""
    inputs: str = ""
    """What it needs from earlier modules, in words."""
    outputs: str = ""
    """What it must produce."""
    dependencies: list[str] = Field(default_factory=list)
    """Ids of the modules that must finish before this one starts."""
    rules: str = ""
    """Module-specific rules."""
    shared_state_reads: list[str] = Field(default_factory=list)
    """Shared-state keys this module sees (and the only ones)."""
    shared_state_writes: list[str] = Field(default_factory=list)
    """Shared-state keys this module must publish; any other key it writes is dropped."""
    kind: str = ""
    """The kind of output it writes (`matrioska kinds`: python, tests, html, ...); inferred from
    its files when absent or unknown."""
    files: list[str] = Field(default_factory=list)
    """The project files this module owns (relative paths); no two modules own the same file."""
    manual: str = ""
    """The architect's specific manual (instructions) for this module."""

    @field_validator(*MODULE_TEXT_FIELDS, mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _as_text(value)

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return str(value).strip() if isinstance(value, (str, int)) else value

    @field_validator(*MODULE_LIST_FIELDS, mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _as_list(value)

    @property
    def label(self) -> str:
        """The name if there is one, else the id."""
        return self.name or self.id


class Architecture(BaseModel):
    """The architect's plan: objective, modules and the rules that tie them together."""

    model_config = ConfigDict(extra="ignore")

    project_name: str = "Untitled project"
    """Name of the generated project."""
    goal: str = ""
    """The overall objective, shown to every module."""
    modules: list[ModuleSpec] = Field(min_length=1)
    """The modules, in the architect's order."""
    integration_rules: str = ""
    """How the modules fit together; used by the assembler."""

    @field_validator("project_name", "goal", "integration_rules", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _as_text(value)

    def module(self, module_id: str) -> ModuleSpec:
        """The module with this id (KeyError if there is none)."""
        for spec in self.modules:
            if spec.id == module_id:
                return spec
        raise KeyError(module_id)


def sum_usage(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for `usage`: two per-step ledgers summed step by step."""
    out = {name: dict(row) for name, row in (left or {}).items()}
    for name, row in (right or {}).items():
        mine = out.setdefault(name, {})
        for key, value in (row or {}).items():
            mine[key] = round(mine.get(key, 0) + value, 3)
    return out


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: later writes win key by key; None leaves the channel unchanged."""
    if not right:
        return dict(left or {})
    return {**(left or {}), **right}


def append_unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    """Reducer: append items not already present, keeping order (idempotent on replays)."""
    out = list(left or [])
    for item in right or []:
        if item not in out:
            out.append(item)
    return out


class MatrioskaInput(TypedDict, total=False):
    """What a run starts from."""

    task: str
    """The user's request, in natural language."""
    architecture: dict[str, Any] | None
    """Optional ready-made plan (an `Architecture` as JSON); the architect then only validates it."""
    acceptance: list[dict[str, Any]]
    """The user's acceptance scenarios (`matrioska.plan.acceptance` format); they replace the ones the
    model would write, unless `acceptance_mode` is "extra"."""
    acceptance_mode: str
    """"replace" (the default: the user's scenarios only) or "extra" (the model's beside them)."""
    given_contract: dict[str, dict[str, Any]]
    """The user's contract (`matrioska.functions.contract.load_contract` format: module id -> its
    functions, commands, elements...); it replaces the one the model would decide."""


class MatrioskaState(TypedDict, total=False):
    """The state that flows through architect -> executor loop -> assembler."""

    task: str
    """The user's request, in natural language."""
    architecture: dict[str, Any] | None
    """The validated plan, `Architecture.model_dump(mode="json")`."""
    acceptance: list[dict[str, Any]]
    """The acceptance scenarios in force (the user's and / or the model's, each with its
    `source`): what the project must do when run; the verify node runs them."""
    acceptance_mode: str
    """"replace" or "extra": whether the model writes scenarios beside the user's."""
    given_contract: dict[str, dict[str, Any]]
    """The user's contract, as given (see `MatrioskaInput`)."""
    contract: dict[str, dict[str, Any]]
    """The project's contract, decided once after the plan: module id -> its public functions
    with examples, constants, commands, page element ids and events (`ModuleContract.to_dict()`);
    also on the whiteboard as `shared_state["contract.<module>"]`."""
    plan_report: list[str]
    """Repairs applied to the plan and warnings about it, one line each."""
    rejected_plans: list[dict[str, Any]]
    """Plans the architect proposed and that were rejected: attempt, error, the reply (trimmed)."""
    execution_order: list[str]
    """Module ids in dependency order; the executor loop walks this list."""
    completed: Annotated[list[str], append_unique]
    """Ids of modules whose artifact and shared-state update are stored."""
    shared_state: Annotated[dict[str, Any], merge_dicts]
    """The shared whiteboard: key -> JSON value, merged after every module."""
    shared_state_writers: Annotated[dict[str, str], merge_dicts]
    """Key -> id of the module that last wrote it."""
    artifacts: Annotated[dict[str, str], merge_dicts]
    """Module id -> the module's artifact text."""
    interfaces: Annotated[dict[str, dict[str, Any]], merge_dicts]
    """Module id -> the interface extracted from its files (`interfaces.module_interface`): what
    the modules that depend on it build against, and what their references are checked against."""
    module_reports: Annotated[dict[str, dict[str, Any]], merge_dicts]
    """Module id -> what happened: keys read, written, dropped, missing, characters."""
    usage: Annotated[dict[str, dict[str, float]], sum_usage]
    """Step (plan, contract, scenarios, function plans, candidates, modules, repairs, fix rounds,
    notes) -> the model's requests, output and input tokens and seconds in it (issue 42,
    `model.ledger`), summed over the run."""
    blocked: dict[str, str]
    """Module id -> why it was not generated: a module it depends on (directly or not) lacks a
    part it declared after its repairs, its files or every key it reads from it
    (`routing.blocked_modules`); recorded at assembly, cleared when `resume` generates that
    module again."""
    final_result: str
    """The integrated result written by the assembler."""
    integration_report: dict[str, Any]
    """The assembler's checks: key contracts, and the consistency report (one row per contract)."""
    generated_files: dict[str, str]
    """Files the assembler adds to the project: entry point, README, dependency manifests."""
    review: dict[str, Any]
    """The plan review's outcome: status approved / edited / replan requested (with --review)."""
    review_error: str | None
    """Why the last review answer was refused (the review stops again)."""
    review_comment: str
    """The reviewer's comment for a re-plan; the architect reads it."""
    wave_module: str
    """Only in a wave's `Send` payload: the module that branch runs (never stored)."""
    verification: dict[str, Any]
    """The verdict of running the project: `works` (true / false / null when nothing could run),
    `checks` ({kind, command, ok, output}), `rounds` (fix rounds used) and `failures` (per module)."""
    fix_queue: list[str]
    """Modules still to re-run in the current fix round, in execution order (empty otherwise)."""
    fix_evidence: dict[str, str]
    """Module id -> the runtime failure that points into its files, for its fix round."""
    fix_round: int
    """Fix rounds started so far (bounded by `Context.fix_rounds`)."""
    fix_seen: list[str]
    """Modules already re-run (or queued) in the current fix round: none runs twice in one."""
