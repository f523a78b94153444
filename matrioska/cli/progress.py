"""What the `matrioska` command prints while a run goes and when it ends: the phases and the
per-module progress turned from the orchestrator's events (the seed's console output), the plan
as a table, the final result with its honest verdict, and the exit status that verdict gives."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from ..model.ledger import usage_lines


class ProgressPrinter:
    """Turns the orchestrator's progress events into the seed's console output."""

    def __init__(self, out: TextIO, resume_hint: Callable[[str], str], *, live: bool | None = None) -> None:
        self.out = out
        self.resume_hint = resume_hint
        self.executing = False
        self.replies = ""
        # A live line (redrawn in place) only on a terminal; logs get one line per module.
        self.live = out.isatty() if live is None else live
        self.tokens = 0
        self.started = time.monotonic()
        self.label = ""
        self.position = (0, 0)
        self.drawn = 0.0

    def p(self, text: str = "") -> None:
        if self.live and self.label:
            self.out.write("\r\033[K")
        print(text, file=self.out, flush=True)

    def _rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.tokens / elapsed if elapsed > 0 else 0.0

    def on_token(self, e: dict[str, Any]) -> None:
        self.tokens += 1
        now = time.monotonic()
        if not self.live or now - self.drawn < 0.1:
            return
        self.drawn = now
        done, total = self.position
        width = 20
        filled = int(width * done / total) if total else 0
        bar = "█" * filled + "░" * (width - filled)
        self.out.write(f"\r\033[K  [{bar}] {self.label}: {self.tokens} tokens, {self._rate():.1f} tok/s")
        self.out.flush()

    def _start_counting(self, label: str, position: tuple[int, int]) -> None:
        self.tokens, self.started, self.label, self.position = 0, time.monotonic(), label, position

    def _stop_counting(self) -> str:
        text = f"{self.tokens} tokens, {self._rate():.1f} tok/s" if self.tokens else ""
        if self.live and self.label:
            self.out.write("\r\033[K")
        self.label = ""
        return text

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(event)

    def on_run_started(self, e: dict[str, Any]) -> None:
        self.p("MATRIOSKA ORCHESTRATOR - Hyperfocus + SharedState")
        state = "continuing" if e.get("resumed") else "new run"
        self.p(f"  thread: {e['thread_id']} ({state}; {self.resume_hint(e['thread_id'])})")

    def on_phase(self, e: dict[str, Any]) -> None:
        if e["phase"] == "architecture":
            self.p("PHASE 1: ARCHITECTURE")
            self.p(f"  Task: {e['task']!r}")
            self._start_counting("planning", (0, 1))
        elif e["phase"] == "acceptance":
            self._start_counting("writing acceptance scenarios", (0, 1))
        elif e["phase"] == "contract":
            self._start_counting("deciding the contract", (0, 1))
        elif e["phase"] == "assembly":
            self.p("PHASE 3: ASSEMBLY")
            self.p(f"  integrating {e['modules']} artifacts...")
        elif e["phase"] == "verification":
            self.p(f"PHASE 4: VERIFICATION (running the project; sandbox: {e['sandbox']})")

    def on_plan_retry(self, e: dict[str, Any]) -> None:
        self.p(f"  ! plan attempt {e['attempt']}/{e['of']} unusable: {e['error']}")

    def on_plan_ready(self, e: dict[str, Any]) -> None:
        rate = self._stop_counting()
        self.p(f"  ✓ Project: {e['project_name']}" + (f"  ({rate})" if rate else ""))
        self.p(f"  ✓ Objective: {e['goal']}")
        self.p(f"  ✓ Modules: {len(e['modules'])}")
        for line in plan_table(e["modules"]):
            self.p("     " + line)
        for line in e.get("report") or []:
            self.p(f"  · {line}")

    def on_contract_ready(self, e: dict[str, Any]) -> None:
        from ..functions.contract import ModuleContract, render_contract

        rate = self._stop_counting()
        contract = e.get("contract") or {}
        names = sum(len(ModuleContract.from_dict(c).names) for c in contract.values())
        self.p(f"  ✓ Contract: {names} public name(s)" + (f"  ({rate})" if rate else ""))
        for module, data in contract.items():
            found = ModuleContract.from_dict(data)
            text = render_contract(found, examples=False)
            if text:
                self.p(f"     {module} ({found.source}):")
                for line in text.splitlines()[:12]:
                    self.p(f"       {line[:160]}")
        for line in e.get("notes") or []:
            if any(w in line for w in ("renamed", "moved", "lacking", "derived", "dropped", "lacks")):
                self.p(f"  · {line}")

    def on_acceptance_ready(self, e: dict[str, Any]) -> None:
        rate = self._stop_counting()
        scenarios = e.get("scenarios") or []
        self.p(f"  ✓ Acceptance: {len(scenarios)} scenario(s)" + (f"  ({rate})" if rate else ""))
        for scenario in scenarios:
            self.p(f"     - [{scenario['kind']}, {scenario['source']}] {scenario['text'][:160]}")
        for line in e.get("notes") or []:
            if "dropped" in line or "unusable" in line:
                self.p(f"  · {line}")

    def on_module_started(self, e: dict[str, Any]) -> None:
        if not self.executing:
            self.executing = True
            self.p("PHASE 2: EXECUTION (hyperfocus + communication)")
        if e.get("replies") and e["replies"] != self.replies:
            self.replies = e["replies"]
            self.p(f"  replies: {self.replies}")
        reads = f"reading context {e['reads']}" if e["reads"] else "no context to read"
        self.p(f"  [{e['index']}/{e['total']}] {e['name']}: {reads}")
        self._start_counting(f"{e['index']}/{e['total']} {e['name']}", (e["index"] - 1, e["total"]))

    def on_module_finished(self, e: dict[str, Any]) -> None:
        rate = self._stop_counting()
        generation = e.get("generation") or {}
        if generation.get("seconds"):
            # The module's own calls: modules of one wave each get their own rate.
            estimated = " (estimated)" if "estimate" in str(generation.get("source")) else ""
            rate = f"{generation['tokens']} tokens, {generation['tokens_per_second']:.1f} tok/s{estimated}"
        files = e.get("file_count", 0)
        problems = e.get("problems") or []
        mark = "✗" if problems or not files else "✓"
        detail = f"{e['chars']} chars, {files} file(s){', ' + rate if rate else ''}"
        path = f"{e['path']}: " if e.get("path") and e["path"] != "whole module" else ""
        parts = [f"{mark} {path}generated ({detail})", f"wrote {e['written']}"]
        if problems:
            parts.append(f"{len(problems)} problem(s) left: {problems[0][:120]}")
        if e.get("dropped_keys"):
            parts.append(f"dropped undeclared {e['dropped_keys']}")
        if e.get("missing_keys"):
            parts.append(f"missing {e['missing_keys']}")
        self.p("      " + " / ".join(parts))
        if e.get("file_ways"):  # files by role (issue 40): which way each file went
            self.p("      · files: " + "; ".join(f"{p}: {way}" for p, way in e["file_ways"].items()))
        if e.get("ids_restored"):
            self.p("      · contract ids put back: " + "; ".join(e["ids_restored"]))

    def on_module_repair(self, e: dict[str, Any]) -> None:
        self._stop_counting()
        self.p(f"      ! attempt {e['attempt']} has {len(e['problems'])} problem(s), re-running: {e['problems'][0]}")
        self._start_counting(f"repair of {e['module']}", self.position)

    def on_sampling(self, e: dict[str, Any]) -> None:
        how = {
            "n": f"one request with n={e['samples']}",
            "rows": f"{e['samples']} rows of one batch",
            "parallel": f"{e['samples']} requests at once",
        }.get(e["mode"], e["mode"])
        self.p(f"  samples: {e['samples']} candidates per module attempt ({how}), temperature {e['temperature']}")

    def on_module_candidates(self, e: dict[str, Any]) -> None:
        self.p(f"      · attempt {e['attempt']}: {e['line']}")

    def on_function_plan(self, e: dict[str, Any]) -> None:
        plan = e["plan"]
        names = ", ".join(f["name"] for f in plan["functions"]) or "(none)"
        commands = f"; commands {', '.join(c['name'] for c in plan['commands'])}" if plan.get("commands") else ""
        notes = [n for n in plan.get("notes") or [] if n != "from the contract"]
        repaired = f" ({len(notes)} repaired or dropped: {notes[0][:100]})" if notes else ""
        source = " (from the contract)" if "from the contract" in (plan.get("notes") or []) else ""
        self.p(f"      · function plan{source}: {names}{commands}{repaired}")

    def on_function_plan_failed(self, e: dict[str, Any]) -> None:
        why = e.get("reason") or "no usable function plan"
        self.p(f"      · {e['module']}: {why}; the module is asked for whole")

    def on_module_functions(self, e: dict[str, Any]) -> None:
        missing = f" (no candidate for {', '.join(e['missing'])}: asked for whole)" if e.get("missing") else ""
        self.p(f"      · {e['line']}{missing}")

    def on_function_localised(self, e: dict[str, Any]) -> None:
        where = f"{e['file']}:{e['function']}" if e.get("file") else e["function"]
        example = f", with the new example {e['example']}" if e.get("example") else ""
        self.p(f"      · the failure is in {where}: that function is asked again{example}")

    def on_function_rewritten(self, e: dict[str, Any]) -> None:
        self.p(f"      · {e['function']} rewritten: {e['line']}")

    def on_function_path_failed(self, e: dict[str, Any]) -> None:
        self.p(f"      ! function path of {e['module']} failed ({e['error']}): the module is asked for whole")

    def on_module_blocked(self, e: dict[str, Any]) -> None:
        self.p(f"  ⊘ {e['module']}: not generated — {e['reason']}")

    def on_modules_retried(self, e: dict[str, Any]) -> None:
        if not e["modules"]:  # blocked under a former rule, nothing blocks them now
            self.p(f"  generating the modules not generated yet: {', '.join(e['blocked'])}")
            return
        again = ", ".join(repr(m) for m in e["modules"])
        self.p(
            f"  generating {again} again (it lacks a part it declared), then the modules it blocked: "
            f"{', '.join(e['blocked'])}"
        )

    def on_near_miss_fixed(self, e: dict[str, Any]) -> None:
        self.p(f"  ~ fixed without the model: {e['path']}:{e['line']} {e['old']!r} -> {e['new']!r}")

    def on_analyzer_fixed(self, e: dict[str, Any]) -> None:
        self.p(f"  ~ fixed without the model: {e['path']}:{e['line']} {e['description']}")

    def on_analyzers_missing(self, e: dict[str, Any]) -> None:
        said: set[str] = self.__dict__.setdefault("analyzer_notes_said", set())  # once a run
        for note in e.get("notes") or []:
            if note not in said:
                said.add(note)
                self.p(f"  · {note}")

    def on_reply_grammar_refused(self, e: dict[str, Any]) -> None:
        self.replies = "parsed"
        self.p(f"  ! the server refused the reply grammar ({e['error'][:160]}); asked again without it")
        self.p("  replies: parsed")

    def on_structured_output_refused(self, e: dict[str, Any]) -> None:
        self.p(f"  ! the server refused structured output ({e['error'][:160]}); asked again without it")

    def on_verification_skipped(self, e: dict[str, Any]) -> None:
        self.p(f"  ! not verified: {e['reason']}")

    def on_sandbox_warning(self, e: dict[str, Any]) -> None:
        self.p(f"  ! {e['message']}")

    def on_check_finished(self, e: dict[str, Any]) -> None:
        mark = {True: "✓", False: "✗", None: "-"}[e.get("ok")]
        where = f" -> {', '.join(e['modules'])}" if e.get("modules") else ""
        self.p(f"  {mark} {e['kind']}: {e['command']} ({e['seconds']:.1f} s){where}")

    def on_fix_round(self, e: dict[str, Any]) -> None:
        what = "the references that do not resolve" if e.get("reason") == "references" else "the failures"
        self.p(f"FIX ROUND {e['round']}/{e['of']}: sending {what} back to {e['modules']}")

    def on_module_fix(self, e: dict[str, Any]) -> None:
        first = (e.get("evidence") or "").strip().splitlines()
        self.p(f"  {e['module']}: fixing " + (first[0][:120] if first else ""))

    def on_assembled(self, e: dict[str, Any]) -> None:
        if e.get("broken_contracts"):
            self.p(f"  ! broken contracts: {e['broken_contracts']}")


def plan_table(modules: list[dict[str, Any]]) -> list[str]:
    """The plan as a text table: one row per module, in build order."""
    header = ("#", "id", "name", "depends on", "reads", "writes")
    rows = [
        (
            str(i),
            m["id"],
            m["name"],
            ", ".join(m["dependencies"]) or "-",
            ", ".join(m["reads"]) or "-",
            ", ".join(m["writes"]) or "-",
        )
        for i, m in enumerate(modules, 1)
    ]
    widths = [min(40, max(len(r[c]) for r in [header, *rows])) for c in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def print_final(out: TextIO, state: dict[str, Any]) -> None:
    """The run's last lines: the project, its consistency, the verdict and the results zip."""
    architecture = state.get("architecture") or {}
    print("FINAL RESULT", file=out)
    keys = list((state.get("shared_state") or {}).keys())
    print(
        f"  {architecture.get('project_name', '?')} — artifacts: {len(state.get('artifacts') or {})} — "
        f"shared_state keys: {keys} — integrated result: {len(state.get('final_result') or '')} chars",
        file=out,
    )
    report = state.get("integration_report") or {}
    rows = report.get("consistency") or []
    if rows:
        broken = [row for row in rows if row["status"] == "broken"]
        print(f"  consistency: {len(rows) - len(broken)} contracts held, {len(broken)} broken", file=out)
        references = report.get("references") or {}
        if references.get("total"):
            print(f"  cross-module references: {references['resolved']}/{references['total']} resolved", file=out)
        for row in broken[:20]:
            problem = f" — {row['problem']}" if row.get("problem") else ""
            print(f"    ✗ {row['contract']} @ {row['where']}{problem}", file=out)
    _print_verdict(out, state.get("verification") or {})
    usage = usage_lines(state.get("usage") or {})
    if usage:
        print("  the model, per step:", file=out)
        for line in usage:
            print("  " + line, file=out)
    print(f"  results: {state['results_zip']}", file=out)


def _print_verdict(out: TextIO, verification: dict[str, Any]) -> None:
    """The honest verdict: works, DOES NOT WORK (and why), or not verified (and why)."""
    if not verification:
        return
    from ..checking.run import headline
    from ..checking.verdict import NOT_CHECKED

    works = verification.get("works")
    rounds = verification.get("rounds", 0)
    if works is True:
        print(
            f"  verdict: WORKS ({len(verification.get('checks') or [])} checks passed, {rounds} fix round(s))", file=out
        )
    elif works is None and verification.get("verdict") == NOT_CHECKED:
        print(
            f"  verdict: RUNS, NOT CHECKED — {verification.get('reason') or 'no acceptance scenario passed'}", file=out
        )
        for check in [c for c in verification.get("checks") or [] if c.get("inconclusive")][:3]:
            print(f"    ? {check['command']}: {headline(check.get('output') or '')[:200]}", file=out)
    elif works is None:
        print(f"  verdict: not verified — {verification.get('reason') or 'nothing could be run'}", file=out)
    else:
        failed = [c for c in verification.get("checks") or [] if c.get("ok") is False]
        failed_scenarios = [s for s in verification.get("acceptance") or [] if s.get("ok") is False]
        # Nothing that ran failed, yet it does not work (files failing their checks, references
        # that never resolve): the reason is the verdict's, not "0 checks failed".
        if failed:
            why = f"{len(failed)} check(s) failed"
        elif failed_scenarios:
            why = f"{len(failed_scenarios)} acceptance scenario(s) failed"
        else:
            why = verification.get("reason") or "no check failed"
        print(f"  verdict: DOES NOT WORK ({why} after {rounds} fix round(s))", file=out)
        for check in failed[:5]:
            print(f"    ✗ {check['command']}: {headline(check.get('output') or '')[:200]}", file=out)
        if verification.get("blocked_reason"):
            if why != verification["blocked_reason"]:
                print(f"    ✗ {verification['blocked_reason']}", file=out)
            print("    (resume, e.g. with a better --model: it is generated again, then the blocked ones)", file=out)
    scenarios = verification.get("acceptance") or []
    if scenarios:
        ran = [s for s in scenarios if s.get("ok") is not None]
        passed = sum(1 for s in ran if s["ok"])
        skipped = f", {len(scenarios) - len(ran)} not run" if len(ran) < len(scenarios) else ""
        print(f"  acceptance: {passed}/{len(scenarios)} scenarios passed{skipped}", file=out)
        for scenario in [s for s in scenarios if s.get("ok") is False][:6]:
            problems = "; ".join(scenario.get("problems") or [])[:200]
            print(f"    ✗ {scenario['name']}: {problems}", file=out)
    if works is False:
        print("    details: matrioska_checkpoints/verification.json", file=out)


def exit_status(verification: dict[str, Any]) -> int:
    """0: works (or nothing could be run / verification off); 3: built but does not work; 4: it
    runs but nothing showed the task's behaviour (no acceptance scenario passed)."""
    from ..checking.verdict import NOT_CHECKED

    if verification.get("works") is False:
        return 3
    if verification.get("works") is None and verification.get("verdict") == NOT_CHECKED:
        return 4
    return 0
