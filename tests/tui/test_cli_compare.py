"""`repair-tui compare` end to end on the bundled sample runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.store.store import Store
from repair_tui.tui.cli import main
from test_cli_estimate import write_run

A, B = "humaneval-sim-joint", "humaneval-sim-strong-feedback"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_two_runs_json_shape(samples_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, "compare", A, B, "--db", str(samples_db), "--json", "--bootstrap", "100")
    assert [r["name"] for r in out["runs"]] == [A, B]
    assert out["runs"][1]["models"] == {"model": "sim", "feedback_model": "sim-strong"}
    assert out["runs"][0]["cost"]["prompt_tokens"] == 423_470
    # rows as estimate --json prints them
    assert main(["estimate", A, "--db", str(samples_db), "--json", "--bootstrap", "100"]) == 0
    assert out["runs"][0]["rows"] == json.loads(capsys.readouterr().out)["rows"]
    tasks = out["tasks"]
    groups = [tasks[k] for k in ("a_only", "b_only", "both", "neither")]
    assert sum(map(len, groups)) == out["shared_tasks"] == 164
    assert tasks["a_only"] == ["HumanEval/56"] and tasks["b_only"] == ["HumanEval/64", "HumanEval/85"]
    diff = out["difference"]
    assert (diff["a"], diff["b"], diff["unit"]) == (A, B, "tokens")
    for row in diff["budgets"]:
        assert row["estimate"] == pytest.approx(row["a_pass_rate"] - row["b_pass_rate"])
        assert row["ci"][0] <= row["estimate"] <= row["ci"][1]
    # Both runs sampled their programs with the same model and seeds: same baseline.
    assert diff["budgets"][0]["estimate"] == 0.0
    assert any("different models" in n for n in out["notes"])


def test_three_runs_are_compared_pairwise(samples_db: Path, capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    ids = ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    write_run(samples_db, "other", [FrozenTask(t, (Sample(100, i == 0), Sample(90, True))) for i, t in enumerate(ids)])
    out = _json(capsys, "compare", A, B, "other", "--db", str(samples_db), "--json", "--bootstrap", "0",
                "--plot", str(tmp_path / "figs"))
    assert out["shared_tasks"] == 3
    assert [(p["a"], p["b"]) for p in out["tasks"]] == [(A, B), (A, "other"), (B, "other")]
    assert len(out["difference"]) == 3 and all(d["budgets"] for d in out["difference"])
    assert any("different datasets" in n for n in out["notes"])
    assert any("161 of its 164 tasks are not in every run" in n for n in out["notes"])
    assert sorted(p.suffix for p in (tmp_path / "figs").iterdir()) == [".png", ".svg"]


def test_text_output_and_dollars(samples_db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prices = tmp_path / "p.toml"
    prices.write_text('[models.sim]\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\n'
                      '[models."sim-strong"]\ninput_per_mtok = 2.5\noutput_per_mtok = 10\n')
    assert main(["compare", A, B, "--db", str(samples_db), "--bootstrap", "50", "--budget", "dollars",
                 "--prices", str(prices)]) == 0
    text = capsys.readouterr().out
    assert "pass rate against dollars" in text and "$2.88" in text and "Best policy at matched budgets" in text
    assert "HumanEval/56" in text
    out = _json(capsys, "compare", A, B, "--db", str(samples_db), "--json", "--bootstrap", "0",
                "--budget", "dollars", "--prices", str(prices))
    assert out["unit"] == "dollars" and "dollars" in out["runs"][0]["rows"][0]
    # Separate feedback repeats the spec and program in two prompts per repair: in
    # dollars the joint run is ahead at a budget where it repairs and the other cannot.
    assert any((d["estimate"] or 0) > 0 for d in out["difference"]["budgets"])


def test_errors_are_one_line(samples_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", A, "apps-sample-sim-joint", "--db", str(samples_db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "share no task" in err and "apps-sample" in err
    assert main(["compare", A, "--db", str(samples_db)]) == 2
    assert "two runs or more" in capsys.readouterr().err
    assert main(["compare", A, "nope", "--db", str(samples_db)]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["compare", A, A, "--db", str(samples_db)]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert main(["compare", A, B, "--db", str(samples_db), "--budget", "dollars"]) == 2
    assert "no price for model 'sim'" in capsys.readouterr().err


MARKUP_NAMES = ("[/oops]", "[bold green]PASSED[/] [link=https://evil.example]x[/link]")


def test_run_names_are_shown_as_text_not_markup(samples_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A closing tag with no opening one made rich raise (a traceback); a link tag forged
    # a hyperlink. Names come from users and from imported files.
    with Store.open(samples_db) as store:
        for name, new in zip((A, B), MARKUP_NAMES, strict=True):
            store.rename_run(store.get_run(name).id, new)
    assert main(["compare", *MARKUP_NAMES, "--db", str(samples_db), "--bootstrap", "20"]) == 0
    text = capsys.readouterr().out
    assert "[/oops]" in text and "[link=https://evil.example]x[/link]" in text
    assert main(["runs", "--db", str(samples_db)]) == 0
    assert "[/oops]" in capsys.readouterr().out
