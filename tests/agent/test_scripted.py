from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanforge.agent.model import ModelRequest, Reply
from leanforge.agent.scripted import ScriptedModel, ScriptError, load_script
from leanforge.errors import ModelUnavailable


def request(n: int = 1) -> ModelRequest:
    messages = [{"role": "user", "content": [{"type": "text", "text": f"go {n}"}]}]
    return ModelRequest("m", "sys", [], messages, 100)


def test_short_form_turns_become_replies_with_stable_ids() -> None:
    model = ScriptedModel(
        [
            {
                "text": "looking",
                "tools": [
                    {"name": "bash", "input": {"command": "ls"}},
                    {"name": "bash", "input": {"command": "pwd"}},
                ],
            },
            {"text": "done"},
        ]
    )
    first = model.complete(request(1))
    assert first.stop_reason == "tool_use"
    assert [b.get("id") for b in first.content] == [
        None,
        "toolu_scripted_001_1",
        "toolu_scripted_001_2",
    ]
    second = model.complete(request(2))
    assert second.stop_reason == "end_turn" and second.content == (
        {"type": "text", "text": "done"},
    )
    assert [r.messages[0]["content"][0]["text"] for r in model.requests] == ["go 1", "go 2"]
    with pytest.raises(ModelUnavailable, match="ran out of turns after 2"):
        model.complete(request(3))


def test_full_replies_callables_and_usage() -> None:
    fixed = Reply(content=({"type": "text", "text": "x"},), stop_reason="refusal")
    model = ScriptedModel(
        [
            {
                "content": [{"type": "text", "text": "hi"}],
                "stop_reason": "max_tokens",
                "usage": {"input_tokens": 7, "cache_read_input_tokens": 3},
            },
            lambda req: {"text": f"saw {len(req.messages)} message(s)"},
            fixed,
        ]
    )
    reply = model.complete(request())
    assert reply.stop_reason == "max_tokens"
    assert (reply.usage.input_tokens, reply.usage.cache_read_tokens) == (7, 3)
    assert model.complete(request()).content[0]["text"] == "saw 1 message(s)"
    assert model.complete(request()) is fixed


def test_script_files_json_and_yaml(tmp_path: Path) -> None:
    turns = [{"tools": [{"name": "submit_work", "input": {"summary": "s"}}]}]
    (tmp_path / "s.json").write_text(json.dumps({"turns": turns}))
    (tmp_path / "s.yaml").write_text("- tools:\n  - name: submit_work\n    input: {summary: s}\n")
    assert load_script(tmp_path / "s.json") == turns == load_script(tmp_path / "s.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"a": 1}', "must hold a list of turns"),
        ('[{"tools": [{"input": {}}]}]', "each tool needs a name"),
        ('[{"text": "x", "usage": {"input_tokens": "many"}}]', "usage must map"),
    ],
)
def test_bad_scripts_fail_before_a_session_starts(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(ScriptError, match=message):
        load_script(path)
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.json")
