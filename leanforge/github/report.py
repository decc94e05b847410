"""What forge writes on GitHub: the one progress comment and the pull request body. Pure text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from leanforge.pipeline.attempts import Attempt
from leanforge.pipeline.history import format_attempt

MARKER = "<!-- forge:progress -->"
DONE_LABEL = "forge:done"
FAILED_LABEL = "forge:failed"

#: The stages shown in the progress comment, in order.
STAGES = ("authorize", "spec", "build", "deliver")
PENDING, RUNNING, PASSED, FAILED = "pending", "running", "done", "failed"
_ICONS = {PENDING: "⬜", RUNNING: "⏳", PASSED: "✅", FAILED: "❌"}
#: Notes kept in the comment (the latest ones).
NOTES_SHOWN = 8


@dataclass(frozen=True)
class Board:
    """The progress comment's content; each update makes a new Board."""

    slug: str = ""
    states: Mapping[str, tuple[str, str]] = field(
        default_factory=lambda: {s: (PENDING, "") for s in STAGES}
    )
    notes: tuple[str, ...] = ()
    outcome: str = ""
    reason: str = ""
    link: str = ""
    cost_usd: float = 0.0
    run_url: str = ""

    def at(self, stage: str, state: str, detail: str = "") -> Board:
        return replace(self, states={**self.states, stage: (state, detail)})

    def noted(self, message: str) -> Board:
        return replace(self, notes=(*self.notes, message)[-NOTES_SHOWN:])


def progress_comment(board: Board) -> str:
    """The progress comment as markdown, with the marker forge finds it by."""
    if board.outcome == "done":
        head = "forge finished this issue"
    elif board.outcome == "failed":
        head = "forge could not finish this issue"
    elif board.outcome == "refused":
        head = "forge did not run"
    else:
        head = "forge is working on this issue"
    lines = [MARKER, f"### {head}", ""]
    for stage in STAGES:
        state, detail = board.states.get(stage, (PENDING, ""))
        lines.append(f"- {_ICONS[state]} **{stage}**" + (f": {detail}" if detail else ""))
    if board.reason:
        lines += ["", f"**Reason:** {board.reason}"]
    if board.link:
        lines += ["", f"**Result:** {board.link}"]
    if board.notes:
        lines += ["", "<details><summary>Latest events</summary>", ""]
        lines += [f"- {note}" for note in board.notes]
        lines += ["", "</details>"]
    footer = []
    if board.slug:
        footer.append(f"task `{board.slug}`")
    if board.cost_usd:
        footer.append(f"${board.cost_usd:.4f} spent")
    if board.run_url:
        footer.append(f"[workflow run]({board.run_url})")
    if footer:
        lines += ["", "<sub>" + " · ".join(footer) + "</sub>"]
    return "\n".join(lines) + "\n"


def _verdict_lines(attempt: Attempt) -> list[str]:
    lines = []
    for v in sorted(attempt.verdicts, key=lambda v: v.reviewer):
        word = "approved" if v.approve else "rejected"
        lines.append(
            f"- reviewer {v.reviewer} (`{v.lens}`): **{word}**"
            + (f": {v.notes}" if v.notes else "")
        )
        for b in v.blockers:
            lines.append(f"  - blocker: {b.title}: {b.detail}")
        if v.problem:
            lines.append(f"  - {v.problem}")
    return lines or ["- (no verdicts)"]


def attempt_line(attempt: Attempt) -> str:
    """One attempt as ``forge show`` words it; an unfinished one every reviewer passed is approved."""
    approved = bool(attempt.verdicts) and all(v.approve for v in attempt.verdicts)
    what = "approved" if not attempt.outcome and approved else format_attempt(attempt)
    return f"- attempt {attempt.number}: {what}"


def pull_body(
    *,
    number: int,
    slug: str,
    spec: str,
    tests: Sequence[str],
    gate: str,
    attempts: Sequence[Attempt],
    cost_by_role: Mapping[str, float],
    lock_sha256: str,
) -> str:
    """The pull request body: the spec, the gate report, each verdict, the attempts and the cost."""
    last = attempts[-1] if attempts else None
    total = sum(cost_by_role.values())
    lines = [
        f"Closes #{number}. Built by forge as task `{slug}`: the engineer's change passed the "
        "hardened gate on acceptance tests it could not edit, and every reviewer approved.",
        "",
        "## Spec",
        "",
        spec.strip(),
        "",
        "## Acceptance tests (locked)",
        "",
        *[f"- `{path}`" for path in tests],
        "",
        "## Gate report",
        "",
        gate.strip() or "(no gate report)",
        "",
        "## Reviewers",
        "",
        *(_verdict_lines(last) if last else ["- (none)"]),
        "",
        "## Attempts",
        "",
        *[attempt_line(a) for a in attempts],
        "",
        "## Cost",
        "",
        f"${total:.4f} in all: "
        + ", ".join(f"{role} ${usd:.4f}" for role, usd in sorted(cost_by_role.items())),
        "",
        f"<sub>Forge-Task: {slug} · Forge-Lock: sha256:{lock_sha256}</sub>",
    ]
    return "\n".join(lines) + "\n"
