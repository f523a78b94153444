"""Batched local generation: tokens per second at batch 1, 4 and 8 through LocalLLM's worker.

By default the tiny random-weight Mistral on CPU (what this machine has). On a GPU machine:
`--mistral7b DIR` writes (once) a random-weight model with Mistral-7B-Instruct-v0.3's exact
config to DIR and measures it in nf4 and in fp16 (LocalLLM without 4-bit), with the ratio of the batch-1 speed to the
memory-bandwidth ceiling (weight bytes read per token against `--bandwidth-gbs`, e.g. 4800 for
an H200).

    python bench/batched_generation.py [--tokens 64] [--mistral7b DIR --bandwidth-gbs 4800]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from langchain_core.messages import HumanMessage  # noqa: E402

from matrioska import LocalLLM  # noqa: E402

PROMPT = "Module {i}: write the JavaScript that renders the book list and wires the search box."


def build_mistral7b(directory: Path, tokenizer_source: Path) -> Path:
    """Random weights with Mistral-7B-Instruct-v0.3's config (no download), saved in bf16."""
    import torch
    from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

    if (directory / "config.json").exists():
        return directory
    config = MistralConfig(
        vocab_size=32768,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        sliding_window=None,
        torch_dtype="bfloat16",
    )
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)  # the tiny tokenizer: ids < 32768
    tokenizer.save_pretrained(directory)
    return directory


def measure(llm: LocalLLM, batch: int, tokens: int) -> float:
    """Generated tokens per second with `batch` requests submitted at once."""
    from concurrent.futures import ThreadPoolExecutor

    prompts = [[HumanMessage(PROMPT.format(i=i))] for i in range(batch)]
    start = time.perf_counter()
    with ThreadPoolExecutor(batch) as pool:
        replies = list(pool.map(lambda p: list(llm.stream(p)), prompts))
    seconds = time.perf_counter() - start
    generated = sum(len(chunks) for chunks in replies)
    return generated / seconds


def report(name: str, llm: LocalLLM, tokens: int, weight_bytes: int | None, bandwidth: float | None) -> None:
    measure(llm, 1, 4)  # warm up
    rates = {batch: measure(llm, batch, tokens) for batch in (1, 4, 8)}
    sizes = llm._worker.batches[-3:]
    line = "  ".join(f"batch {b}: {r:8.1f} tok/s ({r / rates[1]:.2f}x)" for b, r in rates.items())
    print(f"{name:<22}{line}   (batches run: {sizes})")
    if weight_bytes and bandwidth:
        ceiling = bandwidth * 1e9 / weight_bytes
        print(f"{'':<22}bandwidth ceiling at batch 1: {ceiling:.1f} tok/s; measured {rates[1] / ceiling:.0%} of it")


def weight_bytes(llm: LocalLLM) -> int:
    model = llm.llm.pipeline.model
    return sum(p.numel() * p.element_size() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--mistral7b", type=Path, help="GPU: build/measure a Mistral-7B-shaped random model here")
    parser.add_argument("--bandwidth-gbs", type=float, help="the GPU's memory bandwidth, GB/s")
    args = parser.parse_args()
    from tinymodel import build_tiny_mistral

    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_mistral(Path(tmp) / "tiny")
        common = {"max_new_tokens": args.tokens, "do_sample": False, "batch_window": 0.02, "constrain_json": False}
        if args.mistral7b is None:
            print(
                f"tiny random Mistral on CPU, {args.tokens} new tokens per request (no GPU lent: the 7B run needs one)"
            )
            for name, four_bit in (("tiny nf4", True), ("tiny fp32", False)):
                llm = LocalLLM(str(tiny), load_in_4bit=four_bit, device="cpu", **common)
                report(name, llm, args.tokens, weight_bytes(llm), args.bandwidth_gbs)
            return
        directory = build_mistral7b(args.mistral7b, tiny)
        print(f"Mistral-7B-shaped random weights, {args.tokens} new tokens per request")
        for name, four_bit in (("7B nf4", True), ("7B fp16", False)):
            llm = LocalLLM(str(directory), load_in_4bit=four_bit, device="cuda", **common)
            report(name, llm, args.tokens, weight_bytes(llm), args.bandwidth_gbs)
            del llm


if __name__ == "__main__":
    main()
