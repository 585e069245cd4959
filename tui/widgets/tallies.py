"""A run's live tallies (the Run screen's header) and repair success by feedback origin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair_tui.tui.untrusted import visible
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from repair_tui.core.estimate.costs import CostSummary
    from repair_tui.core.store.records import Run
    from repair_tui.core.store.views import OriginStats, RunTotals

ORIGINS = ("model", "human", "tests")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def cost_text(t: RunTotals, cost: CostSummary | None) -> Text | None:
    """The sample's generated tokens with its prompt tokens and its dollars (only when
    every model of the sample has a price: never a guess); None when neither is known."""
    from repair_tui.core.estimate.costs import format_dollars

    if cost is None or (cost.prompt is None and cost.dollars is None):
        return None
    out = Text("cost ", "bold")
    out.append(f"tokens {t.tokens:,} completion")
    if cost.prompt is not None:
        out.append(f" + {cost.prompt:,} prompt")
    if cost.dollars is not None:
        out.append(f"  {format_dollars(cost.dollars)}", "bold")
    elif cost.unpriced:
        out.append(f"  (no price for {visible(', '.join(cost.unpriced), keep_newlines=False)})",
                   "dim")
    return out


def tallies_text(run: Run, t: RunTotals, explored: RunTotals | None = None,
                 cost: CostSummary | None = None) -> Text:
    """The run's identity and status, then its sample's counts and costs so far, then
    (when there are any) its explorations' counts, which never enter the sample's."""
    c = run.config
    models = c.model if not c.feedback_model else f"{c.model} (feedback: {c.feedback_model})"
    head = Text()
    head.append(visible(run.name, keep_newlines=False), "bold")
    head.append(visible(f"  {run.dataset} · {models} · np={c.np} nfr={c.nfr} {c.mode} depth={c.depth}"
                        f" · {run.isolation.split(' (')[0]} · ", keep_newlines=False))
    head.append(run.status, "bold yellow" if run.status == "running" else "")
    body = Text()
    body.append(f"solved {t.solved}/{t.attempted}", "bold green")
    body.append(f" of {t.tasks} tasks ({_share(t.solved, t.attempted)} of attempted"
                f", {t.solved_by_repair} only by repair)  ")
    body.append(f"programs {t.programs_passed}/{t.programs} pass  ")
    body.append(f"repairs {t.repairs_passed}/{t.repairs} pass  ")
    costs = cost_text(t, cost)
    if costs is None:  # on this line, as when costs are unknown
        body.append(f"tokens {t.tokens:,}  ")
    if t.in_progress:
        body.append(f"in progress {t.in_progress}  ", "yellow")
    if t.pending:
        body.append(f"pending {t.pending}  ", "yellow")
    if t.calls_failed:
        body.append(f"failed calls {t.calls_failed}", "red")
    lines = [head, body] if costs is None else [head, body, costs]
    if explored is not None and (explored.repairs or sum(explored.feedback_by_origin.values())
                                 or t.flaky):
        x = Text()
        x.append("explorations ", "bold magenta")
        x.append(f"feedback {sum(explored.feedback_by_origin.values())}  "
                 f"repairs {explored.repairs_passed}/{explored.repairs} pass  "
                 f"tokens {explored.tokens:,}  (not in the sample's numbers)  ")
        if t.flaky:
            x.append(f"flaky: {t.flaky} program{'s' if t.flaky != 1 else ''}", "bold red")
        lines.append(x)
    return Text("\n").join(lines)


class Tallies(Static):
    """The Run screen's header: what the run is and its counts, updated live."""

    def show(self, run: Run, totals: RunTotals, explored: RunTotals | None = None,
             cost: CostSummary | None = None) -> None:
        """Show these counts (the screen calls this whenever the data changed)."""
        self.update(tallies_text(run, totals, explored, cost))


ORIGIN_ROWS = ("feedback", "repairs", "executed", "passing", "pass rate")


def _origin_column(s: OriginStats) -> list[str]:
    rate = "–" if s.pass_rate is None else f"{100 * s.pass_rate:.1f}%"
    return [f"{s.feedback:,}", f"{s.repairs:,}", f"{s.repairs_executed:,}",
            f"{s.repairs_passed:,}", rate]


def _ordered(stats: dict[str, OriginStats]) -> list[str]:
    return [o for o in ORIGINS if o in stats] + sorted(set(stats) - set(ORIGINS))


def origin_table(
    stats: dict[str, OriginStats], explored: dict[str, OriginStats] | None = None
) -> Text:
    """Feedback origins side by side: feedback, repairs sampled, executed, passing, rate;
    the run's sample first, then its explorations (a person's feedback, reruns...).

    Plain Text (not a rich Table), which is much cheaper to re-render on live updates.
    """
    explored = explored or {}
    shown = [(o, stats[o]) for o in _ordered(stats)]
    shown += [(o, explored[o]) for o in _ordered(explored)]
    if not shown:
        return Text("No feedback yet.", style="dim")
    columns = [_origin_column(s) for _, s in shown]
    width = max(9, *(len(v) for column in columns for v in column), *(len(o) for o, _ in shown))
    out = Text(f"{'':<10}")
    n_sample = len(stats)
    for label, count in (("sample", n_sample), ("explorations", len(shown) - n_sample)):
        if count:
            span = count * (width + 1)
            out.append(f"{label:^{span}}", "bold" if label == "sample" else "bold magenta")
    out.append(f"\n{'origin':<10}", style="bold")
    for origin, _ in shown:
        out.append(f" {origin:>{width}}", "bold")
    for i, label in enumerate(ORIGIN_ROWS):
        out.append(f"\n{label:<10}")
        for column in columns:
            out.append(f" {column[i]:>{width}}", "bold green" if label == "pass rate" else "")
    return out


class OriginTable(Static):
    """Repair success by feedback origin (model, human, tests), side by side."""

    def show(
        self, stats: dict[str, OriginStats], explored: dict[str, OriginStats] | None = None
    ) -> None:
        """Show these per-origin counts (the sample's, then the explorations')."""
        self.update(origin_table(stats, explored))
