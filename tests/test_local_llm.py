"""The real Hugging Face path on a tiny random-weight Mistral: LocalLLM, 4-bit, the whole graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from scripted import INDEPENDENT_PLAN, THREE_MODULE_PLAN

from matrioska import LocalLLM, MatrioskaOrchestrator, ModelLoadError, PlanError


@pytest.fixture(scope="module")
def tiny_4bit(tiny_model_dir: Path) -> LocalLLM:
    return LocalLLM(str(tiny_model_dir), max_new_tokens=16, do_sample=False)


def test_local_llm_loads_nf4_with_double_quant_and_seed_defaults(tiny_model_dir: Path) -> None:
    import bitsandbytes as bnb

    llm = LocalLLM(str(tiny_model_dir))
    model = llm.llm.pipeline.model
    config = model.config.quantization_config
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4" and config.bnb_4bit_use_double_quant
    assert str(config.bnb_4bit_compute_dtype).endswith("float16")
    assert isinstance(model.model.layers[0].self_attn.q_proj, bnb.nn.Linear4bit)
    assert llm.generation_kwargs == {"max_new_tokens": 4000, "temperature": 0.3, "top_p": 0.85, "do_sample": True}


def test_max_new_tokens_bounds_the_reply(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=3, do_sample=False)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    reply = llm.invoke([HumanMessage("hello")]).content
    assert 0 < len(tokenizer(reply, add_special_tokens=False).input_ids) <= 6  # 3 tokens, re-encoded


def test_local_llm_returns_only_new_text_through_the_chat_template(tiny_4bit: LocalLLM) -> None:
    reply = tiny_4bit.invoke([SystemMessage("You are terse."), HumanMessage("PROMPT-MARKER hello")])
    assert isinstance(reply.content, str) and reply.content
    assert "PROMPT-MARKER" not in reply.content and "[INST]" not in reply.content
    prompt = tiny_4bit._to_chat_prompt([SystemMessage("S"), HumanMessage("U")])
    assert prompt.startswith("<s>[INST] S") and prompt.endswith("U [/INST]")


def test_full_precision_is_allowed(tiny_model_dir: Path) -> None:
    import torch

    llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=4, do_sample=False)
    assert isinstance(llm.llm.pipeline.model.model.layers[0].self_attn.q_proj, torch.nn.Linear)
    assert llm.invoke([HumanMessage("hi")]).content is not None


def test_auto_dtype_on_a_cpu_is_the_measured_faster_one(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from matrioska.model import local as llm_module

    picked = llm_module._fastest_cpu_dtype()
    assert picked in (torch.bfloat16, torch.float32) and llm_module._fastest_cpu_dtype() is picked  # once
    for forced in (torch.float32, torch.bfloat16):  # as if the measurement had found this one faster
        monkeypatch.setattr(llm_module, "_CPU_DTYPE", forced)
        llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, device="cpu", max_new_tokens=2, do_sample=False)
        assert llm.llm.pipeline.model.dtype == forced
    explicit = LocalLLM(str(tiny_model_dir), load_in_4bit=False, device="cpu", dtype="float32", max_new_tokens=2)
    assert explicit.llm.pipeline.model.dtype == torch.float32  # dtype= overrides


def test_whole_graph_runs_on_the_tiny_4bit_model(tmp_path: Path, tiny_4bit: LocalLLM) -> None:
    with MatrioskaOrchestrator(tiny_4bit, base_path=tmp_path) as orchestrator:
        state = orchestrator.run("Create a library management system", architecture=INDEPENDENT_PLAN)
    assert state["completed"] == ["html", "css", "auth"]
    for module_id in ("html", "css", "auth"):
        assert state["artifacts"][module_id]  # random weights: noise, but real generated text
        report = state["module_reports"][module_id]
        assert set(report["missing_keys"]) | set(report["written"]) == set(
            next(m for m in THREE_MODULE_PLAN["general_manual"]["modules"] if m["id"] == module_id)[
                "shared_state_writes"
            ]
        )
    assert state["final_result"].startswith("# Library Management System")
    assert (tmp_path / "matrioska_results.zip").exists()
    assert json.loads((tmp_path / "matrioska_checkpoints" / "architecture.json").read_text())["modules"]


def test_unconstrained_architect_on_noise_ends_in_a_typed_plan_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir), max_new_tokens=16, do_sample=False, constrain_json=False)
    with MatrioskaOrchestrator(llm, base_path=tmp_path, max_plan_attempts=2) as orchestrator:
        with pytest.raises(PlanError, match="no usable plan after 2 attempt"):
            orchestrator.run("Create a library management system", thread_id="noise")
        assert orchestrator.get_state("noise")["task"]


def test_uncached_hub_id_without_hub_access_says_how_to_use_a_local_directory() -> None:
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache.*local-dir DIR.*LocalLLM\\('DIR'\\)"):
        LocalLLM("matrioska-tests/not-a-real-model")


@pytest.mark.parametrize("path", ["/nonexistent/model/dir", "./no-such-model"])
def test_missing_local_path_is_a_clear_error(path: str) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        LocalLLM(path)


def test_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no config.json"):
        LocalLLM(str(tmp_path))


def test_importing_matrioska_and_the_graph_loads_no_model() -> None:
    import subprocess
    import sys

    code = "import sys, matrioska, matrioska.graph; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_graph_model_from_environment_and_explicit_context_wins(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, scripted: object
) -> None:
    from matrioska.context import Context, resolve_llm

    monkeypatch.setenv("MATRIOSKA_MODEL", str(tiny_model_dir))
    from_env = resolve_llm(Context(load_in_4bit=False, max_new_tokens=4))
    assert isinstance(from_env, LocalLLM) and from_env.model_id == str(tiny_model_dir)
    assert resolve_llm(Context(load_in_4bit=False, max_new_tokens=4)) is from_env  # loaded once per process
    assert resolve_llm(Context(llm=scripted)) is scripted
    monkeypatch.setenv("MATRIOSKA_MODEL", "/does/not/exist")
    assert resolve_llm(Context(model=str(tiny_model_dir), load_in_4bit=False, max_new_tokens=4)) is from_env


def test_messages_stream_yields_local_tokens_without_the_pipelines_timed_streamer(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the 60 s TextIteratorStreamer must not be used")

    monkeypatch.setattr(transformers, "TextIteratorStreamer", refuse)
    from langchain_core.messages import AIMessageChunk

    from matrioska.context import Context
    from matrioska.graph import build_graph

    llm = LocalLLM(str(tiny_model_dir), max_new_tokens=12, do_sample=False)
    tokens: dict[str, int] = {}
    for chunk, meta in build_graph().stream(
        {"task": "Library", "architecture": THREE_MODULE_PLAN}, context=Context(llm=llm), stream_mode="messages"
    ):
        if isinstance(chunk, AIMessageChunk):
            tokens[meta["langgraph_node"]] = tokens.get(meta["langgraph_node"], 0) + 1
    assert tokens["executor"] >= 3 * 12  # one chunk per generated token, for every module


def test_generation_waits_for_slow_tokens_and_raises_generation_errors(tiny_model_dir: Path) -> None:
    import threading
    import time

    import torch

    from matrioska.model.batching import GenerationRequest, RowStreamer

    llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=4, do_sample=False)
    tokenizer = llm.llm.pipeline.tokenizer
    request = GenerationRequest("prompt", {})
    streamer = RowStreamer(tokenizer, [request], {tokenizer.eos_token_id})

    def slow_producer() -> None:
        streamer.put(torch.tensor([[1, 2]]))  # the prompt
        time.sleep(1.5)  # a slow prefill: the reader simply waits, there is no timeout
        streamer.put(torch.tensor([tokenizer.encode("hello", add_special_tokens=False)[0]]))
        streamer.end()

    threading.Thread(target=slow_producer).start()
    assert "".join(request)

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    llm.llm.pipeline.model.generate = broken
    with pytest.raises(RuntimeError, match="out of memory"):
        list(llm.stream([HumanMessage("hi")]))
    with pytest.raises(RuntimeError, match="out of memory"):
        llm.invoke([HumanMessage("hi")])


def test_concurrent_requests_are_generated_as_one_batch_with_the_same_text(tiny_model_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=12, do_sample=False, batch_window=0.5)
    prompts = [[HumanMessage(f"module {i}: write the code")] for i in range(4)]
    alone = [llm.invoke(p).content for p in prompts]
    assert llm._worker.batches == [1, 1, 1, 1]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: llm.invoke(p).content, prompts))
    assert llm._worker.batches[4:] == [4]  # one left-padded generate for the four prompts
    assert together == alone  # greedy: padding changes nothing
