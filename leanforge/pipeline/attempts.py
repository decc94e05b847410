"""What each engineer attempt did, step by step, saved as it happens so a killed build resumes.

One JSON file per attempt under ``tasks/<slug>/attempts/``. A field that is still empty is a
step not yet done: the build resumes at the first one, and never repeats a finished paid step.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leanforge.errors import CorruptState
from leanforge.state import atomic_write_json

#: How an attempt ended ("" while it runs).
ENGINEER_FAILED, GATE_FAILED, REJECTED, CONFLICT, MERGED = (
    "engineer failed",
    "gate failed",
    "rejected",
    "conflict",
    "merged",
)
RETRY = frozenset({ENGINEER_FAILED, GATE_FAILED, REJECTED, CONFLICT})


@dataclass(frozen=True)
class Blocker:
    title: str
    detail: str
    counterexample: str


@dataclass(frozen=True)
class Verdict:
    """One reviewer's verdict; ``problem`` says why a missing or malformed one was rejected."""

    reviewer: int
    lens: str
    approve: bool
    blockers: tuple[Blocker, ...] = ()
    notes: str = ""
    problem: str = ""
    cost_usd: float = 0.0
    transcript: str = ""


@dataclass(frozen=True)
class FailedCheck:
    name: str
    detail: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: str
    #: The target commit merged into the worktree before the engineer ran, and its conflicts.
    synced_target: str = ""
    conflicts: tuple[str, ...] = ()
    #: None until the engineer's session finished; its summary, or "" when it failed.
    summary: str | None = None
    engineer_error: str = ""
    commit: str = ""
    gate_run: int = 0
    gate_passed: bool | None = None
    failed_checks: tuple[FailedCheck, ...] = ()
    #: The branch commit the last passing gate judged: only it may be merged.
    gated_commit: str = ""
    verdicts: tuple[Verdict, ...] = ()
    merge_detail: str = ""
    outcome: str = ""

    @property
    def engineer_done(self) -> bool:
        return self.summary is not None


def to_json(attempt: Attempt) -> dict[str, Any]:
    return dataclasses.asdict(attempt)


def from_json(data: dict[str, Any]) -> Attempt:
    values = dict(data)
    values["conflicts"] = tuple(data.get("conflicts", ()))
    values["failed_checks"] = tuple(
        FailedCheck(c["name"], c["detail"], tuple(c.get("items", ())))
        for c in data.get("failed_checks", ())
    )
    values["verdicts"] = tuple(
        Verdict(
            **{
                **v,
                "blockers": tuple(Blocker(**b) for b in v.get("blockers", ())),
            }
        )
        for v in data.get("verdicts", ())
    )
    return Attempt(**values)


class AttemptLog:
    """The attempts of one task, in the state dir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, number: int) -> Path:
        return self.folder / f"{number:04d}.json"

    def all(self) -> list[Attempt]:
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("[0-9]*.json")):
            try:
                out.append(from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, KeyError, TypeError) as exc:
                raise CorruptState(
                    f"attempt file {path} is corrupted ({exc}); delete it to redo that attempt"
                ) from exc
        return out

    def latest(self) -> Attempt | None:
        attempts = self.all()
        return attempts[-1] if attempts else None

    def save(self, attempt: Attempt) -> Attempt:
        atomic_write_json(self.path(attempt.number), to_json(attempt))
        return attempt
