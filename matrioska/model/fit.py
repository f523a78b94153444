"""Every request fits the model's context (issue 42): measured before it is sent, shortened by
rule when it is over, shortened again when a server still refuses it for its length.

**Measured** with the server's own tokenizer where it has one (`POST /tokenize`: vLLM and SGLang
take the chat messages and answer `count`; llama.cpp takes text and answers `tokens`), else the
model's local tokenizer (`LocalLLM`), else a conservative estimate (3 characters a token, plus a
few tokens a message). What a server's tokenizer endpoint answers is remembered per server: one
that has none is not asked again.

**The budget** is the context the server reported (`GET /v1/models`, kept in the model's
`metadata["context_tokens"]`; a local model's config) less the reply's `max_tokens` bound to the
request; a model whose context is not known is sent as it is, and fitted when it refuses.

**Shortened by rule**, each step only while the prompt is still over, each said in `cuts`:

1. older evidence first: the earliest exchanges after the first request (an earlier reply and
   what was wrong with it) are dropped, the last one kept;
2. file bodies down to the failing function: in fenced code, the functions a traceback in the
   prompt names keep their bodies, the other functions keep their first line;
3. interfaces down to signatures: the remaining code keeps only its `def`, `class`,
   `function` and import lines;
4. the middle of the longest message is cut, with a note saying how much.

**Never a stopped run**: a server that refuses a prompt for its length (its message says how
long its context is and how long the prompt was) gets it shortened to that once more
(`refit`); only a prompt that cannot be shortened further goes up as the typed error.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage

from .budget import CHARS_PER_TOKEN, MESSAGE_OVERHEAD, TokenCounter, known_context
from .servers import chat_model_of, server_kind, server_url

__all__ = ["Fit", "count_tokens", "fit_messages", "refit", "reply_tokens", "prompt_context", "shorten"]

_MARGIN = 16  # tokens kept free: chat templates differ a little between counters
_TOKENIZE_TIMEOUT = 10.0
_LOCK = threading.Lock()
_TOKENIZERS: dict[str, str] = {}  # base URL -> "messages" | "text" | "" (none)
_TRACE_FUNCTION = re.compile(r'File "[^"]+", line \d+, in (\w+)|at (\w+) \(')
_DEF = re.compile(r"^(\s*)(async\s+def|def|class|function|async\s+function)\s+(\w+)")
_KEEP_LINE = re.compile(r"^\s*(async\s+def|def|class|function|async\s+function|import|from\s+\S+\s+import|export)\b")
_FENCE = re.compile(r"(```[^\n]*\n)(.*?)(\n```)", re.S)
_REFUSED_FIGURES = re.compile(
    r"maximum context length is (\d+).*?(?:has|requested|resulted in) (\d+) (?:input )?tokens?"
    r"|maximum context length is (\d+)",
    re.S,
)


@dataclass
class Fit:
    """What fitting one request did: its tokens as counted (and how), the budget, the cuts."""

    tokens: int
    budget: int
    source: str
    cuts: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- measuring


def _roles(messages: list[BaseMessage]) -> list[dict[str, str]]:
    names = {"human": "user", "ai": "assistant", "system": "system"}
    return [{"role": names.get(m.type, "user"), "content": str(m.content)} for m in messages]


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=_TOKENIZE_TIMEOUT) as reply:  # noqa: S310 - the user's server
        return json.loads(reply.read().decode("utf-8", "replace"))


def _server_count(model: Any, messages: list[BaseMessage]) -> int | None:
    """The prompt's tokens by the server's own tokenizer, or None (no server, no endpoint)."""
    base = server_url(model)
    if not base:
        return None
    root = re.sub(r"/v1$", "", base)
    with _LOCK:
        way = _TOKENIZERS.get(base)
    if way == "":
        return None
    name = str(getattr(model, "model_name", "") or "")
    tries = [way] if way else (["text"] if server_kind(base, timeout=3.0) == "llamacpp" else ["messages", "text"])
    for kind in tries:
        try:
            if kind == "messages":
                answer = _post(f"{root}/tokenize", {"model": name, "messages": _roles(messages)})
                count = answer.get("count") if isinstance(answer, dict) else None
            else:
                text = "\n".join(str(m.content) for m in messages)
                answer = _post(f"{root}/tokenize", {"content": text})
                tokens = answer.get("tokens") if isinstance(answer, dict) else None
                count = len(tokens) + MESSAGE_OVERHEAD * len(messages) if isinstance(tokens, list) else None
        except (OSError, ValueError):
            count = None
        if isinstance(count, int) and count >= 0:
            with _LOCK:
                _TOKENIZERS[base] = kind
            return count
    with _LOCK:
        _TOKENIZERS[base] = ""
    return None


def count_tokens(llm: Any, messages: list[BaseMessage]) -> tuple[int, str]:
    """The prompt's tokens and how they were counted: "server", else as `budget.TokenCounter`
    counts them ("tokenizer": the model's own, or "estimate")."""
    model, _ = chat_model_of(llm)
    counted = _server_count(model, messages)
    if counted is not None:
        return counted, "server"
    counter = TokenCounter(model)
    return counter.messages(messages), "tokenizer" if counter.exact else "estimate"


def reply_tokens(llm: Any) -> int:
    """The reply's token budget bound to the request (`max_tokens`, `max_new_tokens`), or 0."""
    model, bound = chat_model_of(llm)
    for key in ("max_tokens", "max_completion_tokens", "max_new_tokens", "num_predict"):
        value = bound.get(key)
        if isinstance(value, int) and value > 0:
            return value
    for holder in (model, getattr(model, "llm", None)):
        for key in ("max_tokens", "max_new_tokens", "num_predict"):
            value = getattr(holder, key, None)
            if isinstance(value, int) and value > 0:
                return value
    generation = getattr(model, "generation_kwargs", None) or {}
    value = generation.get("max_new_tokens")
    return int(value) if isinstance(value, int) else 0


def prompt_context(llm: Any) -> int:
    """The context of the model under `llm`'s bindings as known (`budget.known_context`); 0
    when not known."""
    return known_context(chat_model_of(llm)[0])


# --------------------------------------------------------------------------- shortening


def _failing_functions(messages: list[BaseMessage]) -> set[str]:
    names: set[str] = set()
    for message in messages:
        for match in _TRACE_FUNCTION.finditer(str(message.content)):
            names.add(match.group(1) or match.group(2))
    return names - {"<module>", "module"}


def _bodies_down_to(code: str, keep: set[str]) -> str:
    """The code with the functions not in `keep` cut to their first line."""
    out: list[str] = []
    skipping: str | None = None  # the indentation of a function whose body is cut
    for line in code.splitlines():
        if skipping is not None:
            if not line.strip() or (len(line) - len(line.lstrip())) > len(skipping):
                continue
            skipping = None
        match = _DEF.match(line)
        out.append(line)
        if match and match.group(3) not in keep and match.group(2) != "class":
            skipping = match.group(1)
            out.append(f"{skipping}    ...")
    return "\n".join(out)


def _signatures(code: str) -> str:
    lines = [line for line in code.splitlines() if _KEEP_LINE.match(line)]
    return "\n".join(lines) if lines else code[:200]


def _in_fences(messages: list[BaseMessage], change: Callable[[str], str], skip_last: bool) -> list[BaseMessage]:
    out = []
    for index, message in enumerate(messages):
        text = str(message.content)
        if message.type == "system" or (skip_last and index == len(messages) - 1):
            out.append(message)
            continue
        new = _FENCE.sub(lambda m: m.group(1) + change(m.group(2)) + m.group(3), text)
        out.append(message.model_copy(update={"content": new}) if new != text else message)
    return out


def _cut_middle(messages: list[BaseMessage], over_chars: int) -> tuple[list[BaseMessage], int]:
    index = max(range(len(messages)), key=lambda i: len(str(messages[i].content)))
    text = str(messages[index].content)
    cut = min(len(text) - 200, over_chars + 200) if len(text) > 400 else 0
    if cut <= 0:
        return messages, 0
    start = (len(text) - cut) // 2
    note = f"\n[... {cut} characters cut to fit the model's context ...]\n"
    new = text[:start] + note + text[start + cut :]
    return [*messages[:index], messages[index].model_copy(update={"content": new}), *messages[index + 1 :]], cut


def shorten(
    messages: list[BaseMessage], budget: int, count: Callable[[list[BaseMessage]], int]
) -> tuple[list[BaseMessage], list[str]]:
    """`messages` shortened by rule until `count` says they fit `budget` (see the module)."""
    cuts: list[str] = []
    tokens = count(messages)
    if tokens <= budget:
        return messages, cuts
    # 1. older evidence: the exchanges between the first request and the last one
    first = next((i for i, m in enumerate(messages) if m.type == "human"), 0)
    dropped = 0
    while tokens > budget and len(messages) - first > 3:
        messages = [*messages[: first + 1], *messages[first + 3 :]]
        dropped += 1
        tokens = count(messages)
    if dropped:
        cuts.append(f"older evidence: {dropped} earlier exchange(s) dropped")
    # 2. file bodies down to the failing function; 3. code down to its signatures
    keep = _failing_functions(messages)
    steps: list[tuple[str, Callable[[str], str]]] = [
        (f"file bodies down to {', '.join(sorted(keep)) or 'their signatures'}", lambda c: _bodies_down_to(c, keep)),
        ("interfaces and code down to their signatures", _signatures),
    ]
    for what, change in steps:
        if tokens <= budget:
            break
        shorter = _in_fences(messages, change, skip_last=False)
        if shorter != messages:
            messages, tokens = shorter, count(shorter)
            cuts.append(what)
    # 4. the middle of the longest message
    for _ in range(4):
        if tokens <= budget:
            break
        messages, cut = _cut_middle(messages, int((tokens - budget) * CHARS_PER_TOKEN * 1.2))
        if not cut:
            break
        tokens = count(messages)
        cuts.append(f"{cut} characters cut from the middle of the prompt")
    return messages, cuts


# --------------------------------------------------------------------------- fitting


def fit_messages(llm: Any, messages: list[BaseMessage]) -> tuple[list[BaseMessage], Fit | None]:
    """The request's messages fitted to the model's known context (`Fit`: what was counted and
    cut), or as they are with None when the context is not known."""
    context = prompt_context(llm)
    if context <= 0:
        return messages, None
    budget = max(64, context - reply_tokens(llm) - _MARGIN)
    tokens, source = count_tokens(llm, messages)
    fit = Fit(tokens, budget, source)
    if tokens <= budget:
        return messages, fit
    counted: dict[int, int] = {}

    def count(candidate: list[BaseMessage]) -> int:
        key = hash(tuple(str(m.content) for m in candidate))
        if key not in counted:
            counted[key] = count_tokens(llm, candidate)[0]
        return counted[key]

    shorter, fit.cuts = shorten(messages, budget, count)
    fit.tokens = count(shorter)
    return shorter, fit


def refit(llm: Any, messages: list[BaseMessage], said: str) -> tuple[list[BaseMessage], Fit] | None:
    """The messages shortened to what a server's refusal for length says (`said`: its message,
    "maximum context length is 4096 tokens ... 4097 input tokens"), or None when nothing could
    be cut. The budget is the server's context less the reply's tokens, and a tenth less again
    when the refused prompt's own length is not said."""
    found = _REFUSED_FIGURES.search(said)
    context = int(found.group(1) or found.group(3)) if found else prompt_context(llm)
    if context <= 0:
        return None
    tokens, source = count_tokens(llm, messages)
    budget = max(64, context - reply_tokens(llm) - _MARGIN)
    if found and found.group(2):
        scale = tokens / max(1, int(found.group(2)))  # our count against the server's
        budget = int(budget * min(1.0, scale))
    budget = min(budget, int(tokens * 0.9))
    shorter, cuts = shorten(messages, budget, lambda m: count_tokens(llm, m)[0])
    if not cuts:
        return None
    return shorter, Fit(count_tokens(llm, shorter)[0], budget, source, cuts)
