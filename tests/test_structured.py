"""Schema-constrained generation on the real Hugging Face path (tiny random-weight Mistral).

Random weights produce noise; under the plan's JSON schema the same weights must produce a plan
that parses and validates, and an update with exactly the declared keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from scripted import INDEPENDENT_PLAN, THREE_MODULE_PLAN, ScriptedChatModel, default_responder

from matrioska import LocalLLM, MatrioskaOrchestrator, PlanError, kinds
from matrioska.model.structured import constrained, plan_schema, update_schema, wrap_up_reserve
from matrioska.plan.parsing import parse_architecture
from matrioska.prompts import ARCHITECT_SCHEMA_SYSTEM_PROMPT, ARCHITECT_USER_PROMPT
from matrioska.state import Architecture, ModuleSpec

PLAN_MESSAGES = [
    SystemMessage(ARCHITECT_SCHEMA_SYSTEM_PROMPT.format(kinds=kinds.describe())),
    HumanMessage(ARCHITECT_USER_PROMPT.format(task="A library management system with a dashboard", guide="")),
]


@pytest.fixture(scope="module")
def tiny_sampling(tiny_model_dir: Path) -> LocalLLM:
    return LocalLLM(str(tiny_model_dir), max_new_tokens=400, do_sample=True, temperature=1.0, top_p=1.0)


def test_plan_schema_is_built_from_the_architecture_model() -> None:
    schema = plan_schema()
    assert list(schema["properties"]) == list(Architecture.model_fields)
    module = schema["properties"]["modules"]["items"]
    assert list(module["properties"]) == list(ModuleSpec.model_fields)
    assert module["required"] == list(ModuleSpec.model_fields) and module["additionalProperties"] is False
    assert schema["properties"]["modules"]["minItems"] == 1


def test_update_schema_has_exactly_the_declared_keys() -> None:
    schema = update_schema(["element_ids", "api_routes"])
    jsonschema.validate({"element_ids": ["#a"], "api_routes": "/books"}, schema)
    for bad in ({"element_ids": []}, {"element_ids": [], "api_routes": "", "extra": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_other_chat_models_get_no_constraint(tiny_model_dir: Path) -> None:
    assert constrained(ScriptedChatModel(respond=default_responder()), plan_schema()) is None
    off = LocalLLM(str(tiny_model_dir), max_new_tokens=8, constrain_json=False)
    assert constrained(off, plan_schema()) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_becomes_a_valid_plan_under_the_schema(tiny_sampling: LocalLLM, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    free = tiny_sampling.invoke(PLAN_MESSAGES).content
    with pytest.raises(PlanError):
        parse_architecture(free)
    torch.manual_seed(seed)
    text = constrained(tiny_sampling, plan_schema()).invoke(PLAN_MESSAGES).content
    obj = json.loads(text)  # a whole object: no repair needed to parse it
    jsonschema.validate(obj, plan_schema())
    architecture, report = parse_architecture(text)
    assert architecture.modules and all(m.id for m in architecture.modules)
    assert isinstance(report, list)


@pytest.mark.parametrize("vocabulary", ["tiny", "mistral"])
def test_a_budget_too_small_for_content_still_closes_the_object(
    tiny_model_dir: Path, mistral_vocab_dir: Path, vocabulary: str
) -> None:
    folder = mistral_vocab_dir if vocabulary == "mistral" else tiny_model_dir
    budget = wrap_up_reserve(plan_schema()) + 10
    llm = LocalLLM(str(folder), max_new_tokens=budget, do_sample=False)
    text = constrained(llm, plan_schema()).invoke(PLAN_MESSAGES).content
    jsonschema.validate(json.loads(text), plan_schema())


@pytest.mark.parametrize("seed", [0, 1])
def test_the_real_mistral_vocabulary_yields_whole_plans_and_updates(mistral_vocab_dir: Path, seed: int) -> None:
    """Random weights over the 7B's own 32,768 pieces (SentencePiece, byte fallback, `▁` spaces):
    sampled noise under the schema is still one whole schema-valid object."""
    import torch

    llm = LocalLLM(str(mistral_vocab_dir), max_new_tokens=700, do_sample=True, temperature=1.0, top_p=1.0)
    torch.manual_seed(seed)
    plan = constrained(llm, plan_schema()).invoke(PLAN_MESSAGES).content
    jsonschema.validate(json.loads(plan), plan_schema())
    keys = ["element_ids", "api_routes"]
    update = constrained(llm, update_schema(keys)).invoke([HumanMessage("publish your keys")]).content
    assert list(json.loads(update)) == keys


@pytest.mark.parametrize("budget", [600, None])
def test_noise_becomes_valid_acceptance_scenarios_under_their_schema(tiny_model_dir: Path, budget: int | None) -> None:
    """The scenarios' schema (three kinds of object, steps of three shapes) on the local path:
    sampled noise, and a budget that leaves room for little more than the wrap-up, both end in one
    whole schema-valid object that the scenario validation accepts."""
    import torch

    from matrioska.plan.acceptance import lenient
    from matrioska.plan.scenario_slots import scenarios_schema

    schema = scenarios_schema()
    tokens = budget or wrap_up_reserve(schema) + 10
    llm = LocalLLM(str(tiny_model_dir), max_new_tokens=tokens, do_sample=True, temperature=1.0, top_p=1.0)
    torch.manual_seed(3)
    text = constrained(llm, schema).invoke([HumanMessage("write the acceptance scenarios")]).content
    obj = json.loads(text)
    jsonschema.validate(obj, schema)
    assert 2 <= len(obj["scenarios"]) <= 6
    found, notes = lenient(obj)
    # noise may fail a field's meaning (an empty name, code that does not compile), never the shape
    assert len(found) + len(notes) == len(obj["scenarios"])
    assert all(note.startswith("scenario ") and " dropped: field " in note for note in notes)


def test_update_under_the_schema_has_exactly_the_declared_keys(tiny_sampling: LocalLLM) -> None:
    keys = ["element_ids", "css_classes", "api_routes"]
    text = constrained(tiny_sampling, update_schema(keys)).invoke([HumanMessage("publish your keys")]).content
    obj = json.loads(text)
    assert list(obj) == keys
    jsonschema.validate(obj, update_schema(keys))


def test_whole_graph_plans_and_fills_every_declared_key_on_the_tiny_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir), max_new_tokens=300, do_sample=False)
    with MatrioskaOrchestrator(llm, base_path=tmp_path) as orchestrator:
        planned = orchestrator.run("Create a library management system", thread_id="planned")
        supplied = orchestrator.run("Create a library management system", architecture=INDEPENDENT_PLAN)
    # The architect itself planned from noise: no plan was supplied and none was scripted.
    assert planned["architecture"]["modules"] and planned["completed"] == planned["execution_order"]
    assert not any("supplied" in line for line in planned["plan_report"])
    # The free-form replies are noise, so every update was re-asked under the update schema.
    for module_id in ("html", "css", "auth"):
        report = supplied["module_reports"][module_id]
        declared = next(m for m in THREE_MODULE_PLAN["general_manual"]["modules"] if m["id"] == module_id)
        assert report["missing_keys"] == []
        assert sorted(report["written"]) == sorted(declared["shared_state_writes"])
    assert set(supplied["shared_state"]) == {
        "element_ids",
        "page_structure",
        "css_classes",
        "color_scheme",
        "auth_api",
        "storage_keys",
    }


def test_the_schema_prompt_shows_a_plan_the_schema_accepts() -> None:
    text = ARCHITECT_SCHEMA_SYSTEM_PROMPT.format(kinds=kinds.describe())
    example = json.loads(text[text.index("{") : text.rindex("}") + 1])
    jsonschema.validate(example, plan_schema())


def test_constrained_and_free_rows_share_one_generate(tiny_model_dir: Path) -> None:
    """Two plans under the schema and two free replies in ONE batch: each constrained row is a
    whole schema-valid plan, the same as alone (greedy), and the free rows stay free."""
    from concurrent.futures import ThreadPoolExecutor

    budget = wrap_up_reserve(plan_schema()) + 40
    llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=budget, do_sample=False, batch_window=0.5)
    bound = constrained(llm, plan_schema())
    free = [[HumanMessage(f"module {i}: write the code")] for i in range(2)]
    alone = [llm.invoke(p).content for p in free]
    plan_alone = bound.invoke(PLAN_MESSAGES).content
    calls = [(bound, PLAN_MESSAGES), (llm, free[0]), (bound, PLAN_MESSAGES), (llm, free[1])]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda call: call[0].invoke(call[1]).content, calls))
    assert llm._worker.batches[-1] == 4  # one generate for the four rows
    for text in (replies[0], replies[2]):
        jsonschema.validate(json.loads(text), plan_schema())
    assert replies[0] == replies[2] == plan_alone  # its own grammar per row, padding changes nothing
    # Free rows are never masked: noise, as alone. (Only their first 200 characters are compared:
    # once the plan rows end, the random weights' near-ties may break differently in the batch.)
    assert [replies[1][:200], replies[3][:200]] == [text[:200] for text in alone]
    assert not any(r.lstrip().startswith("{") for r in alone)


def test_the_wrap_up_narrows_as_its_masks_say(tiny_model_dir: Path) -> None:
    """`json_wrap_up` looks only at its preferences' few token ids (a step stays one pass over
    the vocabulary at most): on random grammar masks it refuses exactly what the whole-
    vocabulary formulation refuses, the first allowed preference or else nothing more."""
    import numpy as np
    from transformers import AutoTokenizer

    from matrioska.model.structured import JsonSchemaConstraint, json_wrap_up

    constraint = JsonSchemaConstraint(AutoTokenizer.from_pretrained(tiny_model_dir))
    vocab = constraint.vocab_size + 3  # and a model's padded rows
    rng = np.random.default_rng(0)
    narrowed = kept = 0
    for density in (0.0, 0.5, 0.9, 0.99, 1.0):
        for in_string in (False, True):
            refused = rng.random(vocab) < density
            expected = refused.copy()
            for name in ["quote_in"] if in_string else ["close", "empty_string", "quote_out"]:
                preferred = constraint._mask(name, vocab) & ~refused
                if preferred.any():
                    expected = ~preferred
                    break
            narrowed += not np.array_equal(expected, refused)
            kept += np.array_equal(expected, refused)
            json_wrap_up(refused, constraint, in_string)
            assert np.array_equal(refused, expected)
    assert narrowed and kept


def test_the_worker_reports_the_grammars_time_per_step(tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir), load_in_4bit=False, max_new_tokens=24, do_sample=False)
    reply = constrained(llm, update_schema(["css_classes"])).invoke([HumanMessage("publish css_classes")]).content
    assert set(json.loads(reply)) == {"css_classes"}
    grammar = llm._worker.last_grammar
    assert 1 <= grammar.steps <= 24 and grammar.seconds > 0


@pytest.mark.parametrize("seed", [3, 11])
def test_scenarios_in_the_plans_slots_name_only_what_the_plan_has(tiny_model_dir: Path, seed: int) -> None:
    """The schema built from the plan, on the tiny model's noise: every scenario parses, holds no
    <placeholder>, runs only the plan's program, imports only the plan's module and calls only the
    functions the plan names, and its Python is valid (rendered from calls, never free code)."""
    import torch

    from matrioska.plan.acceptance import check_against_plan, lenient
    from matrioska.plan.scenario_slots import plan_slots, slotted_schema

    modules = [
        {"id": "core", "files": ["isbn.py"], "description": "is_valid_isbn10(code) and is_valid_isbn13(code)"},
        {"id": "cli", "files": ["main.py"], "dependencies": ["core"]},
        {"id": "tests", "files": ["tests/test_isbn.py"], "dependencies": ["core"]},
    ]
    schema = slotted_schema(plan_slots(modules))
    assert schema is not None
    llm = LocalLLM(str(tiny_model_dir), max_new_tokens=700, do_sample=True, temperature=1.0, top_p=1.0)
    torch.manual_seed(seed)
    obj = json.loads(constrained(llm, schema).invoke([HumanMessage("write the acceptance scenarios")]).content)
    jsonschema.validate(obj, schema)
    assert "<" not in json.dumps(obj) and ">" not in json.dumps(obj)
    found, notes = lenient(obj)
    # noise may leave a Python check checking nothing (every expected null); never a name off the plan
    assert all("checks nothing" in note for note in notes), notes
    assert found
    planned = [p for m in modules for p in m["files"]]
    for scenario in found:
        assert check_against_plan(scenario, planned) is None, scenario
        if scenario["kind"] == "command":
            assert scenario["command"][:2] == ["python", "main.py"]
        else:
            assert scenario["module"] == "isbn"
            assert {c["function"] for c in scenario["calls"]} <= {"is_valid_isbn10", "is_valid_isbn13"}
            compile(scenario["code"], "<scenario>", "exec")
