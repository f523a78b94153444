"""Token budgets: 100 modules with large shared-state values, every prompt under the budget."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import NO_SCENARIOS, ScriptedChatModel, is_acceptance, is_assembler, module_id_of, module_reply

from matrioska.context import Context
from matrioska.graph import build_graph
from matrioska.model.budget import TokenCounter, prompt_budget, shrink_value

CONTEXT, REPLY = 2048, 512
BUDGET = CONTEXT - REPLY
N = 100
IDS = [f"m{i:03d}" for i in range(N)]


def _reads(i: int) -> list[int]:
    return sorted({j for j in (i - 1, i - 2, i - 10) if j >= 0})


PLAN = {
    "project_name": "Big",
    "goal": "a hundred modules",
    "modules": [
        {
            "id": mid,
            "dependencies": [IDS[j] for j in _reads(i)],
            "shared_state_reads": [f"k{j}" for j in _reads(i)],
            "shared_state_writes": [f"k{i}"],
            "manual": "Build your part.",
        }
        for i, mid in enumerate(IDS)
    ],
}


def big_value(i: int) -> Any:
    if i % 3 == 0:
        return "x" * 30_000 + f" end of {i}"
    if i % 3 == 1:
        return [f"item-{i}-{n}" for n in range(3000)]
    return {f"field{n}": {"ids": [f"#el{n}-{m}" for m in range(20)], "text": "y" * 200} for n in range(300)}


class TokenizedScripted(ScriptedChatModel):
    """A scripted model that carries a real tokenizer and chat template, like LocalLLM does."""

    tokenizer: Any = None

    def _to_chat_prompt(self, messages: list[BaseMessage]) -> str:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        turns = [{"role": roles[m.type], "content": str(m.content)} for m in messages]
        return self.tokenizer.apply_chat_template(turns, tokenize=False)


@pytest.fixture(scope="module")
def tokenizer(mistral_vocab_dir: Path) -> Any:
    """The real Mistral-7B-v0.3 tokenizer and chat template: the counts are the 7B's own."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(mistral_vocab_dir)


@pytest.mark.parametrize(
    "value",
    [
        "z" * 10_000,
        list(range(5000)),
        {f"k{n}": ["a" * 50] * 40 for n in range(200)},
        [{"deep": ["q" * 500] * 30}] * 40,
        "short",
    ],
    ids=["string", "list", "object", "nested", "small"],
)
def test_shrunk_values_stay_valid_json_and_say_what_they_left_out(value: Any) -> None:
    small, shrunk = shrink_value(value, 1000)
    text = json.dumps(small)
    assert json.loads(text) == small
    assert len(text) <= 1000
    assert shrunk == (value != "short")
    if shrunk:
        assert re.search(r"more (characters|items|keys)", text)


def test_hundred_modules_with_large_values_stay_under_the_token_budget(tmp_path: Path, tokenizer: Any) -> None:
    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "notes"
        if is_acceptance(messages):
            return NO_SCENARIOS
        module_id = module_id_of(messages)
        i = IDS.index(module_id)
        return module_reply(module_id, {f"k{i}": big_value(i)})

    model = TokenizedScripted(respond=respond, tokenizer=tokenizer)
    context = Context(llm=model, context_tokens=CONTEXT, max_new_tokens=REPLY, assembler_notes=False)
    assert prompt_budget(model, CONTEXT, REPLY) == BUDGET
    state = build_graph().invoke({"task": "big", "architecture": PLAN}, context=context)
    assert state["completed"] == IDS

    executor_calls = [c for c in model.calls if module_id_of(c)]
    assert len(executor_calls) == N
    sizes = []
    for messages in executor_calls:
        tokens = len(tokenizer.encode(model._to_chat_prompt(messages), add_special_tokens=False))
        sizes.append(tokens)
        assert tokens <= BUDGET
        # every value a module reads is valid JSON, shortened with a note where needed
        shared = str(messages[1].content).split("SHARED CONTEXT (the shared_state keys you read):\n", 1)[1]
        shared = shared.split("\n\nKEYS YOU MUST PUBLISH", 1)[0]
        for line in shared.splitlines():
            if re.match(r"k\d+ = ", line):
                json.loads(line.split(" = ", 1)[1])
    assert max(sizes) > BUDGET * 0.8  # the budget was used, not wasted
    reports = state["module_reports"]
    assert sum(1 for r in reports.values() if r["shortened_keys"]) >= N - 1
    assert not any(r.get("over_budget") for r in reports.values())
    # the whiteboard itself keeps every value whole
    assert state["shared_state"]["k3"] == big_value(3)


def test_remote_models_are_counted_conservatively() -> None:
    counter = TokenCounter(ScriptedChatModel(respond=lambda m: ""))
    assert not counter.exact and counter.text("a" * 300) == 100
