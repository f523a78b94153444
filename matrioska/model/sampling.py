"""Best of N (issue 27): K candidates of one module attempt, asked for in one request where the
backend can, at a sampling temperature.

How the K candidates are asked for, by backend (`sampling_mode`):
- "n": an OpenAI-compatible server (`ChatOpenAI`: vLLM, SGLang, llama.cpp server, LM Studio):
  one request with `n=K`; the server shares the prompt's prefill across the choices and counts
  its usage once.
- "rows": `LocalLLM`: K rows of one batched `generate` (`samples=K`), each row under its own
  copy of the reply grammar.
- "parallel": any other chat model: K requests at once (`invoke` from K threads).

Every mode goes through `invoke` only: the K choices of one call reach `on_llm_end` as one
`LLMResult` whose first prompt holds K generations; a callback collects them (`invoke` itself
returns only the first).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding

__all__ = ["DEFAULT_SAMPLE_TEMPERATURE", "sampling_mode", "sampling_temperature", "sample_texts", "Sample"]

# The temperature candidates are sampled at when the run's own is 0 (greedy) and K > 1: greedy
# decoding would give K copies of one reply.
DEFAULT_SAMPLE_TEMPERATURE = 0.7


def _base(llm: Any) -> Any:
    from matrioska.model.servers import chat_model_of

    return chat_model_of(llm)[0]


def _is_local(base: Any) -> bool:
    return getattr(base, "_llm_type", "") == "matrioska-local-llm"


def sampling_mode(llm: Any) -> str:
    """How K candidates are asked of this model: "n", "rows" or "parallel" (see the module)."""
    base = _base(llm)
    if _is_local(base):
        return "rows"
    if type(base).__name__ in {"ChatOpenAI", "AzureChatOpenAI"} and not getattr(base, "streaming", False):
        return "n"
    return "parallel"


def model_temperature(llm: Any) -> float | None:
    """The temperature a model samples at (0 when it decodes greedily; None: not known)."""
    base = _base(llm)
    if _is_local(base):
        kwargs = getattr(base, "generation_kwargs", {}) or {}
        return float(kwargs.get("temperature") or 0.0) if kwargs.get("do_sample") else 0.0
    value = getattr(base, "temperature", None)
    return float(value) if isinstance(value, (int, float)) else None


def sampling_temperature(llm: Any, samples: int, chosen: float | None = None) -> float | None:
    """The temperature K candidates are sampled at: `chosen` when given, else the model's own,
    else (the model decodes greedily, K > 1) `DEFAULT_SAMPLE_TEMPERATURE`. None: leave the
    model as it is (K = 1, or a model whose temperature is unknown and none was chosen)."""
    if samples <= 1:
        return None
    if chosen is not None and chosen > 0:
        return float(chosen)
    own = model_temperature(llm)
    if own is not None and own > 0 and chosen is None:
        return own
    return DEFAULT_SAMPLE_TEMPERATURE


class Sample:
    """One candidate: its text, the message it came in, and the seconds of its request."""

    def __init__(self, text: str, message: Any, seconds: float) -> None:
        self.text, self.message, self.seconds = text, message, seconds


class _Choices(BaseCallbackHandler):
    """Collects every generation of the chat model calls it sees (`on_llm_end`)."""

    def __init__(self) -> None:
        self.generations: list[Any] = []

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        for row in response.generations or []:
            self.generations.extend(row)


def _with_temperature(bound: Any, temperature: float) -> Any:
    """A generic chat model at another temperature: a copy of it with its `temperature` field
    set (call kwargs are not read by every chat model); unchanged when it has none."""
    base = _base(bound)
    if not hasattr(base, "temperature") or not hasattr(base, "model_copy"):
        return bound
    copy = base.model_copy(update={"temperature": temperature})
    if isinstance(bound, RunnableBinding):
        return bound.model_copy(update={"bound": copy})
    return copy


def _text_of(message: Any) -> str:
    from matrioska.model.calls import message_text

    return message_text(message).strip()


def sample_texts(
    llm: Any, bound: Runnable | None, messages: list[BaseMessage], samples: int, temperature: float | None
) -> list[Sample]:
    """K candidates for `messages` from `bound` (the model, or it bound to a reply grammar):
    one request with `n` on an OpenAI-compatible server, one batched generate of K rows in
    LocalLLM, else K requests at once. In the order the backend returned them."""
    runnable = bound if bound is not None else llm
    mode = sampling_mode(runnable)
    started = time.perf_counter()
    if mode in ("n", "rows"):
        # stream=False: under a streaming callback (LangGraph's "messages" mode) ChatOpenAI would
        # stream the request, and a stream carries the first choice only.
        settings: dict[str, Any] = {"n": samples, "stream": False} if mode == "n" else {"samples": samples}
        if temperature is not None:
            if mode == "n":
                settings["temperature"] = temperature
            else:
                base = _base(runnable)
                own = (getattr(base, "generation_kwargs", {}) or {}).get("top_p") or getattr(base, "top_p", None)
                top_p = float(own or 0.95)
                settings["pipeline_kwargs"] = {"do_sample": True, "temperature": temperature, "top_p": top_p}
        collector = _Choices()
        first = runnable.bind(**settings).invoke(messages, config={"callbacks": [collector]})
        seconds = time.perf_counter() - started
        found = [g.message for g in collector.generations if getattr(g, "message", None) is not None]
        if not found:
            found = [first]
        return [Sample(_text_of(m), m, seconds) for m in found[:samples]]
    one = _with_temperature(runnable, temperature) if temperature is not None else runnable

    def call(_: int) -> Sample:
        begun = time.perf_counter()
        message = one.invoke(messages)
        return Sample(_text_of(message), message, time.perf_counter() - begun)

    with ThreadPoolExecutor(max_workers=samples, thread_name_prefix="matrioska-sample") as pool:
        return list(pool.map(call, range(samples)))
