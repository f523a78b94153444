"""Best of N (issue 27): K candidates of one module attempt, asked for in one request where the
backend can, at a sampling temperature.

How the K candidates are asked for, by backend (`sampling_mode`, `backend.Backend.samples`):
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

from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from .backend import backend_of
from .calls import GenerationMeter, count_reply, message_text

__all__ = [
    "DEFAULT_SAMPLE_TEMPERATURE",
    "sampling_mode",
    "sampling_temperature",
    "sample_texts",
    "Sample",
    "metered_sampler",
]

# The temperature candidates are sampled at when the run's own is 0 (greedy) and K > 1: greedy
# decoding would give K copies of one reply.
DEFAULT_SAMPLE_TEMPERATURE = 0.7


def sampling_mode(llm: Any) -> str:
    """How K candidates are asked of this model: "n", "rows" or "parallel" (see the module)."""
    return backend_of(llm).sampling_mode


def model_temperature(llm: Any) -> float | None:
    """The temperature a model samples at (0 when it decodes greedily; None: not known)."""
    return backend_of(llm).temperature()


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


def sample_texts(
    llm: Any, bound: Runnable | None, messages: list[BaseMessage], samples: int, temperature: float | None
) -> list[Sample]:
    """K candidates for `messages` from `bound` (the model, or it bound to a reply grammar):
    one request with `n` on an OpenAI-compatible server, one batched generate of K rows in
    LocalLLM, else K requests at once. In the order the backend returned them."""
    runnable = bound if bound is not None else llm
    got = backend_of(runnable).samples(messages, samples, temperature)
    return [Sample(message_text(message).strip(), message, seconds) for message, seconds in got]


def metered_sampler(llm: Any, count: int, temperature: float | None) -> Any:
    """A `calls.call_structured` call asking for `count` candidates in one request where the
    backend can, metered as candidates are: a server's usage once per request (`n`), else each
    candidate's text."""

    def call(runnable: Any, messages: list[BaseMessage], meter: GenerationMeter | None) -> list[str]:
        got = sample_texts(llm, runnable, messages, count, temperature)
        if got:
            usage = getattr(got[0].message, "usage_metadata", None) or {}
            mode = sampling_mode(runnable)
            once = mode == "n" and usage.get("output_tokens")
            for number, sample in enumerate(got[:1] if once else got):
                seconds = sample.seconds if number == 0 or len(got) == 1 else 0.0
                if meter is not None:
                    meter.add(sample.message, sample.text, seconds, choices=len(got) if once else 1)
                # one request for all (n, K rows of one batch), else one each (K requests at once)
                count_reply(
                    sample.message, sample.text, seconds, requests=1 if number == 0 or mode == "parallel" else 0
                )
        return [sample.text for sample in got]

    return call
