"""What a run costs: token counts per model, prices per model, and a node's dollars.

The estimator judges a policy by the summed cost of the nodes it draws (``Sample.tokens``).
On the paper's axis that cost is the tokens a node generated. On the dollar axis it is
``node_dollars``: the node's completion tokens at its model's output price plus its
share of its call's prompt at the input price. A call's prompt is shared evenly by the
nodes it produced (n programs from one prompt each carry 1/n of it), so the dollars of
a whole sample add up to what the run paid. Pure: no I/O, no store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MTOK = 1_000_000


@dataclass(frozen=True)
class Price:
    """A model's list price in dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def dollars(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / MTOK


@dataclass(frozen=True)
class PriceTable:
    """Prices by exact model name, and where they come from (for notes and --json)."""

    prices: Mapping[str, Price] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # e.g. ("bundled prices of 2025-06-01", "prices.toml")

    def price(self, model: str | None) -> Price | None:
        """The model's price, or None when it is unknown: never a guess from a similar name."""
        return None if model is None else self.prices.get(model)

    def over(self, base: PriceTable) -> PriceTable:
        """This table's prices overriding ``base``'s."""
        return PriceTable({**base.prices, **self.prices}, (*base.sources, *self.sources))

    @property
    def source(self) -> str:
        return " + ".join(self.sources) or "no prices"


@dataclass(frozen=True)
class NodeTokens:
    """What one stored node cost in tokens.

    ``prompt`` is the node's share of its call's prompt tokens; None when the call's
    prompt tokens are unknown (e.g. trees imported from the paper's format).
    """

    model: str | None
    completion: float
    prompt: float | None


def node_dollars(node: NodeTokens, prices: PriceTable) -> float:
    """The node's dollars; raises NoPrice when its model or prompt tokens are unknown.

    A node that used no tokens (a tests-only feedback) costs nothing, priced or not."""
    if node.completion == 0 and node.prompt == 0:
        return 0.0
    price = prices.price(node.model)
    if price is None:
        raise NoPrice(f"no price for model {node.model!r}", models=(node.model,))
    if node.prompt is None:
        raise NoPrice("prompt tokens unknown", models=())
    return price.dollars(node.prompt, node.completion)


class NoPrice(ValueError):
    """A cost in dollars was asked of a node whose model has no known price."""

    def __init__(self, message: str, models: tuple[str | None, ...]) -> None:
        super().__init__(message)
        self.models = models


@dataclass(frozen=True)
class ModelTokens:
    """Tokens one model spent in a run: prompt (None when unknown) and completion."""

    model: str | None
    prompt: int | None
    completion: int


@dataclass(frozen=True)
class CostSummary:
    """A run's prompt and completion tokens, and their dollars when every model is priced."""

    prompt: int | None  # None when some model's prompt tokens are unknown
    completion: int
    dollars: float | None  # None when some model has no price or prompts are unknown
    unpriced: tuple[str, ...] = ()  # models with tokens but no price

    def to_dict(self) -> dict[str, object]:
        return {"prompt_tokens": self.prompt, "completion_tokens": self.completion,
                "dollars": self.dollars, "unpriced_models": list(self.unpriced)}


def summarise(parts: Iterable[ModelTokens], prices: PriceTable) -> CostSummary:
    """Totals over models; dollars only when every model with tokens has a price."""
    parts = [p for p in parts if p.completion or p.prompt]
    prompt_known = all(p.prompt is not None for p in parts)
    prompt = sum(p.prompt or 0 for p in parts) if prompt_known else None
    completion = sum(p.completion for p in parts)
    unpriced = tuple(sorted({p.model or "(unknown)" for p in parts if prices.price(p.model) is None}))
    dollars: float | None = None
    if parts and not unpriced and prompt_known:
        dollars = 0.0
        for p in parts:
            price = prices.price(p.model)
            assert price is not None  # every model is priced here
            dollars += price.dollars(p.prompt or 0, p.completion)
    return CostSummary(prompt, completion, dollars, unpriced)


def format_dollars(value: float | None) -> str:
    """$12.34, $0.0123 for small sums, '' when unknown."""
    if value is None:
        return ""
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.3f}"
    return f"${value:.2g}" if abs(value) >= 1e-6 else f"${value:.1e}"
