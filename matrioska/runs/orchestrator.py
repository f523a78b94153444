"""`MatrioskaOrchestrator`: persisted runs of the graph, with the seed's files and zip.

It compiles the graph with a SQLite checkpointer (`base_path/matrioska_checkpoints/`), gives
every run a thread id, keeps the seed's files current after every module, and continues a run
from its last finished module when it is started again with the same thread id (after a crash,
an exception or Ctrl-C): a module that finished is never sent to the model again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig

from ..context import ROLES, Context, functions_default
from ..errors import (
    EmptyTaskError,
    MatrioskaError,
    ModelNotConfiguredError,
    RunFailedError,
    ThreadMismatchError,
    UnknownThreadError,
)
from ..model.calls import message_text
from ..model.servers import server_failure
from ..state import Architecture
from .checkpoint import open_checkpointer, prune_history
from .files import ContextManager

__all__ = ["MatrioskaOrchestrator", "EventHandler"]


EventHandler = Callable[[dict[str, Any]], None]


class MatrioskaOrchestrator:
    """Run tasks through the Matrioska graph with persistence under `base_path`.

    Args:
        llm: a LangChain chat model (`LocalLLM` or any `BaseChatModel`), or a model string
            (hub id or local directory -> `LocalLLM`; `provider:model` -> `init_chat_model`).
        roles: other models for some roles ("architect", "executor", "assembler"), as chat
            models or model strings; `llm` serves the roles not named.
        base_url: server address for `provider:model` strings (OpenAI-compatible, Ollama).
        max_repairs: re-runs of a module whose files fail validation or whose contracts break.
        samples: candidates per module attempt (best of N, default 1): K asked for in one request
            where the backend can, each judged by the module's checks (static, references, its own
            check in the sandbox), the best kept; rejected ones stay in the checkpoint.
        sample_temperature: the temperature the candidates are sampled at (None: the model's own,
            or 0.7 when it decodes greedily and `samples` > 1).
        functions: write code modules function by function (a function plan with examples, K
            candidates per function chosen by running them, files assembled without the model);
            False: every module is asked for whole; None: on unless MATRIOSKA_FUNCTIONS=0.
        function_samples: K on that path (None: `samples` when above 1, else 4).
        function_retries: rounds of K more candidates, at a higher temperature, for a function
            none of whose candidates passes its examples (issue 41; default 1, 0: none).
        git: make `base_path/project` a git repository with one commit per module.
        interrupt_after_architect: stop after the plan for review (`review()` continues).
        verify: run the assembled project (imports, tests, entry point, the page in headless
            Chromium) and send runtime failures back to the modules that own them.
        sandbox: "auto" (bubblewrap when installed; without it nothing generated is executed and
            the verdict says so), "bwrap" (required), or "none" (unsandboxed, with a warning).
        verify_timeout: seconds per verification command (its process group is killed past it).
        fix_rounds: rounds of runtime fixes before the verdict is final.
        keep_checkpoints: SQLite keeps only a thread's latest checkpoints (1 by default, with its
            pending writes: all a resume needs), so the database stays proportional to the
            artifacts instead of growing with the square of the modules; None keeps the whole
            history (time travel, `get_state_history`).
        max_parallel: run every module whose dependencies are finished in the same wave, at most
            this many at once (1, the default: one module after another).
        context_tokens: the model's context length, for the prompt budget (0: the local
            model's own config, else 8192); shared-state values are shortened to fit it.
        base_path: output folder; created if missing (`OutputPathError` if it cannot be written).
        max_plan_attempts: architect calls before an unparseable plan stops the run.
        assembler_notes: ask the model for short integration notes at assembly.
        retry_policy: a LangGraph `RetryPolicy` for model failures (default: transient
            backend errors, 4 attempts, exponential backoff from 1 s).
        checkpoint_path: the SQLite database (default `base_path/matrioska_checkpoints/
            checkpoints.sqlite`); several orchestrators, threads or processes may share one.
        checkpointer: a `postgresql://` URL: the state lives in PostgreSQL instead, so a run can
            be resumed or watched from another machine (`pip install 'matrioska[postgres]'`).
        acceptance: your acceptance scenarios: a JSON file's path, or a list (or
            `{"scenarios": [...]}`) in the format README describes; validated here
            (`AcceptanceError`). New runs use them instead of the ones the model writes.
        acceptance_extra: with `acceptance`, the model writes its scenarios beside yours.
        contract: your contract of the project's public names (issue 40): a JSON file's path or
            a dict, `{"modules": {id: {"functions": [...], "commands": [...], "elements":
            [...]}}}` as `--review` shows it; validated here (`ContractError`, one line naming
            the field). New runs use it instead of the one the model would decide.
        write_contract: have the model decide the contract after the plan (when you gave none);
            False: each module plans its own names, as before issue 40.
        write_acceptance: have the model write acceptance scenarios after the plan (when you
            gave none, or with `acceptance_extra`); False: the verdict rests on the checks.
        allow_install: distribution names (a list, or "a,b") that verification may install for
            the project besides the well-known ones Matrioska ships a list of; a name of the
            project's own modules is never installed (`matrioska/kinds/python/installs.py`).
    """

    def __init__(
        self,
        llm: BaseChatModel | str,
        base_path: str | os.PathLike[str] = ".",
        *,
        max_plan_attempts: int = 3,
        assembler_notes: bool = True,
        retry_policy: Any = None,
        checkpoint_path: str | os.PathLike[str] | None = None,
        checkpointer: str | None = None,
        roles: dict[str, BaseChatModel | str] | None = None,
        base_url: str | None = None,
        context_tokens: int = 0,
        max_parallel: int = 1,
        keep_checkpoints: int | None = 1,
        max_repairs: int = 2,
        samples: int = 1,
        functions: bool | None = None,
        function_samples: int | None = None,
        function_retries: int = 1,
        sample_temperature: float | None = None,
        git: bool = False,
        interrupt_after_architect: bool = False,
        verify: bool = True,
        sandbox: str = "auto",
        verify_timeout: float = 120,
        fix_rounds: int = 2,
        acceptance: str | os.PathLike[str] | list[dict[str, Any]] | dict[str, Any] | None = None,
        acceptance_extra: bool = False,
        write_acceptance: bool = True,
        contract: str | os.PathLike[str] | dict[str, Any] | None = None,
        write_contract: bool = True,
        allow_install: str | list[str] | tuple[str, ...] | None = None,
    ) -> None:
        from ..graph import DEFAULT_RECURSION_LIMIT, build_graph
        from ..plan.acceptance import load_scenarios

        # a bad scenario file fails here, in one line, before anything else is opened or loaded
        self.acceptance = load_scenarios(acceptance) if acceptance is not None else []
        self.acceptance_extra = bool(acceptance_extra)
        self.write_acceptance = bool(write_acceptance)
        from ..functions.given import load_contract

        self.contract = load_contract(contract) if contract is not None else {}
        self.write_contract = bool(write_contract)
        if llm is None:
            raise ModelNotConfiguredError("MatrioskaOrchestrator needs a model: a chat model or a model string")
        self.files = ContextManager(base_path)
        from ..model.factory import load_chat_model

        def load(model: BaseChatModel | str) -> BaseChatModel:
            return load_chat_model(model, base_url=base_url) if isinstance(model, str) else model

        unknown = sorted(set(roles or {}) - set(ROLES))
        if unknown:
            raise ModelNotConfiguredError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
        self.llm = load(llm)
        self.roles = {role: load(model) for role, model in (roles or {}).items() if model is not None}
        self.max_plan_attempts = max_plan_attempts
        self.context_tokens = context_tokens
        self.max_parallel = max(1, int(max_parallel))
        self.keep_checkpoints = keep_checkpoints
        self.max_repairs = max_repairs
        if int(samples) < 1:
            raise ValueError(f"samples must be 1 or more, got {samples}")
        self.samples, self.sample_temperature = int(samples), sample_temperature
        if function_samples is not None and int(function_samples) < 1:
            raise ValueError(f"function_samples must be 1 or more, got {function_samples}")
        self.functions = functions_default() if functions is None else bool(functions)
        self.function_samples = int(function_samples or 0)
        if int(function_retries) < 0:
            raise ValueError(f"function_retries must be 0 or more, got {function_retries}")
        self.function_retries = int(function_retries)
        self.files.git = git
        self.interrupt_after_architect = interrupt_after_architect
        self.assembler_notes = assembler_notes
        self.verify, self.sandbox = verify, sandbox
        self.verify_timeout, self.fix_rounds = float(verify_timeout), max(0, int(fix_rounds))
        items = allow_install.split(",") if isinstance(allow_install, str) else list(allow_install or [])
        self.allow_install = [str(name).strip() for name in items if str(name).strip()]
        if verify:
            from ..checking.sandbox import resolve_sandbox

            resolve_sandbox(sandbox)  # an unknown mode, or "bwrap" without bubblewrap: fail before the run
        self._recursion_limit = DEFAULT_RECURSION_LIMIT
        if checkpointer and checkpoint_path:
            raise MatrioskaError("pass either checkpointer (a postgres:// URL) or checkpoint_path (SQLite), not both")
        self.checkpoint_path = (
            None if checkpointer else Path(checkpoint_path) if checkpoint_path else self.files.database
        )
        self.checkpointer, self._close_checkpointer = open_checkpointer(
            checkpointer or self.checkpoint_path or self.files.database
        )
        self.graph = build_graph(self.checkpointer, retry_policy=retry_policy)

    # -- public API ----------------------------------------------------------------------------

    def run(
        self,
        task: str,
        thread_id: str | None = None,
        *,
        architecture: Architecture | dict[str, Any] | None = None,
        on_event: EventHandler | None = None,
    ) -> dict[str, Any]:
        """Run `task` to the end and return the final state (plus `thread_id`, `results_zip`).

        With the `thread_id` of an earlier run of the same task, the run continues from its
        last finished module. `architecture` supplies a ready plan (validated, not re-planned).
        """
        task = (task or "").strip()
        if not task:
            raise EmptyTaskError("the task is empty; describe what to build")
        thread_id = thread_id or uuid.uuid4().hex[:12]
        existing = self.get_state(thread_id)
        if existing:
            stored = (existing.get("task") or "").strip()
            if stored and stored != task:
                raise ThreadMismatchError(
                    f"thread {thread_id!r} belongs to another task ({stored[:60]!r}); use a new thread id"
                )
            return self._drive(None, thread_id, on_event)
        payload: dict[str, Any] = {"task": task}
        if self.acceptance:
            payload["acceptance"] = self.acceptance
            payload["acceptance_mode"] = "extra" if self.acceptance_extra else "replace"
        if self.contract:
            payload["given_contract"] = self.contract
        if architecture is not None:
            payload["architecture"] = (
                architecture.model_dump(mode="json") if isinstance(architecture, Architecture) else dict(architecture)
            )
        return self._drive(payload, thread_id, on_event)

    def resume(self, thread_id: str, *, on_event: EventHandler | None = None) -> dict[str, Any]:
        """Continue a stored run from its last finished module.

        A run that finished with modules blocked (a module they depend on lacks a part it
        declared: its files, or every key they read from it) continues too: that module is
        generated again, with this orchestrator's model, and then the modules it blocked; modules
        blocked under an earlier rule that no longer holds are generated; a finished run with
        every module generated is returned as it is.
        """
        if not self.get_state(thread_id):
            raise UnknownThreadError(thread_id, self.files.base_path)
        return self._drive(None, thread_id, on_event)

    def review(
        self,
        thread_id: str,
        action: str = "approve",
        *,
        plan: dict[str, Any] | str | None = None,
        comment: str = "",
        acceptance: list[dict[str, Any]] | dict[str, Any] | None = None,
        contract: dict[str, Any] | None = None,
        on_event: EventHandler | None = None,
    ) -> dict[str, Any]:
        """Answer a plan review (`interrupt_after_architect=True`) and continue the run.

        `action` is "approve", "edit" (with `plan`: a dict, or JSON / YAML text) or "replan"
        (with `comment`); an edit may carry `acceptance`, the edited scenarios (also read from
        the plan's "acceptance" key) and `contract`, the edited contract (`{"modules": {...}}`, also
        read from the plan's "contract" key). The result is the final state, or again a state with
        `pending_review` (an invalid edit, with its error; a new plan after a re-plan).
        """
        from langgraph.types import Command

        snapshot = self.graph.get_state(self._config(thread_id))
        if not getattr(snapshot, "interrupts", None):
            raise MatrioskaError(f"run {thread_id!r} is not waiting for a plan review")
        answer: dict[str, Any] = {"action": action}
        if plan is not None:
            answer["plan"] = plan
        if comment:
            answer["comment"] = comment
        if acceptance is not None:
            answer["acceptance"] = acceptance
        if contract is not None:
            answer["contract"] = contract
        return self._drive(Command(resume=answer), thread_id, on_event)

    def get_state(self, thread_id: str) -> dict[str, Any]:
        """The stored state of a run ({} when the thread id is unknown)."""
        return dict(self.graph.get_state(self._config(thread_id)).values or {})

    def close(self) -> None:
        """Close the checkpoint database."""
        self._close_checkpointer()

    def __enter__(self) -> MatrioskaOrchestrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _config(self, thread_id: str) -> RunnableConfig:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}, "recursion_limit": self._recursion_limit}
        if self.max_parallel > 1:
            # LangGraph's thread pool otherwise has min(32, CPUs + 4) workers: a wave of 8 on a
            # 2-core machine would run 6 at a time.
            config["max_concurrency"] = self.max_parallel
        return config

    def _drive(self, payload: Any, thread_id: str, on_event: EventHandler | None) -> dict[str, Any]:
        with self.files.run_lock(thread_id):
            return self._drive_locked(payload, thread_id, on_event)

    def _drive_locked(self, payload: Any, thread_id: str, on_event: EventHandler | None) -> dict[str, Any]:
        config = self._config(thread_id)
        notify = on_event or (lambda event: None)
        snapshot = self.graph.get_state(config)
        retried: list[str] = []
        blocked: list[str] = []
        if payload is None and snapshot.values and not snapshot.next:
            payload, retried, blocked = self._reopen_blocked(dict(snapshot.values))
            if payload is None:
                notify({"event": "run_started", "thread_id": thread_id, "resumed": True, "finished": True})
                return self._finish(thread_id, dict(snapshot.values), notify)
        notify({"event": "run_started", "thread_id": thread_id, "resumed": not isinstance(payload, dict)})
        if retried or blocked:
            notify({"event": "modules_retried", "modules": retried, "blocked": blocked})
        if self.samples > 1:
            from ..model.sampling import sampling_mode, sampling_temperature

            executor_llm = self.roles.get("executor") or self.llm
            notify(
                {
                    "event": "sampling",
                    "samples": self.samples,
                    "temperature": sampling_temperature(executor_llm, self.samples, self.sample_temperature),
                    "mode": sampling_mode(executor_llm),
                }
            )
        context = Context(
            llm=self.llm,
            roles=self.roles,
            context_tokens=self.context_tokens,
            max_parallel=self.max_parallel,
            max_repairs=self.max_repairs,
            samples=self.samples,
            sample_temperature=self.sample_temperature,
            functions=self.functions,
            function_samples=self.function_samples,
            function_retries=self.function_retries,
            acceptance=self.write_acceptance,
            contract=self.write_contract,
            review=self.interrupt_after_architect,
            max_plan_attempts=self.max_plan_attempts,
            assembler_notes=self.assembler_notes,
            verify=self.verify,
            sandbox=self.sandbox,
            verify_timeout=self.verify_timeout,
            fix_rounds=self.fix_rounds,
            verify_dir=str(self.files.python_env_dir),
            allow_install=self.allow_install,
        )
        values: dict[str, Any] = dict(snapshot.values or {})
        steps = 0
        try:
            # durability="sync": each step's checkpoint is on disk before the next step starts.
            # The default ("async") can lose the last finished module in a crash, and resuming
            # would then pay for that module's model call again.
            # "messages" carries the model's tokens as they are generated (token events for
            # live progress); only asked for when someone listens.
            modes: list[Any] = ["custom", "values", "messages"] if on_event else ["custom", "values"]
            # (the stubs' overloads do not cover a context with a list of stream modes)
            for mode, chunk in self.graph.stream(  # type: ignore[call-overload]
                payload, config, context=context, stream_mode=modes, durability="sync"
            ):
                if mode == "custom":
                    notify(chunk)
                elif mode == "messages":
                    message, meta = chunk
                    if isinstance(message, AIMessageChunk):
                        notify({"event": "token", "node": meta.get("langgraph_node"), "text": message_text(message)})
                else:
                    values = chunk
                    self.files.sync(values, thread_id=thread_id, final=False)
                    if self.keep_checkpoints:
                        steps += 1
                        prune_history(self.checkpointer, thread_id, self.keep_checkpoints, vacuum=steps % 32 == 0)
        except MatrioskaError as exc:
            self._save_after_failure(thread_id, getattr(exc, "rejected_plans", None))
            exc.thread_id = thread_id
            raise
        except Exception as exc:
            self._save_after_failure(thread_id)
            # A model server's failure names the server and what to do about it; anything else
            # names the exception.
            error = server_failure(exc, thread_id) or RunFailedError(
                f"{type(exc).__name__}: {exc}", thread_id=thread_id
            )
            raise error from exc
        snapshot = self.graph.get_state(config)
        pending = [i.value for i in getattr(snapshot, "interrupts", ()) or ()]
        if pending:
            # Stopped for the plan review: files are current, the run waits for `review()`.
            values = dict(snapshot.values)
            self.files.sync(values, thread_id=thread_id)
            notify({"event": "review_requested", "thread_id": thread_id, **pending[0]})
            return {**values, "thread_id": thread_id, "pending_review": pending[0]}
        return self._finish(thread_id, dict(snapshot.values), notify)

    def _reopen_blocked(self, values: dict[str, Any]) -> tuple[Any, list[str], list[str]]:
        """A finished run with modules left ungenerated: the command that makes pending again
        each module that blocks others (it lacks a part it declared: `routing.block_causes`) and
        runs the pending ones (the modules it blocked follow once it has what they need; the
        fix rounds start over), the modules it generates again and the ones never generated, in
        execution order. A module blocked under a former rule that nothing blocks now is simply
        built. (None, [], []) when every module is generated."""
        from langgraph.types import Command, Overwrite

        from ..nodes.routing import blocking_modules

        done = values.get("completed") or []
        left = [m for m in values.get("execution_order") or [] if m not in done]
        if not left:
            return None, [], []
        state: Any = values
        empty = blocking_modules(state)
        completed = [m for m in done if m not in empty]
        reset = {"fix_queue": [], "fix_seen": [], "fix_evidence": {}, "fix_round": 0, "blocked": {}}
        # the executor runs the first pending module; routing goes on from there
        command = Command(update={"completed": Overwrite(completed), **reset}, goto="executor")
        return command, empty, left

    def _save_after_failure(self, thread_id: str, rejected_plans: list[dict[str, Any]] | None = None) -> None:
        state = self.get_state(thread_id)
        if rejected_plans:  # the plans the model proposed, for the user to read
            state = {**state, "rejected_plans": rejected_plans}
        self.files.sync(state, thread_id=thread_id)

    def _finish(self, thread_id: str, values: dict[str, Any], notify: EventHandler) -> dict[str, Any]:
        if self.keep_checkpoints:
            prune_history(self.checkpointer, thread_id, self.keep_checkpoints)
        self.files.sync(values, thread_id=thread_id)
        results_zip = self.files.write_zip()
        notify({"event": "run_finished", "thread_id": thread_id, "results_zip": str(results_zip)})
        return {**values, "thread_id": thread_id, "results_zip": str(results_zip)}
