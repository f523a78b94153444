"""`LocalLLM` against plain `model.generate` on the same model, dtype and settings, side by side.

Greedy, the same chat prompt, the same number of new tokens (the end token is suppressed so
both run the whole budget); each cell is the median of `--runs` runs, measured alternately so
that the machine's drift falls on both. Then the dtype `dtype="auto"` picks on this CPU, with
the speed of each candidate.

    python bench/cpu_decode.py [--model DIR] [--tokens 64] [--runs 3]

Without `--model`: the real Qwen2.5-Coder-0.5B-Instruct folder the real-model CI stage builds
(`~/.cache/matrioska/qwen2.5-coder-0.5b`), when present, else the tiny random Mistral.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from langchain_core.messages import HumanMessage  # noqa: E402

from matrioska import LocalLLM  # noqa: E402
from matrioska.model.local import _pick_dtype  # noqa: E402

PROMPT = "Write a Python function that validates an ISBN-13 and explain it."


def plain(llm: LocalLLM, tokens: int) -> float:
    """Tokens per second of `model.generate` alone on the prompt LocalLLM would send."""
    import torch

    model, tokenizer = llm.llm.pipeline.model, llm.tokenizer
    prompt = llm._to_chat_prompt([HumanMessage(PROMPT)])
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**encoded, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
    return (out.shape[1] - encoded["input_ids"].shape[1]) / (time.perf_counter() - start)


def through_local_llm(llm: LocalLLM, tokens: int) -> float:
    """Tokens per second of `LocalLLM.stream` (the worker, the streamer, the chat template)."""
    start = time.perf_counter()
    chunks = list(llm.stream([HumanMessage(PROMPT)], pipeline_kwargs={"min_new_tokens": tokens}))
    return len(chunks) / (time.perf_counter() - start)


SMALL_MODEL = Path("~/.cache/matrioska/qwen2.5-coder-0.5b").expanduser()  # scripts/real_model_ci.sh builds it


def default_model() -> tuple[str, str]:
    if (SMALL_MODEL / "config.json").is_file():
        return str(SMALL_MODEL), "Qwen2.5-Coder-0.5B-Instruct"
    from tinymodel import build_tiny_mistral

    return str(build_tiny_mistral(Path(tempfile.mkdtemp()) / "tiny")), "tiny random Mistral"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model folder (default: the small real model, else the tiny one)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"])
    args = parser.parse_args()
    source, name = (args.model, args.model) if args.model else default_model()
    print(f"{name} on CPU, greedy, {args.tokens} new tokens, median of {args.runs} runs")
    print(f"{'dtype':<10}{'generate':>12}{'LocalLLM':>12}{'ratio':>8}")
    for dtype in args.dtypes:
        llm = LocalLLM(
            source, load_in_4bit=False, device="cpu", dtype=dtype, do_sample=False, max_new_tokens=args.tokens
        )
        plain(llm, 4), through_local_llm(llm, 4)  # warm up both paths
        rows: dict[str, list[float]] = {"generate": [], "LocalLLM": []}
        for _ in range(args.runs):
            rows["generate"].append(plain(llm, args.tokens))
            rows["LocalLLM"].append(through_local_llm(llm, args.tokens))
        a, b = statistics.median(rows["generate"]), statistics.median(rows["LocalLLM"])
        print(f"{dtype:<10}{a:>8.1f} t/s{b:>8.1f} t/s{b / a:>8.2f}")
        del llm
    print(f"dtype='auto' on this CPU: {_pick_dtype('auto', 'cpu')}")


if __name__ == "__main__":
    main()
