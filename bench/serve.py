"""Matrioska's waves against a model server's own batching, measured side by side in one run.

1. The server's raw gain: the same number of plain chat requests (`--tokens` each), one at a
   time against all at once; tokens/s from the server's `usage`.
2. Matrioska's gain: one fan-out plan (`--plan`, default 8 independent modules) run at
   `--parallel 1` and at `--parallel N` through `openai:MODEL --base-url URL`; tokens from each
   module's report (the server's usage), over the run's wall time.
3. The share: Matrioska's gain over the server's. Goal >= 0.8.

Works against any OpenAI-compatible URL: vLLM or SGLang on a GPU, vLLM's CPU build, llama.cpp
server, Ollama (`/v1`).

    python bench/serve.py --base-url http://127.0.0.1:8011/v1 --model qwen-0.5b [--parallel 8]
                          [--tokens 160] [--plan bench/plans/fanout8.json] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from matrioska import MatrioskaOrchestrator  # noqa: E402
from matrioska.models import load_chat_model  # noqa: E402

PROMPT = "Write a Python function that validates an ISBN-13, with a docstring, then explain it."


def plain_request(base_url: str, model: str, tokens: int) -> int:
    """One chat completion of `tokens` new tokens (the end token ignored where the server
    allows it); returns the completion tokens the server reports."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": tokens,
        "temperature": 0,
        "ignore_eos": True,  # vLLM / SGLang: every request generates exactly `tokens`
    }
    request = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    with urllib.request.urlopen(request, timeout=1800) as response:
        return int(json.loads(response.read())["usage"]["completion_tokens"])


def server_rate(base_url: str, model: str, streams: int, tokens: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        done = list(pool.map(lambda _: plain_request(base_url, model, tokens), range(streams)))
    return sum(done) / (time.perf_counter() - start)


def matrioska_rate(base_url: str, model: str, plan: dict, parallel: int, tokens: int) -> dict:
    llm = load_chat_model(f"openai:{model}", base_url=base_url, temperature=0.0, max_new_tokens=tokens)
    with tempfile.TemporaryDirectory() as tmp:
        with MatrioskaOrchestrator(
            llm, tmp, assembler_notes=False, verify=False, max_parallel=parallel, max_repairs=0
        ) as orchestrator:
            start = time.perf_counter()
            state = orchestrator.run(plan.get("goal", "fan-out"), architecture=plan)
            seconds = time.perf_counter() - start
    reports = state.get("module_reports") or {}
    generated = sum((r.get("generation") or {}).get("tokens", 0) for r in reports.values())
    sources = sorted({(r.get("generation") or {}).get("source", "?") for r in reports.values()})
    return {"seconds": seconds, "tokens": generated, "tokens_per_second": generated / seconds, "sources": sources}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=160, help="new tokens per request / module")
    parser.add_argument("--plan", type=Path, default=ROOT / "bench" / "plans" / "fanout8.json")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "not-needed")
    plan = json.loads(args.plan.read_text())
    n = args.parallel
    plain_request(args.base_url, args.model, 8)  # warm up
    one, many = (
        server_rate(args.base_url, args.model, 1, args.tokens),
        server_rate(args.base_url, args.model, n, args.tokens),
    )
    print(f"server, plain requests of {args.tokens} tokens: 1 stream {one:.1f} tok/s, {n} at once {many:.1f} tok/s")
    sequential = matrioska_rate(args.base_url, args.model, plan, 1, args.tokens)
    waves = matrioska_rate(args.base_url, args.model, plan, n, args.tokens)
    for name, row in (("--parallel 1", sequential), (f"--parallel {n}", waves)):
        print(
            f"matrioska {name}: {row['seconds']:.1f} s, {row['tokens']} tokens, {row['tokens_per_second']:.1f} tok/s"
            f" (tokens from: {', '.join(row['sources'])})"
        )
    server_gain = many / one
    matrioska_gain = waves["tokens_per_second"] / sequential["tokens_per_second"]
    share = matrioska_gain / server_gain
    print(
        f"gain at {n}: server {server_gain:.2f}x, matrioska {matrioska_gain:.2f}x, share {share:.2f} (goal >= 0.8); "
        f"wall time {sequential['seconds'] / waves['seconds']:.2f}x shorter"
    )
    if args.json:
        figures = {
            "server_gain": server_gain,
            "matrioska_gain": matrioska_gain,
            "share": share,
            "parallel": n,
            "tokens": args.tokens,
            "server_tokens_per_second": {"1": one, str(n): many},
            "matrioska": {"1": sequential, str(n): waves},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
