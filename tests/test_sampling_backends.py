"""Best of N (issue 27) on each backend: K candidates of one prompt asked for in one request.

`LocalLLM` samples them as K rows of one batched `generate` (each row under its own copy of the
reply grammar); an OpenAI-compatible server gets one request with `n=K` and counts its usage once;
any other chat model gets K requests at once. All through `matrioska.model.sampling.sample_texts`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from openai_server import ScriptedOpenAIServer
from scripted import ScriptedChatModel

from matrioska import LocalLLM
from matrioska.generation.project import extract_files
from matrioska.model.batching import GenerationRequest
from matrioska.model.calls import GenerationMeter
from matrioska.model.grammar import reply_frame
from matrioska.model.sampling import DEFAULT_SAMPLE_TEMPERATURE, sample_texts, sampling_mode, sampling_temperature
from matrioska.plan.parsing import parse_module_reply
from matrioska.state import ModuleSpec

MESSAGES = [SystemMessage("You write one module."), HumanMessage("Write the module core.")]
SPEC = ModuleSpec(id="core", files=["core.py", "tests/test_core.py"], shared_state_writes=["api_functions"])


@pytest.fixture(scope="module")
def greedy(tiny_model_dir: Path) -> LocalLLM:
    """The tiny random Mistral, full precision, decoding greedily unless a call samples."""
    return LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=12, do_sample=False)


def _fresh(tiny_model_dir: Path, **kwargs: Any) -> LocalLLM:
    settings: dict[str, Any] = {"load_in_4bit": False, "max_new_tokens": 12, "do_sample": False, **kwargs}
    return LocalLLM(str(tiny_model_dir), **settings)


def test_local_samples_are_rows_of_one_generate(tiny_model_dir: Path) -> None:
    import torch

    llm = _fresh(tiny_model_dir)
    torch.manual_seed(0)
    samples = sample_texts(llm, None, MESSAGES, 3, 1.0)
    assert llm._worker.batches == [3]  # one batched generate of three rows
    texts = [s.text for s in samples]
    assert len(texts) == 3 and all(texts)
    assert len(set(texts)) > 1, texts  # sampled at temperature 1.0: the rows differ
    assert [s.message.content.strip() for s in samples] == texts
    assert llm.invoke(MESSAGES).content == llm.invoke(MESSAGES).content  # the model itself is still greedy
    assert llm._worker.batches == [3, 1, 1]


def test_one_sample_is_the_plain_call(greedy: LocalLLM) -> None:
    before = len(greedy._worker.batches) if greedy._worker else 0
    plain = greedy.invoke(MESSAGES).content
    assert greedy.bind(samples=1).invoke(MESSAGES).content == plain
    assert "".join(str(c.content) for c in greedy.bind(samples=1).stream(MESSAGES)) == plain
    assert greedy._worker.batches[before:] == [1, 1, 1]
    with pytest.raises(ValueError, match="samples must be at least 1"):
        greedy.bind(samples=0).invoke(MESSAGES)


def test_local_samples_under_a_reply_grammar_each_hold_the_frame(tiny_model_dir: Path) -> None:
    import torch

    llm = _fresh(tiny_model_dir, max_new_tokens=64)
    frame = reply_frame(SPEC)
    assert frame is not None
    bound = llm.with_reply_grammar(frame)
    torch.manual_seed(1)
    samples = sample_texts(llm, bound, MESSAGES, 3, 1.0)
    assert llm._worker.batches == [3]
    assert len({s.text for s in samples}) > 1
    for sample in samples:  # each row followed its own grammar to the end
        reply = parse_module_reply(sample.text, list(frame.keys))
        assert list(reply.update) == ["api_functions"] and not reply.missing_keys, sample.text[-300:]
        files = extract_files(reply.artifact, "core", list(SPEC.files))
        assert [f.path for f in files] == ["core.py", "tests/test_core.py"], sample.text[:300]


def test_more_samples_than_the_batch_go_in_consecutive_batches(tiny_model_dir: Path) -> None:
    llm = _fresh(tiny_model_dir, batch_size=2)
    samples = sample_texts(llm, None, MESSAGES, 3, 1.0)
    assert len(samples) == 3 and llm._worker.batches == [2, 1]


def test_a_group_of_samples_is_never_split_by_requests_queued_before_it(tiny_model_dir: Path) -> None:
    llm = _fresh(tiny_model_dir, batch_size=4)
    llm.invoke([HumanMessage("start the worker")])
    worker = llm._worker
    settings = dict(llm.generation_kwargs)
    singles = [GenerationRequest(f"[INST] single {i} [/INST]", settings) for i in range(3)]
    group = [GenerationRequest("[INST] sampled [/INST]", settings) for _ in range(3)]
    with worker._ready:  # queued while the worker waits: it sees all six at once
        for request in singles:
            worker.submit(request)
        worker.submit_many(group)
    for request in singles + group:
        "".join(request)
    # Three singles, then the group of three: 3 + 3 > 4, so the group waits for the next batch
    # whole rather than lending one row to the first.
    assert worker.batches[1:] == [3, 3]
    assert [r.batch_size for r in group] == [3, 3, 3]


def _sampled_in_a_graph(llm: Any, temperature: float) -> list[str]:
    """Three samples taken inside a LangGraph node streamed in "messages" mode (which attaches a
    streaming callback to every model call, as the CLI's runs do)."""
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        texts: list[str]

    def node(state: State) -> dict[str, list[str]]:
        return {"texts": [s.text for s in sample_texts(llm, None, MESSAGES, 3, temperature)]}

    graph = StateGraph(State)
    graph.add_node("sample", node)
    graph.add_edge(START, "sample")
    graph.add_edge("sample", END)
    final: dict[str, Any] = {}
    for mode, chunk in graph.compile().stream({"texts": []}, stream_mode=["messages", "values"]):
        if mode == "values":
            final = chunk
    return list(final["texts"])


def test_local_samples_are_generated_even_under_a_streaming_callback(tiny_model_dir: Path) -> None:
    """LangGraph's "messages" mode attaches a streaming callback, which would route a call to
    `_stream` (one reply): K samples are still one generate, and all K come back."""
    llm = _fresh(tiny_model_dir)

    assert len(_sampled_in_a_graph(llm, 1.0)) == 3 and llm._worker.batches == [3]
    with pytest.raises(ValueError, match="cannot stream 3 samples"):
        list(llm._stream(MESSAGES, samples=3))
    # .stream falls back to one generate of the two rows and yields the first reply
    assert len(list(llm.bind(samples=2).stream(MESSAGES))) == 1 and llm._worker.batches == [3, 2]


@pytest.fixture
def numbered() -> Iterator[ScriptedOpenAIServer]:
    """A server answering each choice in turn with the next of three texts: 2, 3 and 1 chunks
    of 8 characters, so 6 completion "tokens" for a request of all three."""
    texts = itertools.cycle(["first candidate", "the second candidate", "third"])
    with ScriptedOpenAIServer(lambda messages: next(texts)) as server:
        yield server


def test_openai_samples_are_one_request_with_n_and_usage_counted_once(numbered: ScriptedOpenAIServer) -> None:
    llm = ChatOpenAI(model="scripted", base_url=numbered.base_url, api_key="x", stream_usage=True)  # type: ignore[arg-type]
    samples = sample_texts(llm, None, MESSAGES, 3, 0.7)
    assert len(numbered.requests) == 1
    body = numbered.requests[0]
    assert body["n"] == 3 and body["temperature"] == 0.7 and not body.get("stream")
    assert [s.text for s in samples] == ["first candidate", "the second candidate", "third"]
    assert numbered.usages == [{"prompt_tokens": 1, "completion_tokens": 6, "total_tokens": 7}]
    # Every choice's message carries the whole request's usage (langchain-openai copies it onto
    # each), so a request is counted once: from its first sample only.
    assert [s.message.usage_metadata["output_tokens"] for s in samples] == [6, 6, 6]
    meter = GenerationMeter()
    meter.add(samples[0].message, samples[0].text, samples[0].seconds)
    assert meter.report()["tokens"] == 6 and meter.report()["input_tokens"] == 1
    assert meter.report()["source"] == "server"


def test_openai_samples_under_a_streaming_callback_still_use_one_request(numbered: ScriptedOpenAIServer) -> None:
    """Under LangGraph's "messages" mode ChatOpenAI would stream the call, and a stream carries
    the first choice only: the n request is made unstreamed."""
    llm = ChatOpenAI(model="scripted", base_url=numbered.base_url, api_key="x", stream_usage=True)  # type: ignore[arg-type]

    assert _sampled_in_a_graph(llm, 0.7) == ["first candidate", "the second candidate", "third"]
    assert [(r["n"], r.get("stream")) for r in numbered.requests] == [(3, False)]


def test_one_choice_and_streaming_are_as_before(numbered: ScriptedOpenAIServer) -> None:
    llm = ChatOpenAI(model="scripted", base_url=numbered.base_url, api_key="x", stream_usage=True)  # type: ignore[arg-type]
    assert llm.invoke(MESSAGES).content == "first candidate"
    assert "".join(str(c.content) for c in llm.stream(MESSAGES)) == "the second candidate"
    assert numbered.usages == [{"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}]  # unstreamed only
    assert [r.get("n") for r in numbered.requests] == [None, None]


def test_the_sampling_mode_and_temperature_of_each_backend(greedy: LocalLLM, tiny_model_dir: Path) -> None:
    frame = reply_frame(SPEC)
    assert frame is not None
    openai = ChatOpenAI(model="scripted", base_url="http://127.0.0.1:9/v1", api_key="x")  # type: ignore[arg-type]
    scripted = ScriptedChatModel(respond=lambda messages: "reply")
    assert sampling_mode(greedy) == "rows" and sampling_mode(greedy.with_reply_grammar(frame)) == "rows"
    assert sampling_mode(openai) == "n" and sampling_mode(openai.bind(stop=["x"])) == "n"
    assert sampling_mode(openai.model_copy(update={"streaming": True})) == "parallel"
    assert sampling_mode(scripted) == "parallel"

    assert sampling_temperature(greedy, 1) is None  # one candidate: the model as it is
    assert sampling_temperature(greedy, 4) == DEFAULT_SAMPLE_TEMPERATURE == 0.7  # greedy would repeat itself
    warm = _fresh(tiny_model_dir, do_sample=True, temperature=0.3)
    assert sampling_temperature(warm, 4) == 0.3  # the model's own
    assert sampling_temperature(openai.model_copy(update={"temperature": 0.3}), 4) == 0.3
    assert sampling_temperature(warm, 4, chosen=0.9) == 0.9  # chosen wins
    assert sampling_temperature(greedy, 4, chosen=1.2) == 1.2
    assert sampling_temperature(openai, 4) == 0.7  # a server's default is not known
