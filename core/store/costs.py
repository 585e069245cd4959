"""The store's cost queries: tokens per model and per node, prompt shares included.

A node's prompt share is its call's prompt tokens divided by the nodes the call made
(core/estimate/costs.py says why). A node with no call and no tokens (a tests-only
feedback) costs nothing; one with tokens but no call (an imported tree) has unknown
prompt tokens. ``Store`` inherits this class; use it rather than this class.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from repair_tui.core.estimate.costs import ModelTokens, NodeTokens
from repair_tui.core.estimate.frozen import FrozenTask
from repair_tui.core.store.base import StoreBase
from repair_tui.core.store.views import build_frozen

# Per node: its tokens, model and prompt share ("?" is the run id). CROSS JOIN keeps the
# nodes as the outer loop: led by the tasks, SQLite scanned every sample node per task.
_NODE_COSTS = """
    SELECT n.id, n.task_id, n.parent_id, n.kind, n.passed, n.tokens, t.difficulty,
        coalesce(n.model, c.model) AS model,
        CASE WHEN n.call_id IS NULL THEN (CASE WHEN n.tokens = 0 THEN 0.0 END)
             ELSE c.prompt_tokens * 1.0 / (SELECT count(*) FROM nodes m WHERE m.call_id = n.call_id)
             END AS prompt
    FROM nodes n
    CROSS JOIN tasks t ON t.run_id = n.run_id AND t.task_id = n.task_id
    LEFT JOIN calls c ON c.id = n.call_id
    WHERE n.run_id = ?
"""


# mypy cannot follow the editable repair_tui mapping, so the base class looks like Any.
class StoreCosts(StoreBase):  # type: ignore[misc]
    """Token and cost reads for ``runs``, ``estimate``, ``compare`` and the app."""

    def _node_cost_rows(self, run_id: int, difficulty: str | None) -> list[Any]:
        sql = _NODE_COSTS + self._sample_filter("n")
        params: tuple[Any, ...] = (run_id,)
        if difficulty is not None:
            sql += " AND t.difficulty = ?"
            params = (*params, difficulty)
        rows: list[Any] = self._conn.execute(sql + " ORDER BY t.position, n.id", params).fetchall()
        return rows

    def _sample_filter(self, alias: str) -> str:
        """SQL (starting with AND) keeping only nodes of the run's sample."""
        return f" AND {alias}.exploration_id IS NULL"

    def token_parts(self, run_id: int, difficulty: str | None = None) -> list[ModelTokens]:
        """A run's prompt and completion tokens per model, over the nodes of its sample.

        A model's prompt is None when some of its nodes have no stored prompt tokens.
        """
        prompt: dict[str | None, float] = defaultdict(float)
        completion: dict[str | None, int] = defaultdict(int)
        unknown: set[str | None] = set()
        for row in self._node_cost_rows(run_id, difficulty):
            model, share = row[7], row[8]
            completion[model] += int(row[5])
            if share is None:
                unknown.add(model)
            else:
                prompt[model] += float(share)
        models = sorted(set(completion) | set(prompt), key=lambda m: m or "")
        return [ModelTokens(m, None if m in unknown else int(round(prompt[m])), completion[m])
                for m in models]

    def token_parts_by_run(self) -> dict[int, list[ModelTokens]]:
        """``token_parts`` of every run, by run id."""
        ids = [int(r[0]) for r in self._conn.execute("SELECT id FROM runs ORDER BY id")]
        return {run_id: self.token_parts(run_id) for run_id in ids}

    def costed_tasks(
        self, run_id: int, cost: Callable[[NodeTokens], float], difficulty: str | None = None
    ) -> list[FrozenTask]:
        """A run's sample in the estimator's form with each node weighed by ``cost``
        (e.g. its dollars) instead of its generated tokens; errors from ``cost`` propagate."""
        rows = [
            (*row[:5], cost(NodeTokens(row[7], float(row[5]), row[8])), row[6])
            for row in self._node_cost_rows(run_id, difficulty)
        ]
        return list(build_frozen(rows))
