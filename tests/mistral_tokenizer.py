"""The real Mistral-7B-v0.3 tokenizer as a Hugging Face fast tokenizer, built offline.

Mistral AI's `mistral-common` package ships the v0.3 SentencePiece model
(`mistral_common/data/mistral_instruct_tokenizer_240323.model.v3`: 32,768 pieces, byte fallback,
`[INST]`/`[/INST]` control tokens). transformers 5 converts a SentencePiece model only with
protobuf >= 7, which this project cannot have (langgraph-api pins protobuf < 7), so this module
builds the `tokenizer.json` itself from what `sentencepiece` reports about each piece, the way
transformers' `LlamaConverter` does (legacy Llama normalizer, as in Mistral-7B-v0.3's own
`tokenizer.json`): BPE with byte fallback, merges ranked by piece score, control pieces special.

`mistral_tokenizer_dir()` builds it once into `~/.cache/matrioska/mistral-7b-v0.3-tokenizer/`
(under `$XDG_CACHE_HOME` when set) and returns that folder, which `AutoTokenizer.from_pretrained`
loads without protobuf, sentencepiece or network. Run `python tests/mistral_tokenizer.py` to
(re)build it and print where it is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

MODEL_FILE = "mistral_instruct_tokenizer_240323.model.v3"
"""The Mistral-7B-v0.3 (v3) SentencePiece model inside the `mistral-common` package."""
VOCAB_SIZE = 32768
FORMAT = 2
"""Bump when the conversion below changes, so cached folders built by an older one are rebuilt."""
_STAMP = "matrioska-tokenizer.json"

CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='', last_user=-1) %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}"
    "{%- set ns.system = ns.system + ('\\n\\n' if ns.system else '') + message['content'] %}"
    "{%- elif message['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}"
    "{%- endfor %}"
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}[INST]"
    "{%- if loop.index0 == ns.last_user and ns.system %}{{- ns.system + '\\n\\n' }}{%- endif %}"
    "{{- message['content'] }}[/INST]"
    "{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}"
    "{%- endif %}"
    "{%- endfor %}"
)
"""Mistral-7B-Instruct-v0.3's prompt as `mistral-common` builds it (its ground truth): `<s>[INST]user[/INST]answer</s>`,
the system text joined to the last user turn. With no spaces around `[INST]`/`[/INST]`, each chunk between control
tokens gets SentencePiece's own dummy prefix, so the ids equal `MistralTokenizer.v3().encode_chat_completion`'s."""


def sentencepiece_model_path() -> Path:
    """The v3 SentencePiece model file shipped in `mistral-common` (found without importing it)."""
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the real Mistral tokenizer needs the `mistral-common` package (it ships the SentencePiece model): "
            "pip install -e '.[test]'  (or: pip install 'mistral-common[sentencepiece]==1.9.1')"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / MODEL_FILE
        if path.is_file():
            return path
    raise RuntimeError(f"mistral-common is installed but has no data/{MODEL_FILE}; pin mistral-common==1.9.1")


def cache_dir() -> Path:
    """Where the converted tokenizer lives: `~/.cache/matrioska/mistral-7b-v0.3-tokenizer/`."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "matrioska" / "mistral-7b-v0.3-tokenizer"


def _sentencepiece(model_path: Path) -> Any:
    try:
        import sentencepiece
    except ImportError:
        raise RuntimeError(
            "converting the Mistral tokenizer needs `sentencepiece`: pip install 'mistral-common[sentencepiece]==1.9.1'"
        ) from None
    return sentencepiece.SentencePieceProcessor(model_file=str(model_path))


def build_tokenizer(model_path: Path | None = None) -> tuple[Any, str, str, str]:
    """A `tokenizers.Tokenizer` encoding like `SentencePieceProcessor.encode` on the v3 model, with <s>, </s>, <unk>."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    sp = _sentencepiece(model_path or sentencepiece_model_path())
    size = sp.get_piece_size()
    vocab: dict[str, int] = {}
    normal: dict[str, tuple[float, int]] = {}
    specials: list[str] = []
    for i in range(size):
        piece = sp.id_to_piece(i)
        vocab[piece] = i
        if sp.is_control(i):
            specials.append(piece)
        elif not (sp.is_byte(i) or sp.is_unknown(i) or sp.is_unused(i)):
            normal[piece] = (sp.get_score(i), i)
    if len(vocab) != size:
        raise RuntimeError(f"{size} pieces but {len(vocab)} distinct strings")
    # SentencePiece BPE merges the adjacent pair whose joined piece scores highest; as HF merges, every
    # split of a normal piece into two normal pieces, ranked by the joined piece's score, then its id.
    ranked = []
    for piece, (score, index) in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-score, index, vocab[left], vocab[right], left, right))
    ranked.sort()
    merges = [(left, right) for *_, left, right in ranked]

    unk = sp.id_to_piece(sp.unk_id())
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    # Legacy Llama/Mistral pipeline (Mistral-7B-v0.3's tokenizer.json): dummy prefix, spaces as "▁", no
    # pre-tokenizer (the whole text is one BPE word, as in SentencePiece), the reverse on decode.
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(content=" ", left=1, right=0),
        ]
    )
    bos, eos = sp.id_to_piece(sp.bos_id()), sp.id_to_piece(sp.eos_id())
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, sp.bos_id())]
    )
    tok.add_special_tokens(
        [AddedToken(unk, special=True, normalized=False)]
        + [AddedToken(piece, special=True, normalized=False) for piece in specials]
    )
    return tok, bos, eos, unk


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_current(folder: Path, source_sha: str) -> bool:
    try:
        stamp = json.loads((folder / _STAMP).read_text())
    except (OSError, ValueError):
        return False
    files = ("tokenizer.json", "tokenizer_config.json")
    return stamp == {"format": FORMAT, "source_sha256": source_sha} and all((folder / f).is_file() for f in files)


def save_tokenizer(directory: Path, model_path: Path | None = None) -> Path:
    """Convert the v3 SentencePiece model and `save_pretrained` it (fast tokenizer + chat template)."""
    from transformers import PreTrainedTokenizerFast

    model_path = model_path or sentencepiece_model_path()
    tok, bos, eos, unk = build_tokenizer(model_path)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        unk_token=unk,
        pad_token=eos,
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(directory)
    stamp = {"format": FORMAT, "source_sha256": _digest(model_path)}
    (directory / _STAMP).write_text(json.dumps(stamp))
    return directory


def mistral_tokenizer_dir(*, rebuild: bool = False) -> Path:
    """The cached fast-tokenizer folder for Mistral-7B-v0.3, converted on first use (~seconds)."""
    model_path = sentencepiece_model_path()
    folder = cache_dir()
    source_sha = _digest(model_path)
    if not rebuild and _is_current(folder, source_sha):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the cache and swap it in, so concurrent test runs never see half a folder.
    staging = Path(tempfile.mkdtemp(prefix=".mistral-tokenizer-", dir=folder.parent))
    staging.chmod(0o755)
    try:
        save_tokenizer(staging, model_path)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=".mistral-tokenizer-old-", dir=folder.parent))
            try:
                folder.rename(old / "t")
            except OSError:
                pass  # another process swapped it first
            shutil.rmtree(old, ignore_errors=True)
        try:
            staging.rename(folder)
        except OSError:
            if not _is_current(folder, source_sha):  # another process won the race with a good folder
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    print(mistral_tokenizer_dir(rebuild="--rebuild" in sys.argv))
