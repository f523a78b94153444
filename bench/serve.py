"""Matrioska's waves against a model server's own batching, measured side by side in one run.

1. Matrioska's gain: one fan-out plan (`--plan`, default 8 independent modules) run at
   `--parallel 1` and at `--parallel N` through `openai:MODEL --base-url URL`; tokens from each
   module's report (the server's usage), over the run's wall time.
2. The server's raw gain: the same number of plain chat requests (`--tokens` each), one at a
   time against all at once; tokens/s from the server's `usage`. Twice: with a short prompt, and
   with prompts like the modules' were: as long, and sharing as large a prefix as the server's
   prefix cache found in them (vLLM's `/metrics`; elsewhere the prompts are unique), since a
   module's call prefills its prompt before it decodes and a wave prefills its modules together.
3. The share: Matrioska's gain over the server's raw gain at the modules' prompt length.
   Goal >= 0.8.
4. Best of N (`--samples K`, issue 27): one request with `n=K` against one with `n=1` (same
   prompt, same `--tokens`, temperature 0.7): what the server charges for K choices of one
   prompt; and the fan-out plan at `--parallel N` with `samples=1` against `samples=K`: what
   Matrioska's best of N costs in wall time and tokens. Printed with their ratios.

Works against any OpenAI-compatible URL: vLLM or SGLang on a GPU, vLLM's CPU build, llama.cpp
server, Ollama (`/v1`).

    python bench/serve.py --base-url http://127.0.0.1:8011/v1 --model qwen-0.5b [--parallel 8]
                          [--tokens 160] [--plan bench/plans/fanout8.json] [--json PATH] [--samples K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from matrioska import MatrioskaOrchestrator  # noqa: E402
from matrioska.model.factory import load_chat_model  # noqa: E402

PROMPT = "Write a Python function that validates an ISBN-13, with a docstring, then explain it."


FILLER = "# context line: the spec and the shared state a module reads fill its prompt like this.\n"


def plain_request(base_url: str, model: str, tokens: int, prompt: str = PROMPT) -> dict:
    """One chat completion of `tokens` new tokens (the end token ignored where the server
    allows it); returns the server's `usage` (`prompt_tokens`, `completion_tokens`)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
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
        return dict(json.loads(response.read())["usage"])


def choices_request(base_url: str, model: str, tokens: int, n: int, prompt: str = PROMPT) -> tuple[float, dict]:
    """One chat completion asking for `n` choices of `tokens` new tokens each at temperature
    0.7 (best of N's default): its seconds, and the server's `usage` (once for the request)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0.7,
        "n": n,
        "ignore_eos": True,
    }
    request = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=1800) as response:
        answer = json.loads(response.read())
    seconds = time.perf_counter() - start
    if len(answer.get("choices") or []) != n:
        raise SystemExit(f"serve: asked for n={n} choices, the server returned {len(answer.get('choices') or [])}")
    return seconds, dict(answer.get("usage") or {})


def choices_time(base_url: str, model: str, tokens: int, n: int, repeat: int = 3) -> dict:
    """The median of `repeat` requests with `n` choices: seconds, completion tokens, tok/s."""
    runs = [choices_request(base_url, model, tokens, n) for _ in range(repeat)]
    seconds = statistics.median(r[0] for r in runs)
    completion = round(statistics.median(r[1].get("completion_tokens", 0) for r in runs))
    return {"n": n, "seconds": seconds, "completion_tokens": completion, "tokens_per_second": completion / seconds}


def prompt_counters(base_url: str) -> tuple[float, float] | None:
    """vLLM's prompt tokens and prompt tokens found in its prefix cache so far (`/metrics`);
    None where the server has no such counters."""
    url = base_url.rstrip("/").removesuffix("/v1") + "/metrics"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return None
    totals = {"vllm:prompt_tokens_total": 0.0, "vllm:prompt_tokens_cached_total": 0.0}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    if not totals["vllm:prompt_tokens_total"]:
        return None
    return totals["vllm:prompt_tokens_total"], totals["vllm:prompt_tokens_cached_total"]


def padded_prompts(base_url: str, model: str, target_tokens: int, cached_share: float, count: int) -> list[str]:
    """`count` + 1 prompts of about `target_tokens` tokens as the server counts them: a common
    prefix of `cached_share` of them, then each its own from a first line that differs."""
    base = plain_request(base_url, model, 1, "Calibration.\n" + PROMPT)["prompt_tokens"]
    padded = plain_request(base_url, model, 1, "Calibration.\n" + FILLER * 20 + PROMPT)["prompt_tokens"]
    per_line = max(1.0, (padded - base) / 20)
    lines = max(0, round((target_tokens - base) / per_line))
    shared = round(lines * cached_share)
    return [
        FILLER * shared + f"Request {i} of {count}.\n" + FILLER * (lines - shared) + PROMPT for i in range(count + 1)
    ]


def server_rate(base_url: str, model: str, tokens: int, prompts: list[str]) -> tuple[float, int]:
    """All `prompts` at once: completion tokens a second, and their mean prompt tokens."""
    start = time.perf_counter()
    with ThreadPoolExecutor(len(prompts)) as pool:
        done = list(pool.map(lambda p: plain_request(base_url, model, tokens, p), prompts))
    seconds = time.perf_counter() - start
    return sum(u["completion_tokens"] for u in done) / seconds, round(sum(u["prompt_tokens"] for u in done) / len(done))


def matrioska_rate(base_url: str, model: str, plan: dict, parallel: int, tokens: int, samples: int = 1) -> dict:
    llm = load_chat_model(f"openai:{model}", base_url=base_url, temperature=0.0, max_new_tokens=tokens)
    # best of N: K candidates a module attempt (sampled at 0.7 from this greedy model)
    options = {"samples": samples} if samples > 1 else {}
    with tempfile.TemporaryDirectory() as tmp:
        with MatrioskaOrchestrator(
            llm, tmp, assembler_notes=False, verify=False, max_parallel=parallel, max_repairs=0, **options
        ) as orchestrator:
            before = prompt_counters(base_url)
            start = time.perf_counter()
            # a goal of its own per run: the modules' prompts (which start with it after the
            # system prompt) never find an earlier run's in the server's prefix cache
            goal = f"[bench run {uuid.uuid4().hex[:8]}] {plan.get('goal', 'fan-out')}"
            state = orchestrator.run(goal, architecture={**plan, "goal": goal})
            seconds = time.perf_counter() - start
            after = prompt_counters(base_url)
    reports = state.get("module_reports") or {}
    generated = sum((r.get("generation") or {}).get("tokens", 0) for r in reports.values())
    sources = sorted({(r.get("generation") or {}).get("source", "?") for r in reports.values()})
    # the mean prompt of a module's calls as the server counted it, else Matrioska's own estimate
    prompts = [
        (r.get("generation") or {}).get("input_tokens", 0) // max(1, (r.get("generation") or {}).get("calls", 1))
        or r.get("prompt_tokens", 0)
        for r in reports.values()
    ]
    prompts = [p for p in prompts if p]
    candidates = [r.get("candidates") or [] for r in reports.values()]
    return {
        "seconds": seconds,
        "samples": samples,
        "candidates": sum(len(c) for c in candidates),
        "tokens": generated,
        "tokens_per_second": generated / seconds,
        "sources": sources,
        "prompt_tokens": round(sum(prompts) / len(prompts)) if prompts else 0,
        # the share of the run's prompt tokens the server's prefix cache held (None: not reported)
        "cached_share": (after[1] - before[1]) / max(1.0, after[0] - before[0]) if before and after else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=160, help="new tokens per request / module")
    parser.add_argument("--plan", type=Path, default=ROOT / "bench" / "plans" / "fanout8.json")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="K",
        help="best of N: also time one request with n=K against n=1, and the plan at samples=K against 1",
    )
    args = parser.parse_args()
    if args.samples < 1:
        parser.error("--samples must be 1 or more")
    os.environ.setdefault("OPENAI_API_KEY", "not-needed")
    plan = json.loads(args.plan.read_text())
    n = args.parallel
    plain_request(args.base_url, args.model, 8)  # warm up
    sequential = matrioska_rate(args.base_url, args.model, plan, 1, args.tokens)
    waves = matrioska_rate(args.base_url, args.model, plan, n, args.tokens)
    for name, row in (("--parallel 1", sequential), (f"--parallel {n}", waves)):
        print(
            f"matrioska {name}: {row['seconds']:.1f} s, {row['tokens']} tokens, {row['tokens_per_second']:.1f} tok/s"
            f" (tokens from: {', '.join(row['sources'])}; module prompts ~{row['prompt_tokens']} tokens)"
        )
    short = (
        server_rate(args.base_url, args.model, args.tokens, [PROMPT])[0],
        server_rate(args.base_url, args.model, args.tokens, [PROMPT] * n)[0],
    )
    cached_share = sequential["cached_share"] or 0.0
    prompts = padded_prompts(args.base_url, args.model, sequential["prompt_tokens"], cached_share, n)
    alone, prompt_tokens = server_rate(args.base_url, args.model, args.tokens, prompts[n:])
    long = (alone, server_rate(args.base_url, args.model, args.tokens, prompts[:n])[0])
    cache_note = (
        f"{cached_share:.0%} of them a shared prefix, as the server's prefix cache found in the modules' prompts"
        if sequential["cached_share"] is not None
        else "unique (the server reports no prefix-cache counters)"
    )
    for label, (one, many) in (("a short prompt", short), (f"prompts of {prompt_tokens} tokens, {cache_note}", long)):
        print(
            f"server, plain requests of {args.tokens} tokens, {label}: 1 stream {one:.1f} tok/s, "
            f"{n} at once {many:.1f} tok/s ({many / one:.2f}x)"
        )
    server_gain = long[1] / long[0]
    matrioska_gain = waves["tokens_per_second"] / sequential["tokens_per_second"]
    share = matrioska_gain / server_gain
    print(
        f"gain at {n}: server {server_gain:.2f}x (prompts like the modules'; {short[1] / short[0]:.2f}x with a "
        f"short one), matrioska {matrioska_gain:.2f}x, share {share:.2f} (goal >= 0.8); "
        f"wall time {sequential['seconds'] / waves['seconds']:.2f}x shorter"
    )
    best = best_of_n(args, plan, waves) if args.samples > 1 else None
    if args.json:
        figures = {
            "server_gain": server_gain,
            "matrioska_gain": matrioska_gain,
            "share": share,
            "parallel": n,
            "tokens": args.tokens,
            "server_gain_short_prompt": short[1] / short[0],
            "prompt_tokens": prompt_tokens,
            "cached_share": sequential["cached_share"],
            "server_tokens_per_second": {"1": long[0], str(n): long[1]},
            "server_tokens_per_second_short_prompt": {"1": short[0], str(n): short[1]},
            "matrioska": {"1": sequential, str(n): waves},
        }
        if best is not None:
            figures["samples"] = best
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def best_of_n(args: argparse.Namespace, plan: dict, single: dict) -> dict:
    """`--samples K`: one request with n=K against n=1 on the server, and the plan at
    `--parallel N` with samples=K against `single` (the same plan at samples=1); printed side by
    side with their ratios, returned for the JSON."""
    k, n = args.samples, args.parallel
    choices_request(args.base_url, args.model, 8, k)  # the server's n path warmed up
    one, many = (choices_time(args.base_url, args.model, args.tokens, count) for count in (1, k))
    request_ratio = many["seconds"] / one["seconds"]
    print(
        f"server, one request of {args.tokens} tokens at temperature 0.7 (median of 3): n=1 {one['seconds']:.2f} s, "
        f"n={k} {many['seconds']:.2f} s ({request_ratio:.2f}x the time for {k}x the choices; "
        f"{many['completion_tokens']} vs {one['completion_tokens']} completion tokens, "
        f"{many['tokens_per_second'] / one['tokens_per_second']:.2f}x tok/s)"
    )
    sampled = matrioska_rate(args.base_url, args.model, plan, n, args.tokens, samples=k)
    for name, row in ((f"--parallel {n} --samples 1", single), (f"--parallel {n} --samples {k}", sampled)):
        print(
            f"matrioska {name}: {row['seconds']:.1f} s, {row['tokens']} tokens, {row['tokens_per_second']:.1f} tok/s"
            f", {row['candidates'] or 'no'} candidates judged (tokens from: {', '.join(row['sources'])})"
        )
    wall_ratio = sampled["seconds"] / single["seconds"]
    token_ratio = sampled["tokens"] / single["tokens"] if single["tokens"] else None
    print(
        f"best of {k}: server {request_ratio:.2f}x the time of one request, matrioska's plan {wall_ratio:.2f}x "
        f"the wall time (the module requests plus judging the candidates; "
        f"{wall_ratio / request_ratio:.2f} of the server's), "
        + (f"{token_ratio:.2f}x the tokens" if token_ratio is not None else "tokens not reported")
    )
    return {
        "k": k,
        "server_request": {"1": one, str(k): many},
        "server_time_ratio": request_ratio,
        "matrioska": {"1": single, str(k): sampled},
        "matrioska_wall_ratio": wall_ratio,
        "matrioska_token_ratio": token_ratio,
    }


if __name__ == "__main__":
    main()
