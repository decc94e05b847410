"""The board's pages as whole HTML documents: pure functions from the data layer's dicts.

Every value is escaped on the way out (the data comes from agents and must not be trusted),
and nothing relies on inline script, inline style or event handler attributes, so the
server's strict CSP holds. ``board.js`` swaps ``<main id="content">`` on live updates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from leanforge.board.svg import lab_chart

NAV = (("tasks", "/", "Tasks"), ("labs", "/labs", "Labs"), ("playbook", "/playbook", "Playbook"))
DASH = "—"
ACTIVE = ' class="active" aria-current="page"'


def tasks_page(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every task: status, attempts, cost, time, reviewers."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.get("status"))] = counts.get(str(row.get("status")), 0) + 1
    summary = " · ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    body = [
        "<h1>Tasks</h1>",
        f'<p class="summary">{_e(summary)}</p>' if rows else "",
        '<div class="scroll"><table id="tasks"><thead><tr><th>Task</th><th>Status</th>'
        "<th>Attempts</th><th>Cost</th><th>Time</th><th>Reviewers</th><th>Updated</th>"
        "</tr></thead><tbody>",
    ]
    for row in rows:
        slug, status = str(row.get("slug", "")), str(row.get("status", ""))
        notes = ""
        if row.get("failure"):
            notes += f'<div class="failure">{_e(row.get("failure"))}</div>'
        if row.get("merged_commit"):
            notes += (
                f'<div class="commit">merged <code>{_e(_short(row["merged_commit"]))}</code></div>'
            )
        body.append(
            f'<tr class="task status-{_token(status)}" data-slug="{_e(slug)}" '
            f'data-status="{_e(status)}" data-record-status="{_e(row.get("record_status"))}">'
            f'<td class="name"><a href="/tasks/{_q(slug)}">{_e(slug)}</a>'
            f'<div class="title">{_e(row.get("title"))}</div>{notes}</td>'
            f"{_status_cell(status)}"
            f'<td class="attempts">{_e(_attempts(row))}</td>'
            f'<td class="cost">{_e(_money(row.get("cost_usd")))}</td>'
            f'<td class="duration">{_e(_duration(row.get("duration_s")))}</td>'
            f'<td class="reviewers">{_e(_reviewers(row.get("reviewers")))}</td>'
            f'<td class="updated">{_time(row.get("updated_at"))}</td></tr>'
        )
    if not rows:
        body.append(
            '<tr class="empty"><td colspan="7">No tasks yet. Write one with '
            "<code>forge spec</code>, then <code>forge build</code>.</td></tr>"
        )
    body.append("</tbody></table></div>")
    return _layout("Tasks", "tasks", "".join(body))


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


def labs_page(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every lab: its metric, baseline, best, experiments and spend."""
    body = [
        "<h1>Labs</h1>",
        '<div class="scroll"><table id="labs"><thead><tr><th>Lab</th><th>Metric</th>'
        "<th>Baseline</th><th>Best</th><th>Experiments</th><th>Spent</th><th>State</th>"
        "</tr></thead><tbody>",
    ]
    for row in rows:
        name = str(row.get("name", ""))
        running = bool(row.get("running"))
        body.append(
            f'<tr class="lab{" running" if running else ""}" data-name="{_e(name)}">'
            f'<td class="name"><a href="/labs/{_q(name)}">{_e(name)}</a>'
            + (f'<div class="failure">{_e(row["error"])}</div>' if row.get("error") else "")
            + "</td>"
            f'<td class="metric">{_e(row.get("metric"))} {_e(_arrow(row.get("direction")))}</td>'
            f'<td class="baseline">{_e(_measure(row.get("baseline")))}</td>'
            f'<td class="best">{_e(_measure(row.get("best"), with_id=True))}</td>'
            f'<td class="experiments">{_e(row.get("experiments"))}</td>'
            f'<td class="cost">{_e(_money(row.get("spent_usd")))}</td>'
            f'<td class="state">{_lab_state(running, row.get("locked"))}</td></tr>'
        )
    if not rows:
        body.append(
            '<tr class="empty"><td colspan="7">No labs yet. Start one with '
            "<code>forge lab init</code>.</td></tr>"
        )
    body.append("</tbody></table></div>")
    return _layout("Labs", "labs", "".join(body))


def lab_page(detail: Mapping[str, Any]) -> str:
    """One lab: the chart, the experiments table, the best, the director's notes and critique."""
    name, direction = str(detail.get("name", "")), str(detail.get("direction", "min"))
    rows: Sequence[Mapping[str, Any]] = detail.get("rows") or []
    counts = detail.get("counts") or {}
    facts = {
        "Metric": _e(f"{detail.get('metric')} {_arrow(direction)}"),
        "Target": f"<code>{_e(detail.get('target_branch'))}</code>",
        "Baseline": _e(_measure(detail.get("baseline"))),
        "Best": _e(_measure(detail.get("best"), with_id=True)),
        "Experiments": _e(" · ".join(f"{n} {k}" for k, n in counts.items()) if counts else DASH),
        "Spent": _e(_money(detail.get("spent_usd"))),
        "State": _lab_state(bool(detail.get("running")), detail.get("locked")),
        "Lock": f"<code>{_e(_short(detail.get('lock_sha256'), 12))}</code>"
        if detail.get("lock_sha256")
        else "",
        "Running": _e(_plain(detail.get("running"))) if _plain(detail.get("running")) else "",
    }
    body = [
        f'<h1><span class="slug">{_e(name)}</span></h1>',
        _facts(facts),
        '<section class="chart"><h2>Progress</h2>',
        lab_chart(rows, direction, metric=str(detail.get("metric") or "")),
        '<ul class="legend"><li class="kept">kept</li><li class="baseline">baseline</li>'
        '<li class="discarded">discarded</li><li class="failed">failed</li>'
        '<li class="best">best so far</li></ul></section>',
        '<section><h2>Experiments</h2><div class="scroll"><table id="experiments"><thead><tr>'
        "<th>#</th><th>Status</th><th>Result</th><th>Hypothesis</th><th>Cost</th><th>Time</th>"
        "<th>Commit</th></tr></thead><tbody>",
    ]
    for row in rows:
        status = str(row.get("status", ""))
        error = f'<pre class="error">{_e(row.get("error"))}</pre>' if row.get("error") else ""
        body.append(
            f'<tr class="experiment status-{_token(status)}" data-id="{_e(row.get("id"))}" '
            f'data-status="{_e(status)}"><td class="id">{_e(row.get("id"))}</td>'
            f"{_status_cell(status)}"
            f'<td class="result">{_e(_measure(row))}</td>'
            f'<td class="hypothesis">{_e(row.get("hypothesis"))}{error}</td>'
            f'<td class="cost">{_e(_money(row.get("cost_usd")))}</td>'
            f'<td class="duration">{_e(_duration(row.get("duration_s")))}</td>'
            f'<td class="commit"><code>{_e(_short(row.get("commit")))}</code></td></tr>'
        )
    if not rows:
        body.append('<tr class="empty"><td colspan="7">No experiments yet.</td></tr>')
    body.append("</tbody></table></div></section>")
    best = detail.get("best")
    if isinstance(best, Mapping):
        body.append(
            f'<section id="best"><h2>Best</h2>{_facts({k: _e(_plain(v)) for k, v in best.items()})}</section>'
        )
    history = detail.get("history")
    if history:
        items = history if isinstance(history, list) else [history]
        body.append(
            '<section id="history"><h2>History</h2><ul>'
            + "".join(f"<li>{_e(_history(item))}</li>" for item in items)
            + "</ul></section>"
        )
    for key, title in (("notes", "Director's notes"), ("critique", "Critique")):
        text = detail.get(key)
        body.append(
            f'<section id="{key}"><h2>{title}</h2>'
            + (f"<pre>{_e(text)}</pre>" if text else '<p class="empty">None yet.</p>')
            + "</section>"
        )
    return _layout(f"{name} · Labs", "labs", "".join(body))


def playbook_page(text: str) -> str:
    """The project's playbook, as a small subset of markdown."""
    inner = markdown(text) if text.strip() else '<p class="empty">No playbook yet.</p>'
    return _layout("Playbook", "playbook", f'<article id="playbook">{inner}</article>')


def not_found(message: str) -> str:
    """A 404 page that says what was missing."""
    return _layout(
        "Not found",
        "",
        f'<h1>Not found</h1><p class="message">{_e(message)}</p><p><a href="/">Back to tasks</a></p>',
    )


def markdown(text: str) -> str:
    """Headings, bullet and numbered lists, code fences and paragraphs; everything escaped."""
    out: list[str] = []
    paragraph: list[str] = []
    lists: list[str] = []
    fence: list[str] | None = None

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        while lists:
            out.append(f"</{lists.pop()}>")

    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith("```"):
                out.append(f"<pre><code>{_e(chr(10).join(fence))}</code></pre>")
                fence = None
            else:
                fence.append(line)
            continue
        stripped = line.strip()
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        item = re.match(r"([-*+]|\d+[.)])\s+(.*)", stripped)
        if stripped.startswith("```"):
            flush()
            fence = []
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph:
                out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
                paragraph.clear()
            kind = "ul" if item.group(1) in "-*+" else "ol"
            if lists and lists[-1] != kind:
                out.append(f"</{lists.pop()}>")
            if not lists:
                out.append(f"<{kind}>")
                lists.append(kind)
            out.append(f"<li>{_inline(item.group(2))}</li>")
        elif not stripped:
            flush()
        elif lists and line[:1].isspace():
            out[-1] = out[-1][: -len("</li>")] + f" {_inline(stripped)}</li>"
        else:
            while lists:
                out.append(f"</{lists.pop()}>")
            paragraph.append(stripped)
    if fence is not None:
        out.append(f"<pre><code>{_e(chr(10).join(fence))}</code></pre>")
    flush()
    return "".join(out)


# --- pieces -------------------------------------------------------------------------------


def _layout(title: str, active: str, content: str) -> str:
    links = "".join(
        f'<a href="{href}"{ACTIVE if key == active else ""}>{label}</a>' for key, href, label in NAV
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · forge board</title>"
        '<link rel="stylesheet" href="/static/board.css">'
        '<script src="/static/board.js" defer></script></head>'
        '<body data-live="1" data-updates="0"><header class="top">'
        f'<a class="brand" href="/">forge board</a><nav class="main">{links}</nav>'
        '<span class="live" title="live updates">live</span></header>'
        f'<main id="content">{content}</main></body></html>\n'
    )


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


def _facts(facts: Mapping[str, str]) -> str:
    """A definition list of already-escaped values; empty ones are left out."""
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{v}</dd></div>" for k, v in facts.items() if v)
    return f'<dl class="facts">{items}</dl>'


def _status_cell(status: str) -> str:
    return f'<td class="status status-{_token(status)}">{_e(status)}</td>'


def _lab_state(running: bool, locked: object) -> str:
    badges = ['<span class="badge status-building">running</span>'] if running else []
    badges.append(
        '<span class="badge locked">locked</span>'
        if locked
        else '<span class="badge unlocked">unlocked</span>'
    )
    return " ".join(badges)


def _block(value: object, cls: str) -> str:
    """Short text as a paragraph, multi-line text as preformatted."""
    text = str(value)
    tag = "pre" if "\n" in text else "p"
    return f'<{tag} class="{cls}">{_e(text)}</{tag}>'


# --- formatting ---------------------------------------------------------------------------


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _q(value: str) -> str:
    """A path segment: percent-encoded, so a hostile slug cannot leave it."""
    return escape(quote(value, safe=""), quote=True)


def _token(value: str) -> str:
    """A CSS class fragment made from data."""
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-") or "unknown"


def _short(value: object, length: int = 10) -> str:
    return str(value)[:length] if value else ""


def _money(value: object) -> str:
    if value is None or value == "":
        return DASH
    try:
        return f"${float(value):.4f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else _plain(value)


def _duration(value: object) -> str:
    """Seconds as ``42s``, ``1m 05s`` or ``2h 03m``."""
    if value is None or value == "":
        return DASH
    try:
        seconds = round(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _attempts(row: Mapping[str, Any]) -> str:
    attempts, limit = row.get("attempts"), row.get("attempt_limit")
    return f"{attempts or 0}/{limit}" if limit is not None else str(attempts or 0)


def _reviewers(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, Sequence):
        names = []
        for item in value:
            if isinstance(item, Mapping):
                mark = "✓" if item.get("approve") else "✗"
                names.append(f"{item.get('lens') or item.get('reviewer')} {mark}")
            else:
                names.append(str(item))
        return ", ".join(names)
    return "" if value is None else str(value)


def _measure(value: object, *, with_id: bool = False) -> str:
    """``12.3 ± 0.4`` from a dict with mean and std (and ``#id`` first when asked)."""
    if not isinstance(value, Mapping) or value.get("mean") is None:
        return DASH
    text = _num(value.get("mean"))
    if value.get("std"):
        text += f" ± {_num(value.get('std'))}"
    return f"#{value.get('id')} {text}" if with_id and value.get("id") is not None else text


def _num(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _arrow(direction: object) -> str:
    return {"min": "↓ lower is better", "max": "↑ higher is better"}.get(str(direction), "")


def _plain(value: object) -> str:
    """Any value as one line of text: strings as they are, the rest as compact JSON."""
    if value is None or isinstance(value, bool):
        return "" if not value else "yes"
    if isinstance(value, str | int | float):
        return _num(value)
    return json.dumps(value, sort_keys=True, default=str)


def _history(item: object) -> str:
    """A lock event (``{"at", "event", "sha256", "note"}``) as one line."""
    if not isinstance(item, Mapping):
        return _plain(item)
    parts = [item.get("at"), item.get("event"), _short(item.get("sha256"), 12), item.get("note")]
    return " · ".join(str(p) for p in parts if p)


def _time(value: object) -> str:
    """A ``<time>`` element for an ISO string or a Unix timestamp."""
    if value is None or value == "":
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        stamp = datetime.fromtimestamp(value, tz=UTC)
        iso, shown = stamp.isoformat(), stamp.strftime("%Y-%m-%d %H:%M:%S UTC")
    else:
        iso = shown = str(value)
        if "T" in shown:
            shown = shown.replace("T", " ").split(".")[0].removesuffix("+00:00")
    return f'<time datetime="{_e(iso)}">{_e(shown)}</time>'


def _inline(text: str) -> str:
    """Escaped text with `code` and **bold** spans."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{_e(part[1:-1])}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(part)))
    return "".join(out)
