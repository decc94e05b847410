from __future__ import annotations

import pytest

from leanforge.agent import pricing
from leanforge.agent.model import CallUsage


def test_known_model_and_dated_id_share_a_price() -> None:
    plain = pricing.price_for("claude-sonnet-4-5")
    dated = pricing.price_for("claude-sonnet-4-5-20250929")
    assert plain.warning == dated.warning == ""
    assert plain.price == dated.price
    assert plain.price.input == 3.0 and plain.price.output == 15.0


def test_longest_prefix_wins() -> None:
    # "claude-opus-4" is a prefix of "claude-opus-4-5", which is much cheaper.
    assert pricing.price_for("claude-opus-4-5-20251101").price.input == 5.0
    assert pricing.price_for("claude-opus-4-20250514").price.input == 15.0


def test_unknown_model_is_priced_at_the_top_and_says_so() -> None:
    quote = pricing.price_for("gpt-oss-mystery")
    assert quote.price == pricing.CONSERVATIVE
    assert all(
        getattr(quote.price, kind) >= getattr(p, kind)
        for p in pricing.PRICES.values()
        for kind in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    )
    assert "gpt-oss-mystery" in quote.warning and "[prices." in quote.warning


def test_overrides_beat_the_table() -> None:
    mine = pricing.Price(1, 2, 3, 4, 5)
    assert pricing.price_for("claude-sonnet-4-5", {"claude-sonnet-4-5": mine}).price == mine
    assert pricing.price_for("house-model", {"house-model": mine}) == pricing.PriceQuote(mine)


def test_cost_charges_each_kind_of_token_at_its_rate() -> None:
    price = pricing.Price(input=3, output=15, cache_write_5m=3.75, cache_write_1h=6, cache_read=0.3)
    usage = CallUsage(
        input_tokens=1_000_000,
        output_tokens=100_000,
        cache_write_5m_tokens=200_000,
        cache_write_1h_tokens=10_000,
        cache_read_tokens=2_000_000,
    )
    assert pricing.cost(usage, price) == pytest.approx(3 + 1.5 + 0.75 + 0.06 + 0.6)


def test_estimate_is_an_upper_bound_of_the_real_cost() -> None:
    price = pricing.price_for("claude-sonnet-4-5").price
    prompt, room = 50_000, 8_000
    worst_real = max(
        pricing.cost(CallUsage(input_tokens=prompt, output_tokens=room), price),
        pricing.cost(CallUsage(cache_write_5m_tokens=prompt, output_tokens=room), price),
        pricing.cost(CallUsage(cache_read_tokens=prompt, output_tokens=room), price),
    )
    assert pricing.estimate(prompt, room, price) >= worst_real
    assert pricing.estimate(prompt, room, price, ttl="1h") > pricing.estimate(prompt, room, price)
    # Bytes over-count tokens: ~4 bytes a token in practice, 3 assumed.
    assert pricing.estimate_tokens(4000) > 1000
