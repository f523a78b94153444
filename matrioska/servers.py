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
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from .errors import ContextLengthError, ModelServerError
from .retry import is_transient_backend_error

__all__ = ["served_models", "server_context_tokens", "is_context_length_error", "server_failure"]

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


def served_models(base_url: str, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The entries of `GET {base_url}/models` (empty when the server has no such list)."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout) as reply:  # noqa: S310
            body = json.loads(reply.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return []
    data = body.get("data") if isinstance(body, dict) else None
    return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []


def server_context_tokens(base_url: str, name: str, *, timeout: float = 5.0) -> int:
    """The context length the server reports for `name` (vLLM, SGLang: `max_model_len`), else 0."""
    for entry in served_models(base_url, timeout=timeout):
        if entry.get("id") == name or entry.get("root") == name:
            length = entry.get("max_model_len") or entry.get("context_length")
            return int(length) if isinstance(length, int) and length > 0 else 0
    return 0


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
