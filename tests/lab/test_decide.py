"""The lab's pure decisions: the noise floor, keep or discard, where to start, when to stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leanforge.lab import decide
from leanforge.lab.decide import Limits, Progress
from leanforge.lab.ledger import Best, Measure

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
BEST = Best(id=3, commit="b" * 40, mean=100.0, std=1.0)


def measured(mean: float, std: float = 0.0) -> Measure:
    return Measure(mean=mean, std=std, samples=(mean,))


def progress(
    started: int = 0,
    spent: float = 0.0,
    best: float | None = 100.0,
    outcomes: tuple[bool, ...] = (),
) -> Progress:
    return Progress(started=started, spent=spent, best=best, outcomes=outcomes)


# -- noise_floor --------------------------------------------------------------------------


def test_noise_floor_is_k_times_the_larger_spread() -> None:
    assert decide.noise_floor(1.0, 0.5, 2.0, 0.0) == 2.0
    # A noisy candidate cannot slip through on a quiet baseline.
    assert decide.noise_floor(0.5, 3.0, 2.0, 0.0) == 6.0


def test_noise_floor_is_at_least_min_delta() -> None:
    assert decide.noise_floor(0.0, 0.0, 2.0, 0.75) == 0.75
    assert decide.noise_floor(1.0, 0.0, 2.0, 0.75) == 2.0
    assert decide.noise_floor(0.0, 0.0, 2.0, 0.0) == 0.0


# -- keep ---------------------------------------------------------------------------------


def test_keep_min_real_gain() -> None:
    kept, why = decide.keep("min", BEST, measured(90.0), floor=2.0)
    assert kept
    assert "beats #3 by 10" in why and "noise floor 2" in why


def test_keep_min_within_noise_is_discarded() -> None:
    kept, why = decide.keep("min", BEST, measured(99.0), floor=2.0)
    assert not kept
    assert "within the noise floor 2" in why and "by 1" in why


def test_keep_min_worse_is_discarded() -> None:
    kept, why = decide.keep("min", BEST, measured(120.0), floor=0.0)
    assert not kept
    assert "not better than #3" in why and "120" in why


def test_keep_gain_equal_to_floor_is_not_enough() -> None:
    assert decide.keep("min", BEST, measured(98.0), floor=2.0)[0] is False
    assert decide.keep("max", BEST, measured(102.0), floor=2.0)[0] is False


def test_keep_max_direction() -> None:
    assert decide.keep("max", BEST, measured(110.0), floor=2.0)[0] is True
    kept, why = decide.keep("max", BEST, measured(101.0), floor=2.0)
    assert not kept and "within the noise floor" in why
    # Lower is worse when maximizing, however large the drop.
    kept, why = decide.keep("max", BEST, measured(50.0), floor=0.0)
    assert not kept and "not better" in why


def test_keep_with_zero_floor_keeps_any_strict_gain() -> None:
    assert decide.keep("min", BEST, measured(99.999), floor=0.0)[0] is True
    assert decide.keep("min", BEST, measured(100.0), floor=0.0)[0] is False


# -- choose_start -------------------------------------------------------------------------


def row(
    number: int, status: str, commit: str = "", fix_depth: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": number,
        "status": status,
        "experiment_commit": commit or f"{number:040d}",
        "fix_depth": fix_depth,
        **extra,
    }


def test_choose_start_with_no_experiments_starts_from_the_best() -> None:
    assert decide.choose_start([], BEST, 2) == decide.Start(BEST.commit)
    base = [row(0, decide.BASELINE)]
    assert decide.choose_start(base, BEST, 2) == decide.Start(BEST.commit)


def test_choose_start_fixes_the_last_crash() -> None:
    rows = [row(0, decide.BASELINE), row(1, decide.DISCARDED), row(2, decide.CRASHED, "c" * 40)]
    start = decide.choose_start(rows, BEST, 2)
    assert start == decide.Start("c" * 40, fix_of=2, fix_depth=1)


def test_choose_start_uses_the_highest_id_not_the_last_row() -> None:
    # -j: rows finish out of order; the newest experiment is the one with the highest id.
    rows = [row(0, decide.BASELINE), row(2, decide.CRASHED, "c" * 40), row(1, decide.DISCARDED)]
    assert decide.choose_start(rows, BEST, 2).fix_of == 2
    rows = [row(0, decide.BASELINE), row(2, decide.DISCARDED), row(1, decide.CRASHED, "c" * 40)]
    assert decide.choose_start(rows, BEST, 2) == decide.Start(BEST.commit)


def test_choose_start_fix_chain_is_bounded_by_max_fix() -> None:
    chain = [
        row(0, decide.BASELINE),
        row(1, decide.CRASHED, "1" * 40, fix_depth=0),
    ]
    assert decide.choose_start(chain, BEST, 2) == decide.Start("1" * 40, 1, 1)
    chain.append(row(2, decide.CRASHED, "2" * 40, fix_depth=1, fix_of=1))
    assert decide.choose_start(chain, BEST, 2) == decide.Start("2" * 40, 2, 2)
    chain.append(row(3, decide.CRASHED, "3" * 40, fix_depth=2, fix_of=2))
    # Two fixes of the chain failed: back to the best.
    assert decide.choose_start(chain, BEST, 2) == decide.Start(BEST.commit)
    # With max_fix 0 a crash is never fixed.
    assert decide.choose_start(chain[:2], BEST, 0) == decide.Start(BEST.commit)


def test_choose_start_does_not_fix_other_failures() -> None:
    for status in (decide.FAILED, decide.REJECTED, decide.DISCARDED, decide.KEPT):
        rows = [row(0, decide.BASELINE), row(1, status, "d" * 40)]
        assert decide.choose_start(rows, BEST, 2) == decide.Start(BEST.commit), status


def test_choose_start_needs_a_crashed_commit() -> None:
    rows = [row(0, decide.BASELINE), {"id": 1, "status": decide.CRASHED, "experiment_commit": ""}]
    assert decide.choose_start(rows, BEST, 2) == decide.Start(BEST.commit)


# -- stop_reason --------------------------------------------------------------------------


def test_no_limits_never_stop() -> None:
    assert decide.stop_reason(Limits(), progress(started=1000, spent=1e6), "min", NOW) == ""


def test_stop_after_n() -> None:
    limits = Limits(n=3)
    assert decide.stop_reason(limits, progress(started=2), "min", NOW) == ""
    assert decide.stop_reason(limits, progress(started=3), "min", NOW) == "ran 3 experiment(s) (-n)"


def test_stop_at_target_min() -> None:
    limits = Limits(target=50.0)
    assert decide.stop_reason(limits, progress(best=50.01), "min", NOW) == ""
    assert decide.stop_reason(limits, progress(best=50.0), "min", NOW) == "target reached (50)"
    assert decide.stop_reason(limits, progress(best=10.0), "min", NOW).startswith("target reached")
    assert decide.stop_reason(limits, progress(best=None), "min", NOW) == ""


def test_stop_at_target_max() -> None:
    limits = Limits(target=50.0)
    assert decide.stop_reason(limits, progress(best=49.0), "max", NOW) == ""
    assert decide.stop_reason(limits, progress(best=50.0), "max", NOW).startswith("target reached")
    assert decide.stop_reason(limits, progress(best=75.0), "max", NOW) == "target reached (75)"


def test_stop_at_cost_cap() -> None:
    limits = Limits(max_cost=1.0)
    assert decide.stop_reason(limits, progress(spent=0.99), "min", NOW) == ""
    reason = decide.stop_reason(limits, progress(spent=1.0), "min", NOW)
    assert reason.startswith("cost cap reached") and "$1.00" in reason


def test_stop_at_deadline() -> None:
    limits = Limits(deadline=NOW)
    assert decide.stop_reason(limits, progress(), "min", NOW - timedelta(seconds=1)) == ""
    assert decide.stop_reason(limits, progress(), "min", NOW) == "time limit reached (--max-hours)"


def test_plateau_counts_only_the_trailing_run_of_non_kept() -> None:
    limits = Limits(plateau=3)
    # Four misses in all, but a keep in between: the trailing run is two.
    assert (
        decide.stop_reason(
            limits, progress(outcomes=(False, False, True, False, False)), "min", NOW
        )
        == ""
    )
    reason = decide.stop_reason(limits, progress(outcomes=(True, False, False, False)), "min", NOW)
    assert reason == "plateau: 3 experiment(s) in a row without a gain"
    assert (
        decide.stop_reason(limits, progress(outcomes=(False, False, False, True)), "min", NOW) == ""
    )
    assert decide.stop_reason(limits, progress(outcomes=()), "min", NOW) == ""


def test_target_wins_over_n() -> None:
    reason = decide.stop_reason(
        Limits(n=1, target=60.0), progress(started=1, best=50.0), "min", NOW
    )
    assert reason.startswith("target reached")


# -- due ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finished", "last", "every", "expected"),
    [
        (5, 0, 5, True),
        (4, 0, 5, False),
        (9, 5, 5, False),
        (10, 5, 5, True),
        (12, 5, 5, True),
        (100, 0, 0, False),
        (3, 3, 1, False),
        (4, 3, 1, True),
    ],
)
def test_due(finished: int, last: int, every: int, expected: bool) -> None:
    assert decide.due(finished, last, every) is expected


# -- memory -------------------------------------------------------------------------------


def result(number: int, status: str, mean: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": number,
        "status": status,
        "mean": mean,
        "std": 0.0,
        "hypothesis": f"h{number}",
        **extra,
    }


ROWS = [
    result(0, decide.BASELINE, 100.0),
    result(1, decide.KEPT, 90.0),
    result(2, decide.DISCARDED, 95.0),
    result(3, decide.KEPT, 70.0),
    result(4, decide.CRASHED, None, error="boom " * 200),
    result(5, decide.KEPT, 80.0),
    result(6, decide.REJECTED, None, error="outside"),
    result(7, decide.FAILED, None),
]


def test_memory_min_shows_the_best_kept_first() -> None:
    kept, _ = decide.memory(ROWS, "min", 2, 5)
    assert [k["id"] for k in kept] == [3, 5]
    assert kept[0]["measure"] == "70 ± 0"
    assert kept[0]["hypothesis"] == "h3"


def test_memory_max_shows_the_highest_kept_first() -> None:
    kept, _ = decide.memory(ROWS, "max", 3, 5)
    assert [k["id"] for k in kept] == [1, 5, 3]


def test_memory_others_are_the_most_recent_non_kept() -> None:
    _, others = decide.memory(ROWS, "min", 5, 2)
    assert [o["id"] for o in others] == [6, 7]
    _, others = decide.memory(ROWS, "min", 5, 10)
    assert [o["id"] for o in others] == [2, 4, 6, 7]
    assert others[1]["measure"] == "no measure"
    assert len(others[1]["error"]) == 400
    _, none = decide.memory(ROWS, "min", 5, 0)
    assert none == []


def test_memory_leaves_out_the_baseline() -> None:
    kept, others = decide.memory(ROWS, "min", 10, 10)
    assert 0 not in [r["id"] for r in kept + others]
    assert len(kept) == 3
