"""`forge list`, `forge show`, `forge clean`."""

from __future__ import annotations

from pathlib import Path

import click

from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.errors import CorruptState, LockTampered
from leanforge.lock import read_manifest, read_pristine
from leanforge.pipeline.attempts import Attempt, AttemptLog
from leanforge.pipeline.attempts import to_json as attempt_json
from leanforge.pipeline.history import format_attempt
from leanforge.records import TaskRecord, Usage, to_json
from leanforge.tasks import clean as clean_tasks


@click.command("list", context_settings=CONTEXT_SETTINGS)
@json_option
def list_tasks(as_json: bool) -> None:
    """List the tasks of this repository."""
    store = forge_here().store
    records: list[TaskRecord] = []
    broken: dict[str, str] = {}
    for slug in store.slugs():
        try:
            records.append(store.get(slug))
        except CorruptState as exc:
            broken[slug] = str(exc)
    if as_json:
        corrupt = [{"slug": s, "status": "corrupt", "error": e} for s, e in broken.items()]
        emit_json([to_json(r) for r in records] + corrupt)
        return
    if not records and not broken:
        click.echo(
            'no tasks yet; start one with: forge spec "what to build" --tests tests/test_it.py'
        )
        return
    width = max(len(s) for s in [*(r.slug for r in records), *broken])
    for r in records:
        click.echo(f"{r.slug:<{width}}  {r.status:<8}  attempts {r.attempts}  {r.title[:60]}")
    for slug, error in broken.items():
        click.echo(f"{slug:<{width}}  corrupt   {error}")


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def format_usage(usage: Usage) -> str:
    """One line of a role's spending, e.g. ``$0.0412 · 6 calls · 51.2k in (44.0k from cache) · 2.1k out``."""
    return (
        f"${usage.cost_usd:.4f} · {usage.calls} call{'s' if usage.calls != 1 else ''} · "
        f"{_tokens(usage.prompt_tokens)} in ({_tokens(usage.cache_read_tokens)} from cache) · "
        f"{_tokens(usage.output_tokens)} out"
    )


def show_payload(
    record: TaskRecord,
    lock_files: list[dict[str, str]],
    lock_state: str,
    transcripts: list[str] | None = None,
    attempts: list[Attempt] | None = None,
) -> dict[str, object]:
    return {
        **to_json(record),
        "cost_usd": round(record.cost_usd, 4),
        "transcripts": transcripts or [],
        "lock_files": lock_files,
        "lock_state": lock_state,
        "attempt_log": [attempt_json(a) for a in attempts or []],
    }


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("slug")
@json_option
def show(slug: str, as_json: bool) -> None:
    """Show one task: status, branch, worktree, lock, attempts, usage and cost."""
    forge = forge_here()
    record = forge.store.get(slug)
    try:
        lock_dir = forge.store.lock_dir(slug)
        manifest = read_manifest(lock_dir, record.lock_sha256)
        read_pristine(lock_dir, manifest)
        files = [{"path": f.path, "kind": f.kind, "sha256": f.sha256} for f in manifest.files]
        state = "verified"
    except (LockTampered, CorruptState) as exc:
        files, state = [], f"TAMPERED: {exc}"
    found = sorted(forge.store.transcripts_dir(slug).glob("*.jsonl"))
    attempts = AttemptLog(forge.store.attempts_dir(slug)).all()
    payload = show_payload(record, files, state, [str(path) for path in found], attempts)
    if as_json:
        emit_json(payload)
        return
    rows = [
        ("task", record.title),
        ("status", record.status),
        ("base", f"{record.base_branch} @ {record.base_commit[:12]}"),
        ("branch", record.branch),
        ("worktree", record.worktree),
        ("attempts", str(record.attempts)),
        (
            "gate runs",
            f"{record.gate_runs}"
            + (
                ""
                if record.last_gate_passed is None
                else f" (last {'passed' if record.last_gate_passed else 'failed'})"
            ),
        ),
        ("lock", f"sha256:{record.lock_sha256} ({state})"),
        ("locked files", ", ".join(record.locked_files)),
        ("held-out", str(record.holdout_count)),
        ("created", record.created_at),
        ("updated", record.updated_at),
        ("cost", f"${record.cost_usd:.4f}"),
    ]
    if record.merged_commit:
        rows.insert(
            2,
            (
                "merged",
                f"{record.merged_commit[:12]} (playbook: {record.playbook_status or 'pending'})",
            ),
        )
    if record.failure:
        rows.insert(2, ("failure", record.failure))
    rows += [(f"attempt {a.number}", format_attempt(a)) for a in attempts]
    rows += [(f"  {role}", format_usage(u)) for role, u in sorted(record.usage.items())]
    sessions = payload["transcripts"]
    if isinstance(sessions, list) and sessions:
        rows.append(("sessions", f"{len(sessions)} transcript(s) in {Path(sessions[0]).parent}"))
    for key, value in rows:
        click.echo(f"{key:>12}  {value}")


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("slug", required=False)
@click.option("--merged", is_flag=True, help="Clean every merged task.")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Clean every task (unmerged ones are kept unless --force).",
)
@click.option("--force", is_flag=True, help="Also delete unmerged work.")
@json_option
def clean(slug: str | None, merged: bool, everything: bool, force: bool, as_json: bool) -> None:
    """Remove tasks' worktrees, branches and state. Never deletes unmerged work without --force."""
    results = clean_tasks(
        forge_here(), slug, merged, everything, force, quiet if as_json else progress
    )
    if as_json:
        emit_json([{"slug": r.slug, "removed": r.removed, "reason": r.reason} for r in results])
        return
    if not results:
        click.echo("nothing to clean")
    for r in results:
        click.echo(f"{r.slug}: {r.reason}")
