"""Every reply in the corpus of bad model output ends in a valid result or a typed error.

The file name states the expected outcome (`arch-ok-*`, `arch-repaired-*`, `arch-error-*`,
and the same for `exec-`). A reply that raises anything but `PlanError` counts as a crash.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from matrioska.errors import PlanError
from matrioska.plan.parsing import parse_architecture, parse_module_reply

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.txt"))
DECLARED = ["element_ids", "score"]


def architect_outcome(text: str) -> tuple[str, str]:
    try:
        plan, notes = parse_architecture(text)
    except PlanError as exc:
        assert str(exc), "a typed error needs a message"
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - counting crashes is the point
        return "crash", f"{type(exc).__name__}: {exc}"
    assert plan.modules
    return ("repaired" if notes else "ok"), "; ".join(notes)


def executor_outcome(text: str) -> tuple[str, str]:
    try:
        reply = parse_module_reply(text, DECLARED)
    except Exception as exc:  # noqa: BLE001
        return "crash", f"{type(exc).__name__}: {exc}"
    assert set(reply.update) <= set(DECLARED)
    if not reply.update:
        assert reply.notes, "an unusable update must be reported"
        return "error", "; ".join(reply.notes)
    reported = reply.notes or reply.dropped_keys or reply.missing_keys
    return ("repaired" if reported else "ok"), "; ".join(reply.notes)


def outcome(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    return architect_outcome(text) if path.name.startswith("arch-") else executor_outcome(text)


def test_corpus_is_large_and_covers_both_roles() -> None:
    assert len(FILES) >= 40
    assert sum(f.name.startswith("arch-") for f in FILES) >= 30
    assert sum(f.name.startswith("exec-") for f in FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_reply_ends_in_its_expected_outcome(path: Path) -> None:
    expected = path.name.split("-")[1]
    got, detail = outcome(path)
    assert got != "crash", detail
    assert got == expected, detail


def test_corpus_outcome_counts(capsys: pytest.CaptureFixture[str]) -> None:
    counts = Counter(f"{f.name.split('-')[0]}:{outcome(f)[0]}" for f in FILES)
    with capsys.disabled():
        print(f"\ncorpus outcomes over {len(FILES)} replies: {dict(sorted(counts.items()))}")
    assert not any(key.endswith(":crash") for key in counts)
