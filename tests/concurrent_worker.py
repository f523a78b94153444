"""Subprocess for the concurrency test: one run that shares a checkpoint database with others.

usage: concurrent_worker.py BASE_PATH CHECKPOINT_DB THREAD_ID
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from langchain_core.messages import BaseMessage  # noqa: E402
from scripted import ScriptedChatModel, default_responder, module_id_of, module_reply  # noqa: E402

from matrioska import MatrioskaOrchestrator  # noqa: E402


def tagged_model(tag: str) -> ScriptedChatModel:
    """Replies carry the thread's tag, so a state mixed up between threads would show."""
    base = default_responder()

    def respond(messages: list[BaseMessage]) -> str:
        time.sleep(0.02)  # let the runs interleave
        module_id = module_id_of(messages)
        if module_id:
            return module_reply(module_id).replace("code of", f"[{tag}] code of")
        return base(messages)

    return ScriptedChatModel(respond=respond)


def run_one(base: str, database: str, thread: str) -> dict:
    with MatrioskaOrchestrator(tagged_model(thread), base, checkpoint_path=database) as orchestrator:
        return orchestrator.run(f"library for {thread}", thread_id=thread)


if __name__ == "__main__":
    run_one(*sys.argv[1:4])
