"""Costs on the command line: prompt and completion tokens, dollars from a price table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repair_tui.tui.cli import main

SIM_PRICES = '[models.sim]\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\n' \
             '[models."sim-strong"]\ninput_per_mtok = 2.5\noutput_per_mtok = 10\n'


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(SIM_PRICES)
    return path


def test_runs_show_prompt_completion_and_dollars_only_when_priced(
    samples_db: Path, prices: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--db", str(samples_db), "--json"]) == 0
    runs = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    joint = runs["humaneval-sim-joint"]
    assert joint["prompt_tokens"] == 423_470 and joint["completion_tokens"] == joint["tokens"] == 672_631
    assert joint["dollars"] is None and joint["unpriced_models"] == ["sim"]  # no guess for 'sim'
    assert main(["runs", "--db", str(samples_db), "--json", "--prices", str(prices)]) == 0
    runs = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert runs["humaneval-sim-joint"]["dollars"] == pytest.approx((423_470 * 0.5 + 672_631 * 1.5) / 1e6)
    strong = runs["humaneval-sim-strong-feedback"]
    assert strong["dollars"] > runs["humaneval-sim-joint"]["dollars"]  # separate feedback repeats prompts
    assert main(["runs", "--db", str(samples_db), "--prices", str(prices)]) == 0
    table = capsys.readouterr().out
    assert "Prompt tok" in table and "423,470" in table and "$1.22" in table


def test_estimate_on_a_dollar_axis(samples_db: Path, prices: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["estimate", "humaneval-sim-strong-feedback", "--db", str(samples_db), "--bootstrap", "0"]
    assert main([*base, "--json"]) == 0
    tokens = json.loads(capsys.readouterr().out)
    assert tokens["unit"] == "tokens" and tokens["cost"]["dollars"] is None
    assert main([*base, "--json", "--budget", "dollars", "--prices", str(prices)]) == 0
    dollars = json.loads(capsys.readouterr().out)
    assert dollars["unit"] == "dollars" and dollars["cost"]["dollars"] == pytest.approx(2.88, abs=0.01)
    t_rows = {(r["np"], r["nfr"]): r for r in tokens["rows"]}
    for row in dollars["rows"]:
        assert "dollars" in row and "tokens" not in row
        assert row["pass_rate"] == pytest.approx(t_rows[row["np"], row["nfr"]]["pass_rate"])
    # The whole sample's dollars per task add up to what the run paid.
    full = next(r for r in dollars["rows"] if (r["np"], r["nfr"]) == (10, 3))
    assert full["dollars"] * 164 <= dollars["cost"]["dollars"] + 1e-9
    assert main([*base, "--budget", "dollars", "--prices", str(prices)]) == 0
    text = capsys.readouterr().out
    assert "on a dollar axis" in text and "cost $2.88" in text and "$0.0031" in text


def test_dollars_without_a_price_is_one_line(samples_db: Path, capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    assert main(["estimate", "humaneval-sim-joint", "--db", str(samples_db), "--budget", "dollars"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no price for model 'sim'" in err and "--prices" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[models.sim]\ninput_per_mtok = "x"\noutput_per_mtok = 1\n')
    assert main(["runs", "--db", str(samples_db), "--prices", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"repair-tui: error: {bad}: line 2: models.sim.input_per_mtok: must be a number " \
                          "of dollars per million tokens, 0 or more (got 'x')"
