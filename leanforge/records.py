"""Task records: the data and the state machine, as pure values and functions."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leanforge.errors import InvalidTransition

SPECCED, BUILDING, GATED, REVIEWED, MERGED, FAILED = (
    "specced",
    "building",
    "gated",
    "reviewed",
    "merged",
    "failed",
)
STATUSES = (SPECCED, BUILDING, GATED, REVIEWED, MERGED, FAILED)

#: Allowed moves. A failed gate or review sends the task back to building; failed can be retried.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    SPECCED: frozenset({BUILDING, GATED, FAILED}),
    BUILDING: frozenset({BUILDING, GATED, FAILED}),
    GATED: frozenset({BUILDING, GATED, REVIEWED, FAILED}),
    REVIEWED: frozenset({BUILDING, GATED, MERGED, FAILED}),
    FAILED: frozenset({BUILDING, GATED}),
    MERGED: frozenset(),
}


@dataclass(frozen=True)
class Usage:
    """Model calls, tokens and cost, summed: over one session, or over one role of a task."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in dataclasses.fields(Usage)
            }
        )

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the calls: uncached, written to the cache, and read from it."""
        return (
            self.input_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )


@dataclass(frozen=True)
class Event:
    at: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class TaskRecord:
    slug: str
    title: str
    status: str
    base_branch: str
    base_commit: str
    branch: str
    worktree: str
    lock_sha256: str
    locked_files: tuple[str, ...]
    holdout_count: int
    created_at: str
    updated_at: str
    spec_commit: str = ""
    attempts: int = 0
    gate_runs: int = 0
    last_gate_passed: bool | None = None
    merged_commit: str = ""
    #: `forge build` runs attempts up to this number before the task fails (0 = not started).
    attempt_limit: int = 0
    #: "" (not yet), "committed", "skipped" or "failed": the tech-lead's playbook after the merge.
    playbook_status: str = ""
    playbook_commit: str = ""
    #: Why the task last failed or stopped, in one line ("" when it has not).
    failure: str = ""
    usage: Mapping[str, Usage] = field(default_factory=dict)
    history: tuple[Event, ...] = ()

    @property
    def total_usage(self) -> Usage:
        """Every role's usage, summed."""
        return sum(self.usage.values(), Usage())

    @property
    def cost_usd(self) -> float:
        return self.total_usage.cost_usd


def transition(
    record: TaskRecord, status: str, at: str, note: str = "", **changes: Any
) -> TaskRecord:
    """Move ``record`` to ``status`` (a pure function): raises if the state machine forbids it."""
    if status not in TRANSITIONS[record.status]:
        raise InvalidTransition(f"task {record.slug} is {record.status}; it cannot become {status}")
    return dataclasses.replace(
        record,
        status=status,
        updated_at=at,
        history=(*record.history, Event(at=at, status=status, note=note)),
        **changes,
    )


def to_json(record: TaskRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["locked_files"] = list(record.locked_files)
    data["usage"] = {role: dataclasses.asdict(u) for role, u in record.usage.items()}
    data["history"] = [dataclasses.asdict(e) for e in record.history]
    return data


#: The JSON type each scalar field must have (bool is not an int here).
_SCALARS: Mapping[str, type | tuple[type, ...]] = {
    "slug": str,
    "title": str,
    "status": str,
    "base_branch": str,
    "base_commit": str,
    "branch": str,
    "worktree": str,
    "lock_sha256": str,
    "holdout_count": int,
    "created_at": str,
    "updated_at": str,
    "spec_commit": str,
    "attempts": int,
    "gate_runs": int,
    "last_gate_passed": (bool, type(None)),
    "merged_commit": str,
    "attempt_limit": int,
    "playbook_status": str,
    "playbook_commit": str,
    "failure": str,
}


def _check_types(data: Mapping[str, Any]) -> None:
    for name, kind in _SCALARS.items():
        if name not in data:
            continue
        value = data[name]
        if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
            raise TypeError(f"{name} has the wrong type ({type(value).__name__})")
    files = data["locked_files"]
    if not isinstance(files, list) or not all(isinstance(p, str) for p in files):
        raise TypeError("locked_files must be a list of paths")
    usage, history = data.get("usage", {}), data.get("history", [])
    if not isinstance(usage, dict) or not isinstance(history, list):
        raise TypeError("usage must be an object and history a list")
    for entry in usage.values():
        if not isinstance(entry, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in entry.values()
        ):
            raise TypeError("usage entries must hold numbers")
    for event in history:
        if not isinstance(event, dict) or not all(isinstance(v, str) for v in event.values()):
            raise TypeError("history events must hold strings")


def from_json(data: Mapping[str, Any]) -> TaskRecord:
    """Rebuild a record; raises KeyError/TypeError/ValueError on a malformed one."""
    names = {f.name for f in dataclasses.fields(TaskRecord)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    _check_types(data)
    values = dict(data)
    values["locked_files"] = tuple(data["locked_files"])
    values["usage"] = {str(role): Usage(**u) for role, u in data.get("usage", {}).items()}
    values["history"] = tuple(Event(**e) for e in data.get("history", []))
    record = TaskRecord(**values)
    if record.status not in STATUSES:
        raise ValueError(f"unknown status {record.status!r}")
    return record
