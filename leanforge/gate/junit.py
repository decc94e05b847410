"""Read pytest's junit XML. The gate trusts this report, never a process's exit code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass(frozen=True)
class Case:
    """One <testcase>: ``classname`` is the dotted module path plus any class names."""

    classname: str
    name: str
    outcome: str
    message: str = ""

    @property
    def function(self) -> str:
        """The test function's name without any parametrization suffix."""
        return self.name.split("[", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name


def parse(text: str) -> tuple[Case, ...]:
    """Every testcase in a junit document (raises ValueError if it is not junit XML)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"junit report is not valid XML: {exc}") from exc
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"junit report has root <{root.tag}>, expected <testsuites>")
    cases = []
    for element in root.iter("testcase"):
        outcome, message = PASSED, ""
        for child in element:
            if child.tag in ("failure", ERROR, SKIPPED):
                outcome = {"failure": FAILED, ERROR: ERROR, SKIPPED: SKIPPED}[child.tag]
                message = (child.get("message") or "") + ("\n" + child.text if child.text else "")
                if outcome != SKIPPED:
                    break
        cases.append(
            Case(
                classname=element.get("classname", ""),
                name=element.get("name", ""),
                outcome=outcome,
                message=message.strip(),
            )
        )
    return tuple(cases)


def read(path: Path) -> tuple[Case, ...] | None:
    """Parse the report at ``path``; None if the run never wrote one (or wrote garbage)."""
    try:
        return parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
