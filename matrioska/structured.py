"""Schema-constrained output: the JSON schemas of the plan and of a shared-state update, and the
token-level constraint that makes a local model follow them.

`constrained(llm, schema)` is the one seam the nodes use: it returns the model bound to generate
under the schema when the model can (today `LocalLLM`), else None, and the node falls back to
extracting, repairing and re-asking. The schemas are deliberately simple (flat strings, lists of
names) so that their automaton compiles in well under a second even for a 32k vocabulary.

For a local model the constraint is two logits processors:
- outlines-core's automaton over the schema's regular expression masks every token that would
  leave the schema, so whatever the weights, the reply is a prefix of a schema-valid object;
- `WrapUpProcessor` guarantees the prefix is a whole object: once the token budget is nearly
  spent it steers the model, among the tokens the automaton allows, to close the current string
  and the open arrays and objects, so the reply never stops half-written at `max_new_tokens`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MODULE_ID_PATTERN",
    "KEY_PATTERN",
    "plan_schema",
    "update_schema",
    "constrained",
    "JsonSchemaConstraint",
]

# A module id and a shared-state key as the constrained model must write them; the validator
# accepts any non-empty string, these only keep generated names short and code-friendly.
MODULE_ID_PATTERN = "[a-z][a-z0-9_]{0,39}"
KEY_PATTERN = "[A-Za-z_][A-Za-z0-9_]{0,47}"
FILE_PATTERN = "[A-Za-z0-9_][A-Za-z0-9_./-]{0,79}"
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
    from . import kinds
    from .state import Architecture, ModuleSpec

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


def constrained(llm: Any, schema: dict[str, Any], name: str = "matrioska_output") -> Any | None:
    """The model bound to generate JSON under `schema`, or None when it cannot.

    - a model with `with_json_schema(schema)` (LocalLLM: token-level constraint; it returns None
      when switched off);
    - Ollama (`format=` the schema);
    - OpenAI and OpenAI-compatible servers: vLLM, llama.cpp server, LM Studio
      (`response_format` of type json_schema);
    - any other chat model: None, and the caller extracts, repairs and re-asks instead.
    """
    method = getattr(llm, "with_json_schema", None)
    if callable(method):
        return method(schema)
    kind = getattr(llm, "_llm_type", "")
    if kind == "chat-ollama":
        return llm.bind(format=schema)
    if kind in ("openai-chat", "azure-openai-chat"):
        return llm.bind(
            response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
        )
    return None


class JsonSchemaConstraint:
    """Builds, per call, the logits processors that keep a Hugging Face model inside a schema.

    One instance per tokenizer: the vocabulary conversion and each schema's automaton are built
    once and reused (a module's update schema differs per module, the plan's never does).
    """

    def __init__(self, tokenizer: Any) -> None:
        from outlines.backends.outlines_core import OutlinesCoreBackend
        from outlines.models.transformers import TransformerTokenizer

        adapter = TransformerTokenizer(tokenizer)
        self._vocabulary = OutlinesCoreBackend.create_outlines_core_vocabulary(
            adapter.get_vocab(),
            tokenizer.eos_token_id,
            tokenizer.eos_token,
            adapter.convert_token_to_string,
        )
        size = len(tokenizer)
        texts = [""] * size
        for token, index in tokenizer.get_vocab().items():
            if index < size:
                texts[index] = adapter.convert_token_to_string(token)
        self._texts = texts
        self._masks: dict[str, Any] = {}
        self._indexes: dict[str, Any] = {}

    def _index(self, schema: dict[str, Any]) -> Any:
        from outlines_core import Index
        from outlines_core.json_schema import build_regex_from_schema

        key = json.dumps(schema, sort_keys=True)
        if key not in self._indexes:
            # One optional space between JSON tokens: unbounded whitespace lets a weak model
            # spend its whole budget on blanks.
            regex = build_regex_from_schema(json.dumps(schema), r"[ ]?")
            self._indexes[key] = Index(regex, self._vocabulary)
        return self._indexes[key]

    def _mask(self, name: str, vocab_size: int, device: Any) -> Any:
        import torch

        key = f"{name}:{vocab_size}:{device}"
        if key not in self._masks:
            texts = self._texts + [""] * max(0, vocab_size - len(self._texts))
            if name == "close":
                keep = [t.lstrip().startswith(("]", "}")) for t in texts[:vocab_size]]
            elif name == "empty_string":
                keep = [t.strip() in ('""', '"",', '""}', '""]') for t in texts[:vocab_size]]
            elif name == "quote_out":
                keep = [t.strip() == '"' for t in texts[:vocab_size]]
            else:  # "quote_in": inside a string, a token that starts by closing it
                keep = [t.startswith('"') for t in texts[:vocab_size]]
            self._masks[key] = torch.tensor(keep, dtype=torch.bool, device=device)
        return self._masks[key]

    def processors(self, schema: dict[str, Any], max_new_tokens: int) -> Any:
        """A fresh `LogitsProcessorList` for one generation under `schema`."""
        from outlines.backends.outlines_core import OutlinesCoreLogitsProcessor
        from transformers import LogitsProcessorList

        guide = OutlinesCoreLogitsProcessor(self._index(schema), "torch")
        return LogitsProcessorList([guide, WrapUpProcessor(self, max_new_tokens, wrap_up_reserve(schema))])


def skeleton(schema: dict[str, Any]) -> Any:
    """The smallest instance of one of our schemas: empty strings and lists, one item where one is required."""
    if "anyOf" in schema:
        return skeleton(schema["anyOf"][0])
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


class WrapUpProcessor:
    """Near the end of the token budget, prefer (among allowed tokens) those that close things.

    Inside a string: a token starting with the closing quote. Outside: a token starting with `]`
    or `}`, else an empty string, else a lone opening quote (a required field then gets an empty
    or nearly empty string). When no
    such token is allowed (a pattern needs one more character, a comma is forced) the automaton's
    choice stands. Works on any schema without minimum lengths; the plan and update schemas
    have none except module ids, which need one character.
    """

    def __init__(self, constraint: JsonSchemaConstraint, max_new_tokens: int, reserve: int) -> None:
        self._constraint = constraint
        self._start_at = max(0, max_new_tokens - reserve)
        self._prompt_length: int | None = None
        self._seen = 0
        self._in_string = [False]
        self._escape = [False]

    def _track(self, input_ids: Any) -> None:
        """Follow the JSON lexer state (inside a string or not) over the tokens generated so far."""
        batch = input_ids.shape[0]
        if len(self._in_string) != batch:
            self._in_string, self._escape = [False] * batch, [False] * batch
        texts = self._constraint._texts
        for row in range(batch):
            for token in input_ids[row, (self._prompt_length or 0) + self._seen :].tolist():
                for char in texts[token] if token < len(texts) else "":
                    if self._escape[row]:
                        self._escape[row] = False
                    elif self._in_string[row] and char == "\\":
                        self._escape[row] = True
                    elif char == '"':
                        self._in_string[row] = not self._in_string[row]
        self._seen = input_ids.shape[1] - self._prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self._prompt_length is None:
            self._prompt_length = input_ids.shape[1]
        self._track(input_ids)
        if self._seen < self._start_at:
            return scores
        vocab, device = scores.shape[1], scores.device
        allowed = torch.isfinite(scores)
        for row in range(scores.shape[0]):
            names = ["quote_in"] if self._in_string[row] else ["close", "empty_string", "quote_out"]
            for name in names:
                preferred = allowed[row] & self._constraint._mask(name, vocab, device)
                if bool(preferred.any()):
                    scores[row] = scores[row].masked_fill(~preferred, float("-inf"))
                    break
        return scores
