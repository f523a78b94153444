"""One function written alone (issue 35, item 2): its prompt, its reply's grammar, K candidates.

A small model does better at a small job. The prompt holds only what one function needs: the
task, the module's purpose, the function's planned signature, purpose and examples, its
siblings' signatures (not their bodies), the dependency functions it may call and the
module's constants, and, in a fix round, the failure to fix.

The reply is the function only. Where the backend takes a grammar (`function_grammar`: llguidance
in process, GBNF on vLLM, SGLang and llama.cpp) its first line is the planned header, literal, so
the name and the parameters cannot drift, and nothing can follow the body (Python: no line at
the top level; JavaScript: the line that starts with `}` ends it). Any other model's reply is
read by `extract_function`: the planned function found in prose, fences, test code and other
functions, and given back its planned header.

`ask_candidates` asks for K of them in one request where the backend can
(`model.sampling`), each read back the same way; the caller runs them against their examples.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from ..model.backend import backend_of
from ..model.calls import GenerationMeter, call_under_grammar
from ..model.grammar import FunctionFrame
from ..model.ledger import step
from ..model.sampling import metered_sampler, sampling_temperature
from ..model.servers import chat_model_of
from .spec import FunctionPlan, FunctionSpec

__all__ = ["function_messages", "function_grammar", "ask_candidates", "extract_function", "FunctionFrame"]

_LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript"}

_SYSTEM = """You are a specialist engineer writing ONE {language} function, in hyperfocus.
Answer with that function only: its first line exactly as given, then its body.
No tests, no example usage, no explanation, no other function, no Markdown."""


# --------------------------------------------------------------------------------- the prompt


def function_messages(
    *,
    goal: str,
    module: str,
    purpose: str,
    plan: FunctionPlan,
    function: FunctionSpec,
    callables: dict[str, str],
    evidence: str = "",
) -> list[BaseMessage]:
    """The system and human messages asking for `function` alone. `callables`: the dependency
    functions it may call, `module.name` -> signature line (`storage.load(path: str) -> list`);
    `evidence`: a failure of its last version to fix, in a fix round."""
    language = plan.language
    header = function.header(language)
    parts = [f"PROJECT GOAL: {goal}", f"MODULE: {module}" + (f" ({purpose})" if purpose else "")]
    task = [f"Write this function of the module:\n{header}"]
    if function.purpose:
        task.append(f"Purpose: {function.purpose}")
    if function.checked:
        task.append("It must pass:\n" + "\n".join(f"  {e.render(function.name, language)}" for e in function.checked))
    parts.append("\n".join(task))
    siblings = [f"  {f.signature(language)}" for f in plan.functions if f.name != function.name]
    if siblings:
        parts.append("Other functions of this module (call them by name):\n" + "\n".join(siblings))
    if callables:
        parts.append("Functions of other modules it may call:\n" + "\n".join(_callable_lines(callables, language)))
    if plan.constants and language == "python":
        parts.append(
            "Constants at the top of the module (use them, do not define them):\n"
            + "\n".join(f"  {c}" for c in plan.constants)
        )
    if evidence.strip():
        parts.append(f"Its last version failed:\n{evidence.strip()}\nWrite it again so that it works.")
    parts.append(f"Answer with the function only, starting with:\n{header}")
    system = _SYSTEM.format(language=_LANGUAGE_NAMES.get(language, language))
    return [SystemMessage(system), HumanMessage("\n\n".join(parts))]


def _callable_lines(callables: dict[str, str], language: str) -> list[str]:
    lines = []
    for name, signature in callables.items():
        owner, _, short = name.rpartition(".")
        shown = signature.strip() or name
        if owner and shown.startswith(name):
            shown = short + shown[len(name) :]  # called by its short name once imported
        if owner and language == "python":
            lines.append(f"  {shown}  (imported: from {owner} import {short})")
        else:
            lines.append(f"  {shown}")
    return lines


# --------------------------------------------------------------------------------- the grammar


def function_grammar(function: FunctionSpec, language: str) -> FunctionFrame:
    """The frame one function's reply is generated under: its planned first line, then its body
    (`model.grammar.FunctionFrame`: `.lark()` in process, `.gbnf()` on a server)."""
    return FunctionFrame(function.header(language), language)


# --------------------------------------------------------------------------------- the candidates

FUNCTION_TOKENS = 600
"""Tokens one function's reply may take at most (a 25-line function takes about 300): a small
model repeating itself until the run's whole budget ends costs minutes per candidate."""


def capped(runnable: Any, tokens: int) -> Any:
    """`runnable` bound to generate at most `tokens` tokens, where its chat model takes a per-call
    limit: `LocalLLM` (`pipeline_kwargs`), OpenAI's client (`max_tokens`), Ollama
    (`num_predict`); unchanged for another model (its own budget holds) or a smaller budget."""
    model, _ = chat_model_of(runnable)
    if hasattr(model, "generation_kwargs") and hasattr(model, "with_function_grammar"):
        current = int((getattr(model, "generation_kwargs", None) or {}).get("max_new_tokens") or tokens)
        return runnable.bind(pipeline_kwargs={"max_new_tokens": min(current, tokens)})
    for field_name in ("max_tokens", "num_predict"):
        if field_name in (getattr(type(model), "model_fields", None) or {}):
            value = getattr(model, field_name, None)
            limit = min(value, tokens) if isinstance(value, int) and value > 0 else tokens
            return runnable.bind(**{field_name: limit})
    return runnable


def ask_candidates(
    llm: Any,
    messages: list[BaseMessage],
    function: FunctionSpec,
    language: str,
    k: int,
    temperature: float | None,
    *,
    meter: GenerationMeter | None = None,
    runtime: Any = None,
) -> tuple[list[str], str]:
    """K candidates for `function` and the path the replies took: "grammar (vLLM)", "grammar
    (llguidance, in process)", ... or "plain". Each candidate is a whole function starting with
    its planned header (`extract_function`), in the order the backend returned them, a repeat
    kept (the trial runs it once, and counts it as one more vote); a reply holding no function
    is no candidate. K = 1 is asked greedily unless a
    temperature is given; K > 1 at the sampling temperature (`sampling.sampling_temperature`).

    A server refusing the grammar is asked again without it (and remembered, as for a module's
    reply). Matrioska's errors (a model server down, a prompt too long) go up to the caller."""
    frame = function_grammar(function, language)
    found = backend_of(llm).under_function(frame)
    bound, path = (found[0], f"grammar ({found[1]})") if found else (None, "plain")
    llm, bound = capped(llm, FUNCTION_TOKENS), capped(bound, FUNCTION_TOKENS) if bound is not None else None
    if k > 1:
        temperature = sampling_temperature(llm, k, temperature)
    call = None if k <= 1 and temperature is None else metered_sampler(llm, k, temperature)
    with step("candidates"):
        got, refused = call_under_grammar(llm, bound, messages, runtime, meter, call=call, function=function.name)
    if refused:
        path = "plain"
    candidates: list[str] = []
    for text in got if isinstance(got, list) else [got]:
        source = extract_function(text, function, language)
        if source is not None:  # a repeat stays: it is one more vote in the consensus (run once)
            candidates.append(source)
    return candidates, path


# --------------------------------------------------------------------------------- reading a reply

_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)


def _blocks(text: str) -> list[str]:
    """Where code may be in a reply: its fenced blocks, then the whole reply without fence lines."""
    text = text.replace("\r\n", "\n")
    blocks = [m.group(1) for m in _FENCE.finditer(text)]
    bare = "\n".join(line for line in text.split("\n") if not line.startswith("```"))
    return [*blocks, bare]


def extract_function(text: str, function: FunctionSpec, language: str) -> str | None:
    """The function named `function.name` in any reply (fences, prose around it, other
    functions, test code after it), whole; when the reply defines exactly one function (tests
    aside) under another name, that one, renamed. Its first line is the planned header when
    its parameters drifted but their count did not (the body keeps its own names: they are
    bound from the planned ones), so the name and parameters cannot drift; decorators are
    dropped. None: no such function."""
    finder = _javascript_functions if language == "javascript" else _python_functions
    found: list[tuple[str, str]] = []
    for block in _blocks(text):
        found += finder(block)
    chosen = next((source for name, source in found if name == function.name), None)
    if chosen is None:
        others = {name for name, _ in found if not name.startswith("test")}
        if len(others) != 1:
            return None
        chosen = next(source for name, source in found if name in others)
    if language == "javascript":
        return _javascript_normalised(chosen, function)
    normalised = _python_normalised(chosen, function)
    return _without_dead_code(normalised) if normalised is not None else None


def _without_dead_code(source: str) -> str:
    """The function without what follows its body's first top-level `return` / `raise`: code no
    call reaches (a small model goes on after its answer, repeating a variant of it until its
    token budget ends: seen on the real 0.5B, 40 dead lines after the return)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return source
    for index, statement in enumerate(node.body):
        if isinstance(statement, (ast.Return, ast.Raise)) and index < len(node.body) - 1:
            end = statement.end_lineno or statement.lineno
            return "\n".join(source.split("\n")[:end]).rstrip()
    return source


# -- Python


_DEF = re.compile(r"^([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.MULTILINE)


def _python_functions(block: str) -> list[tuple[str, str]]:
    """The outermost functions of a block as (name, source), by the parser when the block
    parses, else by indentation (prose around them, a body cut short)."""
    code = textwrap.dedent(block)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _python_by_indentation(block)
    lines = code.split("\n")
    return [
        (node.name, "\n".join(lines[node.lineno - 1 : node.end_lineno]))
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def _python_by_indentation(block: str) -> list[tuple[str, str]]:
    lines = block.split("\n")
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(lines):
        match = _DEF.match(lines[index])
        if match is None:
            index += 1
            continue
        indent = len(match.group(1).expandtabs())
        end = index + 1
        while end < len(lines):
            line = lines[end]
            if line.strip() and len(line) - len(line.lstrip()) <= indent and not _continues_header(lines, index, end):
                break
            end += 1
        chunk = "\n".join(lines[index:end]).rstrip()
        out.append((match.group(2), textwrap.dedent(chunk)))
        index = end
    return out


def _continues_header(lines: list[str], start: int, index: int) -> bool:
    """Whether line `index` is still inside the (multi-line) header begun at `start`."""
    header = "\n".join(lines[start:index])
    return header.count("(") > header.count(")")


def _header_end(source: str) -> tuple[int, int] | None:
    """(row, column) just past the colon that ends a Python function's header (1-based row)."""
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.OP:
                continue
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            elif token.string == ":" and depth == 0:
                return token.end
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None


def _python_params(header: str) -> list[str] | None:
    """The plain positional parameters of a header, or None (unreadable, or *args, **kwargs,
    keyword-only ones: not for a planned header to replace)."""
    try:
        node = ast.parse(header.strip() + "\n    pass").body[0]
    except (SyntaxError, ValueError, IndexError):
        return None
    if not isinstance(node, ast.FunctionDef):
        return None
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs:
        return None
    return [a.arg for a in [*args.posonlyargs, *args.args]]


def _python_normalised(source: str, function: FunctionSpec) -> str | None:
    source = source.rstrip()
    end = _header_end(source)
    if end is None:
        return None
    lines = source.split("\n")
    row, column = end
    header = "\n".join([*lines[: row - 1], lines[row - 1][:column]])
    rest = lines[row - 1][column:].strip()
    body = lines[row:]
    if rest and not rest.startswith("#"):  # `def f(a): return a`
        body = [f"    {rest}", *body]
    if not any(line.strip() for line in body):
        return None
    params = _python_params(header)
    planned = [p.name for p in function.params]
    if params is not None and len(params) == len(planned):
        head = function.header("python")
        if params != planned:
            indent = next(line for line in body if line.strip())
            indent = indent[: len(indent) - len(indent.lstrip())] or "    "
            body = [f"{indent}{', '.join(params)} = {', '.join(planned)}", *body]
    else:
        head = re.sub(r"def[ \t]+[A-Za-z_]\w*", f"def {function.name}", header, count=1)
    return "\n".join([head, *body]).rstrip()


# -- JavaScript


_JS_MASKED = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`|//[^\n]*|/\*.*?\*/", re.DOTALL)
_JS_START = re.compile(
    r"(?:^|(?<=[\s;}]))(?:export[ \t]+(?:default[ \t]+)?)?(?:async[ \t]+)?function[ \t]*\*?[ \t]*([A-Za-z_$][\w$]*)[ \t]*\("
    r"|(?:^|(?<=[\s;}]))(?:export[ \t]+)?(?:const|let|var)[ \t]+([A-Za-z_$][\w$]*)[ \t]*=[ \t]*(?:async[ \t]*)?"
    r"(?:(?P<expression>function)[ \t]*\*?[ \t]*[\w$]*[ \t]*\(|\(|(?P<single>[A-Za-z_$][\w$]*)[ \t]*=>)"
)


def _mask(code: str) -> str:
    """`code` with its strings' and comments' characters blanked (line breaks kept), so that
    braces and parentheses in them are not counted; same length."""
    return _JS_MASKED.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), code)


def _closing(masked: str, start: int) -> int | None:
    """The index of the bracket closing the one at `start` in masked code, or None."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = []
    for index in range(start, len(masked)):
        char = masked[index]
        if char in pairs:
            stack.append(pairs[char])
        elif char in ")}]":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return index
    return None


def _javascript_functions(block: str) -> list[tuple[str, str]]:
    """The functions of a block as (name, `function name(params) {body}`): declarations, and
    arrow functions or function expressions given to a const / let / var (converted)."""
    masked = _mask(block)
    out: list[tuple[str, str]] = []
    position = 0
    while True:
        match = _JS_START.search(masked, position)
        if match is None:
            return out
        found = _javascript_at(block, masked, match)
        if found is None:
            position = match.end()
            continue
        name, params, body, end = found
        out.append((name, f"function {name}({params}) {{{body}}}"))
        position = end


def _javascript_at(block: str, masked: str, match: re.Match[str]) -> tuple[str, str, str, int] | None:
    """(name, parameters' text, body's text between the braces, index past the function) of a
    function starting at `match`, or None."""
    name = match.group(1) or match.group(2)
    if match.group("single"):  # `x => ...`: one parameter without parentheses
        params, after = match.group("single"), match.end()
    else:
        opened = match.end() - 1
        closed = _closing(masked, opened)
        if closed is None:
            return None
        params, after = block[opened + 1 : closed], closed + 1
    rest = masked[after:]
    is_arrow = bool(match.group(2)) and not match.group("expression")
    arrow = re.match(r"\s*=>\s*" if is_arrow and not match.group("single") else r"\s*", rest)
    if arrow is None:
        return None
    begin = after + arrow.end()
    if masked.startswith("{", begin):
        closed = _closing(masked, begin)
        if closed is None:
            return None
        return name, params, block[begin + 1 : closed], closed + 1
    if not is_arrow:
        return None
    end = begin  # an expression body: up to a ";" or a line break outside brackets
    depth = 0
    while end < len(masked) and not (depth == 0 and masked[end] in ";\n"):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(masked[end], 0)
        if depth < 0:
            break
        end += 1
    expression = block[begin:end].strip()
    return (name, params, f"\n  return {expression};\n", end) if expression else None


def _javascript_normalised(source: str, function: FunctionSpec) -> str | None:
    head, _, rest = source.partition("{")
    inner = rest[:-1]
    first, newline, after = inner.partition("\n")
    lines = ([f"  {first.strip()}"] if first.strip() else []) + (after.split("\n") if newline else [])
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return None
    own = head[head.index("(") + 1 : head.rindex(")")]
    params = [p.strip() for p in own.split(",")] if own.strip() else []
    names = [p.split("=")[0].strip() for p in params]
    planned = [p.name for p in function.params]
    simple = all(re.fullmatch(r"[A-Za-z_$][\w$]*", n) for n in names)
    if simple and len(names) == len(planned):
        header = function.header("javascript")
        if names != planned:
            indent = next(line for line in lines if line.strip())
            indent = indent[: len(indent) - len(indent.lstrip())] or "  "
            lines = [f"{indent}var [{', '.join(names)}] = [{', '.join(planned)}];", *lines]
    else:
        header = f"function {function.name}({own.strip()}) {{"
    return "\n".join([header, *[line.rstrip() for line in lines], "}"])
