"""Verify node: run the assembled project in the sandbox and decide what happens next.

It writes nothing of the user's: the project is copied into a throwaway folder and checked
there (see `verify.py`). When the project does not work and rounds are left, the modules that
own the failures are queued for a fix round with their evidence (the executor re-runs them, in
hyperfocus, then the assembler and this node run again); otherwise the verdict is final and goes
into the consistency report and the integrated result.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from ..context import Context
from ..project import project_files
from ..sandbox import resolve_sandbox
from ..state import MatrioskaState
from ..verify import headline, verify_project
from ._common import emit
from .routing import module_dependencies

_EVIDENCE_LIMIT = 6000


def verify(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run the checks; queue a fix round or settle the verdict."""
    context = runtime.context or Context()
    rounds = int(state.get("fix_round") or 0)
    previous = state.get("verification") or {}
    history = list(previous.get("history") or [])
    order = state.get("execution_order") or []
    broken = _broken_references(state, order)
    invalid = _invalid_files(state, order)
    if broken and rounds < max(0, context.fix_rounds):
        # Static, before anything runs: names one module uses of another that do not exist.
        failing = [m for m in order if m in broken]
        history.append({"round": rounds, "works": False, "failed": ["cross-module references"], "modules": failing})
        emit(runtime, "fix_round", round=rounds + 1, of=context.fix_rounds, modules=failing, reason="references")
        return {
            "verification": {
                "works": False,
                "status": "fixing",
                "checks": [],
                "notes": [],
                "rounds": rounds,
                "history": history,
                "failures": _reference_failures(broken),
            },
            "fix_queue": failing,
            "fix_seen": failing,
            "fix_evidence": {m: _evidence(_reference_failures({m: broken[m]})) for m in failing},
            "fix_round": rounds + 1,
        }
    if not context.verify:
        return _settle(
            state,
            _with_static_problems(
                invalid,
                {
                    "works": None,
                    "reason": "verification switched off (--no-verify)",
                    "checks": [],
                    "failures": [],
                    "notes": [],
                    "rounds": rounds,
                    "history": history,
                },
                broken,
            ),
        )
    sandbox, note = resolve_sandbox(context.sandbox, timeout=float(context.verify_timeout))
    if sandbox is None:
        emit(runtime, "verification_skipped", reason=note)
        return _settle(
            state,
            _with_static_problems(
                invalid,
                {
                    "works": None,
                    "reason": note,
                    "checks": [],
                    "failures": [],
                    "notes": [note],
                    "rounds": rounds,
                    "history": history,
                    "sandbox": None,
                },
                broken,
            ),
        )
    if note:
        emit(runtime, "sandbox_warning", message=note)
    files = project_files(state)
    emit(runtime, "phase", phase="verification", files=len(files), round=rounds, sandbox=sandbox.describe())
    result = verify_project(
        {f.path: f.content for f in files},
        {f.path: f.module for f in files},
        sandbox,
        deps_root=context.verify_dir or None,
        emit=lambda event, **data: emit(runtime, event, **data),
        acceptance=state.get("acceptance") or [],
        dependencies=module_dependencies(state),
    )
    result.update(rounds=rounds, sandbox=sandbox.mode, history=history)
    if note:
        result["notes"].insert(0, note)
    if not result["checks"] and not result.get("acceptance"):
        result["reason"] = result["notes"][-1] if result["notes"] else "nothing to run"
    failed_scenarios = [s["name"] for s in result.get("acceptance") or [] if s["ok"] is False]
    if failed_scenarios and not [c for c in result["checks"] if c["ok"] is False]:
        result["reason"] = f"{len(failed_scenarios)} acceptance scenario(s) failed: {', '.join(failed_scenarios[:4])}"
    result = _with_static_problems(invalid, result, broken)
    # files failing their static checks already had the module's repairs: a fix round of that
    # module can only replace them with something worse (seen: a reply with no file at all)
    failing = [
        m for m in order if any(f["module"] == m and f["command"] != "static checks" for f in result["failures"])
    ]
    if result["works"] is False and failing and rounds < max(0, context.fix_rounds):
        history.append(_summary(result))
        evidence = {m: _evidence([f for f in result["failures"] if f["module"] == m]) for m in failing}
        emit(runtime, "fix_round", round=rounds + 1, of=context.fix_rounds, modules=failing)
        return {
            "verification": {**result, "status": "fixing"},
            "fix_queue": failing,
            "fix_seen": failing,
            "fix_evidence": evidence,
            "fix_round": rounds + 1,
        }
    if result["works"] is False and not failing and not result.get("files_invalid"):
        result["notes"].append("no failure points into a module's files (only generated files): nothing to send back")
    return _settle(state, result)


def _broken_references(state: MatrioskaState, order: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Module id -> its broken cross-module references in the consistency report."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in (state.get("integration_report") or {}).get("consistency") or []:
        if row.get("kind") == "reference" and row.get("status") == "broken" and row.get("module") in order:
            out.setdefault(row["module"], []).append(row)
    return out


def _reference_failures(broken: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "module": module_id,
            "command": "cross-module reference check (before running)",
            "evidence": "\n".join(
                f"- {r['where']}: {r.get('reference', r['contract'])}: {r.get('problem', '')}" for r in rows
            ),
        }
        for module_id, rows in broken.items()
    ]


def _with_references(result: dict[str, Any], broken: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A verdict that also counts the references that do not resolve: they fail when run."""
    if not broken:
        return result
    count = sum(len(rows) for rows in broken.values())
    reason = f"{count} cross-module reference(s) do not resolve (see the consistency report)"
    return {
        **result,
        "works": False,
        "reason": reason if result.get("works") is not False else result.get("reason"),
        "failures": [*result.get("failures", []), *_reference_failures(broken)],
        "notes": [*result.get("notes", []), reason],
        "references_broken": count,
    }


def _invalid_files(state: MatrioskaState, order: list[str]) -> list[dict[str, Any]]:
    """The consistency rows of module files that still fail their static checks (a syntax error,
    a file of comments only) after the module's repairs."""
    rows = (state.get("integration_report") or {}).get("consistency") or []
    return [
        row
        for row in rows
        if row.get("status") == "broken"
        and str(row.get("contract", "")).endswith(" is valid")
        and row.get("where") in order
    ]


def _with_static_problems(
    invalid: list[dict[str, Any]], result: dict[str, Any], broken: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The verdict with what is known without running: references that do not resolve, and
    files that fail their checks (a project whose file is only comments does not work, even
    when importing it raises nothing)."""
    result = _with_references(result, broken)
    if not invalid:
        return result
    first = invalid[0]
    reason = f"{len(invalid)} file(s) fail their checks ({first['contract'].removesuffix(' is valid')}: {first.get('problem', '')})"
    return {
        **result,
        "works": False,
        "reason": reason if result.get("works") is not False else result.get("reason"),
        "failures": [
            *result.get("failures", []),
            *(
                {
                    "module": row["where"],
                    "command": "static checks",
                    "evidence": f"{row['contract']}: {row.get('problem', '')}",
                }
                for row in invalid
            ),
        ],
        "notes": [*result.get("notes", []), reason],
        "files_invalid": len(invalid),
    }


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "round": result.get("rounds", 0),
        "works": result.get("works"),
        "failed": [c["command"] for c in result.get("checks") or [] if c.get("ok") is False]
        + [f"acceptance: {s['name']}" for s in result.get("acceptance") or [] if s.get("ok") is False],
        "modules": sorted({f["module"] for f in result.get("failures") or []}),
    }


def _evidence(failures: list[dict[str, Any]]) -> str:
    parts = [f"$ {f['command']}\n{f['evidence']}" for f in failures]
    text = "\n\n".join(dict.fromkeys(parts))
    return text if len(text) <= _EVIDENCE_LIMIT else text[:_EVIDENCE_LIMIT] + "\n[... more output left out ...]"


def _settle(state: MatrioskaState, result: dict[str, Any]) -> dict[str, Any]:
    """The final verdict: in the state, the consistency report and the integrated result."""
    result = {**result, "status": "final", "history": [*result.get("history", []), _summary(result)]}
    report = dict(state.get("integration_report") or {})
    rows = [row for row in report.get("consistency") or [] if row.get("kind") != "runs"]
    ran = [(f"runs: {c['command']}", c, headline(c["output"])) for c in result["checks"] if c["ok"] is not None] + [
        (f"acceptance: {s['name']}", s, "; ".join(s.get("problems") or [])[:300])
        for s in result.get("acceptance") or []
        if s["ok"] is not None
    ]
    for contract, item, problem in ran:
        rows.append(
            {
                "contract": contract,
                "kind": "runs",
                "status": "held" if item["ok"] else "broken",
                "where": ", ".join(item.get("modules") or []) or "-",
                **({} if item["ok"] else {"problem": problem}),
            }
        )
    report["consistency"] = rows
    report["held"] = sum(1 for row in rows if row["status"] == "held")
    report["broken_count"] = sum(1 for row in rows if row["status"] == "broken")
    report["works"] = result["works"]
    final = (state.get("final_result") or "").split("\n## Verification\n", 1)[0].rstrip("\n")
    return {
        "verification": result,
        "fix_queue": [],
        "integration_report": report,
        "final_result": final + "\n\n" + render_verdict(result),
    }


def render_verdict(result: dict[str, Any]) -> str:
    """The verdict as Markdown, for the integrated result."""
    works = result.get("works")
    headline = {True: "**works**", False: "**does not work**", None: "**not verified**"}[works]
    lines = ["## Verification", "", f"Verdict: {headline}" + (f" — {result['reason']}" if result.get("reason") else "")]
    lines.append(f"Fix rounds used: {result.get('rounds', 0)}")
    if result.get("references_broken"):
        lines.append(f"Cross-module references that do not resolve: {result['references_broken']}")
    if result.get("checks"):
        lines += ["", "| check | command | result |", "|---|---|---|"]
        for check in result["checks"]:
            status = {True: "passed", False: "FAILED", None: "skipped"}[check["ok"]]
            lines.append(f"| {check['kind']} | `{check['command']}` | {status} |")
    scenarios = result.get("acceptance") or []
    if scenarios:
        passed = sum(1 for s in scenarios if s["ok"])
        lines += [
            "",
            f"Acceptance: {passed}/{len(scenarios)} scenarios passed",
            "",
            "| scenario | source | result |",
            "|---|---|---|",
        ]
        for scenario in scenarios:
            status = {True: "passed", False: "FAILED", None: "not run"}[scenario["ok"]]
            lines.append(f"| {scenario['name']} | {scenario.get('source', 'user')} | {status} |")
    for check in result.get("checks") or []:
        if check["ok"] is False:
            lines += ["", f"### `{check['command']}`", "", "```", check["output"][-2000:], "```"]
    for scenario in scenarios:
        if scenario["ok"] is False:
            lines += [
                "",
                f"### acceptance: {scenario['name']}",
                "",
                scenario["scenario"],
                "",
                "```",
                scenario["output"][-2000:],
                "```",
            ]
    return "\n".join(lines) + "\n"


def route_after_verify(state: MatrioskaState) -> Literal["executor", "__end__"]:
    """A fix round re-runs the queued modules; a settled verdict ends the run."""
    return "executor" if state.get("fix_queue") else "__end__"  # langgraph.graph.END
