"""What model calls cost: a price table per model id, overridable in config, and pure cost maths.

Prices are USD per million tokens, from Anthropic's pricing page
(https://platform.claude.com/docs/en/about-claude/pricing), as read on 2026-11-22.
Set ``[prices."<model id>"]`` in .forge/config.toml when they change or for other models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from leanforge.agent.model import CallUsage
from leanforge.records import Usage

PRICES_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"
PRICES_DATE = "2026-11-22"


@dataclass(frozen=True)
class Price:
    """USD per million tokens, per kind of token."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


def _tier(input_usd: float, output_usd: float) -> Price:
    # Cache rates are fixed multiples of the input rate: 1.25x (5 min), 2x (1 h), 0.1x (read).
    return Price(input_usd, output_usd, input_usd * 1.25, input_usd * 2.0, input_usd * 0.1)


#: Model id (or id prefix: dated ids like "claude-haiku-4-5-20251001" match) -> price.
#: Where the page gives two rates (Haiku 5.5's prompt-length bands; Sonnet 5.5's cache read
#: before and after 2026-10-07), the higher is used, so budgets never under-count.
PRICES: Mapping[str, Price] = {
    "claude-fable-5-1": Price(10.0, 50.0, 12.5, 20.0, 0.25),
    "claude-mythos-5-1": Price(10.0, 50.0, 12.5, 20.0, 0.25),
    "claude-fable-5": _tier(10.0, 50.0),
    "claude-mythos-5": _tier(10.0, 50.0),
    "claude-opus-5-5": Price(4.0, 20.0, 5.0, 8.0, 0.20),
    "claude-opus-5": _tier(5.0, 25.0),
    "claude-opus-4-8": _tier(5.0, 25.0),
    "claude-opus-4-7": _tier(5.0, 25.0),
    "claude-opus-4-6": _tier(5.0, 25.0),
    "claude-opus-4-5": _tier(5.0, 25.0),
    "claude-opus-4-1": _tier(15.0, 75.0),
    "claude-opus-4": _tier(15.0, 75.0),
    "claude-sonnet-5-5": _tier(2.0, 10.0),
    "claude-sonnet-5": _tier(2.0, 10.0),
    "claude-sonnet-4-6": _tier(3.0, 15.0),
    "claude-sonnet-4-5": _tier(3.0, 15.0),
    "claude-sonnet-4": _tier(3.0, 15.0),
    "claude-haiku-5-5": _tier(0.5, 2.5),
    "claude-haiku-4-5": _tier(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0, 1.0, 1.6, 0.08),
    "claude-3-haiku": Price(0.25, 1.25, 0.30, 0.50, 0.03),
}

#: What an unknown model is charged: the highest rate of each kind in the table, so a budget
#: never under-counts.
CONSERVATIVE = Price(
    **{f.name: max(getattr(p, f.name) for p in PRICES.values()) for f in fields(Price)}
)


@dataclass(frozen=True)
class PriceQuote:
    price: Price
    #: Empty when the model is in the table; otherwise the warning to show once.
    warning: str = ""


def price_for(model: str, overrides: Mapping[str, Price] | None = None) -> PriceQuote:
    """The price of ``model``: config overrides first, then the table (longest id prefix wins)."""
    table = {**PRICES, **(overrides or {})}
    if model in table:
        return PriceQuote(table[model])
    matches = [key for key in table if model.startswith(key + "-") or model.startswith(key + "@")]
    if matches:
        return PriceQuote(table[max(matches, key=len)])
    return PriceQuote(
        CONSERVATIVE,
        warning=(
            f"model {model!r} is not in forge's price table; it is priced at the highest known "
            f"rates (${CONSERVATIVE.input:g} in / ${CONSERVATIVE.output:g} out per MTok); "
            f'set [prices."{model}"] in .forge/config.toml for its real price'
        ),
    )


def cost(usage: CallUsage, price: Price) -> float:
    """USD for one call."""
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_5m_tokens * price.cache_write_5m
        + usage.cache_write_1h_tokens * price.cache_write_1h
        + usage.cache_read_tokens * price.cache_read
    ) / 1_000_000


def estimate(prompt_tokens: int, max_tokens: int, price: Price, ttl: str = "5m") -> float:
    """An upper bound on one call's cost, made before it: every prompt token written to the
    cache at ``ttl`` (the dearest way to pay for input) and every output token used, so the
    budget check fails closed.
    """
    write = price.cache_write_1h if ttl == "1h" else price.cache_write_5m
    return (prompt_tokens * max(price.input, write) + max_tokens * price.output) / 1_000_000


def estimate_tokens(text_bytes: int) -> int:
    """Tokens of a request, from its size: ~3 bytes per token over-counts English and code."""
    return text_bytes // 3 + 1


def charge(usage: CallUsage, cost_usd: float) -> Usage:
    """One call's usage as a summable :class:`Usage`, at ``cost_usd``."""
    return Usage(
        calls=1,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cost_usd=cost_usd,
    )
