"""The two pass@t figures: files written, out-of-bounds cells marked, matplotlib optional."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from repair_tui.core.errors import UserError
from repair_tui.core.estimate.grid import grid
from repair_tui.core.estimate.plots import heat_map_figure, pass_tokens_figure, write_figures
from repair_tui.core.estimate.synth import synthetic_tasks

GRID = grid(synthetic_tasks(20, 8, 3, seed=1), bootstrap=50)


def test_both_figures_are_written_as_png_and_svg(tmp_path: Path) -> None:
    paths = write_figures(GRID, tmp_path / "out" / "figs", "my run/1")
    assert [p.name for p in paths] == [
        "my_run_1-pass-tokens.png", "my_run_1-pass-tokens.svg", "my_run_1-heatmap.png", "my_run_1-heatmap.svg",
    ]
    for p in paths:
        head = p.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else b"<svg" in p.read_bytes()


def test_heat_map_marks_out_of_bounds_cells() -> None:
    texts = [t.get_text() for t in heat_map_figure(GRID).axes[0].texts]
    oob = sum(c.out_of_bounds for c in GRID.cells)
    assert 0 < oob < len(GRID.cells)
    assert texts.count("O.O.B.") == oob
    assert f"{GRID.cell(1, 1).ratio:.2f}" in texts


def test_pass_tokens_figure_has_the_baseline_and_one_line_per_nfr() -> None:
    ax = pass_tokens_figure(GRID, "r").axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "baseline (nfr = 0)" in labels
    assert all(f"nfr = {f}" in labels for f in GRID.nfrs)


def test_a_file_in_the_way_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        write_figures(GRID, tmp_path / "file")


def test_without_matplotlib_a_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UserError, match=r"pip install 'repair-tui\[plots\]'"):
        heat_map_figure(GRID)


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = "import sys, repair_tui.core.estimate.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
