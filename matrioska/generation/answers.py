"""A module's answers from the model: the candidates of one attempt (under its reply grammar
where the backend takes one, K of them in one request where it can) each parsed, and the short
follow-up that asks for the declared keys a reply did not publish.

A fix that leaves the same findings is not a fix (issue 34): when an attempt made to fix another
(a repair, or a fix round's reply against the current files) has the same analyzer errors
(`error_keys`: path, rule, name), the next one is asked at the sampling temperature
(`resample`) rather than greedily again, which would repeat it.

`runtime` is whatever carries the run's progress events (`model.calls.emit`), passed through.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from ..model.backend import backend_of
from ..model.budget import TokenCounter
from ..model.calls import GenerationMeter, call_structured, call_under_grammar, emit
from ..model.grammar import ReplyFrame, close_frame, grammar_model
from ..model.sampling import metered_sampler, sampling_temperature
from ..model.structured import constrained, update_schema
from ..plan.parsing import (
    UPDATE_MARKER,
    JSONExtractionError,
    ModuleReply,
    extract_json_object,
    parse_module_reply,
)
from ..prompts import EXECUTOR_UPDATE_RETRY_PROMPT
from ..state import ModuleSpec
from .records import Attempt

__all__ = ["answers", "ask_for_missing_keys", "error_keys", "repeated", "resample"]


def answers(
    llm: Any,
    messages: list[Any],
    spec: ModuleSpec,
    runtime: Any,
    meter: GenerationMeter | None = None,
    frame: ReplyFrame | None = None,
    samples: int = 1,
    temperature: float | None = None,
    hotter: bool = False,
) -> list[tuple[str, ModuleReply, str]]:
    """The candidates of one module attempt: the call (under its reply grammar where the backend
    takes one; K candidates in one request where it can, `matrioska.model.sampling`) and each one's
    parse, with the path the replies took. `hotter`: the attempt before repeated the findings it
    was to fix; one candidate is sampled (`resample`)."""
    if hotter and samples <= 1:
        llm = resample(llm, temperature, runtime, spec.id)
    bound, path = grammar_model(llm, frame)
    call = None if samples <= 1 else metered_sampler(llm, samples, temperature)
    got, refused = call_under_grammar(llm, bound, messages, runtime, meter, call=call, module=spec.id)
    if refused:
        bound, path = None, "parsed"
    out = []
    for text in got if isinstance(got, list) else [got]:
        closed = None
        if frame is not None and bound is not None:
            text, closed = close_frame(frame, text)
        reply = parse_module_reply(text, spec.shared_state_writes)
        if closed:
            reply.notes.append(closed)
        out.append((text, reply, path))
    return out


def resample(llm: Any, temperature: float | None, runtime: Any, module_id: str) -> Any:
    """`llm` at the sampling temperature (the run's chosen one, else the model's own when it
    samples, else `sampling.DEFAULT_SAMPLE_TEMPERATURE`); said in a `module_resampled` event."""
    hot = sampling_temperature(llm, 2, temperature)
    if hot is None:
        return llm
    emit(runtime, "module_resampled", module=module_id, temperature=hot)
    return backend_of(llm).at_temperature(hot)


def error_keys(attempt: Attempt) -> frozenset[tuple[str, str, str]]:
    """The analyzers' errors its judge found in an attempt's files, as (path, rule, name)."""
    return frozenset((f.path, f.code, f.name or "") for f in attempt.findings if f.error)


def unchanged(attempt: Attempt, target: Attempt) -> bool:
    """Whether `attempt`, a repair or a fix round's reply, changed nothing of `target`, the
    attempt it was to fix (issue 41): the same files, or the same analyzer errors and, where both
    were checked in the sandbox, the same failures (something was wrong, and still is)."""
    if {f.path: f.content.strip() for f in attempt.files} == {f.path: f.content.strip() for f in target.files}:
        return bool(attempt.files) or not attempt.text.strip()
    failures = [
        sorted(p.splitlines()[0] for p in (a.own_check or {}).get("problems") or []) if a.own_check else None
        for a in (attempt, target)
    ]
    if failures[0] is None or failures[1] is None:
        return repeated(attempt, target)
    wrong = bool(error_keys(target) or failures[1])
    return wrong and error_keys(attempt) == error_keys(target) and failures[0] == failures[1]


def repeated(attempt: Attempt, target: Attempt) -> bool:
    """Whether `attempt` left exactly the analyzer errors of `target`, the attempt it was to fix
    (some errors, the same (path, rule, name) set): then it was no fix, and the next samples."""
    before = error_keys(target)
    return bool(before) and error_keys(attempt) == before


def ask_for_missing_keys(
    llm: Any,
    messages: list[Any],
    text: str,
    reply: ModuleReply,
    attempt: int,
    runtime: Any,
    counter: TokenCounter,
    budget: int,
    meter: GenerationMeter | None = None,
) -> None:
    """A short follow-up call for the declared keys the reply did not publish; merges them in.

    A model that can generate under a JSON schema answers under one with exactly the missing
    keys, so this call cannot fail for it. The free-form first reply is kept as it is: a
    constrained second call only when needed costs one extra short call on failure instead of
    one on every module (measured in the issue notes).
    """
    problem = "; ".join(reply.notes) or f"missing keys {reply.missing_keys}"
    question = HumanMessage(EXECUTOR_UPDATE_RETRY_PROMPT.format(error=problem, writes=", ".join(reply.missing_keys)))
    echo = 2000  # the reply's tail, shortened until the follow-up fits the budget too
    while True:
        follow_up = [*messages, AIMessage(text[-echo:] if echo and text else "(reply omitted)"), question]
        if echo == 0 or counter.messages(follow_up) <= budget:
            break
        echo = echo // 2 if echo > 100 else 0
    answer = call_structured(llm, constrained(llm, update_schema(reply.missing_keys)), follow_up, runtime, meter)
    try:
        if UPDATE_MARKER in answer:
            obj = parse_module_reply(answer, reply.missing_keys).update
        else:
            obj, _ = extract_json_object(answer)
    except JSONExtractionError as exc:
        reply.notes.append(f"update re-ask {attempt} failed: {exc}")
        return
    found = {key: obj[key] for key in reply.missing_keys if key in obj}
    reply.update.update(found)
    reply.dropped_keys.extend(
        k for k in obj if k not in found and k not in reply.dropped_keys and k not in reply.update
    )
    reply.missing_keys = [key for key in reply.missing_keys if key not in found]
    reply.notes.append(f"update re-ask {attempt}: got {sorted(found) or 'nothing'}")
