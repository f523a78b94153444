"""The graph end to end with scripted models: files, hyperfocus, reports, resume, bad input."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from scripted import (
    MODULE_UPDATES,
    THREE_MODULE_PLAN,
    ScriptedChatModel,
    default_responder,
    flaky,
    is_architect,
    is_assembler,
    module_id_of,
    module_reply,
)

from matrioska import (
    EmptyTaskError,
    MatrioskaOrchestrator,
    OutputPathError,
    PlanError,
    RecursionBudgetError,
    RunFailedError,
    ThreadMismatchError,
)
from matrioska.context import Context
from matrioska.graph import build_graph

TASK = "Create a library management system with a dashboard"


def executor_calls(model: ScriptedChatModel) -> list[str]:
    return [mid for mid in (module_id_of(c) for c in model.calls) if mid]


def shared_context_of(messages: list[BaseMessage]) -> str:
    text = str(messages[-1].content)
    return text.split("SHARED CONTEXT (the shared_state keys you read):\n", 1)[1].split("\n\nKEYS YOU MUST PUBLISH", 1)[
        0
    ]


def test_three_module_plan_end_to_end_writes_every_file(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    events: list[dict] = []
    with MatrioskaOrchestrator(scripted, base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK, on_event=events.append)
    assert state["thread_id"]
    assert set(state["artifacts"]) == {"html", "css", "auth"}
    assert state["shared_state"] == {**MODULE_UPDATES["html"], **MODULE_UPDATES["css"], **MODULE_UPDATES["auth"]}
    assert state["architecture"]["project_name"] == "Library Management System"
    assert "## Shared-state contracts" in state["final_result"] and "code of auth" in state["final_result"]
    assert state["integration_report"]["broken"] == []
    # one architect call, one call per module in dependency order, one assembler call
    assert is_architect(scripted.calls[0]) and is_assembler(scripted.calls[-1])
    assert executor_calls(scripted) == ["html", "css", "auth"]

    artifacts = sorted(p.name for p in (tmp_path / "matrioska_artifacts").iterdir())
    assert artifacts == ["01_html.md", "02_css.md", "03_auth.md"]
    assert "code of css" in (tmp_path / "matrioska_artifacts" / "02_css.md").read_text()
    checkpoints = tmp_path / "matrioska_checkpoints"
    assert json.loads((checkpoints / "shared_state.json").read_text()) == state["shared_state"]
    assert json.loads((checkpoints / "architecture.json").read_text()) == state["architecture"]
    assert (checkpoints / "final_result.md").read_text() == state["final_result"]
    with zipfile.ZipFile(tmp_path / "matrioska_results.zip") as archive:
        names = set(archive.namelist())
    assert {
        "matrioska_artifacts/01_html.md",
        "matrioska_checkpoints/shared_state.json",
        "matrioska_checkpoints/architecture.json",
    } <= names
    assert "matrioska_checkpoints/checkpoints.sqlite" in names

    kinds = [e["event"] for e in events]
    assert kinds[:3] == ["run_started", "phase", "plan_ready"]
    assert kinds.count("module_started") == 3 and kinds.count("module_finished") == 3
    assert kinds[-1] == "run_finished"


def test_module_prompt_holds_exactly_its_declared_reads(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    with MatrioskaOrchestrator(scripted, base_path=tmp_path) as orchestrator:
        orchestrator.run(TASK)
    prompts = {module_id_of(c): c for c in scripted.calls if module_id_of(c)}
    plan_modules = {m["id"]: m for m in THREE_MODULE_PLAN["general_manual"]["modules"]}
    everything = {**MODULE_UPDATES["html"], **MODULE_UPDATES["css"], **MODULE_UPDATES["auth"]}
    for module_id, messages in prompts.items():
        context = shared_context_of(messages)
        shown = set(re.findall(r"^([A-Za-z_]+) = ", context, re.M))
        assert shown == set(plan_modules[module_id]["shared_state_reads"]), module_id
        full_prompt = "\n".join(str(m.content) for m in messages)
        for key in everything:
            if key not in shown:
                assert f"{key} = " not in full_prompt
        for other in prompts:  # hyperfocus: no other module's artifact, nor its manual
            if other != module_id:
                assert f"code of {other}" not in full_prompt
    assert "(none: this module reads no shared_state keys)" in shared_context_of(prompts["html"])
    assert '"#loginForm"' in shared_context_of(prompts["auth"])


def test_undeclared_key_is_dropped_and_reported(tmp_path: Path) -> None:
    base = default_responder()

    def respond(messages: list[BaseMessage]) -> str:
        if module_id_of(messages) == "css":
            return module_reply("css", {**MODULE_UPDATES["css"], "secret_key": "x", "element_ids": ["#hijack"]})
        return base(messages)

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK)
    assert "secret_key" not in state["shared_state"]
    assert state["shared_state"]["element_ids"] == MODULE_UPDATES["html"]["element_ids"]
    assert sorted(state["module_reports"]["css"]["dropped_keys"]) == ["element_ids", "secret_key"]
    report = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())
    assert sorted(report["module_reports"]["css"]["dropped_keys"]) == ["element_ids", "secret_key"]


def test_missing_declared_key_is_reported_and_contract_marked_broken(tmp_path: Path) -> None:
    base = default_responder()

    def respond(messages: list[BaseMessage]) -> str:
        if module_id_of(messages) == "auth":
            return module_reply("auth", {"auth_api": ["login()"]})
        return base(messages)

    with MatrioskaOrchestrator(ScriptedChatModel(respond=respond), base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK)
    assert state["module_reports"]["auth"]["missing_keys"] == ["storage_keys"]
    assert state["integration_report"]["broken"] == ["storage_keys"]


class Boom(RuntimeError):
    pass


def test_exception_in_module_two_then_resume_skips_module_one(tmp_path: Path) -> None:
    first = flaky({"css": [Boom("GPU fell off the bus")]})
    with MatrioskaOrchestrator(first, base_path=tmp_path) as orchestrator:
        with pytest.raises(RunFailedError, match="Boom: GPU fell off the bus") as info:
            orchestrator.run(TASK, thread_id="t-42")
    assert info.value.thread_id == "t-42"
    assert executor_calls(first) == ["html", "css"]
    # what finished is on disk already
    assert (tmp_path / "matrioska_artifacts" / "01_html.md").exists()
    assert json.loads((tmp_path / "matrioska_checkpoints" / "shared_state.json").read_text()) == MODULE_UPDATES["html"]

    second = ScriptedChatModel(respond=default_responder())
    with MatrioskaOrchestrator(second, base_path=tmp_path) as orchestrator:  # a new process would do the same
        state = orchestrator.run(TASK, thread_id="t-42")
    assert not any(is_architect(c) for c in second.calls)
    assert executor_calls(second) == ["css", "auth"]
    assert set(state["artifacts"]) == {"html", "css", "auth"}

    # a finished run asked again returns its state without calling the model
    third = ScriptedChatModel(respond=default_responder())
    with MatrioskaOrchestrator(third, base_path=tmp_path) as orchestrator:
        again = orchestrator.resume("t-42")
    assert third.calls == [] and again["artifacts"] == state["artifacts"]


def test_thread_reused_for_another_task_is_refused(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    with MatrioskaOrchestrator(scripted, base_path=tmp_path) as orchestrator:
        orchestrator.run(TASK, thread_id="same")
        with pytest.raises(ThreadMismatchError):
            orchestrator.run("something else entirely", thread_id="same")


@pytest.mark.parametrize("task", ["", "   \n\t "])
def test_blank_task_fails_before_any_model_call(tmp_path: Path, scripted: ScriptedChatModel, task: str) -> None:
    with MatrioskaOrchestrator(scripted, base_path=tmp_path) as orchestrator:
        with pytest.raises(EmptyTaskError):
            orchestrator.run(task)
    assert scripted.calls == []


def test_unparseable_plan_retries_with_the_error_then_typed_error_with_state_saved(tmp_path: Path) -> None:
    model = ScriptedChatModel(
        respond=lambda messages: "I think a good plan would be modular." if is_architect(messages) else ""
    )
    with MatrioskaOrchestrator(model, base_path=tmp_path, max_plan_attempts=3) as orchestrator:
        with pytest.raises(PlanError, match="no usable plan after 3 attempt") as info:
            orchestrator.run(TASK, thread_id="bad-plan")
        assert orchestrator.get_state("bad-plan")["task"] == TASK
    assert len(model.calls) == 3 and info.value.thread_id == "bad-plan"
    assert len(info.value.problems) == 3
    # the retry fed the parse error back to the model
    retry = model.calls[1]
    assert "could not be used" in str(retry[-1].content) and "no JSON object" in str(retry[-1].content)


def test_plan_accepted_on_second_attempt(tmp_path: Path) -> None:
    base = default_responder()
    count = {"n": 0}

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            count["n"] += 1
            if count["n"] == 1:
                # a true data cycle: named back to the model once
                return json.dumps(
                    {
                        "project_name": "X",
                        "modules": [
                            {"id": "a", "shared_state_writes": ["x"], "shared_state_reads": ["y"]},
                            {"id": "b", "shared_state_writes": ["y"], "shared_state_reads": ["x"]},
                        ],
                    }
                )
        return base(messages)

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK)
    assert count["n"] == 2
    assert state["plan_report"][0] == "plan accepted on attempt 2 of 3"
    assert "data cycle: 'a' reads 'y' written by 'b'" in str(model.calls[1][-1].content)
    rejected = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())["rejected_plans"]
    assert [r["attempt"] for r in rejected] == [1] and '"id": "a"' in rejected[0]["reply"]


def test_unwritable_base_path_is_a_clear_error(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputPathError, match="cannot write to output folder"):
        MatrioskaOrchestrator(scripted, base_path=blocker / "out")


def test_state_survives_a_checkpoint_round_trip(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    with MatrioskaOrchestrator(scripted, base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK, thread_id="rt")
    from matrioska.runs.checkpoint import open_checkpointer

    saver, close = open_checkpointer(tmp_path / "matrioska_checkpoints" / "checkpoints.sqlite")
    try:
        reread = build_graph(saver).get_state({"configurable": {"thread_id": "rt"}}).values
    finally:
        close()
    expected = {k: v for k, v in state.items() if k not in ("thread_id", "results_zip")}
    assert reread == expected
    # Large entries are stored once, by reference, in the side table; a plain SqliteSaver sees refs.
    conn = sqlite3.connect(tmp_path / "matrioska_checkpoints" / "checkpoints.sqlite")
    try:
        raw = build_graph(SqliteSaver(conn)).get_state({"configurable": {"thread_id": "rt"}}).values
        blobs = conn.execute("SELECT count(*) FROM matrioska_blobs").fetchone()[0]
    finally:
        conn.close()
    assert blobs >= 3 and all(set(v) == {"__matrioska_blob__"} for v in raw["module_reports"].values())
    assert json.loads(json.dumps(reread)) == reread  # plain JSON data all the way down


def test_supplied_plan_skips_the_architect(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    with MatrioskaOrchestrator(scripted, base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK, architecture=THREE_MODULE_PLAN)
    assert not any(is_architect(c) for c in scripted.calls)
    assert state["plan_report"][0].startswith("plan supplied")


def test_graph_streams_updates_and_custom_progress(scripted: ScriptedChatModel) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    graph = build_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "s"}}
    updates, custom = [], []
    for mode, chunk in graph.stream(
        {"task": TASK}, config, context=Context(llm=scripted), stream_mode=["updates", "custom"]
    ):
        (updates if mode == "updates" else custom).append(chunk)
    assert [next(iter(u)) for u in updates] == [
        "architect",
        "contract",
        "acceptance",
        "executor",
        "executor",
        "executor",
        "assembler",
        "verify",
    ]
    started = [e for e in custom if e["event"] == "module_started"]
    finished = [e for e in custom if e["event"] == "module_finished"]
    assert [e["reads"] for e in started] == [[], ["element_ids", "page_structure"], ["element_ids"]]
    assert finished[1]["written"] == ["color_scheme", "css_classes"] and finished[1]["chars"] > 0
    phases = {e["phase"] for e in custom if e["event"] == "phase"}
    expected = {"architecture", "contract", "acceptance", "assembly"}
    assert phases == expected | ({"verification"} if shutil.which("bwrap") else set())


def test_graph_invoke_without_checkpointer(scripted: ScriptedChatModel) -> None:
    from matrioska.graph import graph

    state = graph.invoke({"task": TASK}, context=Context(llm=scripted))
    assert set(state["artifacts"]) == {"html", "css", "auth"}


def test_recursion_limit_too_small_stops_before_a_module_and_resume_continues(tmp_path: Path) -> None:
    plan = {
        "project_name": "Chain",
        "goal": "g",
        "modules": [{"id": f"m{i}", "dependencies": [f"m{i - 1}"] if i else []} for i in range(30)],
    }
    model = ScriptedChatModel(respond=lambda m: "notes" if is_assembler(m) else module_reply(module_id_of(m) or "", {}))
    from langgraph.checkpoint.memory import InMemorySaver

    graph = build_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "r"}, "recursion_limit": 25}
    with pytest.raises(RecursionBudgetError, match="recursion_limit"):
        graph.invoke({"task": TASK, "architecture": plan}, config, context=Context(llm=model))
    assert model.calls == []  # stopped before the first module, plan saved
    state = graph.invoke(None, {**config, "recursion_limit": 40}, context=Context(llm=model))
    assert len(state["completed"]) == 30
    # the exact bound: input, architect, contract, acceptance, 30 modules, the assembler and verify
    # need recursion_limit 36; at 35 the budget check (not a GraphRecursionError mid-loop) stops the run
    tight = build_graph(InMemorySaver())
    state = tight.invoke(
        {"task": TASK, "architecture": plan},
        {"configurable": {"thread_id": "x"}, "recursion_limit": 36},
        context=Context(llm=model),
    )
    assert len(state["completed"]) == 30
    with pytest.raises(RecursionBudgetError, match=">= 36"):
        build_graph(InMemorySaver()).invoke(
            {"task": TASK, "architecture": plan},
            {"configurable": {"thread_id": "y"}, "recursion_limit": 35},
            context=Context(llm=model),
        )


def test_missing_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from matrioska.errors import ModelNotConfiguredError
    from matrioska.graph import graph

    monkeypatch.delenv("MATRIOSKA_MODEL", raising=False)
    with pytest.raises(ModelNotConfiguredError, match="MATRIOSKA_MODEL"):
        graph.invoke({"task": TASK}, context=Context())


def test_missing_update_is_re_asked_with_the_error_and_merged(tmp_path: Path) -> None:
    from scripted import is_update_retry

    base = default_responder()

    def respond(messages: list[BaseMessage]) -> str:
        if module_id_of(messages) == "html":
            if is_update_retry(messages):
                return 'Sure: {"element_ids": ["#loginForm"], "page_structure": {"main": []}, "extra": 1,}'
            return "<html>only code, I forgot the update</html>"
        return base(messages)

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, base_path=tmp_path, max_repairs=0) as orchestrator:  # no fenced file: a problem
        state = orchestrator.run(TASK)
    assert executor_calls(model).count("html") == 2
    assert "your answer contains no file" in state["module_reports"]["html"]["problems"][0]
    retry = next(c for c in model.calls if is_update_retry(c))
    assert "no SHARED_STATE_UPDATE: section" in str(retry[-1].content)
    assert "element_ids, page_structure" in str(retry[-1].content)
    assert state["shared_state"]["element_ids"] == ["#loginForm"]
    report = state["module_reports"]["html"]
    assert report["missing_keys"] == [] and report["dropped_keys"] == ["extra"]
    assert state["artifacts"]["html"] == "<html>only code, I forgot the update</html>"


@pytest.mark.parametrize("keep, expected", [(1, 1), (None, 6)])
def test_sqlite_history_is_pruned_to_the_latest_checkpoint_unless_kept(tmp_path: Path, keep, expected) -> None:
    import sqlite3

    with MatrioskaOrchestrator(ScriptedChatModel(respond=default_responder()), tmp_path, keep_checkpoints=keep) as o:
        o.run("Create a library management system", thread_id="t")
        assert o.get_state("t")["completed"] == ["html", "css", "auth"]
    conn = sqlite3.connect(tmp_path / "matrioska_checkpoints" / "checkpoints.sqlite")
    count = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = 't'").fetchone()[0]
    assert count == expected if keep else count >= expected
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0 or keep is None
