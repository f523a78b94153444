"""Constrained against unconstrained JSON from a local model, measured side by side in one run.

1. Plan validity: the tiny random-weight Mistral (tests/tinymodel.py, nf4) asked for a plan with
   the architect's prompts, sampling with the seed's settings, over N seeds: how many replies
   parse and validate (after repair) without and with the plan's JSON schema.
2. Shared-state updates: the same for an update with three declared keys: how many replies carry
   every declared key, free-form (the executor's prompt) against under the update schema.
3. Automaton cost: compile time of the plan schema's automaton for a 1k and a 32k vocabulary
   (a byte-level BPE trained here on Python sources), for the shipped schema and for variants
   that bound long texts, which is why long texts are left unbounded.

    python bench/constrained_decoding.py [--seeds 20] [--skip-vocab]
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402
from tinymodel import build_tiny_mistral  # noqa: E402

from matrioska import LocalLLM, PlanError, kinds  # noqa: E402
from matrioska.parsing import parse_architecture, parse_module_reply  # noqa: E402
from matrioska.prompts import (  # noqa: E402
    ARCHITECT_SCHEMA_SYSTEM_PROMPT,
    ARCHITECT_SYSTEM_PROMPT,
    ARCHITECT_USER_PROMPT,
    EXECUTOR_SYSTEM_PROMPT,
)
from matrioska.structured import constrained, plan_schema, update_schema  # noqa: E402

TASK = "A library management system with a dashboard"
KEYS = ["element_ids", "css_classes", "api_routes"]


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def plan_validity(llm: LocalLLM, seeds: int) -> None:
    import torch

    free_msgs = [
        SystemMessage(ARCHITECT_SYSTEM_PROMPT.format(kinds=kinds.describe())),
        HumanMessage(ARCHITECT_USER_PROMPT.format(task=TASK, guide="")),
    ]
    schema_msgs = [SystemMessage(ARCHITECT_SCHEMA_SYSTEM_PROMPT.format(kinds=kinds.describe())), free_msgs[1]]
    bound = constrained(llm, plan_schema())
    rows = {"unconstrained": (llm, free_msgs), "constrained": (bound, schema_msgs)}
    print(
        f"\n1. plan validity, tiny random Mistral nf4, {seeds} seeds, max_new_tokens={llm.generation_kwargs['max_new_tokens']}"
    )
    print(f"{'mode':<15}{'valid':>8}{'json.loads':>12}{'modules':>9}{'s/call':>8}")
    results = {}
    for name, (model, messages) in rows.items():
        valid = loads = 0
        modules, seconds = [], []
        for seed in range(seeds):
            torch.manual_seed(seed)
            reply, took = _timed(lambda model=model, messages=messages: model.invoke(messages).content)
            seconds.append(took)
            try:
                json.loads(reply)
                loads += 1
            except ValueError:
                pass
            try:
                architecture, _ = parse_architecture(reply)
            except PlanError:
                continue
            valid += 1
            modules.append(len(architecture.modules))
        results[name] = valid
        mean_modules = statistics.mean(modules) if modules else 0
        print(
            f"{name:<15}{valid:>5}/{seeds:<2}{loads:>9}/{seeds:<2}{mean_modules:>9.1f}{statistics.mean(seconds):>8.2f}"
        )
    print(
        f"valid plans: constrained {results['constrained']}/{seeds} against unconstrained {results['unconstrained']}/{seeds}"
    )


def update_completeness(llm: LocalLLM, seeds: int) -> None:
    import torch

    free_msgs = [
        SystemMessage(EXECUTOR_SYSTEM_PROMPT),
        HumanMessage(f"Build the HTML module. KEYS YOU MUST PUBLISH in SHARED_STATE_UPDATE: {', '.join(KEYS)}"),
    ]
    bound = constrained(llm, update_schema(KEYS))
    print(f"\n2. shared-state update with {len(KEYS)} declared keys, {seeds} seeds")
    print(f"{'mode':<15}{'complete':>10}{'keys found':>12}{'s/call':>8}")
    for name in ("unconstrained", "constrained"):
        complete = found = 0
        seconds = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            if name == "unconstrained":
                reply, took = _timed(lambda: llm.invoke(free_msgs).content)
                update = parse_module_reply(reply, KEYS).update
            else:
                reply, took = _timed(lambda: bound.invoke(free_msgs).content)
                update = json.loads(reply)
            seconds.append(took)
            found += len(set(update) & set(KEYS))
            complete += set(update) == set(KEYS)
        print(f"{name:<15}{complete:>7}/{seeds:<2}{found:>9}/{seeds * len(KEYS):<3}{statistics.mean(seconds):>7.2f}")


def automaton_cost(tiny_dir: Path, workdir: Path) -> None:
    from outlines.backends.outlines_core import OutlinesCoreBackend
    from outlines.models.transformers import TransformerTokenizer
    from outlines_core import Index
    from outlines_core.json_schema import build_regex_from_schema
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    big_dir = workdir / "vocab32k"
    sources = sorted(glob.glob(str(Path(json.__file__).parents[1] / "**" / "*.py"), recursive=True))[:3000]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=32768,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((Path(p).read_text(errors="ignore") for p in sources), trainer=trainer)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>").save_pretrained(
        big_dir
    )

    def bounded(limit: int) -> dict:
        schema = plan_schema()
        module = schema["properties"]["modules"]["items"]["properties"]
        for field in ("description", "inputs", "outputs", "rules", "manual"):
            module[field] = {"type": "string", "maxLength": limit}
        return schema

    variants = {"shipped (long texts unbounded)": plan_schema(), "long texts <= 300 chars": bounded(300)}
    print("\n3. automaton compile time (outlines-core Index), seconds")
    print(f"{'schema':<32}{'1k vocab':>10}{'32k vocab':>11}")
    for name, schema in variants.items():
        regex = build_regex_from_schema(json.dumps(schema), r"[ ]?")
        cells = []
        for directory in (tiny_dir, big_dir):
            tokenizer = AutoTokenizer.from_pretrained(directory)
            adapter = TransformerTokenizer(tokenizer)
            vocabulary = OutlinesCoreBackend.create_outlines_core_vocabulary(
                adapter.get_vocab(), tokenizer.eos_token_id, tokenizer.eos_token, adapter.convert_token_to_string
            )
            _, took = _timed(lambda regex=regex, vocabulary=vocabulary: Index(regex, vocabulary))
            cells.append(took)
        print(f"{name:<32}{cells[0]:>10.2f}{cells[1]:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=400)
    parser.add_argument("--skip-vocab", action="store_true", help="skip the 32k-vocabulary automaton timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiny_dir = build_tiny_mistral(Path(tmp) / "tiny")
        llm = LocalLLM(str(tiny_dir), max_new_tokens=args.max_new_tokens)  # nf4, the seed's sampling settings
        plan_validity(llm, args.seeds)
        update_completeness(llm, args.seeds)
        if not args.skip_vocab:
            automaton_cost(tiny_dir, Path(tmp))


if __name__ == "__main__":
    main()
