"""A saved gate report reads back as the same report (reviewers are shown the saved one)."""

from __future__ import annotations

import json

from leanforge.gate.report import Check, GateReport
from leanforge.gate.scan import Finding


def test_a_report_round_trips_through_json() -> None:
    report = GateReport(
        slug="t",
        run=3,
        base_commit="abc",
        executor="bwrap",
        started_at="2026-11-22T00:00:00Z",
        duration_s=1.5,
        checks=(Check("lock", True, "ok"), Check("pass A", False, "1 failed", ("t::x failed",))),
        flags=(Finding("calc.py", "suspicious", "imports pytest", 3),),
        warnings=("slow",),
    )
    again = GateReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report and not again.passed
