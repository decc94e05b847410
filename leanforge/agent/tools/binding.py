"""What binds a session's tools to its worktree: where runs happen and what they see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from leanforge.sandbox.base import Executor, Mount


@dataclass(frozen=True)
class Binding:
    """One worktree, the executor that runs in it, and every run's interpreter, mounts and env."""

    worktree: Path
    executor: Executor
    python: Path
    mounts: tuple[Mount, ...]
    env: Mapping[str, str]
