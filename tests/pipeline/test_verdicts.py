"""Verdicts fail closed: anything but a clean approval is a rejection."""

from __future__ import annotations

from typing import Any

import pytest

from leanforge.pipeline.attempts import Verdict
from leanforge.pipeline.verdicts import judge, panel_approves

BLOCKER = {"title": "t", "detail": "d", "counterexample": "c"}


def test_a_clean_approval_approves() -> None:
    v = judge(1, "security", {"approve": True, "blockers": [], "notes": "ok"})
    assert v.approve and v.problem == "" and v.notes == "ok"


def test_a_rejection_keeps_its_blockers() -> None:
    v = judge(2, "correctness", {"approve": False, "blockers": [BLOCKER], "notes": ""})
    assert not v.approve and [b.title for b in v.blockers] == ["t"]


@pytest.mark.parametrize(
    ("final", "problem"),
    [
        (None, "no verdict"),
        ({"approve": "yes", "blockers": [], "notes": ""}, "malformed verdict"),
        ({"approve": True, "notes": ""}, "malformed verdict"),
        ({"approve": True, "blockers": [{"title": 1}], "notes": ""}, "malformed blocker"),
        ({"approve": True, "blockers": [BLOCKER], "notes": ""}, "approved while naming blockers"),
    ],
)
def test_missing_malformed_or_contradictory_verdicts_reject(final: Any, problem: str) -> None:
    v = judge(1, "lens", final, "turn limit")
    assert not v.approve and problem in v.problem


def test_the_panel_needs_every_reviewer_to_answer_and_approve() -> None:
    yes = [Verdict(n, "l", True) for n in (1, 2, 3)]
    assert panel_approves(yes, 3)
    assert not panel_approves(yes[:2], 3)
    assert not panel_approves([*yes[:2], Verdict(3, "l", False)], 3)
