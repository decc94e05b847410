"""The board's pages as whole HTML documents: pure functions from the data layer's dicts.

Every value is escaped on the way out (the data comes from agents and must not be trusted),
and nothing relies on inline script, inline style or event handler attributes, so the
server's strict CSP holds. ``board.js`` swaps ``<main id="content">`` on live updates.
This module holds the list pages, the lab page and the playbook; the task page lives in
:mod:`~leanforge.board.task_page`, the shell and formatting in :mod:`~leanforge.board.layout`
and the playbook's markdown in :mod:`~leanforge.board.markdown` (all re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leanforge.board.layout import (
    DASH,
    _arrow,
    _attempts,
    _duration,
    _e,
    _facts,
    _history,
    _layout,
    _measure,
    _money,
    _plain,
    _q,
    _reviewers,
    _short,
    _time,
    _token,
)
from leanforge.board.markdown import markdown
from leanforge.board.svg import lab_chart
from leanforge.board.task_page import task_page

__all__ = [
    "lab_page",
    "labs_page",
    "markdown",
    "not_found",
    "playbook_page",
    "task_page",
    "tasks_page",
]


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


# --- pieces -------------------------------------------------------------------------------


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
