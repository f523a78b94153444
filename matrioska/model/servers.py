"""What a model server says about itself, and what its failures mean to a user.

OpenAI-compatible servers (vLLM, SGLang, llama.cpp server, LM Studio) list what they serve at
`GET /v1/models`; vLLM and SGLang add each model's context length (`max_model_len`), which
becomes the prompt budget so that prompts are shortened to fit before they are sent.

A server's failure reaches the run as the client's exception (openai, httpx). `server_failure`
turns it into a typed one-line `ModelServerError` that names the server's URL and what to do:
start it again (it stopped answering, after the retries), give it a longer context or pass
`--context-tokens` (the prompt was longer than its context), or fix the model name or the
server (any other error status, with the server's own message and, for an unknown model, the
names it does serve).

The same list says which server it is (each entry's `owned_by`: "vllm", "sglang", "llamacpp"),
and so which request field takes a reply grammar (`server_grammar`, used by
`backend.grammar_binding`): vLLM's `structured_outputs.grammar`, SGLang's `ebnf`, llama.cpp's
`grammar`. A server that refused a grammar once is remembered for the rest of the process
(`mark_grammar_refused`): its later requests go without one, on the parsed path.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

from ..errors import ContextLengthError, ModelServerError
from .retry import is_transient_backend_error

__all__ = [
    "served_models",
    "server_context_tokens",
    "server_kind",
    "kind_of_models",
    "chat_model_of",
    "server_url",
    "server_grammar",
    "mark_grammar_refused",
    "grammar_refused",
    "forget_server",
    "is_grammar_refusal",
    "is_context_length_error",
    "server_failure",
    "server_said",
]

# The request paths clients append to a base URL (OpenAI-compatible and Ollama's own API).
_ENDPOINTS = re.compile(r"/(chat/completions|completions|embeddings|api/chat|api/generate)/?$")
# How servers word a prompt longer than their context: vLLM and OpenAI ("maximum context
# length is N tokens"), SGLang ("longer than the model's context length"), llama.cpp
# ("exceeds the available context size"), Ollama / others ("context length exceeded").
_CONTEXT_WORDS = re.compile(
    r"maximum context length|context length of|longer than the model's context|exceeds the available context"
    r"|context[_ ]length[_ ]exceeded|context window|too many tokens|prompt is too long",
    re.IGNORECASE,
)
# How servers word a request field or grammar they cannot take: pydantic's "Extra inputs are
# not permitted" (a server validating strictly), "unknown field", a grammar that fails to parse
# or compile (xgrammar, llama.cpp's "Failed to parse grammar").
_GRAMMAR_WORDS = re.compile(
    r"grammar|structured[_ ]outputs?|ebnf|guided|xgrammar|extra (inputs|fields)|unknown (field|param)"
    r"|unrecognized|not permitted|not supported",
    re.IGNORECASE,
)


def served_models(base_url: str, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The entries of `GET {base_url}/models` (empty when the server has no such list)."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout) as reply:  # noqa: S310
            body = json.loads(reply.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return []
    data = body.get("data") if isinstance(body, dict) else None
    return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []


def server_context_tokens(
    base_url: str, name: str, *, timeout: float = 5.0, entries: list[dict[str, Any]] | None = None
) -> int:
    """The context length the server reports for `name` (vLLM, SGLang: `max_model_len`), else 0
    (`entries`: its `GET /models` list when the caller already has it)."""
    for entry in served_models(base_url, timeout=timeout) if entries is None else entries:
        if entry.get("id") == name or entry.get("root") == name:
            length = entry.get("max_model_len") or entry.get("context_length")
            return int(length) if isinstance(length, int) and length > 0 else 0
    return 0


# What `owned_by` says in `GET /models` -> the server's kind.
_KINDS = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llamacpp", "llama.cpp": "llamacpp"}
# A reply grammar's request body, and its name in what is printed, per kind.
_GRAMMAR_FIELDS: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "vllm": ("vLLM", lambda gbnf: {"structured_outputs": {"grammar": gbnf}}),
    "sglang": ("SGLang", lambda gbnf: {"ebnf": gbnf}),
    "llamacpp": ("llama.cpp", lambda gbnf: {"grammar": gbnf}),
}
_LOCK = threading.Lock()
_SERVER_KINDS: dict[str, str] = {}  # base URL -> kind, for the process
_GRAMMAR_REFUSED: set[str] = set()  # base URLs that refused a grammar


def _url_key(base_url: str) -> str:
    return str(base_url).rstrip("/")


def kind_of_models(entries: list[dict[str, Any]]) -> str:
    """The server's kind from its `GET /models` entries ("vllm", "sglang", "llamacpp"), or ""."""
    for entry in entries:
        kind = _KINDS.get(str(entry.get("owned_by") or "").strip().lower())
        if kind:
            return kind
    return ""


def server_kind(base_url: str, *, timeout: float = 5.0, entries: list[dict[str, Any]] | None = None) -> str:
    """Which server answers at `base_url`: "vllm", "sglang", "llamacpp", or "" (another, or
    none listing its models). Asked once per base URL in a process (`entries`: its
    `GET /models` list when the caller already has it)."""
    key = _url_key(base_url)
    if entries is not None:  # a fresh list: what it says replaces what was remembered
        kind = kind_of_models(entries)
        with _LOCK:
            _SERVER_KINDS[key] = kind
        return kind
    with _LOCK:
        if key in _SERVER_KINDS:
            return _SERVER_KINDS[key]
    kind = kind_of_models(served_models(key, timeout=timeout))
    with _LOCK:
        return _SERVER_KINDS.setdefault(key, kind)


def forget_server(base_url: str) -> None:
    """Forget what was remembered of the server at `base_url` (its kind, a refused grammar):
    a model loaded for it anew (a new run) asks again."""
    key = _url_key(base_url)
    with _LOCK:
        _SERVER_KINDS.pop(key, None)
        _GRAMMAR_REFUSED.discard(key)


def chat_model_of(llm: Any) -> tuple[Any, dict[str, Any]]:
    """The chat model under `llm`'s bindings (`.bind(...)`), and the keyword arguments bound."""
    bound: dict[str, Any] = {}
    seen = 0
    while hasattr(llm, "bound") and seen < 16:
        bound = {**(getattr(llm, "kwargs", None) or {}), **bound}
        llm, seen = llm.bound, seen + 1
    return llm, bound


def server_url(model: Any) -> str:
    """The base URL of an OpenAI client's server ("" for the hosted API, or another model)."""
    return _url_key(getattr(model, "openai_api_base", None) or "")


def server_grammar(base_url: str, metadata: dict[str, Any]) -> tuple[str, Callable[[str], dict[str, Any]]] | None:
    """The server at `base_url`'s name ("vLLM", "SGLang", "llama.cpp") and the request fields
    that carry a reply grammar there; None for the hosted API (no URL), a server of another kind
    or one that refused a grammar (`mark_grammar_refused`). The kind is the model's
    `metadata["server_kind"]` (read by `load_chat_model`), else asked here once."""
    url = _url_key(base_url)
    if not url:
        return None
    with _LOCK:
        if url in _GRAMMAR_REFUSED:
            return None
    kind = metadata["server_kind"] if "server_kind" in metadata else server_kind(url, timeout=3.0)
    return _GRAMMAR_FIELDS.get(kind)


def mark_grammar_refused(llm: Any) -> None:
    """Remember, for the rest of the process, that `llm`'s server refuses reply grammars: its
    later requests go without one (`server_grammar` answers None)."""
    url = server_url(chat_model_of(llm)[0])
    if url:
        with _LOCK:
            _GRAMMAR_REFUSED.add(url)


def grammar_refused(llm: Any) -> bool:
    """Whether `llm`'s server was marked as refusing reply grammars."""
    url = server_url(chat_model_of(llm)[0])
    with _LOCK:
        return bool(url) and url in _GRAMMAR_REFUSED


def is_grammar_refusal(exc: BaseException) -> bool:
    """A server refusing a request for its grammar: a 400 / 422 (or llama.cpp's 500 for a
    grammar that does not parse) whose message names the grammar or an unknown field."""
    status = _status(exc)
    if status not in (400, 422, 500) or is_context_length_error(exc):
        return False
    return bool(_GRAMMAR_WORDS.search(_server_message(exc)))


def _request_url(exc: BaseException) -> str | None:
    for holder in (exc, getattr(exc, "response", None)):
        try:
            request = getattr(holder, "request", None)  # httpx raises when a request was never set
        except RuntimeError:
            request = None
        url = getattr(request, "url", None)
        if url is not None:
            return _ENDPOINTS.sub("", str(url))
    return None


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _server_message(exc: BaseException) -> str:
    """The server's own words: the `message` of its JSON error body, else the exception's text."""
    body = getattr(exc, "body", None)
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or (error.get("message") if isinstance(error, dict) else error)
    text = str(message or exc or type(exc).__name__)
    return " ".join(text.split())[:400]


def server_said(exc: BaseException) -> str:
    """The server's own words about a failed request (its JSON error's `message`)."""
    return _server_message(exc)


def is_context_length_error(exc: BaseException) -> bool:
    """A server refusing a prompt longer than its context (a 400/413, never worth a retry)."""
    status = _status(exc)
    return status in (400, 413, 422) and bool(_CONTEXT_WORDS.search(_server_message(exc)))


def server_failure(exc: BaseException, thread_id: str) -> ModelServerError | None:
    """The typed error for a model server's failure that stopped run `thread_id`, or None when
    `exc` did not come from a server (no request URL and no HTTP status)."""
    url, status = _request_url(exc), _status(exc)
    if url is None and status is None:
        return None
    where = f"the model server at {url}" if url else "the model server"
    said = _server_message(exc)
    if is_context_length_error(exc):
        return ContextLengthError(
            f"{where} refused a prompt longer than its context ({status}: {said}); give the server a longer "
            f"context (vLLM: --max-model-len) or pass --context-tokens N below its context, so prompts are "
            f"shortened to fit",
            thread_id=thread_id,
            url=url,
            status=status,
        )
    if is_transient_backend_error(exc):
        what = f"kept failing ({status}: {said})" if status else f"stopped answering ({type(exc).__name__}: {said})"
        return ModelServerError(
            f"{where} {what} through every retry; start it again", thread_id=thread_id, url=url, status=status
        )
    advice = "fix the request's model name or the server"
    if status in (401, 403):
        advice = "check the API key the server expects (OPENAI_API_KEY)"
    elif status == 404 and url:
        names = [str(entry.get("id")) for entry in served_models(url, timeout=3.0) if entry.get("id")]
        if names:
            advice = f"it serves {', '.join(names[:8])}: use --model openai:{names[0]}"
    return ModelServerError(
        f"{where} refused the request ({status}: {said}); {advice}", thread_id=thread_id, url=url, status=status
    )
