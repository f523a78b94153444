"""Backends: what each family of chat model can do, asked in one place.

A run drives every model through LangChain's `invoke` / `stream`; what differs between backends
is what else a request can carry. `backend_of(llm)` looks through `.bind(...)` wrappers to the
chat model, picks its family once, and answers through one small protocol:

- `name`: the model's name for provenance;
- `reply(messages)`: one reply (`invoke`);
- `samples(messages, count, temperature)`: K replies to one prompt, in one request where the
  backend can (`sampling_mode`: "n", "rows" or "parallel"), at a temperature (`temperature()`:
  the model's own);
- `under_schema(schema, name)`: the model bound to answer JSON under a schema, or None;
- `under_grammar(frame)`: the model bound to answer a module under its reply frame, with the
  engine's name, or None (`under_gbnf(gbnf)`: the same for a GBNF text, on a server;
  `under_function(frame)`: for one function under its planned first line);
- `count_tokens(text)` / `counter`: tokens as the prompt budget counts them.

The families:
- `LocalBackend`: `LocalLLM`, in process: token-level constraints (llguidance), K samples as
  rows of one batched `generate`;
- `OpenAIBackend`: LangChain's OpenAI client on the hosted API or Azure: `response_format` of
  type json_schema, K samples with `n`; `OpenAIServerBackend`: that client on an
  OpenAI-compatible server (vLLM, SGLang, llama.cpp server, LM Studio), which also takes a reply
  grammar in the server's own request field (`servers.server_grammar`);
- `OllamaBackend`: `format=` the schema, no grammar;
- `Backend`: any other chat model: no schema, no grammar (the reply is parsed, repaired and
  re-asked), K samples as K requests at once.

A model's own `with_json_schema` / `with_reply_grammar` come first, whatever its family: that
is how `LocalLLM` constrains in process, and any model offering them is driven the same way.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any, Protocol

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding

from .budget import TokenCounter
from .servers import chat_model_of, server_grammar, server_url

__all__ = [
    "Backend",
    "LocalBackend",
    "OpenAIBackend",
    "OpenAIServerBackend",
    "OllamaBackend",
    "backend_of",
    "grammar_binding",
    "SCHEMA_NAME",
    "IN_PROCESS",
]

SCHEMA_NAME = "matrioska_output"
"""The name a schema-constrained request gives its schema (OpenAI's `json_schema.name`)."""
IN_PROCESS = "llguidance, in process"
"""The engine that holds a model to its reply grammar through the model's own `with_reply_grammar`."""


class Frame(Protocol):
    """A reply frame (`grammar.ReplyFrame`, `grammar.FunctionFrame`), as a backend needs it."""

    def gbnf(self) -> str: ...


class _Choices(BaseCallbackHandler):
    """Collects every generation of the chat model calls it sees (`on_llm_end`): the K choices
    of one call reach it as one `LLMResult`, where `invoke` returns only the first."""

    def __init__(self) -> None:
        self.generations: list[Any] = []

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        for row in response.generations or []:
            self.generations.extend(row)


class Backend:
    """Any LangChain chat model, driven through `invoke` / `stream` only: the plain fallback,
    and the base every family refines.

    `llm` is the runnable as the caller has it (maybe `.bind(...)`-wrapped), `model` the chat
    model under its bindings and `bound` the keyword arguments they bind (`chat_model_of`).
    """

    family = "chat model"

    def __init__(self, llm: Any, model: Any, bound: dict[str, Any]) -> None:
        self.llm, self.model, self.bound = llm, model, bound

    @property
    def name(self) -> str:
        """The model's name for provenance: its model id or name, else its class."""
        for attribute in ("model_id", "model_name", "model"):
            value = getattr(self.llm, attribute, None)
            if isinstance(value, str) and value:
                return value
        return type(self.llm).__name__

    def reply(self, messages: list[BaseMessage], config: Any = None) -> Any:
        """One reply to `messages` (the message `invoke` returns)."""
        return self.llm.invoke(messages, config=config)

    # -- constrained replies ------------------------------------------------------------------

    def _own(self, hook: str) -> Any:
        """The model's own constraint method (`with_json_schema`, `with_reply_grammar`), or None."""
        method = getattr(self.llm, hook, None)
        return method if callable(method) else None

    def under_schema(self, schema: dict[str, Any], name: str = SCHEMA_NAME) -> Runnable | None:
        """The model bound to generate JSON under `schema`, or None when it cannot (the caller
        then extracts, repairs and re-asks). The model's own `with_json_schema` answers first
        (None from it is final: constraints switched off)."""
        own = self._own("with_json_schema")
        if own is not None:
            return own(schema)
        return self._bind_schema(schema, name)

    def _bind_schema(self, schema: dict[str, Any], name: str) -> Runnable | None:
        """The family's own request field for a schema; a plain chat model has none."""
        return None

    def under_grammar(self, frame: Frame) -> tuple[Runnable, str] | None:
        """The model bound to answer a module under `frame`, and the engine's name ("llguidance,
        in process", "vLLM", ...); None: the reply is parsed and repaired as any model's. The
        model's own `with_reply_grammar` answers first (None from it is final)."""
        own = self._own("with_reply_grammar")
        if own is not None:
            bound = own(frame)
            return (bound, IN_PROCESS) if bound is not None else None
        return self._bind_grammar(frame)

    def _bind_grammar(self, frame: Frame) -> tuple[Runnable, str] | None:
        """The family's own way to send a reply grammar; a plain chat model has none."""
        return None

    def under_function(self, frame: Frame) -> tuple[Runnable, str] | None:
        """The model bound to answer one function under `frame` (`grammar.FunctionFrame`: its
        planned first line, then its body), and the engine's name; None: the reply is read as
        any model's (`functions.write.extract_function`). The model's own
        `with_function_grammar` answers first (None from it is final); a server takes the
        frame's GBNF as it takes a module's."""
        own = self._own("with_function_grammar")
        if own is not None:
            bound = own(frame)
            return (bound, IN_PROCESS) if bound is not None else None
        return self._bind_grammar(frame)

    def under_gbnf(self, gbnf: str) -> tuple[Runnable, str] | None:
        """The model bound to send `gbnf` (root rule `root`) in its server's request, and the
        server's name; None for a backend that takes none."""
        return None

    # -- K samples ----------------------------------------------------------------------------

    @property
    def sampling_mode(self) -> str:
        """How K candidates are asked of this model: "n" (one request), "rows" (one batched
        generate) or "parallel" (K requests at once)."""
        return "parallel"

    def temperature(self) -> float | None:
        """The temperature the model samples at (0 when it decodes greedily; None: not known)."""
        value = getattr(self.model, "temperature", None)
        return float(value) if isinstance(value, (int, float)) else None

    def at_temperature(self, temperature: float) -> Any:
        """The runnable at another temperature: a copy of the chat model with its `temperature`
        field set (call kwargs are not read by every chat model); unchanged when it has none."""
        if not hasattr(self.model, "temperature") or not hasattr(self.model, "model_copy"):
            return self.llm
        copy = self.model.model_copy(update={"temperature": temperature})
        if isinstance(self.llm, RunnableBinding):
            return self.llm.model_copy(update={"bound": copy})
        return copy

    def samples(
        self, messages: list[BaseMessage], count: int, temperature: float | None = None
    ) -> list[tuple[Any, float]]:
        """K replies to `messages` with the seconds of each one's request, in the order the
        backend returned them: here K requests at once (`invoke` from K threads)."""
        one = self.at_temperature(temperature) if temperature is not None else self.llm

        def call(_: int) -> tuple[Any, float]:
            begun = time.perf_counter()
            message = one.invoke(messages)
            return message, time.perf_counter() - begun

        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="matrioska-sample") as pool:
            return list(pool.map(call, range(count)))

    def _in_one_request(
        self, messages: list[BaseMessage], count: int, settings: dict[str, Any]
    ) -> list[tuple[Any, float]]:
        """K replies of one call bound to `settings`, collected from `on_llm_end` (`invoke`
        returns only the first); each carries the call's seconds."""
        started = time.perf_counter()
        collector = _Choices()
        first = self.llm.bind(**settings).invoke(messages, config={"callbacks": [collector]})
        seconds = time.perf_counter() - started
        found = [g.message for g in collector.generations if getattr(g, "message", None) is not None]
        return [(message, seconds) for message in (found or [first])[:count]]

    # -- tokens -------------------------------------------------------------------------------

    @cached_property
    def counter(self) -> TokenCounter:
        """The prompt budget's counter: the model's own tokenizer when it has one, else an estimate."""
        return TokenCounter(self.llm)

    def count_tokens(self, text: str) -> int:
        return self.counter.text(text)


class LocalBackend(Backend):
    """`LocalLLM`, in process: its `with_json_schema` / `with_reply_grammar` (llguidance), and
    K samples as K rows of one batched `generate` (`samples=K`)."""

    family = "local"

    @property
    def sampling_mode(self) -> str:
        return "rows"

    def temperature(self) -> float | None:
        kwargs = getattr(self.model, "generation_kwargs", {}) or {}
        return float(kwargs.get("temperature") or 0.0) if kwargs.get("do_sample") else 0.0

    def samples(
        self, messages: list[BaseMessage], count: int, temperature: float | None = None
    ) -> list[tuple[Any, float]]:
        settings: dict[str, Any] = {"samples": count}
        if temperature is not None:
            own = (getattr(self.model, "generation_kwargs", {}) or {}).get("top_p") or getattr(
                self.model, "top_p", None
            )
            settings["pipeline_kwargs"] = {"do_sample": True, "temperature": temperature, "top_p": float(own or 0.95)}
        return self._in_one_request(messages, count, settings)


class OpenAIBackend(Backend):
    """LangChain's OpenAI client on the hosted API (or Azure): a schema as `response_format`,
    K samples as one request with `n` (unless the model streams: a stream carries one choice)."""

    family = "openai"

    def _bind_schema(self, schema: dict[str, Any], name: str) -> Runnable | None:
        return self.llm.bind(
            response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
        )

    @property
    def sampling_mode(self) -> str:
        return "parallel" if getattr(self.model, "streaming", False) else "n"

    def samples(
        self, messages: list[BaseMessage], count: int, temperature: float | None = None
    ) -> list[tuple[Any, float]]:
        if self.sampling_mode != "n":
            return super().samples(messages, count, temperature)
        # stream=False: under a streaming callback (LangGraph's "messages" mode) ChatOpenAI would
        # stream the request, and a stream carries the first choice only.
        settings: dict[str, Any] = {"n": count, "stream": False}
        if temperature is not None:
            settings["temperature"] = temperature
        return self._in_one_request(messages, count, settings)


class OpenAIServerBackend(OpenAIBackend):
    """LangChain's OpenAI client on an OpenAI-compatible server (a base URL): as the hosted API,
    plus a reply grammar where the server takes one (vLLM, SGLang, llama.cpp)."""

    family = "openai-server"

    def _bind_grammar(self, frame: Frame) -> tuple[Runnable, str] | None:
        return self.under_gbnf(frame.gbnf())

    def under_gbnf(self, gbnf: str) -> tuple[Runnable, str] | None:
        """Bound through the client's `extra_body`, which reaches the request's JSON, merged with
        any the model or an earlier binding already sends. The server's kind is the one
        `load_chat_model` read (`metadata["server_kind"]`), or asked once for a model built by
        hand; a server that refused a grammar gets none (`servers.mark_grammar_refused`)."""
        found = server_grammar(server_url(self.model), getattr(self.model, "metadata", None) or {})
        if found is None:
            return None
        label, fields = found
        body = {**(getattr(self.model, "extra_body", None) or {}), **(self.bound.get("extra_body") or {})}
        return self.llm.bind(extra_body={**body, **fields(gbnf)}), label


class OllamaBackend(Backend):
    """Ollama: a schema as its `format`; no reply grammar; K samples as K requests."""

    family = "ollama"

    def _bind_schema(self, schema: dict[str, Any], name: str) -> Runnable | None:
        return self.llm.bind(format=schema)


# The chat model's `_llm_type` -> its family.
_FAMILIES: dict[str, type[Backend]] = {
    "matrioska-local-llm": LocalBackend,
    "openai-chat": OpenAIBackend,
    "azure-openai-chat": OpenAIBackend,
    "chat-ollama": OllamaBackend,
}


def backend_of(llm: Any) -> Backend:
    """The backend of `llm` (a chat model, maybe `.bind(...)`-wrapped), picked once by its chat
    model's `_llm_type`; LangChain's OpenAI client with a base URL is a server's."""
    model, bound = chat_model_of(llm)
    kind = str(getattr(model, "_llm_type", "") or "")
    family = _FAMILIES.get(kind, Backend)
    if kind == "openai-chat" and server_url(model):
        family = OpenAIServerBackend
    return family(llm, model, bound)


def grammar_binding(llm: Any, gbnf: str) -> tuple[Any, str] | None:
    """`llm` bound to send `gbnf` (a GBNF / xgrammar EBNF grammar, root rule `root`) in its
    server's own request field, and the server's name ("vLLM", "SGLang", "llama.cpp"); None for
    a backend that takes none (Ollama, hosted APIs, an unknown server) or a server that refused
    one (`servers.mark_grammar_refused`)."""
    return backend_of(llm).under_gbnf(gbnf)
