"""What the board shows, read from forge's state: plain dicts, ready for JSON. Never writes.

Every function takes a :class:`~leanforge.context.Forge` (one per request: pygit2 handles are
not shared across threads). Unknown tasks raise :class:`~leanforge.errors.UnknownTask`, unknown
labs and sessions :class:`NotFound`; a corrupted file becomes a visible error, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pygit2

from leanforge.agent.transcript import read as read_transcript
from leanforge.board.routes import SESSION
from leanforge.board.timeline import timeline
from leanforge.clock import iso
from leanforge.config import PLAYBOOK_RELPATH
from leanforge.context import Forge
from leanforge.errors import ForgeError, UnknownTask
from leanforge.gate.changes import blob_bytes
from leanforge.gate.report import GateReport
from leanforge.lab import setup
from leanforge.lab.ledger import LabPaths, Ledger
from leanforge.lab.status import summary
from leanforge.pipeline.attempts import Attempt, AttemptLog, from_json
from leanforge.pipeline.history import HOLDOUT_CHECK, Redactor
from leanforge.pipeline.job import read_locked
from leanforge.records import TaskRecord
from leanforge.state import is_held

#: Bytes of diff the board sends; the rest is cut (``diff_truncated``).
DIFF_LIMIT = 200_000
_SESSION_ID = re.compile(rf"^{SESSION}$")
_SESSION_TIME = re.compile(r"^(\d{8}T\d{6})-")
CORRUPT = "corrupt"


class NotFound(LookupError):
    """No such lab or transcript (the server answers 404)."""


def _seconds(start: str, end: datetime | str) -> float | None:
    try:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        finish = datetime.fromisoformat(end.replace("Z", "+00:00")) if isinstance(end, str) else end
        return round(max(0.0, (finish - begin).total_seconds()), 3)
    except (ValueError, TypeError):
        return None


def _attempts(forge: Forge, slug: str) -> tuple[list[Attempt], str]:
    """The task's attempts, or none and why when an attempt file is corrupted."""
    try:
        return AttemptLog(forge.store.attempts_dir(slug)).all(), ""
    except ForgeError as exc:
        return [], str(exc)


def _latest_attempt(forge: Forge, slug: str) -> tuple[list[Attempt], str]:
    """The task's latest attempt alone, or none and why its file is corrupted.

    Reads only the file ``AttemptLog.latest()`` ends on (that one parses every attempt file),
    with the same message for a corrupted one.
    """
    path = max(forge.store.attempts_dir(slug).glob("[0-9]*.json"), default=None)
    if path is None:
        return [], ""
    try:
        return [from_json(json.loads(path.read_text(encoding="utf-8")))], ""
    except (ValueError, KeyError, TypeError) as exc:
        return [], f"attempt file {path} is corrupted ({exc}); delete it to redo that attempt"


#: Every row's keys, with the values a row shows when its record cannot be read.
_ROW_DEFAULTS: dict[str, Any] = {
    "slug": "",
    "title": "",
    "status": CORRUPT,
    "record_status": CORRUPT,
    "attempts": 0,
    "attempt_limit": 0,
    "cost_usd": 0.0,
    "duration_s": None,
    "reviewers": 0,
    "created_at": "",
    "updated_at": "",
    "merged_commit": "",
    "failure": "",
}


def _row(forge: Forge, record: TaskRecord, attempts: Sequence[Attempt]) -> dict[str, Any]:
    building = is_held(forge.paths.task_dir(record.slug) / "build.lock")
    end: datetime | str = forge.clock.now() if building else record.updated_at
    return _ROW_DEFAULTS | {
        "slug": record.slug,
        "title": record.title,
        "status": "building" if building else record.status,
        "record_status": record.status,
        "attempts": record.attempts,
        "attempt_limit": record.attempt_limit,
        "cost_usd": round(record.cost_usd, 6),
        "duration_s": _seconds(record.created_at, end),
        "reviewers": len(attempts[-1].verdicts) if attempts else 0,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "merged_commit": record.merged_commit,
        "failure": record.failure,
    }


def _corrupt_row(slug: str, error: str) -> dict[str, Any]:
    return _ROW_DEFAULTS | {"slug": slug, "failure": error}


def _task_row(
    forge: Forge, slug: str, every_attempt: bool
) -> tuple[dict[str, Any], TaskRecord | None, list[Attempt]]:
    """The task's row, with the record and the attempts it was built from (None when corrupt).

    Only the latest attempt is read unless ``every_attempt``: the row needs no other.
    """
    try:
        record = forge.store.get(slug)
    except UnknownTask:
        raise
    except ForgeError as exc:
        return _corrupt_row(slug, str(exc)), None, []
    attempts, error = _attempts(forge, slug) if every_attempt else _latest_attempt(forge, slug)
    row = _row(forge, record, attempts)
    if error:
        row["failure"] = error
    return row, record, attempts


def task_rows(forge: Forge) -> list[dict[str, Any]]:
    """One row per task, newest first."""
    rows = [_task_row(forge, slug, every_attempt=False)[0] for slug in forge.store.slugs()]
    rows.sort(key=lambda r: r["slug"])
    rows.sort(key=lambda r: str(r["created_at"]), reverse=True)
    return rows


# -- one task -----------------------------------------------------------------------------------


def _gate(forge: Forge, slug: str, attempt: Attempt, redact: Redactor) -> dict[str, Any] | None:
    """The attempt's gate report, held-out details reduced to a count, names redacted."""
    if not attempt.gate_run:
        return None
    try:
        report = GateReport.from_json(forge.store.gate_report(slug, attempt.gate_run))
    except (ForgeError, KeyError, TypeError, ValueError):
        # No readable report: the attempt file's (already redacted) failed checks still tell.
        checks = [
            {"name": c.name, "passed": False, "detail": c.detail, "items": list(c.items)}
            for c in attempt.failed_checks
        ]
        return {"run": attempt.gate_run, "passed": bool(attempt.gate_passed), "checks": checks}
    shown = []
    for check in report.checks:
        if check.name == HOLDOUT_CHECK:
            detail = (
                "held-out tests passed"
                if check.passed
                else f"{len(check.items) or 'some'} held-out test(s) failed"
            )
            items: list[str] = []
        else:
            detail, items = redact(check.detail), [redact(i) for i in check.items[:20]]
        shown.append({"name": check.name, "passed": check.passed, "detail": detail, "items": items})
    return {"run": report.run, "passed": report.passed, "checks": shown}


def _commit(repo: pygit2.Repository, sha: str) -> pygit2.Commit | None:
    try:
        return repo[sha].peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        return None


def _diff(forge: Forge, record: TaskRecord, redact: Redactor) -> tuple[str, bool]:
    """The task's change: the merge against its first parent, or the branch since the target."""
    repo = forge.repo
    head = base = None
    merged = _commit(repo, record.merged_commit) if record.merged_commit else None
    if merged is not None and merged.parents:
        head, base = merged, merged.parents[0]
    else:
        branch = repo.branches.local.get(record.branch)
        head = branch.peel(pygit2.Commit) if branch is not None else None
        target = repo.branches.local.get(record.base_branch)
        base_id = None
        if head is not None and target is not None:
            base_id = repo.merge_base(target.peel(pygit2.Commit).id, head.id)
        base = _commit(repo, str(base_id) if base_id else record.base_commit)
    if head is None or base is None:
        return "", False
    patch = redact(base.tree.diff_to_tree(head.tree, context_lines=3).patch or "")
    data = patch.encode("utf-8", "replace")
    if len(data) <= DIFF_LIMIT:
        return patch, False
    return data[:DIFF_LIMIT].decode("utf-8", "ignore"), True


def _event(line: str) -> dict[str, Any] | None:
    """One transcript line's event, or None where :func:`read_transcript` skips the line."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def _role_and_count(path: Path) -> tuple[str, int]:
    """The role of the session's first start event, and how many events ``path`` holds.

    Parses only the lines up to that start event (the first or second) and the last line:
    the writer puts one whole event on each line and a killed one tears at most the last.
    """
    role, events, last = "", 0, None
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue  # blank: never an event
            if not role:
                event = _event(line)
                if event is not None:
                    events += 1
                    if event.get("event") == "start":
                        role = str(event.get("role", ""))
                continue
            if last is not None:
                events += 1
            last = line
    if last is not None and _event(last) is not None:
        events += 1
    return role, events


def _session_row(path: Path) -> dict[str, Any]:
    role, events = _role_and_count(path)
    stamp = _SESSION_TIME.match(path.stem)
    started = ""
    if stamp:
        started = iso(datetime.strptime(stamp.group(1) + "+0000", "%Y%m%dT%H%M%S%z"))
    parts = path.stem.split("-")
    return {
        "session": path.stem,
        "role": role or (parts[1] if len(parts) == 3 else ""),
        "events": events,
        "started_at": started,
    }


def _sessions(forge: Forge, slug: str) -> list[dict[str, Any]]:
    folder = forge.store.transcripts_dir(slug)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("*.jsonl") if _SESSION_ID.match(p.stem) and p.is_file()]
    return sorted((_session_row(p) for p in found), key=lambda s: (s["started_at"], s["session"]))


def task_detail(forge: Forge, slug: str) -> dict[str, Any]:
    """Everything the task page shows (``task_rows``' row plus the spec, tests, diff, timeline)."""
    row, record, attempts = _task_row(forge, slug, every_attempt=True)
    detail: dict[str, Any] = {
        **row,
        "base_branch": "",
        "branch": "",
        "spec": "",
        "tests": [],
        "holdout_count": 0,
        "lock_error": "",
        "diff": "",
        "diff_truncated": False,
        "timeline": [],
        "cost_by_role": {},
        "transcripts": [],
        "playbook_status": "",
        "playbook_commit": "",
    }
    if record is None:
        return detail
    holdout: Mapping[str, bytes] = {}
    try:
        locked = read_locked(forge, slug, record.lock_sha256)
        holdout = locked.holdout
        detail["spec"] = locked.spec
        detail["tests"] = [
            {"path": p, "text": data.decode("utf-8", "replace")}
            for p, data in sorted(locked.acceptance.items())
        ]
    except ForgeError as exc:
        detail["lock_error"] = str(exc)
    redact = Redactor(holdout)
    detail["diff"], detail["diff_truncated"] = _diff(forge, record, redact)
    gates = {a.number: _gate(forge, slug, a, redact) for a in attempts}
    detail.update(
        base_branch=record.base_branch,
        branch=record.branch,
        holdout_count=record.holdout_count,
        timeline=timeline(
            record, attempts, gates, row["status"] == "building", len(record.locked_files)
        ),
        cost_by_role={
            role: {
                "cost_usd": round(u.cost_usd, 6),
                "calls": u.calls,
                "input_tokens": u.prompt_tokens,
                "output_tokens": u.output_tokens,
                "cache_read_tokens": u.cache_read_tokens,
            }
            for role, u in sorted(record.usage.items())
        },
        transcripts=_sessions(forge, slug),
        playbook_status=record.playbook_status,
        playbook_commit=record.playbook_commit,
    )
    return detail


def transcript(forge: Forge, slug: str, session: str) -> dict[str, Any]:
    """One agent session's events, each JSONL line as a dict."""
    if not forge.store.exists(slug):
        raise UnknownTask(f"no task named {slug!r}")
    if not _SESSION_ID.match(session):
        raise NotFound(f"no session {session!r}")
    folder = forge.store.transcripts_dir(slug).resolve()
    path = (folder / f"{session}.jsonl").resolve()
    if path.parent != folder or not path.is_file():
        raise NotFound(f"task {slug} has no session {session!r}")
    return {"session": session, "events": list(read_transcript(path))}


# -- labs, the playbook, the version --------------------------------------------------------------


def _lab_running(forge: Forge, name: str) -> bool:
    return is_held(LabPaths(forge.paths, name).root / "run.lock")


def lab_rows(forge: Forge) -> list[dict[str, Any]]:
    """One row per lab defined in the checkout (``.forge/labs/NAME/lab.toml``)."""
    rows = []
    for name in setup.labs(forge.paths.workdir):
        try:
            doc = lab_detail(forge, name)
        except (ForgeError, NotFound) as exc:
            rows.append({"name": name, "error": str(exc), "running": _lab_running(forge, name)})
            continue
        rows.append(
            {key: doc[key] for key in ("name", "metric", "direction", "locked", "experiments")}
            | {
                "best": doc["best"],
                "baseline": doc["baseline"],
                "spent_usd": doc["spent_usd"],
                "running": doc["running"],
                "error": "",
            }
        )
    return rows


def lab_detail(forge: Forge, name: str) -> dict[str, Any]:
    """``forge lab status --json`` for one lab, plus whether a run holds it now."""
    if name not in setup.labs(forge.paths.workdir):
        raise NotFound(f"no lab named {name!r}")
    config = setup.load(forge.paths.workdir, name)
    ledger = Ledger(LabPaths(forge.paths, name))
    return {**summary(config, ledger.get(), ledger.rows()), "running": _lab_running(forge, name)}


def playbook(forge: Forge) -> str:
    """``.forge/PLAYBOOK.md`` as committed on the current branch (else the checkout's file)."""
    repo = forge.repo
    if not repo.head_is_unborn:
        data = blob_bytes(repo.head.peel(pygit2.Commit).tree, PLAYBOOK_RELPATH.as_posix())
        if data is not None:
            return data.decode("utf-8", "replace")
    path = forge.paths.workdir / PLAYBOOK_RELPATH
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def _files(roots: Iterable[Path]) -> Iterable[tuple[str, int, int]]:
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                if name.endswith(".lock"):
                    continue  # lock files change when anyone (the board too) takes them
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                yield os.path.join(folder, name), stat.st_mtime_ns, stat.st_size


def version(forge: Forge) -> str:
    """A cheap fingerprint of the state: it changes whenever something the board shows does."""
    state = forge.paths.state_dir
    digest = hashlib.sha256()
    roots = [state / "tasks", state / "labs", forge.paths.workdir / setup.LABS_RELPATH]
    for entry in sorted(_files(roots)):
        digest.update(json.dumps(entry).encode())
    results = state / "results.jsonl"
    if results.is_file():
        stat = results.stat()
        digest.update(f"results {stat.st_mtime_ns} {stat.st_size}".encode())
    try:
        resolved = forge.repo.lookup_reference("HEAD").resolve()
        digest.update(f"head {resolved.name} {resolved.target}".encode())
    except (KeyError, pygit2.GitError):
        head = forge.paths.common_dir / "HEAD"
        digest.update(head.read_bytes() if head.is_file() else b"")
    return digest.hexdigest()[:16]
