"""The verdict: what the checks and the acceptance scenarios showed, held to evidence, and how it
is told (`verification.json`, the integrated result's "Verification" section, the consistency
report's `runs` rows).

The records (`Verdict`, `ScenarioRecord`, and `Check` / `Failure` of `matrioska.kinds.base`)
give the plain dicts the graph state and `verification.json` hold (`to_dict`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..kinds.base import Check, Failure
from .analysis import ANALYZERS
from .run import headline

__all__ = [
    "Verdict",
    "ScenarioRecord",
    "VERDICTS",
    "WORKS",
    "DOES_NOT_WORK",
    "NOT_CHECKED",
    "NOT_VERIFIED",
    "with_evidence",
    "not_run",
    "render_verdict",
    "report_with_runs",
    "summary",
    "evidence_text",
]

WORKS, DOES_NOT_WORK, NOT_CHECKED, NOT_VERIFIED = "works", "does not work", "runs, not checked", "not verified"
VERDICTS = (WORKS, DOES_NOT_WORK, NOT_CHECKED, NOT_VERIFIED)
_EVIDENCE_LIMIT = 6000  # characters of evidence a module's fix round is given


@dataclass
class ScenarioRecord:
    """One acceptance scenario's entry of the verdict (`verification.json` `acceptance`)."""

    name: str
    kind: str
    source: str
    scenario: str
    """The scenario in words (what the user asked for)."""
    ok: bool | None
    lacks: bool
    problems: list[str]
    output: str
    seconds: float
    commands: list[dict[str, Any]] | None = None
    steps: list[dict[str, Any]] | None = None
    modules: list[str] | None = None
    """The modules its failure went to (set once it failed)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "scenario": self.scenario,
            "ok": self.ok,
            "lacks": self.lacks,
            "problems": self.problems,
            "output": self.output,
            "seconds": self.seconds,
        }
        optional = {"commands": self.commands, "steps": self.steps}
        out.update({key: value for key, value in optional.items() if value})
        if self.modules is not None:
            out["modules"] = self.modules
        return out


@dataclass
class Verdict:
    """What `verify_project` found: `works` (None when nothing could be run, True only when every
    check and every scenario passed), the checks, the failures per module, notes, and the
    acceptance scenarios when any were given."""

    works: bool | None
    checks: list[Check]
    failures: list[Failure]
    notes: list[str]
    acceptance: list[ScenarioRecord] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "works": self.works,
            "checks": [check.to_dict() for check in self.checks],
            "failures": [failure.to_dict() for failure in self.failures],
            "notes": self.notes,
        }
        if self.acceptance is not None:
            out["acceptance"] = [scenario.to_dict() for scenario in self.acceptance]
            out["acceptance_seconds"] = round(sum(s.seconds for s in self.acceptance), 2)
        return out


def with_evidence(result: dict[str, Any]) -> dict[str, Any]:
    """The verdict held to evidence: `works` stays True only when at least one acceptance
    scenario (the user's or a generated one) passed and nothing failed. Checks that only show the
    project runs (it imports, `--help` prints a usage, tests that pass) without a passing scenario
    give "runs, not checked": `works` None, with the reason. Adds `verdict` (one of `VERDICTS`)
    and `evidence` (the scenarios that passed)."""
    scenarios = result.get("acceptance") or []
    passed = [s["name"] for s in scenarios if s.get("ok") is True]
    out = {**result, "evidence": passed}
    works = result.get("works")
    if works is True and not passed:
        if not scenarios:
            why = "no acceptance scenario was written or given (give your own: --acceptance FILE)"
        else:
            why = f"none of its {len(scenarios)} acceptance scenario(s) passed: inconclusive or not run"
        out["works"] = works = None
        out["reason"] = f"the project runs and every check passed, but nothing shows the task's behaviour ran: {why}"
    ran_ok = any(c.get("ok") is True and c.get("kind") != ANALYZERS for c in result.get("checks") or []) or any(
        s.get("ok") is not None for s in scenarios
    )
    if works is True:
        out["verdict"] = WORKS
    elif works is False:
        out["verdict"] = DOES_NOT_WORK
    else:
        out["verdict"] = NOT_CHECKED if ran_ok else NOT_VERIFIED
    return out


def not_run(reason: str, notes: list[str], rounds: int, history: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """The verdict of a project that was not run (verification off, no sandbox)."""
    return {
        "works": None,
        "reason": reason,
        "checks": [],
        "failures": [],
        "notes": notes,
        "rounds": rounds,
        "history": history,
        **more,
    }


# -- told --------------------------------------------------------------------------------------

_CHECK_STATUS = {True: "passed", False: "FAILED", None: "skipped"}
_SCENARIO_STATUS = {True: "passed", False: "FAILED", None: "not run"}


def render_verdict(result: dict[str, Any]) -> str:
    """The verdict as Markdown, for the integrated result."""
    works = result.get("works")
    said = {True: "**works**", False: "**does not work**", None: "**not verified**"}[works]
    if works is None and result.get("verdict") == NOT_CHECKED:
        said = "**runs, not checked**"
    lines = ["## Verification", "", f"Verdict: {said}" + (f" — {result['reason']}" if result.get("reason") else "")]
    lines.append(f"Fix rounds used: {result.get('rounds', 0)}")
    if result.get("references_broken"):
        lines.append(f"Cross-module references that do not resolve: {result['references_broken']}")
    if result.get("blocked_reason"):
        lines.append(f"Not generated: {result['blocked_reason']}")
    lines += _checks_table(result.get("checks") or [])
    scenarios = result.get("acceptance") or []
    lines += _scenarios_table(scenarios)
    lines += _failed_outputs(result.get("checks") or [], scenarios)
    return "\n".join(lines) + "\n"


def _checks_table(checks: list[dict[str, Any]]) -> list[str]:
    if not checks:
        return []
    lines = ["", "| check | command | result |", "|---|---|---|"]
    for check in checks:
        status = "inconclusive" if check.get("inconclusive") else _CHECK_STATUS[check["ok"]]
        lines.append(f"| {check['kind']} | `{check['command']}` | {status} |")
    return lines


def _scenarios_table(scenarios: list[dict[str, Any]]) -> list[str]:
    if not scenarios:
        return []
    passed = sum(1 for s in scenarios if s["ok"])
    lines = [
        "",
        f"Acceptance: {passed}/{len(scenarios)} scenarios passed",
        "",
        "| scenario | source | result |",
        "|---|---|---|",
    ]
    for scenario in scenarios:
        status = _SCENARIO_STATUS[scenario["ok"]]
        lines.append(f"| {scenario['name']} | {scenario.get('source', 'user')} | {status} |")
    return lines


def _failed_outputs(checks: list[dict[str, Any]], scenarios: list[dict[str, Any]]) -> list[str]:
    """The output of each failed check and scenario (its last 2000 characters)."""
    lines: list[str] = []
    for check in checks:
        if check["ok"] is False:
            lines += ["", f"### `{check['command']}`", "", "```", check["output"][-2000:], "```"]
    for scenario in scenarios:
        if scenario["ok"] is False:
            lines += ["", f"### acceptance: {scenario['name']}", "", scenario["scenario"], ""]
            lines += ["```", scenario["output"][-2000:], "```"]
    return lines


def report_with_runs(report: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The consistency report with one `runs` row per check and scenario that ran (held or
    broken, and the modules its failure went to), in place of the previous round's."""
    report = dict(report)
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
    return report


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """One round of the verdict's `history`: what failed and whose it was."""
    return {
        "round": result.get("rounds", 0),
        "works": result.get("works"),
        "failed": [c["command"] for c in result.get("checks") or [] if c.get("ok") is False]
        + [f"acceptance: {s['name']}" for s in result.get("acceptance") or [] if s.get("ok") is False],
        "modules": sorted({f["module"] for f in result.get("failures") or []}),
    }


def evidence_text(failures: list[dict[str, Any]]) -> str:
    """A module's failures as the evidence its fix round is given (each once, within a limit)."""
    parts = [f"$ {f['command']}\n{f['evidence']}" for f in failures]
    text = "\n\n".join(dict.fromkeys(parts))
    return text if len(text) <= _EVIDENCE_LIMIT else text[:_EVIDENCE_LIMIT] + "\n[... more output left out ...]"
