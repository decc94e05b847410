"""Opt-in (`--live`): one real engineer session against the real Anthropic API.

Costs a few cents. Needs ANTHROPIC_API_KEY; FORGE_LIVE_MODEL picks the model (default: the
engineer's configured model).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from leanforge.agent.session import run_session
from leanforge.context import open_forge

pytestmark = pytest.mark.live


def test_a_real_model_fixes_add_through_the_sandboxed_tools(project: Any) -> None:
    key = os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        pytest.fail("--live needs ANTHROPIC_API_KEY in the environment")
    worktree = project.spec()
    forge = open_forge(
        project.root, {"budgets": {"session_usd": 0.5, "max_turns": 15}}, env=dict(os.environ)
    )
    outcome = run_session(
        forge,
        role="engineer",
        system="You are a careful engineer. Make the smallest change that makes the tests pass.",
        prompt="calc.add subtracts instead of adding. Fix calc.py so tests/test_calc.py passes, "
        "run the tests with `python -m pytest -q -p no:cacheprovider tests/test_calc.py`, then "
        "call submit_work.",
        worktree=worktree,
        slug="fix-add",
        model_id=os.environ.get("FORGE_LIVE_MODEL"),
    )
    assert outcome.final["summary"]
    assert "a + b" in (worktree / "calc.py").read_text()
    assert 0 < outcome.usage.cost_usd <= 0.5
    assert key not in Path(outcome.transcript).read_text()
