"""Several runs' pass@t on one chart: each run's baseline curve in braille, in its own
colour, and its (np, nfr) policies as its own marker, with a legend line per run.

Drawn by hand like ``chart.py`` (``draw_overlay`` is pure; ``CompareChart`` redraws it
at its size): textual-plotext puts its legend inside the plot, where at 80x24 it hides
the cheap policies that matter most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from repair_tui.tui.untrusted import visible
from repair_tui.tui.widgets.chart import _DOTS, AXIS_STYLE, Y_LABEL_WIDTH, tokens_label
from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from repair_tui.core.estimate.grid import Grid

RUN_STYLES = ("bright_blue", "bright_red", "bright_green", "bright_magenta", "bright_yellow")
RUN_MARKERS = "●▲■◆✚"


def amount_label(value: float, unit: str) -> str:
    if unit == "dollars":
        return f"${value:.2g}" if value < 1 else f"${value:,.2f}"
    return tokens_label(value)


def draw_overlay(runs: list[tuple[str, Grid]], width: int, height: int) -> Text:
    """The overlaid chart as at most ``height`` lines of ``width`` cells."""
    legend_h = len(runs)
    plot_w, plot_h = width - Y_LABEL_WIDTH - 1, height - 2 - legend_h
    if not runs or not runs[0][1].n_tasks:
        return Text("Nothing to chart yet.", style=AXIS_STYLE)
    if plot_w < 8 or plot_h < 3:
        return Text("(too small for the chart)", style=AXIS_STYLE)
    points = [c for _, g in runs for c in (*g.baseline, *g.cells)]
    x_max = max(c.tokens for c in points) or 1.0
    y_max = max(0.1, min(1.0, (int(max(c.pass_rate for c in points) * 10) + 1) / 10))
    # Zoom on the band the runs occupy: their differences are a few points wide.
    y_min = max(0.0, int(min(c.pass_rate for c in points) * 10) / 10 - 0.1)
    span = max(y_max - y_min, 0.05)
    bits = [[0] * plot_w for _ in range(plot_h)]
    style = [[""] * plot_w for _ in range(plot_h)]
    marks: dict[tuple[int, int], tuple[str, str]] = {}

    def xy(tokens: float, rate: float) -> tuple[int, int]:
        return (round(tokens / x_max * (2 * plot_w - 1)),
                round((1.0 - (min(rate, y_max) - y_min) / span) * (4 * plot_h - 1)))

    def dot(x: int, y: int, colour: str) -> None:
        if 0 <= x < 2 * plot_w and 0 <= y < 4 * plot_h:
            bits[y // 4][x // 2] |= _DOTS[x % 2][y % 4]
            style[y // 4][x // 2] = colour

    for i, (_, grid) in enumerate(runs):
        colour = RUN_STYLES[i % len(RUN_STYLES)]
        x0, y0 = xy(0.0, 0.0) if y_min == 0 else xy(grid.baseline[0].tokens, grid.baseline[0].pass_rate)
        for c in grid.baseline:
            x1, y1 = xy(c.tokens, c.pass_rate)
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for s in range(steps + 1):
                dot(round(x0 + (x1 - x0) * s / steps), round(y0 + (y1 - y0) * s / steps), colour)
            x0, y0 = x1, y1
    for i, (_, grid) in enumerate(runs):
        for c in grid.cells:
            x, y = xy(c.tokens, c.pass_rate)
            marks[min(y // 4, plot_h - 1), min(x // 2, plot_w - 1)] = (
                RUN_MARKERS[i % len(RUN_MARKERS)], "bold " + RUN_STYLES[i % len(RUN_STYLES)])
    lines: list[Text] = []
    for i, (name, _) in enumerate(runs):
        line = Text()
        line.append(f"⣀⣀ {RUN_MARKERS[i % len(RUN_MARKERS)]} ", "bold " + RUN_STYLES[i % len(RUN_STYLES)])
        line.append(visible(name, keep_newlines=False))
        line.append("  (baseline curve, (np, nfr) policies)" if i == 0 else "", AXIS_STYLE)
        line.truncate(width, overflow="ellipsis")
        lines.append(line)
    labels = {0: y_max, plot_h // 2: (y_max + y_min) / 2, plot_h - 1: y_min}
    for r in range(plot_h):
        label = f"{100 * labels[r]:.0f}%" if r in labels else ""
        line = Text(label.rjust(Y_LABEL_WIDTH), AXIS_STYLE)
        line.append("┤" if r in labels else "│", AXIS_STYLE)
        for c in range(plot_w):
            if (r, c) in marks:
                line.append(*marks[r, c])
            elif bits[r][c]:
                line.append(chr(0x2800 + bits[r][c]), style[r][c])
            else:
                line.append(" ")
        lines.append(line)
    unit = runs[0][1].unit
    left, mid, right = "0", amount_label(x_max / 2, unit), amount_label(x_max, unit) + f" {unit}"
    gap = max(plot_w - len(left) - len(mid) - len(right), 2)
    lines.append(Text(" " * Y_LABEL_WIDTH + "└" + "─" * plot_w, AXIS_STYLE))
    lines.append(Text(" " * (Y_LABEL_WIDTH + 1) + left + " " * (gap // 2) + mid + " " * (gap - gap // 2) + right,
                      AXIS_STYLE))
    return Text("\n").join(lines[:height])


class CompareChart(Widget):
    """Pass rate against cost for several runs at once."""

    DEFAULT_CSS = """
    CompareChart {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.runs: list[tuple[str, Grid]] = []

    def show(self, runs: list[tuple[str, Grid]]) -> None:
        """Draw these runs' grids."""
        self.runs = runs
        self.refresh()

    def render(self) -> Text:
        return draw_overlay(self.runs, self.content_size.width, self.content_size.height)
