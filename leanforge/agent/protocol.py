"""The public agent protocol (DESIGN §5): the client tools, each role's final tool and its schema.

Users plug their own models into this, so names, types and input shapes are fixed here once
and documented in docs/agents.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Anthropic's text editor tool, bound to the worktree (view, create, str_replace, insert).
EDITOR_TOOL: Mapping[str, Any] = {
    "type": "text_editor_20250728",
    "name": "str_replace_based_edit_tool",
}
#: Anthropic's bash tool: each command runs in a fresh sandboxed process, cwd = worktree root.
BASH_TOOL: Mapping[str, Any] = {"type": "bash_20250124", "name": "bash"}

EDITOR = str(EDITOR_TOOL["name"])
BASH = str(BASH_TOOL["name"])

_STR: Mapping[str, Any] = {"type": "string"}
#: The longest PLAYBOOK.md the tech-lead may submit, in characters.
PLAYBOOK_MAX_CHARS = 12000
_PATHS: Mapping[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1}}


def _object(properties: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


_BLOCKER = _object(
    {
        "title": {"type": "string", "minLength": 1},
        "detail": _STR,
        "counterexample": _STR,
    },
    ("title", "detail", "counterexample"),
)

#: role -> (final tool name, description, input schema).
FINAL_TOOLS: Mapping[str, tuple[str, str, dict[str, Any]]] = {
    "spec_writer": (
        "submit_spec",
        "Submit the spec and the paths of the test files you wrote. Call once, when the tests "
        "exist and fail on the current code for the right reason.",
        _object(
            {
                "spec": {"type": "string", "minLength": 1},
                "acceptance_tests": {**_PATHS, "minItems": 1},
                "holdout_tests": _PATHS,
            },
            ("spec", "acceptance_tests", "holdout_tests"),
        ),
    ),
    "engineer": (
        "submit_work",
        "Submit your work for the gate and the reviewers. Call once, when you believe the "
        "acceptance tests pass and the change is complete.",
        _object({"summary": {"type": "string", "minLength": 1}}, ("summary",)),
    ),
    "reviewer": (
        "submit_verdict",
        "Submit your verdict. Approve only with no blockers; every blocker needs a concrete "
        "counterexample.",
        _object(
            {
                "approve": {"type": "boolean"},
                "blockers": {"type": "array", "items": _BLOCKER},
                "notes": _STR,
            },
            ("approve", "blockers", "notes"),
        ),
    ),
    "tech_lead": (
        "submit_playbook",
        "Submit the complete new PLAYBOOK.md (it replaces the old one).",
        _object(
            {"playbook": {"type": "string", "minLength": 1, "maxLength": PLAYBOOK_MAX_CHARS}},
            ("playbook",),
        ),
    ),
    "lab_worker": (
        "submit_experiment",
        "Submit this experiment for evaluation: what you expected and what you changed.",
        _object(
            {"hypothesis": {"type": "string", "minLength": 1}, "summary": _STR},
            ("hypothesis", "summary"),
        ),
    ),
    "lab_director": (
        "submit_notes",
        "Submit the lab's notes for the next experiments.",
        _object({"notes": {"type": "string", "minLength": 1}}, ("notes",)),
    ),
    "lab_critic": (
        "submit_critique",
        "Submit your critique of the recent experiments.",
        _object({"critique": {"type": "string", "minLength": 1}}, ("critique",)),
    ),
}

ROLES = tuple(FINAL_TOOLS)

#: Roles that change files; the others get the same tools read-only.
WRITING_ROLES = frozenset({"spec_writer", "engineer", "tech_lead", "lab_worker"})


def final_tool(role: str) -> dict[str, Any]:
    """The final tool's definition for ``role``, as sent to the Messages API."""
    if role not in FINAL_TOOLS:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    name, description, schema = FINAL_TOOLS[role]
    return {"name": name, "description": description, "input_schema": schema}


def client_tools() -> list[dict[str, Any]]:
    """The two client tools every role gets (read-only roles get them read-only)."""
    return [dict(EDITOR_TOOL), dict(BASH_TOOL)]
