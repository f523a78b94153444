"""Every prompt template formats with exactly its expected keys."""

from __future__ import annotations

import string

import pytest

from matrioska import kinds, prompts

EXPECTED = {
    "ARCHITECT_SYSTEM_PROMPT": {"kinds"},
    "ARCHITECT_SCHEMA_SYSTEM_PROMPT": {"kinds"},
    "ARCHITECT_USER_PROMPT": {"task", "guide"},
    "ARCHITECT_RETRY_PROMPT": {"error"},
    "ARCHITECT_REVIEW_PROMPT": {"comment"},
    "ARCHITECT_OFF_TOPIC_PROMPT": {"project_name", "goal", "reason", "task"},
    "EXECUTOR_SYSTEM_PROMPT": set(),
    "EXECUTOR_USER_PROMPT": {
        "goal",
        "name",
        "module_id",
        "description",
        "inputs",
        "outputs",
        "rules",
        "manual",
        "kind_guide",
        "acceptance",
        "shared_context",
        "interfaces",
        "writes",
        "files",
    },
    "EXECUTOR_UPDATE_RETRY_PROMPT": {"error", "writes"},
    "EXECUTOR_REPAIR_PROMPT": {"problems"},
    "EXECUTOR_RUNTIME_FIX_PROMPT": {"evidence", "interfaces", "files"},
    "ASSEMBLER_SYSTEM_PROMPT": set(),
    "ASSEMBLER_USER_PROMPT": {"project_name", "goal", "integration_rules", "modules", "shared_state"},
    "ACCEPTANCE_SYSTEM_PROMPT": set(),
    "ACCEPTANCE_USER_PROMPT": {"task", "project_name", "goal", "files", "hints"},
    "ACCEPTANCE_MORE_PROMPT": {"count", "kept"},
    "ACCEPTANCE_RETRY_PROMPT": {"error"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_prompt_formats_with_its_keys(name: str) -> None:
    template = getattr(prompts, name)
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    assert fields == EXPECTED[name]
    rendered = template.format(**{key: f"<{key}>" for key in fields})
    for key in fields:
        assert f"<{key}>" in rendered


def test_every_prompt_is_covered() -> None:
    assert set(prompts.__all__) == set(EXPECTED)


def test_architect_prompt_asks_for_the_seed_contents() -> None:
    text = prompts.ARCHITECT_SYSTEM_PROMPT.format(kinds=kinds.describe()).lower()
    for phrase in ("objective", "dependencies", "shared_state", "manual", "cdn", "simple"):
        assert phrase in text
    assert '"specific_manuals"' in text and '"general_manual"' in text


def test_the_architect_sends_its_system_prompt_formatted(tmp_path) -> None:
    from scripted import ScriptedChatModel, default_responder

    from matrioska import MatrioskaOrchestrator

    model = ScriptedChatModel(respond=default_responder())
    with MatrioskaOrchestrator(model, base_path=tmp_path) as orchestrator:
        orchestrator.run("Create a library management system")
    system = model.calls[0][0].content
    assert "{{" not in system and '"project_name"' in system
