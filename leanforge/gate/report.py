"""The gate's structured result: each check with passed and a one-line reason."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from leanforge.gate.scan import Finding


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    items: tuple[str, ...] = ()  # e.g. the failing test ids


@dataclass(frozen=True)
class GateReport:
    slug: str
    run: int
    base_commit: str
    executor: str
    started_at: str
    duration_s: float
    checks: tuple[Check, ...]
    flags: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["passed"] = self.passed
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateReport:
        """Rebuild a saved report (``to_json``'s output)."""
        return cls(
            slug=data["slug"],
            run=data["run"],
            base_commit=data["base_commit"],
            executor=data["executor"],
            started_at=data["started_at"],
            duration_s=data["duration_s"],
            checks=tuple(
                Check(c["name"], c["passed"], c["detail"], tuple(c.get("items", ())))
                for c in data["checks"]
            ),
            flags=tuple(Finding(**f) for f in data.get("flags", ())),
            warnings=tuple(data.get("warnings", ())),
        )
