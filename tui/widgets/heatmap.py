"""The paper's normalised heat map: each (np, nfr) policy's pass rate divided by the
baseline's at the same expected tokens, as a coloured table (green > 1 > red)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from repair_tui.core.metrics_grid import Grid

SPREAD = 0.25  # ratio distance from 1.0 that gets the full colour


def heat_style(ratio: float | None) -> str:
    """Background from red (worse than the baseline) through yellow (equal) to green."""
    if ratio is None:
        return "dim"
    t = max(-1.0, min(1.0, (ratio - 1.0) / SPREAD))
    if t >= 0:  # yellow (230, 220, 110) -> green (40, 160, 70)
        rgb = (230 - 190 * t, 220 - 60 * t, 110 - 40 * t)
    else:  # yellow -> red (200, 50, 40)
        rgb = (230 + 30 * t, 220 + 170 * t, 110 + 70 * t)
    r, g, b = (int(round(c)) for c in rgb)
    return f"black on rgb({r},{g},{b})"


def heat_table(grid: Grid | None) -> RenderableType:
    """The heat map as a rich Table: np down, nfr across; O.O.B. beyond the baseline."""
    if grid is None or not grid.n_tasks:
        return Text("No estimate yet.", style="dim")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
    table.add_column("np\\nfr", justify="right", style="bold")
    for nfr in grid.nfrs:
        table.add_column(str(nfr), justify="center")
    for np_ in grid.nps:
        cells: list[Text] = []
        for nfr in grid.nfrs:
            cell = grid.cell(np_, nfr)
            if cell.out_of_bounds:
                cells.append(Text(" O.O.B ", style="dim"))
            elif cell.ratio is None:
                cells.append(Text("  n/a  ", style="dim"))
            else:
                cells.append(Text(f" {cell.ratio:.2f} ", style=heat_style(cell.ratio)))
        table.add_row(str(np_), *cells)
    return table


class HeatMap(Static):
    """Repair pass rate / baseline pass rate at equal tokens, per (np, nfr)."""

    def show(self, grid: Grid | None) -> None:
        """Show this grid's heat map (None: no estimate yet)."""
        self.update(heat_table(grid))
