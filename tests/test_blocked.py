"""A module that lacks a part it declared (its files, or every key a dependent reads from it)
blocks its dependents; `resume` generates it again, then them. A module whose plan declares no
files and that delivered its reply (notes included), or that declared no files and published its
keys, blocks nobody (issue 32)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of, module_reply, shared_context_of

from matrioska import MatrioskaOrchestrator
from matrioska.cli.progress import ProgressPrinter
from matrioska.nodes.routing import (
    block_causes,
    blocked_modules,
    empty_modules,
    next_pending,
    pending_count,
    ready_modules,
    remaining_waves,
)
from matrioska.plan.parsing import UPDATE_MARKER

# extract -> transform -> load -> report, and tests on load; `side` depends on nothing. Every
# module declares the one file `module_reply` writes: a module that declared files and delivered
# none blocks its dependents.
PLAN = {
    "project_name": "Data report",
    "goal": "a data report",
    "modules": [
        {"id": m, "dependencies": deps, "shared_state_writes": [], "files": [f"index_{m}.txt"]}
        for m, deps in [
            ("extract", []),
            ("side", []),
            ("transform", ["extract"]),
            ("load", ["transform"]),
            ("report", ["load"]),
            ("tests", ["transform", "side"]),
        ]
    ],
}
BLOCKED = ["load", "tests", "report"]  # in execution order


def model(empty: set[str]) -> ScriptedChatModel:
    """Every module answers with one file, except those in `empty`: prose and a block that fits
    none of its declared files (dropped), on every attempt: no file."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module_id = module_id_of(messages)
        assert module_id is not None
        if module_id in empty:
            return "I am not sure what to write here.\n```python\nprint('hello')\n```"
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
    assert verdict["reason"] == (
        "'transform' ended without files (after 2 repairs); blocked (not generated): load, tests, report"
    )
    assert {
        "module": "transform",
        "command": "generation",
        "evidence": "module 'transform' ended without files (after 2 repairs)",
    } in (verdict["failures"])
    assert "Not generated: 'transform' ended without files (after 2 repairs)" in state["final_result"]
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


def test_routing_remembers_each_module_until_what_it_depends_on_changes() -> None:
    """Routing keeps what it found per module (a step asks two or three times, and a plan of
    200 modules made every step scan them all), yet answers from the state as it is: a key
    published, a report changed in place, another plan."""
    plan = keys_plan(["page.txt"])
    state: Any = {
        "architecture": plan,
        "execution_order": ["palette", "page"],
        "completed": ["palette"],
        "module_reports": {"palette": {"file_count": 0}},
        "shared_state": {"colors": {}},
    }
    assert empty_modules(state) == ["palette"] and next_pending(state) is None
    state["shared_state"] = {"colors": COLORS}
    assert empty_modules(state) == [] and next_pending(state) == "page"
    state["shared_state"]["colors"] = []  # changed in place: looked at again all the same
    assert empty_modules(state) == ["palette"]
    other = {**keys_plan(["page.txt"]), "modules": [{"id": "palette", "dependencies": []}, {"id": "page"}]}
    assert empty_modules({**state, "architecture": other}) == []  # nobody reads its key there
    assert empty_modules(state) == ["palette"]


def keys_plan(page_files: list[str]) -> dict[str, Any]:
    """`palette` declares a key and no files; `page` reads the key (and declares `page_files`)."""
    return {
        "project_name": "Themed page",
        "goal": "a themed page",
        "modules": [
            {"id": "palette", "dependencies": [], "shared_state_writes": ["colors"]},
            {"id": "page", "dependencies": ["palette"], "shared_state_reads": ["colors"], "files": page_files},
        ],
    }


COLORS = {"primary": "#336699", "accent": "#ffd700"}


def keys_model(palette_reply: str) -> ScriptedChatModel:
    """`palette` answers `palette_reply` (its re-asks too); `page` one file using what it read."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module_id = module_id_of(messages)
        if module_id == "palette":
            return palette_reply
        assert module_id == "page"
        return module_reply("page", {}, uses=shared_context_of(messages))

    return ScriptedChatModel(respond=respond)


@pytest.mark.parametrize("page_files", [["index_page.txt"], []], ids=["plan-with-files", "plan-without-files"])
def test_a_producer_of_keys_without_files_blocks_nobody_and_its_reader_is_asked(
    tmp_path: Path, page_files: list[str]
) -> None:
    scripted = keys_model(f"{UPDATE_MARKER} {json.dumps({'colors': COLORS})}")
    with orchestrator(scripted, tmp_path, 1) as run:
        state = run.run("page", thread_id="t", architecture=keys_plan(page_files))
    assert state["module_reports"]["palette"]["file_count"] == 0
    assert state["shared_state"]["colors"] == COLORS
    # the reader was asked, with the value its producer published
    page = [c for c in scripted.calls if module_id_of(c) == "page"]
    assert page and "#336699" in shared_context_of(page[0])
    assert sorted(state["completed"]) == ["page", "palette"]
    assert state["blocked"] == {}
    assert "blocked" not in state["verification"]


def test_a_producer_that_published_none_of_the_keys_its_reader_reads_blocks_it(tmp_path: Path) -> None:
    bad = keys_model("The palette is up to you.")  # no file, no key: not on re-asks either
    plan = keys_plan(["index_page.txt"])
    with orchestrator(bad, tmp_path, 1) as run:
        state = run.run("page", thread_id="t", architecture=plan)
    assert "page" not in asked(bad)
    reason = "depends on 'palette', which published none of the keys 'page' reads (colors)"
    assert state["blocked"] == {"page": reason}
    assert block_causes(state) == {"palette": "published none of the keys 'page' reads (colors)"}
    assert state["verification"]["works"] is False and state["verification"]["blocked"] == {"page": reason}

    # resume with a model that publishes it: palette again, then page
    good = keys_model(f"{UPDATE_MARKER} {json.dumps({'colors': COLORS})}")
    with orchestrator(good, tmp_path, 1) as run:
        state = run.resume("t")
    assert list(dict.fromkeys(asked(good))) == ["palette", "page"]
    assert sorted(state["completed"]) == ["page", "palette"] and state["blocked"] == {}


def test_the_cli_prints_blocked_modules_and_the_retry() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, lambda thread: "", live=False)
    printer({"event": "module_blocked", "module": "load", "reason": "depends on 'transform', which ended"})
    printer({"event": "modules_retried", "modules": ["transform"], "blocked": ["load", "report"]})
    text = out.getvalue()
    assert "load: not generated — depends on 'transform', which ended" in text
    assert "generating 'transform' again" in text and "load, report" in text
