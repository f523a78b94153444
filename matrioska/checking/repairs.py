"""The near-miss pass of the verify step: before the references decide a fix round, each module's
references that miss by exactly one close name (and its selectors naming no class or id that
exists, one close one away) are edited in place in its files (`matrioska.checking.nearmiss`),
without the model; then what the analyzers' findings fix without the model (an import added,
a local renamed, a script tag made a module: `analysis.fixes_without_model`, records with
`source: "analyzer"` among the edits); then the consistency report, the interfaces and the
module reports are brought up to date. Every near-miss edit and every fix of the run (the
executor's too) is a row of the consistency report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..generation.project import extract_files
from ..model.grammar import render_files
from ..state import Architecture, MatrioskaState
from .analysis import fixes_without_model
from .interfaces import module_interface
from .nearmiss import apply_near_misses, describe_edit

__all__ = ["NearMissPass", "near_miss_pass", "consistency_after", "report_after", "near_miss_rows"]

FIXED = "analyzer"
"""The `source` of an edit that is a fix the analyzers' findings made (not a near miss)."""

_WEB = (".css", ".js", ".mjs", ".cjs", ".html", ".htm")


@dataclass
class NearMissPass:
    """What the pass over every module's files found and did (`files`, `faces`, `artifacts` as
    they are after its edits)."""

    architecture: Architecture
    order: list[str]
    files: dict[str, list[Any]]
    """Module id -> its files (extracted from its artifact)."""
    valid: dict[str, list[Any]]
    """Module id -> its files that pass their static checks."""
    faces: dict[str, dict[str, Any]]
    """Module id -> its interface, from its valid files."""
    artifacts: dict[str, str]
    reports: dict[str, dict[str, Any]]
    interfaces: dict[str, Any]
    """The interfaces as the state holds them (with their problems)."""
    generated: dict[str, str]
    edits: list[dict[str, Any]] = field(default_factory=list)
    """This pass's edits."""
    candidates: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(where, reference) -> the close names a broken reference may have meant."""
    every: list[dict[str, Any]] = field(default_factory=list)
    """Every near-miss edit of the run: the executor's, the earlier passes', this one's."""

    def changed(self) -> dict[str, Any]:
        """The state's update for the modules this pass edited: their artifacts, interfaces
        (problems kept) and module reports (the edits added)."""
        interfaces: dict[str, Any] = {}
        changed = sorted({e["module"] for e in self.edits})
        for module_id in changed:
            face = self.interfaces.get(module_id) or {}
            interfaces[module_id] = {**face, **self.faces[module_id], "problems": face.get("problems", [])}
            report = dict(self.reports.get(module_id) or {})
            mine = [e for e in self.edits if e["module"] == module_id and e.get("source") != FIXED]
            fixed = [_fix_of(e) for e in self.edits if e["module"] == module_id and e.get("source") == FIXED]
            if mine:
                report["near_miss_edits"] = [*(report.get("near_miss_edits") or []), *mine]
            if fixed:  # beside the fixes its own attempt had (`analyzer_fixes`, the judge's)
                report["analyzer_fixes"] = [*(report.get("analyzer_fixes") or []), *fixed]
            self.reports[module_id] = report
        return {
            "artifacts": {m: self.artifacts[m] for m in changed},
            "interfaces": interfaces,
            "module_reports": {m: self.reports[m] for m in changed},
        }


def near_miss_pass(state: MatrioskaState, on_edit: Callable[[dict[str, Any]], None]) -> NearMissPass | None:
    """Every module's near misses repaired in its files (`on_edit` told of each edit); None
    when there is nothing to look at (no plan, no consistency report yet)."""
    order = state.get("execution_order") or []
    rows = list((state.get("integration_report") or {}).get("consistency") or [])
    if not order or not rows or not state.get("architecture"):
        return None
    architecture = Architecture.model_validate(state["architecture"])
    artifacts = dict(state.get("artifacts") or {})
    reports = dict(state.get("module_reports") or {})
    known = {m.id for m in architecture.modules}
    files = {m: extract_files(artifacts.get(m) or "", m, architecture.module(m).files) for m in order if m in known}
    bad = {m: {c["path"] for c in (reports.get(m) or {}).get("files") or [] if not c.get("valid", True)} for m in files}
    valid = {m: [f for f in files[m] if f.path not in bad[m]] for m in files}
    found = NearMissPass(
        architecture,
        order,
        files,
        valid,
        {m: module_interface(m, valid[m]) for m in files},
        artifacts,
        reports,
        dict(state.get("interfaces") or {}),
        state.get("generated_files") or {},
    )
    pages = any(f.path.endswith((".html", ".htm")) for fs in files.values() for f in fs)
    for position, module_id in enumerate(m for m in order if m in files):
        mine = [r for r in rows if r.get("kind") == "reference" and r.get("module") == module_id]
        broken = any(r.get("status") == "broken" for r in mine)
        if broken or (pages and any(f.path.endswith(_WEB) for f in valid[module_id])):
            _repair_module(found, module_id, position, mine, on_edit)
    _analyzer_fixes(found, on_edit)
    previous = list((state.get("verification") or {}).get("near_miss_edits") or [])
    executor = [e for m in order for e in (reports.get(m) or {}).get("near_miss_edits") or []]
    executor += [  # what the analyzers fixed in the modules' own attempts (their judge's fixes)
        {**fix, "module": m, "source": FIXED}
        for m in order
        for fix in (reports.get(m) or {}).get("analyzer_fixes") or []
    ]
    found.every = [*executor, *previous, *found.edits]
    return found


def _repair_module(
    found: NearMissPass, module_id: str, position: int, rows: list[dict[str, Any]], on_edit: Callable[..., None]
) -> None:
    """One module's near misses repaired; its files, interface and artifact replaced when edited."""
    near = apply_near_misses(
        module_id,
        found.files[module_id],
        rows,
        found.faces,
        valid=found.valid[module_id],
        generated=found.generated,
        before=found.order[:position],
        project=[f for m, fs in found.files.items() if m != module_id for f in fs],
    )
    found.candidates.update(near.candidates)
    if not near.edits:
        return
    paths = {f.path for f in found.valid[module_id]}
    found.files[module_id] = near.files
    found.valid[module_id] = [f for f in near.files if f.path in paths]
    found.faces[module_id] = module_interface(module_id, found.valid[module_id])
    found.artifacts[module_id] = render_files(near.files)
    found.edits += near.edits
    for edit in near.edits:
        on_edit(edit)


def _analyzer_fixes(found: NearMissPass, on_edit: Callable[..., None]) -> None:
    """What the analyzers' findings over the whole project fix without the model, in the modules'
    files (their files, interfaces and artifacts replaced); each fix an edit, `on_edit` told."""
    owners = {f.path: m for m, fs in found.files.items() for f in fs}
    files = {**found.generated, **{f.path: f.content for fs in found.files.values() for f in fs}}
    fixed, records = fixes_without_model(files, owners)
    for module_id in dict.fromkeys(r["module"] for r in records):
        mine = [replace(f, content=fixed[f.path]) for f in found.files[module_id]]
        paths = {f.path for f in found.valid[module_id]}
        found.files[module_id] = mine
        found.valid[module_id] = [f for f in mine if f.path in paths]
        found.faces[module_id] = module_interface(module_id, found.valid[module_id])
        found.artifacts[module_id] = render_files(mine)
    found.edits += records
    for record in records:
        on_edit(record)


def consistency_after(
    rows: list[dict[str, Any]],
    references: list[dict[str, Any]] | None,
    candidates: dict[tuple[str, str], list[str]],
    every: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The consistency rows after the pass: the references checked again (`references`, when
    anything was edited), each broken one with the close names it may have meant, and one row
    per near-miss edit of the run."""
    if references is not None:
        rows = [r for r in rows if r.get("kind") not in ("reference", "dependency")] + references
    rows = [
        {**r, "candidates": candidates[key]}
        if r.get("status") == "broken" and (key := (str(r.get("where")), str(r.get("reference")))) in candidates
        else r
        for r in rows
        if r.get("kind") not in ("near_miss", "analyzer_fix")
    ]
    return rows + near_miss_rows(every)


def report_after(report: dict[str, Any], rows: list[dict[str, Any]], every: list[dict[str, Any]]) -> dict[str, Any]:
    """The integration report with the rows after the pass, its counts and the run's edits."""
    references = [r for r in rows if r.get("kind") == "reference"]
    report = dict(report)
    report.update(
        consistency=rows,
        held=sum(1 for r in rows if r["status"] == "held"),
        broken_count=sum(1 for r in rows if r["status"] == "broken"),
        references={"total": len(references), "resolved": sum(1 for r in references if r["status"] == "held")},
        near_miss_edits=every,
    )
    return report


def near_miss_rows(edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The consistency rows of near misses and findings fixed without the model (one per edit)."""
    rows, seen = [], set()
    for edit in edits:
        if edit.get("source") == FIXED:
            key = (edit["module"], edit["path"], edit["line"], edit["description"], "")
            if key not in seen:
                seen.add(key)
                rows.append(_fix_row(edit))
            continue
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


def _fix_of(record: dict[str, Any]) -> dict[str, Any]:
    """A fix record as a module report keeps it (`analyzers.Fix.to_dict`: no module, no source)."""
    return {k: v for k, v in record.items() if k not in ("module", "source")}


def _fix_row(fix: dict[str, Any]) -> dict[str, Any]:
    """The consistency row of one fix the analyzers' findings made without the model."""
    return {
        "contract": f"fixed without the model: {describe_edit(fix)}",
        "kind": "analyzer_fix",
        "module": fix["module"],
        "status": "held",
        "where": f"{fix['path']}:{fix['line']}",
        "description": fix["description"],
        "rule": fix.get("rule", ""),
    }
