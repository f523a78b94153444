"""Assembler node: artifacts + shared_state -> the integrated result (phase 3).

Integration does not depend on one prompt holding every artifact: with a 7B model and
4000-token modules that prompt overflows and comes back empty. Instead the result is built
deterministically (artifacts in dependency order, the shared_state contracts checked key by
key), and the model is asked only for short integration notes from the plan and the shared
state, a prompt whose size does not grow with the artifacts. An empty or failed notes reply
leaves the result complete, with a note saying so.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from ..checking.interfaces import check_references, collisions, module_interface
from ..context import Context, resolve_llm
from ..generation.project import extract_files, generated_files, identifier_contracts, validate_file
from ..model.calls import call_structured, emit, render_value
from ..prompts import ASSEMBLER_SYSTEM_PROMPT, ASSEMBLER_USER_PROMPT
from ..state import Architecture, MatrioskaState
from .routing import blocked_modules

# Bounds of the notes prompt, whatever the plan's size.
_VALUE_LIMIT = 400
_SHARED_STATE_LIMIT = 6000
_MODULES_LIMIT = 4000


def check_contracts(architecture: Architecture, state: MatrioskaState) -> dict[str, dict[str, Any]]:
    """One row per shared-state key: declared writers, actual writer, readers, held or broken."""
    shared_state = state.get("shared_state") or {}
    writers = state.get("shared_state_writers") or {}
    rows: dict[str, dict[str, Any]] = {}
    for spec in architecture.modules:
        for key in spec.shared_state_writes:
            rows.setdefault(key, {"declared_writers": [], "readers": []})["declared_writers"].append(spec.id)
        for key in spec.shared_state_reads:
            rows.setdefault(key, {"declared_writers": [], "readers": []})["readers"].append(spec.id)
    for key, row in rows.items():
        value = shared_state.get(key)
        row["written_by"] = writers.get(key)
        row["present"] = value not in (None, "", [], {})
        row["status"] = "held" if row["present"] else "broken"
        if not row["present"]:
            row["problem"] = "no module published a value" if key not in shared_state else "published value is empty"
    return rows


def assembler(state: MatrioskaState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Produce `final_result` and `integration_report`."""
    architecture = Architecture.model_validate(state["architecture"])
    order = state.get("execution_order") or [m.id for m in architecture.modules]
    artifacts = state.get("artifacts") or {}
    blocked = blocked_modules(state)
    announced = state.get("blocked") or {}
    for module_id, reason in blocked.items():  # once per run (a fix round assembles again)
        if announced.get(module_id) != reason:
            emit(runtime, "module_blocked", module=module_id, reason=reason)
    emit(runtime, "phase", phase="assembly", modules=len(order))
    contracts = check_contracts(architecture, state)
    files = {
        module_id: extract_files(artifacts.get(module_id) or "", module_id, architecture.module(module_id).files)
        for module_id in order
    }
    generated = generated_files(architecture, order, [f for module_id in order for f in files[module_id]])
    consistency = consistency_rows(architecture, order, state, contracts, files, generated)
    references = [row for row in consistency if row.get("kind") == "reference"]
    context = runtime.context or Context()
    notes = ""
    earlier = state.get("integration_report") or {}
    if state.get("verification") and "notes" in earlier:
        notes = earlier["notes"]  # a fix round: the plan and its contracts did not change
    elif context.assembler_notes:
        notes = call_structured(
            resolve_llm(context, "assembler"), None, _notes_messages(architecture, order, state), runtime
        )
    final = render_integrated(
        architecture, order, artifacts, state.get("shared_state") or {}, contracts, notes, consistency, blocked
    )
    broken = sorted(key for key, row in contracts.items() if row["status"] == "broken")
    emit(
        runtime,
        "assembled",
        chars=len(final),
        artifacts=len(artifacts),
        broken_contracts=broken,
        consistency=consistency,
        files=sum(len(v) for v in files.values()) + len(generated),
    )
    return {
        "blocked": blocked,
        "final_result": final,
        "generated_files": generated,
        "integration_report": {
            "contracts": contracts,
            "broken": broken,
            "consistency": consistency,
            "held": sum(1 for row in consistency if row["status"] == "held"),
            "broken_count": sum(1 for row in consistency if row["status"] == "broken"),
            "references": {"total": len(references), "resolved": sum(1 for r in references if r["status"] == "held")},
            "notes_empty": context.assembler_notes and not notes,
            "notes": notes,
        },
    }


def consistency_rows(
    architecture: Architecture,
    order: list[str],
    state: MatrioskaState,
    contracts: dict[str, dict[str, Any]],
    files: dict[str, list[Any]],
    generated: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The consistency report: one row per contract (held or broken, and where), the
    cross-module references among them (`kind: "reference"`)."""
    position = {module_id: i for i, module_id in enumerate(order)}
    writers = state.get("shared_state_writers") or {}
    rows: list[dict[str, Any]] = []
    for key, row in contracts.items():
        where = row["written_by"] or ", ".join(row["declared_writers"]) or "-"
        rows.append(
            {
                "contract": f"key {key!r} published, non-empty",
                "key": key,
                "status": row["status"],
                "where": where,
                **({"problem": row["problem"]} if "problem" in row else {}),
            }
        )
        writer = row["written_by"]
        for reader in row["readers"]:
            ran_before = writer is not None and position.get(writer, len(order)) < position.get(reader, -1)
            rows.append(
                {
                    "contract": f"key {key!r} written before {reader!r} reads it",
                    "key": key,
                    "status": "held" if ran_before else "broken",
                    "where": f"{writer or '-'} -> {reader}",
                }
            )
    rows += identifier_contracts(architecture, state.get("shared_state") or {}, writers, files)
    rows += reference_rows(architecture, order, files, state.get("module_reports") or {}, generated or {})
    reports = state.get("module_reports") or {}
    for module_id in order:
        # The executor validated these very files; re-check only what it did not report.
        checked = {c["path"]: c["problems"] for c in (reports.get(module_id) or {}).get("files") or []}
        for f in files[module_id]:
            problems = checked[f.path] if f.path in checked else validate_file(f.path, f.content)
            rows.append(
                {
                    "contract": f"{f.path} is valid",
                    "status": "broken" if problems else "held",
                    "where": module_id,
                    **({"problem": "; ".join(problems)} if problems else {}),
                }
            )
    return rows


def reference_rows(
    architecture: Architecture,
    order: list[str],
    files: dict[str, list[Any]],
    reports: dict[str, dict[str, Any]],
    generated: dict[str, str],
) -> list[dict[str, Any]]:
    """Every module's references into the others, resolved against interfaces extracted from the
    files as they are now (valid files only), the names two modules both define, and a
    dependency on a module that produced no file."""
    valid: dict[str, list[Any]] = {}
    for module_id in order:
        bad = {c["path"] for c in (reports.get(module_id) or {}).get("files") or [] if not c.get("valid", True)}
        valid[module_id] = [f for f in files[module_id] if f.path not in bad]
    faces = {module_id: module_interface(module_id, valid[module_id]) for module_id in order}
    rows: list[dict[str, Any]] = []
    for position, module_id in enumerate(order):
        rows += check_references(module_id, valid[module_id], faces, generated=generated, before=order[:position])
        for dependency in architecture.module(module_id).dependencies:
            if dependency in files and not files[dependency]:
                rows.append(
                    {
                        "contract": f"module {dependency!r}, which {module_id!r} depends on, has files",
                        "kind": "dependency",
                        "module": dependency,
                        "target": dependency,
                        "status": "broken",
                        "where": module_id,
                        "problem": f"module {dependency!r} produced no files: {module_id!r} has nothing of it to use",
                    }
                )
    return rows + collisions(faces, order)


def _notes_messages(architecture: Architecture, order: list[str], state: MatrioskaState) -> list[Any]:
    lines = []
    for index, module_id in enumerate(order, 1):
        spec = architecture.module(module_id)
        lines.append(
            f"{index}. {spec.label} [{spec.id}]: {spec.description[:160]} "
            f"(reads {spec.shared_state_reads}, writes {spec.shared_state_writes})"
        )
    modules = "\n".join(lines)
    if len(modules) > _MODULES_LIMIT:
        modules = modules[:_MODULES_LIMIT] + f"\n... [{len(order)} modules in all; list truncated]"
    shared = "\n".join(
        f"{key} = {render_value(value, _VALUE_LIMIT)}" for key, value in (state.get("shared_state") or {}).items()
    )
    if len(shared) > _SHARED_STATE_LIMIT:
        shared = shared[:_SHARED_STATE_LIMIT] + "\n... [shared_state truncated for this prompt]"
    user = ASSEMBLER_USER_PROMPT.format(
        project_name=architecture.project_name,
        goal=architecture.goal or "(not stated)",
        integration_rules=architecture.integration_rules or "(none)",
        modules=modules,
        shared_state=shared or "(empty)",
    )
    return [SystemMessage(ASSEMBLER_SYSTEM_PROMPT), HumanMessage(user)]


def render_integrated(
    architecture: Architecture,
    order: list[str],
    artifacts: dict[str, str],
    shared_state: dict[str, Any],
    contracts: dict[str, dict[str, Any]],
    notes: str,
    consistency: list[dict[str, Any]],
    blocked: dict[str, str] | None = None,
) -> str:
    out = [f"# {architecture.project_name}", "", architecture.goal, ""]
    if architecture.integration_rules:
        out += ["## Integration rules", "", architecture.integration_rules, ""]
    out += ["## Integration notes", "", notes or "(the model returned no integration notes)", ""]
    out += ["## Shared-state contracts", "", "| key | written by | read by | status |", "|---|---|---|---|"]
    for key, row in contracts.items():
        out.append(
            f"| {key} | {row['written_by'] or ', '.join(row['declared_writers']) or '-'} "
            f"| {', '.join(row['readers']) or '-'} | {row['status']} |"
        )
    broken = [row for row in consistency if row["status"] == "broken"]
    out += ["", "## Consistency", "", f"{len(consistency) - len(broken)} contracts held, {len(broken)} broken.", ""]
    if broken:
        out += ["| contract | where | problem |", "|---|---|---|"]
        out += [f"| {row['contract']} | {row['where']} | {row.get('problem', '')} |" for row in broken]
    out += ["", "## Modules", ""]
    for index, module_id in enumerate(order, 1):
        spec = architecture.module(module_id)
        out += [f"### {index}. {spec.label} (`{spec.id}`)", ""]
        reason = (blocked or {}).get(module_id)
        out += [artifacts.get(module_id) or (f"(not generated: {reason})" if reason else "(no artifact)"), ""]
    out += ["## Shared state", "", "```json", render_value(shared_state, indent=2), "```", ""]
    return "\n".join(out)
