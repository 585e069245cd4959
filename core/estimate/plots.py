"""The paper's two pass@t figures, drawn with matplotlib (the optional extra ``plots``).

1. Pass rate against expected tokens: the baseline curve with its confidence band,
   and one line per nfr through the np values, with interval bars.
2. The normalised heat map: each (np, nfr) cell's pass rate divided by the
   baseline's at the same tokens; cells beyond the largest baseline budget are
   marked O.O.B. as in the paper.

matplotlib is imported only when a figure is drawn, so the rest of the project
works without it. Figures are built on ``matplotlib.figure.Figure`` directly (no
pyplot), so nothing global changes and no display is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.core.errors import UserError
from repair_tui.core.estimate.grid import Grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "plots need matplotlib, the optional extra 'plots': pip install 'repair-tui[plots]'"
FORMATS = ("png", "svg")


def require_matplotlib() -> Any:
    """(matplotlib, Figure), or UserError saying how to install the 'plots' extra."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return matplotlib, Figure


def _title(grid: Grid, name: str | None) -> str:
    mode = grid.mode + (", with replacement" if grid.replacement else "")
    head = f"{name}: " if name else ""
    return f"{head}{grid.n_tasks} tasks, {mode}"


def pass_tokens_figure(grid: Grid, name: str | None = None) -> Figure:
    """Pass rate against expected tokens: baseline curve and band, one line per nfr."""
    _, figure_cls = require_matplotlib()
    fig: Figure = figure_cls(figsize=(7.0, 4.6), layout="constrained")
    ax = fig.add_subplot()
    base = grid.baseline
    xs = [c.tokens for c in base]
    ax.plot(xs, [c.pass_rate for c in base], color="black", lw=1.6, label="baseline (nfr = 0)")
    if all(c.ci_low is not None for c in base):
        ax.fill_between(xs, [c.ci_low or 0.0 for c in base], [c.ci_high or 0.0 for c in base],
                        color="black", alpha=0.15, lw=0, label=f"{grid.confidence:.0%} interval")
    for nfr in grid.nfrs:
        cells = [grid.cell(n, nfr) for n in grid.nps]
        x = [c.tokens for c in cells]
        y = [c.pass_rate for c in cells]
        line = ax.plot(x, y, marker="o", ms=4, lw=1.1, label=f"nfr = {nfr}")[0]
        if all(c.ci_low is not None for c in cells):
            err = [[c.pass_rate - (c.ci_low or 0.0) for c in cells], [(c.ci_high or 0.0) - c.pass_rate for c in cells]]
            ax.errorbar(x, y, yerr=err, fmt="none", ecolor=line.get_color(), elinewidth=0.8, capsize=2)
        for c in cells:
            ax.annotate(f"{c.np}", (c.tokens, c.pass_rate), textcoords="offset points", xytext=(3, -9),
                        fontsize=6, color=line.get_color())
    ax.set_xlabel(f"expected {grid.unit} per task")
    ax.set_ylabel("expected pass rate")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(left=0.0)
    ax.grid(alpha=0.3)
    ax.set_title(_title(grid, name) + " (labels: np)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def heat_map_figure(grid: Grid, name: str | None = None) -> Figure:
    """The normalised heat map: repair pass rate / baseline pass rate at equal tokens."""
    matplotlib, figure_cls = require_matplotlib()
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    values = np.array([[np.nan if r is None else r for r in row] for row in grid.heat_map()], dtype=float)
    finite = values[np.isfinite(values)]
    spread = max(0.05, float(np.abs(finite - 1.0).max())) if finite.size else 0.5
    norm = TwoSlopeNorm(vcenter=1.0, vmin=1.0 - spread, vmax=1.0 + spread)
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#222222")
    fig: Figure = figure_cls(figsize=(1.2 * len(grid.nfrs) + 2.2, 0.7 * len(grid.nps) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto", origin="lower")
    for i, n in enumerate(grid.nps):
        for j, f in enumerate(grid.nfrs):
            cell = grid.cell(n, f)
            text = "O.O.B." if cell.out_of_bounds else ("n/a" if cell.ratio is None else f"{cell.ratio:.2f}")
            colour = "white" if cell.ratio is None else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(grid.nfrs)), [str(f) for f in grid.nfrs])
    ax.set_yticks(range(len(grid.nps)), [str(n) for n in grid.nps])
    ax.set_xlabel("nfr (feedback-repairs per failing program)")
    ax.set_ylabel("np (initial programs)")
    ax.set_title(_title(grid, name), fontsize=9)
    fig.colorbar(image, ax=ax, label="pass rate / baseline at equal tokens")
    return fig


def _stem(name: str | None) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "").strip("._")
    return clean or "estimate"


def write_figures(grid: Grid, out_dir: Path, name: str | None = None) -> list[Path]:
    """Write both figures as PNG and SVG into ``out_dir`` (created); returns the paths."""
    figures = {"pass-tokens": pass_tokens_figure(grid, name), "heatmap": heat_map_figure(grid, name)}
    _make_dir(out_dir)
    written: list[Path] = []
    for kind, fig in figures.items():
        for fmt in FORMATS:
            path = out_dir / f"{_stem(name)}-{kind}.{fmt}"
            fig.savefig(path, dpi=150, metadata={"Software": "repair-tui"} if fmt == "png" else None)
            written.append(path)
    return written


def comparison_figure(runs: list[tuple[str, Grid]]) -> Figure:
    """Runs overlaid: each run's baseline curve, its policies as markers and, dashed,
    its best pass rate at each budget (the upper envelope of everything it can do)."""
    _, figure_cls = require_matplotlib()
    fig: Figure = figure_cls(figsize=(7.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    unit = runs[0][1].unit if runs else "tokens"
    for i, (name, grid) in enumerate(runs):
        colour = f"C{i}"
        base = grid.baseline
        ax.plot([c.tokens for c in base], [c.pass_rate for c in base], color=colour, lw=1.5,
                label=f"{name}: baseline")
        ax.scatter([c.tokens for c in grid.cells], [c.pass_rate for c in grid.cells], color=colour,
                   marker="os^Dv"[i % 5], s=18, zorder=3, label=f"{name}: (np, nfr) policies")
        xs, ys = best_envelope(grid)
        ax.step(xs, ys, where="post", color=colour, lw=1.0, ls="--", alpha=0.8, label=f"{name}: best at budget")
    ax.set_xlabel(f"expected {unit} per task")
    ax.set_ylabel("expected pass rate")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(left=0.0)
    ax.grid(alpha=0.3)
    mode = runs[0][1].mode if runs else ""
    ax.set_title(f"{runs[0][1].n_tasks if runs else 0} shared tasks, {mode}", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def best_envelope(grid: Grid) -> tuple[list[float], list[float]]:
    """The best pass rate reachable at each cost: points where it rises, cheapest first."""
    points = sorted([(c.tokens, c.pass_rate) for c in (*grid.baseline, *grid.cells)])
    xs: list[float] = []
    ys: list[float] = []
    for x, y in points:
        if not ys or y > ys[-1]:
            xs.append(x)
            ys.append(y)
    return xs, ys


def write_comparison(runs: list[tuple[str, Grid]], out_dir: Path) -> list[Path]:
    """Write the comparison figure as PNG and SVG into ``out_dir``; returns the paths."""
    fig = comparison_figure(runs)
    _make_dir(out_dir)
    stem = _stem("-vs-".join(name for name, _ in runs))[:120] or "compare"
    written: list[Path] = []
    for fmt in FORMATS:
        path = out_dir / f"compare-{stem}.{fmt}"
        fig.savefig(path, dpi=150, metadata={"Software": "repair-tui"} if fmt == "png" else None)
        written.append(path)
    return written


def _make_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--plot {out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--plot {out_dir}: cannot create the folder ({exc.strerror})") from None
