"""Parallel waves: same results and prompts as sequential, real concurrency, conflicts, resume mid-wave."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of, module_reply

from matrioska import MatrioskaOrchestrator, RecursionBudgetError, RunFailedError
from matrioska.nodes.routing import remaining_waves


def plan_of(edges: dict[str, list[str]]) -> dict[str, Any]:
    """A plan where each module writes `k_<id>` and reads the keys of its dependencies."""
    return {
        "project_name": "Waves",
        "goal": "test waves",
        "modules": [
            {
                "id": mid,
                "dependencies": deps,
                "shared_state_reads": [f"k_{d}" for d in deps],
                "shared_state_writes": [f"k_{mid}"],
            }
            for mid, deps in edges.items()
        ],
    }


DIAMOND = plan_of({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
FAN16 = plan_of({"root": [], **{f"w{i:02d}": ["root"] for i in range(16)}, "sink": [f"w{i:02d}" for i in range(16)]})


class Recorder:
    """A scripted model that sleeps per call and records concurrency and prompts."""

    def __init__(
        self,
        delay: float = 0.0,
        fail: dict[str, Exception] | None = None,
        gather: int = 1,
        wide: set[str] = frozenset(),
    ) -> None:
        self.delay, self.fail, self.gather, self.wide = delay, dict(fail or {}), gather, wide
        self.active = self.peak = 0
        self.lock = threading.Condition()
        self.prompts: dict[str, str] = {}
        self.model = ScriptedChatModel(respond=self.respond)

    def respond(self, messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        module_id = module_id_of(messages)
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.prompts[module_id] = str(messages[1].content)
            self.lock.notify_all()
            # Wait (briefly) for up to `gather` calls to be in flight together: proves how many
            # can run at once without depending on thread start-up timing.
            if module_id in self.wide:
                self.lock.wait_for(lambda: self.active >= self.gather, timeout=2.0)
        try:
            time.sleep(self.delay)
            if module_id in self.fail:
                raise self.fail.pop(module_id)
            return module_reply(module_id, {f"k_{module_id}": f"value of {module_id}"})
        finally:
            with self.lock:
                self.active -= 1

    @property
    def calls(self) -> list[str]:
        return [module_id_of(c) or "assembler" for c in self.model.calls]


def run(tmp_path: Path, plan: dict[str, Any], parallel: int, recorder: Recorder, name: str) -> dict[str, Any]:
    with MatrioskaOrchestrator(recorder.model, tmp_path / name, max_parallel=parallel) as orchestrator:
        return orchestrator.run("waves", thread_id=name, architecture=plan)


@pytest.mark.parametrize("plan", [DIAMOND, FAN16], ids=["diamond", "fan16"])
def test_waves_give_the_sequential_result_with_the_same_hyperfocus_prompts(tmp_path: Path, plan: dict) -> None:
    width = 2 if plan is DIAMOND else 8
    wide = {"b", "c"} if plan is DIAMOND else {f"w{i:02d}" for i in range(16)}
    sequential, parallel = Recorder(delay=0.05), Recorder(delay=0.05, gather=width, wide=wide)
    expected = run(tmp_path, plan, 1, sequential, "seq")
    state = run(tmp_path, plan, 8, parallel, "par")
    assert sorted(state["completed"]) == sorted(expected["completed"])
    assert state["artifacts"] == expected["artifacts"]
    assert state["shared_state"] == expected["shared_state"]
    assert parallel.prompts == sequential.prompts  # each module saw exactly what it saw sequentially
    assert sequential.peak == 1 and parallel.peak == width
    assert sorted(parallel.calls) == sorted(sequential.calls)  # every module once


def test_a_key_written_by_two_modules_of_one_wave_orders_them_as_the_sequential_run_does(tmp_path: Path) -> None:
    plan = plan_of({"a": [], "b": ["a"], "c": ["a"]})
    plan["modules"][2]["shared_state_writes"] = ["k_b"]
    sequential = run(tmp_path, plan, 1, Recorder(), "sequential")
    parallel = run(tmp_path, plan, 4, Recorder(), "conflict")
    assert parallel["completed"] == sequential["completed"] == ["a", "b", "c"]
    assert parallel["shared_state"] == sequential["shared_state"]  # the later writer wins, as sequentially
    assert (
        "module 'c' now depends on 'b': both write 'k_b', and in one parallel wave the value kept would "
        "depend on timing"
    ) in parallel["plan_report"]
    assert next(m for m in parallel["architecture"]["modules"] if m["id"] == "c")["dependencies"] == ["a", "b"]


def test_resume_mid_wave_reruns_only_the_module_that_failed(tmp_path: Path) -> None:
    plan = plan_of({"a": [], "b": ["a"], "c": ["a"], "d": ["a"], "e": ["b", "c", "d"]})
    recorder = Recorder(delay=0.05, fail={"c": ValueError("bad reply handling")})  # not retried
    with pytest.raises(RunFailedError):
        run(tmp_path, plan, 4, recorder, "mid")
    assert sorted(recorder.calls) == ["a", "b", "c", "d"]
    recorder.model.calls.clear()
    state = run(tmp_path, plan, 4, recorder, "mid")
    assert recorder.calls == ["c", "e", "assembler"]  # b and d finished in the failed wave: kept
    assert state["shared_state"] == {f"k_{m}": f"value of {m}" for m in "abcde"}


def test_waves_count_against_the_recursion_limit_before_any_module_runs(tmp_path: Path) -> None:
    recorder = Recorder()
    with MatrioskaOrchestrator(recorder.model, tmp_path, max_parallel=8) as orchestrator:
        # architect at step 1, contract 2, acceptance 3, three waves of two steps, assembler at 10, verify 11
        orchestrator._recursion_limit = 6
        with pytest.raises(RecursionBudgetError, match=">= 12"):
            orchestrator.run("waves", thread_id="r", architecture=DIAMOND)
    assert recorder.calls == []
    assert remaining_waves({"architecture": DIAMOND, "execution_order": list("abcd")}, 8) == 3
