"""Subprocess for the kill test: runs (or resumes) a 5-module plan with a scripted model.

usage: crash_worker.py BASE_PATH THREAD_ID SLOW_MODULE CALL_LOG [CHECKPOINTER_URL]
The model appends each module id it is called for to CALL_LOG; on SLOW_MODULE it touches
CALL_LOG + ".slow" and sleeps, so the test can SIGKILL the process while that module runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from langchain_core.messages import BaseMessage  # noqa: E402
from scripted import ScriptedChatModel, is_assembler, module_id_of, module_reply  # noqa: E402

from matrioska import MatrioskaOrchestrator  # noqa: E402

IDS = ["m1", "m2", "m3", "m4", "m5"]
PLAN = {
    "project_name": "Chain",
    "goal": "five modules in a chain",
    "modules": [
        {
            "id": mid,
            "dependencies": [IDS[i - 1]] if i else [],
            "shared_state_reads": [f"k{i}"] if i else [],
            "shared_state_writes": [f"k{i + 1}"],
        }
        for i, mid in enumerate(IDS)
    ],
}


def responder(call_log: Path | None, slow: str) -> ScriptedChatModel:
    def respond(messages: list[BaseMessage]) -> str:
        module_id = module_id_of(messages)
        if call_log is not None:
            with open(call_log, "a") as log:
                log.write(f"{module_id or 'assembler'}\n")
        if module_id == slow:
            Path(str(call_log) + ".slow").touch()
            time.sleep(120)
        if is_assembler(messages):
            return "notes"
        index = IDS.index(module_id)
        return module_reply(module_id, {f"k{index + 1}": f"value of {module_id}"})

    return ScriptedChatModel(respond=respond)


def main() -> None:
    base, thread, slow, call_log = sys.argv[1:5]
    url = sys.argv[5] if len(sys.argv) > 5 else None
    with MatrioskaOrchestrator(responder(Path(call_log), slow), base, checkpointer=url) as orchestrator:
        orchestrator.run("chain task", thread_id=thread, architecture=PLAN)


if __name__ == "__main__":
    main()
