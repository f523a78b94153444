"""Schema-constrained output: the JSON schemas of the plan and of a shared-state update, and the
token-level constraint that makes a local model follow them.

`constrained(llm, schema)` is the one seam the nodes use: it returns the model bound to generate
under the schema when the model can (today `LocalLLM`), else None, and the node falls back to
extracting, repairing and re-asking. The schemas are deliberately simple (flat strings, lists of
names) so that their automaton compiles in well under a second even for a 32k vocabulary.

For a local model the constraint is one logits processor per batch (`GrammarProcessor`), which
constrains some rows and leaves the others free, so constrained and free requests share one
`generate`:
- llguidance's matcher over the schema's grammar masks every token that would leave the
  schema, so whatever the weights, the reply is a prefix of a schema-valid object (chosen over
  outlines-core and xgrammar by measurement: `bench/constrained_decoding.py`);
- the wrap-up guarantees the prefix is a whole object: once the token budget is nearly spent it
  steers the model, among the tokens the grammar allows, to close the current string and the
  open arrays and objects, so the reply never stops half-written at `max_new_tokens`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .backend import SCHEMA_NAME, backend_of

__all__ = [
    "MODULE_ID_PATTERN",
    "KEY_PATTERN",
    "plan_schema",
    "update_schema",
    "constrained",
    "JsonSchemaConstraint",
    "GrammarProcessor",
]

# A module id and a shared-state key as the constrained model must write them; the validator
# accepts any non-empty string, these only keep generated names short and code-friendly.
# JSON Schema patterns are not anchored by default: these are, so a name is only the pattern.
MODULE_ID_PATTERN = "^[a-z][a-z0-9_]{0,39}$"
KEY_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,47}$"
FILE_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_./-]{0,79}$"
# Short titles are bounded; long texts are not (a bound of hundreds of characters makes the
# automaton tens of times larger: measured 16 s instead of 0.5 s to compile at 32k tokens).
_TITLE_MAX = 80

_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "pattern": MODULE_ID_PATTERN},
    "name": {"type": "string", "maxLength": _TITLE_MAX},
    "project_name": {"type": "string", "maxLength": _TITLE_MAX},
    "dependencies": {"type": "array", "items": {"type": "string", "pattern": MODULE_ID_PATTERN}},
    "shared_state_reads": {"type": "array", "items": {"type": "string", "pattern": KEY_PATTERN}},
    "shared_state_writes": {"type": "array", "items": {"type": "string", "pattern": KEY_PATTERN}},
    "files": {"type": "array", "items": {"type": "string", "pattern": FILE_PATTERN}, "minItems": 1},
}
_TEXT = {"type": "string"}


def _object_schema(model: Any, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every field of a pydantic model, required, in declaration order, nothing else."""
    properties = {name: overrides.get(name, _TEXT) for name in model.model_fields}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def plan_schema() -> dict[str, Any]:
    """The JSON schema of `Architecture`, flat, as the constrained architect must write it; a
    module's `kind` is one of the installed kinds."""
    from .. import kinds
    from ..state import Architecture, ModuleSpec

    module = _object_schema(ModuleSpec, {**_FIELD_SCHEMAS, "kind": {"type": "string", "enum": kinds.names()}})
    overrides = {**_FIELD_SCHEMAS, "modules": {"type": "array", "items": module, "minItems": 1}}
    return _object_schema(Architecture, overrides)


# A shared-state value: a string (a name, a route, a data shape described in words) or a list
# of strings (element ids, function names).
_VALUE_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


def update_schema(keys: list[str]) -> dict[str, Any]:
    """A JSON object with exactly these shared-state keys, in this order."""
    properties = {key: _VALUE_SCHEMA for key in keys}
    return {"type": "object", "properties": properties, "required": list(keys), "additionalProperties": False}


def constrained(llm: Any, schema: dict[str, Any], name: str = SCHEMA_NAME) -> Any | None:
    """The model bound to generate JSON under `schema`, or None when it cannot
    (`backend.Backend.under_schema`):

    - a model with `with_json_schema(schema)` (LocalLLM: token-level constraint; it returns None
      when switched off);
    - Ollama (`format=` the schema);
    - OpenAI and OpenAI-compatible servers: vLLM, llama.cpp server, LM Studio
      (`response_format` of type json_schema);
    - any other chat model: None, and the caller extracts, repairs and re-asks instead.
    """
    return backend_of(llm).under_schema(schema, name)


class JsonSchemaConstraint:
    """The token-level JSON-schema constraint for one tokenizer (llguidance).

    Built once per model: the tokenizer's conversion for llguidance and, per schema, a compiled
    matcher that each generation copies (the plan's schema never changes, a module's update
    schema differs per module). `row(schema)` is what one request carries into a batch;
    `processors(schema, max_new_tokens)` is a ready list for a single `generate`.
    """

    def __init__(self, tokenizer: Any) -> None:
        import llguidance.hf

        self._tokenizer = llguidance.hf.from_tokenizer(tokenizer)
        size = len(tokenizer)
        texts = [""] * size
        for token, index in tokenizer.get_vocab().items():
            if index < size:
                texts[index] = tokenizer.convert_tokens_to_string([token])
        self._texts = texts
        self.vocab_size = self._tokenizer.vocab_size
        self._masks: dict[str, Any] = {}
        self._ids: dict[str, Any] = {}
        self._matchers: dict[str, Any] = {}

    def grammar(self, schema: dict[str, Any]) -> str:
        """The llguidance grammar of `schema`: compact JSON with at most one space between tokens
        (unbounded whitespace lets a weak model spend its whole budget on blanks)."""
        from llguidance import LLMatcher

        options = {"whitespace_flexible": False, "whitespace_pattern": "[ ]?"}
        return LLMatcher.grammar_from_json_schema(schema, defaults=options)  # type: ignore[arg-type]

    def matcher(self, schema: dict[str, Any]) -> Any:
        """A fresh matcher for one generation under `schema` (compiled once, copied per call)."""
        from llguidance import LLMatcher

        key = json.dumps(schema, sort_keys=True)
        if key not in self._matchers:
            matcher = LLMatcher(self._tokenizer, self.grammar(schema), log_level=0)
            if matcher.is_error():
                raise ValueError(f"the JSON schema does not compile: {matcher.get_error()}")
            self._matchers[key] = matcher
        return self._matchers[key].deep_copy()

    def row(self, schema: dict[str, Any]) -> RowGrammar:
        return RowGrammar(self, self.matcher(schema), wrap_up_reserve(schema))

    def _mask(self, name: str, vocab_size: int) -> Any:
        """A wrap-up preference as numpy booleans over the vocabulary (built once per name)."""
        import numpy as np

        key = f"{name}:{vocab_size}"
        if key not in self._masks:
            texts = self._texts + [""] * max(0, vocab_size - len(self._texts))
            if name == "close":  # only closing brackets: "}," would open the next item
                keep = [bool(t.strip()) and not t.strip().strip("]}") for t in texts[:vocab_size]]
            elif name == "empty_string":
                keep = [t.strip() in ('""', '"",', '""}', '""]') for t in texts[:vocab_size]]
            elif name == "quote_out":
                keep = [t.strip() == '"' for t in texts[:vocab_size]]
            else:  # "quote_in": inside a string, a token that starts by closing it
                keep = [t.startswith('"') for t in texts[:vocab_size]]
            self._masks[key] = np.array(keep, dtype=bool)
        return self._masks[key]

    def _preferred(self, name: str, vocab_size: int) -> Any:
        """The token ids of a wrap-up preference (`_mask`'s True entries, built once per name):
        from a few tokens to a few hundred (81 open a string in Mistral's 32,768), so checking
        them costs little next to a pass over the vocabulary."""
        import numpy as np

        key = f"{name}:{vocab_size}"
        if key not in self._ids:
            self._ids[key] = np.flatnonzero(self._mask(name, vocab_size))
        return self._ids[key]

    def processors(self, schema: dict[str, Any], max_new_tokens: int) -> Any:
        """A fresh `LogitsProcessorList` for one generation (batch of one) under `schema`."""
        from transformers import LogitsProcessorList

        return LogitsProcessorList([GrammarProcessor([self.row(schema)], max_new_tokens)])


class RowGrammar:
    """One row's constraint: its matcher, and the JSON lexer state the wrap-up follows."""

    def __init__(self, constraint: JsonSchemaConstraint, matcher: Any, reserve: int) -> None:
        self.constraint = constraint
        self.matcher = matcher
        self.reserve = reserve
        self.in_string = False
        self.escape = False

    def steer(self, refused: Any, left: int) -> None:
        """Near the end of the budget (`left` tokens after this one), narrow `refused` (numpy,
        in place) to the wrap-up's preference; see `GrammarProcessor`."""
        if left < self.reserve:
            json_wrap_up(refused, self.constraint, self.in_string)

    def consume(self, token: int) -> None:
        """Advance past the token the row generated (nothing once the row has stopped, or once
        its matcher refused a token: it then stays in its error state)."""
        if self.matcher.is_error() or self.matcher.is_stopped():
            return
        if not self.matcher.consume_token(token):
            return
        texts = self.constraint._texts
        self.follow_json(texts[token] if token < len(texts) else "")

    def follow_json(self, text: str) -> None:
        """Advance the JSON lexer state (inside a string, after a backslash) past `text`."""
        for char in text:
            if self.escape:
                self.escape = False
            elif self.in_string and char == "\\":
                self.escape = True
            elif char == '"':
                self.in_string = not self.in_string


class GrammarProcessor:
    """The logits processor of one batch: row i follows `rows[i]`, or is free when it is None.

    Each step it advances every constrained row past the token it generated, computes the rows'
    masks (llguidance, in parallel threads when several rows are constrained), drops every
    refused token's score out of reach, and near the end of the budget applies the wrap-up: among
    the tokens the grammar allows, prefer those that close things (inside a string a token
    starting with the closing quote; outside a `]` or `}`, else an empty string, else a lone
    quote), so the reply is a whole schema-valid object before `max_new_tokens` runs out.
    When no such token is allowed (a pattern needs one more character, a comma is forced) the
    grammar's choice stands. Free rows are never touched.

    A step costs the same however long the reply: nothing here looks back over the sequence
    (only its last token), the mask is llguidance's for the parser's current state, and the
    numpy work is a fixed number of passes over the vocabulary. What varies is the state: a
    mask inside a free string (nearly every token allowed: llguidance walks the whole token
    trie) costs ten times or more one between JSON tokens (about 100 against 7 microseconds on
    Mistral's vocabulary). `seconds` is the time spent here, for benchmarks
    (`bench/constrained_decoding.py`, table 6).
    """

    def __init__(self, rows: list[RowGrammar | None], max_new_tokens: int) -> None:
        import numpy as np
        import torch

        self.rows = rows
        self._max_new_tokens = max_new_tokens
        self._active = [i for i, row in enumerate(rows) if row is not None]
        self._step = 0
        self.seconds = 0.0
        self._bitmask: Any = None
        self._bias: Any = None
        self._size = rows[self._active[0]].constraint.vocab_size if self._active else 0  # type: ignore[union-attr]
        self._executor: Any = None
        if len(self._active) > 1:
            from llguidance import LLExecutor

            self._executor = LLExecutor()
        self._torch = torch
        self._np = np
        self._lowest = np.finfo(np.float32).min

    @property
    def steps(self) -> int:
        """Steps processed so far (one per generated token)."""
        return self._step

    def _refused(self, vocab: int) -> Any:
        """(constrained rows, vocab) booleans (numpy): True where the row's grammar refuses the
        token next."""
        np = self._np
        if self._bitmask is None:
            size = self._size
            self._bitmask = np.zeros((len(self._active), (size + 31) // 32), dtype=np.int32)
        bitmask = self._bitmask
        if self._executor is not None:
            pairs = [(self.rows[i].matcher, k) for k, i in enumerate(self._active)]  # type: ignore[union-attr]
            self._executor.unsafe_compute_mask_ptr(pairs, bitmask.ctypes.data, bitmask.shape[1] * 4, len(pairs))
        else:
            self.rows[self._active[0]].matcher.unsafe_compute_mask_ptr(  # type: ignore[union-attr]
                bitmask.ctypes.data, bitmask.shape[1] * 4
            )
        known = min(vocab, self._size)
        refused = np.unpackbits(~bitmask.view(np.uint8), axis=1, count=known, bitorder="little").view(bool)
        if vocab > known:  # the model's padded embedding rows are never tokens
            refused = np.pad(refused, ((0, 0), (0, vocab - known)), constant_values=True)
        return refused

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if not self._active:
            return scores
        start = time.perf_counter()
        if self._step:
            last = input_ids[:, -1].tolist()
            for i in self._active:
                self.rows[i].consume(last[i])  # type: ignore[union-attr]
        self._step += 1
        refused = self._refused(scores.shape[1])
        left = self._max_new_tokens - self._step  # tokens the row may still write after this one
        for k, i in enumerate(self._active):
            self.rows[i].steer(refused[k], left)  # type: ignore[union-attr]
        if scores.device.type == "cpu" and scores.dtype == self._torch.float32:
            np = self._np
            # Branch-free, in place (the same memory): a refused token's score drops by the
            # lowest float32 (to about -3.4e38, or -inf), an allowed one gains -0.0; twice as
            # fast on a CPU as writing -inf where the mask says.
            values = scores.numpy()
            if self._bias is None or self._bias.shape != refused.shape:
                self._bias = np.empty(refused.shape, dtype=np.float32)
            np.multiply(refused.view(np.uint8), self._lowest, out=self._bias)
            with np.errstate(over="ignore"):
                for k, i in enumerate(self._active):
                    np.add(values[i], self._bias[k], out=values[i])
        else:
            mask = self._torch.from_numpy(refused).to(scores.device)
            for k, i in enumerate(self._active):
                scores[i].masked_fill_(mask[k], float("-inf"))
        self.seconds += time.perf_counter() - start
        return scores


def json_wrap_up(refused: Any, constraint: JsonSchemaConstraint, in_string: bool) -> None:
    """Refuse, besides what the grammar refuses, every token but the first preference that the
    grammar allows (numpy, in place): inside a string a token that closes it, else a closing
    bracket, an empty string, a lone quote.

    Only the preferences' few token ids are looked at, so a wrap-up step costs one pass over
    the vocabulary when it narrows `refused`, none when no preference is allowed."""
    names = ["quote_in"] if in_string else ["close", "empty_string", "quote_out"]
    for name in names:
        ids = constraint._preferred(name, refused.shape[0])
        allowed = ids[~refused[ids]]
        if allowed.size:
            refused.fill(True)
            refused[allowed] = False
            return


def skeleton(schema: dict[str, Any]) -> Any:
    """The smallest instance of one of our schemas: empty strings and lists, one item where one is required."""
    if "anyOf" in schema:
        return skeleton(schema["anyOf"][0])
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: skeleton(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [skeleton(schema["items"]) for _ in range(int(schema.get("minItems", 0)))]
    return "a" if schema.get("pattern") else ""


def wrap_up_reserve(schema: dict[str, Any]) -> int:
    """Tokens kept back for closing the reply: the characters of the schema's smallest instance.

    Every token is at least one character, so this bounds the tokens of any shortest way to
    finish from any point of the reply (what is left is never more than that instance, plus a
    quote or a pattern's one character), whatever the tokenizer.
    """
    return len(json.dumps(skeleton(schema), separators=(", ", ": "))) + 16
