"""One module's prompt: the hyperfocus prompt, and the follow-ups of a repair and a fix round.

The module's prompt holds the project goal, its own spec and manual, and only the shared_state
keys it declares it reads: never another module's artifact; the interfaces of the modules it
depends on, and the acceptance scenarios that exercise its files. With a token budget, what it
reads and the interfaces are shortened, largest first, until it fits. A repair follow-up adds
the answer's tail and what is wrong with it; a fix round adds the failure, the interfaces of the
other modules it names and the module's own current files. Both add the analyzers' findings in
the files the module may change (`path:line code message`, issue 34), an undefined name with the
module that defines it or its close candidates, those the failure or the problems do not already
show, at most `fixes.FINDING_LINES` of them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from .. import kinds
from ..kinds.analyzers import analyze
from ..model.budget import TokenCounter
from ..model.calls import render_value
from ..plan.acceptance import for_module, render_for_module
from ..prompts import (
    EXECUTOR_REPAIR_PROMPT,
    EXECUTOR_RUNTIME_FIX_PROMPT,
    EXECUTOR_SYSTEM_PROMPT,
    EXECUTOR_USER_PROMPT,
)
from ..state import Architecture, ModuleSpec
from .fixes import definitions, files_to_fix, finding_hint, finding_lines, interface_entries, page_globals
from .project import ProjectFile
from .readings import Readings

__all__ = ["VALUE_LIMIT", "build_module_messages", "prompt_text", "fix_messages", "repair_messages", "findings_text"]

# Without a token budget (none is known), a single shared-state value is still capped.
VALUE_LIMIT = 6000
# Hints for findings a fix prompt already shows (the module that defines a name, close names), at most.
FINDING_HINTS = 8
# Characters of findings a fix or repair prompt adds, at most (about 500 tokens).
FINDINGS_CHARS = 1600
# Shrinking rounds before giving up on fitting a prompt (each halves the overflow or better).
_MAX_SHRINK_ROUNDS = 40


def build_module_messages(
    architecture: Architecture,
    spec: ModuleSpec,
    shared_state: dict[str, Any],
    *,
    counter: TokenCounter | None = None,
    budget: int | None = None,
    interfaces: dict[str, dict[str, Any]] | None = None,
    acceptance: list[dict[str, Any]] | None = None,
    readings: Readings | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The hyperfocus prompt of one module (goal, own spec and manual, declared reads only, the
    interfaces of the modules it depends on), and a report of its size.

    With a token `counter` and `budget`, the shared-state values it reads and the interfaces are
    shortened, largest first, until the whole prompt fits: each shortened value stays valid JSON
    and says what it left out, an interface keeps its first lines per file; the report names
    what was shortened. `acceptance`: the run's scenarios; those that exercise the module's
    files are in its prompt as what must hold. `readings` render the interfaces (the checking
    wing's, handed in by the node); a prompt given a built dependency's interface needs them.
    """
    scenarios = render_for_module(for_module(acceptance or [], architecture.modules, spec.id))
    reads = {key: shared_state[key] for key in spec.shared_state_reads if key in shared_state}
    absent = [key for key in spec.shared_state_reads if key not in shared_state]
    # Start every value at a length no prompt within the budget could hold anyway (no tokenizer
    # averages 8 characters a token), so counting never tokenizes megabytes.
    cap = VALUE_LIMIT if budget is None else budget * 8
    rendered = {key: render_value(value) for key, value in reads.items()}
    limits: dict[str, int] = {key: cap for key, text in rendered.items() if len(text) > cap}
    for key, limit in limits.items():
        rendered[key] = render_value(reads[key], limit)
    # The interfaces of its direct dependencies, each under its own budget to start with.
    dependencies = {m: (interfaces or {}).get(m) for m in spec.dependencies}
    face_chars = readings.interface_chars if readings is not None else 0
    faces = {m: _interface_text(m, face, face_chars, readings) for m, face in dependencies.items()}
    face_limits: dict[str, int] = {}

    def shrink(name: str, over_chars: int) -> None:
        if name in rendered:
            limits[name] = max(48, min(len(rendered[name]) - over_chars, len(rendered[name]) // 2 + 1))
            rendered[name] = render_value(reads[name], limits[name])  # only the value that changed
        else:
            module = name.removeprefix("interface:")
            face_limits[module] = max(120, min(len(faces[module]) - over_chars, len(faces[module]) // 2 + 1))
            faces[module] = _interface_text(module, dependencies[module], face_limits[module], readings)

    messages: list[Any] = []
    report: dict[str, Any] = {}
    for _ in range(_MAX_SHRINK_ROUNDS):
        messages = _module_messages(architecture, spec, rendered, absent, faces, scenarios)
        if counter is None or budget is None:
            return messages, {}
        used = counter.messages(messages)
        report = {
            "prompt_tokens": used,
            "prompt_budget": budget,
            "shortened_keys": sorted(limits),
            "interface_tokens": counter.text("\n".join(faces.values())) if faces else 0,
            **({"shortened_interfaces": sorted(face_limits)} if face_limits else {}),
        }
        if used <= budget:
            return messages, report
        chars = sum(len(str(m.content)) for m in messages)
        over_chars = math.ceil((used - budget) * chars / max(used, 1)) + 16
        sizes = {key: len(text) for key, text in rendered.items() if len(text) > 64}
        sizes.update({f"interface:{m}": len(text) for m, text in faces.items() if len(text) > 160})
        if not sizes:
            break
        shrink(max(sizes, key=lambda k: sizes[k]), over_chars)
    return messages, {**report, "over_budget": True}


def _kind_guide(spec: ModuleSpec) -> str:
    """The guidance of the module's kind, as a line under its manual ("" when it has none)."""
    installed = kinds.kind_named(spec.kind) if spec.kind else None
    guide = str(getattr(installed.kind, "guide", "") or "").strip() if installed else ""
    return f"\nKIND {spec.kind}: {guide[:600]}" if guide else ""


def _interface_text(module_id: str, interface: dict[str, Any] | None, limit: int, readings: Readings | None) -> str:
    """A dependency's interface as its section of the prompt (within `limit` characters)."""
    if interface is None:
        return f"module {module_id}: (not built yet: nothing of it to use)"
    if readings is None:
        raise ValueError(f"the interface of module {module_id!r} needs the readings that render it")
    return f"module {module_id}:\n{readings.render(interface, limit)}"


def _module_messages(
    architecture: Architecture,
    spec: ModuleSpec,
    rendered: dict[str, str],
    absent: list[str],
    faces: dict[str, str],
    acceptance: str = "",
) -> list[Any]:
    """The system prompt and the module's task, its reads and interfaces already rendered."""
    if spec.shared_state_reads:
        shared_context = "\n".join(f"{key} = {text}" for key, text in rendered.items())
        if absent:
            shared_context += f"\n(not published by their writers: {', '.join(absent)})"
    else:
        shared_context = "(none: this module reads no shared_state keys)"
    user = EXECUTOR_USER_PROMPT.format(
        goal=architecture.goal or "(not stated)",
        name=spec.label,
        module_id=spec.id,
        description=spec.description or "(none)",
        inputs=spec.inputs or "(none)",
        outputs=spec.outputs or "(none)",
        rules=spec.rules or "(none)",
        manual=spec.manual or "(no specific manual)",
        kind_guide=_kind_guide(spec),
        acceptance=acceptance,
        shared_context=shared_context.strip(),
        interfaces="\n\n".join(faces.values()) or "(none: this module depends on no other module)",
        writes=", ".join(spec.shared_state_writes) or "(none: publish an empty object {})",
        files=(
            ", ".join(spec.files) + " (exactly these: each in its own fenced block, its path on the line before)"
            if spec.files
            else "(name them yourself: one fenced block per file, its path on the line before)"
        ),
    )
    return [SystemMessage(EXECUTOR_SYSTEM_PROMPT), HumanMessage(user)]


def prompt_text(messages: list[Any]) -> str:
    """The prompt as one text: what an echo of it would repeat (not the module's own files)."""
    return "\n".join(str(m.content) for m in messages)


def fix_messages(
    messages: list[Any],
    evidence: str,
    spec: ModuleSpec,
    interfaces: dict[str, dict[str, Any]],
    own: list[ProjectFile],
    readings: Readings,
) -> list[Any]:
    """A fix round's prompt: the same hyperfocus prompt, then the failure, the interfaces of the
    other modules it names, and this module's own current files (never another module's code)."""
    pointed = _pointed_interfaces(evidence, spec, interfaces, readings)
    may = files_to_fix(spec, evidence)
    found = findings_text([f for f in own if may is None or f.path in may], spec.id, interfaces, shown=evidence)
    if found:
        pointed += f"\nANALYZER FINDINGS IN THE FILES YOU MAY CHANGE (path:line code message):\n{found}\n"
    fix = EXECUTOR_RUNTIME_FIX_PROMPT.format(evidence=evidence, interfaces=pointed, files=_render_files(own))
    return [*messages, HumanMessage(fix)]


def repair_messages(
    messages: list[Any],
    answer: str,
    problems: list[str],
    *,
    files: list[ProjectFile] | None = None,
    interfaces: dict[str, dict[str, Any]] | None = None,
    module_id: str | None = None,
) -> list[Any]:
    """A repair's prompt: the same hyperfocus prompt, the answer, and what is wrong with it
    (with `files`, the answer's files: the analyzers' findings in them the problems lack)."""
    listed = "\n".join(f"- {p}" for p in problems[:20])
    if files:
        found = findings_text(files, module_id, interfaces or {}, shown=listed)
        listed += "".join(f"\n- {line}" for line in found.splitlines())
    return [*messages, AIMessage(_tail(answer)), HumanMessage(EXECUTOR_REPAIR_PROMPT.format(problems=listed))]


def findings_text(
    files: list[ProjectFile], module_id: str | None, interfaces: dict[str, dict[str, Any]], *, shown: str = ""
) -> str:
    """ruff's and oxlint's findings in `files` (the other modules' scripts' names as globals), one
    line each: those `shown` lacks (`path:line code message` and a hint), then hints for those
    it holds without one ("" when there is nothing to add)."""
    texts = {f.path: f.content for f in files}
    others = {m: face for m, face in interfaces.items() if m != module_id}
    defined = definitions(interface_entries(others))
    mine = definitions((module_id or "", e) for f in files if (e := _entry(f.path, f.content)) is not None)
    for name, where in mine.items():
        defined.setdefault(name, []).extend(where)
    analysis = analyze(texts, globals_=page_globals(others, texts))
    lines = finding_lines(analysis.findings, texts, defined, module_id, shown=shown)
    hinted = [
        f"{f.render()}{hint}"
        for f in analysis.errors
        if f.render() in shown
        and (hint := finding_hint(f, defined, module_id, texts.get(f.path, "")))
        and f"{f.render()}{hint}" not in shown
    ]
    kept: list[str] = []
    for line in [*lines, *hinted[:FINDING_HINTS]]:
        if sum(len(k) + 1 for k in kept) + len(line) > FINDINGS_CHARS:
            kept.append("[... more findings left out ...]")
            break
        kept.append(line)
    return "\n".join(kept)


def _entry(path: str, text: str) -> dict[str, Any] | None:
    """A file's interface entry for the names it defines (None when it does not parse)."""
    try:
        return kinds.interface(path, text)
    except (RecursionError, SyntaxError, ValueError):
        return None


def _render_files(files: list[Any], limit: int = 8000) -> str:
    """A module's own files for its fix prompt, each in a fenced block (bounded)."""
    if not files:
        return "(you wrote no files)"
    text = "\n\n".join(f"{f.path}\n```\n{f.content}\n```" for f in files)
    return text if len(text) <= limit else text[:limit] + "\n[... your files are longer; the rest left out ...]"


def _pointed_interfaces(
    evidence: str, spec: ModuleSpec, interfaces: dict[str, dict[str, Any]], readings: Readings
) -> str:
    """The interfaces of the other modules a failure names (a file path or a Python module of
    theirs) and that the module's prompt does not already carry, as a prompt section."""
    named = []
    for module_id, face in interfaces.items():
        if module_id == spec.id or module_id in spec.dependencies:
            continue
        names = [e["path"] for e in face.get("files") or []]
        names += [i for e in face.get("files") or [] for i in (e.get("imports") or [])[:1]]
        if any(re.search(rf"(?<![\w/.]){re.escape(n)}(?![\w])", evidence) for n in names if n):
            named.append(f"module {module_id}:\n{readings.render(face, readings.interface_chars // 2)}")
    if not named:
        return ""
    return "\nINTERFACES OF THE OTHER MODULES IT NAMES (use exactly these names):\n" + "\n\n".join(named) + "\n"


def _tail(text: str, limit: int = 4000) -> str:
    """The end of an earlier answer, echoed in a follow-up (bounded)."""
    return (text[-limit:] if len(text) > limit else text) or "(empty reply)"
