"""The paper's normalised heat map: each (np, nfr) policy's pass rate divided by the
baseline's at the same expected tokens, as a coloured table (green > 1 > red)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair_tui.tui.cli import estimate_cmd
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from repair_tui.core.estimate.grid import Grid

SPREAD = 0.25  # ratio distance from 1.0 that gets the full colour
CELL = 8  # characters per heat-map column, its leading space included


def heat_style(ratio: float | None) -> str:
    """Background from red (worse than the baseline) through yellow (equal) to green,
    as `repair-tui estimate` colours its heat map."""
    return estimate_cmd.heat_style(ratio, SPREAD)


def heat_table(grid: Grid | None) -> Text:
    """The heat map as text: np down (largest on top), nfr across; O.O.B. beyond the baseline's tokens.

    Plain Text rather than a rich Table: the Run screen re-renders it on every live
    update, and a Table costs several times more to measure and draw.
    """
    if grid is None or not grid.n_tasks:
        return Text("No estimate yet.", style="dim")
    out = Text("np\\nfr", style="bold")
    for nfr in grid.nfrs:
        out.append(f"{nfr:^{CELL}}", "bold")
    for np_ in estimate_cmd.heat_rows(grid):  # the order `repair-tui estimate` prints
        out.append(f"\n{np_:>6}", "bold")
        for nfr in grid.nfrs:
            cell = grid.cell(np_, nfr)
            out.append(" ")
            if cell.out_of_bounds:
                out.append(f"{'O.O.B.':^{CELL - 1}}", "dim")
            elif cell.ratio is None:
                out.append(f"{'n/a':^{CELL - 1}}", "dim")
            else:
                out.append(f"{cell.ratio:^{CELL - 1}.2f}", heat_style(cell.ratio))
    return out


class HeatMap(Static):
    """Repair pass rate / baseline pass rate at equal tokens, per (np, nfr)."""

    def show(self, grid: Grid | None) -> None:
        """Show this grid's heat map (None: no estimate yet)."""
        self.update(heat_table(grid))
