"""The task store: task records and gate reports in the state dir, written atomically."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from leanforge.errors import CorruptState, UnknownTask
from leanforge.records import TaskRecord, from_json, to_json
from leanforge.state import RepoPaths, atomic_write_json

RECORD_NAME = "task.json"


class TaskStore:
    """Reads and writes task records; callers hold ``forge_lock`` around read-modify-write."""

    def __init__(self, paths: RepoPaths) -> None:
        self.paths = paths

    def record_path(self, slug: str) -> Path:
        return self.paths.task_dir(slug) / RECORD_NAME

    def lock_dir(self, slug: str) -> Path:
        return self.paths.task_dir(slug) / "lock"

    def gate_dir(self, slug: str) -> Path:
        return self.paths.task_dir(slug) / "gate"

    def attempts_dir(self, slug: str) -> Path:
        """Where `forge build` saves each attempt's steps (``leanforge.pipeline.attempts``)."""
        return self.paths.task_dir(slug) / "attempts"

    def transcripts_dir(self, slug: str) -> Path:
        """Where the task's agent sessions write their JSONL transcripts."""
        return self.paths.task_dir(slug) / "transcripts"

    def exists(self, slug: str) -> bool:
        return self.record_path(slug).is_file()

    def slugs(self) -> list[str]:
        if not self.paths.tasks_dir.is_dir():
            return []
        return sorted(p.name for p in self.paths.tasks_dir.iterdir() if (p / RECORD_NAME).is_file())

    def get(self, slug: str) -> TaskRecord:
        path = self.record_path(slug)
        if not path.is_file():
            raise UnknownTask(f"no task named {slug!r}; `forge list` shows the tasks")
        try:
            return from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptState(
                f"task record {path} is corrupted ({exc}); restore it or `forge clean {slug} --force`"
            ) from exc

    def all(self) -> Iterator[TaskRecord]:
        for slug in self.slugs():
            yield self.get(slug)

    def put(self, record: TaskRecord) -> None:
        atomic_write_json(self.record_path(record.slug), to_json(record))

    def save_gate_report(self, slug: str, run: int, report: Mapping[str, Any]) -> Path:
        path = self.gate_dir(slug) / f"{run:04d}.json"
        atomic_write_json(path, report)
        return path

    def gate_report(self, slug: str, run: int) -> dict[str, Any]:
        """A report saved by ``save_gate_report``."""
        path = self.gate_dir(slug) / f"{run:04d}.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptState(
                f"gate report {path} is missing or unreadable ({exc}); run `forge gate {slug}` again"
            ) from exc
        return data
