"""The limits of one agent session, and the pure decision of whether the next call may happen."""

from __future__ import annotations

from dataclasses import dataclass

from leanforge.errors import AgentStopped, BudgetExceeded, TimeLimitReached, TurnLimitReached


@dataclass(frozen=True)
class Limits:
    max_turns: int = 60
    wall_seconds: float = 1800.0
    budget_usd: float = 3.0
    #: Output room per call, and the ceiling for the one retry after a cut tool call.
    max_tokens: int = 16_000
    max_tokens_ceiling: int = 64_000
    #: Invalid final-tool inputs tolerated before the session fails.
    max_invalid_finals: int = 3
    #: Conversation size (JSON characters) that triggers abridging, and the size it aims for.
    high_water_chars: int = 300_000
    low_water_chars: int = 150_000
    #: Messages at the end of the conversation that abridging never touches.
    keep_recent: int = 6
    #: Prompt-cache lifetime: "5m" or "1h".
    cache_ttl: str = "5m"


def check(
    limits: Limits, *, turns: int, elapsed: float, spent: float, estimate: float
) -> AgentStopped | None:
    """The reason the next model call must not be made, or None when it may."""
    if turns >= limits.max_turns:
        return TurnLimitReached(
            f"the session used all {limits.max_turns} model turns without finishing; "
            "raise budgets.max_turns or make the task smaller",
            turns=turns,
            cost_usd=spent,
        )
    if elapsed >= limits.wall_seconds:
        return TimeLimitReached(
            f"the session ran out of time ({limits.wall_seconds:g}s) without finishing; "
            "raise timeouts.agent_session",
            turns=turns,
            cost_usd=spent,
        )
    if spent + estimate > limits.budget_usd:
        return BudgetExceeded(
            f"the next model call could cost up to ${estimate:.4f}, which would take the session "
            f"past its ${limits.budget_usd:.2f} budget (spent ${spent:.4f}); "
            "raise budgets.session_usd or --max-cost",
            turns=turns,
            cost_usd=spent,
        )
    return None
