"""One function written alone (issue 35, item 2): its prompt, the grammar that fixes its first
line (llguidance in process, GBNF on a server), K candidates, and reading a function out of any
reply. Nothing here runs generated code: Python is only parsed, JavaScript only syntax-checked
(`node --check`)."""

from __future__ import annotations

import ast
import itertools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from openai_server import ScriptedOpenAIServer, grammar_in
from scripted import ScriptedChatModel

from matrioska import LocalLLM
from matrioska.functions.spec import Example, FunctionPlan, FunctionSpec, Param
from matrioska.functions.write import ask_candidates, capped, extract_function, function_grammar, function_messages
from matrioska.model.backend import backend_of
from matrioska.model.calls import GenerationMeter
from matrioska.model.factory import load_chat_model
from matrioska.model.servers import forget_server

ADD = FunctionSpec(
    "add",
    [Param("a", "int"), Param("b", "int")],
    "int",
    purpose="The sum of a and b.",
    examples=[Example([2, 3], 5), Example([0, 0], 0), Example([1, 1], 3, suspect="candidates agree on 2")],
)
ADD_JS = FunctionSpec("add", [Param("a"), Param("b")], purpose="The sum.", examples=[Example([2, 3], 5)])
HEADER = "def add(a: int, b: int) -> int:"
HEADER_JS = "function add(a, b) {"
# A header a grammar literal must escape: quotes, a backslash, brackets.
ODD = FunctionSpec("odd", [Param("s", 'Literal["a\\\\b"]'), Param("n", "dict[str, int]")], "str")


def _python(source: str | None) -> ast.FunctionDef:
    assert source is not None
    tree = ast.parse(source)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef), source
    return tree.body[0]


# ------------------------------------------------------------------------------ extract_function


@pytest.mark.parametrize(
    "reply",
    [
        "Here it is:\n```python\nimport math\n\n@cache\ndef add(a, b):\n    return a + b\n\nprint(add(1, 2))\n```\nDone.",
        "Sure!\n\ndef add(a: int, b: int) -> int:\n    '''Sum {.'''\n    return a + b\n\nThis adds them.",
        "def helper(x):\n    return x\n\n\ndef add(a, b):\n    return helper(a) + b\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "def add(a, b): return a + b",
        "    def add(a, b):\n        return a + b\n",
        "def add(\n    a,\n    b,\n):\n    # the sum\n    return a + b\nassert add(2, 3) == 5",
    ],
)
def test_the_python_function_is_read_out_of_a_messy_reply(reply: str) -> None:
    source = extract_function(reply, ADD, "python")
    node = _python(source)
    assert source is not None and source.startswith(HEADER + "\n")
    assert node.name == "add" and not node.decorator_list
    assert "print" not in source and "assert" not in source and "helper(x)" not in source
    assert any(isinstance(n, ast.Return) for n in ast.walk(node))


def test_a_drifted_python_header_is_the_planned_one_and_the_body_keeps_its_names() -> None:
    reply = "```python\ndef plus(x: float, y: float):\n    '''Add.'''\n    return x + y\n```\n\nplus(1, 2)"
    source = extract_function(reply, ADD, "python")
    assert source == f"{HEADER}\n    x, y = a, b\n    '''Add.'''\n    return x + y"
    # a different count of parameters: its own header, under the planned name
    assert extract_function("def plus(x, y, z):\n    return x", ADD, "python") == "def add(x, y, z):\n    return x"
    # swapped names are rebound at once (a tuple assignment), never one after the other
    assert "    b, a = a, b\n" in (extract_function("def add(b, a):\n    return a - b", ADD, "python") or "")


@pytest.mark.parametrize(
    "reply",
    [
        "No code here.",
        "def one(x):\n    return x\n\ndef two(y):\n    return y\n",  # two other functions: which?
        "def add(a, b):\n",  # no body
        "```python\nadd = lambda a, b: a + b\n```",
    ],
)
def test_a_reply_without_the_function_gives_none(reply: str) -> None:
    assert extract_function(reply, ADD, "python") is None


def _node_check(tmp_path: Path, source: str) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    path = tmp_path / "f.js"
    path.write_text(source + "\n")
    done = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("reply", "body"),
    [
        (
            '```js\nfunction add(a, b) {\n  const s = "}{"; // }\n  return a + b + s.length; /* { */\n}\n'
            "console.log(add(1, 2));\n```",
            'const s = "}{"; // }',
        ),
        ("Sure: export function add(a, b) {\n  return `${a}}` + b;\n}\n\nThat is all.", "return `${a}}` + b;"),
        ("const add = (a, b) => a + b;\n", "return a + b;"),
        ("let add = async function (a, b) {\n  return a + b;\n};", "return a + b;"),
        ("function add(a, b) { return a + b; }", "return a + b;"),
        ("const total = (1 + 2) * 3;\nfunction helper() {}\nfunction add(a, b) {\n  return a + b;\n}", "return a + b;"),
    ],
)
def test_the_javascript_function_is_read_out_of_a_messy_reply(tmp_path: Path, reply: str, body: str) -> None:
    source = extract_function(reply, ADD_JS, "javascript")
    assert source is not None and source.startswith(HEADER_JS + "\n") and source.endswith("\n}")
    assert body in source and "console.log" not in source and "helper" not in source
    _node_check(tmp_path, source)


def test_a_drifted_or_renamed_javascript_function_gets_its_planned_header(tmp_path: Path) -> None:
    source = extract_function("function sum(x, y) {\n  return x + y;\n}\nsum(1, 2);", ADD_JS, "javascript")
    assert source == "function add(a, b) {\n  var [x, y] = [a, b];\n  return x + y;\n}"
    _node_check(tmp_path, source)
    assert extract_function("const sum = x => x * 2;", ADD_JS, "javascript") == "function add(x) {\n  return x * 2;\n}"
    assert extract_function("function a() {}\nfunction b() {}", ADD_JS, "javascript") is None
    assert extract_function("function add(a, b) {\n  return a +", ADD_JS, "javascript") is None  # cut


# ------------------------------------------------------------------------------ the prompt


def test_the_prompt_holds_what_one_function_needs() -> None:
    helper = FunctionSpec("parse", [Param("text", "str")], "list", purpose="SECRET BODY PURPOSE")
    plan = FunctionPlan("core", "python", [helper, ADD], constants=['DATA_FILE = "todos.json"'])
    system, human = function_messages(
        goal="A calculator",
        module="core",
        purpose="the arithmetic",
        plan=plan,
        function=ADD,
        callables={"storage.load": "storage.load(path: str) -> list"},
    )
    text = str(human.content)
    assert "Python" in str(system.content) and "no tests" in str(system.content).lower()
    assert "A calculator" in text and "core (the arithmetic)" in text and text.endswith(HEADER)
    assert "add(2, 3) == 5" in text and "add(0, 0) == 0" in text and "add(1, 1)" not in text  # suspect left out
    assert "parse(text: str) -> list" in text and "SECRET BODY PURPOSE" not in text
    assert "load(path: str) -> list" in text and "from storage import load" in text
    assert 'DATA_FILE = "todos.json"' in text and "failed" not in text
    fix = function_messages(
        goal="g", module="core", purpose="", plan=plan, function=ADD, callables={}, evidence="add(2, 3) returned 6"
    )
    assert "add(2, 3) returned 6" in str(fix[1].content) and "storage" not in str(fix[1].content)
    js = function_messages(
        goal="g",
        module="ui",
        purpose="",
        plan=FunctionPlan("ui", "javascript", [ADD_JS]),
        function=ADD_JS,
        callables={},
    )
    assert "JavaScript" in str(js[0].content) and "add(2, 3) === 5" in str(js[1].content)


# ------------------------------------------------------------------------------ the grammar

GOOD = {
    "python": [
        f"{HEADER}\n    return a + b",
        f"{HEADER}\n    '''Sum.'''\n\n\tx = a\n    return x + b\n\n",
    ],
    "javascript": [
        f"{HEADER_JS}\n  return a + b;\n}}",
        f'{HEADER_JS}\n  const s = "}}";\n  if (a) {{\n    return s;\n  }}\n\n  return b;\n}}\n',
    ],
}
BAD = {
    "python": [
        f"{HEADER}\n    return a + b\nprint(add(1, 2))",  # top-level code after the function
        f"{HEADER}\n    return a + b\n\ndef test_add():\n    pass",
        "def add(a, b):\n    return a + b",  # the header drifted
        f"```python\n{HEADER}\n    return a + b",
        f"{HEADER}\n",  # no body
        f"{HEADER}\n    \n    return 1",  # the first body line blank
    ],
    "javascript": [
        f"{HEADER_JS}\n  return a + b;\n}}\nconsole.log(add(1, 2));",  # code after the closing line
        "function add(x, y) {\n  return x + y;\n}",
        f"{HEADER_JS}\n  return a + b;\n",  # never closed
        f"{HEADER_JS} return a; }}",
    ],
}


@pytest.fixture(scope="module")
def accepts(mistral_vocab_dir: Path):
    import llguidance.hf
    from llguidance import LLMatcher
    from llguidance.gbnf_to_lark import gbnf_to_lark
    from transformers import AutoTokenizer

    tokenizer = llguidance.hf.from_tokenizer(AutoTokenizer.from_pretrained(str(mistral_vocab_dir)))

    def check(syntax: str, function: FunctionSpec, language: str, text: str) -> bool:
        frame = function_grammar(function, language)
        grammar = frame.lark() if syntax == "lark" else gbnf_to_lark(frame.gbnf())
        matcher = LLMatcher(tokenizer, grammar, log_level=0)
        assert not matcher.is_error(), matcher.get_error()
        return matcher.consume_tokens(tokenizer.tokenize_str(text)) and matcher.is_accepting()

    return check


@pytest.mark.parametrize("syntax", ["lark", "gbnf"])
@pytest.mark.parametrize("language", ["python", "javascript"])
def test_the_grammar_fixes_the_header_and_ends_with_the_function(accepts, syntax: str, language: str) -> None:
    function = ADD if language == "python" else ADD_JS
    assert all(accepts(syntax, function, language, text) for text in GOOD[language])
    assert [text for text in BAD[language] if accepts(syntax, function, language, text)] == []


@pytest.mark.parametrize("syntax", ["lark", "gbnf"])
def test_an_odd_header_is_escaped_in_both_syntaxes(accepts, syntax: str) -> None:
    header = ODD.header("python")
    assert '"' in header and "\\" in header
    assert accepts(syntax, ODD, "python", header + "\n    return s")
    assert not accepts(syntax, ODD, "python", header.replace("\\", "") + "\n    return s")
    frame = function_grammar(ODD, "python")
    assert type(frame).from_dict(frame.to_dict()) == frame


def _top_level(text: str, header: str) -> list[str]:
    """The lines after the header that are not indented (Python: code outside the function)."""
    return [line for line in text[len(header) :].split("\n")[1:] if line[:1] not in ("", " ", "\t")]


def test_a_tiny_model_under_the_grammar_writes_the_planned_header_and_nothing_after(mistral_vocab_dir: Path) -> None:
    """Random weights, the real Mistral vocabulary, pushed towards line breaks, `print` and `}`
    at a line's start (a bias on those tokens): free, the model writes top-level lines and
    closing braces anywhere; under the grammar every reply starts with the exact header, and
    (Python) no line after it is at the top level, (JavaScript) the first line starting with `}`
    ends it."""
    import torch

    llm = LocalLLM(
        str(mistral_vocab_dir), max_new_tokens=48, do_sample=True, temperature=1.0, top_p=1.0, load_in_4bit=False
    )
    newline, brace, word = llm.tokenizer.convert_tokens_to_ids(["<0x0A>", "}", "print"])
    biased = {"pipeline_kwargs": {"sequence_bias": {(newline,): 8.0, (brace,): 5.0, (word,): 6.0}}}
    messages = [HumanMessage("Write add.")]
    for function, language in ((ADD, "python"), (ADD_JS, "javascript"), (ODD, "python")):
        header = function.header(language)
        found = backend_of(llm).under_function(function_grammar(function, language))
        assert found is not None and found[1] == "llguidance, in process"
        torch.manual_seed(0)
        free = [llm.bind(**biased).invoke(messages).content for _ in range(2)]
        assert any(not text.startswith(header) for text in free)
        assert any(_top_level(header + "\n" + text, header) for text in free)  # the test can fail
        torch.manual_seed(0)
        for _ in range(3):
            text = found[0].bind(**biased).invoke(messages).content
            assert text.startswith(header + "\n"), text[:120]
            body = text[len(header) + 1 :].split("\n")
            if language == "python":
                assert body[0][:1] in (" ", "\t") and body[0].strip(), text[:200]
                assert _top_level(text, header) == [], text
            else:
                closing = [i for i, line in enumerate(body) if line.startswith("}")]
                assert closing and closing[0] >= len(body) - 2 and body[closing[0]] == "}", text
                assert all(not line for line in body[closing[0] + 1 :]), text
    llm.constrain_json = False
    assert backend_of(llm).under_function(function_grammar(ADD, "python")) is None


def test_ask_candidates_in_process_is_one_batch_of_k_rows(mistral_vocab_dir: Path) -> None:
    import torch

    llm = LocalLLM(str(mistral_vocab_dir), max_new_tokens=24, do_sample=False, load_in_4bit=False)
    torch.manual_seed(1)
    meter = GenerationMeter(backend_of(llm).counter)
    candidates, path = ask_candidates(llm, [HumanMessage("Write add.")], ADD, "python", 3, 1.0, meter=meter)
    assert path == "grammar (llguidance, in process)" and llm._worker.batches == [3]
    assert 1 <= len(candidates) <= 3 and len(set(candidates)) == len(candidates)
    assert all(c.startswith(HEADER + "\n") for c in candidates)
    assert meter.calls == 3 and meter.tokens > 0


# ------------------------------------------------------------------------------ on a server

REPLIES = [
    f"{HEADER}\n    return a + b",
    f"{HEADER}\n    return a + b",  # the same again: kept, one more vote (the trial runs it once)
    "I cannot write that.",  # no function: no candidate
    f"{HEADER}\n    return b + a\n",
]


@pytest.fixture
def served() -> Iterator[list[ScriptedOpenAIServer]]:
    servers: list[ScriptedOpenAIServer] = []
    yield servers
    for server in servers:
        server.__exit__(None, None, None)
        forget_server(server.base_url)


def _server(served: list[ScriptedOpenAIServer], **kwargs: object) -> ScriptedOpenAIServer:
    replies = itertools.cycle(REPLIES)
    server = ScriptedOpenAIServer(lambda messages: next(replies), **kwargs).__enter__()  # type: ignore[arg-type]
    served.append(server)
    return server


def test_a_vllm_server_gets_the_grammar_and_k_choices_in_one_request(served: list[ScriptedOpenAIServer]) -> None:
    server = _server(served, kind="vllm")
    llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=200)
    meter = GenerationMeter()
    messages = function_messages(
        goal="g", module="core", purpose="", plan=FunctionPlan("core", "python", [ADD]), function=ADD, callables={}
    )
    candidates, path = ask_candidates(llm, messages, ADD, "python", 4, None, meter=meter)
    assert path == "grammar (vLLM)"
    assert candidates == [REPLIES[0], REPLIES[0], REPLIES[3].rstrip()]
    assert len(server.requests) == 1
    body = server.requests[0]
    assert body["n"] == 4 and body["temperature"] > 0 and not body.get("stream")
    assert body["structured_outputs"]["grammar"] == grammar_in(body) == function_grammar(ADD, "python").gbnf()
    assert meter.calls == 1  # the request's usage, counted once


def test_one_candidate_is_one_greedy_request(served: list[ScriptedOpenAIServer]) -> None:
    server = _server(served, kind="llamacpp")
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    candidates, path = ask_candidates(llm, [HumanMessage("add")], ADD_JS, "javascript", 1, None)
    assert path == "grammar (llama.cpp)" and candidates == []  # a Python reply holds no JavaScript function
    body = server.requests[0]
    assert body.get("n") in (None, 1) and body["grammar"] == function_grammar(ADD_JS, "javascript").gbnf()


def test_a_server_refusing_the_grammar_is_asked_again_without_it(served: list[ScriptedOpenAIServer]) -> None:
    server = _server(served, kind="vllm", refuse_grammar=True)
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    candidates, path = ask_candidates(llm, [HumanMessage("add")], ADD, "python", 2, 0.5)
    assert path == "plain" and candidates == [REPLIES[0], REPLIES[0]]
    assert [grammar_in(body) is not None for body in server.requests] == [True, False]
    assert backend_of(llm).under_function(function_grammar(ADD, "python")) is None  # remembered


def test_a_model_without_grammars_gets_its_replies_read() -> None:
    replies = itertools.cycle(["```python\ndef add(x, y):\n    return x + y\n```\nadd(1, 2)", "Sorry."])
    scripted = ScriptedChatModel(respond=lambda messages: next(replies))
    candidates, path = ask_candidates(scripted, [HumanMessage("add")], ADD, "python", 2, 0.7)
    assert path == "plain" and len(scripted.calls) == 2
    assert candidates == [f"{HEADER}\n    x, y = a, b\n    return x + y"]
    hosted = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test")  # type: ignore[arg-type]
    assert backend_of(hosted).under_function(function_grammar(ADD, "python")) is None


def test_code_after_the_bodys_first_return_is_cut() -> None:
    # seen on the real 0.5B under the grammar: the answer, then 40 lines repeating variants of it
    reply = (
        "def total(prices: list) -> float:\n"
        "    if not prices:\n"
        "        return 0.0\n"
        "    return sum(prices)\n"
        "\n"
        "    # Check again\n"
        "    return sum(p for p in prices)\n"
        "    return sum(p for p in prices)\n"
    )
    spec = FunctionSpec("total", [Param("prices", "list")], returns="float")
    got = extract_function(reply, spec, "python")
    assert got is not None and got.endswith("    return sum(prices)") and got.count("return") == 2


def test_a_functions_reply_is_capped_where_the_model_takes_a_limit(tiny_model_dir: Path) -> None:
    server = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key="x", max_tokens=4000)
    assert capped(server, 600).kwargs == {"max_tokens": 600}
    small = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key="x", max_tokens=200)
    assert capped(small, 600).kwargs == {"max_tokens": 200}
    local = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=4000)
    assert capped(local, 600).kwargs == {"pipeline_kwargs": {"max_new_tokens": 600}}
    plain = ScriptedChatModel(respond=lambda messages: "")
    assert capped(plain, 600) is plain


def test_one_request_of_n_choices_counts_its_largest_call_per_choice() -> None:
    # the server's usage sums the n choices: 4 choices of at most 128 tokens reported 260 at once
    from langchain_core.messages import AIMessage

    meter = GenerationMeter()
    message = AIMessage("x", usage_metadata={"input_tokens": 10, "output_tokens": 260, "total_tokens": 270})
    meter.add(message, "x", 1.0, choices=4)
    assert (meter.tokens, meter.calls, meter.largest_call) == (260, 1, 65)
