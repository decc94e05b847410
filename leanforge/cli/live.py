"""The build's live view on a terminal: one row per task, redrawn as the build moves."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from leanforge.pipeline.progress import APPROVED, BLOCKED, REVIEWING
from leanforge.records import Usage

_MARKS = {APPROVED: "[green]✓[/]", BLOCKED: "[red]✗[/]", REVIEWING: "[yellow]…[/]"}


@dataclass
class _Row:
    stage: str = "queued"
    attempt: str = ""
    reviewers: dict[int, tuple[str, str]] = field(default_factory=dict)
    tokens: int = 0
    cost: float = 0.0


class LiveReporter:
    """A rich table on stderr: stage, attempt, each reviewer's state, tokens and cost."""

    def __init__(self, slugs: list[str], console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.rows = {slug: _Row() for slug in slugs}
        self._lock = threading.Lock()
        self._live = Live(self._table(), console=self.console, refresh_per_second=4)

    def __enter__(self) -> LiveReporter:
        self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.update(self._table())
        self._live.__exit__(kind, exc, tb)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for name in ("task", "stage", "attempt", "reviewers", "tokens", "cost"):
            table.add_column(name, justify="right" if name in ("tokens", "cost") else "left")
        for slug, row in self.rows.items():
            marks = " ".join(
                f"{_MARKS.get(state, '·')} {lens}"
                for _, (lens, state) in sorted(row.reviewers.items())
            )
            table.add_row(
                slug, row.stage, row.attempt, marks, f"{row.tokens:,}", f"${row.cost:.4f}"
            )
        return table

    def _redraw(self) -> None:
        self._live.update(self._table())

    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        with self._lock:
            row = self.rows.setdefault(slug, _Row())
            row.stage, row.attempt = stage, f"{attempt}/{of}"
            if stage == "review":
                row.reviewers = {}
            self._redraw()

    def reviewer(self, slug: str, index: int, lens: str, state: str) -> None:
        with self._lock:
            self.rows.setdefault(slug, _Row()).reviewers[index] = (lens, state)
            self._redraw()

    def spent(self, slug: str, usage: Usage) -> None:
        with self._lock:
            row = self.rows.setdefault(slug, _Row())
            row.tokens, row.cost = usage.prompt_tokens + usage.output_tokens, usage.cost_usd
            self._redraw()

    def note(self, slug: str, message: str) -> None:
        with self._lock:
            self._live.console.print(f"[dim]{slug}:[/] {message}", highlight=False)
