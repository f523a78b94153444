"""Build a tiny random-weight Mistral with an offline-trained tokenizer, for the real HF path.

Hidden size 64, 2 layers, a byte-level BPE vocabulary of about 1k trained on a few KB of text,
and an `[INST]`-style chat template like Mistral-Instruct's (system text folded into the first
user turn). It builds in seconds, stays under 1 MB, and needs no network.

`tokenizer="mistral"` swaps in the real Mistral-7B-v0.3 tokenizer (32,768 pieces, converted offline
by `mistral_tokenizer.py`) and its mistral-common chat template: same tiny layers, real token counts
and the real vocabulary's cost for grammar masks (about 21 MB on disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% set system = namespace(text='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set system.text = message['content'] + '\\n\\n' %}"
    "{% elif message['role'] == 'user' %}[INST] {{ system.text }}{{ message['content'] }} [/INST]"
    "{% set system.text = '' %}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}"
)

_CORPUS = """
You are a software architect. Return one JSON object with project_name, goal, modules.
{"project_name": "Library", "goal": "Manage books", "modules": [{"id": "html", "name": "HTML"}]}
SHARED_STATE_UPDATE: {"element_ids": ["#loginForm", "#bookList"], "css_classes": ["card"]}
function renderBooks(books) { return books.map(b => `<li>${b.title}</li>`).join(""); }
<!DOCTYPE html><html><head><link rel="stylesheet" href="style.css"></head><body></body></html>
body { font-family: sans-serif; margin: 0; } .card { padding: 1rem; border-radius: 4px; }
def add_book(title: str, author: str) -> dict: return {"title": title, "author": author}
The quick brown fox jumps over the lazy dog. Modules communicate through shared state.
"""


def build_tiny_mistral(directory: Path, *, seed: int = 0, tokenizer: Literal["bpe", "mistral"] = "bpe") -> Path:
    """Write config, random weights, tokenizer and chat template into `directory`.

    tokenizer: "bpe" (default) trains the ~1k byte-level BPE above; "mistral" uses the real
    Mistral-7B-v0.3 tokenizer (vocabulary 32,768) from `mistral_tokenizer.mistral_tokenizer_dir()`.
    """
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if tokenizer == "bpe":
        fast = _train_bpe(directory)
    elif tokenizer == "mistral":
        fast = _copy_mistral_tokenizer(directory)
    else:
        raise ValueError(f"tokenizer must be 'bpe' or 'mistral', not {tokenizer!r}")

    torch.manual_seed(seed)
    config = MistralConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=8192,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = MistralForCausalLM(config)
    model.save_pretrained(directory)
    return directory


def _train_bpe(directory: Path) -> Any:
    """Train the ~1k byte-level BPE on `_CORPUS`; save it with `CHAT_TEMPLATE` into `directory`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS] * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="</s>",
        model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)
    return fast


def _copy_mistral_tokenizer(directory: Path) -> Any:
    """Copy the converted Mistral-7B-v0.3 tokenizer (built once, cached) into `directory`."""
    import shutil

    from mistral_tokenizer import mistral_tokenizer_dir
    from transformers import AutoTokenizer

    source = mistral_tokenizer_dir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copyfile(source / name, directory / name)
    return AutoTokenizer.from_pretrained(directory)
