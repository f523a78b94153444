"""A scripted LangChain chat model: replies come from a function of the prompt, calls are recorded."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from matrioska.plan.parsing import UPDATE_MARKER


class ScriptedChatModel(BaseChatModel):
    """Answers with `respond(messages)`; every call's messages are kept in `calls`.

    The call that writes the plan's acceptance scenarios is answered with `acceptance_reply`
    (no scenarios, by default) and kept apart in `acceptance_calls`; a call deciding a module's
    contract with `contract_reply` (an empty contract: the modules plan their own names) in
    `contract_calls`, so that the tests of other
    things script and count only the calls they are about; `acceptance_reply=None` sends it to
    `respond` like any other call (tests/test_acceptance.py).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    respond: Callable[[list[BaseMessage]], str]
    acceptance_reply: str | None = '{"scenarios": []}'
    contract_reply: str | None = "{}"
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _acceptance_calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _contract_calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def calls(self) -> list[list[BaseMessage]]:
        return self._calls

    @property
    def acceptance_calls(self) -> list[list[BaseMessage]]:
        return self._acceptance_calls

    @property
    def contract_calls(self) -> list[list[BaseMessage]]:
        return self._contract_calls

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        if self.acceptance_reply is not None and is_acceptance(messages):
            with self._lock:
                self._acceptance_calls.append(list(messages))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.acceptance_reply))])
        if self.contract_reply is not None and is_contract(messages):
            with self._lock:
                self._contract_calls.append(list(messages))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.contract_reply))])
        with self._lock:
            self._calls.append(list(messages))
        text = self.respond(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def module_id_of(messages: list[BaseMessage]) -> str | None:
    """The module id an executor prompt is for (None for architect/assembler prompts)."""
    for message in messages[1:2]:  # the first user turn holds the module's spec, retries included
        match = re.search(r"YOUR MODULE: .* \(id: ([^)]+)\)", str(message.content))
        if match:
            return match.group(1)
    return None


def is_update_retry(messages: list[BaseMessage]) -> bool:
    return "SHARED_STATE_UPDATE could not be used" in str(messages[-1].content)


def is_architect(messages: list[BaseMessage]) -> bool:
    return "software architect" in str(messages[0].content)


def is_contract(messages: list[BaseMessage]) -> bool:
    """A call that decides one module's contract (issue 40)."""
    return "public contract of one module" in str(messages[0].content)


def is_acceptance(messages: list[BaseMessage]) -> bool:
    """The call that writes the plan's acceptance scenarios."""
    return "acceptance tester" in str(messages[0].content)


NO_SCENARIOS = '{"scenarios": []}'


def is_assembler(messages: list[BaseMessage]) -> bool:
    return "integrator" in str(messages[0].content)


THREE_MODULE_PLAN = {
    "project_name": "Library Management System",
    "general_manual": {
        "goal": "A library management system with a dashboard",
        "modules": [
            {
                "id": "html",
                "name": "HTML Structure",
                "description": "Page structure",
                "dependencies": [],
                "shared_state_reads": [],
                "shared_state_writes": ["element_ids", "page_structure"],
            },
            {
                "id": "css",
                "name": "CSS Styling",
                "description": "Styles",
                "dependencies": ["html"],
                "shared_state_reads": ["element_ids", "page_structure"],
                "shared_state_writes": ["css_classes", "color_scheme"],
            },
            {
                "id": "auth",
                "name": "Authentication Logic",
                "description": "Login",
                "dependencies": ["html"],
                "shared_state_reads": ["element_ids"],
                "shared_state_writes": ["auth_api", "storage_keys"],
            },
        ],
        "integration_rules": "index.html loads style.css and auth.js",
    },
    "specific_manuals": [
        {"module_id": "html", "manual_text": "Write index.html with a login form and a book list."},
        {"module_id": "css", "manual_text": "Style every element id."},
        {"module_id": "auth", "manual_text": "Store the session in localStorage."},
    ],
}

# THREE_MODULE_PLAN with no module reading or depending on another: for models that write noise
# (random weights), whose modules may end without files, which would block those built on them.
INDEPENDENT_PLAN = {
    **THREE_MODULE_PLAN,
    "general_manual": {
        **THREE_MODULE_PLAN["general_manual"],
        "modules": [
            {**m, "dependencies": [], "shared_state_reads": []} for m in THREE_MODULE_PLAN["general_manual"]["modules"]
        ],
    },
}

MODULE_UPDATES: dict[str, dict[str, Any]] = {
    "html": {"element_ids": ["#loginForm", "#bookList", "#dashboardStats"], "page_structure": {"main": ["#bookList"]}},
    "css": {"css_classes": ["card", "btn"], "color_scheme": {"primary": "#336699"}},
    "auth": {"auth_api": ["login(user, pass)", "logout()"], "storage_keys": ["session"]},
}


def module_reply(module_id: str, update: dict[str, Any] | None = None, uses: str = "") -> str:
    """A module answer: one file that mentions what it publishes (and `uses`), then the update."""
    update = MODULE_UPDATES.get(module_id, {}) if update is None else update
    body = f"code of {module_id}\n{json.dumps(update)}\n{uses}".rstrip()
    return f"index_{module_id}.txt\n```\n{body}\n```\n{UPDATE_MARKER} {json.dumps(update)}"


def shared_context_of(messages: list[BaseMessage]) -> str:
    """The shared-state values an executor prompt gave the module (what its code should use)."""
    text = str(messages[1].content) if len(messages) > 1 else ""
    match = re.search(
        r"SHARED CONTEXT \(the shared_state keys you read\):\n(.*?)\n\n(?:INTERFACES YOU BUILD|KEYS YOU MUST PUBLISH)",
        text,
        re.S,
    )
    return match.group(1) if match else ""


def default_responder(plan: dict[str, Any] | None = None) -> Callable[[list[BaseMessage]], str]:
    plan = THREE_MODULE_PLAN if plan is None else plan

    def respond(messages: list[BaseMessage]) -> str:
        if is_architect(messages):
            return "Here is the plan:\n```json\n" + json.dumps(plan) + "\n```"
        if is_assembler(messages):
            return "Open index.html; it loads style.css and auth.js."
        if is_acceptance(messages):
            return NO_SCENARIOS
        if is_contract(messages):
            return "{}"  # an empty contract: the modules plan their own names
        module_id = module_id_of(messages)
        assert module_id is not None, messages[-1].content
        return module_reply(module_id, uses=shared_context_of(messages))

    return respond


def flaky(failures: dict[str, list[Exception]]) -> ScriptedChatModel:
    """The default 3-module responder, raising `failures[module_id]` one by one before answering."""
    base = default_responder()

    def respond(messages: list[BaseMessage]) -> str:
        pending = failures.get(module_id_of(messages) or "")
        if pending:
            raise pending.pop(0)
        return base(messages)

    return ScriptedChatModel(respond=respond)
