from __future__ import annotations

from pathlib import Path

from leanforge.agent.transcript import REDACTED, Redactor, Transcript, clip, read, secret_values

KEY = "sk-ant-api03-" + "Z" * 40


def test_secret_values_come_from_secret_names_only() -> None:
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "GITHUB_TOKEN": "ghs_shortish_token_1234",
        "HOME": "/root/home-dir",
    }
    assert set(secret_values(env)) == {KEY, "ghs_shortish_token_1234"}
    assert secret_values({"MY_TOKEN": "short"}) == ()


def test_redaction_reaches_keys_values_and_nested_blocks(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    custom = "house-secret-value-42"
    with Transcript(path, Redactor([custom])) as transcript:
        transcript.write(
            "tool",
            input={"command": f"echo {custom}", custom: 1},
            result=[
                {"text": f"key={KEY} auth=Bearer abcdefghijklmnopqrstuvwxyz gh=ghp_{'a' * 36}"}
            ],
        )
    text = path.read_text()
    assert (
        custom not in text
        and KEY not in text
        and "ghp_" not in text
        and "abcdefghijklmnop" not in text
    )
    (event,) = list(read(path))
    assert event["event"] == "tool" and REDACTED in event["input"]["command"]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Transcript(path, Redactor()) as transcript:
        transcript.write("start", role="engineer")
    with path.open("a") as handle:
        handle.write('{"event": "resp')
    assert [e["event"] for e in read(path)] == ["start"]


def test_clip_keeps_head_and_tail() -> None:
    text = "HEAD" + "x" * 50_000 + "TAIL"
    out = clip(text, 1_000)
    assert out.startswith("HEAD") and out.endswith("TAIL") and len(out) < 1_200
    assert "50008" not in out and "characters cut" in out
    assert clip("short") == "short"
