"""Routing: which module(s) run next, and when the loop over modules ends.

Sequential (the default): one module per graph step, in execution order. With
`Context.max_parallel > 1`: every module whose dependencies are finished runs in the same wave
(LangGraph `Send` fan-out, at most `max_parallel` at once), and the `join` node routes once per
wave. The loop is bounded by data (it ends when every module is completed), never by the
recursion limit.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Send

from ..state import MatrioskaState


def next_pending(state: MatrioskaState) -> str | None:
    """The first module in execution order that has not completed, or None."""
    done = set(state.get("completed") or [])
    for module_id in state.get("execution_order") or []:
        if module_id not in done:
            return module_id
    return None


def pending_count(state: MatrioskaState) -> int:
    """How many modules are left to run."""
    done = set(state.get("completed") or [])
    return sum(1 for module_id in state.get("execution_order") or [] if module_id not in done)


def module_dependencies(state: MatrioskaState) -> dict[str, list[str]]:
    """Module id -> the ids it depends on, from the plan."""
    modules = (state.get("architecture") or {}).get("modules") or []
    return {m["id"]: list(m.get("dependencies") or []) for m in modules}


def ready_modules(state: MatrioskaState, done: set[str] | None = None) -> list[str]:
    """Modules not yet completed whose dependencies all are, in execution order."""
    done = set(state.get("completed") or []) if done is None else done
    deps = module_dependencies(state)
    return [
        mid
        for mid in state.get("execution_order") or []
        if mid not in done and all(dep in done for dep in deps.get(mid, []))
    ]


def remaining_waves(state: MatrioskaState, max_parallel: int) -> int:
    """How many waves the modules left need, at most `max_parallel` modules a wave."""
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
