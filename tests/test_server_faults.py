"""Faults of a model server, over real HTTP with the OpenAI client: the server killed in the
middle of a wave and started again, error statuses, prompts longer than its context. Each ends
in a typed one-line error naming the server (and a resume that loses nothing) or in a prompt
shortened to fit — never a traceback."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from openai_server import ScriptedOpenAIServer
from scripted import NO_SCENARIOS, is_acceptance, is_assembler, module_id_of

from matrioska import ContextLengthError, MatrioskaOrchestrator, ModelServerError, cli
from matrioska.model.factory import load_chat_model
from matrioska.model.retry import default_retry_policy
from matrioska.plan.parsing import UPDATE_MARKER

FAST = default_retry_policy(max_attempts=3, initial_interval=0.05, max_interval=0.1)
IDS = ["alpha", "beta", "gamma"]
FAN_OUT = {
    "project_name": "Fan",
    "goal": "three independent parts",
    "modules": [{"id": m, "shared_state_writes": [f"{m}_api"], "files": [f"{m}.txt"]} for m in IDS],
}


def _reply(module_id: str, size: int) -> str:
    body = f"{module_id} " + "x" * size
    return f"{module_id}.txt\n```\n{body}\n```\n{UPDATE_MARKER} " + json.dumps({f"{module_id}_api": module_id})


def _fan_out_responder(sizes: dict[str, int]) -> Any:
    def respond(messages):
        if is_assembler(messages):
            return "notes"
        if is_acceptance(messages):
            return NO_SCENARIOS
        module_id = module_id_of(messages)
        return _reply(module_id, sizes[module_id])

    return respond


def _module_requests(server: ScriptedOpenAIServer, module_id: str) -> int:
    return sum(1 for body in server.requests if f"(id: {module_id})" in json.dumps(body))


def test_a_server_killed_mid_wave_stops_the_run_naming_it_and_a_resume_loses_nothing(tmp_path: Path) -> None:
    # alpha answers at once; beta and gamma stream for seconds, and the server dies under them.
    respond = _fan_out_responder({"alpha": 8, "beta": 4000, "gamma": 4000})
    first = ScriptedOpenAIServer(respond, chunk_chars=8, chunk_delay=0.01)
    killed = threading.Event()

    def kill_mid_wave() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alpha_done = any("(id: alpha)" in json.dumps(body) for body in first.answered)
            if alpha_done and first.running >= 2:
                first.kill()
                killed.set()
                return
            time.sleep(0.01)

    with first:
        llm = load_chat_model("openai:scripted", base_url=first.base_url)
        watcher = threading.Thread(target=kill_mid_wave, daemon=True)
        watcher.start()
        with MatrioskaOrchestrator(llm, tmp_path, max_parallel=3, verify=False, retry_policy=FAST) as orchestrator:
            with pytest.raises(ModelServerError) as info:
                orchestrator.run("fan", thread_id="t1", architecture=FAN_OUT)
            watcher.join()
            assert killed.is_set()
            error = info.value
            assert error.url == first.base_url and error.status is None and error.thread_id == "t1"
            assert first.base_url in str(error) and "start it again" in str(error) and "\n" not in str(error)
            assert "matrioska resume --thread t1" in str(error)
            # What finished before the server died is in the checkpoint and on disk.
            assert orchestrator.get_state("t1")["completed"] == ["alpha"]
            assert (tmp_path / "matrioska_artifacts" / "01_alpha.md").exists()
            # The server is back on the same address: the run finishes, alpha is not asked again.
            with ScriptedOpenAIServer(respond, port=first.port) as second:
                state = orchestrator.resume("t1")
            assert sorted(state["completed"]) == IDS
            assert _module_requests(second, "alpha") == 0
            assert _module_requests(second, "beta") == 1 and _module_requests(second, "gamma") == 1


def test_a_prompt_is_shortened_to_the_context_the_server_reports(tmp_path: Path) -> None:
    # beta reads a value far longer than the server's context; the server says how long its context is.
    plan = {
        "project_name": "Long",
        "goal": "a writer and a reader",
        "modules": [
            {"id": "alpha", "shared_state_writes": ["corpus"], "files": ["alpha.txt"]},
            {"id": "beta", "dependencies": ["alpha"], "shared_state_reads": ["corpus"], "files": ["beta.txt"]},
        ],
    }
    corpus = "lorem ipsum " * 4000  # 48,000 characters: ~12,000 tokens

    def respond(messages):
        if is_assembler(messages):
            return "notes"
        if module_id_of(messages) == "alpha":
            return f"alpha.txt\n```\nALPHA-7781 built\n```\n{UPDATE_MARKER} " + json.dumps({"corpus": corpus})
        return "beta.txt\n```\nBETA-7782 built\n```"

    with ScriptedOpenAIServer(respond, max_model_len=1536) as server:
        llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=400)
        assert llm.metadata["context_tokens"] == 1536
        with MatrioskaOrchestrator(llm, tmp_path, verify=False, retry_policy=FAST) as orchestrator:
            state = orchestrator.run("long", architecture=plan)
    assert state["completed"] == ["alpha", "beta"]
    assert server.refused == []
    beta_prompt = next(json.dumps(body) for body in server.requests if "(id: beta)" in json.dumps(body))
    assert "more characters" in beta_prompt  # the value was shortened, and says so


def test_a_prompt_refused_for_an_unreported_context_is_shortened_to_what_the_server_said(tmp_path: Path) -> None:
    """Issue 42: no run stops for context. The server does not report its context, so the first
    prompt goes as it is; its refusal says how long the context is, and the prompt is shortened
    to that and sent again: the run finishes, and the module report says what was cut."""
    plan = {
        "project_name": "Long",
        "goal": "a writer and a reader",
        "modules": [
            {"id": "alpha", "shared_state_writes": ["corpus"], "files": ["alpha.txt"]},
            {"id": "beta", "dependencies": ["alpha"], "shared_state_reads": ["corpus"], "files": ["beta.txt"]},
        ],
    }

    def respond(messages):
        if module_id_of(messages) == "alpha":
            return f"alpha.txt\n```\nALPHA-7781 built\n```\n{UPDATE_MARKER} " + json.dumps(
                {"corpus": "lorem ipsum " * 2500}
            )
        return "notes" if is_assembler(messages) else "beta.txt\n```\nBETA-7782 built\n```"

    (tmp_path / "plan.json").write_text(json.dumps(plan))
    with ScriptedOpenAIServer(respond, max_model_len=1536, report_max_model_len=False) as server:
        base = ["--out", str(tmp_path / "out"), "--model", "openai:scripted", "--base-url", server.base_url]
        base += ["--max-new-tokens", "400", "--no-verify", "--no-contract"]
        err = io.StringIO()
        code = cli.main(["run", "long", "--plan", str(tmp_path / "plan.json"), "--thread", "t2", *base], stderr=err)
        assert code == 0, err.getvalue()
        assert [status for status, _ in server.refused] == [400]  # refused once, then it fitted
        beta = [b for b in server.requests if "(id: beta)" in json.dumps(b)]
        assert len(beta) == 2 and len(json.dumps(beta[1])) < len(json.dumps(beta[0]))
        assert "characters cut to fit the model's context" in json.dumps(beta[1])
    report = json.loads((tmp_path / "out" / "matrioska_checkpoints" / "run_report.json").read_text())
    shortened = report["module_reports"]["beta"]["generation"]["shortened"]
    assert any("characters cut from the middle of the prompt" in cut for cut in shortened), shortened
    assert "BETA-7782" in (tmp_path / "out" / "project" / "beta.txt").read_text()


def test_an_unknown_model_name_is_one_line_with_the_names_the_server_serves(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(_fan_out_responder({m: 8 for m in IDS}), models=["qwen-0.5b"]) as server:
        err = io.StringIO()
        code = cli.main(
            ["run", "fan", "--out", str(tmp_path / "out"), "--model", "openai:qwen", "--base-url", server.base_url],
            stdout=io.StringIO(),
            stderr=err,
        )
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1, err.getvalue()
    assert (
        f"the model server at {server.base_url} refused the request (404: The model `qwen` does not exist. Valid aliases: qwen-0.5b.)"
        in (lines[0])
    )
    assert "use --model openai:qwen-0.5b" in lines[0]


def test_a_server_failing_with_5xx_is_retried_then_named(tmp_path: Path) -> None:
    def fail(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 500, {"error": {"message": "EngineCore died", "type": "InternalServerError", "param": None, "code": 500}}

    with ScriptedOpenAIServer(_fan_out_responder({m: 8 for m in IDS}), fail=fail) as server:
        llm = load_chat_model("openai:scripted", base_url=server.base_url)
        with MatrioskaOrchestrator(llm, tmp_path, verify=False, retry_policy=FAST, max_parallel=1) as orchestrator:
            with pytest.raises(ModelServerError) as info:
                orchestrator.run("fan", thread_id="t3", architecture=FAN_OUT)
    assert not isinstance(info.value, ContextLengthError)
    assert info.value.status == 500 and info.value.url == server.base_url
    assert "kept failing (500: EngineCore died) through every retry" in str(info.value)
    # Each of the retry policy's 3 attempts is the client's own try and retries; then the run stops.
    assert len(server.requests) == 3 * (1 + llm.root_client.max_retries)
