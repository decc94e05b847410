"""How a build reports progress: a small Protocol, with a plain-lines reporter and a silent one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from leanforge.records import Usage

#: Reviewer states shown while a panel runs.
WAITING, REVIEWING, APPROVED, BLOCKED = "waiting", "reviewing", "approved", "blocked"


class Reporter(Protocol):
    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        """A task entered ``stage`` (engineer, gate, review, merge, tech-lead, done, failed...)."""

    def reviewer(self, slug: str, index: int, lens: str, state: str) -> None:
        """Reviewer ``index`` (1-based) changed state."""

    def spent(self, slug: str, usage: Usage) -> None:
        """The task's total usage so far, all roles."""

    def note(self, slug: str, message: str) -> None:
        """A line worth showing (a gate result, a blocker, where the merge went)."""


class LineReporter:
    """One plain line per event, for logs and non-terminals."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo

    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        self.echo(f"{slug}: {stage} (attempt {attempt}/{of})")

    def reviewer(self, slug: str, index: int, lens: str, state: str) -> None:
        if state != WAITING:
            self.echo(f"{slug}: reviewer {index} ({lens}) {state}")

    def spent(self, slug: str, usage: Usage) -> None:
        if not usage.prompt_tokens and not usage.output_tokens:
            return  # a scripted replay: nothing to count
        self.echo(
            f"{slug}: {usage.prompt_tokens + usage.output_tokens:,} tokens, ${usage.cost_usd:.4f} so far"
        )

    def note(self, slug: str, message: str) -> None:
        self.echo(f"{slug}: {message}")


class SilentReporter:
    """Reports nothing (``--json`` runs)."""

    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        pass

    def reviewer(self, slug: str, index: int, lens: str, state: str) -> None:
        pass

    def spent(self, slug: str, usage: Usage) -> None:
        pass

    def note(self, slug: str, message: str) -> None:
        pass
