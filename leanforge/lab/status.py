"""`forge lab status`: the experiments table, the best, and a terminal chart. Pure formatting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leanforge.lab import decide
from leanforge.lab.ledger import LabRecord
from leanforge.lab.setup import LabConfig

MARKS = {decide.KEPT: "*", decide.BASELINE: "*", decide.DISCARDED: "o"}
FAIL_MARK = "x"
BEST_MARK = "-"


def best_so_far(values: Sequence[float | None], direction: str) -> list[float | None]:
    """The running best of ``values`` (None where nothing has been measured yet)."""
    out: list[float | None] = []
    best: float | None = None
    for value in values:
        if value is not None and (
            best is None or (value < best if direction == "min" else value > best)
        ):
            best = value
        out.append(best)
    return out


def chart(
    rows: Sequence[Mapping[str, Any]], direction: str, width: int = 60, height: int = 10
) -> list[str]:
    """The metric over experiments: ``*`` kept, ``o`` discarded, ``x`` failed, ``-`` best so far.

    Only kept (and baseline) experiments move the best-so-far line, because only they are
    on the lab branch. Columns are experiments, squeezed to ``width`` by taking every k-th.
    """
    if not rows:
        return ["(no experiments yet)"]
    step = max(1, -(-len(rows) // width))
    shown = list(rows)[::step]
    values = [r.get("mean") for r in shown]
    kept_values = [
        r.get("mean") if r.get("status") in (decide.KEPT, decide.BASELINE) else None for r in shown
    ]
    line = best_so_far(kept_values, direction)
    measured = [float(v) for v in values if v is not None]
    if not measured:
        return ["(no experiment has been measured yet)"]
    low, high = min(measured), max(measured)
    span = (high - low) or 1.0

    def level(value: float) -> int:
        return round((value - low) / span * (height - 1))

    grid = [[" "] * len(shown) for _ in range(height)]
    for col, best in enumerate(line):
        if best is not None:
            grid[level(best)][col] = BEST_MARK
    for col, row in enumerate(shown):
        value = row.get("mean")
        status = str(row.get("status", ""))
        if value is None:
            worst = height - 1 if direction == "min" else 0
            grid[worst][col] = FAIL_MARK
        else:
            grid[level(value)][col] = MARKS.get(status, FAIL_MARK)
    label_width = max(len(f"{high:.4g}"), len(f"{low:.4g}"))
    lines = []
    for index in range(height - 1, -1, -1):
        label = f"{high:.4g}" if index == height - 1 else f"{low:.4g}" if index == 0 else ""
        lines.append(f"{label:>{label_width}} |{''.join(grid[index])}")
    first, last = shown[0]["id"], shown[-1]["id"]
    lines.append(f"{'':>{label_width}} +{'-' * len(shown)}")
    lines.append(
        f"{'':>{label_width}}  #{first} .. #{last}   * kept  o discarded  x failed  - best"
    )
    return lines


def table(rows: Sequence[Mapping[str, Any]], limit: int = 40) -> list[str]:
    """One line per experiment (the last ``limit``)."""
    lines = [f"{'#':>4}  {'status':<9}  {'mean ± std':<22}  {'cost':>8}  {'time':>7}  hypothesis"]
    for row in list(rows)[-limit:]:
        text = " ".join(str(row.get("hypothesis") or "").split())
        if row.get("error"):
            # The end of an error says most (the exception, the failing check).
            tail = [part.strip() for part in str(row["error"]).splitlines() if part.strip()]
            text = f"{text} [{(tail or [''])[-1][-120:]}]".strip()
        lines.append(
            f"{row['id']:>4}  {row.get('status', ''):<9}  {decide.measure_text(row):<22}  "
            f"${row.get('cost_usd', 0.0):>7.4f}  {row.get('duration_s', 0.0):>6.1f}s  {text[:160]}"
        )
    return lines


def summary(
    config: LabConfig, record: LabRecord, rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The status as a JSON document."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.get("status"))] = counts.get(str(row.get("status")), 0) + 1
    return {
        "name": config.name,
        "metric": config.metric,
        "direction": config.direction,
        "target_branch": config.target,
        "locked": bool(record.lock_sha256),
        "lock_sha256": record.lock_sha256,
        "history": list(record.history),
        "baseline": record.baseline or None,
        "best": None
        if record.best is None
        else {
            "id": record.best.id,
            "commit": record.best.commit,
            "mean": record.best.mean,
            "std": record.best.std,
        },
        "experiments": sum(1 for r in rows if r.get("status") != decide.BASELINE),
        "counts": counts,
        "spent_usd": round(record.spent_usd, 6),
        "notes": record.notes,
        "critique": record.critique,
        "rows": list(rows),
    }
