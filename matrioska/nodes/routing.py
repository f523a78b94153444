"""Routing: which module(s) run next, and when the loop over modules ends.

Sequential (the default): one module per graph step, in execution order. With
`Context.max_parallel > 1`: every module whose dependencies are finished runs in the same wave
(LangGraph `Send` fan-out, at most `max_parallel` at once), and the `join` node routes once per
wave. The loop is bounded by data (it ends when every module is completed or blocked), never
by the recursion limit.

A completed module blocks the modules that depend on it, directly or not, only when a part it
declared is missing (`_missing_part`): it declared files and delivered none (after its repairs:
they run inside its executor call), or it declared shared_state keys that a dependent reads and
published none of them (published: present and non-empty in the shared state). A module that
declared no files and published its keys is complete; in a plan where no module declares files
(the seed's plans), a module that delivered its text artifact (any non-empty reply, notes
included) is complete too. The blocked modules are not generated (each would only guess the
names it should use), the run goes on to assemble and verify what exists, and the verdict names
the module behind them. `blocked_modules` derives this from the state, so it clears itself once
that module is generated again with what it lacked (`resume`).
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Send

from ..state import MatrioskaState


def next_pending(state: MatrioskaState) -> str | None:
    """The first module in execution order that has neither completed nor is blocked, or None."""
    done = set(state.get("completed") or [])
    blocked = blocked_modules(state)
    for module_id in state.get("execution_order") or []:
        if module_id not in done and module_id not in blocked:
            return module_id
    return None


def pending_count(state: MatrioskaState) -> int:
    """How many modules are left to run (blocked ones are not)."""
    done = set(state.get("completed") or [])
    blocked = blocked_modules(state)
    return sum(1 for m in state.get("execution_order") or [] if m not in done and m not in blocked)


def plan_declares_files(state: MatrioskaState) -> bool:
    """Whether any module of the plan declares files (the seed's plans declare none)."""
    return _index(state).with_files


def _specs(state: MatrioskaState) -> dict[str, dict[str, Any]]:
    return _index(state).specs


class _PlanIndex:
    """What routing derives from a plan alone, built once per plan (the state's architecture is
    the same object from step to step): each step asks for it three times, and rebuilding it
    cost time growing with the plan at every module."""

    def __init__(self, architecture: dict[str, Any]) -> None:
        self.architecture = architecture  # held, so the identity checked below is never reused
        modules = architecture.get("modules") or []
        self.specs: dict[str, dict[str, Any]] = {m["id"]: m for m in modules}
        self.with_files = any(m.get("files") for m in modules)
        self.dependents: dict[str, list[str]] = {}
        for module_id, spec in self.specs.items():
            for dep in _deps(spec):
                self.dependents.setdefault(dep, []).append(module_id)
        # module id -> (what its part depends on in the state, what it lacks): looked at again
        # only when one of those changed
        self.lacks: dict[str, tuple[tuple[Any, ...], str | None]] = {}

    def writes(self, module_id: str) -> list[str]:
        return (self.specs.get(module_id) or {}).get("shared_state_writes") or []


_INDEX: list[_PlanIndex] = []


def _index(state: MatrioskaState) -> _PlanIndex:
    architecture = state.get("architecture") or {}
    found = _INDEX[0] if _INDEX else None
    if found is None or found.architecture is not architecture:
        found = _PlanIndex(architecture)
        _INDEX[:] = [found]
    return found


def _deps(spec: dict[str, Any]) -> list[str]:
    return list(spec.get("dependencies") or [])


def _unpublished(value: Any) -> bool:
    return value in (None, "", [], {})


def _missing_part(
    state: MatrioskaState, specs: dict[str, dict[str, Any]], with_files: bool, module_id: str, readers: list[str]
) -> str | None:
    """What the completed `module_id` lacks that blocks one of `readers` (modules depending on
    it), or None when it blocks none of them: it declared files and delivered none, or it
    declared keys that the reader reads and published none of them. In a plan where no module
    declares files (`with_files` false), a module that delivered a non-empty artifact blocks
    nobody: its artifact is what it delivers, notes included (the seed's plans)."""
    spec = specs.get(module_id) or {}
    report = (state.get("module_reports") or {}).get(module_id) or {}
    if spec.get("files") and report.get("file_count", 1) == 0:
        return _empty_reason(report)
    if not with_files and str((state.get("artifacts") or {}).get(module_id) or "").strip():
        return None
    shared = state.get("shared_state") or {}
    for reader in readers:
        reads = set((specs.get(reader) or {}).get("shared_state_reads") or [])
        keys = [k for k in spec.get("shared_state_writes") or [] if k in reads]
        if keys and all(_unpublished(shared.get(k)) for k in keys):
            return f"published none of the keys {reader!r} reads ({', '.join(keys)})"
    return None


def _lacking(state: MatrioskaState) -> list[str]:
    """Completed modules lacking a part that some module depending on them needs (or files they
    declared), in execution order: the only modules that can block a dependent."""
    index = _index(state)
    done = set(state.get("completed") or [])
    reports = state.get("module_reports") or {}
    artifacts = state.get("artifacts") or {}
    shared = state.get("shared_state") or {}
    lacking = []
    for m in state.get("execution_order") or []:
        if m not in done:
            continue
        report = reports.get(m) or {}
        # everything `_missing_part` reads of the state (the rest is the plan's)
        key = (
            report.get("file_count", 1),
            len(report.get("repairs") or []),
            artifacts.get(m),  # text: the same object is the same text, compared by identity first
            *[_unpublished(shared.get(k)) for k in index.writes(m)],
        )
        known = index.lacks.get(m)
        if known is not None and known[0] == key:
            cause = known[1]
        else:
            cause = _missing_part(state, index.specs, index.with_files, m, index.dependents.get(m, []))
            index.lacks[m] = (key, cause)
        if cause is not None:
            lacking.append(m)
    return lacking


def empty_modules(state: MatrioskaState) -> list[str]:
    """Completed modules lacking a part they declared that a module depending on them needs
    (`_missing_part`), in execution order: those that block, or would block, their dependents."""
    return _lacking(state)


def blocked_modules(state: MatrioskaState) -> dict[str, str]:
    """Modules not generated because a module they depend on (directly or through others) lacks
    a part it declared (`_missing_part`): module id -> the reason, in execution order."""
    specs = _specs(state)
    with_files = plan_declares_files(state)
    suspects = set(_lacking(state))
    if not suspects:  # the common case: nothing lacks a part
        return {}
    done = set(state.get("completed") or [])
    blocked: dict[str, str] = {}
    root: dict[str, str] = {}  # blocked module -> the module behind it, and what that one lacks
    for module_id in state.get("execution_order") or []:  # dependencies come first
        if module_id in done:
            continue
        for dep in _deps(specs.get(module_id) or {}):
            if dep in blocked:
                blocked[module_id] = f"depends on {dep!r}, which is blocked: {root[dep]}"
                root[module_id] = root[dep]
                break
            cause = _missing_part(state, specs, with_files, dep, [module_id]) if dep in suspects else None
            if cause:
                blocked[module_id] = f"depends on {dep!r}, which {cause}"
                root[module_id] = f"{dep!r} {cause}"
                break
    return blocked


def blocking_modules(state: MatrioskaState) -> list[str]:
    """The completed modules that block at least one other module, in execution order."""
    return list(block_causes(state))


def block_causes(state: MatrioskaState) -> dict[str, str]:
    """The completed modules that block at least one other module (in execution order) -> what
    each one lacks: "ended without files (after 2 repairs)", or "published none of the keys
    'reader' reads (colors)"."""
    blocked = blocked_modules(state)
    if not blocked:
        return {}
    specs = _specs(state)
    with_files = plan_declares_files(state)
    done = set(state.get("completed") or [])
    causes: dict[str, str] = {}
    for m in state.get("execution_order") or []:
        readers = [b for b in blocked if m in _deps(specs.get(b) or {})]
        cause = _missing_part(state, specs, with_files, m, readers) if m in done and readers else None
        if cause:
            causes[m] = cause
    return causes


def _empty_reason(report: dict[str, Any]) -> str:
    repairs = len(report.get("repairs") or [])
    return f"ended without files (after {repairs} repair{'' if repairs == 1 else 's'})"


def module_dependencies(state: MatrioskaState) -> dict[str, list[str]]:
    """Module id -> the ids it depends on, from the plan."""
    modules = (state.get("architecture") or {}).get("modules") or []
    return {m["id"]: list(m.get("dependencies") or []) for m in modules}


def ready_modules(state: MatrioskaState, done: set[str] | None = None) -> list[str]:
    """Modules not yet completed nor blocked whose dependencies all are, in execution order."""
    done = set(state.get("completed") or []) if done is None else done
    deps = module_dependencies(state)
    blocked = blocked_modules(state)
    return [
        mid
        for mid in state.get("execution_order") or []
        if mid not in done and mid not in blocked and all(dep in done for dep in deps.get(mid, []))
    ]


def remaining_waves(state: MatrioskaState, max_parallel: int) -> int:
    """How many waves the modules left need, at most `max_parallel` modules a wave (the blocked
    ones need none)."""
    done = set(state.get("completed") or [])
    waves = 0
    while True:
        wave = ready_modules(state, done)[: max(1, max_parallel)]
        if not wave:
            return waves
        done.update(wave)
        waves += 1


def max_parallel_of(runtime: Any) -> int:
    context = getattr(runtime, "context", None)
    return max(1, int(getattr(context, "max_parallel", 1) or 1))


def route_modules(state: MatrioskaState, runtime: Any) -> str | list[Send]:
    """After the architect, a module (sequential) or a wave (`join`): what runs next."""
    if next_pending(state) is None:
        return "assembler"
    width = max_parallel_of(runtime)
    if width == 1:
        return "executor"
    wave = ready_modules(state)[:width]
    # Each branch gets the whole state plus the module it runs; the wave's results merge
    # through the state's reducers when every branch has finished.
    return [Send("executor", {**state, "wave_module": module_id}) for module_id in wave]


def route_after_module(state: MatrioskaState, runtime: Any) -> str | list[Send]:
    """After one module: the next one (sequential), or the wave's join (parallel); in a fix
    round, the next module queued for it (one at a time), then the assembler."""
    if state.get("fix_queue"):
        return "executor"
    if max_parallel_of(runtime) > 1:
        return "join"
    return route_modules(state, runtime)


def join(state: MatrioskaState) -> dict[str, Any]:
    """The end of a wave: runs once when all of its modules have finished."""
    return {}
