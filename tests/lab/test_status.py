"""`forge lab status` formatting: the chart, the table and the JSON summary (pure)."""

from __future__ import annotations

import json
from typing import Any

from leanforge.lab import decide
from leanforge.lab.ledger import Best, LabRecord
from leanforge.lab.setup import LabConfig
from leanforge.lab.status import best_so_far, chart, summary, table


def result(number: int, status: str, mean: float | None, **extra: Any) -> dict[str, Any]:
    return {"id": number, "status": status, "mean": mean, "std": 0.0, **extra}


def columns(lines: list[str]) -> list[str]:
    """The plot rows of a chart (top first), without the labels."""
    return [line.split("|", 1)[1] for line in lines if "|" in line]


ROWS = [
    result(0, decide.BASELINE, 100.0),
    result(1, decide.DISCARDED, 50.0),
    result(2, decide.KEPT, 80.0),
    result(3, decide.CRASHED, None),
]


def test_chart_marks_and_best_line_min() -> None:
    lines = chart(ROWS, "min", height=10)
    grid = columns(lines)
    assert len(grid) == 10
    # Levels: 100 -> top (9), 80 -> 5, 50 -> bottom (0); the crash sits at the worst (top).
    assert grid[0] == "*- x"
    assert grid[9 - 5] == "  *-"
    assert grid[9] == " o  "
    for index in set(range(10)) - {0, 4, 9}:
        assert grid[index] == "    ", index
    # The discarded 50 never moved the best line: no '-' on the bottom row.
    assert lines[0].startswith("100 |")
    assert lines[9].startswith(" 50 |")
    assert lines[10] == "    +----"
    assert "#0 .. #3" in lines[11]
    assert "* kept  o discarded  x failed  - best" in lines[11]


def test_chart_max_direction_puts_failures_at_the_bottom() -> None:
    rows = [
        result(0, decide.BASELINE, 10.0),
        result(1, decide.KEPT, 20.0),
        result(2, decide.REJECTED, None),
        result(3, decide.DISCARDED, 30.0),
    ]
    grid = columns(chart(rows, "max", height=3))
    # levels: 10 -> 0, 20 -> 1, 30 -> 2; best so far: 10, 20, 20, 20.
    assert grid == ["   o", " *--", "* x "]


def test_chart_kept_measure_worse_than_best_does_not_move_the_line() -> None:
    # A kept row can only improve the best; best_so_far ignores a worse value.
    assert best_so_far([5.0, None, 7.0, 3.0], "min") == [5.0, 5.0, 5.0, 3.0]
    assert best_so_far([5.0, None, 7.0, 3.0], "max") == [5.0, 5.0, 7.0, 7.0]
    assert best_so_far([None, None], "min") == [None, None]


def test_chart_squeezes_to_width() -> None:
    rows = [result(0, decide.BASELINE, 200.0)] + [
        result(i, decide.KEPT if i % 10 == 0 else decide.DISCARDED, 200.0 - i)
        for i in range(1, 130)
    ]
    lines = chart(rows, "min", width=60, height=5)
    grid = columns(lines)
    # 130 rows in 60 columns: every 3rd row, 44 columns, #0 .. #129.
    assert all(len(line) == 44 for line in grid)
    assert lines[-2].endswith("+" + "-" * 44)
    assert "#0 .. #129" in lines[-1]
    short = chart(rows[:60], "min", width=60, height=5)
    assert all(len(line) == 60 for line in columns(short))


def test_chart_without_rows_or_measures() -> None:
    assert chart([], "min") == ["(no experiments yet)"]
    failed = [result(1, decide.CRASHED, None), result(2, decide.FAILED, None)]
    assert chart(failed, "min") == ["(no experiment has been measured yet)"]


def test_chart_flat_values_do_not_divide_by_zero() -> None:
    rows = [result(0, decide.BASELINE, 7.0), result(1, decide.DISCARDED, 7.0)]
    grid = columns(chart(rows, "min", height=4))
    assert grid[-1] == "*o"


def test_table_one_line_per_row_with_errors_collapsed() -> None:
    rows = [
        result(0, decide.BASELINE, 100.0, hypothesis="baseline: the starting code"),
        result(
            1,
            decide.CRASHED,
            None,
            hypothesis="unroll\nthe loop",
            error="Traceback (most recent call last):\n  File x\nZeroDivisionError",
            cost_usd=0.0123,
            duration_s=4.25,
        ),
        result(2, decide.KEPT, 50.0, std=0.5, hypothesis="halve STEPS"),
        result(3, decide.REJECTED, None, hypothesis="", error="first\n" + "e" * 200 + "\n\n"),
    ]
    lines = table(rows)
    assert len(lines) == 5, lines
    assert lines[0].split()[:3] == ["#", "status", "mean"]
    assert "\n" not in "".join(lines)
    crashed = lines[2]
    assert crashed.lstrip().startswith("1  crashed")
    assert "no measure" in crashed
    assert "$ 0.0123" in crashed
    assert "4.2s" in crashed or "4.3s" in crashed
    # The end of an error says most: its last line, in brackets.
    assert crashed.endswith("unroll the loop [ZeroDivisionError]")
    assert "Traceback" not in crashed
    assert "50 ± 0.5" in lines[3] and lines[3].endswith("halve STEPS")
    assert lines[4].endswith("s  [" + "e" * 120 + "]")


def test_table_survives_a_blank_error() -> None:
    lines = table([result(1, decide.CRASHED, None, hypothesis="h", error=" \n ")])
    assert len(lines) == 2
    assert lines[0].split()[:2] == ["#", "status"]
    assert lines[1].lstrip().startswith("1  crashed")


def test_table_keeps_the_last_rows_and_caps_the_text() -> None:
    rows = [result(i, decide.DISCARDED, float(i), hypothesis="x" * 200) for i in range(50)]
    lines = table(rows, limit=40)
    assert len(lines) == 41
    assert lines[1].lstrip().startswith("10 ")
    assert lines[-1].lstrip().startswith("49 ")
    assert lines[-1].endswith("x" * 160) and "x" * 161 not in lines[-1]
    assert len(table([])) == 1


def test_summary_json() -> None:
    config = LabConfig(
        name="speed", eval="python e.py", metric="steps", direction="min", edit=("algo.py",)
    )
    history = ({"at": "2025-01-01T00:00:00Z", "event": "lock", "sha256": "a" * 64, "note": ""},)
    record = LabRecord(
        name="speed",
        lock_sha256="a" * 64,
        history=history,
        baseline={"commit": "c0", "mean": 100.0, "std": 0.0, "lock": "a" * 64},
        best=Best(id=2, commit="c2", mean=50.0, std=0.5),
        spent_usd=0.12345678,
        notes="try less",
    )
    rows = [
        result(0, decide.BASELINE, 100.0),
        result(1, decide.DISCARDED, 99.0),
        result(2, decide.KEPT, 50.0),
        result(3, decide.DISCARDED, 60.0),
    ]
    doc = summary(config, record, rows)
    json.dumps(doc)  # serializable
    assert doc["name"] == "speed" and doc["metric"] == "steps" and doc["direction"] == "min"
    assert doc["target_branch"] == "main"
    assert doc["locked"] is True and doc["lock_sha256"] == "a" * 64
    assert doc["history"] == list(history)
    assert doc["baseline"]["mean"] == 100.0
    assert doc["best"] == {"id": 2, "commit": "c2", "mean": 50.0, "std": 0.5}
    assert doc["experiments"] == 3
    assert doc["counts"] == {"baseline": 1, "discarded": 2, "kept": 1}
    assert doc["spent_usd"] == 0.123457
    assert doc["notes"] == "try less" and doc["critique"] == ""
    assert doc["rows"] == rows

    empty = summary(config, LabRecord(name="speed"), [])
    assert empty["locked"] is False and empty["best"] is None and empty["baseline"] is None
    assert empty["experiments"] == 0 and empty["counts"] == {} and empty["rows"] == []
