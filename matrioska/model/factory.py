"""One model string for every backend.

- a Hugging Face hub id or a local directory -> `LocalLLM` (4-bit by default);
- `provider:model` -> LangChain's `init_chat_model` (`ollama:mistral`, `openai:gpt-4o-mini`,
  `openai:NAME` with `base_url` for vLLM, llama.cpp server, LM Studio...). Provider packages are
  optional extras; a missing one is a one-line `ModelLoadError` naming the extra.

Every failure a user can fix (unknown provider, missing package, unreachable server, missing
path, no CUDA) is a `ModelLoadError` raised here, before a run starts.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from langchain_core.language_models import BaseChatModel

from ..defaults import ROLES
from ..errors import ModelLoadError
from .servers import forget_server, served_models, server_context_tokens, server_kind

__all__ = ["ROLES", "load_chat_model", "cached_chat_model", "is_provider_spec", "check_reachable"]

# Extras of this package that install a provider's LangChain integration.
PROVIDER_EXTRAS = {"openai": "openai", "ollama": "ollama"}
_PROVIDER_RE = re.compile(r"^([a-z][a-z0-9_]*):(.+)$")
_OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"


def is_provider_spec(spec: str) -> bool:
    """True for `provider:model` (and not for a local path that happens to contain a colon)."""
    return bool(_PROVIDER_RE.match(spec)) and not Path(spec).expanduser().exists()


def check_reachable(url: str, *, timeout: float = 3.0) -> None:
    """Fail fast, with what to do, when nothing listens at a server's address."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ModelLoadError(
            f"cannot reach the model server at {url} ({reason}); start the server or fix --base-url"
        ) from None


def _provider_model(
    provider: str, name: str, *, base_url: str | None, temperature: float | None, max_new_tokens: int | None = None
) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise ModelLoadError("provider:model strings need the langchain package: pip install langchain") from None
    kwargs: dict[str, Any] = {}
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_new_tokens:
        # The generation budget reaches every backend: without it a server may generate to the
        # end of its context (minutes on a small machine).
        kwargs["num_predict" if provider == "ollama" else "max_tokens"] = int(max_new_tokens)
    if provider == "openai":
        kwargs["stream_usage"] = True  # the server's token counts, also when the reply streams
    if base_url:
        kwargs["base_url"] = base_url
        if provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore the key
    try:
        model = init_chat_model(name, model_provider=provider, **kwargs)
    except ImportError as exc:
        extra = PROVIDER_EXTRAS.get(provider)
        how = f"pip install 'matrioska[{extra}]'" if extra else f"install LangChain's {provider} package"
        raise ModelLoadError(f"the {provider!r} provider is not installed: {how} ({exc})".split("\n")[0]) from None
    except ValueError as exc:
        if "provider" in str(exc).lower():
            raise ModelLoadError(
                f"unknown model provider {provider!r}; use a hub id, a local model directory, or "
                f"provider:model with a LangChain provider such as openai:NAME or ollama:NAME"
            ) from None
        raise ModelLoadError(f"cannot create the {provider!r} model {name!r}: {exc}".split("\n")[0]) from None
    except Exception as exc:  # e.g. openai's "api_key must be set"
        hint = "; set OPENAI_API_KEY, or --base-url for a local server" if provider == "openai" else ""
        raise ModelLoadError(f"cannot create the {provider!r} model {name!r}: {exc}{hint}".split("\n")[0]) from None
    # Creating a client connects to nothing: check a local server's address now, not mid-run.
    if base_url:
        check_reachable(base_url)
        if provider == "openai":
            # One `GET /models`: vLLM and SGLang say how long their context is (prompts are then
            # budgeted to fit it), and each server which it is (the request field that takes a
            # module reply's grammar: `backend.grammar_binding`).
            forget_server(base_url)  # a new model for a new run: a grammar refused before is tried again
            entries = served_models(base_url)
            found: dict[str, Any] = {"server_kind": server_kind(base_url, entries=entries)}
            reported = server_context_tokens(base_url, name, entries=entries)
            if reported:
                found["context_tokens"] = reported
            model.metadata = {**(model.metadata or {}), **found}
    elif provider == "ollama":
        check_reachable(os.environ.get("OLLAMA_HOST", _OLLAMA_DEFAULT_URL))
    return model


def load_chat_model(
    spec: str,
    *,
    base_url: str | None = None,
    load_in_4bit: bool = True,
    temperature: float | None = None,
    **local_kwargs: Any,
) -> BaseChatModel:
    """Turn a model string into a chat model (see the module docstring).

    `local_kwargs` (device, max_new_tokens, constrain_json, ...) go to `LocalLLM`.
    """
    spec = (spec or "").strip()
    if not spec:
        raise ModelLoadError("empty model name; pass a hub id, a local model directory or provider:model")
    match = _PROVIDER_RE.match(spec)
    if match and is_provider_spec(spec):
        return _provider_model(
            match.group(1),
            match.group(2),
            base_url=base_url,
            temperature=temperature,
            max_new_tokens=local_kwargs.get("max_new_tokens"),
        )
    if base_url:
        raise ModelLoadError(
            f"--base-url is for provider:model strings (e.g. openai:{spec}); {spec!r} is loaded locally"
        )
    from .builtin import looks_builtin, pull, require, resolve
    from .local import LocalLLM

    builtin = resolve(spec)
    if builtin is None and looks_builtin(spec):
        require(spec)  # UnknownModelError: one line naming the built-in models
    if builtin is not None:
        # fetched into the user cache on first use; a small model needs no 4-bit
        if temperature is not None:
            local_kwargs["temperature"] = temperature
        return LocalLLM(str(pull(builtin)), load_in_4bit=False, **local_kwargs)

    if temperature is not None:
        local_kwargs["temperature"] = temperature
    return LocalLLM(spec, load_in_4bit=load_in_4bit, **local_kwargs)


_CACHE: dict[tuple[Any, ...], BaseChatModel] = {}


def cached_chat_model(spec: str, **kwargs: Any) -> BaseChatModel:
    """`load_chat_model`, loaded once per process and settings (Studio sends only strings)."""
    key = (spec, *sorted(kwargs.items()))
    if key not in _CACHE:
        _CACHE[key] = load_chat_model(spec, **kwargs)
    return _CACHE[key]
