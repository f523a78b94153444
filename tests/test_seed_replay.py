"""Issue 32: the seed's recorded Mistral-7B snake game run (tests/seed_sample_1.py), replayed.

Its plan declares no files; game_logic's reply is design notes with no code block and publishes
none of the keys it declared. In the seed every module was generated; before issue 32 game_logic
"ended without files (after 2 repairs)" and blocked game_visuals and game_controller, and
`resume` did not build them either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_architect, is_assembler, module_id_of
from seed_sample_1 import ARCHITECT_REPLY, MODULE_REPLIES, MODULES, TASK

from matrioska import MatrioskaOrchestrator
from matrioska.nodes import routing


def replay() -> ScriptedChatModel:
    """The recorded model: each prompt is answered with what it answered for that module (its
    repairs and its shared-state re-asks too: it never wrote anything else for it)."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return ARCHITECT_REPLY
        if is_assembler(messages):
            return "Open the page; the scores are saved by the database module."
        module_id = module_id_of(messages)
        assert module_id in MODULE_REPLIES, messages[-1].content
        return MODULE_REPLIES[module_id]

    return ScriptedChatModel(respond=respond)


def asked(scripted: ScriptedChatModel) -> list[str]:
    return [m for m in (module_id_of(c) for c in scripted.calls) if m]


def orchestrator(scripted: ScriptedChatModel, path: Path, parallel: int = 1) -> MatrioskaOrchestrator:
    return MatrioskaOrchestrator(scripted, path, max_parallel=parallel, max_repairs=2, verify=False)


def former_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routing as it was before issue 32: any completed module whose report counts no file
    blocks every module depending on it (what left the checkpoints `resume` now has to finish)."""

    def ended_without_files(state: Any, specs: Any, with_files: bool, module_id: str, readers: Any) -> str | None:
        report = (state.get("module_reports") or {}).get(module_id) or {}
        return routing._empty_reason(report) if report.get("file_count", 1) == 0 else None

    monkeypatch.setattr(routing, "_missing_part", ended_without_files)


@pytest.mark.parametrize("parallel", [1, 4], ids=["sequential", "waves"])
def test_the_seeds_recorded_run_generates_all_five_modules(tmp_path: Path, parallel: int) -> None:
    events: list[dict[str, Any]] = []
    recorded = replay()
    with orchestrator(recorded, tmp_path, parallel) as run:
        state = run.run(TASK, thread_id="snake", on_event=events.append)
    plan = state["architecture"]
    assert [m["id"] for m in plan["modules"]] == MODULES
    assert not any(m["files"] for m in plan["modules"])  # the seed's plans name no files
    # every module was asked and completed; nothing blocked
    assert set(asked(recorded)) == set(MODULES)
    assert sorted(state["completed"]) == sorted(MODULES)
    assert not state.get("blocked")
    assert [e for e in events if e["event"] == "module_blocked"] == []
    assert "blocked" not in state["verification"] and state["verification"]["works"] is None
    # game_logic is still asked for code (its repairs), and its notes are its artifact
    logic = state["module_reports"]["game_logic"]
    assert logic["file_count"] == 0 and len(logic["repairs"]) == 2
    assert logic["missing_keys"] == ["game_rules", "player_controls"]
    assert "PLAYER_CONTROLS:" in state["artifacts"]["game_logic"]
    # its readers were asked, told which keys its writer did not publish
    visuals = next(c for c in recorded.calls if module_id_of(c) == "game_visuals")
    assert "not published by their writers: game_rules, player_controls" in str(visuals[1].content)
    assert state["module_reports"]["game_visuals"]["file_count"] == 1
    # database_setup published neither key database_interaction reads, and game_controller (its
    # JavaScript is not fenced) wrote no file: in a plan without files, neither blocks anything
    assert state["module_reports"]["database_setup"]["missing_keys"] == ["db_schema", "db_connection"]
    assert state["module_reports"]["game_controller"]["file_count"] == 0
    assert state["module_reports"]["game_controller"]["missing_reads"] == [
        "game_rules",
        "player_controls",
        "save_score",
        "get_high_scores",
    ]

    # resume: a finished run with every module generated is returned as it is
    again = replay()
    with orchestrator(again, tmp_path, parallel) as run:
        resumed = run.resume("snake")
    assert again.calls == []
    assert sorted(resumed["completed"]) == sorted(MODULES) and not resumed.get("blocked")


@pytest.mark.parametrize("parallel", [1, 4], ids=["sequential", "waves"])
def test_resume_builds_the_modules_a_former_rule_blocked(
    tmp_path: Path, parallel: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run as the issue recorded it: game_logic blocks game_visuals and game_controller
    with monkeypatch.context() as patch:
        former_rule(patch)
        recorded = replay()
        with orchestrator(recorded, tmp_path, parallel) as run:
            state = run.run(TASK, thread_id="snake")
    reason = "depends on 'game_logic', which ended without files (after 2 repairs)"
    assert state["blocked"] == {"game_visuals": reason, "game_controller": reason}
    assert "game_visuals" not in asked(recorded) and "game_controller" not in asked(recorded)

    # resume under the rule of issue 32: game_logic is complete, its dependents are built
    events: list[dict[str, Any]] = []
    again = replay()
    with orchestrator(again, tmp_path, parallel) as run:
        state = run.resume("snake", on_event=events.append)
    # only the two never generated, in execution order (game_controller with its two repairs)
    assert asked(again) == ["game_visuals", *["game_controller"] * 3]
    assert sorted(state["completed"]) == sorted(MODULES)
    assert state["blocked"] == {}
    assert "blocked" not in state["verification"]
    retried = [e for e in events if e["event"] == "modules_retried"]
    assert retried == [{"event": "modules_retried", "modules": [], "blocked": ["game_visuals", "game_controller"]}]
    # the modules finished earlier are kept as they were
    assert state["module_reports"]["game_logic"]["file_count"] == 0
    assert "PLAYER_CONTROLS:" in state["artifacts"]["game_logic"]
