"""The fake Messages API, driven by the real anthropic SDK: replies, streams, errors and caching."""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError

import anthropic
import pytest

from leanforge.agent.fake_server import MessagesServer, error, reply, text, tool_use

# Not "claude-sonnet-5-5": this SDK warns that it is deprecated, and warnings are errors here.
MODEL = "claude-sonnet-4-6"
BASH_DEF: dict[str, Any] = {
    "name": "bash",
    "description": "Run a shell command.",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
}
SYSTEM = "You are forge's engineer. Work in the worktree and keep the tests green. " * 20
ROLE_TOKENS = 4


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as srv:
        yield srv


def client(server: MessagesServer, retries: int = 0, timeout: float = 5.0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=server.url, api_key="test-key", max_retries=retries, timeout=timeout
    )


def ask(c: anthropic.Anthropic, messages: Any = None, **kwargs: Any) -> anthropic.types.Message:
    messages = messages or [{"role": "user", "content": "Fix the bug."}]
    return c.messages.create(model=MODEL, max_tokens=256, messages=messages, **kwargs)


def cached(block: dict[str, Any], ttl: str | None = None) -> dict[str, Any]:
    control = {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}
    return {**block, "cache_control": control}


def tokens(block: dict[str, Any]) -> int:
    """The documented count: a quarter of the canonical JSON's length, cache_control left out."""
    bare = {k: v for k, v in block.items() if k != "cache_control"}
    return math.ceil(len(json.dumps(bare, sort_keys=True, separators=(",", ":"))) / 4)


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def message_tokens(*messages: dict[str, Any]) -> int:
    return sum(ROLE_TOKENS + sum(tokens(b) for b in m["content"]) for m in messages)


def api_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def usage_numbers(message: anthropic.types.Message) -> tuple[int, int, int]:
    u = message.usage
    return u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0, u.input_tokens


def test_round_trip_with_tool_use(server: MessagesServer) -> None:
    server.add(reply([text("Let me look."), tool_use("bash", {"command": "ls"})]))
    with client(server) as c:
        raw = c.messages.with_raw_response.create(
            model=MODEL,
            max_tokens=256,
            tools=[BASH_DEF],
            messages=[{"role": "user", "content": "What is here?"}],
        )
    message = raw.parse()
    assert raw.headers["request-id"] == "req_fake_1"
    assert (message.id, message.model, message.stop_reason) == ("msg_fake_1", MODEL, "tool_use")
    assert [b.to_dict() for b in message.content] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_fake_1", "name": "bash", "input": {"command": "ls"}},
    ]
    (captured,) = server.message_requests()
    assert captured.path == "/v1/messages"
    assert "anthropic-version" in captured.headers  # names arrive lower-cased
    assert "test-key" in " ".join(captured.headers.values())  # as x-api-key or a bearer token
    assert captured.body["tools"] == [BASH_DEF]
    assert json.loads(captured.raw) == captured.body
    assert server.pending == 0


def test_a_callable_step_answers_from_the_request(server: MessagesServer) -> None:
    def echo(body: dict[str, Any]) -> Any:
        ids = [b["tool_use_id"] for b in body["messages"][-1]["content"]]
        return reply([text(f"results for {ids}")])

    server.add(reply([tool_use("bash", {"command": "ls"})]), echo)
    with client(server) as c:
        first = ask(c)
        call = first.content[0]
        assert call.type == "tool_use"
        result = {"type": "tool_result", "tool_use_id": call.id, "content": "a.py"}
        history = [
            {"role": "user", "content": "Fix the bug."},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ]
        second = ask(c, history)
    assert second.content[0].type == "text"
    assert second.content[0].text == "results for ['toolu_fake_1']"


CONTENT = [
    text("Here is a longer answer, sent in pieces as the real API does."),
    tool_use(
        "str_replace_based_edit_tool",
        {"command": "create", "path": "a.py", "file_text": "print('é')\n", "n": [1, {"x": None}]},
        id="toolu_given",
    ),
]


def test_stream_rebuilds_the_same_message(server: MessagesServer) -> None:
    server.add(reply(CONTENT), reply(CONTENT))
    with client(server) as c:
        plain = ask(c)
        with c.messages.stream(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Fix the bug."}]
        ) as stream:
            final = stream.get_final_message()
    assert [b.to_dict() for b in final.content] == CONTENT
    assert [b.to_dict() for b in plain.content] == CONTENT
    assert final.usage == plain.usage
    assert final.usage.output_tokens > 1
    assert final.stop_reason == "tool_use"
    assert server.message_requests()[1].body["stream"] is True


def test_create_stream_yields_the_real_event_sequence(server: MessagesServer) -> None:
    server.add(reply(CONTENT))
    with client(server) as c:
        events = list(ask(c, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    fragments = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len(fragments) == 3
    assert json.loads("".join(fragments)) == CONTENT[1]["input"]


def test_unknown_blocks_are_streamed_as_is(server: MessagesServer) -> None:
    server.add(reply([text("a"), {"type": "mystery", "payload": 1}]))
    with (
        client(server) as c,
        c.messages.stream(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "mystery"]


def test_rate_limit_then_success_retries_after_the_header(server: MessagesServer) -> None:
    server.add(
        error(429, "rate_limit_error", "slow down", {"retry-after": "0.2"}),
        reply([text("done")]),
    )
    with client(server, retries=2) as c:
        message = ask(c)
    assert message.content[0].type == "text" and message.content[0].text == "done"
    first, second = server.message_requests()
    assert second.at - first.at >= 0.2
    assert first.raw == second.raw
    assert second.headers["x-stainless-retry-count"] == "1"


def test_error_step_reaches_the_sdk_as_its_status(server: MessagesServer) -> None:
    server.add(error(529, "overloaded_error", "Overloaded"))
    with client(server) as c, pytest.raises(anthropic.OverloadedError) as caught:
        ask(c)
    assert caught.value.body == api_error("overloaded_error", "Overloaded")


def test_a_slow_reply_times_out_and_the_retry_gets_the_next_step(server: MessagesServer) -> None:
    server.add(reply([text("slow")], delay=2.0), reply([text("fast")]))
    with client(server, retries=1, timeout=0.5) as c:
        message = ask(c)
    assert message.content[0].type == "text" and message.content[0].text == "fast"


def test_scripted_usage_is_used_verbatim(server: MessagesServer) -> None:
    server.add(reply([text("hi")], usage={"input_tokens": 7, "output_tokens": 3}))
    with client(server) as c:
        usage = ask(c).usage
    assert (usage.input_tokens, usage.output_tokens) == (7, 3)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (0, 0)


def test_cache_writes_the_system_prefix_then_reads_it(server: MessagesServer) -> None:
    system = [cached(text(SYSTEM))]
    opening = user(text("Fix the bug."))
    longer = [opening, {"role": "assistant", "content": [text("On it.")]}, user(text("Go on."))]
    server.add(*[reply([text("ok")]) for _ in range(2)])
    with client(server) as c:
        first = ask(c, [opening], system=system)
        second = ask(c, longer, system=system)
    assert usage_numbers(first) == (0, tokens(system[0]), message_tokens(opening))
    assert usage_numbers(second) == (tokens(system[0]), 0, message_tokens(*longer))
    assert sum(usage_numbers(second)) == tokens(system[0]) + message_tokens(*longer)
    assert second.usage.output_tokens == math.ceil(len('[{"text":"ok","type":"text"}]') / 4)


def test_cache_writes_are_split_by_the_ttl_that_closes_each_segment(
    server: MessagesServer,
) -> None:
    tools = [cached(BASH_DEF, ttl="1h")]
    system = [cached(text(SYSTEM))]
    turn = user(cached(text("Fix the bug.")))
    server.add(*[reply([text("ok")]) for _ in range(2)])
    with client(server) as c:
        first = ask(c, [turn], system=system, tools=tools)
        second = ask(c, [turn], system=system, tools=tools)
    split = first.usage.cache_creation
    assert split is not None
    assert split.ephemeral_1h_input_tokens == tokens(BASH_DEF)
    assert split.ephemeral_5m_input_tokens == tokens(system[0]) + message_tokens(turn)
    assert first.usage.cache_creation_input_tokens == tokens(BASH_DEF) + tokens(
        system[0]
    ) + message_tokens(turn)
    assert usage_numbers(second) == (first.usage.cache_creation_input_tokens, 0, 0)


@pytest.mark.parametrize(("moved", "hits"), [(0, True), (20, True), (21, False)])
def test_lookback_finds_a_prefix_up_to_twenty_blocks_back(
    server: MessagesServer, moved: int, hits: bool
) -> None:
    notes = [text(f"note {i:02d}") for i in range(40)]

    def marked_at(at: int) -> dict[str, Any]:
        return user(*notes[:at], cached(notes[at]))

    server.add(*[reply([text("ok")]) for _ in range(2)])
    with client(server) as c:
        ask(c, [marked_at(5)])
        later = ask(c, [marked_at(5 + moved)])
    prefix = message_tokens(user(*notes[:6]))
    whole = message_tokens(user(*notes[: 6 + moved]))
    read, written, uncached = usage_numbers(later)
    assert (read, written, uncached) == ((prefix, whole - prefix, 0) if hits else (0, whole, 0))


def test_more_than_four_breakpoints_is_refused_without_using_a_step(
    server: MessagesServer,
) -> None:
    server.add(reply([text("never sent")]))
    blocks = [cached(text(f"part {i}")) for i in range(5)]
    with client(server) as c, pytest.raises(anthropic.BadRequestError) as caught:
        ask(c, [user(*blocks)])
    assert caught.value.body == api_error(
        "invalid_request_error",
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    )
    assert server.pending == 1 and len(server.requests) == 1


def test_a_prompt_over_the_context_window_is_refused() -> None:
    long = user(text("x" * 400))
    with MessagesServer([reply([text("fits")])], context_window=50) as server, client(server) as c:
        with pytest.raises(anthropic.BadRequestError) as caught:
            ask(c, [long])
        assert caught.value.body == api_error(
            "invalid_request_error",
            f"prompt is too long: {message_tokens(long)} tokens > 50 maximum",
        )
        assert ask(c, [user(text("short"))]).content[0].type == "text"


def test_an_exhausted_script_answers_500(server: MessagesServer) -> None:
    with client(server) as c, pytest.raises(anthropic.InternalServerError) as caught:
        ask(c)
    assert caught.value.body == api_error("api_error", "fake server: script exhausted")
    assert len(server.message_requests()) == 1


def test_a_failing_step_function_answers_500_with_the_reason(server: MessagesServer) -> None:
    def broken(body: dict[str, Any]) -> Any:
        raise KeyError("tool_use_id")

    server.add(broken)
    with client(server) as c, pytest.raises(anthropic.InternalServerError) as caught:
        ask(c)
    assert "step raised KeyError('tool_use_id')" in str(caught.value)


def test_unknown_paths_answer_404_and_are_not_message_requests(server: MessagesServer) -> None:
    with pytest.raises(HTTPError) as caught:
        urllib.request.urlopen(f"{server.url}/v1/complete", data=b"{}", timeout=5)
    with caught.value as response:
        assert response.code == 404
        assert json.load(response)["error"]["type"] == "not_found_error"
    assert [r.path for r in server.requests] == ["/v1/complete"]
    assert server.message_requests() == []
