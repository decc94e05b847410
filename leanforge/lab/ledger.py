"""A lab's state outside every worktree: ``<state dir>/labs/NAME/``.

Layout::

    lab.json              the lab record: lock digest, lock history, baseline, best, notes, counters
    lock/                 manifest.json + pristine bytes of the evaluator and data files
    results.jsonl         one row per finished experiment (and per baseline measurement)
    experiments/N.json    an experiment in progress, so a killed run resumes it under the same number
    transcripts/          one JSONL transcript per agent session
    lab.lock / run.lock   the record lock (short holds) and the one-run-at-a-time lock

Every write is atomic; the record is only changed under ``lab.lock``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leanforge.errors import CorruptState, LockBusy
from leanforge.state import PROBE_GRACE_SECONDS, RepoPaths, atomic_write_json, held


@dataclass(frozen=True)
class Measure:
    """The primary metric over repeated evaluator runs."""

    mean: float
    std: float
    samples: tuple[float, ...]


@dataclass(frozen=True)
class Best:
    id: int
    commit: str
    mean: float
    std: float


@dataclass(frozen=True)
class LabRecord:
    name: str
    lock_sha256: str = ""
    locked_at: str = ""
    #: lock and unlock events: {"at", "event", "sha256", "note"}.
    history: tuple[dict[str, str], ...] = ()
    #: The starting code's measure under the current lock: {"commit", "mean", "std", "lock"}.
    baseline: dict[str, Any] = field(default_factory=dict)
    best: Best | None = None
    next_id: int = 1
    notes: str = ""
    notes_after: int = 0
    critique: str = ""
    critique_after: int = 0
    #: USD spent by every session of the lab (workers, directors, critics), across runs.
    spent_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["history"] = list(self.history)
        return out

    @staticmethod
    def from_json(raw: dict[str, Any]) -> LabRecord:
        best = raw.get("best")
        return LabRecord(
            **{
                **raw,
                "history": tuple(raw.get("history", ())),
                "best": Best(**best) if best else None,
            }
        )


class LabPaths:
    """Where one lab keeps its state."""

    def __init__(self, paths: RepoPaths, name: str) -> None:
        self.repo = paths
        self.name = name
        self.root = paths.state_dir / "labs" / name

    @property
    def record(self) -> Path:
        return self.root / "lab.json"

    @property
    def lock_dir(self) -> Path:
        return self.root / "lock"

    @property
    def results(self) -> Path:
        return self.root / "results.jsonl"

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    @property
    def transcripts(self) -> Path:
        return self.root / "transcripts"

    def experiment(self, number: int) -> Path:
        return self.experiments / f"{number}.json"

    def worktree_slug(self, number: int | str) -> str:
        """The name of an experiment's worktree and its temporary branch (``forge/lab-NAME-N``)."""
        return f"lab-{self.name}-{number}"

    @property
    def branch(self) -> str:
        return f"forge/lab/{self.name}"

    def archive_ref(self, number: int) -> str:
        return f"refs/forge/lab/{self.name}/exp-{number}"


class Ledger:
    """Reads and writes one lab's record, experiments and results."""

    def __init__(self, paths: LabPaths) -> None:
        self.paths = paths

    def locked(self, timeout: float = 60.0) -> contextlib.AbstractContextManager[None]:
        """The record lock (short holds)."""
        return held(
            self.paths.root / "lab.lock",
            timeout,
            lambda: LockBusy(
                f"lab {self.paths.name}'s record has been locked for {timeout:.0f}s; retry"
            ),
        )

    def running(self) -> contextlib.AbstractContextManager[None]:
        """One `forge lab run` per lab at a time."""
        return held(
            self.paths.root / "run.lock",
            PROBE_GRACE_SECONDS,
            lambda: LockBusy(
                f"another `forge lab run {self.paths.name}` is running; wait for it or stop it first"
            ),
        )

    def get(self) -> LabRecord:
        path = self.paths.record
        if not path.is_file():
            return LabRecord(name=self.paths.name)
        try:
            return LabRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptState(
                f"{path} is unreadable ({exc}); restore it or remove the lab's state"
            ) from exc

    def put(self, record: LabRecord) -> None:
        atomic_write_json(self.paths.record, record.to_json())

    def spend(self, usd: float) -> LabRecord:
        """Add what a session cost to the lab's spending (read and written under the lock)."""
        with self.locked():
            record = self.get()
            updated = dataclasses.replace(record, spent_usd=round(record.spent_usd + usd, 6))
            self.put(updated)
        return updated

    def rows(self) -> list[dict[str, Any]]:
        path = self.paths.results
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                # A torn last line from a killed write: everything before it stands.
                if number != len(lines):
                    raise CorruptState(
                        f"{path} line {number} is not JSON; fix or remove it"
                    ) from None
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """Append a results row (call under the record lock)."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(row, sort_keys=True) + "\n").encode()
        fd = os.open(self.paths.results, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def experiment(self, number: int) -> dict[str, Any] | None:
        path = self.paths.experiment(number)
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def save_experiment(self, state: dict[str, Any]) -> dict[str, Any]:
        atomic_write_json(self.paths.experiment(int(state["id"])), state)
        return state

    def unfinished(self) -> list[dict[str, Any]]:
        """Experiments that were started but have no results row (a killed run's)."""
        if not self.paths.experiments.is_dir():
            return []
        done = {int(r["id"]) for r in self.rows()}
        found = []
        for path in self.paths.experiments.glob("*.json"):
            if path.stem.isdigit() and int(path.stem) not in done:
                state = self.experiment(int(path.stem))
                if state is not None:
                    found.append(state)
        return sorted(found, key=lambda s: int(s["id"]))
