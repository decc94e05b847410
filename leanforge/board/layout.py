"""The board's shared page furniture: the document shell, the nav, and escaping and formatting.

Every page module builds its ``<main>`` content from these helpers and hands it to
:func:`_layout`. ``_e`` escapes every value on the way out (agents wrote the data; it is not
trusted), ``_q`` keeps a hostile name inside its path segment, and the ``_money``,
``_duration``, ``_time`` and friends turn raw numbers and stamps into the text the pages show,
with ``DASH`` for anything missing. All pure functions from values to strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

NAV = (("tasks", "/", "Tasks"), ("labs", "/labs", "Labs"), ("playbook", "/playbook", "Playbook"))
DASH = "—"
ACTIVE = ' class="active" aria-current="page"'


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


def _facts(facts: Mapping[str, str]) -> str:
    """A definition list of already-escaped values; empty ones are left out."""
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{v}</dd></div>" for k, v in facts.items() if v)
    return f'<dl class="facts">{items}</dl>'


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
