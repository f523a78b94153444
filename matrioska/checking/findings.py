"""What is known of a project without running it, and counts in its verdict: cross-module
references that do not resolve, module files that fail their static checks, modules left
ungenerated (and those they block). Each is a failure of the module it concerns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..kinds.base import Failure
from .nearmiss import candidates_note

__all__ = ["StaticFindings", "reference_failures", "blocked_verdict", "with_blocked"]


@dataclass
class StaticFindings:
    """The consistency report's findings about the modules' files, before anything runs."""

    broken: dict[str, list[dict[str, Any]]]
    """Module id -> its broken cross-module references."""
    invalid: list[dict[str, Any]]
    """The rows of module files that still fail their static checks after the module's repairs."""

    @classmethod
    def of(cls, rows: list[dict[str, Any]], order: list[str]) -> StaticFindings:
        broken: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row.get("kind") == "reference" and row.get("status") == "broken" and row.get("module") in order:
                broken.setdefault(row["module"], []).append(row)
        invalid = [
            row
            for row in rows
            if row.get("status") == "broken"
            and str(row.get("contract", "")).endswith(" is valid")
            and row.get("where") in order
        ]
        return cls(broken, invalid)

    def applied(self, result: dict[str, Any]) -> dict[str, Any]:
        """The verdict with what is known without running: references that do not resolve, and
        files that fail their checks (a project whose file is only comments does not work, even
        when importing it raises nothing)."""
        result = self._with_references(result)
        if not self.invalid:
            return result
        first = self.invalid[0]
        what = f"{first['contract'].removesuffix(' is valid')}: {first.get('problem', '')}"
        reason = f"{len(self.invalid)} file(s) fail their checks ({what})"
        failures = [
            Failure(
                module=row["where"], command="static checks", evidence=f"{row['contract']}: {row.get('problem', '')}"
            )
            for row in self.invalid
        ]
        return {
            **_failing(result, reason, failures),
            "files_invalid": len(self.invalid),
        }

    def _with_references(self, result: dict[str, Any]) -> dict[str, Any]:
        """A verdict that also counts the references that do not resolve: they fail when run."""
        if not self.broken:
            return result
        count = sum(len(rows) for rows in self.broken.values())
        reason = f"{count} cross-module reference(s) do not resolve (see the consistency report)"
        failures = [_reference_failure(module_id, rows) for module_id, rows in self.broken.items()]
        return {**_failing(result, reason, failures), "references_broken": count}


def _failing(result: dict[str, Any], reason: str, failures: list[Failure]) -> dict[str, Any]:
    """The verdict made "does not work" by `failures` (its reason kept when it failed already)."""
    return {
        **result,
        "works": False,
        "reason": reason if result.get("works") is not False else result.get("reason"),
        "failures": [*result.get("failures", []), *(f.to_dict() for f in failures)],
        "notes": [*result.get("notes", []), reason],
    }


def reference_failures(broken: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One failure per module with broken references (as the verdict holds it)."""
    return [_reference_failure(module_id, rows).to_dict() for module_id, rows in broken.items()]


def _reference_failure(module_id: str, rows: list[dict[str, Any]]) -> Failure:
    """A module's broken references as one failure: each reference, why, and its near misses."""
    evidence = "\n".join(
        f"- {r['where']}: {r.get('reference', r['contract'])}: {r.get('problem', '')}"
        + candidates_note(r.get("candidates"))
        for r in rows
    )
    return Failure(module=module_id, command="cross-module reference check (before running)", evidence=evidence)


def blocked_verdict(blocked: dict[str, str], causes: dict[str, str]) -> str:
    """What the verdict says of modules left ungenerated ("" when none is): the modules that
    ended without files (`causes`: module -> why) and the modules they block (`blocked`: module
    -> why, `matrioska.nodes.routing.blocked_modules`)."""
    if not blocked:
        return ""
    lacks = "; ".join(f"{m!r} {cause}" for m, cause in causes.items()) or "a module lacks a part it declared"
    return f"{lacks}; blocked (not generated): {', '.join(blocked)}"


def with_blocked(result: dict[str, Any], blocked: dict[str, str], causes: dict[str, str]) -> dict[str, Any]:
    """A verdict over a project with modules left ungenerated does not work, and names them."""
    reason = blocked_verdict(blocked, causes)
    if not reason:
        return result
    failures = [
        Failure(module=m, command="generation", evidence=f"module {m!r} {cause}") for m, cause in causes.items()
    ]
    return {**_failing(result, reason, failures), "blocked": blocked, "blocked_reason": reason}
