"""A small OpenAI-compatible chat-completions server on 127.0.0.1, answering with scripted replies.

It stands in for vLLM / llama.cpp server / LM Studio: the real `langchain-openai` client talks
to it over HTTP, streamed (server-sent events) or not. Each request body is recorded. `kind`
("vllm", "sglang", "llamacpp") is what its `/v1/models` entries say in `owned_by`, as those
servers do; `refuse_grammar` answers any request holding a reply grammar (vLLM's
`structured_outputs`, SGLang's `ebnf`, llama.cpp's `grammar`) with vLLM's 400 for a grammar its
engine cannot take.
A non-streamed request with `n` (best of N) gets `n` choices, `respond` called once for each in
turn, and its usage counted once for the request as vLLM does: the prompt's tokens once, the
completion tokens summed over the choices (`usages` records each answered request's). A
streamed request gets one choice whatever its `n`.
Run it as a script to serve in its own process: `python openai_server.py PORTFILE`.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

_ROLES = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client gone, or the server killed
            super().handle_error(request, client_address)


def _vllm_error(message: str, kind: str, code: int, param: str | None = None) -> dict[str, Any]:
    """An error body as vLLM's OpenAI-compatible server (0.32) writes it."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def grammar_in(body: dict[str, Any]) -> str | None:
    """The reply grammar a request body holds, in any server's field, or None."""
    outputs = body.get("structured_outputs")
    if isinstance(outputs, dict) and outputs.get("grammar"):
        return str(outputs["grammar"])
    for field in ("ebnf", "grammar"):
        if body.get(field):
            return str(body[field])
    return None


class ScriptedOpenAIServer:
    """`with ScriptedOpenAIServer(respond) as server:` ... `server.base_url` ... `server.requests`."""

    def __init__(
        self,
        respond: Callable[[list[BaseMessage]], str],
        *,
        chunk_chars: int = 8,
        chunk_delay: float = 0.0,
        port: int = 0,
        models: list[str] | None = None,
        max_model_len: int | None = None,
        report_max_model_len: bool = True,
        fail: Callable[[dict[str, Any]], tuple[int, dict[str, Any]] | None] | None = None,
        kind: str | None = None,
        refuse_grammar: bool = False,
        finish_reason: Callable[[dict[str, Any]], str] | None = None,
        tokenize: bool = False,
        chars_per_token: int = 4,
    ) -> None:
        self.respond = respond
        # body -> the finish_reason of its non-streamed choices ("length": cut at the budget)
        self.finish_reason = finish_reason or (lambda body: "stop")
        self.chunk_chars = chunk_chars
        self.chunk_delay = chunk_delay  # seconds per streamed chunk: a server generating slowly
        # What vLLM does: 404 for a model it does not serve; 400 for a prompt (4 characters a
        # "token" here) plus max_tokens beyond max_model_len, which /models reports.
        self.models = models
        self.max_model_len = max_model_len
        self.report_max_model_len = report_max_model_len
        self.fail = fail  # body -> (status, error body) to answer with an error, or None
        self.kind = kind  # `owned_by` in /v1/models: "vllm", "sglang", "llamacpp"
        self.refuse_grammar = refuse_grammar
        self.tokenize = tokenize  # answer POST /tokenize (vLLM's: messages in, `count` out)
        self.chars_per_token = chars_per_token  # how this server's "tokenizer" counts
        self.tokenized: list[int] = []  # the counts /tokenize answered
        self.model_lists = 0  # GET /models answered
        self.running = 0  # requests in flight now, and the most at once (a server's /metrics)
        self.most_running = 0
        self._count = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.answered: list[dict[str, Any]] = []  # requests whose whole reply was sent
        self.refused: list[tuple[int, dict[str, Any]]] = []
        self.usages: list[dict[str, int]] = []  # the usage of each non-streamed reply sent
        self._connections: set[Any] = set()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self, messages: list[dict[str, Any]]) -> int:
        """A prompt's tokens as this server counts them (`chars_per_token` characters a token)."""
        return -(-sum(len(_text(m.get("content"))) for m in messages) // self.chars_per_token)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def kill(self) -> None:
        """Die like a killed process: stop listening and cut every open connection mid-reply."""
        self._server.shutdown()
        self._server.server_close()
        with self._count:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def setup(self) -> None:
                super().setup()
                with outer._count:
                    outer._connections.add(self.connection)

            def finish(self) -> None:
                with outer._count:
                    outer._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def _error(self, status: int, error: dict[str, Any], body: dict[str, Any]) -> None:
                outer.refused.append((status, body))
                self._json(status, error)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    outer.model_lists += 1
                    entry: dict[str, Any] = {"object": "model", **({"owned_by": outer.kind} if outer.kind else {})}
                    if outer.max_model_len and outer.report_max_model_len:
                        entry["max_model_len"] = outer.max_model_len
                    names = outer.models or ["scripted"]
                    self._json(200, {"object": "list", "data": [{"id": name, **entry} for name in names]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                if outer.tokenize and self.path.rstrip("/") == "/tokenize":
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                    count = outer.count(body.get("messages") or [])
                    outer.tokenized.append(count)
                    self._json(200, {"count": count, "max_model_len": outer.max_model_len or 0, "tokens": []})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                failure = outer.fail(body) if outer.fail else None
                if failure is None and outer.refuse_grammar and grammar_in(body) is not None:
                    message = "Invalid grammar specification: Failed to convert the grammar from GBNF to Lark"
                    failure = (400, _vllm_error(message, "BadRequestError", 400))
                if failure:
                    self._error(*failure, body)
                    return
                if outer.models and body.get("model") not in outer.models:
                    message = (
                        f"The model `{body.get('model')}` does not exist. Valid aliases: {', '.join(outer.models)}."
                    )
                    self._error(404, _vllm_error(message, "NotFoundError", 404, param="model"), body)
                    return
                prompt = outer.count(body["messages"])
                asked = prompt + int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
                if outer.max_model_len and asked > outer.max_model_len:
                    message = (  # vLLM 0.32's words
                        f"This model's maximum context length is {outer.max_model_len} tokens. However, your "
                        f"request has {prompt} input tokens and asks for {asked - prompt} output tokens. Please "
                        f"reduce the length of the input prompt. (parameter=input_tokens, value={prompt})"
                    )
                    self._error(400, _vllm_error(message, "BadRequestError", 400), body)
                    return
                messages = [_ROLES.get(m.get("role"), HumanMessage)(_text(m.get("content"))) for m in body["messages"]]
                created, model = int(time.time()), body.get("model", "scripted")
                if not body.get("stream"):
                    texts = [outer.respond(messages) for _ in range(max(1, int(body.get("n") or 1)))]
                    # One "token" per chunk of chunk_chars, as streamed; the prompt counted once.
                    tokens = [len(self._pieces(text)) for text in texts]
                    usage = {"prompt_tokens": 1, "completion_tokens": sum(tokens), "total_tokens": 1 + sum(tokens)}
                    with outer._count:
                        outer.running += 1
                        outer.most_running = max(outer.most_running, outer.running)
                    try:
                        time.sleep(outer.chunk_delay * max(tokens))  # generating the whole replies first
                    finally:
                        with outer._count:
                            outer.running -= 1
                    choices = [
                        {
                            "index": i,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": outer.finish_reason(body),
                        }
                        for i, text in enumerate(texts)
                    ]
                    self._json(
                        200,
                        {
                            "id": "chatcmpl-scripted",
                            "object": "chat.completion",
                            "created": created,
                            "model": model,
                            "choices": choices,
                            "usage": usage,
                        },
                    )
                    outer.usages.append(usage)
                    outer.answered.append(body)
                    return
                text = outer.respond(messages)
                pieces = self._pieces(text)
                # One "token" per chunk: the usage a real server reports, which the client must use.
                usage = {"prompt_tokens": 1, "completion_tokens": len(pieces), "total_tokens": 1 + len(pieces)}
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                with outer._count:
                    outer.running += 1
                    outer.most_running = max(outer.most_running, outer.running)
                try:
                    for index, piece in enumerate(pieces):
                        time.sleep(outer.chunk_delay)
                        delta = {"content": piece, **({"role": "assistant"} if index == 0 else {})}
                        self._event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}, created, model)
                    self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, created, model)
                    if (body.get("stream_options") or {}).get("include_usage"):
                        self._event({"choices": [], "usage": usage}, created, model)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    outer.answered.append(body)
                finally:
                    with outer._count:
                        outer.running -= 1

            def _pieces(self, text: str) -> list[str]:
                return [text[i : i + outer.chunk_chars] for i in range(0, len(text), outer.chunk_chars)] or [""]

            def _event(self, payload: dict[str, Any], created: int, model: str) -> None:
                chunk = {
                    "id": "chatcmpl-scripted",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                }
                self.wfile.write(f"data: {json.dumps({**chunk, **payload})}\n\n".encode())
                self.wfile.flush()

        return Handler


if __name__ == "__main__":  # serve the default three-module script until killed
    from pathlib import Path

    from scripted import default_responder

    with ScriptedOpenAIServer(default_responder()) as server:
        Path(sys.argv[1]).write_text(server.base_url)
        threading.Event().wait()
