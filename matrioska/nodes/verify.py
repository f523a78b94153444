"""Verify node: run the assembled project in the sandbox and decide what happens next.

It writes nothing of the user's: the project is copied into a throwaway folder and checked
there (see `verify.py`). When the project does not work and rounds are left, the modules that
own the failures are queued for a fix round with their evidence (the executor re-runs them, in
hyperfocus, then the assembler and this node run again); otherwise the verdict is final and goes
into the consistency report and the integrated result.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from langgraph.runtime import Runtime

from matrioska.checking.interfaces import module_interface
from matrioska.checking.nearmiss import apply_near_misses, candidates_note, describe_edit
from matrioska.checking.sandbox import resolve_sandbox
from matrioska.checking.verify import NOT_CHECKED, headline, verify_project, with_evidence
from matrioska.context import Context
from matrioska.generation.project import extract_files, project_files
from matrioska.model.calls import emit
from matrioska.model.grammar import render_files
from matrioska.nodes.routing import block_causes, blocked_modules, module_dependencies
from matrioska.state import Architecture, MatrioskaState

_EVIDENCE_LIMIT = 6000


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
        allow_install=context.allow_install,
        module_ids=order,
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
                f"- {r['where']}: {r.get('reference', r['contract'])}: {r.get('problem', '')}"
                + candidates_note(r.get("candidates"))
                for r in rows
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


def blocked_verdict(state: MatrioskaState) -> str:
    """What the verdict says of modules left ungenerated ("" when none is): the modules that
    ended without files and the modules they block."""
    blocked = blocked_modules(state)
    if not blocked:
        return ""
    causes = block_causes(state)
    lacks = "; ".join(f"{m!r} {cause}" for m, cause in causes.items()) or "a module lacks a part it declared"
    return f"{lacks}; blocked (not generated): {', '.join(blocked)}"


def _with_blocked(state: MatrioskaState, result: dict[str, Any]) -> dict[str, Any]:
    """A verdict over a project with modules left ungenerated does not work, and names them."""
    reason = blocked_verdict(state)
    if not reason:
        return result
    blocked = blocked_modules(state)
    return {
        **result,
        "works": False,
        "reason": reason if result.get("works") is not False else result.get("reason"),
        "failures": [
            *result.get("failures", []),
            *(
                {"module": m, "command": "generation", "evidence": f"module {m!r} {cause}"}
                for m, cause in block_causes(state).items()
            ),
        ],
        "notes": [*result.get("notes", []), reason],
        "blocked": blocked,
        "blocked_reason": reason,
    }


def _settle(state: MatrioskaState, result: dict[str, Any]) -> dict[str, Any]:
    """The final verdict: in the state, the consistency report and the integrated result."""
    result = with_evidence(_with_blocked(state, result))
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
    if works is None and result.get("verdict") == NOT_CHECKED:
        headline = "**runs, not checked**"
    lines = ["## Verification", "", f"Verdict: {headline}" + (f" — {result['reason']}" if result.get("reason") else "")]
    lines.append(f"Fix rounds used: {result.get('rounds', 0)}")
    if result.get("references_broken"):
        lines.append(f"Cross-module references that do not resolve: {result['references_broken']}")
    if result.get("blocked_reason"):
        lines.append(f"Not generated: {result['blocked_reason']}")
    if result.get("checks"):
        lines += ["", "| check | command | result |", "|---|---|---|"]
        for check in result["checks"]:
            status = {True: "passed", False: "FAILED", None: "skipped"}[check["ok"]]
            if check.get("inconclusive"):
                status = "inconclusive"
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


def _repair_near_misses(state: MatrioskaState, runtime: Any) -> tuple[MatrioskaState, dict[str, Any]]:
    """Before the references decide a fix round: each module's references that miss by exactly
    one close name (and its selectors naming no class or id that exists, one close one away)
    edited in place in its artifact (`matrioska.checking.nearmiss`), the references checked again and
    the consistency report, the integrated result, the interfaces and the module reports
    brought up to date. Every near-miss edit of the run (the executor's too) is a row of the
    consistency report. Returns the state as the checks should see it and what to write back
    ({} when nothing changed)."""
    from matrioska.nodes.assembler import reference_rows, render_integrated

    order = state.get("execution_order") or []
    report = dict(state.get("integration_report") or {})
    rows = list(report.get("consistency") or [])
    artifacts = dict(state.get("artifacts") or {})
    if not order or not rows or not state.get("architecture"):
        return state, {}
    architecture = Architecture.model_validate(state["architecture"])
    reports = dict(state.get("module_reports") or {})
    known = {m.id for m in architecture.modules}
    files = {m: extract_files(artifacts.get(m) or "", m, architecture.module(m).files) for m in order if m in known}
    bad = {m: {c["path"] for c in (reports.get(m) or {}).get("files") or [] if not c.get("valid", True)} for m in files}
    valid = {m: [f for f in files[m] if f.path not in bad[m]] for m in files}
    faces = {m: module_interface(m, valid[m]) for m in files}
    generated = state.get("generated_files") or {}
    web = (".css", ".js", ".mjs", ".cjs", ".html", ".htm")
    pages = any(f.path.endswith((".html", ".htm")) for fs in files.values() for f in fs)
    edits: list[dict[str, Any]] = []
    candidates: dict[tuple[str, str], list[str]] = {}
    for position, module_id in enumerate(m for m in order if m in files):
        mine = [r for r in rows if r.get("kind") == "reference" and r.get("module") == module_id]
        broken = any(r.get("status") == "broken" for r in mine)
        if not broken and not (pages and any(f.path.endswith(web) for f in valid[module_id])):
            continue
        near = apply_near_misses(
            module_id,
            files[module_id],
            mine,
            faces,
            valid=valid[module_id],
            generated=generated,
            before=order[:position],
            project=[f for m, fs in files.items() if m != module_id for f in fs],
        )
        candidates.update(near.candidates)
        if not near.edits:
            continue
        paths = {f.path for f in valid[module_id]}
        files[module_id] = near.files
        valid[module_id] = [f for f in near.files if f.path in paths]
        faces[module_id] = module_interface(module_id, valid[module_id])
        artifacts[module_id] = render_files(near.files)
        edits += near.edits
        for edit in near.edits:
            emit(runtime, "near_miss_fixed", stage="verify", text=describe_edit(edit), **edit)
    previous = list((state.get("verification") or {}).get("near_miss_edits") or [])
    every = [*(e for m in order for e in (reports.get(m) or {}).get("near_miss_edits") or []), *previous, *edits]
    if not edits and not every and not candidates:
        return state, {}
    update: dict[str, Any] = {}
    if edits:
        references = reference_rows(architecture, [m for m in order if m in files], files, reports, generated)
        rows = [r for r in rows if r.get("kind") not in ("reference", "dependency")] + references
        interfaces = dict(state.get("interfaces") or {})
        changed = sorted({e["module"] for e in edits})
        for module_id in changed:
            face = interfaces.get(module_id) or {}
            interfaces[module_id] = {**face, **faces[module_id], "problems": face.get("problems", [])}
            reports[module_id] = {
                **(reports.get(module_id) or {}),
                "near_miss_edits": [
                    *((reports.get(module_id) or {}).get("near_miss_edits") or []),
                    *(e for e in edits if e["module"] == module_id),
                ],
            }
        update["artifacts"] = {m: artifacts[m] for m in changed}
        update["interfaces"] = {m: interfaces[m] for m in changed}
        update["module_reports"] = {m: reports[m] for m in changed}
    rows = [
        {**r, "candidates": candidates[key]}
        if r.get("status") == "broken" and (key := (str(r.get("where")), str(r.get("reference")))) in candidates
        else r
        for r in rows
        if r.get("kind") != "near_miss"
    ]
    rows += _near_miss_rows(every)
    references = [r for r in rows if r.get("kind") == "reference"]
    report.update(
        consistency=rows,
        held=sum(1 for r in rows if r["status"] == "held"),
        broken_count=sum(1 for r in rows if r["status"] == "broken"),
        references={"total": len(references), "resolved": sum(1 for r in references if r["status"] == "held")},
        near_miss_edits=every,
    )
    update["integration_report"] = report
    if edits:
        contracts = report.get("contracts") or {}
        final = render_integrated(
            architecture,
            order,
            artifacts,
            state.get("shared_state") or {},
            contracts,
            report.get("notes") or "",
            rows,
            state.get("blocked") or {},
        )
        verdict = (state.get("final_result") or "").partition("\n## Verification\n")
        update["final_result"] = final + (verdict[1] + verdict[2] if verdict[1] else "")
        update["verification"] = {**(state.get("verification") or {}), "near_miss_edits": [*previous, *edits]}
    patched = cast(MatrioskaState, {**state, **update, "artifacts": artifacts} if edits else {**state, **update})
    if edits:
        patched["module_reports"] = reports
        patched["interfaces"] = {**(state.get("interfaces") or {}), **update["interfaces"]}
    return patched, update


def _near_miss_rows(edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The consistency rows of near misses fixed without the model (one per edit)."""
    rows, seen = [], set()
    for edit in edits:
        key = (edit["module"], edit["path"], edit["line"], edit["old"], edit["new"])
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "contract": f"near miss fixed without the model: {describe_edit(edit)}",
                "kind": "near_miss",
                "module": edit["module"],
                "reference": edit.get("reference", ""),
                "status": "held",
                "where": f"{edit['path']}:{edit['line']}",
                "old": edit["old"],
                "new": edit["new"],
                "rule": edit.get("rule", ""),
            }
        )
    return rows


def route_after_verify(state: MatrioskaState) -> Literal["executor", "__end__"]:
    """A fix round re-runs the queued modules; a settled verdict ends the run."""
    return "executor" if state.get("fix_queue") else "__end__"  # langgraph.graph.END
