from __future__ import annotations

import pytest

from leanforge.agent.protocol import FINAL_TOOLS, PLAYBOOK_MAX_CHARS, final_tool
from leanforge.agent.schema import validate


def schema(role: str) -> dict[str, object]:
    return final_tool(role)["input_schema"]  # type: ignore[no-any-return]


def test_valid_verdict_passes() -> None:
    verdict = {
        "approve": False,
        "blockers": [{"title": "off by one", "detail": "d", "counterexample": "add(1, 1) == 3"}],
        "notes": "",
    }
    assert validate(schema("reviewer"), verdict) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"approve": "yes", "blockers": [], "notes": ""},
            "input.approve must be a boolean, not string",
        ),
        ({"blockers": [], "notes": ""}, "input.approve is required"),
        (
            {"approve": True, "blockers": {}, "notes": ""},
            "input.blockers must be an array, not object",
        ),
        (
            {"approve": True, "blockers": [{"title": "t"}], "notes": ""},
            "input.blockers[0].detail is required",
        ),
        ({"approve": True, "blockers": [], "notes": "", "extra": 1}, "input.extra is not allowed"),
        ([], "input must be an object, not array"),
    ],
)
def test_each_breach_is_named(value: object, expected: str) -> None:
    errors = validate(schema("reviewer"), value)
    assert any(e.startswith(expected) for e in errors), errors


def test_integers_are_not_booleans_and_empty_strings_are_refused() -> None:
    assert validate({"type": "integer"}, True) == ["input must be an integer, not boolean"]
    assert validate(schema("engineer"), {"summary": ""}) == ["input.summary must not be empty"]
    assert validate(
        schema("spec_writer"), {"spec": "s", "acceptance_tests": [], "holdout_tests": []}
    ) == ["input.acceptance_tests needs at least 1 item(s)"]


def test_max_length_counts_characters_and_says_how_many() -> None:
    limited = {"type": "string", "maxLength": 3}
    assert validate(limited, "abc") == []
    assert validate(limited, "ééé") == []
    assert validate(limited, "abcd", "input.x") == [
        "input.x must be at most 3 characters (it has 4)"
    ]
    assert validate({"type": "array", "maxLength": 1}, [1, 2]) == []


def test_the_playbook_is_capped() -> None:
    assert validate(schema("tech_lead"), {"playbook": "x" * PLAYBOOK_MAX_CHARS}) == []
    assert validate(schema("tech_lead"), {"playbook": "x" * (PLAYBOOK_MAX_CHARS + 1)}) == [
        f"input.playbook must be at most {PLAYBOOK_MAX_CHARS} characters "
        f"(it has {PLAYBOOK_MAX_CHARS + 1})"
    ]


def test_every_role_has_the_designed_final_tool() -> None:
    names = {role: spec[0] for role, spec in FINAL_TOOLS.items()}
    assert names == {
        "spec_writer": "submit_spec",
        "engineer": "submit_work",
        "reviewer": "submit_verdict",
        "tech_lead": "submit_playbook",
        "lab_worker": "submit_experiment",
        "lab_director": "submit_notes",
        "lab_critic": "submit_critique",
    }
    required = {role: set(spec[2]["required"]) for role, spec in FINAL_TOOLS.items()}
    assert required["spec_writer"] == {"spec", "acceptance_tests", "holdout_tests"}
    assert required["reviewer"] == {"approve", "blockers", "notes"}
    with pytest.raises(ValueError, match="unknown role"):
        final_tool("janitor")
