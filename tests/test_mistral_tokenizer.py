"""The converted Mistral-7B-v0.3 tokenizer encodes exactly like the real one (SentencePiece, mistral-common)."""

from __future__ import annotations

import pytest
from mistral_tokenizer import VOCAB_SIZE, mistral_tokenizer_dir, sentencepiece_model_path

TEXTS = [
    "The quick brown fox jumps over the lazy dog. Modules communicate through shared state.",
    "You are a software architect. Return ONE JSON object with project_name, goal and modules.",
    "def add_book(title: str, author: str) -> dict:\n    if not title:\n        raise ValueError('title')\n"
    "    return {'title': title, 'author': author}\n",
    "class Shelf:\n\tdef __init__(self):\n\t\tself.books = []\n\n\tdef add(self, b):\n\t\tself.books.append(b)  # tabs\n",
    '{"project_name": "Library", "goal": "Manage books", "modules": [{"id": "html", "deps": []}], "n": -12.5e3}',
    '{\n  "element_ids": ["#loginForm", "#bookList"],\n  "css_classes": ["card"]\n}',
    'function renderBooks(books) { return books.map(b => `<li>${b.title}</li>`).join(""); }',
    "Ação, coração, órgão e pão: você está à vontade? Não, obrigado — até amanhã!",
    "Émile naïve façade Straße ñandú Ångström",
    "emoji 😀🎉👩‍💻🇧🇷 and CJK 中文字符 日本語のテキスト 한국어 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "ﬁ ligature, Ａ full width, ½ fraction, e\u0301 combining, \u00a0nbsp, \u200bzero width",
    "a  b   c    d     e",
    " leading space",
    "   three leading spaces",
    "trailing spaces   ",
    "line one\nline two\n\n\nafter blank lines\r\nwindows line\n",
    "\n\nstarts with newlines",
    "\t\ttabs first",
    "x" * 300,
    "1234567890 3.14159 -42 0x1F 1e-9 2026-11-30T18:29:00Z",
    '<!DOCTYPE html><html><head><link rel="stylesheet" href="style.css"></head><body></body></html>',
    " ",
    "\n",
    "a",
]


@pytest.fixture(scope="module")
def sp():
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=str(sentencepiece_model_path()))


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(mistral_tokenizer_dir())


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_same_ids_as_sentencepiece_and_round_trip(sp, tok, text: str) -> None:
    ids = tok.encode(text, add_special_tokens=False)
    assert ids == sp.encode(text), tok.convert_ids_to_tokens(ids)
    assert tok.decode(ids) == text


def test_same_ids_on_the_project_sources(sp, tok) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "matrioska").rglob("*.py"))[:40]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert tok.encode(text, add_special_tokens=False) == sp.encode(text), path


def test_vocabulary_and_special_tokens(sp, tok) -> None:
    assert len(tok) == VOCAB_SIZE == sp.get_piece_size()
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert tok.convert_tokens_to_ids(["[INST]", "[/INST]"]) == [3, 4]
    ids = tok.encode("[INST]hi[/INST]", add_special_tokens=False)
    assert ids == [3, *sp.encode("hi"), 4]
    assert tok.decode(ids, skip_special_tokens=True) == "hi"
    # like Mistral's own `tokenizer(text)`, a plain encode starts with <s>
    assert tok.encode("hi") == [1, *sp.encode("hi")]


def test_chat_template_gives_mistral_common_ids(tok) -> None:
    from mistral_common.protocol.instruct.messages import AssistantMessage, SystemMessage, UserMessage
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    reference = MistralTokenizer.v3()
    conversations = [
        [("user", "hi")],
        [("system", "You are a software architect."), ("user", "Plan a library app.\nReturn JSON.")],
        [
            ("system", "Be brief."),
            ("user", "Hello, how are you?"),
            ("assistant", "Fine, and you?"),
            ("user", "I'm doing great! Ação 😀"),
        ],
    ]
    kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage}
    for conversation in conversations:
        request = ChatCompletionRequest(messages=[kinds[role](content=text) for role, text in conversation])
        expected = reference.encode_chat_completion(request).tokens
        prompt = tok.apply_chat_template([{"role": r, "content": t} for r, t in conversation], tokenize=False)
        assert tok.encode(prompt, add_special_tokens=False) == expected, prompt


def test_tiny_mistral_with_the_real_tokenizer_runs_under_local_llm(tmp_path, monkeypatch) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from tinymodel import build_tiny_mistral
    from transformers import MistralForCausalLM

    import matrioska

    directory = build_tiny_mistral(tmp_path / "tiny", tokenizer="mistral")
    prompts: list[list[int]] = []
    generate = MistralForCausalLM.generate

    def recording(self, *args, **kwargs):
        prompts.extend(kwargs["input_ids"].tolist())
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(MistralForCausalLM, "generate", recording)
    llm = matrioska.LocalLLM(str(directory), load_in_4bit=False, device="cpu", max_new_tokens=20, do_sample=False)
    answer = llm.invoke([SystemMessage("Be brief."), HumanMessage("hi")])
    assert isinstance(answer.content, str) and answer.content
    # one <s>, the system text joined to the user turn, as mistral-common builds it
    tok = llm.llm.pipeline.tokenizer
    assert len(tok) == 32768 and tok.pad_token_id == tok.eos_token_id == 2
    assert prompts == [[1, 3, *tok.encode("Be brief.\n\nhi", add_special_tokens=False), 4]]
