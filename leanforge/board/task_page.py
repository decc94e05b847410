"""The task page: one task's facts, its timeline of attempts, and the evidence behind each.

Renders the data layer's ``task_detail`` dict: the timeline (each attempt with its gate checks
and its reviewers' verdicts and blockers), the locked spec and acceptance tests, the diff with
its lines classed for colour, links and lazy panels for the agents' transcripts, and the model
cost by role. Pure, and escaped throughout like every page (see :mod:`leanforge.board.layout`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from leanforge.board.layout import (
    _attempts,
    _count,
    _duration,
    _e,
    _facts,
    _layout,
    _money,
    _q,
    _reviewers,
    _short,
    _time,
    _token,
)


def task_page(detail: Mapping[str, Any]) -> str:
    """One task: its timeline of attempts, gate checks and verdicts, spec, tests, diff, cost."""
    slug, status = str(detail.get("slug", "")), str(detail.get("status", ""))
    facts = {
        "Status": f'<span class="badge status-{_token(status)}">{_e(status)}</span>'
        + (
            f' <span class="record">record: {_e(detail.get("record_status"))}</span>'
            if detail.get("record_status") not in (None, "", status)
            else ""
        ),
        "Attempts": _e(_attempts(detail)),
        "Cost": _e(_money(detail.get("cost_usd"))),
        "Time": _e(_duration(detail.get("duration_s"))),
        "Branch": f"<code>{_e(detail.get('branch'))}</code> → <code>{_e(detail.get('base_branch'))}</code>",
        "Reviewers": _e(_reviewers(detail.get("reviewers"))),
        "Merged": f"<code>{_e(_short(detail.get('merged_commit')))}</code>"
        if detail.get("merged_commit")
        else "",
        "Playbook": _e(
            " ".join(
                str(v)
                for v in (detail.get("playbook_status"), _short(detail.get("playbook_commit")))
                if v
            )
        ),
        "Updated": _time(detail.get("updated_at")),
    }
    body = [
        f'<h1><span class="slug">{_e(slug)}</span> <span class="title">{_e(detail.get("title"))}</span></h1>',
        _facts(facts),
        f'<p class="failure">{_e(detail.get("failure"))}</p>' if detail.get("failure") else "",
        '<nav class="sections"><a href="#timeline">Timeline</a> <a href="#spec">Spec</a> '
        '<a href="#tests">Tests</a> <a href="#diff">Diff</a> '
        '<a href="#transcripts">Transcripts</a> <a href="#cost">Cost</a></nav>',
        '<section class="timeline"><h2>Timeline</h2><ol id="timeline">',
        *(_event(item) for item in detail.get("timeline") or []),
        "</ol></section>",
        f'<section id="spec"><h2>Spec</h2><pre class="spec">{_e(detail.get("spec"))}</pre></section>',
        _tests(detail.get("tests") or [], detail.get("holdout_count")),
        _diff(str(detail.get("diff") or ""), bool(detail.get("diff_truncated"))),
        _transcripts(slug, detail.get("transcripts") or []),
        _cost(detail.get("cost_by_role") or {}),
    ]
    return _layout(f"{slug} · Tasks", "tasks", "".join(body))


# --- pieces -------------------------------------------------------------------------------


def _event(item: Mapping[str, Any]) -> str:
    kind, status = str(item.get("kind", "event")), str(item.get("status") or "unknown")
    classes = f"event {_token(kind)} status-{_token(status)}"
    when = f" {_time(item.get('at'))}" if item.get("at") else ""
    badge = f'<span class="badge status-{_token(status)}">{_e(status)}</span>'
    if kind != "attempt":
        detail = f'<p class="detail">{_e(item.get("detail"))}</p>' if item.get("detail") else ""
        return f'<li class="{classes}"><div class="event-head"><span class="kind">{_e(kind)}</span>{when} {badge}</div>{detail}</li>'
    outcome = str(item.get("outcome") or "")
    parts = [
        f'<li class="{classes}" data-number="{_e(item.get("number"))}"><div class="event-head">'
        f'<span class="kind">attempt {_e(item.get("number"))}</span>{when} {badge}'
        + (f' <span class="outcome">{_e(outcome)}</span>' if outcome else "")
        + "</div>"
    ]
    if item.get("summary"):
        parts.append(f'<p class="summary">{_e(item["summary"])}</p>')
    if item.get("engineer_error"):
        parts.append(f'<pre class="error">{_e(item["engineer_error"])}</pre>')
    parts.append(_gate(item.get("gate")))
    verdicts = item.get("verdicts") or []
    if verdicts:
        parts.append('<ul class="verdicts">' + "".join(_verdict(v) for v in verdicts) + "</ul>")
    if item.get("merge_detail"):
        parts.append(f'<p class="merge-detail">{_e(item["merge_detail"])}</p>')
    parts.append("</li>")
    return "".join(parts)


def _gate(gate: Mapping[str, Any] | None) -> str:
    if not gate:
        return '<p class="gate none">The gate did not run.</p>'
    passed = bool(gate.get("passed"))
    checks = "".join(
        f'<li class="check {"passed" if c.get("passed") else "failed"}">'
        f'<span class="check-name">{_e(c.get("name"))}</span>'
        + (_block(c.get("detail"), "check-detail") if c.get("detail") else "")
        + (
            '<ul class="items">' + "".join(f"<li>{_e(i)}</li>" for i in c["items"]) + "</ul>"
            if c.get("items")
            else ""
        )
        + "</li>"
        for c in gate.get("checks") or []
    )
    run = f" run {_e(gate.get('run'))}" if gate.get("run") is not None else ""
    return (
        f'<div class="gate {"passed" if passed else "failed"}"><h4>Gate{run}: '
        f'{"passed" if passed else "failed"}</h4><ul class="checks">{checks}</ul></div>'
    )


def _verdict(verdict: Mapping[str, Any]) -> str:
    approved = bool(verdict.get("approve"))
    blockers = "".join(
        '<li class="blocker">'
        f'<strong class="blocker-title">{_e(b.get("title"))}</strong>'
        + (_block(b.get("detail"), "blocker-detail") if b.get("detail") else "")
        + (
            f'<pre class="counterexample">{_e(b.get("counterexample"))}</pre>'
            if b.get("counterexample")
            else ""
        )
        + "</li>"
        for b in verdict.get("blockers") or []
    )
    return (
        f'<li class="verdict {"approved" if approved else "rejected"}'
        f'{" problem" if verdict.get("problem") else ""}" data-lens="{_e(verdict.get("lens"))}">'
        f'<div class="verdict-head"><span class="lens">{_e(verdict.get("lens"))}</span> '
        f'<span class="reviewer">{_e(verdict.get("reviewer"))}</span> '
        f'<span class="decision">{"approved" if approved else "rejected"}</span></div>'
        + (f'<p class="problem">{_e(verdict["problem"])}</p>' if verdict.get("problem") else "")
        + (f'<ul class="blockers">{blockers}</ul>' if blockers else "")
        + (_block(verdict.get("notes"), "notes") if verdict.get("notes") else "")
        + "</li>"
    )


def _tests(tests: Iterable[Mapping[str, Any]], holdout: object) -> str:
    shown = "".join(
        f'<figure class="test"><figcaption><code>{_e(t.get("path"))}</code></figcaption>'
        f"<pre>{_e(t.get('text'))}</pre></figure>"
        for t in tests
    )
    hidden = (
        f'<p class="holdout">{_e(holdout)} holdout test file(s), kept from the engineer.</p>'
        if holdout
        else ""
    )
    shown = shown or '<p class="empty">No tests.</p>'
    return f'<section id="tests"><h2>Acceptance tests</h2>{hidden}{shown}</section>'


def _diff(diff: str, truncated: bool) -> str:
    if not diff.strip():
        return '<section id="diff"><h2>Diff</h2><p class="empty">No diff yet.</p></section>'
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "diff --git", "index ")):
            kind = "file"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = "ctx"
        # The newline sits inside the span: spans are blocks, and text between them would render.
        lines.append(f'<span class="{kind}">{_e(line)}\n</span>')
    note = '<p class="truncated">The diff was truncated.</p>' if truncated else ""
    return (
        f'<section id="diff"><h2>Diff</h2>{note}<pre class="diff">{"".join(lines)}</pre></section>'
    )


def _transcripts(slug: str, sessions: Iterable[Mapping[str, Any]]) -> str:
    links, panels = [], []
    for s in sessions:
        session = str(s.get("session", ""))
        url = _e(f"/api/tasks/{_q(slug)}/transcripts/{_q(session)}")
        label = f"{s.get('role') or 'session'} · {session}"
        meta = f"{_e(s.get('events'))} events" + (
            f" · {_time(s.get('started_at'))}" if s.get("started_at") else ""
        )
        links.append(f'<li><a href="{url}">{_e(label)}</a> <span class="meta">{meta}</span></li>')
        panels.append(
            f'<details class="transcript" data-session="{_e(session)}" data-url="{url}">'
            f'<summary><span class="role">{_e(s.get("role"))}</span> '
            f'<code>{_e(session)}</code> <span class="meta">{meta}</span></summary>'
            '<div class="transcript-body"><p class="loading">Loading…</p></div></details>'
        )
    if not links:
        return '<section id="transcripts"><h2>Transcripts</h2><p class="empty">No sessions yet.</p></section>'
    return (
        '<section id="transcripts"><h2>Transcripts</h2>'
        f'<ul class="transcript-links">{"".join(links)}</ul>{"".join(panels)}</section>'
    )


def _cost(by_role: Mapping[str, Mapping[str, Any]]) -> str:
    if not by_role:
        return '<section id="cost"><h2>Cost</h2><p class="empty">No model calls yet.</p></section>'
    fields = ("calls", "input_tokens", "output_tokens")
    total = {f: sum(int(v.get(f) or 0) for v in by_role.values()) for f in fields}
    spent = sum(float(v.get("cost_usd") or 0.0) for v in by_role.values())

    def cells(values: Mapping[str, Any], cost: object) -> str:
        numbers = "".join(f'<td class="num">{_e(_count(values.get(f)))}</td>' for f in fields)
        return f'{numbers}<td class="num cost">{_e(_money(cost))}</td>'

    rows = "".join(
        f'<tr data-role="{_e(role)}"><th scope="row">{_e(role)}</th>{cells(v, v.get("cost_usd"))}</tr>'
        for role, v in by_role.items()
    )
    return (
        '<section id="cost"><h2>Cost</h2><div class="scroll"><table class="cost"><thead><tr>'
        "<th>Role</th><th>Calls</th><th>Input tokens</th><th>Output tokens</th><th>Cost</th>"
        f'</tr></thead><tbody>{rows}</tbody><tfoot><tr class="total"><th scope="row">Total</th>'
        f"{cells(total, spent)}</tr></tfoot></table></div></section>"
    )


def _block(value: object, cls: str) -> str:
    """Short text as a paragraph, multi-line text as preformatted."""
    text = str(value)
    tag = "pre" if "\n" in text else "p"
    return f'<{tag} class="{cls}">{_e(text)}</{tag}>'
