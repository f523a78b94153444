"""The frame of a module's reply, as a grammar: its declared files, then its shared-state update.

What a module must answer is known before the model writes a token: each file it declared, in
order, as its path on a line and a fenced block with the kind's language label, then
`SHARED_STATE_UPDATE:` and a JSON object with exactly the keys it declared it writes. Generated
under that grammar, a reply cannot miss a file, invent one (`core_2.py`), close a fence early,
bury the update inside the code, or leave a key out; only the code inside each block is free
text, and it cannot hold a closing fence at a line's start or the update marker.

`ReplyFrame` is that frame; it renders as
- a Lark grammar with the update's JSON schema embedded, for llguidance (`LocalLLM`, in
  process: `lark_grammar`), with its wrap-up (`ReplyRow`): when the token budget is about to
  run out inside a body, the fence is closed, the remaining files' frames are written empty
  (a module problem, named by the checks) and the update is still written, whole;
- a GBNF / EBNF grammar for servers (`gbnf_grammar`): vLLM's `structured_outputs.grammar` and
  SGLang's `ebnf` (xgrammar), llama.cpp's `grammar`. The body's two exclusions are spelt as
  per-character rules there (a line-start state and the marker's matching automaton), since
  GBNF has no negation.

`FunctionFrame` is the same for one function's reply (issue 35): its planned first line, literal,
then its body and nothing after it (`function_row` in process, `FunctionFrame.gbnf` on a server).

Any text a grammar must hold literally (paths with spaces, quotes, backslashes, non-ASCII) is
escaped for each syntax.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from .backend import backend_of
from .structured import RowGrammar, json_wrap_up, update_schema, wrap_up_reserve

__all__ = [
    "ReplyFrame",
    "reply_frame",
    "lark_grammar",
    "gbnf_grammar",
    "update_grammar_schema",
    "language_label",
    "ReplyRow",
    "reply_row",
    "FunctionFrame",
    "function_row",
    "grammar_model",
    "render_files",
    "close_frame",
]

UPDATE_MARKER = "SHARED_STATE_UPDATE:"
SEPARATOR = "\n\n"
"""Between a closing fence and what follows it (the next file's path, the update marker)."""
UPDATE_LEAD = UPDATE_MARKER + " "
FENCE = "```"

# The fence's language label by file suffix (what `project.extract_files` reads back).
_LABELS = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".jsx": "jsx",
    ".tsx": "tsx",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".json": "json",
    ".md": "markdown",
    ".csv": "csv",
    ".txt": "text",
    ".sql": "sql",
    ".sh": "bash",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".xml": "xml",
    ".svg": "xml",
}


def language_label(path: str) -> str:
    """The fence's language label for a file ("" when its suffix has none)."""
    return _LABELS.get(PurePosixPath(path).suffix.lower(), "")


@dataclass(frozen=True)
class ReplyFrame:
    """A module's reply frame: its files as (path, language label), in order, and its keys."""

    files: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]

    def header(self, index: int) -> str:
        path, label = self.files[index]
        return f"{path}\n{FENCE}{label}\n"

    def to_dict(self) -> dict[str, Any]:
        return {"files": [list(f) for f in self.files], "keys": list(self.keys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplyFrame:
        return cls(tuple((str(p), str(label)) for p, label in data["files"]), tuple(str(k) for k in data["keys"]))

    def rest_after_body(self, index: int) -> str:
        """The frame's text after the body of file `index` ends at a line's start: its closing
        fence, the later files' frames (empty) and the update's lead, up to its JSON."""
        text = FENCE + SEPARATOR
        for later in range(index + 1, len(self.files)):
            text += self.header(later) + FENCE + SEPARATOR
        return text + UPDATE_LEAD

    @cached_property
    def schema(self) -> dict[str, Any]:
        return update_grammar_schema(list(self.keys))

    def gbnf(self) -> str:
        """The frame as a server's grammar (`gbnf_grammar`)."""
        return gbnf_grammar(self)


def reply_frame(spec: Any, only: list[str] | None = None) -> ReplyFrame | None:
    """The frame of a module's reply (`only`: the subset of its files a fix round rewrites),
    or None when the module declared no files (it names them itself: no frame to hold)."""
    files = [f for f in (getattr(spec, "files", None) or []) if only is None or f in only]
    if not files:
        return None
    return ReplyFrame(tuple((f, language_label(f)) for f in files), tuple(spec.shared_state_writes))


def update_grammar_schema(keys: list[str]) -> dict[str, Any]:
    """The update's schema inside a reply grammar: exactly the declared keys, each non-empty (a
    string with a character other than a blank, or a list of at least one such string)."""
    schema = update_schema(keys)
    text = {"type": "string", "pattern": "^\\s*\\S"}  # not blank; llguidance reads patterns as prefixes
    value = {"anyOf": [text, {"type": "array", "items": text, "minItems": 1}]}
    schema["properties"] = {key: value for key in keys}
    return schema


# ---------------------------------------------------------------------------------------------
# llguidance (Lark)

# A body: lines that neither start with a fence nor hold the update marker, then the closing
# fence (one lexeme: a closing fence of its own would be ambiguous with a body line's start).
_BODY_LINES = r"([^`\n][^\n]*\n|`{1,2}([^`\n][^\n]*)?\n|\n)*```"
_LARK_BODY = f"BODY: /{_BODY_LINES}/ & ~/(?s:.*{UPDATE_MARKER.rstrip(':')}.*)/"
# Compact JSON with at most one space between tokens (as the plan's schema).
_JSON_OPTIONS = {"whitespace_flexible": False, "whitespace_pattern": "[ ]?"}


def _lark_literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def lark_grammar(frame: ReplyFrame) -> str:
    """The frame as an llguidance Lark grammar."""
    parts: list[str] = []
    for index in range(len(frame.files)):
        lead = SEPARATOR if index else ""
        parts += [_lark_literal(lead + frame.header(index)), "BODY"]
    parts.append(_lark_literal(SEPARATOR + UPDATE_LEAD))
    parts.append("update")
    schema = {**frame.schema, "x-guidance": _JSON_OPTIONS}
    return "\n".join(
        [
            "start: " + " ".join(parts),
            "update: %json " + json.dumps(schema),
            _LARK_BODY,
            "",
        ]
    )


# ---------------------------------------------------------------------------------------------
# GBNF (llama.cpp) / EBNF (xgrammar: vLLM, SGLang)


def _gbnf_char(char: str) -> str:
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if char in '"\\':
        return "\\" + char
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02X}"
    return char  # UTF-8 as it is: both engines read it in literals


def _gbnf_literal(text: str) -> str:
    return '"' + "".join(_gbnf_char(c) for c in text) + '"'


def _class_char(char: str) -> str:
    return "\\" + char if char in "]^-\\" else _gbnf_char(char)


def _marker_rules(word: str) -> list[str]:
    """Per-character rules of a body line that never holds `word`: state m<k> has matched the
    first k characters of it (the matching automaton of `word`, KMP style); a newline ends the
    line. From a line's start (`line`), one and two backticks in (l1, l2), a third one is the
    closing fence: the body ends there."""

    def step(state: int, char: str) -> int:
        text = word[:state] + char
        for length in range(min(len(text), len(word)), -1, -1):
            if text.endswith(word[:length]):
                return length
        return 0

    alphabet = sorted(set(word))

    def moves(state: int, excluded: str = "") -> str:
        options = ['"\\n" line']
        handled = set(excluded)
        for char in alphabet:
            target = step(state, char)
            handled.add(char)
            if target == len(word):
                continue  # the whole marker: refused
            options.append(f'"{_gbnf_char(char)}" m{target}')
        others = "".join(_class_char(c) for c in sorted(handled)) + "\\n"
        options.append(f"[^{others}] m0")
        return " | ".join(options)

    rules = [
        'line ::= "`" l1 | ' + moves(0, "`"),
        'l1 ::= "`" l2 | ' + moves(0, "`"),
        'l2 ::= "`" | ' + moves(0, "`"),  # the third backtick at a line's start closes the block
    ]
    rules += [f"m{state} ::= {moves(state)}" for state in range(len(word))]
    return rules


_GBNF_JSON = [
    'string ::= "\\"" " "* nonblank char* "\\""',
    'nonblank ::= [^"\\\\\\x00-\\x20] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])',
    'char ::= [^"\\\\\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])',
    'value ::= string | "[" ws string (ws "," ws string)* ws "]"',
    'ws ::= " "?',
]


def gbnf_grammar(frame: ReplyFrame) -> str:
    """The frame as GBNF (llama.cpp) / EBNF (xgrammar), root rule `root`.

    `line` is a body from a line's start to its closing fence; it is right-recursive one
    character at a time (both engines keep a tail reference flat)."""
    parts: list[str] = []
    for index in range(len(frame.files)):
        lead = SEPARATOR if index else ""
        parts += [_gbnf_literal(lead + frame.header(index)), "line"]
    parts += [_gbnf_literal(SEPARATOR + UPDATE_LEAD), "update"]
    if frame.keys:
        members = ' ws "," ws '.join(f'{_gbnf_literal(json.dumps(key))} ws ":" ws value' for key in frame.keys)
        update = f'update ::= "{{" ws {members} ws "}}"'
    else:
        update = 'update ::= "{" ws "}"'
    rules = ["root ::= " + " ".join(parts), update, *_GBNF_JSON, *_marker_rules(UPDATE_MARKER.rstrip(":"))]
    return "\n".join(rules) + "\n"


# ---------------------------------------------------------------------------------------------
# The in-process row: the frame's grammar and its wrap-up


class ReplyRow(RowGrammar):
    """One batch row generating a module reply under its frame (llguidance).

    It follows where the reply is (which file's body, whether at a line's start, or in the
    update) from the tokens it consumes, in constant time per token. The wrap-up: while the
    tokens left could still hold the rest of the frame (closing fence, the later files' empty
    frames, the update's lead, counted in this tokenizer's tokens) and the update's own reserve,
    the model writes freely; past that, each step allows only the next token of the rest of
    the frame, so the update starts with enough budget for the JSON wrap-up to close it.
    """

    def __init__(self, constraint: Any, matcher: Any, frame: ReplyFrame) -> None:
        json_reserve = wrap_up_reserve(frame.schema)
        super().__init__(constraint, matcher, json_reserve)
        self.frame = frame
        self.fences = 0  # "\n```" seen: file i's body is open while fences == 2 * i + 1
        self.at_line_start = True
        self.in_update = False
        self._tail = ""
        self._rest_tokens: dict[tuple[int, bool], list[int]] = {}
        self._forcing: list[int] = []  # the rest of the frame being written, token by token

    def consume(self, token: int) -> None:
        if self.matcher.is_error() or self.matcher.is_stopped():
            return
        if self.in_update:
            super().consume(token)
            return
        if not self.matcher.consume_token(token):
            return
        if self._forcing:
            self._forcing = self._forcing[1:] if token == self._forcing[0] else []
        texts = self.constraint._texts
        text = texts[token] if token < len(texts) else ""
        if not text:
            return
        window = self._tail + text
        self.fences += window.count("\n" + FENCE) - self._tail.count("\n" + FENCE)
        self.at_line_start = window.endswith("\n")
        self._tail = window[-(len(UPDATE_LEAD) + 4) :]
        if self.fences >= 2 * len(self.frame.files) and UPDATE_LEAD.rstrip() in window:
            self.in_update = True
            # the JSON lexer state of what the token held past the marker
            self.follow_json(window[window.index(UPDATE_LEAD.rstrip()) + len(UPDATE_LEAD.rstrip()) :])

    def _rest(self) -> list[int]:
        """The tokens of the rest of the frame from inside the open body (cached per place)."""
        index = self.fences // 2
        key = (index, self.at_line_start)
        if key not in self._rest_tokens:
            text = ("" if self.at_line_start else "\n") + self.frame.rest_after_body(index)
            self._rest_tokens[key] = list(self.constraint._tokenizer.tokenize_str(text))
        return self._rest_tokens[key]

    def steer(self, refused: Any, left: int) -> None:
        if self.in_update:
            if left < self.reserve:
                json_wrap_up(refused, self.constraint, self.in_string)
            return
        if not self._forcing:
            if self.fences % 2 == 0:
                return  # a path, a fence's opening, a separator: the grammar allows one text only
            rest = self._rest()
            if left >= len(rest) + self.reserve:
                return
            self._forcing = rest
        token = self._forcing[0]
        if token < refused.shape[0] and not refused[token]:
            refused[:] = True
            refused[token] = False


_MATCHERS: dict[tuple[int, str], Any] = {}


def _matcher(constraint: Any, grammar: str) -> Any:
    """A fresh llguidance matcher for a Lark `grammar` (compiled once per tokenizer conversion,
    copied per call)."""
    from llguidance import LLMatcher

    key = (id(constraint), grammar)
    if key not in _MATCHERS:
        matcher = LLMatcher(constraint._tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise ValueError(f"the reply grammar does not compile: {matcher.get_error()}")
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        _MATCHERS[key] = matcher
    return _MATCHERS[key].deep_copy()


def reply_row(constraint: Any, frame: ReplyFrame) -> ReplyRow:
    """A fresh row for one generation under `frame`."""
    return ReplyRow(constraint, _matcher(constraint, lark_grammar(frame)), frame)


# ---------------------------------------------------------------------------------------------
# One function's reply: its planned first line, then its body


@dataclass(frozen=True)
class FunctionFrame:
    """The frame of one function's reply (issue 35): its first line, literal (`header`, as the
    plan wrote it), then its body, and nothing after it.

    - Python: every body line is empty or starts with a space or a tab, the first one with
      something after its indentation; the reply ends where the body ends (no top-level code,
      no test calls after the function);
    - JavaScript: body lines are free, but a line starting with `}` closes the function: the
      reply ends with it (and a newline, maybe).

    The body's size is bounded by the model's token budget only."""

    header: str
    language: str

    def to_dict(self) -> dict[str, Any]:
        return {"header": self.header, "language": self.language}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionFrame:
        return cls(str(data["header"]), str(data["language"]))

    def lark(self) -> str:
        """The frame as an llguidance Lark grammar."""
        if self.language == "javascript":
            body = r"BODY: /([^}\n][^\n]*\n|\n)*\}\n?/"
        else:
            body = r"BODY: /[ \t]+[^ \t\n][^\n]*(\n([ \t][^\n]*)?)*/"
        head = _lark_literal(self.header + "\n")
        return "\n".join([f"start: {head} BODY", body, ""])

    def gbnf(self) -> str:
        """The frame as GBNF (llama.cpp) / EBNF (xgrammar: vLLM, SGLang), root rule `root`."""
        head = _gbnf_literal(self.header + "\n")
        if self.language == "javascript":
            rules = [f'root ::= {head} line* "}}" "\\n"?', 'line ::= [^}\\n] [^\\n]* "\\n" | "\\n"']
        else:
            rules = [
                f"root ::= {head} first rest*",
                "first ::= [ \\t]+ [^ \\t\\n] [^\\n]*",
                'rest ::= "\\n" ([ \\t] [^\\n]*)?',
            ]
        return "\n".join(rules) + "\n"


def function_row(constraint: Any, frame: FunctionFrame) -> RowGrammar:
    """A fresh row for one generation of a function under `frame` (no wrap-up: a body cut at
    the token budget is a candidate that fails its examples)."""
    return RowGrammar(constraint, _matcher(constraint, frame.lark()), 0)


def grammar_model(llm: Any, frame: ReplyFrame | None) -> tuple[Any, str]:
    """The model bound to answer under `frame`, and the path replies take: `grammar (...)`
    naming the engine, or `parsed` (no frame, or a backend that takes no grammar: the reply is
    parsed and repaired as any model's) with None (`backend.Backend.under_grammar`)."""
    if frame is None:
        return None, "parsed"
    found = backend_of(llm).under_grammar(frame)
    return (found[0], f"grammar ({found[1]})") if found else (None, "parsed")


def render_files(files: list[Any]) -> str:
    """Files (`project.ProjectFile`) written back as a reply's artifact, each framed as a
    grammar writes it (what `project.extract_files` reads back)."""
    blocks = []
    for f in files:
        body = f.content if not f.content or f.content.endswith("\n") else f.content + "\n"
        blocks.append(f"{f.path}\n{FENCE}{language_label(f.path)}\n{body}{FENCE}")
    return SEPARATOR.join(blocks)


def close_frame(frame: ReplyFrame, text: str) -> tuple[str, str | None]:
    """A reply under `frame` that was cut off before its update (a server stops at its token
    budget with no wrap-up: vLLM answers `finish_reason: length` mid-body), closed without the
    model: the open body's fence closed, the files after it framed empty (each then a named
    module problem), the partial separator dropped; and a note naming the file it was cut in.
    The update, absent, is then re-asked as for any reply. A reply that does not follow the
    frame, or that reached its update, is returned as it is, with None."""
    if UPDATE_LEAD.rstrip() in text:
        return text, None
    pos, closed = 0, []
    for index in range(len(frame.files)):
        literal = (SEPARATOR if index else "") + frame.header(index)
        if not text.startswith(literal, pos):
            if not literal.startswith(text[pos:]):
                return text, None  # not the frame's text: leave it to the parser
            closed = [text + literal[len(text) - pos :] + FENCE]
            cut = frame.files[index][0]
            break
        pos += len(literal)
        if text.startswith(FENCE, pos):
            pos += len(FENCE)
            continue
        end = text.find("\n" + FENCE, pos)
        if end < 0:  # cut inside this body
            closed = [text + ("" if text.endswith("\n") else "\n") + FENCE]
            cut = frame.files[index][0]
            break
        pos = end + 1 + len(FENCE)
    else:
        return text[:pos], "the reply was cut off after its files, before its update"
    for later in range(index + 1, len(frame.files)):
        closed.append(frame.header(later) + FENCE)
    note = f"the reply was cut off at the token budget inside {cut!r}; its fence closed without the model"
    if index + 1 < len(frame.files):
        note += f", the files after it left empty ({', '.join(p for p, _ in frame.files[index + 1 :])})"
    return SEPARATOR.join(closed), note
