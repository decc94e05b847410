"""One task's build in progress: its options, its locked inputs, and its record moves."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pygit2

from leanforge import lock
from leanforge.clock import iso
from leanforge.config import PLAYBOOK_RELPATH
from leanforge.context import Forge
from leanforge.errors import MergeRefused
from leanforge.gate.changes import blob_bytes
from leanforge.pipeline.attempts import AttemptLog
from leanforge.pipeline.history import Redactor
from leanforge.pipeline.progress import Reporter
from leanforge.records import TaskRecord, transition
from leanforge.state import forge_lock


@dataclass(frozen=True)
class BuildOptions:
    """What `forge build` was asked; None means "from the config"."""

    reviewers: int | None = None
    lenses: tuple[str, ...] = ()
    max_attempts: int | None = None
    max_cost: float | None = None
    #: Model id per role; the key "*" applies to every role.
    models: Mapping[str, str] = field(default_factory=dict)
    merge: bool = True


@dataclass(frozen=True)
class Locked:
    spec: str
    acceptance: Mapping[str, bytes]
    holdout: Mapping[str, bytes]


def read_locked(forge: Forge, slug: str, lock_sha256: str) -> Locked:
    """The task's locked spec, acceptance and held-out tests, checked against its manifest."""
    lock_dir = forge.store.lock_dir(slug)
    manifest = lock.read_manifest(lock_dir, lock_sha256)
    spec = lock.read_pristine(lock_dir, manifest, [lock.SPEC])
    return Locked(
        spec=b"\n".join(spec.values()).decode("utf-8", "replace"),
        acceptance=lock.read_pristine(lock_dir, manifest, [lock.ACCEPTANCE]),
        holdout=lock.read_pristine(lock_dir, manifest, [lock.HOLDOUT]),
    )


class BuildJob:
    def __init__(self, forge: Forge, slug: str, options: BuildOptions, reporter: Reporter) -> None:
        self.forge = forge
        self.slug = slug
        self.options = options
        self.reporter = reporter
        self.log = AttemptLog(forge.store.attempts_dir(slug))

    @property
    def repo(self) -> pygit2.Repository:
        return self.forge.repo

    def record(self) -> TaskRecord:
        return self.forge.store.get(self.slug)

    @cached_property
    def locked(self) -> Locked:
        return read_locked(self.forge, self.slug, self.record().lock_sha256)

    @cached_property
    def redact(self) -> Redactor:
        return Redactor(self.locked.holdout)

    @property
    def reviewers(self) -> int:
        return self.options.reviewers or self.forge.config.pipeline.reviewers

    @property
    def max_attempts(self) -> int:
        return self.options.max_attempts or self.forge.config.pipeline.max_attempts

    @property
    def max_cost(self) -> float:
        if self.options.max_cost is not None:
            return self.options.max_cost
        return self.forge.config.budgets.task_usd

    def budget_left(self) -> float:
        return self.max_cost - self.record().cost_usd

    def model(self, role: str) -> str | None:
        return self.options.models.get(role) or self.options.models.get("*")

    def target_tip(self) -> pygit2.Commit:
        branch = self.repo.branches.local.get(self.record().base_branch)
        if branch is None:
            raise MergeRefused(
                f"the target branch {self.record().base_branch!r} no longer exists; recreate it"
            )
        return branch.peel(pygit2.Commit)

    def playbook(self) -> str:
        """The team's playbook as committed on the target now (the last task's lessons included)."""
        data = blob_bytes(self.target_tip().tree, PLAYBOOK_RELPATH.as_posix())
        return data.decode("utf-8", "replace") if data else ""

    def move(self, status: str, note: str = "", **changes: Any) -> TaskRecord:
        """Advance the task record (under the repository lock) and return it."""
        with forge_lock(self.forge.paths):
            updated = transition(self.record(), status, self.now(), note, **changes)
            self.forge.store.put(updated)
        return updated

    def update(self, **changes: Any) -> TaskRecord:
        """Change record fields without a status move."""
        with forge_lock(self.forge.paths):
            updated = dataclasses.replace(self.record(), **changes)
            self.forge.store.put(updated)
        return updated

    def now(self) -> str:
        return iso(self.forge.clock.now())
