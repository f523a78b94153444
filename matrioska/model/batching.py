"""Generation for `LocalLLM`: one worker thread per model that batches concurrent requests.

A wave of parallel modules calls the model from several threads at once. The worker gathers
the requests that arrive within a short window (same generation settings) and runs them as ONE
left-padded `generate`: a GPU at batch 1 is bound by memory bandwidth, so a batch of 4 costs
little more than one request. Requests under a JSON schema join the batch too: each carries its
own grammar, and one logits processor masks those rows and leaves the free ones alone. A
request alone (a sequential run) is simply a batch of one, so every call takes the same path.
The K samples of one prompt (best of N, `submit_many`) are queued as one group: they are
generated together in one batch (in ceil(K / max_batch) batches when K is larger than it).

Each request receives its text token by token (`RowStreamer`): that is how `stream` yields
tokens and how `invoke` collects its reply. Reading never times out; the worker always ends
every request, and a failure of `generate` is raised in each caller's thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

__all__ = ["GenerationRequest", "GenerationWorker", "RowStreamer"]


class GenerationRequest:
    """One prompt waiting for, or receiving, its generated text."""

    def __init__(self, prompt: str, settings: dict[str, Any], grammar: Any = None) -> None:
        self.prompt = prompt
        self.settings = settings
        self.grammar = grammar  # a `structured.RowGrammar` when the reply follows a JSON schema
        self.pieces: queue.Queue[str | None] = queue.Queue()
        self.error: BaseException | None = None
        self.batch_size = 0

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(sorted((k, repr(v)) for k, v in self.settings.items()))

    def __iter__(self) -> Iterator[str]:
        """The generated text, one piece per token ("" for a token ending mid-character)."""
        while (piece := self.pieces.get()) is not None:
            yield piece
        if self.error is not None:
            raise self.error


class RowStreamer:
    """A transformers streamer for a batch: routes each row's new text to its request.

    Decoding is incremental per row (a window from the last complete character), so a step
    costs the same however long the reply. Rows that reached the end token get nothing more.
    """

    def __init__(self, tokenizer: Any, requests: list[GenerationRequest], eos_ids: set[int]) -> None:
        self._tokenizer = tokenizer
        self._requests = requests
        self._eos = eos_ids
        self._ids: list[list[int]] = [[] for _ in requests]
        self._prefix = [0] * len(requests)
        self._read = [0] * len(requests)
        self._done = [False] * len(requests)
        self._prompt_seen = False
        self._ended = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompts
            self._prompt_seen = True
            return
        tokens = value.reshape(len(self._requests), -1)[:, -1].tolist()
        for row, token in enumerate(tokens):
            if self._done[row]:
                continue
            if int(token) in self._eos:
                self._done[row] = True
                continue
            self._ids[row].append(int(token))
            self._requests[row].pieces.put(self._piece(row))

    def _piece(self, row: int) -> str:
        ids, start, read = self._ids[row], self._prefix[row], self._read[row]
        before = self._tokenizer.decode(ids[start:read], skip_special_tokens=True)
        text = self._tokenizer.decode(ids[start:], skip_special_tokens=True)
        if len(text) > len(before) and not text.endswith("\ufffd"):
            self._prefix[row], self._read[row] = read, len(ids)
            return text[len(before) :]
        return ""

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            for request in self._requests:
                request.pieces.put(None)


class GenerationWorker:
    """Runs a model's generations on one thread, batching compatible concurrent requests."""

    def __init__(self, model: Any, tokenizer: Any, *, max_batch: int = 8, window: float = 0.02) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_batch = max(1, max_batch)
        self.window = max(0.0, window)
        self.batches: list[int] = []  # sizes of the batches run, for tests and benchmarks
        # The logits processor of the last batch with a grammar (its `steps` and `seconds`: what
        # the grammar cost, final once a request's text has ended), for benchmarks.
        self.last_grammar: Any = None
        # Waiting units, in arrival order: one request, or a group of requests that must share a
        # batch (`submit_many`), never more than `max_batch` requests.
        self._pending: deque[list[GenerationRequest]] = deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="matrioska-generate", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest) -> GenerationRequest:
        with self._ready:
            self._pending.append([request])
            self._ready.notify_all()
        return request

    def submit_many(self, requests: list[GenerationRequest]) -> list[GenerationRequest]:
        """Queue requests that are generated together: all in one batch when they are at most
        `max_batch` (same settings), else in consecutive batches of `max_batch`. Queued
        atomically, so no other request can come between them."""
        units = [requests[i : i + self.max_batch] for i in range(0, len(requests), self.max_batch)]
        with self._ready:
            self._pending.extend(units)
            self._ready.notify_all()
        return requests

    def _take_batch(self) -> list[GenerationRequest]:
        with self._ready:
            while not self._pending:
                self._ready.wait()
            first = self._pending.popleft()
            batch = list(first)
            if self.max_batch == 1:
                return batch
            key = first[0].key
            deadline = time.monotonic() + self.window
            while len(batch) < self.max_batch:
                for unit in list(self._pending):
                    if len(batch) + len(unit) <= self.max_batch and unit[0].key == key:
                        self._pending.remove(unit)
                        batch.extend(unit)
                left = deadline - time.monotonic()
                if left <= 0 or len(batch) >= self.max_batch:
                    break
                self._ready.wait(left)
            return batch

    def _loop(self) -> None:
        while True:
            self._run(self._take_batch())

    def _run(self, batch: list[GenerationRequest]) -> None:
        import torch

        self.batches.append(len(batch))
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        eos_ids.add(self.tokenizer.eos_token_id)
        streamer = RowStreamer(self.tokenizer, batch, eos_ids)
        for request in batch:
            request.batch_size = len(batch)
        try:
            encoded = self.tokenizer(
                [r.prompt for r in batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.model.device)
            settings = dict(batch[0].settings)
            if any(r.grammar is not None for r in batch):
                from transformers import LogitsProcessorList

                from .structured import GrammarProcessor

                budget = int(settings.get("max_new_tokens") or 0)
                grammar = self.last_grammar = GrammarProcessor([r.grammar for r in batch], budget)
                settings["logits_processor"] = LogitsProcessorList([grammar])
            with torch.inference_mode():
                self.model.generate(**encoded, streamer=streamer, pad_token_id=self.tokenizer.pad_token_id, **settings)
        except BaseException as exc:  # handed to every caller of the batch
            for request in batch:
                request.error = exc
        finally:
            streamer.end()
