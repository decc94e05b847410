"""The scripted model: deterministic replies from a list or a JSON/YAML file, for tests and demos.

A script is a list of turns. Each turn is either a Messages-API reply
(``{"content": [...], "stop_reason": "tool_use", "usage": {...}}``) or the short form
``{"text": "...", "tools": [{"name": "bash", "input": {"command": "ls"}}]}``, whose
stop_reason is ``tool_use`` when it calls tools and ``end_turn`` otherwise. In Python a turn
may also be a :class:`Reply`, or a function of the request that returns a turn.
Every request is recorded in ``requests``.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leanforge.agent.model import Block, CallUsage, ModelRequest, Reply
from leanforge.agent.routing import route_keys
from leanforge.errors import ConfigError, ModelUnavailable

Turn = Reply | Mapping[str, Any] | Callable[[ModelRequest], Any]

_USAGE_KEYS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_write_5m_tokens": "cache_write_5m_tokens",
    "cache_write_1h_tokens": "cache_write_1h_tokens",
    "cache_read_tokens": "cache_read_tokens",
    # The API's names, so a captured reply can be pasted into a script.
    "cache_creation_input_tokens": "cache_write_5m_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
}


class ScriptError(ConfigError):
    """A script turn is malformed."""


def to_reply(turn: Mapping[str, Any], number: int) -> Reply:
    """One script turn as a Reply; tool_use ids are filled in deterministically."""
    where = f"script turn {number}"
    if "content" in turn:
        content = turn["content"]
        if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
            raise ScriptError(f"{where}: content must be a list of blocks")
        blocks: list[Block] = [dict(b) for b in content]
    else:
        text, tools = turn.get("text", ""), turn.get("tools", [])
        if not isinstance(text, str) or not isinstance(tools, list):
            raise ScriptError(f"{where}: text must be a string and tools a list")
        blocks = [{"type": "text", "text": text}] if text else []
        for call in tools:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ScriptError(f"{where}: each tool needs a name and an input")
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": call["name"],
                    "input": call.get("input", {}),
                }
            )
    for index, block in enumerate(blocks):
        if block.get("type") == "tool_use" and not block.get("id"):
            block["id"] = f"toolu_scripted_{number:03d}_{index}"
    calls_tools = any(b.get("type") == "tool_use" for b in blocks)
    stop = turn.get("stop_reason") or ("tool_use" if calls_tools else "end_turn")
    usage = turn.get("usage") or {}
    if not isinstance(usage, dict) or any(
        k not in _USAGE_KEYS or not isinstance(v, int) for k, v in usage.items()
    ):
        raise ScriptError(f"{where}: usage must map token kinds to integers")
    return Reply(
        content=tuple(blocks),
        stop_reason=str(stop),
        usage=CallUsage(**{_USAGE_KEYS[k]: v for k, v in usage.items()}),
        model=str(turn.get("model", "scripted")),
    )


class ScriptedModel:
    """Replies with the next turn of its script and records every request.

    ``turns`` is one queue shared by every request. ``routes`` adds queues per role or lens
    (``{"engineer": [...], "reviewer/security": [...]}``): a request draws from the most
    specific route it matches (``leanforge.agent.routing``), else from ``turns``. One instance
    can serve a whole pipeline, its sessions in parallel included.
    """

    backend = "scripted"

    def __init__(
        self, turns: Iterable[Turn] = (), routes: Mapping[str, Iterable[Turn]] | None = None
    ) -> None:
        self.turns = list(turns)
        self._queue: deque[Turn] = deque(self.turns)
        self._routes = {key: deque(queue) for key, queue in (routes or {}).items()}
        self._lock = threading.Lock()
        self.requests: list[ModelRequest] = []

    def complete(self, request: ModelRequest) -> Reply:
        keys = route_keys(request.system, [str(t.get("name", "")) for t in request.tools])
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
            key = next((k for k in keys if self._routes.get(k)), "")
            queue = self._routes[key] if key else self._queue
            if not queue:
                if keys and not self.turns:
                    raise ModelUnavailable(
                        f"the scripted model has no more turns for the {keys[0]}; add turns to its route in the script"
                    )
                raise ModelUnavailable(
                    f"the scripted model ran out of turns after {len(self.turns)}; add turns to the script"
                )
            turn = queue.popleft()
        if callable(turn):
            turn = turn(request)
        if isinstance(turn, Reply):
            return turn
        if not isinstance(turn, Mapping):
            raise ScriptError(f"script turn {number} must be an object")
        return to_reply(turn, number)


@dataclass(frozen=True)
class Script:
    """A loaded script file: unrouted turns and turns per route."""

    turns: list[Turn]
    routes: dict[str, list[Turn]]

    def model(self) -> ScriptedModel:
        return ScriptedModel(self.turns, self.routes)


def load_script(path: Path) -> list[Turn]:
    """Read a script file's unrouted turns: JSON, or YAML when PyYAML is installed."""
    return _parse(_read(path), path).turns


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(
            f"cannot read the script {path} ({exc.strerror}); check agent.script"
        ) from exc
    if path.suffix in (".yaml", ".yml"):
        try:
            yaml: Any = importlib.import_module("yaml")
        except ImportError:
            raise ScriptError(
                f"{path} is YAML, which needs PyYAML; `pip install pyyaml` or write the script as JSON"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScriptError(f"{path} is not valid YAML ({exc}); fix the script") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScriptError(f"{path} is not valid JSON ({exc}); fix the script") from exc
    return data


def load_routed_script(path: Path) -> Script:
    """Read a script file that may also route turns by role: ``{"turns": [...], "routes": {...}}``."""
    return _parse(_read(path), path)


def _parse(data: Any, path: Path) -> Script:
    routes: Any = {}
    if isinstance(data, dict) and set(data) <= {"turns", "routes"}:
        routes = data.get("routes", {})
        data = data.get("turns", [])
    shape = f'{path} must hold a list of turns (or {{"turns": [...], "routes": {{"ROLE": [...]}}}})'
    if not isinstance(data, list) or not isinstance(routes, dict):
        raise ScriptError(shape)
    for queue in (data, *routes.values()):
        if not isinstance(queue, list) or not all(isinstance(t, dict) for t in queue):
            raise ScriptError(shape)
        for number, turn in enumerate(queue, 1):
            to_reply(turn, number)  # fail early, before any session starts
    return Script(list(data), {str(k): list(v) for k, v in routes.items()})
