"""Model strings for every backend: the OpenAI-compatible path over real HTTP, roles, bad input."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk
from openai_server import ScriptedOpenAIServer
from scripted import (
    MODULE_UPDATES,
    NO_SCENARIOS,
    ScriptedChatModel,
    default_responder,
    is_acceptance,
    is_architect,
    is_assembler,
    module_id_of,
    module_reply,
    shared_context_of,
)

from matrioska import MatrioskaOrchestrator, ModelLoadError, cli
from matrioska.context import Context
from matrioska.graph import build_graph
from matrioska.model.factory import is_provider_spec, load_chat_model
from matrioska.model.structured import plan_schema, update_schema
from matrioska.plan.parsing import UPDATE_MARKER
from matrioska.plan.scenario_slots import plan_slots, scenarios_schema, slotted_schema

TASK = "Create a library management system"


@pytest.fixture
def server():
    with ScriptedOpenAIServer(default_responder()) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_provider_strings_are_told_apart_from_paths(tmp_path: Path) -> None:
    assert is_provider_spec("ollama:mistral") and is_provider_spec("openai:gpt-4o-mini")
    assert not is_provider_spec("mistralai/Mistral-7B-Instruct-v0.3")
    odd = tmp_path / "weird:name"
    odd.mkdir()
    assert not is_provider_spec(str(odd))


def test_whole_graph_over_an_openai_compatible_server(tmp_path: Path, server: ScriptedOpenAIServer) -> None:
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    with MatrioskaOrchestrator(llm, base_path=tmp_path) as orchestrator:
        state = orchestrator.run(TASK)
    assert state["completed"] == ["html", "css", "auth"]
    assert state["shared_state"]["element_ids"] == MODULE_UPDATES["html"]["element_ids"]
    # plan, acceptance scenarios (none usable: asked once more), three modules, notes
    assert len(server.requests) == 7
    # The plan and the scenarios were asked for under their JSON schemas (the scenarios' built from
    # the plan's slots); the module calls were not.
    architect = server.requests[0]
    assert architect["response_format"]["type"] == "json_schema"
    assert architect["response_format"]["json_schema"]["schema"] == plan_schema()
    slotted = slotted_schema(plan_slots(state["architecture"]["modules"])) or scenarios_schema()
    for request in server.requests[1:3]:
        assert request["response_format"]["json_schema"]["schema"] == slotted
    assert all("response_format" not in request for request in server.requests[3:])


def test_the_generation_budget_reaches_the_server(server: ScriptedOpenAIServer) -> None:
    llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=321)
    from langchain_core.messages import HumanMessage, SystemMessage

    llm.invoke([SystemMessage("You are MATRIOSKA's integrator."), HumanMessage("notes, please")])
    assert server.requests[-1].get("max_tokens") == 321 or server.requests[-1].get("max_completion_tokens") == 321


def test_missing_keys_are_re_asked_under_the_update_schema(tmp_path: Path) -> None:
    base = default_responder()

    def respond(messages):
        if module_id_of(messages) == "css" and "could not be used" not in str(messages[-1].content):
            return module_reply(
                "css", {"css_classes": ["card"]}, uses=shared_context_of(messages)
            )  # color_scheme left out
        if "could not be used" in str(messages[-1].content):
            return json.dumps({"color_scheme": "dark"})
        return base(messages)

    with ScriptedOpenAIServer(respond) as server:
        with MatrioskaOrchestrator(
            load_chat_model("openai:scripted", base_url=server.base_url), base_path=tmp_path
        ) as o:
            state = o.run(TASK)
    assert state["shared_state"]["color_scheme"] == "dark"
    retry = [
        r
        for r in server.requests
        if "response_format" in r
        and r["response_format"]["json_schema"]["schema"] != plan_schema()
        and "scenarios" not in r["response_format"]["json_schema"]["schema"]["properties"]
    ]
    assert [r["response_format"]["json_schema"]["schema"] for r in retry] == [update_schema(["color_scheme"])]


def test_a_server_refusing_structured_output_falls_back_to_repair(tmp_path: Path) -> None:
    base = default_responder()
    with ScriptedOpenAIServer(base) as server:
        original = server._server.RequestHandlerClass.do_POST

        def do_post(handler):
            length = int(handler.headers.get("Content-Length", 0))
            body = handler.rfile.read(length)
            if b"response_format" in body:
                handler._json(
                    400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}
                )
                return
            handler.rfile = io.BytesIO(body)
            original(handler)

        server._server.RequestHandlerClass.do_POST = do_post
        events: list[dict] = []
        llm = load_chat_model("openai:scripted", base_url=server.base_url)
        with MatrioskaOrchestrator(llm, base_path=tmp_path) as orchestrator:
            state = orchestrator.run(TASK, on_event=events.append)
    assert state["completed"] == ["html", "css", "auth"]
    assert any(e["event"] == "structured_output_refused" and "400" in e["error"] for e in events)


def test_messages_stream_yields_tokens_from_the_remote_backend(server: ScriptedOpenAIServer) -> None:
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    graph = build_graph()
    per_node: dict[str, int] = {}
    for chunk, meta in graph.stream({"task": TASK}, context=Context(llm=llm), stream_mode="messages"):
        if isinstance(chunk, AIMessageChunk) and chunk.content:
            per_node[meta["langgraph_node"]] = per_node.get(meta["langgraph_node"], 0) + 1
    assert per_node["executor"] > 3 * 3  # several tokens per module, as the server sent them
    assert all(request.get("stream") for request in server.requests[3:6])  # after the plan and 2 scenario calls


def test_each_role_can_use_its_own_model(tmp_path: Path, server: ScriptedOpenAIServer) -> None:
    architect = ScriptedChatModel(respond=default_responder())
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    with MatrioskaOrchestrator(llm, base_path=tmp_path, roles={"architect": architect}) as orchestrator:
        orchestrator.run(TASK)
    # the architect's model plans and writes the acceptance scenarios
    assert len(architect.calls) == 1 and is_architect(architect.calls[0])
    assert len(architect.acceptance_calls) == 2  # no usable scenario: asked once more
    assert len(server.requests) == 4  # three modules and the notes, none of them a plan


def test_cli_runs_against_the_server_with_per_role_models(tmp_path: Path, server: ScriptedOpenAIServer) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "matrioska",
            "run",
            TASK,
            "--out",
            str(out),
            "--model",
            "openai:scripted",
            "--base-url",
            server.base_url,
            "--assembler-model",
            "openai:other",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "3/3" in result.stdout or "auth" in result.stdout
    assert (out / "matrioska_results.zip").exists()
    # the plan, two scenario calls (none usable: asked once more), three modules; then the notes
    assert [r["model"] for r in server.requests] == ["scripted"] * 6 + ["other"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "nosuchprovider:x"], "unknown model provider 'nosuchprovider'"),
        (["--model", "openai:x", "--base-url", "http://127.0.0.1:{port}/v1"], "cannot reach the model server"),
        (["--model", "ollama:mistral"], "matrioska[ollama]"),
        (["--model", "/no/such/model"], "does not exist"),
        (["--model", "{tiny}", "--device", "cuda"], "CUDA is not available"),
        (["--model", "{tiny}", "--base-url", "http://127.0.0.1:1/v1"], "--base-url is for provider:model"),
    ],
)
def test_bad_model_input_is_one_line_before_any_work(
    tmp_path: Path, tiny_model_dir: Path, argv: list[str], message: str
) -> None:
    pytest.importorskip("langchain_openai")
    if "ollama" in " ".join(argv):
        try:
            import langchain_ollama  # noqa: F401

            pytest.skip("langchain-ollama is installed here")
        except ImportError:
            pass
    argv = [a.format(port=_free_port(), tiny=tiny_model_dir) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["run", TASK, "--out", str(tmp_path / "out"), *argv], stdout=out, stderr=err)
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err.getvalue()
    assert not (tmp_path / "out" / "matrioska_checkpoints" / "checkpoints.sqlite").exists()


def test_missing_openai_key_without_base_url_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelLoadError, match="OPENAI_API_KEY"):
        load_chat_model("openai:gpt-4o-mini")


def test_four_bit_that_cannot_run_says_to_use_no_4bit(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def no_kernels(*args, **kwargs):
        raise RuntimeError("bitsandbytes: no backend for this device\nlong traceback text")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_kernels)
    with pytest.raises(ModelLoadError, match="retry with --no-4bit") as info:
        load_chat_model(str(tiny_model_dir))
    assert "\n" not in str(info.value)


def test_a_wave_over_a_server_prints_each_modules_own_true_rate(tmp_path: Path) -> None:
    """Three independent modules in one wave, streamed at once by a server that reports usage:
    each module's figures are its own (the server's token count over its own call's time), so
    no module shows more than one stream's speed, and the wave really was in flight together."""
    ids = ["alpha", "beta", "gamma"]
    plan = {
        "project_name": "Fan",
        "goal": "three independent parts",
        "modules": [{"id": m, "shared_state_writes": [f"{m}_api"], "files": [f"{m}.txt"]} for m in ids],
    }
    replies = {
        m: f"{m}.txt\n```\n{m} " + "x" * 400 + f"\n```\n{UPDATE_MARKER} " + json.dumps({f"{m}_api": m}) for m in ids
    }

    def respond(messages):
        if is_assembler(messages):
            return "notes"
        if is_acceptance(messages):
            return NO_SCENARIOS
        return replies[module_id_of(messages)]

    (tmp_path / "plan.json").write_text(json.dumps(plan))
    chunk_delay = 0.01  # at most 100 chunks ("tokens") a second per stream
    with ScriptedOpenAIServer(respond, chunk_chars=8, chunk_delay=chunk_delay) as server:
        out = io.StringIO()
        code = cli.main(
            ["run", "fan", "--out", str(tmp_path / "out"), "--plan", str(tmp_path / "plan.json"), "--parallel", "3"]
            + ["--model", "openai:scripted", "--base-url", server.base_url, "--no-verify"],
            stdout=out,
            stderr=io.StringIO(),
        )
    assert code == 0, out.getvalue()
    assert server.most_running >= 2  # the wave's modules were generated at the same time
    report = json.loads((tmp_path / "out" / "matrioska_checkpoints" / "run_report.json").read_text())
    for module_id in ids:
        generation = report["module_reports"][module_id]["generation"]
        assert generation["source"] == "server"
        assert generation["tokens"] == -(-len(replies[module_id]) // 8)  # the server's count, not a guess
        assert generation["calls"] == 1 and generation["largest_call_tokens"] == generation["tokens"]
        assert generation["tokens_per_second"] <= 1.05 / chunk_delay
    module_lines = [line for line in out.getvalue().splitlines() if any(m in line for m in ids)]
    rates = [float(r) for r in re.findall(r"([\d.]+) tok/s", "\n".join(module_lines))]
    assert len(rates) == 3 and max(rates) <= 1.05 / chunk_delay, out.getvalue()


@pytest.mark.parametrize("parallel, together", [([], True), (["--parallel", "1"], False)], ids=["default", "one"])
def test_over_a_server_the_waves_modules_go_together_by_default(
    tmp_path: Path, parallel: list[str], together: bool
) -> None:
    """Issue 42: with a model server (it batches what arrives together) `matrioska run` sends the
    requests of a wave's independent modules at once unless told `--parallel 1`."""
    ids = ["alpha", "beta", "gamma"]
    plan = {
        "project_name": "Fan",
        "goal": "three independent parts",
        "modules": [{"id": m, "shared_state_writes": [f"{m}_api"], "files": [f"{m}.txt"]} for m in ids],
    }

    def respond(messages):
        if is_assembler(messages):
            return "notes"
        if is_acceptance(messages):
            return NO_SCENARIOS
        m = module_id_of(messages)
        return f"{m}.txt\n```\n{m} " + "x" * 200 + f"\n```\n{UPDATE_MARKER} " + json.dumps({f"{m}_api": m})

    (tmp_path / "plan.json").write_text(json.dumps(plan))
    with ScriptedOpenAIServer(respond, chunk_chars=8, chunk_delay=0.01) as server:
        out = io.StringIO()
        code = cli.main(
            ["run", "fan", "--out", str(tmp_path / "out"), "--plan", str(tmp_path / "plan.json"), *parallel]
            + ["--model", "openai:scripted", "--base-url", server.base_url, "--no-verify", "--no-contract"],
            stdout=out,
            stderr=io.StringIO(),
        )
    assert code == 0, out.getvalue()
    assert (server.most_running >= 2) is together, server.most_running


def test_a_modules_figures_count_each_call_and_its_largest() -> None:
    """A module whose reply needed a follow-up call (missing shared-state keys) reports both calls:
    the generation budget holds per call, so the largest call is what `--max-new-tokens` bounds."""
    from langchain_core.messages import AIMessage

    from matrioska.model.calls import GenerationMeter

    meter = GenerationMeter()
    meter.add(AIMessage("x", usage_metadata={"input_tokens": 50, "output_tokens": 128, "total_tokens": 178}), "x", 2.0)
    meter.add(AIMessage("y", usage_metadata={"input_tokens": 60, "output_tokens": 13, "total_tokens": 73}), "y", 0.5)
    report = meter.report()
    assert (report["tokens"], report["calls"], report["largest_call_tokens"]) == (141, 2, 128)
    assert report["input_tokens"] == 110  # the prompts, as the server counted them
    assert report["tokens_per_second"] == round(141 / 2.5, 2) and report["source"] == "server"


def test_a_structured_reply_cut_at_the_budget_is_repaired_not_asked_again_free(tmp_path: Path) -> None:
    """Seen on the 0.5B under vLLM: the scenarios' reply ran out of tokens inside the schema; the
    OpenAI client refused it (LengthFinishReasonError) and it was asked again without the schema,
    which gave scenarios without names. The cut reply is now used, repaired like any other."""
    from types import SimpleNamespace

    from matrioska.nodes.acceptance import generate

    cut = '{"scenarios": [{"name": "is_valid tells", "kind": "python", "module": "isbn", "steps": [], '
    cut += '"check": {"function": "is_valid", "args": ["0306406152"], "expected": true}}, {"name": "ano'
    plan = {
        "project_name": "ISBN",
        "goal": "validate ISBNs",
        "modules": [{"id": "core", "name": "Core", "files": ["isbn.py"], "description": "is_valid(code)"}],
    }
    with ScriptedOpenAIServer(lambda messages: cut, finish_reason=lambda body: "length") as running:
        llm = load_chat_model("openai:scripted", base_url=running.base_url)
        events: list[dict[str, object]] = []
        runtime = SimpleNamespace(context=Context(llm=llm), stream_writer=events.append)
        kept, notes = generate({"task": "validate ISBNs", "architecture": plan}, runtime)  # type: ignore[arg-type]
        requests = running.requests
    assert [s["name"] for s in kept][:1] == ["is_valid tells"], notes
    assert all("response_format" in r for r in requests)  # never asked again without the schema
    assert any(e["event"] == "structured_output_cut" for e in events)
    assert not any(e["event"] == "structured_output_refused" for e in events)
