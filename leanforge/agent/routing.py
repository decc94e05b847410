"""Which scripted queue a model request belongs to, for replaying a whole pipeline offline.

A pipeline runs many sessions, some in parallel (the reviewer panel), so one shared queue of
replies cannot say which reply belongs to which session. Requests name their role by the final
tool they offer, and reviewers name their lens in the system prompt (a line ``Lens: NAME``).
The scripted backend and the local Messages server both route by these keys, most specific
first: ``reviewer/correctness``, then ``reviewer``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from leanforge.agent.protocol import FINAL_TOOLS

_LENS_LINE = re.compile(r"^Lens: ([a-z0-9-]+)\s*$", re.MULTILINE)
_ROLE_BY_TOOL = {name: role for role, (name, _, _) in FINAL_TOOLS.items()}


def system_text(system: Any) -> str:
    """The system prompt as text, whether given as a string or as Messages-API blocks."""
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(
            str(block.get("text", "")) for block in system if isinstance(block, Mapping)
        )
    return ""


def route_keys(system: Any, tool_names: Iterable[str]) -> list[str]:
    """The queue keys a request may draw from, most specific first (empty if it names no role)."""
    roles = [_ROLE_BY_TOOL[name] for name in tool_names if name in _ROLE_BY_TOOL]
    if not roles:
        return []
    role = roles[0]
    lens = _LENS_LINE.search(system_text(system))
    return [f"{role}/{lens.group(1)}", role] if lens else [role]


def body_keys(body: Mapping[str, Any]) -> list[str]:
    """``route_keys`` for a raw Messages-API request body."""
    tools = body.get("tools") or []
    names = [str(t.get("name", "")) for t in tools if isinstance(t, Mapping)]
    return route_keys(body.get("system"), names)
