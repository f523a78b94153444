"""A module reply's grammar on the servers that take one (issue 25), over real HTTP to the stub:
vLLM's `structured_outputs.grammar`, SGLang's `ebnf`, llama.cpp's `grammar`; none for another
server or a server that refused one."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from openai_server import ScriptedOpenAIServer, grammar_in
from scripted import MODULE_UPDATES, THREE_MODULE_PLAN, ScriptedChatModel, default_responder, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.model.backend import grammar_binding
from matrioska.model.factory import load_chat_model
from matrioska.model.grammar import ReplyFrame, gbnf_grammar, language_label, reply_frame
from matrioska.model.servers import (
    forget_server,
    grammar_refused,
    is_context_length_error,
    is_grammar_refusal,
    mark_grammar_refused,
    server_kind,
)
from matrioska.plan.parsing import UPDATE_MARKER

FRAME = ReplyFrame((("core.py", "python"), ('tests/my tests/tést "q".py', "python")), ("api_functions", "element_ids"))
GBNF = gbnf_grammar(FRAME)
TASK = "Create a library management system"
MESSAGES = [SystemMessage("You are MATRIOSKA's integrator."), HumanMessage("notes, please")]
# The request field each kind of server takes a grammar in, and where it lies in the body.
FIELDS = {
    "vllm": ("vLLM", lambda body: body["structured_outputs"]["grammar"]),
    "sglang": ("SGLang", lambda body: body["ebnf"]),
    "llamacpp": ("llama.cpp", lambda body: body["grammar"]),
}


@pytest.fixture
def served() -> Iterator[list[ScriptedOpenAIServer]]:
    """Servers started by a test (`_start`), stopped and forgotten after it (a later server may
    reuse a port)."""
    servers: list[ScriptedOpenAIServer] = []
    yield servers
    for server in servers:
        server.__exit__(None, None, None)
        forget_server(server.base_url)


def _start(served: list[ScriptedOpenAIServer], **kwargs: object) -> ScriptedOpenAIServer:
    server = ScriptedOpenAIServer(default_responder(), **kwargs).__enter__()  # type: ignore[arg-type]
    served.append(server)
    return server


@pytest.mark.parametrize("kind", ["vllm", "sglang", "llamacpp"])
def test_the_grammar_reaches_each_servers_own_field(served: list[ScriptedOpenAIServer], kind: str) -> None:
    server = _start(served, kind=kind, max_model_len=8192)
    llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=300)
    # One GET /models gives both the context and the kind.
    assert llm.metadata is not None and llm.metadata["server_kind"] == kind
    assert llm.metadata["context_tokens"] == 8192 and server.model_lists == 1
    binding = grammar_binding(llm, GBNF)
    assert binding is not None
    bound, label = binding
    label_of, grammar_of = FIELDS[kind]
    assert label == label_of
    bound.invoke(MESSAGES)
    list(bound.stream(MESSAGES))  # streamed (the graph's messages mode) as well
    for body in server.requests:
        assert grammar_of(body) == GBNF and grammar_in(body) == GBNF
        assert 300 in (body.get("max_tokens"), body.get("max_completion_tokens"))  # its own settings still go
    # The unbound model sends none.
    llm.invoke(MESSAGES)
    assert grammar_in(server.requests[-1]) is None


def test_a_server_of_another_kind_or_another_backend_gets_no_grammar(served: list[ScriptedOpenAIServer]) -> None:
    plain = _start(served)  # no owned_by (LM Studio, Ollama's /v1, ...)
    other = _start(served, kind="organization_owner")
    for server in (plain, other):
        llm = load_chat_model("openai:scripted", base_url=server.base_url)
        assert llm.metadata is not None and llm.metadata["server_kind"] == ""
        assert grammar_binding(llm, GBNF) is None
    assert grammar_binding(ScriptedChatModel(respond=lambda _: ""), GBNF) is None  # not an OpenAI client
    hosted = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test")  # type: ignore[arg-type]
    assert grammar_binding(hosted, GBNF) is None  # the hosted API: no base URL, nothing asked


def test_a_model_built_by_hand_is_asked_its_kind_once(served: list[ScriptedOpenAIServer]) -> None:
    server = _start(served, kind="vllm")
    llm = ChatOpenAI(model="scripted", base_url=server.base_url, api_key="x", extra_body={"top_k": 5})  # type: ignore[arg-type]
    assert server_kind(server.base_url) == "vllm" and server.model_lists == 1
    binding = grammar_binding(llm.bind(temperature=0.1), GBNF)
    assert binding is not None and server.model_lists == 1  # remembered for the process
    binding[0].invoke(MESSAGES)
    body = server.requests[-1]
    # The model's own extra_body is kept beside the grammar; an earlier binding's kwargs too.
    assert body["top_k"] == 5 and body["structured_outputs"] == {"grammar": GBNF}
    assert body["temperature"] == 0.1


def test_a_server_marked_refusing_gets_no_grammar_until_a_new_model_is_loaded(
    served: list[ScriptedOpenAIServer],
) -> None:
    server = _start(served, kind="vllm")
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    assert grammar_binding(llm, GBNF) is not None and not grammar_refused(llm)
    mark_grammar_refused(llm.bind(stop=["x"]))  # through a binding: the same server
    assert grammar_refused(llm) and grammar_binding(llm, GBNF) is None
    again = load_chat_model("openai:scripted", base_url=server.base_url)  # a new run tries again
    assert grammar_binding(again, GBNF) is not None


def test_a_server_rejecting_grammars_answers_a_refusal_and_the_plain_request_goes(
    served: list[ScriptedOpenAIServer],
) -> None:
    server = _start(served, kind="vllm", refuse_grammar=True)
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    binding = grammar_binding(llm, GBNF)
    assert binding is not None
    with pytest.raises(openai.BadRequestError) as raised:
        binding[0].invoke(MESSAGES)
    assert is_grammar_refusal(raised.value) and not is_context_length_error(raised.value)
    mark_grammar_refused(llm)
    assert grammar_binding(llm, GBNF) is None
    assert llm.invoke(MESSAGES).content  # the same request without it is answered
    assert [grammar_in(body) is not None for body in server.requests] == [True, False]
    assert len(server.refused) == 1


def test_a_context_length_refusal_is_not_a_grammar_refusal(served: list[ScriptedOpenAIServer]) -> None:
    server = _start(served, kind="vllm", max_model_len=64, report_max_model_len=False)
    llm = load_chat_model("openai:scripted", base_url=server.base_url, max_new_tokens=500)
    binding = grammar_binding(llm, GBNF)
    assert binding is not None
    with pytest.raises(openai.BadRequestError) as raised:
        binding[0].invoke(MESSAGES)
    assert is_context_length_error(raised.value) and not is_grammar_refusal(raised.value)


# ---------------------------------------------------------------------------------------------
# A whole run against the stub: each module's reply under its frame's grammar, or, on a server
# that refuses grammars, the first module asked once with one and every call after without.

FILES = {"html": ["index.html"], "css": ["style.css"], "auth": ["auth.js", "tests/auth.test.js"]}
CODE = {
    "index.html": '<form id="loginForm"></form>\n<ul id="bookList"></ul>\n<div id="dashboardStats"></div>',
    "style.css": "#loginForm, #bookList, #dashboardStats { color: #336699; }\n.card { margin: 0; }\n.btn { padding: 0; }",
    "auth.js": (
        'const ids = ["loginForm", "bookList", "dashboardStats"];\n'
        'function login(user, pass) { localStorage.setItem("session", user); return ids.length > 0 && !!pass; }\n'
        'function logout() { localStorage.removeItem("session"); }\nmodule.exports = { login, logout };'
    ),
    "tests/auth.test.js": 'const { login } = require("../auth.js");\ntest("login", () => { expect(typeof login).toBe("function"); });',
}


def _framed_plan() -> dict[str, Any]:
    plan = copy.deepcopy(THREE_MODULE_PLAN)
    for module in plan["general_manual"]["modules"]:
        module["files"] = FILES[module["id"]]
    return plan


def _framed_responder() -> Callable[[list[BaseMessage]], str]:
    """The default script, each module answering in its frame (what its grammar allows)."""
    plan = _framed_plan()
    base = default_responder(plan)

    def respond(messages: list[BaseMessage]) -> str:
        module_id = module_id_of(messages)
        if module_id is None:
            return base(messages)
        blocks = [f"{path}\n```{language_label(path)}\n{CODE[path]}\n```" for path in FILES[module_id]]
        return "\n\n".join(blocks) + f"\n\n{UPDATE_MARKER} {json.dumps(MODULE_UPDATES[module_id])}"

    return respond


def _module_of(body: dict[str, Any]) -> str | None:
    for message in body["messages"][1:2]:
        match = re.search(r"YOUR MODULE: .* \(id: ([^)]+)\)", str(message.get("content")))
        if match:
            return match.group(1)
    return None


def _run(tmp_path: Path, server: ScriptedOpenAIServer) -> dict[str, Any]:
    llm = load_chat_model("openai:scripted", base_url=server.base_url)
    with MatrioskaOrchestrator(llm, base_path=tmp_path, verify=False, max_parallel=1) as orchestrator:
        return dict(orchestrator.run(TASK))


def test_a_run_on_vllm_sends_each_module_its_frames_grammar(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(_framed_responder(), kind="vllm") as server:
        try:
            state = _run(tmp_path, server)
        finally:
            forget_server(server.base_url)
    assert state["completed"] == ["html", "css", "auth"]
    frames = {m["id"]: reply_frame(SimpleNamespace(**m)) for m in _framed_plan()["general_manual"]["modules"]}
    sent = {_module_of(body): grammar_in(body) for body in server.requests if _module_of(body)}
    assert sent == {m: gbnf_grammar(frame) for m, frame in frames.items() if frame is not None}
    assert not any(grammar_in(body) for body in server.requests if not _module_of(body))  # plan, notes: none
    assert {m: r["replies"] for m, r in state["module_reports"].items()} == dict.fromkeys(FILES, "grammar (vLLM)")
    assert state["shared_state"]["auth_api"] == MODULE_UPDATES["auth"]["auth_api"]


def test_a_server_refusing_grammars_is_asked_once_and_the_run_goes_on_parsed(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(_framed_responder(), kind="vllm", refuse_grammar=True) as server:
        try:
            state = _run(tmp_path, server)
        finally:
            forget_server(server.base_url)
    assert state["completed"] == ["html", "css", "auth"]
    modules = [(_module_of(body), grammar_in(body) is not None) for body in server.requests if _module_of(body)]
    # The first module's request with the grammar (refused), the same without it; none after.
    assert modules == [("html", True), ("html", False), ("css", False), ("auth", False)]
    assert len(server.refused) == 1
    assert {m: r["replies"] for m, r in state["module_reports"].items()} == dict.fromkeys(FILES, "parsed")
    assert any(tmp_path.rglob("auth.test.js"))
    assert state["shared_state"]["css_classes"] == MODULE_UPDATES["css"]["css_classes"]


def test_the_cli_prints_one_line_for_a_refused_grammar(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(_framed_responder(), kind="vllm", refuse_grammar=True) as server:
        result = subprocess.run(
            [sys.executable, "-m", "matrioska", "run", TASK, "--out", str(tmp_path / "out"), "--no-verify"]
            + ["--model", "openai:scripted", "--base-url", server.base_url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("refused the reply grammar") == 1, result.stdout
    assert sum(grammar_in(body) is not None for body in server.requests) == 1
