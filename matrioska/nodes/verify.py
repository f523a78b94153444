"""Verify node: run the assembled project in the sandbox and decide what happens next.

It writes nothing of the user's: the project is copied into a throwaway folder and checked
there (see `matrioska.checking.verify`). When the project does not work and rounds are left, the
modules that own the failures are queued for a fix round with their evidence (the executor
re-runs them, in hyperfocus, then the assembler and this node run again); otherwise the verdict
is final and goes into the consistency report and the integrated result.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from langgraph.runtime import Runtime

from ..checking.findings import StaticFindings, reference_failures, with_blocked
from ..checking.nearmiss import describe_edit
from ..checking.repairs import NearMissPass, consistency_after, near_miss_pass, report_after
from ..checking.sandbox import Sandbox, resolve_sandbox
from ..checking.verdict import evidence_text, not_run, render_verdict, report_with_runs, summary, with_evidence
from ..checking.verify import verify_project
from ..context import Context
from ..functions.derive import without_suspect
from ..generation.project import project_files
from ..model.calls import emit
from ..state import MatrioskaState
from .assembler import reference_rows, render_integrated
from .routing import block_causes, blocked_modules, module_dependencies

_VERDICT_HEADING = "\n## Verification\n"


def verify(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Repair the references that miss by one close name (without the model), then run the
    checks; queue a fix round or settle the verdict."""
    state, repaired = _repair_near_misses(state, runtime)
    result = _verify(state, runtime)
    if not repaired:
        return result
    out = {**repaired, **result}
    edits = (state.get("verification") or {}).get("near_miss_edits") or []
    out["verification"] = {**result.get("verification", {}), "near_miss_edits": edits}
    return out


def _verify(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run the checks; queue a fix round or settle the verdict."""
    context = runtime.context or Context()
    rounds = int(state.get("fix_round") or 0)
    history = list((state.get("verification") or {}).get("history") or [])
    order = state.get("execution_order") or []
    static = StaticFindings.of((state.get("integration_report") or {}).get("consistency") or [], order)
    if static.broken and rounds < max(0, context.fix_rounds):
        # Static, before anything runs: names one module uses of another that do not exist.
        return _references_round(runtime, context, static, order, rounds, history)
    if not context.verify:
        verdict = not_run("verification switched off (--no-verify)", [], rounds, history)
        return _settle(state, static.applied(verdict))
    sandbox, note = resolve_sandbox(context.sandbox, timeout=float(context.verify_timeout))
    if sandbox is None:
        emit(runtime, "verification_skipped", reason=note)
        return _settle(state, static.applied(not_run(note, [note], rounds, history, sandbox=None)))
    if note:
        emit(runtime, "sandbox_warning", message=note)
    result = static.applied(_run_checks(state, runtime, context, sandbox, note, rounds, history))
    # files failing their static checks already had the module's repairs: a fix round of that
    # module can only replace them with something worse (seen: a reply with no file at all)
    failing = [
        m for m in order if any(f["module"] == m and f["command"] != "static checks" for f in result["failures"])
    ]
    if result["works"] is False and failing and rounds < max(0, context.fix_rounds):
        history.append(summary(result))
        evidence = {m: evidence_text([f for f in result["failures"] if f["module"] == m]) for m in failing}
        emit(runtime, "fix_round", round=rounds + 1, of=context.fix_rounds, modules=failing)
        return _fix_round({**result, "status": "fixing"}, failing, evidence, rounds)
    if result["works"] is False and not failing and not result.get("files_invalid"):
        result["notes"].append("no failure points into a module's files (only generated files): nothing to send back")
    return _settle(state, result)


def _references_round(
    runtime: Runtime[Context],
    context: Context,
    static: StaticFindings,
    order: list[str],
    rounds: int,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """A fix round for the modules whose references into the others do not resolve."""
    failing = [m for m in order if m in static.broken]
    history.append({"round": rounds, "works": False, "failed": ["cross-module references"], "modules": failing})
    emit(runtime, "fix_round", round=rounds + 1, of=context.fix_rounds, modules=failing, reason="references")
    verification = {
        "works": False,
        "status": "fixing",
        "checks": [],
        "notes": [],
        "rounds": rounds,
        "history": history,
        "failures": reference_failures(static.broken),
    }
    evidence = {m: evidence_text(reference_failures({m: static.broken[m]})) for m in failing}
    return _fix_round(verification, failing, evidence, rounds)


def _fix_round(
    verification: dict[str, Any], failing: list[str], evidence: dict[str, str], rounds: int
) -> dict[str, Any]:
    """The state's update that queues `failing` for a fix round with their evidence."""
    return {
        "verification": verification,
        "fix_queue": failing,
        "fix_seen": failing,
        "fix_evidence": evidence,
        "fix_round": rounds + 1,
    }


def _run_checks(
    state: MatrioskaState,
    runtime: Runtime[Context],
    context: Context,
    sandbox: Sandbox,
    note: str | None,
    rounds: int,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """The project's checks and acceptance scenarios run in the sandbox: the verdict, with the
    round, the sandbox and the history, and the reason when nothing ran or scenarios failed."""
    files = project_files(state)
    emit(runtime, "phase", phase="verification", files=len(files), round=rounds, sandbox=sandbox.describe())
    acceptance, left_out = without_suspect(state.get("acceptance") or [], state.get("module_reports") or {})
    result = verify_project(
        {f.path: f.content for f in files},
        {f.path: f.module for f in files},
        sandbox,
        deps_root=context.verify_dir or None,
        emit=lambda event, **data: emit(runtime, event, **data),
        acceptance=acceptance,
        dependencies=module_dependencies(state),
        allow_install=context.allow_install,
        module_ids=state.get("execution_order") or [],
    )
    result.update(rounds=rounds, sandbox=sandbox.mode, history=history)
    if note:
        result["notes"].insert(0, note)
    result["notes"] += [f"scenario call {n}" for n in left_out]
    if not [c for c in result["checks"] if c["kind"] != "analyzers"] and not result.get("acceptance"):
        result["reason"] = result["notes"][-1] if result["notes"] else "nothing to run"
    failed_scenarios = [s["name"] for s in result.get("acceptance") or [] if s["ok"] is False]
    if failed_scenarios and not [c for c in result["checks"] if c["ok"] is False]:
        result["reason"] = f"{len(failed_scenarios)} acceptance scenario(s) failed: {', '.join(failed_scenarios[:4])}"
    return result


def _settle(state: MatrioskaState, result: dict[str, Any]) -> dict[str, Any]:
    """The final verdict: in the state, the consistency report and the integrated result."""
    blocked = blocked_modules(state)
    result = with_evidence(with_blocked(result, blocked, block_causes(state) if blocked else {}))
    result = {**result, "status": "final", "history": [*result.get("history", []), summary(result)]}
    final = (state.get("final_result") or "").split(_VERDICT_HEADING, 1)[0].rstrip("\n")
    return {
        "verification": result,
        "fix_queue": [],
        "integration_report": report_with_runs(state.get("integration_report") or {}, result),
        "final_result": final + "\n\n" + render_verdict(result),
    }


def _repair_near_misses(state: MatrioskaState, runtime: Any) -> tuple[MatrioskaState, dict[str, Any]]:
    """Before the references decide a fix round: the near misses repaired in the modules' files
    (`matrioska.checking.repairs`), the references checked again and the consistency report,
    the integrated result, the interfaces and the module reports brought up to date. Returns the
    state as the checks should see it and what to write back ({} when nothing changed)."""

    def told(edit: dict[str, Any]) -> None:
        emit(
            runtime,
            "analyzer_fixed" if edit.get("source") == "analyzer" else "near_miss_fixed",
            stage="verify",
            text=describe_edit(edit),
            **edit,
        )

    found = near_miss_pass(state, told)
    if found is None or not (found.edits or found.every or found.candidates):
        return state, {}
    report = state.get("integration_report") or {}
    references = None
    update: dict[str, Any] = {}
    if found.edits:
        modules = [m for m in found.order if m in found.files]
        references = reference_rows(found.architecture, modules, found.files, found.reports, found.generated)
        update.update(found.changed())
    rows = consistency_after(list(report.get("consistency") or []), references, found.candidates, found.every)
    report = report_after(report, rows, found.every)
    update["integration_report"] = report
    if found.edits:
        update.update(_integrated_after(state, found, report))
    return _patched(state, update, found), update


def _integrated_after(state: MatrioskaState, found: NearMissPass, report: dict[str, Any]) -> dict[str, Any]:
    """The integrated result rendered again from the edited artifacts (its verdict kept), and the
    pass's edits added to the verdict's."""
    final = render_integrated(
        found.architecture,
        found.order,
        found.artifacts,
        state.get("shared_state") or {},
        report.get("contracts") or {},
        report.get("notes") or "",
        report["consistency"],
        state.get("blocked") or {},
    )
    _, heading, verdict = (state.get("final_result") or "").partition(_VERDICT_HEADING)
    previous = list((state.get("verification") or {}).get("near_miss_edits") or [])
    return {
        "final_result": final + (heading + verdict if heading else ""),
        "verification": {**(state.get("verification") or {}), "near_miss_edits": [*previous, *found.edits]},
    }


def _patched(state: MatrioskaState, update: dict[str, Any], found: NearMissPass) -> MatrioskaState:
    """The state as the checks should see it after the pass."""
    if not found.edits:
        return cast(MatrioskaState, {**state, **update})
    patched = cast(MatrioskaState, {**state, **update, "artifacts": found.artifacts})
    patched["module_reports"] = found.reports
    patched["interfaces"] = {**(state.get("interfaces") or {}), **update["interfaces"]}
    return patched


def route_after_verify(state: MatrioskaState) -> Literal["executor", "__end__"]:
    """A fix round re-runs the queued modules; a settled verdict ends the run."""
    return "executor" if state.get("fix_queue") else "__end__"  # langgraph.graph.END
