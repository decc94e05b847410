"""`forge gate`: run the hardened gate on a task's worktree and show every check."""

from __future__ import annotations

import sys

import click

from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.gate.report import GateReport
from leanforge.tasks import gate_task


def format_report(report: GateReport) -> list[str]:
    """The report as plain lines: one per check, then the scan's flags."""
    lines = [
        f"gate run {report.run} for {report.slug}: {'PASSED' if report.passed else 'FAILED'} ({report.duration_s:.1f}s, sandbox {report.executor or '-'})"
    ]
    for check in report.checks:
        lines.append(f"  {'✓' if check.passed else '✗'} {check.name}: {check.detail}")
        if not check.passed:
            lines.extend(f"      - {item}" for item in check.items[:10])
    if report.flags:
        lines.append("  flags for reviewers:")
        lines.extend(
            f"    ! {f.path}{f':{f.line}' if f.line else ''} {f.kind}: {f.detail}"
            for f in report.flags[:30]
        )
    return lines


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("slug")
@json_option
def gate(slug: str, as_json: bool) -> None:
    """Run the hardened gate on SLUG's worktree as it is now.

    Restores the pristine tests, runs them without and with your conftest/config, checks
    the canaries and the held-out tests, runs the project suite and scans the diff.
    Exit 0 on pass, 1 on fail. Each run's report is saved with the task.
    """
    forge = forge_here()
    report, _ = gate_task(forge, slug, quiet if as_json else progress)
    if as_json:
        emit_json(report.to_json())
    else:
        for line in format_report(report):
            click.echo(line)
    sys.exit(0 if report.passed else 1)
