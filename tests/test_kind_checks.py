"""A kind brings its own checks (issue 33): the verify step loops over the installed kinds and
runs each one's `check(paths, ctx)` (then its `commands(paths)`), with no table of kind names."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from matrioska import kinds
from matrioska.checking.sandbox import Sandbox
from matrioska.checking.verify import verify_project
from matrioska.kinds.base import CheckContext, Kind

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


class TomlKind(Kind):
    """A plugin kind with its own check: every `.toml` file parses (in the sandbox)."""

    name = "toml"
    description = "TOML files"
    suffixes = (".toml",)

    def check(self, paths: list[str], ctx: CheckContext) -> None:
        for path in paths:
            code = f"import tomllib; tomllib.loads(open({path!r}).read())"
            result = ctx.run(self.name, [sys.executable, "-c", code], f"parse {path}")
            check = ctx.record(self.name, f"parse {path}", result.ok, result.output, result.duration)
            if not result.ok:
                check.modules = ctx.fail(self.name, f"parse {path}", result.output, ctx.owners.get(path))


class Broken(Kind):
    name = "broken"
    description = "a plugin whose check raises"
    suffixes = (".broken",)

    def check(self, paths: list[str], ctx: CheckContext) -> None:
        raise RuntimeError("the plugin's bug")


@pytest.fixture
def plugins() -> Iterator[None]:
    kinds.reload()
    kinds.installed().extend([kinds.Installed(TomlKind(), "tomlkind"), kinds.Installed(Broken(), "brokenkind")])
    yield
    kinds.reload()


@needs_bwrap
def test_a_plugin_kinds_check_runs_and_its_failure_goes_to_the_module(plugins: None) -> None:
    files = {"good.toml": "a = 1\n", "bad.toml": "a = = 1\n", "x.broken": ""}
    owners: dict[str, Any] = {"good.toml": "config", "bad.toml": "settings", "x.broken": "other"}
    result = verify_project(files, owners, Sandbox(timeout=30))
    assert [(c["kind"], c["command"], c["ok"]) for c in result["checks"]] == [
        ("toml", "parse good.toml", True),
        ("toml", "parse bad.toml", False),
    ]
    assert result["works"] is False
    assert [(f["module"], f["kind"]) for f in result["failures"]] == [("settings", "toml")]
    assert result["checks"][1]["modules"] == ["settings"]
    assert "the broken kind (brokenkind) failed in its checks: RuntimeError: the plugin's bug" in result["notes"]


def test_the_built_in_kinds_bring_their_checks() -> None:
    by_name = {item.name: item.kind for item in kinds.installed()}
    for name in ("python", "html", "javascript"):
        assert type(by_name[name]).check is not Kind.check, name
    assert by_name["html"].scenario_kinds == ("page",)
