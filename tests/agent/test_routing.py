"""Scripted replies reach the right session: by role, and by lens for reviewers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanforge.agent.model import ModelRequest
from leanforge.agent.protocol import final_tool
from leanforge.agent.routing import body_keys, route_keys
from leanforge.agent.scripted import ScriptError, load_routed_script
from leanforge.errors import ModelUnavailable


def request(role: str, system: str = "You review.") -> ModelRequest:
    return ModelRequest(
        model="m", system=system, tools=[final_tool(role)], messages=[], max_tokens=10
    )


def test_keys_come_from_the_final_tool_and_the_lens_line() -> None:
    assert route_keys("x", ["bash", "submit_work"]) == ["engineer"]
    assert route_keys("Intro\nLens: security\nmore", ["submit_verdict"]) == [
        "reviewer/security",
        "reviewer",
    ]
    assert route_keys("no role", ["bash"]) == []
    body = {
        "system": [{"type": "text", "text": "Lens: performance"}],
        "tools": [{"name": "submit_verdict"}],
    }
    assert body_keys(body) == ["reviewer/performance", "reviewer"]


def test_a_routed_script_serves_each_role_from_its_own_queue(tmp_path: Path) -> None:
    verdict = {"approve": True, "blockers": [], "notes": ""}
    script = {
        "turns": [{"text": "unrouted"}],
        "routes": {
            "engineer": [{"tools": [{"name": "submit_work", "input": {"summary": "e"}}]}],
            "reviewer/security": [{"tools": [{"name": "submit_verdict", "input": verdict}]}],
            "reviewer": [{"text": "any reviewer"}],
        },
    }
    (tmp_path / "s.json").write_text(json.dumps(script))
    model = load_routed_script(tmp_path / "s.json").model()
    assert (
        model.complete(request("reviewer", "Lens: security")).content[0]["name"] == "submit_verdict"
    )
    assert (
        model.complete(request("reviewer", "Lens: correctness")).content[0]["text"]
        == "any reviewer"
    )
    assert model.complete(request("engineer")).content[0]["input"] == {"summary": "e"}
    assert model.complete(request("tech_lead")).content[0]["text"] == "unrouted"
    with pytest.raises(ModelUnavailable, match="ran out of turns"):
        model.complete(request("engineer"))


def test_a_malformed_route_is_refused_when_loaded(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"routes": {"engineer": "not a list"}}))
    with pytest.raises(ScriptError, match="must hold a list of turns"):
        load_routed_script(tmp_path / "s.json")
