"""Constrained against unconstrained JSON from a local model, measured side by side in one run.

1. Plan validity: the tiny random-weight Mistral (tests/tinymodel.py, nf4) asked for a plan with
   the architect's prompts, sampling with the seed's settings, over N seeds: how many replies
   parse and validate (after repair) without and with the plan's JSON schema.
2. Shared-state updates: the same for an update with three declared keys: how many replies carry
   every declared key, free-form (the executor's prompt) against under the update schema.
3. Grammar cost on the real Mistral-7B-v0.3 vocabulary (tests/mistral_tokenizer.py): compile
   time of the plan schema and time per token of walking a plan with the mask built each step,
   for outlines-core (the previous path), llguidance (used) and xgrammar (when importable).
4. Time per generated token, free against constrained, on the tiny model with that vocabulary:
   the previous processors and today's in one `generate`, then through `LocalLLM`.
5. A batch of 8 requests, 4 of them under a schema, against one request alone (tokens/s).
6. Time per token by reply length (40, 300 and 2,000 new tokens by default), through `LocalLLM`:
   a module reply under its frame's grammar and a plan under its schema, each against a free
   reply of exactly as many tokens, with the ratio per length.

    python bench/constrained_decoding.py [--seeds 20] [--skip-validity] [--xgrammar-path DIR]
        [--lengths 40,300,2000] [--length-runs 3] [--only-lengths] [--torch-threads N]

The previous path's rows need `pip install -e '.[bench]'` (outlines-core); xgrammar is not a
dependency (it requires triton): `pip install --no-deps --target DIR xgrammar apache-tvm-ffi`.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402
from tinymodel import build_tiny_mistral  # noqa: E402

from matrioska import LocalLLM, PlanError, kinds  # noqa: E402
from matrioska.model.structured import constrained, plan_schema, update_schema, wrap_up_reserve  # noqa: E402
from matrioska.plan.parsing import parse_architecture, parse_module_reply  # noqa: E402
from matrioska.prompts import (  # noqa: E402
    ARCHITECT_SCHEMA_SYSTEM_PROMPT,
    ARCHITECT_SYSTEM_PROMPT,
    ARCHITECT_USER_PROMPT,
    EXECUTOR_SYSTEM_PROMPT,
)

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


def sample_plan() -> str:
    """A realistic plan as the constrained architect writes it: eight modules, compact JSON."""
    modules = []
    for i, (mid, kind, path) in enumerate(
        [
            ("storage", "python", "storage.py"),
            ("models", "python", "models.py"),
            ("api", "python", "api.py"),
            ("cli", "python", "cli.py"),
            ("page", "html", "index.html"),
            ("styles", "css", "styles.css"),
            ("dashboard", "javascript", "dashboard.js"),
            ("tests", "tests", "test_api.py"),
        ]
    ):
        modules.append(
            {
                "id": mid,
                "name": mid.title(),
                "kind": kind,
                "description": f"The {mid} of the library system: books, members and loans.",
                "dependencies": ["storage"] if i else [],
                "shared_state_reads": ["db_path"] if i else [],
                "shared_state_writes": [f"{mid}_api"],
                "inputs": "the records of the modules it depends on",
                "outputs": f"{path} with the public functions",
                "rules": "no network; standard library only",
                "files": [path],
                "manual": f"Write {path}.",
            }
        )
    plan = {"project_name": "Library", "goal": TASK, "modules": modules}
    schema = plan_schema()
    keys = list(schema["properties"]["modules"]["items"]["properties"])
    plan["modules"] = [{key: m.get(key, "") for key in keys} for m in modules]
    plan = {key: plan.get(key, "") for key in schema["properties"]}
    jsonschema.validate(plan, schema)
    return json.dumps(plan)


def grammar_walk(tokenizer_dir: Path, xgrammar_path: str | None) -> dict[str, tuple[float, float]]:
    """Compile the plan schema, then walk a plan token by token building the mask at each step:
    outlines-core (the previous path, its logits processor as LocalLLM ran it), llguidance
    (today's), xgrammar (when importable). Seconds to compile, microseconds per token."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    text = sample_plan()
    ids = tokenizer.encode(text, add_special_tokens=False)
    first = tokenizer.convert_ids_to_tokens(ids[0])
    if first.startswith("\u2581"):  # SentencePiece's dummy prefix: spell the first piece without it
        ids[:1] = tokenizer.convert_tokens_to_ids(list(first[1:]))
    assert tokenizer.decode(ids) == text
    vocab = len(tokenizer)
    schema = plan_schema()
    results: dict[str, tuple[float, float]] = {}

    def outlines_core() -> tuple[float, float]:
        from outlines.backends.outlines_core import OutlinesCoreLogitsProcessor

        old = _OldOutlines(tokenizer)  # the vocabulary conversion, once per model: not compile time
        start = time.perf_counter()
        index = old.index(schema)
        compile_s = time.perf_counter() - start
        sequence = torch.tensor([[1, 2, 3, *ids]])
        logits = torch.zeros(1, vocab)
        start = time.perf_counter()
        OutlinesCoreLogitsProcessor(index, "torch")(sequence[:, :3], logits)  # its kernel compiles once
        print(f"   (outlines-core: first call of its logits processor {time.perf_counter() - start:.2f} s)")
        processor = OutlinesCoreLogitsProcessor(index, "torch")
        start = time.perf_counter()
        for n in range(len(ids)):
            processor(sequence[:, : 3 + n], logits)
        return compile_s, (time.perf_counter() - start) / len(ids) * 1e6

    def llguidance() -> tuple[float, float]:
        from matrioska.model.structured import JsonSchemaConstraint

        start = time.perf_counter()
        constraint = JsonSchemaConstraint(tokenizer)
        tokenizer_s = time.perf_counter() - start
        start = time.perf_counter()
        constraint.matcher(update_schema(KEYS))  # what each module's re-asked update costs
        update_s = time.perf_counter() - start
        bitmask = torch.zeros((1, (constraint.vocab_size + 31) // 32), dtype=torch.int32)
        start = time.perf_counter()  # the grammar builds lazily: compile = matcher + first mask
        matcher = constraint.matcher(schema)
        matcher.unsafe_compute_mask_ptr(bitmask.data_ptr(), bitmask.shape[1] * 4)
        compile_s = time.perf_counter() - start
        matcher = constraint.matcher(schema)
        start = time.perf_counter()
        for token in ids:
            matcher.unsafe_compute_mask_ptr(bitmask.data_ptr(), bitmask.shape[1] * 4)
            assert matcher.consume_token(token), matcher.get_error()
        per_token = (time.perf_counter() - start) / len(ids) * 1e6
        print(
            f"   (llguidance: tokenizer conversion once per model {tokenizer_s:.2f} s; an update schema {update_s:.3f} s)"
        )
        return compile_s, per_token

    def xgrammar() -> tuple[float, float]:
        if xgrammar_path:
            sys.path.insert(0, xgrammar_path)
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab)
        start = time.perf_counter()
        compiled = xgr.GrammarCompiler(info).compile_json_schema(
            json.dumps(schema), any_whitespace=False, separators=(", ", ": ")
        )
        compile_s = time.perf_counter() - start
        matcher = xgr.GrammarMatcher(compiled)
        bitmask = xgr.allocate_token_bitmask(1, info.vocab_size)
        start = time.perf_counter()
        for token in ids:
            matcher.fill_next_token_bitmask(bitmask)
            assert matcher.accept_token(token)
        return compile_s, (time.perf_counter() - start) / len(ids) * 1e6

    print(f"\n3. grammar cost, plan schema, real Mistral-7B-v0.3 vocabulary ({vocab} tokens), a {len(ids)}-token plan")
    print(f"{'engine':<34}{'compile s':>10}{'us/token':>10}")
    compile_format = "{:>10.3f}"
    for name, run in (
        ("outlines-core (previous path)", outlines_core),
        ("llguidance (used)", llguidance),
        ("xgrammar", xgrammar),
    ):
        try:
            results[name] = run()
        except ImportError as exc:
            print(f"{name:<34}{'not installed (' + str(exc.name) + ')':>20}")
            continue
        print(f"{name:<34}{compile_format.format(results[name][0])}{results[name][1]:>10.1f}")
    return results


def per_token_cost(model_dir: Path, runs: int) -> None:
    """Time per generated token on the tiny model with the real vocabulary, on the SAME tokens:
    the constrained reply is generated once, then replayed (forced) with no grammar, with the
    previous path's processor (outlines-core) and with today's (llguidance `GrammarProcessor`),
    so the rows differ only by the grammar's work; then end to end through `LocalLLM` (free
    against constrained, each its own reply, prompt excluded).

    The budget leaves 300 tokens before the wrap-up starts, as the architect's 4000 leave 3500:
    what is measured is the steady cost of a constrained token."""
    import torch
    from transformers import LogitsProcessorList

    from matrioska.model.structured import JsonSchemaConstraint

    schema = plan_schema()
    budget = wrap_up_reserve(schema) + 300
    llm = LocalLLM(str(model_dir), load_in_4bit=False, device="cpu", max_new_tokens=budget, do_sample=False)
    model, tokenizer = llm.llm.pipeline.model, llm.tokenizer
    messages = [HumanMessage(f"Plan this project as JSON: {TASK}")]
    encoded = tokenizer(llm._to_chat_prompt(messages), return_tensors="pt", add_special_tokens=False)
    prompt_length = encoded["input_ids"].shape[1]
    constraint = JsonSchemaConstraint(tokenizer)
    with torch.inference_mode():
        reply = model.generate(
            **encoded,
            max_new_tokens=budget,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            logits_processor=constraint.processors(schema, budget),
        )
    forced = reply[0, prompt_length:].tolist()
    steps = len(forced) - 1  # the end token is not replayed

    class Force:
        """Makes the replayed token the argmax (after any grammar, which allows it)."""

        def __init__(self) -> None:
            self.step = 0

        def __call__(self, input_ids, scores):
            scores[:, forced[self.step]] = 1e30
            self.step += 1
            return scores

    factories = {"free": lambda: [], "llguidance (used)": lambda: [*constraint.processors(schema, budget)]}
    try:
        from outlines.backends.outlines_core import OutlinesCoreLogitsProcessor

        old = _OldOutlines(tokenizer)
        factories["outlines-core (previous)"] = lambda: [OutlinesCoreLogitsProcessor(old.index(schema), "torch")]
    except ImportError:
        pass

    def per_token(factory) -> float:
        processors = LogitsProcessorList([*factory(), Force()])
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                **encoded,
                max_new_tokens=steps,
                min_new_tokens=steps,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                logits_processor=processors,
            )
        return (time.perf_counter() - start) / steps

    for name, factory in list(factories.items()):
        try:
            per_token(factory)  # warm up (and compile each grammar once, as a model does)
        except ValueError as exc:  # a grammar that refuses the replayed reply
            print(f"   ({name}: refused the reply: {exc})")
            del factories[name]
    timings: dict[str, list[float]] = {name: [] for name in factories}
    for _ in range(runs):  # alternate, so that drift falls on every row
        for name, factory in factories.items():
            timings[name].append(per_token(factory))
    print(f"\n4. time per token, tiny Mistral with the real vocabulary, fp32, median of {runs} runs")
    print(f"   the same {steps} tokens of a constrained plan replayed under each path")
    print(f"{'path':<34}{'ms/token':>10}{'vs free':>9}")
    free = statistics.median(timings["free"])
    for name, values in timings.items():
        value = statistics.median(values)
        print(f"{name:<34}{value * 1e3:>10.2f}{value / free:>8.2f}x")

    def streamed(model_) -> float:
        stream = iter(model_.stream(messages))
        next(stream)
        first = time.perf_counter()
        n = sum(
            1 for chunk in stream if getattr(chunk, "chunk_position", None) != "last"
        )  # not langchain's closing chunk
        return (time.perf_counter() - first) / max(1, n)

    rows = {"LocalLLM free": llm, "LocalLLM constrained": constrained(llm, schema)}
    for model_ in rows.values():
        streamed(model_)
    local: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(runs):
        for name, model_ in rows.items():
            local[name].append(streamed(model_))
    print("   end to end through LocalLLM (streamed; each its own reply, prompt excluded)")
    base = statistics.median(local["LocalLLM free"])
    for name, values in local.items():
        value = statistics.median(values)
        print(f"{name:<34}{value * 1e3:>10.2f}{value / base:>8.2f}x")


class _OldOutlines:
    """The previous path's automaton (outlines-core), for the side-by-side rows."""

    def __init__(self, tokenizer) -> None:
        from outlines.backends.outlines_core import OutlinesCoreBackend
        from outlines.models.transformers import TransformerTokenizer

        adapter = TransformerTokenizer(tokenizer)
        self._vocabulary = OutlinesCoreBackend.create_outlines_core_vocabulary(
            adapter.get_vocab(), tokenizer.eos_token_id, tokenizer.eos_token, adapter.convert_token_to_string
        )
        self._indexes: dict[str, object] = {}

    def index(self, schema: dict):
        from outlines_core import Index
        from outlines_core.json_schema import build_regex_from_schema

        key = json.dumps(schema)
        if key not in self._indexes:
            self._indexes[key] = Index(build_regex_from_schema(key, r"[ ]?"), self._vocabulary)
        return self._indexes[key]


def mixed_batches(model_dir: Path, tokens: int) -> None:
    """Tokens per second through LocalLLM's worker: one free request alone, against a batch of
    8 of which 4 are under the update schema (one `generate`, a grammar per row)."""
    from concurrent.futures import ThreadPoolExecutor

    llm = LocalLLM(str(model_dir), load_in_4bit=False, device="cpu", max_new_tokens=tokens, do_sample=False)
    llm.batch_window = 0.2
    schema = update_schema(KEYS)
    bound = constrained(llm, schema)
    calls = [
        (bound if i % 2 else llm, [HumanMessage(f"module {i}: build the page, publish {', '.join(KEYS)}")])
        for i in range(8)
    ]

    def rate(batch: list) -> tuple[float, int]:
        start = time.perf_counter()
        with ThreadPoolExecutor(len(batch)) as pool:
            replies = list(pool.map(lambda call: list(call[0].stream(call[1])), batch))
        return sum(len(r) for r in replies) / (time.perf_counter() - start), llm._worker.batches[-1]

    rate(calls[:1]), rate(calls)  # warm up, compile the grammar
    one, _ = rate(calls[:1])
    eight, size = rate(calls)
    print(f"\n5. batched generation, tiny Mistral with the real vocabulary, {tokens} new tokens at most")
    print(f"batch 1 (free): {one:8.1f} tok/s")
    print(f"batch 8, 4 rows under a schema: {eight:8.1f} tok/s ({eight / one:.2f}x; generate ran a batch of {size})")


def per_token_by_length(model_dir: Path, lengths: list[int], runs: int) -> None:
    """Time per generated token, free against constrained, at each reply length, through `LocalLLM`.

    Two constrained replies per budget L (max_new_tokens=L): a module reply under its frame's
    grammar (`with_reply_grammar`: one file whose body the random weights never close, so the
    reply runs to its wrap-up, about L tokens: a module's reply is thousands) and a plan under
    the plan's schema (the random plan ends where it ends: cut at 40, closed by the wrap-up
    well before 300). Each against a free reply to the same prompt generating exactly as many
    tokens (greedy on random weights does not stop early; checked). Per call, the time from its
    first token to its last over the tokens between (prompt and end out); runs alternated,
    medians. Columns: wall ms/token; the generating thread's CPU ms/token (what other
    processes taking the CPU do not inflate; all of the compute with --torch-threads 1); the
    grammar's own ms/token (`GrammarProcessor.seconds`, wall); constrained over free.

    The garbage collector is frozen after loading: a full collection walks every object torch,
    transformers and langchain hold (about 440k, seconds on a busy 2-core machine), and one
    landing in a 40-token call multiplies its time per token whatever the grammar.
    """
    import torch

    from matrioska.model.grammar import ReplyFrame

    llm = LocalLLM(str(model_dir), load_in_4bit=False, device="cpu", max_new_tokens=max(lengths), do_sample=False)
    frame = ReplyFrame((("core.py", "python"),), ("api_routes",))
    cases = {
        "module reply": (llm.with_reply_grammar(frame), [HumanMessage("Build the module: core.py")]),
        "plan": (constrained(llm, plan_schema()), [HumanMessage(f"Plan this project as JSON: {TASK}")]),
    }

    def timed(model_, messages, clock) -> tuple[int, float, float]:
        """(tokens, wall s/token, generating thread's CPU s/token) of one streamed call."""
        n, first, last, cpu_first, cpu_last = 0, 0.0, 0.0, 0.0, 0.0
        for chunk in model_.stream(messages):
            if getattr(chunk, "chunk_position", None) == "last":  # langchain's closing empty chunk: no token
                continue
            now, cpu = time.perf_counter(), time.clock_gettime(clock) if clock is not None else 0.0
            if not n:
                first, cpu_first = now, cpu
            last, cpu_last, n = now, cpu, n + 1
        return n, (last - first) / max(1, n - 1), (cpu_last - cpu_first) / max(1, n - 1)

    llm.invoke([HumanMessage("warm up")], pipeline_kwargs={"max_new_tokens": 4})
    thread = llm._worker._thread
    clock = time.pthread_getcpuclockid(thread.ident) if hasattr(time, "pthread_getcpuclockid") else None
    gc.collect()
    gc.freeze()
    rows = []
    try:
        for length in lengths:
            for name, (bound, messages) in cases.items():
                model_ = bound.bind(pipeline_kwargs={"max_new_tokens": length})
                tokens, _, _ = timed(model_, messages, clock)  # warm up (compiles the grammar once)
                free = llm.bind(pipeline_kwargs={"max_new_tokens": tokens})
                samples: dict[str, list[tuple[int, float, float]]] = {"free": [], "constrained": []}
                grammar = []
                for _ in range(runs):  # alternate, so that drift falls on both
                    samples["free"].append(timed(free, messages, clock))
                    samples["constrained"].append(timed(model_, messages, clock))
                    processor = getattr(llm._worker, "last_grammar", None)  # None before this table existed
                    grammar.append(processor.seconds / max(1, processor.steps) if processor is not None else 0.0)
                counts = {side: {s[0] for s in values} for side, values in samples.items()}
                if counts["free"] != counts["constrained"]:
                    print(
                        f"   ({name} at {length}: token counts differ, free {counts['free']}, constrained {counts['constrained']})"
                    )
                medians = {
                    side: [statistics.median(s[k] for s in values) for k in (1, 2)] for side, values in samples.items()
                }
                rows.append((length, name, tokens, medians["free"], medians["constrained"], statistics.median(grammar)))
    finally:
        gc.unfreeze()
    threads = torch.get_num_threads()
    dtype = str(llm.llm.pipeline.model.dtype).removeprefix("torch.")
    print(f"\n6. time per token by reply length, through LocalLLM, tiny Mistral with the real vocabulary, {dtype}")
    print(
        f"   {threads} torch thread(s), median of {runs} runs; each free row generates as many tokens as its constrained one"
    )
    print(
        f"{'budget':>6}  {'constrained by':<14}{'tokens':>7}{'free':>8}{'constr.':>9}{'ratio':>7}"
        f"{'cpu free':>10}{'constr.':>9}{'ratio':>7}{'grammar':>9}"
    )
    print(f"{'':>6}  {'':<14}{'':>7}{'ms/token (wall)':>24}{'ms/token (CPU)':>26}{'ms/tok':>9}")
    for length, name, tokens, free, con, grammar_s in rows:
        print(
            f"{length:>6}  {name:<14}{tokens:>7}{free[0] * 1e3:>8.2f}{con[0] * 1e3:>9.2f}{con[0] / free[0]:>6.2f}x"
            f"{free[1] * 1e3:>10.2f}{con[1] * 1e3:>9.2f}{con[1] / max(free[1], 1e-9):>6.2f}x{grammar_s * 1e3:>9.3f}"
        )
    for name in cases:
        ratios = ", ".join(f"{r[0]}: {r[4][0] / r[3][0]:.2f}x" for r in rows if r[1] == name)
        print(f"   {name}: constrained / free per token by budget: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=400)
    parser.add_argument("--runs", type=int, default=9, help="runs per row of the time-per-token table")
    parser.add_argument("--skip-validity", action="store_true", help="skip tables 1 and 2 (plan and update validity)")
    parser.add_argument("--xgrammar-path", help="a folder to import xgrammar from (it is not a dependency)")
    parser.add_argument(
        "--lengths", default="40,300,2000", help="table 6's budgets (new tokens), comma-separated; empty to skip it"
    )
    parser.add_argument("--length-runs", type=int, default=3, help="runs per row of table 6")
    parser.add_argument("--only-lengths", action="store_true", help="run table 6 only")
    parser.add_argument("--torch-threads", type=int, help="torch's intra-op threads (default: torch's own choice)")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",") if n.strip()]
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only_lengths:
            per_token_by_length(
                build_tiny_mistral(Path(tmp) / "tiny-mistral-vocab", tokenizer="mistral"),
                lengths or [40, 300, 2000],
                args.length_runs,
            )
            return
        if not args.skip_validity:
            tiny_dir = build_tiny_mistral(Path(tmp) / "tiny")
            llm = LocalLLM(str(tiny_dir), max_new_tokens=args.max_new_tokens)  # nf4, the seed's sampling settings
            plan_validity(llm, args.seeds)
            update_completeness(llm, args.seeds)
        real_vocab = build_tiny_mistral(Path(tmp) / "tiny-mistral-vocab", tokenizer="mistral")
        grammar_walk(real_vocab, args.xgrammar_path)
        per_token_cost(real_vocab, args.runs)
        mixed_batches(real_vocab, 64)
        if lengths:
            per_token_by_length(real_vocab, lengths, args.length_runs)


if __name__ == "__main__":
    main()
