"""Every prompt fits the server's context (issue 42): counted by the server's /tokenize where it
has one, shortened by rule when over, never a run stopped for context."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from openai_server import ScriptedOpenAIServer
from scripted import is_assembler

from matrioska.model.factory import load_chat_model
from matrioska.model.fit import count_tokens, fit_messages, shorten
from matrioska.runs.orchestrator import MatrioskaOrchestrator

CODE = (
    "def helper(x):\n" + "    y = x + 1\n" * 40 + "    return y\n\n\n"
    "def first_word(text):\n    return text.split()[0]\n\n\n"
    "def other(x):\n" + "    z = x * 2\n" * 40 + "    return z\n"
)
TRACE = (
    'Traceback (most recent call last):\n  File "words.py", line 45, in first_word\nIndexError: list index out of range'
)


def _count(messages: list[Any]) -> int:
    return sum(len(str(m.content)) // 3 + 8 for m in messages)


def test_shortening_goes_by_rule_older_evidence_then_bodies_then_signatures() -> None:
    messages = [
        SystemMessage("You write modules."),
        HumanMessage("Write words.py.\n```python\n" + CODE + "```"),
        AIMessage("old reply " * 100),
        HumanMessage("old problems " * 100),
        AIMessage("```python\n" + CODE + "```"),
        HumanMessage("It failed:\n" + TRACE + "\nFix it."),
    ]
    full = _count(messages)
    shorter, cuts = shorten(messages, full - 300, _count)
    assert cuts == ["older evidence: 1 earlier exchange(s) dropped"]
    assert [m.type for m in shorter] == ["system", "human", "ai", "human"] and _count(shorter) <= full - 300

    shorter, cuts = shorten(messages, 400, _count)
    assert cuts[:2] == ["older evidence: 1 earlier exchange(s) dropped", "file bodies down to first_word"]
    text = str(shorter[1].content)
    assert "return text.split()[0]" in text  # the failing function keeps its body
    assert "def helper(x):\n    ...\n" in text and "y = x + 1" not in text
    assert _count(shorter) <= 400
    assert str(shorter[-1].content).endswith("Fix it.")  # the evidence itself stays

    prose = [SystemMessage("s"), HumanMessage("the task, said at length. " * 200), HumanMessage("Fix it.")]
    tiny, cuts = shorten(prose, 300, _count)
    assert cuts[-1].endswith("characters cut from the middle of the prompt") and _count(tiny) <= 300
    assert "characters cut to fit the model's context" in str(tiny[1].content)


def test_the_server_s_tokenize_counts_are_used_and_without_it_the_estimate() -> None:
    messages = [SystemMessage("s" * 30), HumanMessage("h" * 600)]
    with ScriptedOpenAIServer(lambda m: "ok", tokenize=True, chars_per_token=2, max_model_len=2048) as server:
        llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=100)
        assert count_tokens(llm, messages) == (315, "server") and server.tokenized == [315]
    with ScriptedOpenAIServer(lambda m: "ok", max_model_len=2048) as server:
        llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=100)
        assert count_tokens(llm, messages) == (10 + 8 + 200 + 8, "estimate")


def test_a_prompt_the_estimate_fits_but_the_server_s_tokenizer_does_not_is_shortened() -> None:
    messages = [SystemMessage("system"), HumanMessage("word " * 400)]  # 2,000 characters: 701 estimated, 1,003 counted
    with ScriptedOpenAIServer(lambda m: "ok", tokenize=True, chars_per_token=2, max_model_len=900) as server:
        llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=100)
        fitted, fit = fit_messages(llm, messages)
        assert fit is not None and fit.source == "server"
        assert fit.cuts and fit.tokens <= fit.budget == 900 - 100 - 16
        assert fitted != messages


PLAN = {
    "project_name": "Adder",
    "goal": "A command line that prints the sum of two numbers",
    "modules": [{"id": "cli", "name": "Entry point", "files": ["main.py"]}],
}
PADDING = "".join(f"# note {i}: the sum is printed as an integer, one line, nothing else\n" for i in range(60))
WRONG = PADDING + "import sys\n\n\ndef main():\n    print(int(sys.argv[1]) * int(sys.argv[2]))\n\n\nmain()\n"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_run_with_two_fix_rounds_on_a_small_context_ends_with_a_verdict(tmp_path: Path) -> None:
    def respond(messages: list[Any]) -> str:
        if is_assembler(messages):
            return "notes"
        return f"main.py\n```python\n{WRONG}```"

    acceptance = [
        {
            "name": "two and three",
            "kind": "command",
            "command": ["python", "main.py", "2", "3"],
            "stdout_contains": ["5"],
        }
    ]
    events: list[dict[str, Any]] = []
    with ScriptedOpenAIServer(respond, max_model_len=1400, tokenize=True) as server:
        llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=300)
        with MatrioskaOrchestrator(
            llm,
            tmp_path,
            acceptance=acceptance,
            fix_rounds=2,
            max_repairs=0,
            sandbox="bwrap",
            verify_timeout=60,
            write_contract=False,
        ) as orchestrator:
            state = orchestrator.run("adder", architecture=PLAN, on_event=events.append)
        assert server.refused == []  # no prompt was sent only to fail
    verification = state["verification"]
    assert verification["works"] is False and verification["rounds"] == 2, verification
    shortened = [e for e in events if e["event"] == "prompt_shortened"]
    assert shortened and all(e["tokens"] <= e["budget"] for e in shortened), shortened
    report = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())
    assert report["module_reports"]["cli"]["generation"]["shortened"], report["module_reports"]["cli"]["generation"]
