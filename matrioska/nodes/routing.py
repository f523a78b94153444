"""Routing: which module(s) run next, and when the loop over modules ends.

Sequential (the default): one module per graph step, in execution order. With
`Context.max_parallel > 1`: every module whose dependencies are finished runs in the same wave
(LangGraph `Send` fan-out, at most `max_parallel` at once), and the `join` node routes once per
wave. The loop is bounded by data (it ends when every module is completed or blocked), never
by the recursion limit.

A module that completed without files (after its repairs: they run inside its executor call)
blocks every module that depends on it, directly or not: those are not generated (each would
only guess the names it should use), the run goes on to assemble and verify what exists, and
the verdict names the empty module. `blocked_modules` derives this from the state, so it clears
itself once the empty module is generated again with files (`resume`).
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


def empty_modules(state: MatrioskaState) -> list[str]:
    """Completed modules whose final report counts no file, in execution order."""
    done = set(state.get("completed") or [])
    reports = state.get("module_reports") or {}
    return [
        m for m in state.get("execution_order") or [] if m in done and (reports.get(m) or {}).get("file_count", 1) == 0
    ]


def blocked_modules(state: MatrioskaState) -> dict[str, str]:
    """Modules not generated because a module they depend on (directly or through others)
    completed without files: module id -> the reason, in execution order."""
    empty = empty_modules(state)
    if not empty:
        return {}
    done = set(state.get("completed") or [])
    reports = state.get("module_reports") or {}
    deps = module_dependencies(state)
    causes = {m: _empty_reason(reports.get(m) or {}) for m in empty}
    blocked: dict[str, str] = {}
    root: dict[str, str] = {}  # blocked module -> the empty module behind it
    for module_id in state.get("execution_order") or []:  # dependencies come first
        if module_id in done:
            continue
        for dep in deps.get(module_id, []):
            if dep in causes:
                blocked[module_id] = f"depends on {dep!r}, which {causes[dep]}"
            elif dep in blocked:
                blocked[module_id] = f"depends on {dep!r}, which is blocked: {root[dep]!r} {causes[root[dep]]}"
            else:
                continue
            root[module_id] = dep if dep in causes else root[dep]
            break
    return blocked


def blocking_modules(state: MatrioskaState) -> list[str]:
    """The empty modules that block at least one other module, in execution order."""
    blocked = blocked_modules(state)
    deps = module_dependencies(state)
    return [m for m in empty_modules(state) if any(m in deps.get(b, []) for b in blocked)]


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
