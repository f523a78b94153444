"""`LocalLLM`: a chat model over local Hugging Face weights, 4-bit by default.

`LocalLLM` is a LangChain chat model: `ChatHuggingFace` over a `HuggingFacePipeline`, so the
model's own chat template is applied and the graph drives it through `invoke`/`stream` like any
other `BaseChatModel`. Weights load when a `LocalLLM` is built, never at import: torch and
transformers are imported inside the constructor. A hub id is read from the local Hugging Face
cache first; when it is not cached and the hub cannot be reached, the error says how to point
at a local directory instead.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
from pydantic import Field, PrivateAttr

from ..defaults import DEFAULT_MODEL_ID
from ..errors import ModelLoadError

if TYPE_CHECKING:
    from .batching import GenerationRequest

__all__ = ["DEFAULT_MODEL_ID", "LocalLLM"]

_WORKER_LOCK = threading.Lock()

# The seed's generation settings.
DEFAULT_MAX_NEW_TOKENS = 4000
DEFAULT_TEMPERATURE = 0.3
DEFAULT_TOP_P = 0.85


def _resolve_source(model: str) -> str:
    """A local directory as given, a built-in model's folder (fetched on first use: `matrioska
    models`), or the cached snapshot of a hub id (downloaded if reachable)."""
    from .builtin import pull, resolve

    path = Path(model).expanduser()
    builtin = resolve(model)
    if builtin is not None and not path.exists():
        return str(pull(builtin))
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{model!r} is not a model directory: it has no config.json")
        return str(path)
    looks_like_path = model.startswith((".", "/", "~")) or model.count("/") != 1 or os.sep + os.sep in model
    if looks_like_path:
        raise ModelLoadError(
            f"model path {model!r} does not exist; pass a local model directory or a hub id like {DEFAULT_MODEL_ID!r}"
        )
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.jinja", "*.txt", "tokenizer*"]
    try:
        return snapshot_download(model, local_files_only=True, allow_patterns=patterns)
    except Exception:  # not cached: try the hub below
        pass
    try:
        return snapshot_download(model, allow_patterns=patterns)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load {model!r}: it is not in the local Hugging Face cache and the hub could not be "
            f"reached ({type(exc).__name__}). Download it where there is internet "
            f"(`hf download {model} --local-dir DIR`), copy DIR here and pass LocalLLM('DIR') "
            f"or --model DIR"
        ) from None


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    return device


_DTYPES = ("auto", "bfloat16", "float16", "float32")


_CPU_DTYPE: Any = None


def _fastest_cpu_dtype() -> Any:
    """bfloat16 or float32, whichever multiplies a decode-sized matrix faster on this CPU.

    Decoding reads every weight once per token, so halving the bytes usually wins (2 cores
    here, Qwen2.5-Coder-0.5B: 6.2 tokens/s in bf16 against 4.1 in fp32, bench/cpu_decode.py);
    a CPU without fast bf16 kernels can be several times slower in bf16, hence the measurement
    (about 0.1 s, once per process) rather than a rule.
    """
    global _CPU_DTYPE
    if _CPU_DTYPE is None:
        import torch

        timings = {}
        for candidate in (torch.bfloat16, torch.float32):
            weight = torch.randn(2048, 4096).to(candidate)
            vector = torch.randn(1, 2048).to(candidate)
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(4):
                    vector @ weight
                best = min(best, time.perf_counter() - start)
            timings[candidate] = best
        _CPU_DTYPE = min(timings, key=lambda candidate: timings[candidate])
    return _CPU_DTYPE


def _pick_dtype(dtype: str, device: str) -> Any:
    """The weights' dtype without 4-bit: `auto` is float16 on CUDA and, on a CPU, the faster of
    bfloat16 and float32 there (measured, see `_fastest_cpu_dtype`)."""
    import torch

    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else _fastest_cpu_dtype()
    return getattr(torch, dtype)


def _generation_kwargs(max_new_tokens: int, temperature: float, top_p: float, do_sample: bool) -> dict[str, Any]:
    generation: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": do_sample}
    if do_sample:
        generation.update(temperature=temperature, top_p=top_p)
    return generation


def _build_pipeline(
    source: str,
    *,
    load_in_4bit: bool,
    device: str,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    do_sample: bool,
    dtype: str = "auto",
) -> tuple[Any, Any]:
    """Tokenizer and text-generation pipeline for a model directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    device = _pick_device(device)
    model_kwargs: dict[str, Any] = {"device_map": {"": device}}
    if load_in_4bit:
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise ModelLoadError(
                "4-bit loading needs bitsandbytes (pip install bitsandbytes); or pass load_in_4bit=False / --no-4bit"
            ) from None
        model_kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float16,
        )
    else:
        model_kwargs["dtype"] = _pick_dtype(dtype, device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **model_kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        hint = (
            "; if 4-bit cannot run here (bitsandbytes), retry with --no-4bit / load_in_4bit=False"
            if load_in_4bit
            else ""
        )
        raise ModelLoadError(f"cannot load the model in {source!r}: {type(exc).__name__}: {reason}{hint}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # a decoder-only model continues where each prompt ends
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"the tokenizer in {source!r} has no chat template; use an instruct/chat model")
    generation = _generation_kwargs(max_new_tokens, temperature, top_p, do_sample)
    pipe = pipeline(
        "text-generation",
        model=model,
        tokenizer=tokenizer,
        return_full_text=False,  # only the new text, never the prompt
        pad_token_id=tokenizer.pad_token_id,
        **generation,
    )
    return tokenizer, pipe


class LocalLLM(ChatHuggingFace):
    """A chat model over local Hugging Face weights (Mistral-7B-Instruct-v0.3 by default).

    Args:
        model: a hub id (read from the local cache, downloaded when the hub is reachable) or a
            local directory holding the weights and tokenizer.
        load_in_4bit: quantise to nf4 with double quantisation (float16 compute) at load.
        device: "auto" (CUDA when available), "cpu" or "cuda".
        dtype: the weights' dtype without 4-bit: "auto" (float16 on CUDA; on a CPU the faster of
            bfloat16 and float32 there, measured at load), "bfloat16", "float16" or "float32".
        max_new_tokens, temperature, top_p, do_sample: generation settings (the seed's defaults).
        constrain_json: generate the plan and shared-state updates under their JSON schemas
            (llguidance); off, they are parsed, repaired and re-asked like any chat model's.
    """

    generation_kwargs: dict[str, Any] = Field(default_factory=dict)
    """The generation settings the pipeline was built with."""

    constrain_json: bool = True
    """Generate the plan and shared-state updates under their JSON schemas (see `with_json_schema`)."""
    batch_size: int = 8
    """Most concurrent requests (a wave of modules) generated together in one batch."""
    batch_window: float = 0.02
    """Seconds the generation worker waits for more requests to batch with the first one."""

    _constraint: Any = PrivateAttr(default=None)
    _worker: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL_ID,
        *,
        load_in_4bit: bool = True,
        device: str = "auto",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        top_p: float = DEFAULT_TOP_P,
        do_sample: bool = True,
        dtype: str = "auto",
        **kwargs: Any,
    ) -> None:
        source = _resolve_source(str(model))
        tokenizer, pipe = _build_pipeline(
            source,
            load_in_4bit=load_in_4bit,
            device=device,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            do_sample=do_sample,
            dtype=dtype,
        )
        hf_llm = HuggingFacePipeline(pipeline=pipe, model_id=str(model))
        super().__init__(
            llm=hf_llm,
            tokenizer=tokenizer,
            model_id=str(model),
            temperature=temperature if do_sample else 0.0,
            top_p=top_p,
            max_tokens=max_new_tokens,
            generation_kwargs=_generation_kwargs(max_new_tokens, temperature, top_p, do_sample),
            **kwargs,
        )

    @property
    def _llm_type(self) -> str:
        return "matrioska-local-llm"

    def with_json_schema(self, schema: dict[str, Any]) -> Runnable | None:
        """This model bound to generate one JSON object valid under `schema` (token-level constraint).

        See `matrioska.model.structured`: the reply is a whole schema-valid object whatever the weights,
        closed before `max_new_tokens` runs out. None when `constrain_json` is off.
        """
        return self.bind(json_schema=schema) if self.constrain_json else None

    def with_reply_grammar(self, frame: Any) -> Runnable | None:
        """This model bound to answer a module under its reply frame (`grammar.ReplyFrame`):
        its declared files, each in its fenced block, then the update with exactly its keys
        (token-level constraint, wrapped up before `max_new_tokens`). None when
        `constrain_json` is off."""
        return self.bind(reply_frame=frame.to_dict()) if self.constrain_json else None

    def with_function_grammar(self, frame: Any) -> Runnable | None:
        """This model bound to answer one function under its frame (`grammar.FunctionFrame`):
        the planned first line, literal, then the body and nothing after it (token-level
        constraint). None when `constrain_json` is off."""
        return self.bind(function_frame=frame.to_dict()) if self.constrain_json else None

    def _constraint_for_tokenizer(self) -> Any:
        with _WORKER_LOCK:
            if self._constraint is None:
                from .structured import JsonSchemaConstraint

                self._constraint = JsonSchemaConstraint(self.tokenizer)
        return self._constraint

    def _requests(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> list[GenerationRequest]:
        """Queue the generations of one call on the model's worker (batched with concurrent
        compatible ones): one, or K of the same prompt for a `samples=K` call argument (best of
        N), queued together so that they are rows of one batched `generate` (of
        ceil(K / batch_size) when K is larger).

        A `json_schema`, `reply_frame` or `function_frame` call argument (see `with_json_schema`,
        `with_reply_grammar`, `with_function_grammar`) becomes each request's grammar, a fresh one per row (a grammar row
        follows its own tokens); such a request is batched with the others, its row masked by
        its own grammar. `pipeline_kwargs` (e.g. `do_sample`, `temperature`, `top_p`) apply to
        every row.
        """
        from .batching import GenerationRequest, GenerationWorker

        samples = _samples(kwargs)
        settings = {**self.generation_kwargs, **(kwargs.get("pipeline_kwargs") or {})}
        schema = kwargs.get("json_schema")
        frame = kwargs.get("reply_frame")
        function = kwargs.get("function_frame")
        rows: list[Any] = [None] * samples
        if schema is not None or frame is not None or function is not None:
            settings.setdefault("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)  # the wrap-up's budget
            constraint = self._constraint_for_tokenizer()
            if function is not None:
                from .grammar import FunctionFrame, function_row

                held = FunctionFrame.from_dict(function)
                rows = [function_row(constraint, held) for _ in range(samples)]
            elif frame is not None:
                from .grammar import ReplyFrame, reply_row

                reply = ReplyFrame.from_dict(frame)
                rows = [reply_row(constraint, reply) for _ in range(samples)]
            else:
                rows = [constraint.row(schema) for _ in range(samples)]
        with _WORKER_LOCK:
            if self._worker is None:
                pipe = self.llm.pipeline
                self._worker = GenerationWorker(
                    pipe.model, pipe.tokenizer, max_batch=self.batch_size, window=self.batch_window
                )
        prompt = self._to_chat_prompt(messages)
        requests = [GenerationRequest(prompt, dict(settings), row) for row in rows]
        if samples == 1:
            return [self._worker.submit(requests[0])]
        return self._worker.submit_many(requests)

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> GenerationRequest:
        """Queue one generation (see `_requests`); a `samples` call argument above 1 is an error."""
        if _samples(kwargs) > 1:
            raise ValueError("one request holds one sample; use _requests for samples > 1")
        return self._requests(messages, kwargs)[0]

    def _streaming_disabled(self, **kwargs: Any) -> bool:
        """K samples (`samples=K`, K > 1) are generated, never streamed: a stream carries one
        reply, and `invoke` must hand all K rows to `on_llm_end` (a streaming callback, such as
        LangGraph's "messages" mode, would otherwise route the call to `_stream`)."""
        return _samples(kwargs) > 1 or super()._streaming_disabled(**kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The reply, or, for `samples=K` (K > 1), K replies to the same prompt sampled as rows
        of one batched `generate`: K generations in row order (never streamed)."""
        if _samples(kwargs) > 1:
            requests = self._requests(messages, kwargs)
            texts = ["".join(request) for request in requests]
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text)) for text in texts])
        if stream or (stream is None and self.streaming):
            return generate_from_stream(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
        text = "".join(self._request(messages, kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the reply token by token as `generate` produces them.

        Unlike the pipeline's own streaming (a queue read with a fixed 60 s timeout, which a slow
        CPU prefill or a long 7B generation exceeds), the worker's queue is read without a
        timeout: the worker always ends every request, and a failure is raised here. K samples
        (`samples=K`, K > 1) are not streamed (`invoke` generates them, see `_streaming_disabled`):
        asked for here, a ValueError.
        """
        if _samples(kwargs) > 1:
            raise ValueError(
                f"LocalLLM cannot stream {_samples(kwargs)} samples of one prompt; use invoke (one batched generate)"
            )
        for piece in self._request(messages, kwargs):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def _samples(kwargs: dict[str, Any]) -> int:
    """The `samples` call argument: how many replies to one prompt (best of N); 1 when absent."""
    value = kwargs.get("samples")
    if value is None:
        return 1
    samples = int(value)
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {value!r}")
    return samples
