"""Dollar costs: prices, a node's dollars, a run's totals, and pass@t on a dollar axis."""

from __future__ import annotations

import pytest
from repair_tui.core.estimate.costs import (
    ModelTokens,
    NodeTokens,
    NoPrice,
    Price,
    PriceTable,
    format_dollars,
    node_dollars,
    summarise,
)
from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.estimate.grid import grid

TABLE = PriceTable({"a": Price(1.0, 4.0), "b": Price(10.0, 30.0)}, ("test prices",))


def test_price_counts_prompt_and_completion_per_million() -> None:
    assert Price(2.5, 10.0).dollars(1_000_000, 0) == pytest.approx(2.5)
    assert Price(2.5, 10.0).dollars(200_000, 100_000) == pytest.approx(0.5 + 1.0)


def test_node_dollars_needs_a_known_model_and_prompt() -> None:
    assert node_dollars(NodeTokens("a", 1000, 500.0), TABLE) == pytest.approx((500 + 4000) / 1e6)
    with pytest.raises(NoPrice) as err:
        node_dollars(NodeTokens("gpt-4o-2099", 10, 10.0), TABLE)
    assert err.value.models == ("gpt-4o-2099",)
    with pytest.raises(NoPrice):
        node_dollars(NodeTokens("a", 10, None), TABLE)
    # A tests-only feedback used no model: it is free whatever the table says.
    assert node_dollars(NodeTokens(None, 0, 0.0), TABLE) == 0.0


def test_exact_names_only_and_overrides() -> None:
    assert TABLE.price("A") is None and TABLE.price("a-2024") is None
    mine = PriceTable({"a": Price(0.0, 0.0)}, ("mine.toml",)).over(TABLE)
    assert mine.price("a") == Price(0.0, 0.0) and mine.price("b") == Price(10.0, 30.0)
    assert mine.source == "test prices + mine.toml"


def test_summary_has_dollars_only_when_every_model_is_priced() -> None:
    both = summarise([ModelTokens("a", 1_000_000, 0), ModelTokens("b", 0, 100_000)], TABLE)
    assert (both.prompt, both.completion) == (1_000_000, 100_000)
    assert both.dollars == pytest.approx(1.0 + 3.0)
    partial = summarise([ModelTokens("a", 10, 10), ModelTokens("sim", 10, 10)], TABLE)
    assert partial.dollars is None and partial.unpriced == ("sim",)
    unknown = summarise([ModelTokens("a", None, 10)], TABLE)
    assert unknown.prompt is None and unknown.dollars is None and unknown.unpriced == ()


def test_format_dollars() -> None:
    assert format_dollars(None) == ""
    assert format_dollars(1234.5) == "$1,234.50"
    assert format_dollars(0.1234) == "$0.123"
    assert format_dollars(0.0012345) == "$0.0012"
    assert format_dollars(0.0) == "$0.00"


def test_dollar_axis_charges_repairs_for_their_prompts() -> None:
    """Same trees, two weighings: repairs that repeat a long prompt cost more in dollars,
    so a repair policy that ties the baseline in tokens loses to it in dollars."""
    def tasks(program: float, repair: float) -> list[FrozenTask]:
        fail = Sample(program, False, (Sample(repair, True), Sample(repair, False)))
        return [FrozenTask(f"t{i}", (fail, Sample(program, i % 2 == 0), Sample(program, False)))
                for i in range(6)]

    in_tokens = grid(tasks(100, 100), [1, 2], [1], bootstrap=0)
    # In dollars a repair carries its prompt: 5x a program's cost.
    in_dollars = grid(tasks(0.001, 0.005), [1, 2], [1], bootstrap=0, unit="dollars")
    assert in_dollars.unit == "dollars" and in_dollars.to_dict()["unit"] == "dollars"
    for n in (1, 2):
        t, d = in_tokens.cell(n, 1), in_dollars.cell(n, 1)
        assert t.pass_rate == pytest.approx(d.pass_rate)  # the pass rate does not move
        assert d.ratio is None or t.ratio is None or d.ratio < t.ratio
