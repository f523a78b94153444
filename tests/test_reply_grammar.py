"""Module replies under the grammar of their frame (issue 25): declared files, then the update.

The in-process path runs on the tiny random-weight Mistral with the real Mistral-7B-v0.3
vocabulary: noise under the frame's grammar is still a reply with every declared file under its
path and the update with every declared key, read back by today's parser. The server grammar
(GBNF) is checked by llguidance too (its own GBNF reader), on the same texts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from scripted import ScriptedChatModel

from matrioska import LocalLLM, MatrioskaOrchestrator
from matrioska.generation.fixes import files_to_fix as _files_to_fix
from matrioska.generation.fixes import merge_files as _merge_files
from matrioska.generation.project import ProjectFile, extract_files
from matrioska.model.grammar import (
    ReplyFrame,
    gbnf_grammar,
    grammar_model,
    lark_grammar,
    render_files,
    reply_frame,
    update_grammar_schema,
)
from matrioska.plan.parsing import parse_module_reply
from matrioska.state import ModuleSpec

FRAME = ReplyFrame((("core.py", "python"), ("tests/test_core.py", "python")), ("api_functions", "element_ids"))
# Paths a grammar literal must escape: a space, quotes, a backslash, non-ASCII.
ODD = ReplyFrame((("my app/main.py", "python"), ('dir/it\'s "x"\\é ü.js', "javascript")), ("k",))

GOOD = (
    "my app/main.py\n```python\ndef f():\n    return '`'\n``\n`\n```\n\n"
    'dir/it\'s "x"\\é ü.js\n```javascript\n```\n\nSHARED_STATE_UPDATE: {"k": ["f", "g"]}'
)
BAD = {
    "marker in a body": GOOD.replace("return", "# SHARED_STATE_UPDATE:"),
    "a fence closed early and another file": GOOD.replace("``\n`\n```", "```\n\nextra.py\n```python\n```"),
    "a fence with another label": GOOD.replace("``\n`\n", "```js\n"),
    "a blank value": GOOD.replace('["f", "g"]', '" "'),
    "an empty list": GOOD.replace('["f", "g"]', "[]"),
    "an undeclared key": GOOD.replace('"k"', '"other"'),
    "prose after the update": GOOD + "\nDone.",
    "prose before the first file": "Here is the code:\n" + GOOD,
}


@pytest.fixture(scope="module")
def matcher_for(mistral_vocab_dir: Path):
    import llguidance.hf
    from llguidance import LLMatcher
    from llguidance.gbnf_to_lark import gbnf_to_lark
    from transformers import AutoTokenizer

    tokenizer = llguidance.hf.from_tokenizer(AutoTokenizer.from_pretrained(str(mistral_vocab_dir)))

    def accepts(syntax: str, frame: ReplyFrame, text: str) -> bool:
        grammar = lark_grammar(frame) if syntax == "lark" else gbnf_to_lark(gbnf_grammar(frame))
        matcher = LLMatcher(tokenizer, grammar, log_level=0)
        assert not matcher.is_error(), matcher.get_error()
        return matcher.consume_tokens(tokenizer.tokenize_str(text)) and matcher.is_accepting()

    return accepts


@pytest.mark.parametrize("syntax", ["lark", "gbnf"])
def test_the_grammar_holds_the_frame_and_escapes_odd_paths(matcher_for, syntax: str) -> None:
    assert matcher_for(syntax, ODD, GOOD)
    refused = [name for name, text in BAD.items() if not matcher_for(syntax, ODD, text)]
    assert refused == list(BAD)


def test_the_frame_follows_the_plan_and_a_fix_rounds_files() -> None:
    spec = ModuleSpec(id="core", files=["core.py", "index.html", "notes"], shared_state_writes=["api"])
    frame = reply_frame(spec)
    assert frame is not None
    assert frame.files == (("core.py", "python"), ("index.html", "html"), ("notes", ""))
    assert frame.keys == ("api",)
    assert reply_frame(spec, ["index.html"]).files == (("index.html", "html"),)  # type: ignore[union-attr]
    assert reply_frame(ModuleSpec(id="free")) is None  # no declared files: nothing to hold
    assert update_grammar_schema([])["properties"] == {}


@pytest.mark.parametrize("budget", [64, 1000])
def test_noise_under_the_frame_is_a_whole_reply(mistral_vocab_dir: Path, budget: int) -> None:
    """Random weights, the real Mistral vocabulary: every reply has both files under their paths
    and the update with both keys, read by today's parser; at 64 tokens the wrap-up closes the
    first body at once and still writes the second frame and the update."""
    import torch

    llm = LocalLLM(
        str(mistral_vocab_dir), max_new_tokens=budget, do_sample=True, temperature=1.0, top_p=1.0, load_in_4bit=False
    )
    bound, path = grammar_model(llm, FRAME)
    assert path == "grammar (llguidance, in process)"
    for seed in (0, 1):
        torch.manual_seed(seed)
        text = bound.invoke([HumanMessage("Write the module core.")]).content
        assert len(llm.tokenizer.encode(text, add_special_tokens=False)) <= budget + 8
        reply = parse_module_reply(text, list(FRAME.keys))
        assert list(reply.update) == list(FRAME.keys) and not reply.missing_keys, text[-300:]
        assert all(str(value).strip() for value in reply.update.values())
        files = extract_files(reply.artifact, "core", ["core.py", "tests/test_core.py"])
        assert [f.path for f in files] == ["core.py", "tests/test_core.py"], text[:300]
        assert not any(f.notes for f in files)


def test_rows_under_different_frames_and_a_free_row_share_one_generate(mistral_vocab_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    llm = LocalLLM(str(mistral_vocab_dir), max_new_tokens=48, do_sample=False, load_in_4bit=False, batch_window=0.5)
    other = ReplyFrame((("index.html", "html"),), ())
    calls = [
        lambda: llm.with_reply_grammar(FRAME).invoke([HumanMessage("core")]).content,
        lambda: llm.with_reply_grammar(other).invoke([HumanMessage("page")]).content,
        lambda: llm.invoke([HumanMessage("free")]).content,
    ]
    with ThreadPoolExecutor(3) as pool:
        first, second, _free = [f.result() for f in [pool.submit(c) for c in calls]]
    assert llm._worker.batches == [3]
    assert first.startswith("core.py\n```python\n") and "\n\ntests/test_core.py\n```python\n" in first
    assert second.startswith("index.html\n```html\n") and second.endswith("SHARED_STATE_UPDATE: {}")


def test_other_models_take_the_parsed_path(scripted: ScriptedChatModel) -> None:
    assert grammar_model(scripted, FRAME) == (None, "parsed")
    assert grammar_model(scripted, None) == (None, "parsed")


def test_a_fix_round_rewrites_only_the_files_its_failure_names() -> None:
    spec = ModuleSpec(id="core", files=["core.py", "tests/test_core.py"])
    assert _files_to_fix(spec, "tests/test_core.py:3: AssertionError") == ["tests/test_core.py"]
    assert _files_to_fix(spec, "core.py line 2 and tests/test_core.py") is None  # all of them
    assert _files_to_fix(spec, "NameError: name 'x'") is None
    assert _files_to_fix(spec, None) is None
    own = [
        ProjectFile("core.py", "def f():\n    return 1\n", "core"),
        ProjectFile("tests/test_core.py", "old\n", "core"),
    ]
    new = [ProjectFile("tests/test_core.py", "from core import f\n", "core")]
    merged = extract_files(_merge_files(spec, own, new), "core", spec.files)
    assert [(f.path, f.content) for f in merged] == [
        ("core.py", "def f():\n    return 1\n"),
        ("tests/test_core.py", "from core import f\n"),
    ]
    assert extract_files(render_files(own), "core", spec.files)[1].content == "old\n"


def test_the_run_says_which_path_replies_took(tmp_path: Path, scripted: ScriptedChatModel) -> None:
    events: list[dict] = []
    with MatrioskaOrchestrator(scripted, base_path=tmp_path, verify=False) as orchestrator:
        result = orchestrator.run("a small todo app", on_event=events.append)
    reports = result["module_reports"]
    assert {e.get("replies") for e in events if e.get("event") == "module_started"} == {"parsed"}
    assert reports and {r["replies"] for r in reports.values()} == {"parsed"}


@pytest.mark.parametrize(
    ("cut", "expected_files", "note"),
    [
        ("core.py\n```python\ndef f():\n    return", ["core.py", "tests/test_core.py"], "inside 'core.py'"),
        ("core.py\n```python\nx = 1\n", ["core.py", "tests/test_core.py"], "inside 'core.py'"),
        ("core.py\n```python\nx = 1\n```\n\ntests/te", ["core.py", "tests/test_core.py"], "'tests/test_core.py'"),
        ("core.py\n```python\nx = 1\n```\n\ntests/test_core.py\n```python\nimport core\n```\n\nSHARED", None, "after"),
    ],
)
def test_a_reply_a_server_cut_off_is_closed_without_the_model(cut: str, expected_files, note: str) -> None:
    from matrioska.model.grammar import close_frame

    text, said = close_frame(FRAME, cut)
    assert said is not None and note in said
    files = extract_files(
        parse_module_reply(text, list(FRAME.keys)).artifact, "core", ["core.py", "tests/test_core.py"]
    )
    assert [f.path for f in files] == ["core.py", "tests/test_core.py"]
    assert not any("cut off" in n for f in files for n in f.notes)
    assert files[0].content.startswith("def f():" if "def" in cut else "x = 1\n")


def test_a_whole_reply_or_another_text_is_left_as_it_is() -> None:
    from matrioska.model.grammar import close_frame

    whole = "core.py\n```python\n```\n\ntests/test_core.py\n```python\n```\n\nSHARED_STATE_UPDATE: {}"
    assert close_frame(FRAME, whole) == (whole, None)
    assert close_frame(FRAME, "Here is the code") == ("Here is the code", None)


def test_declared_files_without_an_extension_are_read_back_under_their_names() -> None:
    """A small model's plan named its files `reverse`, `words`: the frame writes those names on
    the path lines, and the parser reads them back (seen on the real 0.5B in CI)."""
    frame = reply_frame(ModuleSpec(id="core", files=["reverse", "words"]))
    assert frame is not None and frame.files == (("reverse", ""), ("words", ""))
    text = "reverse\n```\ndef reverse(s):\n    return s\n```\n\nwords\n```\n```\n\nSHARED_STATE_UPDATE: {}"
    files = extract_files(parse_module_reply(text, []).artifact, "core", ["reverse", "words"])
    assert [(f.path, f.content) for f in files] == [("reverse", "def reverse(s):\n    return s\n"), ("words", "")]
