"""Helpers shared by the nodes: calling the model and emitting progress events."""

from __future__ import annotations

import json
import time
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from ..errors import MatrioskaError
from .budget import shrink_value
from .fit import Fit, fit_messages, refit
from .ledger import count_call
from .retry import is_transient_backend_error
from .servers import is_context_length_error, mark_grammar_refused, server_said


class GenerationMeter:
    """The output tokens and seconds of one module's model calls: the figures printed for it.

    Tokens come from the server's `usage` when the reply carries it (OpenAI-compatible servers,
    Ollama), else from the model's own tokenizer (`LocalLLM`), else they are estimated at four
    characters a token and said to be. Seconds are each call's own wall time, so modules of one
    wave, generated at once, each get their own rate (never a share of a counter they all fed).
    """

    def __init__(self, counter: Any = None) -> None:
        self.counter = counter
        self.tokens = 0
        self.seconds = 0.0
        self.calls = 0
        self.largest_call = 0
        self.input_tokens = 0  # the prompts' tokens, where the server's usage says
        self.sources: set[str] = set()
        self.shortened: list[str] = []  # what was cut from its prompts to fit the context (issue 42)

    def add(self, message: Any, text: str, seconds: float, choices: int = 1) -> None:
        """One call's reply; `choices`: the replies one request with `n` returned, whose usage
        counts them all (the largest call is then the mean of one choice, as a budget bounds each)."""
        self.seconds += seconds
        usage = getattr(message, "usage_metadata", None) or {}
        if usage.get("output_tokens"):
            tokens = int(usage["output_tokens"])
            self.input_tokens += int(usage.get("input_tokens") or 0)
            self.sources.add("server")
        elif self.counter is not None and getattr(self.counter, "exact", False):
            tokens = self.counter.text(text) if text else 0
            self.sources.add("tokenizer")
        else:
            tokens = (len(text) + 3) // 4
            self.sources.add("estimate (4 characters a token)")
        self.tokens += tokens
        self.calls += 1
        self.largest_call = max(self.largest_call, -(-tokens // max(1, choices)))

    def report(self) -> dict[str, Any]:
        rate = self.tokens / self.seconds if self.seconds > 0 else 0.0
        return {
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(rate, 2),
            "calls": self.calls,
            "largest_call_tokens": self.largest_call,
            "input_tokens": self.input_tokens,
            "source": " + ".join(sorted(self.sources)) or "none",
            **({"shortened": self.shortened} if self.shortened else {}),
        }


def call_model(llm: Runnable, messages: list[BaseMessage], meter: GenerationMeter | None = None) -> str:
    """One call of a chat model (or one bound by `structured.constrained`) through `invoke`.

    Returns the reply's text ("" when the model returned nothing); `meter` adds its tokens and
    seconds.
    """
    started = time.perf_counter()
    message = llm.invoke(messages)
    text = message_text(message).strip()
    seconds = time.perf_counter() - started
    if meter is not None:
        meter.add(message, text, seconds)
    count_reply(message, text, seconds)
    return text


def count_reply(message: Any, text: str, seconds: float, requests: int = 1) -> None:
    """One request in the run's per-step ledger (`ledger.count_call`): the server's usage where
    the reply carries it, else 4 characters a token."""
    usage = getattr(message, "usage_metadata", None) or {}
    tokens = int(usage.get("output_tokens") or 0) or (len(text) + 3) // 4
    count_call(tokens, seconds, int(usage.get("input_tokens") or 0), requests)


def call_structured(
    llm: Runnable,
    schema_llm: Runnable | None,
    messages: list[BaseMessage],
    runtime: Any,
    meter: GenerationMeter | None = None,
    *,
    event: str = "structured_output_refused",
    on_refused: Any = None,
    call: Any = None,
    **fields: Any,
) -> Any:
    """Call `schema_llm` (the model bound to a JSON schema or a reply grammar) when there is
    one, else `llm`.

    The prompt is fitted to the model's context first (`fit.fit_messages`: counted by the
    server's tokenizer, the local one or an estimate, shortened by rule when over), and a server
    that still refuses it for its length gets it shortened to what it said (`fit.refit`), twice
    at most: only a prompt that cannot be shortened goes up, as the typed error. What was cut is
    said (`prompt_shortened`, with `fields`) and kept in `meter`.

    A backend that refuses structured output (an old server answering 400 to
    `response_format`, a grammar its engine rejects) is called again without it, once, and the
    reply is repaired like any other; `event` (with `fields`) says so and `on_refused()` runs
    first. Transient failures still go to the retry policy and Matrioska's own errors up.
    `call(model, messages, meter)` makes the call instead of `call_model` (several candidates:
    `nodes.executor._sampler`); its result is returned as it is.
    """
    target = schema_llm if schema_llm is not None else llm
    messages, fitted = fit_messages(target, messages)
    _said_fit(runtime, meter, fitted, fields)
    for attempt in range(3):
        try:
            return _call_once(llm, schema_llm, messages, runtime, meter, event, on_refused, call, fields)
        except Exception as exc:
            if attempt == 2 or not is_context_length_error(exc):
                raise
            again = refit(target, messages, server_said(exc))
            if again is None:
                raise
            messages = again[0]
            _said_fit(runtime, meter, again[1], {**fields, "refused": True})
    raise AssertionError("unreachable")  # pragma: no cover


def _said_fit(runtime: Any, meter: GenerationMeter | None, fitted: Fit | None, fields: dict[str, Any]) -> None:
    if fitted is None or not fitted.cuts:
        return
    if meter is not None:
        meter.shortened += [c for c in fitted.cuts if c not in meter.shortened]
    emit(
        runtime,
        "prompt_shortened",
        **fields,
        tokens=fitted.tokens,
        budget=fitted.budget,
        counted_by=fitted.source,
        cuts=fitted.cuts,
    )


def _call_once(
    llm: Runnable,
    schema_llm: Runnable | None,
    messages: list[BaseMessage],
    runtime: Any,
    meter: GenerationMeter | None,
    event: str,
    on_refused: Any,
    call: Any,
    fields: dict[str, Any],
) -> Any:
    call = call or call_model
    if schema_llm is None:
        return call(llm, messages, meter)
    try:
        return call(schema_llm, messages, meter)
    except MatrioskaError:
        raise
    except Exception as exc:
        if is_transient_backend_error(exc) or is_context_length_error(exc):
            raise  # to the retry policy / a typed error: the same prompt without a schema fails too
        partial = cut_reply(exc) if call is call_model else None
        if partial:
            # the server followed the schema and ran out of tokens (the OpenAI client refuses to
            # hand over such a reply): the text so far is repaired like any other, never thrown
            # away for a free-form answer (seen on the 0.5B under vLLM: scenarios cut at the budget)
            emit(runtime, "structured_output_cut", **fields, chars=len(partial))
            return partial
        if on_refused is not None:
            on_refused()
        emit(runtime, event, **fields, error=f"{type(exc).__name__}: {exc}"[:300])
        return call(llm, messages, meter)


def call_under_grammar(
    llm: Runnable,
    bound: Runnable | None,
    messages: list[BaseMessage],
    runtime: Any,
    meter: GenerationMeter | None = None,
    *,
    call: Any = None,
    **fields: Any,
) -> tuple[Any, bool]:
    """`call_structured` with `bound` the model under a reply grammar: a server refusing the
    grammar is remembered (`servers.mark_grammar_refused`: its later requests go without one)
    and asked again plainly, said in a `reply_grammar_refused` event with `fields`. Returns the
    reply (or the `call`'s result) and whether the grammar was refused."""
    refused: list[bool] = []

    def refuse() -> None:
        mark_grammar_refused(llm)
        refused.append(True)

    got = call_structured(
        llm, bound, messages, runtime, meter, event="reply_grammar_refused", on_refused=refuse, call=call, **fields
    )
    return got, bool(refused)


def cut_reply(exc: BaseException) -> str | None:
    """The text of a structured reply that an OpenAI-compatible client refused because the server
    stopped it at its token budget (`openai.LengthFinishReasonError` carries the completion)."""
    completion = getattr(exc, "completion", None)
    if type(exc).__name__ != "LengthFinishReasonError" or completion is None:
        return None
    try:
        return str(completion.choices[0].message.content or "")
    except (AttributeError, IndexError, TypeError):
        return None


def emit(runtime: Any, event: str, **data: Any) -> None:
    """Send a progress event on `stream_mode="custom"` (a no-op when nobody listens)."""
    writer = getattr(runtime, "stream_writer", None)
    if writer is not None:
        writer({"event": event, **data})


def render_value(value: Any, limit: int | None = None, *, indent: int | None = None) -> str:
    """JSON of a value; past `limit` characters shortened structurally with a note inside it,
    so the text is always valid JSON (see `budget.shrink_value`)."""
    if limit is not None:
        plain = json.loads(json.dumps(value, ensure_ascii=False, default=str))  # plain JSON types only
        value, _ = shrink_value(plain, limit)
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def message_text(message: BaseMessage | str) -> str:
    """The text of a chat model's reply, whether its content is a string or a list of blocks."""
    if isinstance(message, str):
        return message
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)
