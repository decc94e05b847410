"""The lab chart as inline SVG: the metric over experiments, with the best-so-far step line.

Pure: rows in, markup out. Every piece of text is escaped, and styling comes from classes
(board.css) plus SVG presentation attributes, never ``style=``, so the page's CSP holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from leanforge.lab import decide
from leanforge.lab.status import best_so_far

#: Statuses drawn as an x-mark along the bottom: nothing trustworthy was measured.
FAILED = frozenset({decide.CRASHED, decide.REJECTED, decide.FAILED})
#: Statuses drawn as circles; anything else that was measured is drawn as discarded.
MEASURED = frozenset({decide.KEPT, decide.BASELINE, decide.DISCARDED})
#: Statuses that move the best-so-far line: only they are on the lab branch.
ON_BRANCH = (decide.KEPT, decide.BASELINE)

#: Space for tick labels: left, right, top, bottom.
MARGIN = (72, 16, 16, 36)
RADIUS = 4.5
HYPOTHESIS_CHARS = 160

_FILL = {decide.KEPT: "#2f855a", decide.BASELINE: "#4a5568", decide.DISCARDED: "#ffffff"}
_STROKE = {decide.KEPT: "#2f855a", decide.BASELINE: "#4a5568", decide.DISCARDED: "#718096"}


def lab_chart(
    rows: Sequence[Mapping[str, Any]],
    direction: str,
    *,
    width: int = 720,
    height: int = 320,
    metric: str = "",
) -> str:
    """An ``<svg id="lab-chart" class="chart">`` of each row's ``mean``, x = position in id order."""
    label = f"{metric or 'metric'} over experiments ({'lower' if direction == 'min' else 'higher'} is better)"
    head = (
        f'<svg id="lab-chart" class="chart{"" if rows else " empty"}" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}">'
    )
    if not rows:
        return (
            f'{head}<text class="empty" x="{width / 2:.1f}" y="{height / 2:.1f}" '
            f'text-anchor="middle">no experiments yet</text></svg>'
        )
    ordered = sorted(rows, key=lambda r: _id_key(r.get("id")))
    means = [_number(r.get("mean")) for r in ordered]
    statuses = [str(r.get("status") or "") for r in ordered]
    measured = [
        m for m, s in zip(means, statuses, strict=True) if m is not None and s not in FAILED
    ]
    low, high = _range(measured)
    left, right, top, bottom = MARGIN
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(ordered)

    def x(index: int) -> float:
        if count == 1:
            return left + plot_w / 2
        inset = min(RADIUS * 3, plot_w / 4)
        return left + inset + index * (plot_w - 2 * inset) / (count - 1)

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * plot_h

    parts = [head, f"<title>{escape(label)}</title>"]
    parts.append(_axes(left, top, plot_w, plot_h, measured, low, high, y, ordered, x))
    on_branch = [
        m if s in ON_BRANCH and m is not None else None
        for m, s in zip(means, statuses, strict=True)
    ]
    line = _step_points(best_so_far(on_branch, direction), x, y)
    if line:
        parts.append(
            f'<polyline class="best" points="{line}" fill="none" stroke="#3182ce" '
            f'stroke-width="2" stroke-linejoin="round"/>'
        )
    floor = top + plot_h - RADIUS - 2
    for index, (row, mean, status) in enumerate(zip(ordered, means, statuses, strict=True)):
        parts.append(_marker(row, mean, status, x(index), floor if mean is None else y(mean)))
    if not measured:
        parts.append(
            f'<text class="empty" x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
            f'text-anchor="middle">no experiment has been measured yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _id_key(value: object) -> tuple[int, float, str]:
    """Numeric ids in numeric order (2 before 10), then anything else as text."""
    try:
        return (0, float(str(value)), "")
    except ValueError:
        return (1, 0.0, str(value))


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _range(values: Sequence[float]) -> tuple[float, float]:
    """The y range: the data plus 8% headroom; a flat or empty series gets a band around it."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _axes(
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    measured: Sequence[float],
    low: float,
    high: float,
    y: Callable[[float], float],
    ordered: Sequence[Mapping[str, Any]],
    x: Callable[[int], float],
) -> str:
    base = top + plot_h
    out = [
        '<g class="axes" stroke="#a0aec0" stroke-width="1">',
        f'<line class="axis x" x1="{left:.1f}" y1="{base:.1f}" x2="{left + plot_w:.1f}" y2="{base:.1f}"/>',
        f'<line class="axis y" x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{base:.1f}"/>',
        "</g>",
        '<g class="ticks" fill="#4a5568" font-size="12">',
    ]
    if measured:
        values = sorted({min(measured), max(measured)})
        for value in values:
            out.append(
                f'<line class="grid" x1="{left:.1f}" y1="{y(value):.1f}" x2="{left + plot_w:.1f}" '
                f'y2="{y(value):.1f}" stroke="#e2e8f0" stroke-dasharray="4 4"/>'
                f'<text class="tick y" x="{left - 8:.1f}" y="{y(value) + 4:.1f}" '
                f'text-anchor="end">{escape(_fmt(value))}</text>'
            )
    first, last = ordered[0].get("id"), ordered[-1].get("id")
    ticks = [(0, first)] if len(ordered) == 1 else [(0, first), (len(ordered) - 1, last)]
    for index, ident in ticks:
        anchor = "middle" if len(ordered) == 1 else ("start" if index == 0 else "end")
        out.append(
            f'<text class="tick x" x="{x(index):.1f}" y="{base + 22:.1f}" '
            f'text-anchor="{anchor}">#{escape(str(ident))}</text>'
        )
    out.append("</g>")
    return "".join(out)


def _step_points(
    line: Sequence[float | None], x: Callable[[int], float], y: Callable[[float], float]
) -> str:
    """A step line: flat until a kept experiment improves the best, then straight up or down."""
    points: list[tuple[float, float]] = []
    previous: float | None = None
    for index, best in enumerate(line):
        if best is None:
            continue
        if previous is not None and best != previous:
            points.append((x(index), y(previous)))
        points.append((x(index), y(best)))
        previous = best
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in points)


def _marker(row: Mapping[str, Any], mean: float | None, status: str, cx: float, cy: float) -> str:
    ident = escape(str(row.get("id", "")))
    shown = escape(status or "unknown")
    if mean is None or status in FAILED:
        why = str(row.get("error") or row.get("hypothesis") or "")
        title = f"#{row.get('id', '')} {status or 'unknown'}" + (f" — {_clip(why)}" if why else "")
        s = RADIUS
        d = f"M{cx - s:.1f},{cy - s:.1f}L{cx + s:.1f},{cy + s:.1f}M{cx - s:.1f},{cy + s:.1f}L{cx + s:.1f},{cy - s:.1f}"
        return (
            f'<path class="point failed" data-id="{ident}" data-status="{shown}" d="{d}" '
            f'stroke="#c53030" stroke-width="2" fill="none"><title>{escape(title)}</title></path>'
        )
    kind = status if status in MEASURED else decide.DISCARDED
    std = _number(row.get("std"))
    value = _fmt(mean) + (f" ± {_fmt(std)}" if std else "")
    hypothesis = str(row.get("hypothesis") or "")
    title = f"#{row.get('id', '')} {status or 'unknown'}: {value}" + (
        f" — {_clip(hypothesis)}" if hypothesis else ""
    )
    return (
        f'<circle class="point {kind}" data-id="{ident}" data-status="{shown}" '
        f'cx="{cx:.1f}" cy="{cy:.1f}" r="{RADIUS}" fill="{_FILL[kind]}" '
        f'stroke="{_STROKE[kind]}" stroke-width="2"><title>{escape(title)}</title></circle>'
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= HYPOTHESIS_CHARS else text[: HYPOTHESIS_CHARS - 1] + "…"
