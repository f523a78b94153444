"""Model text -> validated plan or shared-state update.

Local 7B models wrap JSON in prose and fences, break it (trailing commas, single quotes,
comments, code expressions as values, truncated tails) and slip on types. This module finds the
JSON object in a reply, repairs it (plain `json` first, `json_repair` where that fails),
normalises the two plan shapes the architect may use (the seed's `general_manual` /
`specific_manuals` and a flat one), and validates the plan as a whole: duplicate ids, unknown
dependencies, self-dependencies, cycles, keys read that nobody writes. What has one obvious fix
is repaired and reported; the rest raises `PlanError` with every problem listed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError

from ..errors import PlanError
from ..model.grammar import UPDATE_MARKER
from ..state import MODULE_LIST_FIELDS, MODULE_TEXT_FIELDS, Architecture, ModuleSpec

__all__ = [
    "JSONExtractionError",
    "extract_json_object",
    "parse_architecture",
    "validate_architecture",
    "execution_order",
    "ModuleReply",
    "parse_module_reply",
    "UPDATE_MARKER",
    "safe_relpath",
]

MAX_MODULES = 500
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


class JSONExtractionError(ValueError):
    """No JSON object could be found or repaired in a reply."""


def safe_relpath(raw: str) -> str | None:
    """A path relative to the project folder, or None when nothing usable is left."""
    text = raw.replace("\\", "/").replace("\x00", "").strip().strip("`*\"'")
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )  # relatório -> relatorio
    text = re.sub(r"^[A-Za-z]:", "", text)  # drive letters
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".", "..", "/")]
    parts = [re.sub(r"[^A-Za-z0-9_.@+-]", "_", p).lstrip(".")[:80] for p in parts]
    parts = [p for p in parts if p]
    return "/".join(parts[-8:]) if parts else None


def literal_end(text: str, start: int, opening: str = "{", closing: str = "}", quotes: str = "\"'") -> int:
    """The end (exclusive) of the bracketed literal that opens at `start`, skipping brackets
    inside strings (`quotes`, backslash escapes); -1 when it is never closed."""
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in quotes:
            quote = ch
        elif ch in opening:
            depth += 1
        elif ch in closing:
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _balanced_spans(text: str) -> list[str]:
    """Top-level `{...}` spans, string-aware, in one pass; an unclosed tail span is kept too."""
    spans: list[str] = []
    start = text.find("{")
    while start >= 0:
        end = literal_end(text, start)
        if end < 0:
            spans.append(text[start:])  # truncated reply: let the repairer close it
            break
        spans.append(text[start:end])
        start = text.find("{", end)
    return spans


def loads_object(candidate: str) -> tuple[dict[str, Any] | None, bool]:
    """Parse a candidate as a JSON object: (object, repaired?) or (None, False)."""
    try:
        value = json.loads(candidate)
        if isinstance(value, dict):
            return value, False
    except (ValueError, RecursionError):
        pass
    try:
        from json_repair import repair_json

        value = repair_json(candidate, return_objects=True)
    except Exception:  # json_repair is best effort; any failure means "not repairable"
        return None, False
    if isinstance(value, list):  # the repairer splits "object + trailing prose" into a list
        value = next((v for v in value if isinstance(v, dict)), None)
    if isinstance(value, dict) and value:
        return value, True
    return None, False


def extract_json_object(text: str) -> tuple[dict[str, Any], list[str]]:
    """The JSON object in a model reply, and notes on what had to be repaired.

    Fenced blocks are tried first, then top-level brace spans (largest first). Raises
    `JSONExtractionError` when the reply is empty or holds no object that can be repaired.
    """
    if not text or not text.strip():
        raise JSONExtractionError("the reply is empty (the model returned no text)")
    candidates: list[tuple[str, str]] = []
    for match in _FENCE.finditer(text):
        body = match.group(2).strip()
        if "{" in body:
            candidates.append(("code fence", body[body.index("{") :]))
    spans = sorted(_balanced_spans(text), key=len, reverse=True)
    candidates.extend(("prose around it" if span.strip() != text.strip() else "", span) for span in spans[:5])
    for where, candidate in candidates:
        obj, repaired = loads_object(candidate)
        if obj is not None:
            notes = []
            if where:
                notes.append(f"JSON extracted from {where}")
            if repaired:
                notes.append("malformed JSON repaired (syntax, quotes, commas, comments or truncation)")
            return obj, notes
    snippet = text.strip()[:120].replace("\n", " ")
    raise JSONExtractionError(f"no JSON object found in the reply (it starts: {snippet!r})")


# ---------------------------------------------------------------------------------------------
# Plans


def _slug(text: str) -> str:
    from .shapes import ascii_identifier

    return ascii_identifier(text)


def _ascii_names(module: dict[str, Any], label: Any, notes: list[str]) -> None:
    """Ids and shared-state keys stay ASCII identifiers, whatever the task's language."""
    raw = str(module.get("id", "")).strip()
    if raw and not raw.isascii():
        module["id"] = _slug(raw)
        notes.append(f"module id {raw!r} written as {module['id']!r}")
    for field_name in ("shared_state_reads", "shared_state_writes"):
        values = module.get(field_name)
        if isinstance(values, list):
            fixed = [_slug(v) if isinstance(v, str) and not v.isascii() else v for v in values]
            for old, new in zip(values, fixed, strict=True):
                if old != new:
                    notes.append(f"module {label!r}: key {old!r} written as {new!r}")
            module[field_name] = fixed


def _normalise_plan_dict(obj: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Both accepted shapes -> the flat `Architecture` shape, manuals merged into modules."""
    if "architecture" in obj and isinstance(obj["architecture"], dict) and "modules" not in obj:
        obj = {**obj["architecture"], **{k: v for k, v in obj.items() if k != "architecture"}}
    flat = _flat_plan(obj, notes)
    modules = flat.get("modules")
    if isinstance(modules, dict):  # {"html": {...}, "css": {...}}
        modules = [{"id": k, **v} if isinstance(v, dict) else {"id": k, "description": v} for k, v in modules.items()]
        notes.append("modules given as an object; converted to a list")
    if not isinstance(modules, list):
        return flat
    flat["modules"] = [
        _normalise_module(module, index, notes) if isinstance(module, dict) else module
        for index, module in enumerate(modules)
    ]
    _merge_manuals(flat["modules"], obj.get("specific_manuals"), notes)
    return flat


def _flat_plan(obj: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The plan's top level: `general_manual`'s fields lifted, the goal found under its aliases."""
    flat: dict[str, Any] = dict(obj)
    general = obj.get("general_manual")
    if isinstance(general, dict):
        for key in ("goal", "modules", "integration_rules", "project_name"):
            if key in general and key not in flat:
                flat[key] = general[key]
    if "goal" not in flat:
        alias = next((a for a in ("objective", "overall_objective", "description") if a in flat), None)
        if alias:
            flat["goal"] = flat[alias]
        else:
            notes.append("the plan states no goal; modules will see the project name only")
    for key in ("project_name", "goal", "integration_rules"):
        if key in flat and flat[key] is not None and not isinstance(flat[key], str):
            notes.append(f"{key}: {type(flat[key]).__name__} where text was expected; converted")
    return flat


def _normalise_module(module: dict[str, Any], index: int, notes: list[str]) -> dict[str, Any]:
    """One module: an id when it has none, field aliases, ASCII names, type slips reported."""
    module = dict(module)
    if not str(module.get("id", "")).strip():
        base = module.get("name") or module.get("module_id") or f"module_{index + 1}"
        module["id"] = module.get("module_id") or _slug(str(base))
        notes.append(f"module {index + 1} had no id; using {module['id']!r}")
    for alias, key in (
        ("depends_on", "dependencies"),
        ("reads", "shared_state_reads"),
        ("writes", "shared_state_writes"),
    ):
        if alias in module and key not in module:
            module[key] = module.pop(alias)
    label = module.get("id", index + 1)
    _ascii_names(module, label, notes)
    for key in ("id", *MODULE_TEXT_FIELDS):
        if module.get(key) is not None and not isinstance(module[key], str):
            notes.append(f"module {label!r}: {key} was {type(module[key]).__name__}, converted to text")
    for key in MODULE_LIST_FIELDS:
        if isinstance(module.get(key), str):
            notes.append(f"module {label!r}: {key} was a string, split into a list")
    return module


def _merge_manuals(modules: list[Any], manuals: Any, notes: list[str]) -> None:
    """The seed's `specific_manuals` (a list, or an object by module id) into the modules."""
    if isinstance(manuals, dict):
        manuals = [{"module_id": k, "manual_text": v} for k, v in manuals.items()]
    if not isinstance(manuals, list):
        return
    by_id = {str(m.get("id")): m for m in modules if isinstance(m, dict)}
    for manual in manuals:
        if not isinstance(manual, dict):
            continue
        target = by_id.get(str(manual.get("module_id", "")).strip())
        text = manual.get("manual_text") or manual.get("manual") or manual.get("text") or ""
        if target is None:
            notes.append(f"manual for unknown module {manual.get('module_id')!r} ignored")
        elif not target.get("manual"):
            target["manual"] = text


def _describe_validation_error(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors()[:20]:
        where = ".".join(str(p) for p in item["loc"]) or "plan"
        problems.append(f"{where}: {item['msg']}")
    return problems


def parse_architecture(text: str, *, break_data_cycles: bool = True) -> tuple[Architecture, list[str]]:
    """Parse and validate an architect reply: (plan, repair notes) or `PlanError`."""
    try:
        obj, notes = extract_json_object(text)
    except JSONExtractionError as exc:
        raise PlanError(f"the plan is not JSON: {exc}", [str(exc)]) from None
    return architecture_from_dict(obj, notes, break_data_cycles=break_data_cycles)


def architecture_from_dict(
    obj: dict[str, Any], notes: list[str] | None = None, *, break_data_cycles: bool = True
) -> tuple[Architecture, list[str]]:
    """Normalise, type-check and validate a plan given as a dict."""
    notes = list(notes or [])
    flat = _normalise_plan_dict(obj, notes)
    if not flat.get("modules"):
        raise PlanError("the plan has no modules", ["modules: missing or empty"])
    if isinstance(flat["modules"], list) and len(flat["modules"]) > MAX_MODULES:
        raise PlanError(
            f"the plan has {len(flat['modules'])} modules; at most {MAX_MODULES} are supported",
            ["modules: too many"],
        )
    try:
        architecture = Architecture.model_validate(flat)
    except ValidationError as exc:
        problems = _describe_validation_error(exc)
        raise PlanError("the plan does not match the schema: " + "; ".join(problems), problems) from None
    architecture, more = validate_architecture(architecture, break_data_cycles=break_data_cycles)
    return architecture, notes + more


def validate_architecture(
    architecture: Architecture, *, break_data_cycles: bool = True
) -> tuple[Architecture, list[str]]:
    """Check the plan as a whole; repair what has one obvious fix, raise `PlanError` otherwise.

    Repairs (each reported): exact duplicate modules dropped; self-dependencies dropped;
    dependencies written as a module's name mapped to its id; dependencies on modules that do
    not exist dropped; a read key nobody writes dropped from the reads; files outside the
    project sanitised, a file two modules claim kept by the first. Dependencies follow the data
    flow: the writer of a key comes before its readers, and a declared dependency that
    contradicts the data flow or closes a cycle is dropped. A true data cycle (A reads B's key
    and B reads A's) is broken at one read, its reader told the value is absent; with
    `break_data_cycles=False` it raises `PlanError` naming the cycle instead (the architect
    re-asks once). Error: two different modules with one id.
    """
    notes: list[str] = []
    modules = _unique_modules(architecture, notes)
    _resolve_dependencies(modules, notes)
    data = _resolve_reads(modules, notes)
    _assign_files(modules, notes)
    _assign_kinds(modules, notes)
    _break_data_cycles(modules, data, notes, allowed=break_data_cycles)
    _order_dependencies(modules, data, notes)
    return architecture.model_copy(update={"modules": modules}), notes


def _unique_modules(architecture: Architecture, notes: list[str]) -> list[ModuleSpec]:
    problems: list[str] = []
    modules: list[ModuleSpec] = []
    seen: dict[str, ModuleSpec] = {}
    for spec in architecture.modules:
        if spec.id in seen:
            if seen[spec.id].model_dump() != spec.model_dump():
                problems.append(f"duplicate module id {spec.id!r} used by two different modules")
            else:
                notes.append(f"duplicate module {spec.id!r} dropped (identical copy)")
            continue
        seen[spec.id] = spec
        modules.append(spec.model_copy(deep=True))
    if problems:
        raise PlanError("the plan is inconsistent: " + "; ".join(problems), problems)
    return modules


def _resolve_dependencies(modules: list[ModuleSpec], notes: list[str]) -> None:
    ids = {m.id for m in modules}
    by_name = {m.name.strip().lower(): m.id for m in modules if m.name}
    by_slug = {_slug(m.id): m.id for m in modules}
    for spec in modules:
        deps: list[str] = []
        for dep in spec.dependencies:
            target = dep if dep in ids else by_name.get(dep.strip().lower()) or by_slug.get(_slug(dep))
            if target is None:
                notes.append(f"module {spec.id!r}: dependency on unknown module {dep!r} dropped")
            elif target == spec.id:
                notes.append(f"module {spec.id!r}: self-dependency dropped")
            else:
                if target != dep:
                    notes.append(f"module {spec.id!r}: dependency {dep!r} read as module id {target!r}")
                if target not in deps:
                    deps.append(target)
        spec.dependencies = deps


def _resolve_reads(modules: list[ModuleSpec], notes: list[str]) -> dict[str, dict[str, str]]:
    """Reads matched to written keys; returns reader -> {key: the writer it reads from}."""
    writers: dict[str, list[str]] = {}
    for spec in modules:
        for key in spec.shared_state_writes:
            writers.setdefault(key, []).append(spec.id)
    for key, who in writers.items():
        if len(who) > 1:
            notes.append(f"warning: key {key!r} is written by {who}; the later module's value wins")
    data: dict[str, dict[str, str]] = {}
    for spec in modules:
        reads: list[str] = []
        for key in spec.shared_state_reads:
            if key not in writers:
                similar = [k for k in writers if _key_norm(k) == _key_norm(key)]
                if len(similar) == 1:
                    notes.append(f"module {spec.id!r}: read {key!r} matched to written key {similar[0]!r}")
                    key = similar[0]
            candidates = [w for w in writers.get(key, []) if w != spec.id]
            if not candidates:
                why = "only it writes" if spec.id in writers.get(key, []) else "no module writes"
                notes.append(f"module {spec.id!r}: reads {key!r}, which {why}; read dropped")
                continue
            if key in reads:
                continue
            reads.append(key)
            # the writer it depends on already, else the first one
            declared = [w for w in candidates if w in spec.dependencies]
            data.setdefault(spec.id, {})[key] = (declared or candidates)[0]
        spec.shared_state_reads = reads
    return data


def _assign_kinds(modules: list[ModuleSpec], notes: list[str]) -> None:
    """Every module gets an installed kind: the one it names when that kind claims one of its
    files (or it has none), else the kind its files infer (each replacement reported)."""
    from .. import kinds

    installed = set(kinds.names())
    for spec in modules:
        named = spec.kind.strip().lower()
        claims = named in installed and (
            not spec.files or any(any(k.name == named for k in kinds.kinds_for(path)) for path in spec.files)
        )
        if claims:
            spec.kind = named
            continue
        inferred = kinds.infer(spec.files) or ""
        if named and inferred and named != inferred:
            reason = "is not an installed kind" if named not in installed else "claims none of its files"
            notes.append(f"module {spec.id!r}: kind {named!r} {reason}; {inferred!r} from its files")
        spec.kind = inferred if inferred else (named if named in installed else "")


def _assign_files(modules: list[ModuleSpec], notes: list[str]) -> None:
    """Files relative to the project, each owned by one module (the first that claims it)."""
    owners: dict[str, str] = {}
    for spec in modules:
        kept: list[str] = []
        for raw in spec.files:
            path = safe_relpath(raw)
            if path is None:
                notes.append(f"module {spec.id!r}: file {raw!r} is not a usable path; dropped")
                continue
            if path != raw.strip():
                notes.append(f"module {spec.id!r}: file {raw!r} sanitised to {path!r}")
            owner = owners.get(path.lower())
            if owner is not None and owner != spec.id:
                notes.append(f"module {spec.id!r}: file {path!r} is owned by {owner!r}; dropped from {spec.id!r}")
                continue
            owners[path.lower()] = spec.id
            if path not in kept:
                kept.append(path)
        spec.files = kept


def _reaches(edges: dict[str, set[str]], start: str, target: str) -> bool:
    """Whether `start` depends on `target` through `edges` (module -> what it depends on)."""
    stack, seen = [start], {start}
    while stack:
        for dep in edges.get(stack.pop(), ()):
            if dep == target:
                return True
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return False


def _break_data_cycles(
    modules: list[ModuleSpec], data: dict[str, dict[str, str]], notes: list[str], *, allowed: bool
) -> None:
    """A read whose writer (transitively) reads the reader's own keys closes a data cycle: name
    it (`PlanError`, to re-ask) or break it at the read of the module listed first."""
    position = {m.id: i for i, m in enumerate(modules)}
    by_id = {m.id: m for m in modules}
    while True:
        edges = {reader: set(keys.values()) for reader, keys in data.items()}
        cycle = next(
            (
                (reader, key, writer)
                for reader in sorted(data, key=position.__getitem__)
                for key, writer in data[reader].items()
                if _reaches(edges, writer, reader)
            ),
            None,
        )
        if cycle is None:
            return
        reader, key, writer = cycle
        description = (
            f"data cycle: {reader!r} reads {key!r} written by {writer!r}, and {writer!r} "
            f"(directly or through others) reads what {reader!r} writes"
        )
        if not allowed:
            raise PlanError(
                f"the plan has a {description}; make one of them depend on the other only, and move "
                "the shared key to the module that comes first",
                [description],
            )
        # Break at a read that goes backwards in the architect's order (a module listed earlier
        # reading from one listed later), else at this one.
        backwards = [
            (r, k, w) for r in data for k, w in data[r].items() if position[w] > position[r] and _reaches(edges, w, r)
        ]
        reader, key, writer = min(backwards, key=lambda t: position[t[0]]) if backwards else cycle
        del data[reader][key]
        spec = by_id[reader]
        spec.shared_state_reads = [k for k in spec.shared_state_reads if k != key]
        spec.rules = (spec.rules + "\n" if spec.rules else "") + (
            f"The shared_state key {key!r} (written by {writer!r}) is not available to you: reading it would "
            "close a dependency cycle. Do not rely on it."
        )
        notes.append(f"{description}; broken: {reader!r} no longer reads {key!r} (it is told the value is absent)")


def _order_dependencies(modules: list[ModuleSpec], data: dict[str, dict[str, str]], notes: list[str]) -> None:
    """Dependencies = the data flow plus every declared edge that neither contradicts it nor
    closes a cycle (kept in the architect's order; the others dropped and reported)."""
    edges: dict[str, set[str]] = {m.id: set(data.get(m.id, {}).values()) for m in modules}
    position = {m.id: i for i, m in enumerate(modules)}
    # Edges to modules listed earlier first: when two edges close a cycle, the one that points
    # forward in the architect's list is the one dropped.
    declared = [(spec, dep) for spec in modules for dep in spec.dependencies]
    declared.sort(key=lambda pair: position[pair[1]] > position[pair[0].id])
    for spec, dep in declared:
        if dep in edges[spec.id]:
            continue
        if _reaches(edges, dep, spec.id):
            flow = (
                "contradicts the data flow"
                if _reaches({m: set(data.get(m, {}).values()) for m in edges}, dep, spec.id)
                else "closes a cycle"
            )
            notes.append(f"module {spec.id!r}: dependency on {dep!r} dropped ({flow})")
            continue
        edges[spec.id].add(dep)
    for spec in modules:
        kept = [d for d in spec.dependencies if d in edges[spec.id]]
        added = sorted(edges[spec.id] - set(kept), key=[m.id for m in modules].index)
        for dep in added:
            key = next(k for k, w in data.get(spec.id, {}).items() if w == dep)
            notes.append(f"module {spec.id!r}: reads {key!r}; added dependency on its writer {dep!r}")
        spec.dependencies = kept + added


def _key_norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def execution_order(architecture: Architecture) -> list[str]:
    """Module ids in dependency order, keeping the architect's order where it is free."""
    remaining = {m.id: set(m.dependencies) for m in architecture.modules}
    position = {m.id: i for i, m in enumerate(architecture.modules)}
    order: list[str] = []
    done: set[str] = set()
    while remaining:
        ready = sorted((mid for mid, deps in remaining.items() if deps <= done), key=position.__getitem__)
        if not ready:  # validate_architecture rejects cycles, so this is a programming error
            raise PlanError("dependency cycle among " + ", ".join(sorted(remaining)))
        for mid in ready:
            order.append(mid)
            done.add(mid)
            del remaining[mid]
    return order


# ---------------------------------------------------------------------------------------------
# Module replies


@dataclass
class ModuleReply:
    """A module's reply split into its artifact and its (filtered) shared-state update."""

    artifact: str
    update: dict[str, Any] = field(default_factory=dict)
    dropped_keys: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _update_marker_at(text: str) -> int:
    """Where the update starts: the last `SHARED_STATE_UPDATE:` that is not inside a code block,
    or that is followed by a JSON object. A small model writes the marker as a comment at the
    top of its code (`# SHARED_STATE_UPDATE: api_functions`): splitting there lost the code."""
    spans = [(m.start(), m.end()) for m in _FENCE.finditer(text)]
    for match in reversed(list(re.finditer(re.escape(UPDATE_MARKER), text))):
        inside = any(start < match.start() < end for start, end in spans)
        if not inside or text[match.end() :].lstrip(" \t\r\n").startswith("{"):
            return match.start()
    return -1


def parse_module_reply(text: str, declared_writes: list[str]) -> ModuleReply:
    """Split a module reply at `SHARED_STATE_UPDATE:` (or a final ```json fence).

    Keys the module did not declare are dropped and reported; declared keys it left unwritten
    are reported. A reply without any update keeps its whole text as the artifact.
    """
    text = text or ""
    notes: list[str] = []
    artifact, tail = text, ""
    marker_at = _update_marker_at(text)
    if marker_at >= 0:
        artifact, tail = text[:marker_at], text[marker_at + len(UPDATE_MARKER) :]
    else:
        fences = [m for m in _FENCE.finditer(text) if m.group(1).lower() == "json"]
        if fences and declared_writes:
            last = fences[-1]
            try:
                candidate, _ = extract_json_object(last.group(2))
            except JSONExtractionError:
                candidate = {}
            if any(key in candidate for key in declared_writes):
                artifact, tail = text[: last.start()], last.group(0)
                notes.append(f"no {UPDATE_MARKER} marker; used the final ```json block")
    raw: dict[str, Any] = {}
    if tail.strip():
        try:
            raw, extract_notes = extract_json_object(tail)
            notes.extend(extract_notes)
        except JSONExtractionError as exc:
            notes.append(f"shared-state update unreadable: {exc}")
    elif declared_writes:
        notes.append(f"no {UPDATE_MARKER} section in the reply")
    update = {k: v for k, v in raw.items() if k in declared_writes}
    dropped = [k for k in raw if k not in declared_writes]
    missing = [k for k in declared_writes if k not in update]
    return ModuleReply(artifact.rstrip(), update, dropped, missing, notes)


def serialise_shared_writers(architecture: Architecture) -> tuple[Architecture, list[str]]:
    """A plan whose modules write one key without depending on each other, made safe for waves:
    the later writer (in plan order) depends on the earlier one, as the sequential run orders
    them, so the last writer is the same whatever the timing. One note per dependency added."""
    modules = [m.model_copy(deep=True) for m in architecture.modules]
    by_id = {m.id: m for m in modules}
    notes: list[str] = []
    while True:
        plan = architecture.model_copy(update={"modules": modules})
        pairs = _conflicting_writers(plan)
        if not pairs:
            return plan, notes
        key, first, second = pairs[0]
        by_id[second].dependencies.append(first)
        notes.append(
            f"module {second!r} now depends on {first!r}: both write {key!r}, and in one parallel wave "
            "the value kept would depend on timing"
        )


def _conflicting_writers(architecture: Architecture) -> list[tuple[str, str, str]]:
    deps = {m.id: set(m.dependencies) for m in architecture.modules}
    ancestors: dict[str, set[str]] = {}

    def up(module_id: str) -> set[str]:
        if module_id not in ancestors:
            ancestors[module_id] = set()
            for dep in deps.get(module_id, ()):
                ancestors[module_id] |= {dep, *up(dep)}
        return ancestors[module_id]

    writers: dict[str, list[str]] = {}
    for spec in architecture.modules:
        for key in spec.shared_state_writes:
            writers.setdefault(key, []).append(spec.id)
    pairs = []
    for key, who in writers.items():
        for i, first in enumerate(who):
            for second in who[i + 1 :]:
                if first not in up(second) and second not in up(first):
                    pairs.append((key, first, second))
    return pairs


def wave_conflicts(architecture: Architecture) -> list[str]:
    """Keys written by two modules that may run in the same wave (neither depends on the other):
    sequentially the later writer wins; in parallel waves the result would depend on timing
    (`serialise_shared_writers` repairs it)."""
    return [
        f"key {key!r} is written by {first!r} and {second!r}, which may run in the same wave; make one depend on the other"
        for key, first, second in _conflicting_writers(architecture)
    ]
