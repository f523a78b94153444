"""Inputs beyond a function's examples, made without the model (issue 41, functional consensus).

FunCoder (NeurIPS 2024) runs several implementations of a function on sampled inputs and keeps
the behaviour most of them share. Its inputs come from the model; ours come from the plan: each
example's arguments with one argument changed at a time (a number one more, one less, zero and
negated; a text emptied, reversed, upper-cased, cut to its first character; a list emptied, cut
to one item, reversed, one item longer; a flag flipped; a mapping emptied), and, where the
parameters' types say what they are, their empty values and boundaries. A function with no
parameter has none (it has one behaviour). What comes out is deterministic: the same plan gives
the same inputs, so a rerun groups candidates the same way.

The candidates' outputs on these inputs are not judged right or wrong: candidates returning the
same outputs on all of them (and on the examples) form a group, the largest group is the
consensus (`harness.groups`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .spec import FunctionSpec

__all__ = ["probe_inputs", "PROBES"]

PROBES = 6
"""Inputs made per function, at most."""
_BY_TYPE: dict[str, list[Any]] = {
    "int": [0, 1, -1, 10],
    "float": [0.0, 1.5, -2.5],
    "str": ["", "a", "Hello World"],
    "bool": [True, False],
    "list": [[], [1], [3, 1, 2]],
    "dict": [{}, {"a": 1}],
    "number": [0, 1, -1, 10],
    "string": ["", "a", "Hello World"],
    "boolean": [True, False],
    "array": [[], [1], [3, 1, 2]],
    "object": [{}, {"a": 1}],
}


def _mutations(value: Any) -> list[Any]:
    """A value's neighbours: its boundaries, its empty value and small changes."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, -value, value * 2]
    if isinstance(value, float):
        return [value * 2, 0.0, -value, value + 0.5]
    if isinstance(value, str):
        return ["", value[::-1], value.upper(), value[:1], value + " " + value]
    if isinstance(value, list):
        out: list[Any] = [[], value[:1], value[::-1], value + value[:1]]
        if value:
            out += [[m, *value[1:]] for m in _mutations(value[0])[:2]]
        return out
    if isinstance(value, dict):
        keys = list(value)
        return [{}, {k: value[k] for k in keys[:-1]}] if keys else [{}]
    return []


def _typed(type_: str) -> list[Any]:
    """Values of a parameter's written type (`int`, `list[str]`, `Optional[int]`, `number`)."""
    text = type_.strip().lower()
    for name in ("list", "dict", "str", "bool", "int", "float", "array", "object", "string", "boolean", "number"):
        if text == name or text.startswith(name + "["):
            values = list(_BY_TYPE[name])
            if name in ("list", "array") and "str" in text:
                values = [[], ["a"], ["b", "a", "c"]]
            return values
    return []


def _key(args: list[Any]) -> str:
    return json.dumps(args, sort_keys=True, default=repr)


def _changed(spec: FunctionSpec) -> Iterator[tuple[list[Any], dict[str, str]]]:
    """Each example's arguments with one argument changed (and the example's files), round robin
    over the examples and the parameters, so the first inputs vary every argument of every
    example."""
    pools = [
        (example, position, _mutations(value))
        for example in spec.examples
        for position, value in enumerate(example.args)
    ]
    depth = max((len(p[2]) for p in pools), default=0)
    for level in range(depth):
        for example, position, values in pools:
            if level < len(values):
                changed = list(example.args)
                changed[position] = values[level]
                yield changed, example.files


def _from_types(spec: FunctionSpec) -> Iterator[tuple[list[Any], dict[str, str]]]:
    """The parameters' typed values, all at their first (empty), then their next, ..."""
    pools = [_typed(p.type) for p in spec.params]
    if not spec.params or not all(pools):
        return
    files = next((e.files for e in spec.examples if e.files), {})
    for level in range(max(len(p) for p in pools)):
        yield [pool[min(level, len(pool) - 1)] for pool in pools], files


def probe_inputs(spec: FunctionSpec, limit: int = PROBES) -> list[dict[str, Any]]:
    """Up to `limit` inputs for `spec` that are none of its examples: `{"args": [...], "files":
    {...}}` (an example's files go with the inputs made from it)."""
    if not spec.params or limit < 1:
        return []
    arity = len(spec.params)
    seen = {_key(e.args) for e in spec.examples}
    out: list[dict[str, Any]] = []
    for args, files in [*_changed(spec), *_from_types(spec)]:
        key = _key(args)
        if len(args) != arity or key in seen:
            continue
        seen.add(key)
        out.append({"args": args, "files": dict(files)})
        if len(out) >= limit:
            break
    return out
