"""A module that ends without files blocks its dependents; `resume` generates it again, then them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of, module_reply

from matrioska import MatrioskaOrchestrator
from matrioska.cli import ProgressPrinter
from matrioska.nodes.routing import blocked_modules, next_pending, pending_count, ready_modules, remaining_waves

# extract -> transform -> load -> report, and tests on load; `side` depends on nothing.
PLAN = {
    "project_name": "Data report",
    "goal": "a data report",
    "modules": [
        {"id": "extract", "dependencies": [], "shared_state_writes": []},
        {"id": "side", "dependencies": [], "shared_state_writes": []},
        {"id": "transform", "dependencies": ["extract"], "shared_state_writes": []},
        {"id": "load", "dependencies": ["transform"], "shared_state_writes": []},
        {"id": "report", "dependencies": ["load"], "shared_state_writes": []},
        {"id": "tests", "dependencies": ["transform", "side"], "shared_state_writes": []},
    ],
}
BLOCKED = ["load", "tests", "report"]  # in execution order


def model(empty: set[str]) -> ScriptedChatModel:
    """Every module answers with one file, except those in `empty`: prose, on every attempt."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module_id = module_id_of(messages)
        assert module_id is not None
        if module_id in empty:
            return "I am not sure what to write here."
        return module_reply(module_id, {})

    return ScriptedChatModel(respond=respond)


def asked(scripted: ScriptedChatModel) -> list[str]:
    return [m for m in (module_id_of(c) for c in scripted.calls) if m]


def orchestrator(scripted: ScriptedChatModel, path: Path, parallel: int) -> MatrioskaOrchestrator:
    return MatrioskaOrchestrator(scripted, path, max_parallel=parallel, max_repairs=2, verify=False)


@pytest.mark.parametrize("parallel", [1, 4], ids=["sequential", "waves"])
def test_a_module_with_no_files_blocks_its_dependents_and_resume_continues(tmp_path: Path, parallel: int) -> None:
    events: list[dict[str, Any]] = []
    bad = model({"transform"})
    with orchestrator(bad, tmp_path, parallel) as run:
        state = run.run("report", thread_id="t", architecture=PLAN, on_event=events.append)
    # transform was asked three times (two repairs); its dependents never were
    assert asked(bad).count("transform") == 3
    assert sorted(set(asked(bad))) == ["extract", "side", "transform"]
    assert sorted(state["completed"]) == ["extract", "side", "transform"]
    assert state["module_reports"]["transform"]["file_count"] == 0
    assert state["blocked"] == {
        "load": "depends on 'transform', which ended without files (after 2 repairs)",
        "report": "depends on 'load', which is blocked: 'transform' ended without files (after 2 repairs)",
        "tests": "depends on 'transform', which ended without files (after 2 repairs)",
    }
    blocked_events = [e for e in events if e["event"] == "module_blocked"]
    assert [e["module"] for e in blocked_events] == BLOCKED
    # the verdict names the empty module and the blocked ones, even with verification off
    verdict = state["verification"]
    assert verdict["works"] is False
    assert verdict["reason"] == "module 'transform' wrote no files; blocked (not generated): load, tests, report"
    assert {"module": "transform", "command": "generation", "evidence": "module 'transform' wrote no files"} in (
        verdict["failures"]
    )
    assert "Not generated: module 'transform' wrote no files" in state["final_result"]
    assert "(not generated: depends on 'transform'" in state["final_result"]

    # resume with a model that now writes transform: it, then the modules it blocked
    good = model(set())
    events.clear()
    with orchestrator(good, tmp_path, parallel) as run:
        state = run.resume("t", on_event=events.append)
    assert asked(good)[0] == "transform" and sorted(asked(good)) == sorted(["transform", *BLOCKED])
    assert sorted(state["completed"]) == sorted(m["id"] for m in PLAN["modules"])
    assert state["blocked"] == {}
    assert state["module_reports"]["transform"]["file_count"] == 1
    assert state["verification"]["works"] is None  # not verified (verify=False), no longer blocked
    assert "transform" not in str(state["verification"].get("reason"))
    retried = [e for e in events if e["event"] == "modules_retried"]
    assert retried == [{"event": "modules_retried", "modules": ["transform"], "blocked": BLOCKED}]

    # a finished run with nothing blocked: resume returns it as it is
    again = model(set())
    with orchestrator(again, tmp_path, parallel) as run:
        assert run.resume("t")["completed"] == state["completed"]
    assert again.calls == []


def test_resume_with_the_same_model_blocks_again(tmp_path: Path) -> None:
    bad = model({"transform"})
    with orchestrator(bad, tmp_path, 1) as run:
        run.run("report", thread_id="t", architecture=PLAN)
        bad.calls.clear()
        state = run.resume("t")
    assert asked(bad) == ["transform"] * 3
    assert list(state["blocked"]) == BLOCKED
    assert state["verification"]["works"] is False


def test_routing_skips_blocked_modules_and_counts_no_step_for_them() -> None:
    order = [m["id"] for m in PLAN["modules"]]
    state: Any = {
        "architecture": PLAN,
        "execution_order": order,
        "completed": ["extract", "side", "transform"],
        "module_reports": {"transform": {"file_count": 0, "repairs": [{}]}},
    }
    assert sorted(blocked_modules(state)) == sorted(BLOCKED)
    assert blocked_modules(state)["load"] == "depends on 'transform', which ended without files (after 1 repair)"
    assert next_pending(state) is None and pending_count(state) == 0
    assert ready_modules(state) == [] and remaining_waves(state, 4) == 0
    state["module_reports"]["transform"]["file_count"] = 2
    assert blocked_modules(state) == {} and next_pending(state) == "load"
    assert pending_count(state) == 3 and remaining_waves(state, 4) == 2


def test_the_cli_prints_blocked_modules_and_the_retry() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, lambda thread: "", live=False)
    printer({"event": "module_blocked", "module": "load", "reason": "depends on 'transform', which ended"})
    printer({"event": "modules_retried", "modules": ["transform"], "blocked": ["load", "report"]})
    text = out.getvalue()
    assert "load: not generated — depends on 'transform', which ended" in text
    assert "generating 'transform' again" in text and "load, report" in text
