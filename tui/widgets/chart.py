"""The pass@t chart in the terminal: the baseline curve in braille dots and one marker
per (np, nfr) policy, pass rate against expected tokens, as the paper's figure.

``draw_chart`` is pure (grid and size in, rich Text out) so it can be tested without
an app; ``PassChart`` is the widget that redraws it at its current size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from repair_tui.core.estimate.grid import Grid

MARKERS = "●▲■◆✚"
MARKER_STYLES = ("bold red", "bold green", "bold magenta", "bold cyan", "bold yellow")
BASELINE_STYLE = "bright_blue"
AXIS_STYLE = "dim"
Y_LABEL_WIDTH = 5
# Braille dot bits, indexed [dx][dy] within one character cell (2 x 4 dots).
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def tokens_label(value: float) -> str:
    """Compact token count: 950, 12.5k, 3.2M."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


class _Canvas:
    """Braille dots plus whole-cell markers on a width x height character grid."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.bits = [[0] * width for _ in range(height)]
        self.marks: dict[tuple[int, int], tuple[str, str]] = {}

    def dot(self, x: int, y: int) -> None:
        if 0 <= x < 2 * self.width and 0 <= y < 4 * self.height:
            self.bits[y // 4][x // 2] |= _DOTS[x % 2][y % 4]

    def line(self, x0: int, y0: int, x1: int, y1: int) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            self.dot(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps))

    def mark(self, x: int, y: int, glyph: str, style: str, label: str = "") -> None:
        """A marker glyph at dot (x, y), with a label after it where the cells are free."""
        col, row = min(x // 2, self.width - 1), min(y // 4, self.height - 1)
        self.marks[(row, col)] = (glyph, style)
        cells = [(row, col + 1 + i) for i in range(len(label))]
        if cells and cells[-1][1] < self.width and not any(c in self.marks for c in cells):
            for cell, char in zip(cells, label, strict=True):
                self.marks[cell] = (char, AXIS_STYLE)

    def row(self, r: int) -> Text:
        out = Text()
        for c in range(self.width):
            if (r, c) in self.marks:
                out.append(*self.marks[(r, c)])
            elif self.bits[r][c]:
                out.append(chr(0x2800 + self.bits[r][c]), BASELINE_STYLE)
            else:
                out.append(" ")
        return out


def _legend(grid: Grid) -> Text:
    legend = Text()
    legend.append("⣀⣀ ", BASELINE_STYLE)
    legend.append(f"baseline np'=1..{len(grid.baseline)}", AXIS_STYLE)
    for i, nfr in enumerate(grid.nfrs):
        legend.append("  ")
        legend.append(MARKERS[i % len(MARKERS)], MARKER_STYLES[i % len(MARKER_STYLES)])
        legend.append(f" nfr={nfr}")
    legend.append(f"   labels: np ({grid.mode})", AXIS_STYLE)
    return legend


def y_ticks(y_max: float, rows: int) -> dict[int, float]:
    """Row -> value of the y-axis labels: 0, the top, and round steps between them (5, 10,
    20, 25 or 50 points), as many as fit with a free row between two labels."""
    most = max(1, (rows - 1) // 2)
    parts = 1
    for step in (0.05, 0.1, 0.2, 0.25, 0.5):
        count = y_max / step
        if abs(count - round(count)) < 1e-9 and round(count) <= most:
            parts = round(count)
            break
    ticks: dict[int, float] = {}
    for i in range(parts + 1):
        value = y_max * i / parts
        row = round((1.0 - value / y_max) * (rows - 1))
        ticks.setdefault(row, value)
    return ticks


def draw_chart(grid: Grid | None, width: int, height: int) -> Text:
    """The chart as ``height`` lines of ``width`` cells (fewer if too small to plot)."""
    plot_w, plot_h = width - Y_LABEL_WIDTH - 1, height - 3
    if grid is None or not grid.n_tasks:
        return Text("No executed programs yet: the chart appears with the first verdicts.",
                    style=AXIS_STYLE)
    if plot_w < 8 or plot_h < 3:
        return Text("(too small for the chart)", style=AXIS_STYLE)
    points = [*grid.baseline, *grid.cells]
    x_max = max((c.tokens for c in points), default=0.0) or 1.0
    y_max = max(0.1, min(1.0, (int(max(c.pass_rate for c in points) * 10) + 1) / 10))
    canvas = _Canvas(plot_w, plot_h)

    def xy(tokens: float, rate: float) -> tuple[int, int]:
        x = round(tokens / x_max * (2 * plot_w - 1))
        y = round((1.0 - min(rate, y_max) / y_max) * (4 * plot_h - 1))
        return x, y

    previous = xy(0.0, 0.0)
    for base in grid.baseline:
        current = xy(base.tokens, base.pass_rate)
        canvas.line(*previous, *current)
        previous = current
    # Markers first, then their np labels, so a label never hides another marker.
    for cell in grid.cells:
        i = grid.nfrs.index(cell.nfr)
        canvas.mark(*xy(cell.tokens, cell.pass_rate), MARKERS[i % len(MARKERS)],
                    MARKER_STYLES[i % len(MARKER_STYLES)])
    for cell in grid.cells:
        i = grid.nfrs.index(cell.nfr)
        x, y = xy(cell.tokens, cell.pass_rate)
        canvas.mark(x, y, MARKERS[i % len(MARKERS)], MARKER_STYLES[i % len(MARKER_STYLES)],
                    label=str(cell.np))
    legend = _legend(grid)
    legend.truncate(width, overflow="ellipsis")  # one line, or the axes fall off the bottom
    lines = [legend]
    labels = y_ticks(y_max, plot_h)
    for r in range(plot_h):
        label = f"{100 * labels[r]:.0f}%" if r in labels else ""
        line = Text(label.rjust(Y_LABEL_WIDTH), AXIS_STYLE)
        line.append("┤" if r in labels else "│", AXIS_STYLE)
        line.append_text(canvas.row(r))
        lines.append(line)
    lines.append(Text(" " * Y_LABEL_WIDTH + "└" + "─" * plot_w, AXIS_STYLE))
    left, mid, right = "0", tokens_label(x_max / 2), tokens_label(x_max) + " tokens"
    gap = plot_w - len(left) - len(mid) - len(right)
    axis = left + " " * (gap // 2) + mid + " " * (gap - gap // 2) + right
    lines.append(Text(" " * (Y_LABEL_WIDTH + 1) + axis, AXIS_STYLE))
    return Text("\n").join(lines)


class PassChart(Widget):
    """Pass rate against expected tokens: baseline curve and (np, nfr) points."""

    DEFAULT_CSS = """
    PassChart {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.grid: Grid | None = None

    def show(self, grid: Grid | None) -> None:
        """Draw this grid (None: nothing executed yet)."""
        self.grid = grid
        self.refresh()

    def render(self) -> Text:
        return draw_chart(self.grid, self.content_size.width, self.content_size.height)
